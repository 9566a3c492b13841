"""Cluster components, one per target, all returning the same ClusterContract."""
from __future__ import annotations

import pulumi

from lfh.config import PlatformConfig

from .contract import BackupStorage, ClusterContract, ServiceAccountBinding


def create_cluster(platform: PlatformConfig) -> ClusterContract:
    """Create (or connect to) the platform's cluster and return the common contract."""
    provider = platform.cluster.provider
    name = f"{platform.name}-cluster"
    if provider == "existing":
        from .existing import ExistingCluster

        return ExistingCluster(name, platform).contract
    raise NotImplementedError(f"lfh:platform.cluster.provider {provider!r} is not implemented yet")


__all__ = ["BackupStorage", "ClusterContract", "ServiceAccountBinding", "create_cluster"]
