"""lfh: the command line and libraries of the lfh-infra Pulumi program."""
from pathlib import Path

#: Root of the project (where Pulumi.yaml and __main__.py live).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
STACKS_DIR = PROJECT_ROOT / "stacks"


def tune_gc() -> None:
    """Collect cyclic garbage rarely in a command-line run.

    A plan is a short process that allocates a few hundred thousand objects which live until it
    exits (SDK modules, config models, schemas, the recorded graph). With the default thresholds
    the cyclic collector rescans them ~280 times in one client plan (a tenth of its time) and frees
    almost nothing; peak memory is the same either way (measured: 76 vs 79 MiB).
    """
    import gc

    gc.set_threshold(50_000, 20, 100)
