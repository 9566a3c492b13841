"""The typed stack config model (pydantic v2) and its loaders. Pure data; see loader.py."""
from typing import Any

from .base import Environment, Secret, secret_value
from .client import ClientConfig
from .loader import (
    ConfigError,
    StackConfig,
    from_pulumi,
    load_stack_file,
    parse_stack_config,
)
__all__ = [
    "ClientConfig",
    "ClusterConfig",
    "ConfigError",
    "Environment",
    "PlatformConfig",
    "Secret",
    "StackConfig",
    "from_pulumi",
    "load_stack_file",
    "parse_stack_config",
    "secret_value",
]


def __getattr__(name: str) -> Any:
    """The platform side of the model on first use (client stacks never import it)."""
    if name == "PlatformConfig":
        from .platform import PlatformConfig

        return PlatformConfig
    if name == "ClusterConfig":
        from .cluster import ClusterConfig

        return ClusterConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
