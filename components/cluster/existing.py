"""An existing cluster: connect to it, create no cloud resources."""
from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from lfh.config import PlatformConfig, secret_value
from lfh.config.cluster import ExistingCluster as ExistingClusterConfig

from .contract import BackupStorage, ClusterContract, InClusterServices, KeyedTarget, NodePool, SnapshotSupport


class ExistingCluster(pulumi.ComponentResource):
    """Wraps a cluster we do not own: one explicit provider from the configured kubeconfig."""

    contract: ClusterContract

    def __init__(self, name: str, platform: PlatformConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:cluster:ExistingCluster", name, None, opts)
        cfg: ExistingClusterConfig = platform.cluster  # type: ignore[assignment]
        if cfg.kubeconfig is not None:
            kubeconfig = pulumi.Output.secret(secret_value(cfg.kubeconfig))
        else:
            # Read at run time so the file's content never lands in the stack file.
            path = Path(cfg.kubeconfig_path or "~/.kube/config").expanduser()
            if not path.exists():
                raise pulumi.RunError(
                    f"lfh:platform.cluster.kubeconfigPath: {path} does not exist; set kubeconfigPath to an existing "
                    "kubeconfig or store it with `pulumi config set --secret --path lfh:platform.cluster.kubeconfig`")
            kubeconfig = pulumi.Output.secret(path.read_text())
        provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            context=cfg.context,
            # Server-side apply: field ownership conflicts surface instead of being overwritten.
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Self-contained: the core runs the secret store and the backup object store in the cluster.
        in_cluster = InClusterServices(store_size=cfg.backup_store_size) if cfg.self_contained else None
        endpoint = in_cluster.endpoint if in_cluster else cfg.backup_endpoint
        self.contract = ClusterContract(
            name=platform.name,
            kubernetes_version=platform.kubernetes_version,
            region=cfg.backup_region,
            provider=provider,
            kubeconfig=kubeconfig,
            backup=BackupStorage(
                flavour="s3-compatible",
                bucket=in_cluster.bucket if in_cluster else cfg.backup_bucket,
                region=cfg.backup_region,
                endpoint=endpoint,
                # No cloud identity: every tool authenticates to the S3-compatible endpoint with a key pair:
                # a self-contained cluster's store gets them from the platform (components/platform/
                # self_contained.py creates and stores them), else this stack generates them or an operator
                # provides them (`backupCredentials`).
                keyed={tool: KeyedTarget(secret_path=path, properties=("accessKeyId", "secretAccessKey"),
                                         bucket=in_cluster.bucket if in_cluster else cfg.backup_bucket, endpoint=endpoint,
                                         source=("stored" if in_cluster else
                                                 "generate" if cfg.backup_credentials == "generated" else "operator"))
                       for tool, path in (("velero", "platform/velero"), ("longhorn", "platform/longhorn-backup"))},
            ),
            secret_store_provider=in_cluster.store_provider() if in_cluster else {},
            in_cluster=in_cluster,
            storage_class=cfg.storage_class,
            # The nodes as the stack file describes them (nothing here can see them).
            node_pools=[NodePool(name="nodes", provides={cap: "declared in lfh:platform.cluster.nodeCapabilities"
                                                         for cap in cfg.node_capabilities})],
            metrics_api="declared in lfh:platform.cluster.metricsApi" if cfg.metrics_api else "",
            builtin_storage_classes={cfg.storage_class: True},
            # CSI snapshots only where the operator says the cluster can take them (config docs).
            snapshots=SnapshotSupport(
                drivers={cfg.storage_class: cfg.storage_class_driver} if cfg.storage_class_driver else {},
                controller="operator" if cfg.snapshot_controller else ""),
            # No cloud identities: add-ons authenticate with credentials the core stack manages.
            cloud={
                "kind": "existing",
                "region": cfg.backup_region,
                "kmsKeyId": "",
                "secretsPrefix": platform.name,
                "backupEndpoint": endpoint,
                "backupCredentials": "stored" if in_cluster else cfg.backup_credentials,
                # Where clients' backup agents send to when the store runs in the cluster (their egress rule).
                **({"backupStorePods": {"namespace": in_cluster.store_namespace, "port": in_cluster.store_port,
                                        "labels": {"app": "minio", "release": in_cluster.store_name}}}
                   if in_cluster else {}),
            },
        )
        self.register_outputs({"name": platform.name})
