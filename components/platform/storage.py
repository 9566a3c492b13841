"""Longhorn replicated block storage: StorageClasses and the snapshot/backup RecurringJobs.

`longhorn-system` is the one namespace whose Pod Security level is `privileged` by necessity:
longhorn-manager and the instance managers need privileged containers, hostPath (`/dev`, `/proc`,
the data path) and host PID/network to attach iSCSI/NVMe block devices on every node.
"""
from __future__ import annotations

import json
from typing import Any, Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from lfh.config.platform import StorageConfig

from ..cluster.contract import ClusterContract
from ..k8s import DEFAULT_CLASS_ANNOTATION, HelmRelease, KubeObject, child_opts, labels, meta
from ._helpers import custom_resource, every_pool_tolerations, identity as addon_identity, namespace, place, placement, release, resources
from .network import (
    CONTROL_PLANE,
    KUBE_API,
    NODES,
    OBJECT_STORE,
    PROMETHEUS,
    SELF,
    CloudIdentity,
    PlatformNetwork,
    PodSet,
    Port,
    To,
    has_label,
    job_pods,
)
from .backup_credentials import keyed_secret
from .secrets import Secrets

LONGHORN_API = "longhorn.io/v1beta2"
NAMESPACE = "longhorn-system"
DEFAULT_CLASS = "longhorn"
ENCRYPTED_CLASS = "longhorn-encrypted"
CRYPTO_SECRET = "longhorn-crypto"
BACKUP_SECRET = "longhorn-backup-credentials"
#: RecurringJob group every volume without its own job labels belongs to.
DEFAULT_GROUP = "default"
#: Requests for Longhorn containers the chart cannot size (see the LimitRange below): 10m is what an idle
#: controller/sidecar needs; 64Mi covers longhorn-ui's nginx and the CSI sidecars' Go runtimes.
DEFAULT_REQUESTS = {"cpu": "10m", "memory": "64Mi"}


def backup_target(cluster: ClusterContract) -> pulumi.Output[str]:
    """Longhorn's backup target URL for the platform bucket, from the contract's backup flavour."""
    b = cluster.backup
    keyed = b.keyed.get("longhorn")
    if b.flavour == "azure-blob":
        # Its own container in its key-based account (components/cluster/backup_keys.py); the account
        # comes from AZBLOB_ACCOUNT_NAME, the URL names container@endpoint suffix (longhorn/backupstore
        # azblob/azblob_service.go).
        container = keyed.bucket if keyed is not None else b.bucket
        return pulumi.Output.concat("azblob://", container, "@core.windows.net/")
    # Longhorn writes under its own prefix (its cloud identity or key is scoped to it).
    prefix = b.longhorn_prefix
    # S3 API: AWS, S3-compatible stores, and GCS through its S3 interoperability endpoint.
    return pulumi.Output.concat("s3://", b.bucket, "@", b.region or "us-east-1", "/", prefix, "/")


#: Secret keys of Longhorn's backup target credential secret (longhorn-manager v1.12.1 types/types.go),
#: by the stored properties they come from.
LONGHORN_KEYS = {
    "azure-blob": {"AZBLOB_ACCOUNT_NAME": "accountName", "AZBLOB_ACCOUNT_KEY": "accountKey"},
    "s3": {"AWS_ACCESS_KEY_ID": "accessKeyId", "AWS_SECRET_ACCESS_KEY": "secretAccessKey"},
}


def network_pods() -> list[PodSet]:
    """The pods of longhorn-system and who talks to whom, from Longhorn's own network reference (docs
    v1.12 "Longhorn Networking"), its chart's policies (chart 1.12.1 templates/network-policies) and
    longhorn-manager's source (ports in engineapi/types.go, CSI and recurring-job labels in csi/ and
    types/). Only the chart's Deployments/DaemonSets/Jobs are rendered; longhorn-manager and its driver
    deployer start the rest at run time with the labels below."""
    ns = NAMESPACE

    def component(name: str) -> dict[str, str]:
        return {"longhorn.io/component": name}

    im_data = Port("data", 10000, (SELF,), end=30000)  # engine <-> replica processes across nodes
    manager = PodSet(
        "manager", ns, {"app": "longhorn-manager"},
        ports=(Port("manager", 9500, (SELF, PROMETHEUS)),
               # longhorn-manager registers its own admission webhook (longhorn-admission-webhook
               # :9502) and checks it answers before it starts.
               Port("admission-wh", 9502, (CONTROL_PLANE, SELF)),
               Port("recov-backend", 9503)),
        connects_to=(KUBE_API, OBJECT_STORE, CloudIdentity("longhorn"),
                     To("instance-manager", ("instance-manager",)),
                     To("share-manager", ("share-manager",)),
                     To("backing-image-manager", ("backing-image-manager",)),
                     To("backing-image-data-source", ("data-source",))))
    instance_manager = PodSet(
        "instance-manager", ns, component("instance-manager"),
        # process manager, proxy, disk, instance and SPDK services (8500..8504). iSCSI (3260) comes
        # from the kubelet on the same node, which NetworkPolicy always lets in.
        ports=(Port("instance-manager", 8500, end=8504), im_data),
        connects_to=(OBJECT_STORE, CloudIdentity("longhorn"),  # replicas write backups to the target
                     To("backing-image-data-source", ("sync",))))
    backing_image_manager = PodSet(
        "backing-image-manager", ns, component("backing-image-manager"),
        ports=(Port("backing-image-manager", 8000), Port("sync", 30001, (SELF,), end=31000)),
        connects_to=(To("instance-manager", ("data",)), To("backing-image-data-source", ("data-source",))))
    data_source = PodSet(
        "backing-image-data-source", ns, component("backing-image-data-source"),
        ports=(Port("data-source", 8000), Port("sync", 8002)),
        connects_to=(To("instance-manager", ("data",)),))
    to_manager = To("manager", ("manager",))
    return [
        manager, instance_manager, backing_image_manager, data_source,
        # NFS server of a ReadWriteMany volume: the kubelet of the node that mounts it connects.
        PodSet("share-manager", ns, component("share-manager"),
               ports=(Port("nfs", 2049, (NODES,)), Port("share-manager", 9600)),
               connects_to=(KUBE_API, To("manager", ("recov-backend",)))),
        PodSet("engine-image", ns, component("engine-image")),  # no traffic at all
        # Its nginx proxies the API to longhorn-backend; its own port is reached by port-forward only.
        PodSet("ui", ns, {"app": "longhorn-ui"}, connects_to=(to_manager,),
               closed={8000: "the Longhorn UI has no login: reach it with `kubectl port-forward`, which "
                             "enters the pod's network namespace and is not subject to NetworkPolicy"}),
        PodSet("driver-deployer", ns, {"app": "longhorn-driver-deployer"}, connects_to=(KUBE_API, to_manager)),
        # The CSI plugin builds Kubernetes and Longhorn clients from the in-cluster config besides
        # calling the Longhorn API (csi/node_server.go `NewNodeServer`).
        PodSet("csi-plugin", ns, {"app": "longhorn-csi-plugin"}, connects_to=(KUBE_API, to_manager)),
        *[PodSet(sidecar, ns, {"app": sidecar}, connects_to=(KUBE_API,))
          for sidecar in ("csi-attacher", "csi-provisioner", "csi-resizer", "csi-snapshotter")],
        # RecurringJob CronJobs (types.GetCronJobLabels): `recurring-job.longhorn.io: <job>`.
        PodSet("recurring-jobs", ns, {"longhorn.io/managed-by": "longhorn-manager"},
               expressions=has_label("recurring-job.longhorn.io"), connects_to=(KUBE_API, to_manager)),
        # Helm hook Jobs; the chart gives them only the release's common labels.
        PodSet("hook-jobs", ns, {}, expressions=job_pods("longhorn-pre-upgrade", "longhorn-post-upgrade",
                                                         "longhorn-uninstall"),
               connects_to=(KUBE_API,)),
    ]


class Storage(pulumi.ComponentResource):
    """Longhorn (3 replicas), StorageClasses `longhorn` (default) and `longhorn-encrypted`, RecurringJobs."""

    def __init__(self, name: str, cfg: StorageConfig, cluster: ClusterContract, secrets: Secrets,
                 *, network: PlatformNetwork, chart_versions: Mapping[str, str] | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:platform:Storage", name, None, opts)
        self.chart_versions = dict(chart_versions or {})  # stack-level pin overrides (warned)
        p = cluster.provider
        self.release: Optional[HelmRelease] = None
        self.recurring_jobs: dict[str, k8s.apiextensions.CustomResource] = {}
        self.ready: list[pulumi.Resource] = list(cluster.ready)
        if cfg.use_cluster_storage_class:
            # Small/existing clusters: the cluster's own class serves every role; no Longhorn.
            self.classes = {"default": cluster.storage_class, "encrypted": cluster.storage_class,
                            "cloud": cluster.storage_class}
            self.default_patches = self._only_default(p, cluster.storage_class, cluster)
            self.register_outputs({"classes": self.classes})
            return
        self.classes = {"default": DEFAULT_CLASS, "encrypted": ENCRYPTED_CLASS, "cloud": cluster.storage_class}
        self.default_patches = self._only_default(p, DEFAULT_CLASS, cluster)
        self.namespace = namespace(
            self, p, NAMESPACE, level="privileged", component="storage", depends_on=cluster.ready,
            why="longhorn-manager/instance-manager need privileged containers, hostPath and host PID to attach block devices")
        self.network_policies = network.create(self, p, NAMESPACE, depends_on=[self.namespace])

        identity = addon_identity(cluster, "longhorn", NAMESPACE, "longhorn-service-account")
        # A key where Longhorn cannot use the cloud identity (Azure, GCS, S3-compatible stores), else IRSA.
        keyed = cluster.backup.keyed.get("longhorn")
        needs_credentials = keyed is not None or identity is None
        self.backup_secret = None
        if keyed is not None:
            flavour = "azure-blob" if cluster.backup.flavour == "azure-blob" else "s3"
            template = None
            if keyed.endpoint:
                template = {"engineVersion": "v2", "mergePolicy": "Merge", "data": {"AWS_ENDPOINTS": keyed.endpoint}}
            self.backup_secret = keyed_secret(
                self, p, secrets, "longhorn", keyed, suffix="backup-credentials", name=BACKUP_SECRET,
                namespace=NAMESPACE, keys=LONGHORN_KEYS[flavour], template=template, depends_on=[self.namespace])

        # The chart sizes only longhorn-manager (`longhornManager.resources`); longhorn-ui, the driver
        # deployer, the manager's share-manager pre-pull sidecar, its hook jobs and every pod
        # longhorn-manager starts itself (CSI sidecars, engine image, share managers) have no resources
        # value. The LimitRanger admission plugin gives each container without requests these
        # (https://kubernetes.io/docs/concepts/policy/limit-range/): small, as those are mostly idle
        # controllers; instance managers keep their own CPU request (guaranteedInstanceManagerCPU).
        self.limit_range = KubeObject(
            f"{name}-default-requests", "v1", "LimitRange",
            metadata=meta("longhorn-default-requests", NAMESPACE, labels=labels("longhorn-default-requests", component="storage")),
            spec={"limits": [{"type": "Container", "defaultRequest": dict(DEFAULT_REQUESTS)}]},
            opts=child_opts(self, p, depends_on=[self.namespace]))

        res = resources(cfg.manager_resources)
        values: dict[str, Any] = {
            # We create the StorageClasses ourselves (below), so they are visible and checked in the plan.
            "persistence": {"createStorageClass": False, "defaultClass": False,
                            "defaultClassReplicaCount": cfg.replica_count, "reclaimPolicy": "Retain"},
            "defaultSettings": {
                "defaultReplicaCount": json.dumps({"v1": str(cfg.replica_count)}),
                # Replicas on different nodes and, where zones exist, different zones.
                "replicaSoftAntiAffinity": "false",
                "replicaZoneSoftAntiAffinity": "true",
                "nodeDownPodDeletionPolicy": "delete-both-statefulset-and-deployment-pod",
                "nodeDrainPolicy": "block-if-contains-last-replica",
                "storageMinimalAvailablePercentage": "15",
                "upgradeChecker": "false",
                "allowCollectingLonghornUsageMetrics": "false",
            },
            "defaultBackupStore": {
                "backupTarget": backup_target(cluster),
                # Synced by the ExternalSecret above, or created by the operator when there is no store.
                "backupTargetCredentialSecret": BACKUP_SECRET if needs_credentials else "",
                "pollInterval": "300",
            },
            "serviceAccount": {"annotations": dict(identity.annotations) if identity else {}},
            "longhornManager": {"resources": res},
            "longhornUI": {"replicas": 2},
            "csi": {"attacherReplicaCount": 2, "provisionerReplicaCount": 2, "resizerReplicaCount": 2,
                    "snapshotterReplicaCount": 2},
            "preUpgradeChecker": {"jobEnabled": True, "upgradeVersionCheck": True},
            # The chart's own policies admit ingress only (webhooks from anywhere when no API CIDRs are
            # given) and leave egress open; NetworkPolicies add up, so they would widen ours. The
            # platform's derived policies (network_pods) cover the same flows in both directions.
            "networkPolicies": {"enabled": False, "restrictInternalTraffic": False},
        }
        # Node-level parts (manager, CSI plugin, instance managers) run on every pool a volume can be
        # attached in; the UI and deployers on the system pool.
        everywhere = every_pool_tolerations(cluster)
        if everywhere:
            values["longhornManager"]["tolerations"] = everywhere
            values["longhornDriver"] = {"tolerations": everywhere}
            values["defaultSettings"]["taintToleration"] = ";".join(
                t["key"] + (f"={t['value']}" if t.get("value") else "") + f":{t.get('effect', '')}" for t in everywhere)
        place(values, ["longhornUI"], placement(cluster))
        # The LimitRange exists before any Longhorn pod is admitted.
        deps = [self.limit_range] + ([self.backup_secret] if self.backup_secret is not None else []) + self.network_policies
        self.release = release(self, p, "longhorn", namespace=self.namespace, values=values,
                               depends_on=deps, timeout=900)
        crd = [self.release]

        # dm-crypt passphrase for the encrypted class, synced from the secret manager (never in state).
        self.crypto_secret = secrets.external_secret(
            self, p, "crypto-key", name=CRYPTO_SECRET, namespace=NAMESPACE, target=CRYPTO_SECRET,
            data={"CRYPTO_KEY_VALUE": ("platform/longhorn-crypto", "passphrase")},
            template={"engineVersion": "v2", "mergePolicy": "Merge", "data": {
                "CRYPTO_KEY_PROVIDER": "secret", "CRYPTO_KEY_CIPHER": "aes-xts-plain64",
                "CRYPTO_KEY_HASH": "sha256", "CRYPTO_KEY_SIZE": "256", "CRYPTO_PBKDF": "argon2i"}},
            depends_on=[self.namespace])

        job_selector = json.dumps([{"name": DEFAULT_GROUP, "isGroup": True}])
        common = {
            "numberOfReplicas": str(cfg.replica_count),
            "staleReplicaTimeout": "30",
            "fsType": "ext4",
            "dataLocality": "disabled",
            "recurringJobSelector": job_selector,
        }
        self.default_class = self._class(p, "class-default", DEFAULT_CLASS, common, default=True, deps=crd)
        self.encrypted_class = None
        if self.crypto_secret is not None:
            crypto = {f"csi.storage.k8s.io/{kind}-secret-{field}": value
                      for kind in ("provisioner", "node-publish", "node-stage", "node-expand")
                      for field, value in (("name", CRYPTO_SECRET), ("namespace", NAMESPACE))}
            self.encrypted_class = self._class(p, "class-encrypted", ENCRYPTED_CLASS,
                                               {**common, "encrypted": "true", **crypto}, default=False,
                                               deps=crd + [self.crypto_secret])
        else:
            # No secret store, no key: a dm-crypt class would leave every volume Pending. Data services
            # get the cluster's own (cloud-encrypted) class instead.
            self.classes["encrypted"] = cluster.storage_class
            pulumi.log.warn("lfh:platform.storage: no ClusterSecretStore for the dm-crypt key; the `encrypted` "
                            f"storage class is the cluster's own {cluster.storage_class!r}", self)

        # Velero's VolumeSnapshotClass for Longhorn volumes is made with the others, by the backups
        # component (components/platform/snapshots.py).
        jobs = [
            ("snapshot-hourly", "snapshot", cfg.snapshot_cron, cfg.snapshot_retain),
            ("backup-daily", "backup", cfg.daily_backup_cron, cfg.daily_backup_retain),
            ("backup-weekly", "backup", cfg.weekly_backup_cron, cfg.weekly_backup_retain),
        ]
        for job, task, cron, retain in jobs:
            self.recurring_jobs[job] = custom_resource(
                self, p, f"job-{job}", api_version=LONGHORN_API, kind="RecurringJob", name=job,
                namespace=NAMESPACE, component="storage", depends_on=crd, spec={
                    "name": job, "task": task, "cron": cron, "retain": retain,
                    "concurrency": cfg.backup_concurrency, "groups": [DEFAULT_GROUP],
                    "labels": {"lfh.io/tier": job}})
        self.ready = [c for c in (self.default_class, self.encrypted_class) if c is not None]
        self.register_outputs({"classes": self.classes})

    def _only_default(self, p: pulumi.ProviderResource, chosen: str, cluster: ClusterContract) -> list[KubeObject]:
        """Exactly one default StorageClass: ``chosen``. Every class the cloud ships as its default (AKS
        `default`, GKE `standard-rwo`) is patched to non-default with a server-side apply patch, which takes
        the annotation over from the cloud's field manager (`pulumi.com/patchForce`; Pulumi Kubernetes
        provider, "Managing resources with server-side apply"). Both clouds allow it: AKS "You can now
        mutate the AKS default storage class" (Azure/AKS CHANGELOG), GKE installs its classes as
        `EnsureExists` add-ons, which users may edit (kubernetes addon-manager README)."""
        return [KubeObject(
            f"{self._name}-not-default-{name}", "storage.k8s.io/v1", "StorageClass", patch=True,
            metadata={"name": name, "annotations": {DEFAULT_CLASS_ANNOTATION: "false", "pulumi.com/patchForce": "true"}},
            opts=child_opts(self, p, depends_on=cluster.ready))
            for name, is_default in cluster.builtin_storage_classes.items() if is_default and name != chosen]

    def _class(self, p: pulumi.ProviderResource, suffix: str, name: str, params: dict[str, str], *,
               default: bool, deps: list) -> KubeObject:
        annotations = {DEFAULT_CLASS_ANNOTATION: "true" if default else "false"}
        return KubeObject(
            f"{self._name}-{suffix}", "storage.k8s.io/v1", "StorageClass",
            metadata=meta(name, labels=labels(name, component="storage"), annotations=annotations),
            provisioner="driver.longhorn.io",
            # Retain: deleting a PVC by mistake must not delete patient data.
            reclaimPolicy="Retain",
            allowVolumeExpansion=True,
            volumeBindingMode="Immediate",
            parameters=params,
            opts=child_opts(self, p, depends_on=deps),
        )
