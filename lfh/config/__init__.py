"""The typed stack config model (pydantic v2) and its loaders. Pure data; see loader.py."""
from .base import Environment, Secret, secret_value
from .client import ClientConfig
from .cluster import ClusterConfig
from .loader import (
    ConfigError,
    StackConfig,
    from_pulumi,
    load_stack_file,
    parse_stack_config,
)
from .platform import PlatformConfig

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
