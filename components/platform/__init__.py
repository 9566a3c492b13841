"""The core platform stack: one ComponentResource per add-on, reading only the ClusterContract."""
from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from lfh.config import PlatformConfig

from ..cluster.contract import ClusterContract
from ..k8s import child_opts, labels, meta
from .contract import GatewayRef, PlatformContract, export


class CorePlatform(pulumi.ComponentResource):
    """Installs the core add-ons onto a cluster and assembles the platform contract."""

    contract: PlatformContract

    def __init__(self, name: str, platform: PlatformConfig, cluster: ClusterContract,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:platform:CorePlatform", name, None, opts)
        gateway = GatewayRef(wildcard_domains=[f"*.{platform.domain}"])
        self.gateway_namespace = k8s.core.v1.Namespace(
            f"{name}-ns-{gateway.namespace}",
            metadata=meta(gateway.namespace, labels=labels(gateway.namespace, component="gateway")),
            opts=child_opts(self, cluster.provider, depends_on=cluster.ready),
        )
        self.contract = PlatformContract(
            platform=platform.name,
            environment=platform.environment.value,
            domain=platform.domain,
            kubernetes_version=platform.kubernetes_version,
            cluster_name=platform.name,
            region=cluster.region,
            cloud=cluster.cloud,
            gateway=gateway,
            storage_classes={"default": cluster.storage_class, "encrypted": cluster.storage_class, "cloud": cluster.storage_class},
            secrets={"prefix": platform.name},
            backups={"namespace": "velero", "locations": {"default": "default", "archive": "archive"}},
            issuers={},
            monitoring={"enabled": False},
            gitops={"namespace": "argocd"},
        )
        self.register_outputs({})


__all__ = ["CorePlatform", "PlatformContract", "export"]
