"""On-disk cache of recorded platform plans (`build/cache/`), so planning a client stack does not
re-run its platform's program (and import the cloud SDKs) every time.

The key is a hash of the platform stack file, every source file that can change what the program
records (`__main__.py`, `lfh/`, `components/`), the dependency pins and the Python version — any
edit misses the cache. Only the recording is cached (resources, outputs, config), never analysis
results: analyzers run fresh on every plan. Secrets are never in a plan (placeholders only), so the
cache holds nothing a stack file does not. Disable with `LFH_PLAN_CACHE=0`; delete with `make clean`;
move (with the render and conformance caches) with `LFH_CACHE_DIR`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import sys
from pathlib import Path
from typing import Any, Optional

from .. import PROJECT_ROOT
from .model import Plan

#: Bump when the pickled shape of Plan/Resource changes incompatibly.
FORMAT = 4


def enabled() -> bool:
    return os.environ.get("LFH_PLAN_CACHE", "1").lower() not in ("0", "false", "no", "off")


def _sources(program: Path) -> list[Path]:
    root = program.parent
    files = [program]
    for folder in ("lfh", "components"):
        files += sorted((root / folder).rglob("*.py"))
    files += [root / name for name in ("requirements.txt", "constraints.txt", "Pulumi.yaml")]
    return [f for f in files if f.is_file()]


def key(stack_file: Path, program: Path) -> str:
    # Resolved paths: a relative and an absolute spelling of one stack file must share an entry.
    stack_file, program = Path(stack_file).resolve(), Path(program).resolve()
    h = hashlib.sha256(f"{FORMAT}|{sys.version}|{stack_file.name}".encode())
    for path in [stack_file, *_sources(program)]:
        h.update(str(path.relative_to(program.parent) if path.is_relative_to(program.parent) else path.name).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:32]


class _StackConfigOnDemand:
    """A cached plan's validated config, read from its stack file when first used.

    Not pickled: unpickling it would import the whole platform model (~40 classes) into every
    client plan, and a client only reads it for an existing cluster's node list. The cache key
    covers the stack file, so reading it again gives the config the plan was recorded with."""

    def __init__(self, stack_file: Path, stack: str):
        self._where = (stack_file, stack)
        self._config: Any = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._config is None:
            from ..config.loader import load_stack_file

            self._config = load_stack_file(*self._where)[0]
        return getattr(self._config, name)


def load(cache_dir: Path, stack: str, stack_file: Path, program: Path) -> Optional[Plan]:
    path = Path(cache_dir) / f"{stack}-{key(stack_file, program)}.pickle"
    try:
        with open(path, "rb") as fh:
            plan = pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError):
        return None
    if not (isinstance(plan, Plan) and plan.stack == stack):
        return None
    plan.config = _StackConfigOnDemand(Path(stack_file), stack)
    return plan


def save(cache_dir: Path, plan: Plan, stack_file: Path, program: Path) -> None:
    """Store a freshly recorded (not yet analysed) plan; old entries of the stack are removed."""
    cache_dir = Path(cache_dir)
    try:
        data = pickle.dumps(dataclasses.replace(plan, config=None), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an output value that cannot be pickled: just don't cache
        return
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for old in cache_dir.glob(f"{plan.stack}-*.pickle"):
            old.unlink(missing_ok=True)
        tmp = cache_dir / f".{plan.stack}.{os.getpid()}.tmp"
        tmp.write_bytes(data)
        tmp.replace(cache_dir / f"{plan.stack}-{key(stack_file, program)}.pickle")
    except OSError:
        return


def root() -> Path:
    """Where a plan's caches live (recorded platform plans, renders, conformance): `build/cache/`,
    or `LFH_CACHE_DIR` (the benchmark and tests point it at a fresh folder to measure a cold plan)."""
    return Path(os.environ.get("LFH_CACHE_DIR") or PROJECT_ROOT / "build" / "cache")


def engine_cache_dir() -> Optional[Path]:
    """The recorded-plan cache an Engine of the command line uses (None with `LFH_PLAN_CACHE=0`)."""
    return root() if enabled() else None
