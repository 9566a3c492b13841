"""Velero: the cloud's object-store plugin, node agent with CSI snapshot data movement, the
BackupStorageLocations `default` and `archive` on the platform bucket, and platform-level Schedules.

The plugin is chosen from `cluster.backup.flavour` (the contract), never from the cloud name: the AWS
plugin speaks the S3 API (AWS S3 and S3-compatible stores), Azure Blob and GCS have their own plugins.
Per-client schedules are created by the client stacks.

`velero` runs with Pod Security `privileged` (documented exception): the node agent mounts the kubelet's
pod directory (hostPath `/var/lib/kubelet/pods`) to read volumes for data movement, which no lower
level allows. The Velero server itself would pass `restricted`.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from lfh.config.platform import BackupsConfig

from ..cluster.contract import ClusterContract
from ._helpers import (custom_resource, every_pool_tolerations, identity as addon_identity, namespace, place,
                       placement, release, resources, restricted_container)
from .network import KUBE_API, OBJECT_STORE, PROMETHEUS, CloudIdentity, Outside, PlatformNetwork, PodSet, Port, has_label, job_pods
from .backup_credentials import keyed_secret
from .secrets import Secrets
from .snapshots import snapshot_classes, volume_backup
from .storage import Storage

VELERO_API = "velero.io/v1"
NAMESPACE = "velero"
CREDENTIALS_SECRET = "velero-credentials"
#: Velero's repository password Secret (name and key fixed by Velero) and where its value is stored.
REPOSITORY_SECRET = "velero-repo-credentials"
REPOSITORY_SECRET_PATH = "platform/velero-repo"
#: Plugin image per backup flavour (the plugin release paired with Velero 1.18).
PLUGINS = {
    "s3": ("velero-plugin-for-aws", "velero/velero-plugin-for-aws:v1.14.2", "aws"),
    "s3-compatible": ("velero-plugin-for-aws", "velero/velero-plugin-for-aws:v1.14.2", "aws"),
    "azure-blob": ("velero-plugin-for-microsoft-azure", "velero/velero-plugin-for-microsoft-azure:v1.14.2", "velero.io/azure"),
    "gcs": ("velero-plugin-for-gcp", "velero/velero-plugin-for-gcp:v1.14.2", "velero.io/gcp"),
}
#: Namespaces of the platform itself, backed up by the platform schedule (clients back up their own).
PLATFORM_NAMESPACES = ["argocd", "cert-manager", "external-secrets", "envoy-gateway-system", "longhorn-system", "velero"]


def location_config(cluster: ClusterContract) -> dict[str, Any]:
    """BackupStorageLocation `config` for the contract's backup flavour, with SSE-KMS where supported."""
    b = cluster.backup
    # BSL config values are strings; contract values may be Outputs (kept as they are) or plain data.
    def text(v: Any) -> Any:
        return ("true" if v else "false") if isinstance(v, bool) else (v if isinstance(v, pulumi.Output) else str(v))

    if b.flavour in ("s3", "s3-compatible"):
        cfg: dict[str, Any] = {"region": b.region or "us-east-1"}
        if b.flavour == "s3-compatible" or b.extra.get("s3ForcePathStyle"):
            cfg["s3ForcePathStyle"] = "true"
        if b.endpoint:
            cfg["s3Url"] = b.endpoint
        if b.kms_key_id:
            cfg["kmsKeyId"] = b.kms_key_id  # SSE-KMS with the platform's customer-managed key
        return cfg
    if b.flavour == "azure-blob":
        # Entra ID (workload identity) auth; the storage account encrypts with its customer-managed key.
        cfg = {"useAAD": "true"}
        cfg.update({k: text(v) for k, v in b.extra.items()
                    if k in ("resourceGroup", "storageAccount", "subscriptionId", "useAAD", "storageAccountURI")})
        return cfg
    if b.flavour == "gcs":
        cfg = {k: text(v) for k, v in b.extra.items() if k in ("serviceAccount",)}
        if b.kms_key_id:
            cfg["kmsKeyName"] = b.kms_key_id  # objects encrypted with the platform's CMEK
        return cfg
    raise ValueError(f"backup flavour {b.flavour!r} has no Velero plugin; known: {', '.join(PLUGINS)}")


def network_pods() -> list[PodSet]:
    """The pods of velero (labels and ports as the velero chart 12.1.0 renders them, and the labels
    Velero 1.18 puts on the pods it starts itself: pkg/apis/velero/v1/labels_annotations.go, data
    movers in pkg/controller, repository maintenance Jobs in pkg/repository/maintenance)."""
    ns = NAMESPACE
    metrics = Port("http-monitoring", 8085, (PROMETHEUS,))
    # Backups go to the bucket; the cloud identity's tokens where it has one.
    data_path = (KUBE_API, OBJECT_STORE, CloudIdentity("velero"))
    return [
        # The server also calls the cloud's APIs over HTTPS (volume snapshots, blob container).
        PodSet("server", ns, {"name": "velero", "app.kubernetes.io/instance": "velero"}, ports=(metrics,),
               connects_to=(*data_path, Outside((443,)))),
        PodSet("node-agent", ns, {"name": "node-agent", "app.kubernetes.io/instance": "velero"}, ports=(metrics,),
               connects_to=data_path),
        # Data mover pods (CSI snapshot data movement) and file-system backup pods started by the
        # node agent, and the server's repository maintenance Jobs: each writes to the bucket.
        *[PodSet(f"data-mover-{kind}", ns, {}, expressions=has_label(f"velero.io/{kind}"), connects_to=data_path)
          for kind in ("data-upload", "data-download", "pod-volume-backup", "pod-volume-restore")],
        PodSet("repo-maintenance", ns, {}, expressions=has_label("velero.io/repo-name"), connects_to=data_path),
        # pre-install/upgrade hook that applies Velero's CRDs; the chart gives its pod no labels.
        PodSet("upgrade-crds", ns, {}, expressions=job_pods("velero-upgrade-crds"), connects_to=(KUBE_API,)),
    ]


class Backups(pulumi.ComponentResource):
    """Velero with node agent and data movement; locations `default`/`archive`; platform schedules."""

    def __init__(self, name: str, cfg: BackupsConfig, cluster: ClusterContract, secrets: Secrets, storage: Storage, *,
                 network: PlatformNetwork, chart_versions: Mapping[str, str] | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:platform:Backups", name, None, opts)
        self.chart_versions = dict(chart_versions or {})  # stack-level pin overrides (warned)
        p = cluster.provider
        b = cluster.backup
        plugin_name, plugin_image, provider_name = PLUGINS[b.flavour]
        self.locations = {"default": "default", "archive": "archive"}
        self.namespace = namespace(
            self, p, NAMESPACE, level="privileged", component="backups", depends_on=cluster.ready,
            why="velero node-agent mounts hostPath /var/lib/kubelet/pods to move volume data")
        self.network_policies = network.create(self, p, NAMESPACE, depends_on=[self.namespace])
        identity = addon_identity(cluster, "velero", NAMESPACE, "velero")
        self.credentials: Optional[pulumi.Resource] = None
        keyed = b.keyed.get("velero")
        if identity is None and keyed is None:
            raise ValueError("cluster contract: Velero has neither a cloud identity (addon_identities['velero']) "
                             "nor a key (backup.keyed['velero'])")
        if keyed is not None:
            # No workload identity (existing clusters, S3-compatible stores): a credentials file built
            # from the key pair in the secret store; never a secret in config or state.
            self.credentials = keyed_secret(
                self, p, secrets, "velero", keyed, suffix="credentials", name=CREDENTIALS_SECRET, namespace=NAMESPACE,
                keys={"accessKeyId": "accessKeyId", "secretAccessKey": "secretAccessKey"},
                template={"engineVersion": "v2", "data": {"cloud": (
                    "[default]\naws_access_key_id={{ .accessKeyId }}\naws_secret_access_key={{ .secretAccessKey }}\n")}},
                depends_on=[self.namespace])
        credential = {"name": CREDENTIALS_SECRET, "key": "cloud"} if keyed is not None else None
        self.repository_password = self._repository_password(p, secrets)

        # CSI snapshots (one Velero-labelled VolumeSnapshotClass per driver) or file-system backups.
        self.volume_backup = volume_backup(cluster, dict(storage.classes), longhorn=storage.release is not None)
        if self.volume_backup.mode == "fs":
            pulumi.log.warn(f"velero: volumes get file-system backups: {self.volume_backup.reason}", self)
        self.snapshot_classes = snapshot_classes(
            self, p, cluster, self.volume_backup,
            depends_on=list(cluster.ready) + ([storage.release] if storage.release is not None else []))

        values: dict[str, Any] = {
            "initContainers": [{
                "name": plugin_name, "image": plugin_image, "imagePullPolicy": "IfNotPresent",
                "volumeMounts": [{"mountPath": "/target", "name": "plugins"}],
                "securityContext": restricted_container(),
                "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
            }],
            "resources": resources(cfg.resources),
            "containerSecurityContext": restricted_container(),
            "podSecurityContext": {"runAsNonRoot": True, "runAsUser": 65532, "fsGroup": 65532,
                                   "seccompProfile": {"type": "RuntimeDefault"}},
            # Locations and schedules are our own custom resources (below), checked against the CRDs.
            "backupsEnabled": True,
            "snapshotsEnabled": True,
            "configuration": {
                "backupStorageLocation": [],
                "volumeSnapshotLocation": [],
                "defaultBackupStorageLocation": "default",
                "defaultBackupTTL": cfg.default_ttl,
                "uploaderType": "kopia",
                # CSI snapshots, with the data moved into the bucket so a backup outlives the cluster.
                "features": "EnableCSI",
                "defaultSnapshotMoveData": cfg.snapshot_move_data,
                "defaultVolumesToFsBackup": False,
            },
            "deployNodeAgent": True,
            # The node agent and the data-mover pods it starts upload volume data: they need the cloud
            # identity too. They run as the server's service account (chart 12.1.0
            # node-agent-daemonset.yaml), and the data movers copy the node agent's
            # `azure.workload.identity/use` label (Velero v1.18.1 pkg/util/third_party.go ThirdPartyLabels,
            # pkg/controller/data_upload_controller.go), so the label goes on the node agent's pods.
            "nodeAgent": {"resources": resources(cfg.node_agent_resources),
                          "podLabels": dict(identity.pod_labels) if identity else {}},
            "credentials": {"useSecret": keyed is not None,
                            "existingSecret": CREDENTIALS_SECRET if keyed is not None else None},
            "serviceAccount": {"server": {"create": True, "name": "velero",
                                          "annotations": dict(identity.annotations) if identity else None}},
            "podLabels": dict(identity.pod_labels) if identity else {},
            "kubectl": {"resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}},
            "upgradeJobResources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
            "metrics": {"enabled": True},
        }
        place(values, [""], placement(cluster))
        if every_pool_tolerations(cluster):
            # The node agent moves volume data on whichever node the volume is attached to.
            values["nodeAgent"]["tolerations"] = every_pool_tolerations(cluster)
        deps = [r for r in (self.credentials, self.repository_password) if r is not None] + self.network_policies
        self.release = release(self, p, "velero", namespace=self.namespace, values=values, depends_on=deps)
        crd = [self.release]

        config = location_config(cluster)
        self.bsl: dict[str, k8s.apiextensions.CustomResource] = {}
        # Bucket lifecycle rules key on the tier prefixes: `daily/` expires, `archive/` goes cold.
        daily = b.daily_prefix
        for loc, prefix in (("default", f"{daily}/velero"), ("archive", f"{b.archive_prefix}/velero")):
            spec: dict[str, Any] = {
                "provider": provider_name,
                "default": loc == "default",
                "accessMode": "ReadWrite",
                # The archive prefix is moved to a cold (instantly readable) class by the bucket lifecycle.
                "objectStorage": {"bucket": b.bucket, "prefix": prefix},
                "config": config,
                "validationFrequency": "1h",
            }
            if credential:
                spec["credential"] = credential
            self.bsl[loc] = custom_resource(self, p, f"bsl-{loc}", api_version=VELERO_API, kind="BackupStorageLocation",
                                            name=loc, namespace=NAMESPACE, component="backups", depends_on=crd, spec=spec)

        platform_backup = {
            # Cluster-scoped objects (CRDs, ClusterIssuers, StorageClasses, RBAC …) and the platform's
            # own namespaces; client namespaces are backed up by their stacks' schedules.
            "includeClusterResources": True,
            "includedNamespaces": PLATFORM_NAMESPACES,
            "snapshotVolumes": False,
            "defaultVolumesToFsBackup": False,
        }
        self.schedules: dict[str, k8s.apiextensions.CustomResource] = {}
        for sched, cron, loc, ttl in (("platform-daily", cfg.schedule, "default", cfg.default_ttl),
                                      ("platform-weekly", cfg.archive_schedule, "archive", cfg.archive_ttl)):
            self.schedules[sched] = custom_resource(
                self, p, f"schedule-{sched}", api_version=VELERO_API, kind="Schedule", name=sched, namespace=NAMESPACE,
                component="backups", depends_on=crd + [self.bsl[loc]], spec={
                    "schedule": cron, "useOwnerReferencesInBackup": False,
                    "template": {**platform_backup, "storageLocation": loc, "ttl": ttl}})
        self.register_outputs({"locations": self.locations})

    def _repository_password(self, p: pulumi.ProviderResource, secrets: Secrets) -> Optional[pulumi.Resource]:
        """Velero's repository password, instead of the built-in default it would otherwise create.

        Velero encrypts its kopia repositories with the `repository-password` of Secret
        `velero-repo-credentials`, and creates that Secret with the fixed password `static-passw0rd` when
        it is missing at start (Velero v1.18.1 pkg/repository/keys/keys.go EnsureCommonRepositoryKey). So
        the Secret must exist before the release: generated once here, kept in the secret manager (a
        rebuilt cluster must read the old repositories), synced by External Secrets."""
        import pulumi_random as random

        password = random.RandomPassword(f"{self._name}-repository-password", length=48, special=False,
                                         opts=pulumi.ResourceOptions(parent=self, protect=True))
        secrets.store_generated(self, REPOSITORY_SECRET_PATH, {"password": password.result},
                                what="Velero's repository password")
        return secrets.external_secret(
            self, p, "repository-password", name=REPOSITORY_SECRET, namespace=NAMESPACE, target=REPOSITORY_SECRET,
            data={"repository-password": (REPOSITORY_SECRET_PATH, "password")}, depends_on=[self.namespace])
