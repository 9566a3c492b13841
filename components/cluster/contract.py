"""The common cluster contract: what every cluster component (EKS, AKS, GKE, existing) hands the core
platform stack. The core stack reads only this, never the cloud name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import pulumi
import pulumi_kubernetes as k8s


@dataclass
class ServiceAccountBinding:
    """How a Kubernetes service account gets a cloud identity (IRSA role, Azure WI client id, GCP SA).

    Components put ``annotations`` on the service account and ``pod_labels`` on its pods.
    """

    namespace: str
    service_account: str
    annotations: dict[str, Any] = field(default_factory=dict)
    pod_labels: dict[str, str] = field(default_factory=dict)
    #: Where the pods get their cloud tokens when not over HTTPS to the internet, as [(cidr, port)]
    #: (GKE: the node's metadata server; IRSA and Azure WI exchange tokens with STS/Entra over HTTPS).
    token_endpoints: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class BackupStorage:
    """Where backups go: the platform bucket(s) for Velero, Longhorn and database backups."""

    #: `s3` (AWS), `azure-blob`, `gcs`, or `s3-compatible` (existing clusters, MinIO …).
    flavour: str
    bucket: pulumi.Input[str]
    #: Prefix/bucket for the weekly archive tier (same bucket, lifecycle moves `archive/` to a cold class).
    archive_prefix: str = "archive"
    region: str = ""
    #: S3 API endpoint for S3-compatible stores ('' on clouds: the SDK default).
    endpoint: str = ""
    #: KMS key used for server-side encryption of backup objects ('' = the bucket default CMK).
    kms_key_id: pulumi.Input[str] = ""
    #: Cloud-specific settings a Velero/Longhorn plugin needs (storage account, resource group, …).
    extra: dict[str, Any] = field(default_factory=dict)
    #: Prefix for the daily tier (the bucket lifecycle expires `daily/` after the configured days);
    #: the default Velero BackupStorageLocation should use it.
    daily_prefix: str = "daily"
    #: Prefix Longhorn's backup target uses in the same bucket (its identity is scoped to it on AWS).
    longhorn_prefix: str = "longhorn"
    #: The locked (WORM) replica bucket when replication is configured ('' = none).
    replica_bucket: pulumi.Input[str] = ""
    #: Backup tools that must authenticate with a key on this cloud (no cloud identity they can use),
    #: by tool (`longhorn`, `velero`): where they write and where their key is stored.
    keyed: dict[str, "KeyedTarget"] = field(default_factory=dict)


@dataclass
class KeyedTarget:
    """A key-based backup tool's target: its bucket/container and its stored credentials."""

    #: Path under `<platform>/` of the credentials (a JSON object) in the platform secret manager.
    secret_path: str
    #: The JSON properties that secret holds (`accessKeyId`/`secretAccessKey`, `accountName`/`accountKey`).
    properties: tuple[str, ...]
    #: Bucket (S3 API) or container (Azure Blob) the tool writes to.
    bucket: pulumi.Input[str]
    #: Azure: the storage account that container lives in (it must allow shared-key access).
    account: pulumi.Input[str] = ""
    #: S3 API endpoint ('' = the tool's default for the region).
    endpoint: str = ""
    #: Where the key comes from: `stored` (the cluster target created and stored it: HMAC key, account
    #: key), `generate` (the platform stack generates a key pair and stores it; the endpoint provisions a
    #: user from the stored copy), `operator` (an operator seeds it at `secret_path`).
    source: str = "stored"


@dataclass
class SnapshotSupport:
    """What the cluster brings for CSI volume snapshots (Velero's CSI path needs all of it)."""

    #: CSI driver of each StorageClass the cluster itself provides (`gp3-encrypted` -> `ebs.csi.aws.com`);
    #: a class missing here is not CSI (or its driver is unknown): its volumes get file-system backups.
    drivers: dict[str, str] = field(default_factory=dict)
    #: Who runs the snapshot.storage.k8s.io CRDs and the snapshot controller: `eks-addon` (the EKS
    #: `snapshot-controller` add-on), `aks` (AKS storage profile), `gke` (GKE with the PD CSI driver),
    #: `operator` (an existing cluster whose operator installed external-snapshotter), '' (nobody).
    controller: str = ""
    #: VolumeSnapshotClass `parameters` per CSI driver (cloud specifics such as the snapshot location).
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)


#: Writes `<platform>/<path>` into the platform's secret manager: (parent, path, JSON value) -> resource.
SecretWriter = Callable[[Any, str, Any], Any]


@dataclass
class InClusterServices:
    """What a self-contained cluster (nothing outside it: a laptop trial) asks the core platform to run
    itself instead of a cloud: a locked namespace as the secret store, and an S3-compatible object store
    for backups. The core creates both (components/platform/self_contained.py)."""

    #: Namespace holding the platform's generated secrets; no pod may run in it.
    secrets_namespace: str = "lfh-platform-secrets"
    #: ServiceAccount (in `secrets_namespace`) External Secrets reads them as.
    reader: str = "platform-secret-reader"
    #: Namespace, release/Service name and port of the in-cluster object store.
    store_namespace: str = "lfh-backup-store"
    store_name: str = "backup-store"
    store_port: int = 9000
    bucket: str = "lfh-backups"
    store_size: str = "20Gi"

    @property
    def endpoint(self) -> str:
        return f"http://{self.store_name}.{self.store_namespace}.svc.cluster.local:{self.store_port}"

    def store_provider(self) -> dict[str, Any]:
        """External Secrets' `kubernetes` provider over `secrets_namespace` (ESO docs, "Kubernetes provider")."""
        return {"kubernetes": {
            "remoteNamespace": self.secrets_namespace,
            "server": {"caProvider": {"type": "ConfigMap", "name": "kube-root-ca.crt", "key": "ca.crt",
                                      "namespace": self.secrets_namespace}},
            "auth": {"serviceAccount": {"name": self.reader, "namespace": self.secrets_namespace}},
        }}


@dataclass
class NodePool:
    """One node pool as the platform's pods meet it: where it is, how it scales, what its hosts bring.

    Checks read these facts from the platform output `clusterFacts` (lfh/plan/node_setup.py,
    lfh/plan/autoscaling.py) and the recorded resource at ``resource`` that the facts describe.
    """

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    #: `{key, value, effect}` per taint.
    taints: list[dict[str, str]] = field(default_factory=list)
    min_nodes: int = 0
    max_nodes: int = 0
    #: What moves the pool between its minimum and maximum ('' = nothing: it stays at its minimum).
    autoscaler: str = ""
    #: Host capabilities the pool's node set-up provides (`lfh.node_setup`: `iscsi`, `cryptsetup`), each
    #: with how.
    provides: dict[str, str] = field(default_factory=dict)
    #: The cloud resource that declares the pool (None on existing clusters).
    resource: Optional[pulumi.Resource] = None
    #: The resource that carries the node set-up (the launch template on EKS; else the pool itself).
    setup_resource: Optional[pulumi.Resource] = None

    def facts(self) -> dict[str, Any]:
        """The exported form (camelCase keys; the resource as its URN)."""
        return {"name": self.name, "labels": dict(self.labels), "taints": [dict(t) for t in self.taints],
                "minNodes": self.min_nodes, "maxNodes": self.max_nodes, "autoscaler": self.autoscaler,
                "provides": dict(self.provides), "urn": self.resource.urn if self.resource is not None else "",
                "setupUrn": (self.setup_resource or self.resource).urn if (self.setup_resource or self.resource) else ""}


@dataclass
class ClusterContract:
    """Everything the core platform stack needs from a cluster, whatever the cloud."""

    name: pulumi.Input[str]
    kubernetes_version: str
    region: str
    #: The one explicit Kubernetes provider for this cluster (never the ambient kubeconfig).
    provider: k8s.Provider
    #: Kubeconfig for the cluster (a secret Output); exported so client stacks build their provider.
    kubeconfig: pulumi.Output[str]
    backup: BackupStorage
    #: StorageClass of the cloud's encrypted block storage (gp3-encrypted, managed-csi, …).
    storage_class: str
    #: Customer-managed key for platform data (secret manager entries, buckets).
    kms_key_id: pulumi.Input[str] = ""
    #: ESO `spec.provider` block of the platform ClusterSecretStore (cloud secret manager).
    secret_store_provider: dict[str, Any] = field(default_factory=dict)
    #: Cloud identities pre-bound for add-on service accounts, keyed by add-on:
    #: `external-secrets`, `velero`, `cert-manager`, `longhorn`.
    addon_identities: dict[str, ServiceAccountBinding] = field(default_factory=dict)
    #: Data a client stack's cloud adapter needs, exported as the platform output `cloud`. No secrets.
    #: Values may be Outputs (they resolve on export). Keys:
    #:   all:      kind ("aws"|"azure"|"gcp"|"existing"), region, kmsKeyId ("" on existing), secretsPrefix
    #:   aws:      accountId, oidcProviderArn, oidcIssuer (no https://), partition
    #:   azure:    subscriptionId, tenantId, resourceGroup, oidcIssuer, keyVaultName, keyVaultUri,
    #:             storageAccountName, location
    #:   gcp:      project, workloadIdentityPool (`<project>.svc.id.goog`)
    #:   existing: backupEndpoint
    #: The core platform adds apiServerCidrs, apiServerTunnelPods and nodeCidrs (the fields below) on export.
    cloud: dict[str, Any] = field(default_factory=dict)
    #: Resources Kubernetes objects must wait for (node pools, CSI add-on …).
    ready: list[pulumi.Resource] = field(default_factory=list)
    #: Cert-manager DNS-01 solver block for the cloud's DNS (None: HTTP-01 only).
    dns01_solver: Optional[dict[str, Any]] = None
    #: Service annotations for the gateway's load balancer (internal LB, static IP …).
    load_balancer_annotations: dict[str, str] = field(default_factory=dict)
    #: The API server's addresses as pods reach them and as webhook calls arrive from them (EKS: its
    #: control-plane ENIs in the cluster subnets; GKE: the private control plane range). [] = unknown.
    api_server_cidrs: list[str] = field(default_factory=list)
    #: Pods the API server tunnels through to reach webhooks (konnectivity agents on AKS/GKE), as
    #: [{"namespace": ..., "labels": {...}}].
    api_server_tunnel_pods: list[dict[str, Any]] = field(default_factory=list)
    #: The nodes' address ranges ([] = unknown).
    node_cidrs: list[str] = field(default_factory=list)
    #: The cloud's own container-log agent this cluster runs (`cloudwatch-observability`, `container-insights`,
    #: `cloud-logging`), with retention set by the cluster component; "" = none: the platform runs its
    #: own collector (components/platform/logging.py).
    log_agent: str = ""
    #: Where to schedule by node pool: `{"system"|"apps"|"db": {"nodeSelector": {…}, "tolerations": […]}}`
    #: (empty on existing clusters: schedule anywhere). Platform add-ons go to `system`.
    scheduling: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The node pools with their scaling and host set-up facts (one pseudo-pool on existing clusters).
    node_pools: list[NodePool] = field(default_factory=list)
    #: Who serves the metrics API (`metrics.k8s.io`, which HPAs read); '' = nobody.
    metrics_api: str = ""
    #: StorageClasses the cluster brings on its own (the cloud's or the distribution's): name -> is default.
    builtin_storage_classes: dict[str, bool] = field(default_factory=dict)
    #: Secret store and backup store the core platform runs inside the cluster (None: the cloud's).
    in_cluster: Optional[InClusterServices] = None

    def facts(self) -> dict[str, Any]:
        """What checks need to know about the cluster, exported as the platform output `clusterFacts`."""
        return {"nodePools": [p.facts() for p in self.node_pools], "metricsApi": self.metrics_api,
                "builtinStorageClasses": dict(self.builtin_storage_classes)}
    #: CSI snapshot support (drivers of the cluster's classes, who runs the snapshot controller).
    snapshots: SnapshotSupport = field(default_factory=SnapshotSupport)
    #: How the platform stack stores a generated secret in the platform secret manager (None: it cannot;
    #: an operator seeds such secrets). See components/cluster/secret_writers.py.
    secret_writer: Optional[SecretWriter] = None
