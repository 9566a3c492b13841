"""lfh: the command line and libraries of the lfh-infra Pulumi program."""
from pathlib import Path

#: Root of the project (where Pulumi.yaml and __main__.py live).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
STACKS_DIR = PROJECT_ROOT / "stacks"
