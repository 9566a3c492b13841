"""The core platform: one ComponentResource per add-on (see core.py for the order and wiring).

`CorePlatform` and `export` are imported on first use: a client stack only needs `.contract`, and
importing the add-on components (and the platform config model they read) would cost it ~0.1 s.
"""
from __future__ import annotations

from typing import Any

__all__ = ["CorePlatform", "PlatformContract", "export"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import core

        return getattr(core, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
