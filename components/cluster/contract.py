"""The common cluster contract: what every cluster component (EKS, AKS, GKE, existing) hands the core
platform stack. The core stack reads only this, never the cloud name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

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
