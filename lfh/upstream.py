"""Where the upstream truth lives: pinned charts' values/schemas and CRDs (../shared/upstream).

Read in place, never copied into the project. `LFH_UPSTREAM_DIR` overrides the location.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import yaml

from . import PROJECT_ROOT


def upstream_dir() -> Optional[Path]:
    """The upstream folder, or None when it is absent (checks then report that they skipped)."""
    env = os.environ.get("LFH_UPSTREAM_DIR")
    candidates = [Path(env)] if env else [PROJECT_ROOT.parent / "shared" / "upstream"]
    for path in candidates:
        if (path / "charts.yaml").is_file():
            return path
    return None


class _Loader(yaml.SafeLoader):
    """SafeLoader that accepts the bare `=` value (kube-prometheus-stack's AlertmanagerConfig CRD)."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def load_yaml_all(path: Path) -> list[Any]:
    return [d for d in yaml.load_all(Path(path).read_text(), Loader=_Loader) if d is not None]


@lru_cache(maxsize=None)
def charts_index(root: str) -> dict[str, Any]:
    return yaml.safe_load((Path(root) / "charts.yaml").read_text())
