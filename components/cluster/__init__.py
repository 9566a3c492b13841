"""Cluster components, one per target, all returning the same ClusterContract."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .contract import BackupStorage, ClusterContract, NodePool, ServiceAccountBinding

if TYPE_CHECKING:  # the platform model is not imported by client stacks, which use .contract only
    from lfh.config import PlatformConfig

#: provider → (module, component class). Modules are imported lazily: each pulls in one cloud SDK,
#: and a stack only ever needs its own.
TARGETS = {
    "aws": (".aws", "EksCluster"),
    "azure": (".azure", "AksCluster"),
    "gcp": (".gcp", "GkeCluster"),
    "existing": (".existing", "ExistingCluster"),
}


def create_cluster(platform: PlatformConfig) -> ClusterContract:
    """Create (or connect to) the platform's cluster and return the common contract."""
    module, cls = TARGETS[platform.cluster.provider]
    component = getattr(importlib.import_module(module, __name__), cls)
    return component(f"{platform.name}-cluster", platform).contract


__all__ = ["BackupStorage", "ClusterContract", "NodePool", "ServiceAccountBinding", "TARGETS", "create_cluster"]
