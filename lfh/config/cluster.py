"""`lfh:platform.cluster`: which Kubernetes cluster a platform stack owns (issue: cloud clusters).

One model per target; `provider` selects it. Every field has a secure default and a one-line doc.
A weaker setting is always a named key (``api.allowPublicEndpoint``, ``secretsEncryption: false``,
``backup.disablePublicAccessBlock``); ``weakened()`` lists the ones that are set so the plan report
can warn about them (lfh/plan/cluster_warnings.py).
"""
from __future__ import annotations

import ipaddress
from typing import Annotated, Any, ClassVar, Literal, Optional, Union

from pydantic import AfterValidator, Field, model_validator

from .base import Cidr, DnsName, Secret, StrictModel, field

class _Model(StrictModel):
    """StrictModel whose fields carry their description explicitly (`field(default, "doc")`)."""



TaintEffect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


# ---------------------------------------------------------------- shared building blocks


class Taint(_Model):
    """A node taint; pods need a matching toleration to land on the pool."""

    key: str = field(..., "Taint key, e.g. `CriticalAddonsOnly`.")
    value: str = field("true", "Taint value.")
    effect: TaintEffect = field("NoSchedule", "Taint effect: NoSchedule, PreferNoSchedule or NoExecute.")


def _not_world(cidr: str) -> str:
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise ValueError(f"{cidr!r} is not a valid IPv4 CIDR") from None
    if net.prefixlen == 0:
        raise ValueError(
            f"{cidr} opens the API server to the whole internet; list your operators' CIDRs (e.g. 203.0.113.0/24) instead"
        )
    return cidr


#: A CIDR allowed to reach a public API endpoint: never a /0.
AuthorizedCidr = Annotated[Cidr, AfterValidator(_not_world)]


class ApiAccess(_Model):
    """Who can reach the Kubernetes API server. Private by default."""

    allow_public_endpoint: bool = field(False, "Weaker: expose the API server publicly (only to `publicAccessCidrs`); shows a warning.")
    public_access_cidrs: list[AuthorizedCidr] = field([], "CIDRs allowed to reach a public API endpoint (authorized ranges); never 0.0.0.0/0.")

    @model_validator(mode="after")
    def _public_needs_cidrs(self) -> "ApiAccess":
        if self.public_access_cidrs and not self.allow_public_endpoint:
            raise ValueError(
                "publicAccessCidrs makes the API server public; set api.allowPublicEndpoint: true to say so explicitly"
            )
        if self.allow_public_endpoint and not self.public_access_cidrs:
            raise ValueError(
                "allowPublicEndpoint: true needs api.publicAccessCidrs (the CIDRs allowed in); an unrestricted public API is not allowed"
            )
        return self

    @property
    def public(self) -> bool:
        return self.allow_public_endpoint and bool(self.public_access_cidrs)


class BackupReplication(_Model):
    """An immutable copy of the Velero bucket: replication into a second bucket with a WORM lock."""

    enabled: bool = field(False, "Replicate the backup bucket into a separate, locked (WORM) bucket.")
    lock_days: int = field(90, "Retention lock on replica objects in days (Object Lock / immutability policy).", ge=1, le=3650)
    lock_mode: Literal["COMPLIANCE", "GOVERNANCE"] = field("COMPLIANCE", "Object Lock mode (AWS); COMPLIANCE cannot be shortened by anyone.")
    region: str = field("", "Region/location of the replica bucket ('' = the cluster region).")


class BackupConfig(_Model):
    """The Velero/Longhorn backup bucket: versioned, CMK-encrypted, never public, tiered lifecycle."""

    daily_expire_days: int = field(30, "Daily backups (`daily/` prefix) expire after this many days.", ge=1, le=3650)
    archive_transition_days: int = field(0, "Weekly archives (`archive/` prefix) move to the instantly-readable archive class after this many days.", ge=0, le=3650)
    archive_expire_days: int = field(90, "Weekly archives expire after this many days (HIPAA: ≥ 90).", ge=1, le=3650)
    noncurrent_expire_days: int = field(30, "Overwritten/deleted object versions are kept this many days.", ge=1, le=3650)
    replication: BackupReplication = field(BackupReplication(), "Optional WORM replica of the backup bucket.")
    disable_public_access_block: bool = field(False, "Weaker: drop the bucket's public-access block; shows a warning.")

    @model_validator(mode="after")
    def _archive_after_transition(self) -> "BackupConfig":
        if self.archive_expire_days <= self.archive_transition_days:
            raise ValueError("archiveExpireDays must be greater than archiveTransitionDays")
        return self


#: Labels/taints of the three pools; workloads select them with `lfh.io/pool`.
POOL_LABEL = "lfh.io/pool"


def _with_pool_defaults(defaults: dict[str, dict[str, object]], data: object) -> object:
    """Fill each pool's own defaults under what the stack file says, so setting one key (say
    `minSize`) keeps the pool's other defaults (its taints!)."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for pool, pool_defaults in defaults.items():
        given = out.get(pool, {})
        if isinstance(given, dict):
            out[pool] = {**pool_defaults, **given}
    return out


class _Secure(_Model):
    """Settings every cloud shares."""

    api: ApiAccess = field(ApiAccess(), "API server access: private unless explicitly opened to listed CIDRs.")
    secrets_encryption: bool = field(True, "Envelope-encrypt Kubernetes Secrets with the customer-managed key; false is weaker and warns.")
    log_retention_days: int = field(365, "Days control-plane/audit and flow logs are kept (≥ 90).", ge=90, le=3653)
    backup: BackupConfig = field(BackupConfig(), "Backup bucket lifecycle and replication.")
    internal_load_balancer: bool = field(False, "Make the gateway's load balancer internal (private IP only).")

    def weakened(self) -> list[tuple[str, str]]:
        """(key, why) for every weaker setting this config turns on."""
        out = []
        if self.api.public:
            out.append(("api.allowPublicEndpoint", f"the API server is public (restricted to {', '.join(self.api.public_access_cidrs)})"))
        if not self.secrets_encryption:
            out.append(("secretsEncryption", "Kubernetes Secrets are not envelope-encrypted with the customer-managed key"))
        if self.backup.disable_public_access_block:
            out.append(("backup.disablePublicAccessBlock", "the backup bucket's public-access block is off"))
        return out


# ---------------------------------------------------------------- existing


class ExistingCluster(_Model):
    """A cluster someone else runs: we only connect to it and install the platform."""

    provider: Literal["existing"] = field("existing", "Selects an existing cluster (no cloud resources are created).")
    kubeconfig: Optional[Secret] = field(None, "Kubeconfig of the cluster, set with `pulumi config set --secret` (or use kubeconfigPath).")
    kubeconfig_path: Optional[str] = field(None, "Path to a kubeconfig file, when the kubeconfig is not stored in config.")
    context: Optional[str] = field(None, "Kubeconfig context to use; the file's current context when unset.")
    storage_class: str = field("standard", "Existing StorageClass for platform add-ons that need volumes before Longhorn is ready.")
    backup_endpoint: str = field("https://s3.example.internal", "S3-compatible endpoint for Velero/Longhorn backups (https).", pattern=r"^https?://[^\s/]+(/.*)?$")
    backup_bucket: str = field("lfh-backups", "Bucket on the S3-compatible endpoint for backups.")
    backup_region: str = field("us-east-1", "Region name the S3-compatible endpoint expects.")
    backup_credentials: Literal["provided", "generated"] = field(
        "provided", "S3 keys of the backup endpoint: `provided` (an operator stores each tool's key pair at the "
        "path docs/backup-restore.md names) or `generated` (the stacks generate and store them; the endpoint, e.g. "
        "an in-cluster store, provisions a user per stored key, see docs/backup-restore.md).")
    storage_class_driver: str = field(
        "", "CSI driver of `storageClass` (e.g. `ebs.csi.aws.com`); '' = not a CSI driver with snapshots: its "
        "volumes get Velero file-system backups instead of CSI snapshots.")
    snapshot_controller: bool = field(
        False, "The cluster runs the snapshot.storage.k8s.io CRDs and the CSI snapshot controller (an operator "
        "installed external-snapshotter); needed for CSI snapshots of `storageClassDriver` or Longhorn volumes.")

    @model_validator(mode="after")
    def _one_kubeconfig(self) -> "ExistingCluster":
        if self.kubeconfig is not None and self.kubeconfig_path:
            raise ValueError("set either kubeconfig (secret) or kubeconfigPath, not both")
        return self

    def weakened(self) -> list[tuple[str, str]]:
        if self.backup_endpoint.startswith("http://"):
            return [("backupEndpoint", "backups travel to the S3 endpoint without TLS (http://)")]
        return []


# ---------------------------------------------------------------- AWS


class AwsNodePool(_Model):
    """An EKS managed node group (launch template: IMDSv2, encrypted root volume)."""

    instance_types: list[str] = field(["m6i.large"], "EC2 instance types, first is preferred.", min_length=1)
    min_size: int = field(1, "Minimum nodes.", ge=0, le=450)
    max_size: int = field(3, "Maximum nodes.", ge=1, le=450)
    desired_size: Optional[int] = field(None, "Initial nodes (default: minSize); the autoscaler owns it afterwards.")
    disk_size_gb: int = field(50, "Encrypted gp3 root volume size in GiB.", ge=20, le=16384)
    capacity_type: Literal["ON_DEMAND", "SPOT"] = field("ON_DEMAND", "ON_DEMAND or SPOT.")
    labels: dict[str, str] = field({}, "Kubernetes node labels.")
    taints: list[Taint] = field([], "Kubernetes node taints.")

    @model_validator(mode="after")
    def _sizes(self) -> "AwsNodePool":
        if self.min_size > self.max_size:
            raise ValueError("minSize must be ≤ maxSize")
        return self


class AwsNodePools(_Model):
    """The three pools: system (platform add-ons), apps, db (stateful data services). Each pool's unset keys keep that pool's defaults."""

    DEFAULTS: ClassVar[dict[str, dict[str, object]]] = {
        "system": {"instanceTypes": ["m6i.large"], "minSize": 2, "maxSize": 3, "labels": {"lfh.io/pool": "system"}, "taints": [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"}]},
        "apps": {"instanceTypes": ["m6i.xlarge"], "minSize": 2, "maxSize": 6, "labels": {"lfh.io/pool": "apps"}},
        "db": {"instanceTypes": ["r6i.large"], "minSize": 3, "maxSize": 6, "labels": {"lfh.io/pool": "db"}, "taints": [{"key": "lfh.io/pool", "value": "db", "effect": "NoSchedule"}]},
    }

    system: AwsNodePool = field(AwsNodePool.model_validate(DEFAULTS["system"]), "Pool for platform add-ons (default m6i.large, 2–3 nodes, tainted CriticalAddonsOnly).")
    apps: AwsNodePool = field(AwsNodePool.model_validate(DEFAULTS["apps"]), "Pool for client applications (default m6i.xlarge, 2–6 nodes).")
    db: AwsNodePool = field(AwsNodePool.model_validate(DEFAULTS["db"]), "Pool for databases (default r6i.large, 3–6 nodes, tainted lfh.io/pool=db).")

    @model_validator(mode="before")
    @classmethod
    def _pool_defaults(cls, data: Any) -> Any:
        return _with_pool_defaults(cls.DEFAULTS, data)


class AwsDnsZone(_Model):
    """A Route53 hosted zone cert-manager may answer DNS-01 challenges in."""

    name: DnsName = field(..., "Zone domain, e.g. `example.com`.")
    zone_id: str = field(..., "Route53 hosted zone id, e.g. `Z0123456789ABCDEFGHIJ`.", pattern=r"^Z[A-Z0-9]{1,32}$")


class AwsCluster(_Secure):
    """EKS in its own VPC (3 AZs, private subnets, NAT, flow logs)."""

    provider: Literal["aws"] = field("aws", "Selects AWS EKS.")
    region: str = field("us-east-1", "AWS region.", pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")
    vpc_cidr: Cidr = field("10.40.0.0/16", "VPC CIDR; split into 3 private and 3 public subnets.")
    availability_zones: int = field(3, "Availability zones to spread subnets and nodes over.", ge=2, le=6)
    single_nat_gateway: bool = field(False, "One NAT gateway instead of one per AZ (cheaper, not zone-redundant).")
    kms_deletion_window_days: int = field(30, "KMS key deletion window in days.", ge=7, le=30)
    admin_role_arns: list[str] = field([], "IAM role ARNs granted cluster-admin through EKS access entries.")
    node_pools: AwsNodePools = field(AwsNodePools(), "Managed node groups.")
    dns_zones: list[AwsDnsZone] = field([], "Route53 zones for cert-manager DNS-01 (empty: no DNS-01 solver).")
    ebs_csi_version: Optional[str] = field(None, "EBS CSI add-on version (default: the version EKS recommends for the cluster).")


# ---------------------------------------------------------------- Azure


class AzureNodePool(_Model):
    """An AKS agent pool (host encryption on, VMSS, zones)."""

    vm_size: str = field("Standard_D4ds_v5", "VM size.")
    min_count: int = field(1, "Minimum nodes (autoscaler).", ge=0, le=1000)
    max_count: int = field(3, "Maximum nodes (autoscaler).", ge=1, le=1000)
    os_disk_size_gb: int = field(128, "OS disk size in GiB.", ge=30, le=2048)
    labels: dict[str, str] = field({}, "Kubernetes node labels.")
    taints: list[Taint] = field([], "Kubernetes node taints.")

    @model_validator(mode="after")
    def _sizes(self) -> "AzureNodePool":
        if self.min_count > self.max_count:
            raise ValueError("minCount must be ≤ maxCount")
        return self


class AzureNodePools(_Model):
    """The three pools: system (mode System, tainted), apps and db (mode User). Each pool's unset keys keep that pool's defaults."""

    DEFAULTS: ClassVar[dict[str, dict[str, object]]] = {
        "system": {"vmSize": "Standard_D4ds_v5", "minCount": 2, "maxCount": 3, "labels": {"lfh.io/pool": "system"}, "taints": [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"}]},
        "apps": {"vmSize": "Standard_D8ds_v5", "minCount": 2, "maxCount": 6, "labels": {"lfh.io/pool": "apps"}},
        "db": {"vmSize": "Standard_E4ds_v5", "minCount": 3, "maxCount": 6, "labels": {"lfh.io/pool": "db"}, "taints": [{"key": "lfh.io/pool", "value": "db", "effect": "NoSchedule"}]},
    }

    system: AzureNodePool = field(AzureNodePool.model_validate(DEFAULTS["system"]), "System pool (default Standard_D4ds_v5, 2–3 nodes, tainted CriticalAddonsOnly).")
    apps: AzureNodePool = field(AzureNodePool.model_validate(DEFAULTS["apps"]), "User pool for client applications (default Standard_D8ds_v5, 2–6 nodes).")
    db: AzureNodePool = field(AzureNodePool.model_validate(DEFAULTS["db"]), "User pool for databases (default Standard_E4ds_v5, 3–6 nodes, tainted lfh.io/pool=db).")

    @model_validator(mode="before")
    @classmethod
    def _pool_defaults(cls, data: Any) -> Any:
        return _with_pool_defaults(cls.DEFAULTS, data)


class AzureDnsZone(_Model):
    """An Azure DNS zone cert-manager may answer DNS-01 challenges in."""

    name: DnsName = field(..., "Zone domain, e.g. `example.com`.")
    resource_group: str = field(..., "Resource group holding the zone.")
    subscription_id: str = field("", "Subscription of the zone ('' = the platform's subscription).")


class AzureCluster(_Secure):
    """AKS in its own resource group and VNet, Entra ID + Azure RBAC, Key Vault KMS."""

    provider: Literal["azure"] = field("azure", "Selects Azure AKS.")
    location: str = field("eastus2", "Azure region.", pattern=r"^[a-z0-9]+$")
    vnet_cidr: Cidr = field("10.41.0.0/16", "VNet address space.")
    node_subnet_cidr: Cidr = field("10.41.0.0/20", "Subnet for nodes (Azure CNI overlay: pods get overlay IPs).")
    pod_cidr: Cidr = field("192.168.0.0/16", "Overlay pod CIDR.")
    service_cidr: Cidr = field("172.16.0.0/16", "Kubernetes service CIDR.")
    dns_service_ip: str = field("172.16.0.10", "Cluster DNS service IP (inside serviceCidr).")
    sku_tier: Literal["Standard", "Premium"] = field("Standard", "AKS SKU tier (Standard: uptime SLA).")
    admin_group_object_ids: list[str] = field([], "Entra ID groups granted `Azure Kubernetes Service RBAC Cluster Admin`.")
    upgrade_channel: Literal["patch", "stable", "rapid", "node-image", "none"] = field("patch", "Automatic cluster upgrade channel.")
    node_pools: AzureNodePools = field(AzureNodePools(), "Agent pools.")
    dns_zones: list[AzureDnsZone] = field([], "Azure DNS zones for cert-manager DNS-01 (empty: no DNS-01 solver).")
    static_ip_name: str = field("", "Name of a public IP (in the node resource group) for the gateway LB ('' = dynamic).")
    allow_shared_key_access: bool = field(False, "Weaker: allow account-key auth on the main backup storage account (Velero's, Entra ID only by default); no tool needs it: the key-based tools (Longhorn, MongoDB backups) get accounts of their own; shows a warning.")

    @model_validator(mode="after")
    def _azure_limits(self) -> "AzureCluster":
        if self.backup.replication.enabled:
            raise ValueError("backup.replication.enabled is not supported on azure yet (AWS only); remove it")
        if self.log_retention_days > 730:
            raise ValueError("logRetentionDays is at most 730 on azure (Log Analytics workspace retention)")
        return self

    def weakened(self) -> list[tuple[str, str]]:
        out = super().weakened()
        if self.allow_shared_key_access:
            out.append(("allowSharedKeyAccess", "the backup storage account accepts account keys besides Entra ID"))
        return out


# ---------------------------------------------------------------- GCP


class GcpNodePool(_Model):
    """A GKE node pool (shielded nodes, CMEK boot disk, dedicated service account)."""

    machine_type: str = field("e2-standard-4", "Machine type.")
    min_count: int = field(1, "Minimum nodes per zone (autoscaler).", ge=0, le=1000)
    max_count: int = field(3, "Maximum nodes per zone (autoscaler).", ge=1, le=1000)
    disk_size_gb: int = field(100, "CMEK-encrypted pd-balanced boot disk size in GB.", ge=20, le=65536)
    labels: dict[str, str] = field({}, "Kubernetes node labels.")
    taints: list[Taint] = field([], "Kubernetes node taints.")

    @model_validator(mode="after")
    def _sizes(self) -> "GcpNodePool":
        if self.min_count > self.max_count:
            raise ValueError("minCount must be ≤ maxCount")
        return self


class GcpNodePools(_Model):
    """The three pools: system (tainted), apps, db; node counts are per zone. Each pool's unset keys keep that pool's defaults."""

    DEFAULTS: ClassVar[dict[str, dict[str, object]]] = {
        "system": {"machineType": "e2-standard-4", "minCount": 1, "maxCount": 2, "labels": {"lfh.io/pool": "system"}, "taints": [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"}]},
        "apps": {"machineType": "e2-standard-8", "minCount": 1, "maxCount": 3, "labels": {"lfh.io/pool": "apps"}},
        "db": {"machineType": "n2-highmem-4", "minCount": 1, "maxCount": 2, "labels": {"lfh.io/pool": "db"}, "taints": [{"key": "lfh.io/pool", "value": "db", "effect": "NoSchedule"}]},
    }

    system: GcpNodePool = field(GcpNodePool.model_validate(DEFAULTS["system"]), "Pool for platform add-ons (default e2-standard-4, 1–2 nodes per zone, tainted CriticalAddonsOnly).")
    apps: GcpNodePool = field(GcpNodePool.model_validate(DEFAULTS["apps"]), "Pool for client applications (default e2-standard-8, 1–3 nodes per zone).")
    db: GcpNodePool = field(GcpNodePool.model_validate(DEFAULTS["db"]), "Pool for databases (default n2-highmem-4, 1–2 nodes per zone, tainted lfh.io/pool=db).")

    @model_validator(mode="before")
    @classmethod
    def _pool_defaults(cls, data: Any) -> Any:
        return _with_pool_defaults(cls.DEFAULTS, data)


class GcpDnsZone(_Model):
    """A Cloud DNS managed zone cert-manager may answer DNS-01 challenges in."""

    name: DnsName = field(..., "Zone domain, e.g. `example.com`.")
    managed_zone: str = field(..., "Cloud DNS managed zone name, e.g. `example-com`.", pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


class GcpCluster(_Secure):
    """GKE (regional, VPC-native, private nodes) in its own VPC."""

    provider: Literal["gcp"] = field("gcp", "Selects Google GKE.")
    project: str = field(..., "GCP project id.", pattern=r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
    region: str = field("us-central1", "GCP region.", pattern=r"^[a-z]+-[a-z]+[0-9]$")
    subnet_cidr: Cidr = field("10.42.0.0/20", "Node subnet CIDR.")
    pods_cidr: Cidr = field("10.128.0.0/14", "Secondary range for pods (VPC-native).")
    services_cidr: Cidr = field("10.42.16.0/20", "Secondary range for services.")
    master_cidr: Cidr = field("172.16.0.0/28", "/28 for the private control plane.")
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = field("REGULAR", "GKE release channel (automatic patching).")
    node_pools: GcpNodePools = field(GcpNodePools(), "Node pools.")
    dns_zones: list[GcpDnsZone] = field([], "Cloud DNS zones for cert-manager DNS-01 (empty: no DNS-01 solver).")
    static_ip: bool = field(False, "Reserve a static regional IP for the gateway load balancer.")

    @model_validator(mode="after")
    def _no_replication_yet(self) -> "GcpCluster":
        if self.backup.replication.enabled:
            raise ValueError("backup.replication.enabled is not supported on gcp yet (AWS only); remove it")
        return self


ClusterConfig = Annotated[
    Union[AwsCluster, AzureCluster, GcpCluster, ExistingCluster],
    Field(discriminator="provider"),
]
