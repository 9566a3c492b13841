"""`lfh:platform.cluster`: which Kubernetes cluster a platform stack owns (issue: cloud clusters).

One model per target; `provider` selects it. Every field has a secure default and a one-line doc.
A weaker setting is always a named key (``api.allowPublicEndpoint``, ``secretsEncryption: false``,
``backup.disablePublicAccessBlock``); ``weakened()`` lists the ones that are set so the plan report
can warn about them (lfh/plan/cluster_warnings.py).
"""
from __future__ import annotations

import ipaddress
from typing import Annotated, Any, ClassVar, Literal, Optional, Union
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator

from .base import (
    Cidr,
    DnsName,
    ImageReference,
    Ipv4Address,
    K8sName,
    Labels,
    LabelKey,
    LabelValue,
    Quantity,
    Secret,
    StrictModel,
    Text,
    camel,
    checked,
    cidr_prefix,
    dns_label_problem,
    dns_name_problem,
    field,
    ipv4_network,
    refuse,
    unique,
)

class _Model(StrictModel):
    """StrictModel whose fields carry their description explicitly (`field(default, "doc")`)."""



TaintEffect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


# ---------------------------------------------------------------- identifiers of the clouds


def _problem_unless(ok: Any, message: str) -> Optional[str]:
    return None if ok else message


def _aws_region_problem(value: str) -> Optional[str]:
    # us-east-1, eu-central-2, us-gov-west-1, ap-southeast-4 …
    parts = value.split("-")
    ok = (len(parts) in (3, 4) and len(parts[0]) == 2 and parts[0].isalpha() and parts[0].islower()
          and all(p.isalpha() and p.islower() for p in parts[1:-1]) and parts[-1].isdigit() and parts[-1].isascii())
    return _problem_unless(ok, "must be an AWS region such as us-east-1")


def _iam_role_arn_problem(value: str) -> Optional[str]:
    # arn:<partition>:iam::<12-digit account>:role/<path/>name (IAM identifiers reference).
    parts = value.split(":", 5)
    ok = (len(parts) == 6 and parts[0] == "arn" and parts[1] in ("aws", "aws-us-gov", "aws-cn") and parts[2] == "iam"
          and parts[3] == "" and len(parts[4]) == 12 and parts[4].isdigit() and parts[5].startswith("role/")
          and len(parts[5]) > len("role/"))
    return _problem_unless(ok, "must be an IAM role ARN such as arn:aws:iam::123456789012:role/platform-admins")


def _route53_zone_problem(value: str) -> Optional[str]:
    ok = value.startswith("Z") and 2 <= len(value) <= 32 and value.isalnum() and value.isupper() and value.isascii()
    return _problem_unless(ok, "must be a Route53 hosted zone id: `Z` followed by upper-case letters and digits")


def _uuid_problem(value: str) -> Optional[str]:
    import uuid

    try:
        ok = str(uuid.UUID(value)) == value.lower()
    except ValueError:
        ok = False
    return _problem_unless(ok, "must be an Entra ID object id / subscription id (a UUID such as 44444444-4444-4444-4444-444444444444)")


def _azure_location_problem(value: str) -> Optional[str]:
    return _problem_unless(value.isalnum() and value.islower() and value.isascii(), "must be an Azure region name such as eastus2 (lower case, no spaces)")


def _azure_name_problem(value: str) -> Optional[str]:
    # Resource group names: 1–90 letters, digits, '-', '_', '.', '(' , ')', not ending in '.'.
    ok = 0 < len(value) <= 90 and all(c.isalnum() or c in "-_.()" for c in value) and not value.endswith(".")
    return _problem_unless(ok, "must be 1–90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'")


def _gcp_project_problem(value: str) -> Optional[str]:
    # Project ids: 6–30 lower-case letters, digits or hyphens, starting with a letter, not ending in '-'.
    ok = (6 <= len(value) <= 30 and value[0].isalpha() and value[-1] != "-"
          and not dns_label_problem(value))
    return _problem_unless(ok, "must be a GCP project id: 6–30 lower-case letters, digits or '-', starting with a letter")


def _gcp_region_problem(value: str) -> Optional[str]:
    parts = value.split("-")
    ok = len(parts) == 2 and parts[0].isalpha() and parts[0].islower() and parts[1][:-1].isalpha() and parts[1][-1:].isdigit()
    return _problem_unless(ok, "must be a GCP region such as us-central1")


def _gcp_name_problem(value: str) -> Optional[str]:
    # Compute/Cloud DNS resource names (RFC 1035): start with a letter, ≤ 63 characters.
    problem = dns_label_problem(value)
    return problem or _problem_unless(value[0].isalpha(), "must start with a letter")


def _bucket_problem(value: str) -> Optional[str]:
    # S3 bucket naming rules (S3-compatible stores follow them): 3–63 lower-case letters, digits, '.', '-'.
    ok = (3 <= len(value) <= 63 and all(c.islower() or c.isdigit() or c in ".-" for c in value)
          and value[0].isalnum() and value[-1].isalnum() and ".." not in value)
    return _problem_unless(ok, "must be a bucket name: 3–63 lower-case letters, digits, '.' or '-', starting and ending with a letter or digit")


def _endpoint_problem(value: str) -> Optional[str]:
    parts = urlsplit(value)
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
        host_ok = True
    except ValueError:
        host_ok = bool(host) and (dns_label_problem(host) is None or dns_name_problem(host, wildcard=False) is None)
    ok = parts.scheme in ("https", "http") and host_ok and not parts.query
    return _problem_unless(ok, "must be an https:// URL of the S3-compatible endpoint, such as https://s3.example.internal")


# Network ranges by the clouds' rules. AWS VPC docs: "The allowed block size is between a /16 netmask and
# /28 netmask". Azure virtual network docs: address spaces and subnets from /2 to /29; AKS docs: the service
# range must be smaller than /12. GCP VPC docs: subnet primary and secondary IPv4 ranges from /4 to /29;
# GKE: each node takes a /24 of the pod range, and a private control plane range (master-ipv4-cidr) is a /28.
AwsVpcCidr = cidr_prefix(16, 28, "AWS allows VPC blocks from /16 to /28")
AzureVnetCidr = cidr_prefix(2, 29, "Azure address spaces are /2 to /29")
AzureSubnetCidr = cidr_prefix(2, 29, "Azure subnets are /2 to /29")
AksServiceCidr = cidr_prefix(12, 30, "AKS service ranges are /12 or smaller")
GcpSubnetCidr = cidr_prefix(4, 29, "GCP subnet ranges are /4 to /29")
GkePodsCidr = cidr_prefix(4, 24, "GKE gives each node a /24 of the pod range")
GcpSecondaryCidr = cidr_prefix(4, 29, "GCP secondary ranges are /4 to /29")
GkeMasterCidr = cidr_prefix(28, 28, "GKE's private control plane range is a /28")

AwsRegion = checked(str, _aws_region_problem, "AWS region such as `us-east-1`")
IamRoleArn = checked(str, _iam_role_arn_problem, "IAM role ARN")
Route53ZoneId = checked(str, _route53_zone_problem, "Route53 zone id `Z…`")
EntraId = checked(str, _uuid_problem, "UUID")
AzureLocation = checked(str, _azure_location_problem, "Azure region such as `eastus2`")
AzureResourceGroup = checked(str, _azure_name_problem, "resource group name, 1–90 characters")
GcpProject = checked(str, _gcp_project_problem, "GCP project id, 6–30 characters")
GcpRegion = checked(str, _gcp_region_problem, "GCP region such as `us-central1`")
GcpName = checked(str, _gcp_name_problem, "1–63 lower-case letters, digits or '-', starting with a letter")
BucketName = checked(str, _bucket_problem, "bucket name, 3–63 characters")
EndpointUrl = checked(str, _endpoint_problem, "http(s):// URL")


# ---------------------------------------------------------------- shared building blocks


class Taint(_Model):
    """A node taint; pods need a matching toleration to land on the pool."""

    key: LabelKey = field(..., "Taint key, e.g. `CriticalAddonsOnly`.")
    value: LabelValue = field("true", "Taint value.")
    effect: TaintEffect = field("NoSchedule", "Taint effect: NoSchedule, PreferNoSchedule or NoExecute.")


def _not_world(cidr: str) -> str:
    if ipv4_network(cidr).prefixlen == 0:
        raise ValueError(
            f"{cidr} opens the API server to the whole internet; list your operators' CIDRs (e.g. 203.0.113.0/24) instead"
        )
    return cidr


#: A CIDR allowed to reach a public API endpoint: never a /0.
AuthorizedCidr = Annotated[Cidr, AfterValidator(_not_world)]


class ApiAccess(_Model):
    """Who can reach the Kubernetes API server. Private by default."""

    allow_public_endpoint: bool = field(False, "Weaker: expose the API server publicly (only to `publicAccessCidrs`); shows a warning.")
    public_access_cidrs: Annotated[list[AuthorizedCidr], unique("network")] = field([], "CIDRs allowed to reach a public API endpoint (authorized ranges); never 0.0.0.0/0.")

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


class AccessLogs(_Model):
    """Access logs of every bucket that holds PHI or backups (HIPAA 164.312(b)): who read or changed which
    object, when. AWS: CloudTrail S3 data events; GCP: Cloud Audit Logs (data access) of Cloud Storage;
    Azure: the storage account's blob diagnostic logs. Kept in a CMK-encrypted destination of the platform."""

    retention_days: int = field(
        365, "Days the access logs are kept (≥ 1 year; a client whose policy asks for HIPAA's 6 years needs ≥ 2190 here, "
             "its `objectStorage.cloud.accessLogRetentionDays` is checked against this).", ge=365, le=3650)


#: A pool's taints: Kubernetes refuses two with the same key and effect.
_UNIQUE_TAINTS = unique("taint", lambda t: f"{t.key}:{t.effect}", "")
#: Ranges AKS cannot use for nodes, pods or services (Azure CNI overview, prerequisites).
_AKS_RESERVED = [ipaddress.IPv4Network(n) for n in ("169.254.0.0/16", "172.30.0.0/16", "172.31.0.0/16", "192.0.2.0/24")]
_RFC1918 = [ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]

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
    access_logs: AccessLogs = field(AccessLogs(), "Access logs of the backup buckets and the clients' file buckets (retention).")
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


def _csi_driver_problem(value: str) -> Optional[str]:
    # A CSI driver name is a DNS-1123 subdomain of at most 63 characters (CSI spec GetPluginInfo; Kubernetes
    # CSIDriver object name rules); '' means "no CSI driver".
    return None if value == "" else dns_name_problem(value, wildcard=False) if len(value) <= 63 else (
        f"is {len(value)} characters long; a CSI driver name has at most 63")


CsiDriverName = checked(str, _csi_driver_problem, "CSI driver name such as `ebs.csi.aws.com`, or empty")


class ExistingCluster(_Model):
    """A cluster someone else runs: we only connect to it and install the platform."""

    provider: Literal["existing"] = field("existing", "Selects an existing cluster (no cloud resources are created).")
    kubeconfig: Optional[Secret] = field(None, "Kubeconfig of the cluster, set with `pulumi config set --secret` (or use kubeconfigPath).")
    kubeconfig_path: Optional[Text] = field(None, "Path to a kubeconfig file, when the kubeconfig is not stored in config.")
    context: Optional[Text] = field(None, "Kubeconfig context to use; the file's current context when unset.")
    storage_class: K8sName = field("standard", "The cluster's own default StorageClass (kind: `standard`, k3d/k3s: `local-path`); volumes use it when Longhorn is off.")
    node_capabilities: Annotated[list[Literal["iscsi", "cryptsetup"]], unique("capability")] = field([], "What every node's host brings that Longhorn needs: `iscsi` (open-iscsi, iscsid running) and `cryptsetup` (with dm_crypt, for encrypted volumes); check with `longhornctl check preflight`.")
    metrics_api: bool = field(False, "The cluster serves the metrics API (metrics-server), which HPAs need: k3s/k3d ship it, kind does not.")
    self_contained: bool = field(False, "Run with nothing outside the cluster (a kind/k3d trial): the stack generates the platform's secrets into the locked namespace `lfh-platform-secrets` (read through External Secrets' `kubernetes` provider) and backs up to an in-cluster MinIO; weaker (backups live and die with the cluster) and shows a warning.")
    backup_store_size: Quantity = field("20Gi", "Volume of the in-cluster backup store (selfContained only).")
    backup_endpoint: EndpointUrl = field("https://s3.example.internal", "S3-compatible endpoint for Velero/Longhorn backups (https).")
    backup_bucket: BucketName = field("lfh-backups", "Bucket on the S3-compatible endpoint for backups.")
    backup_region: Text = field("us-east-1", "Region name the S3-compatible endpoint expects.")
    backup_credentials: Literal["provided", "generated"] = field(
        "provided", "S3 keys of the backup endpoint: `provided` (an operator stores each tool's key pair at the "
        "path docs/backup-restore.md names) or `generated` (the stacks generate and store them; the endpoint, e.g. "
        "an in-cluster store, provisions a user per stored key, see docs/backup-restore.md). A self-contained "
        "cluster's store always gets keys the platform creates.")
    storage_class_driver: CsiDriverName = field(
        "", "CSI driver of `storageClass` (e.g. `ebs.csi.aws.com`); '' = not a CSI driver with snapshots: its "
        "volumes get Velero file-system backups instead of CSI snapshots.")
    snapshot_controller: bool = field(
        False, "The cluster runs the snapshot.storage.k8s.io CRDs and the CSI snapshot controller (an operator "
        "installed external-snapshotter); needed for CSI snapshots of `storageClassDriver` or Longhorn volumes.")

    @model_validator(mode="after")
    def _one_kubeconfig(self) -> "ExistingCluster":
        if self.kubeconfig is not None and self.kubeconfig_path:
            raise ValueError("set either kubeconfig (secret) or kubeconfigPath, not both")
        given = sorted(k for k in ("backup_endpoint", "backup_bucket", "backup_region") if k in self.model_fields_set)
        if self.self_contained and given:
            raise ValueError(f"{', '.join(camel(k) for k in given)}: not used with selfContained: true (backups go to the "
                             "in-cluster object store); remove them")
        return self

    def weakened(self) -> list[tuple[str, str]]:
        if self.self_contained:
            return [("selfContained", "backups stay inside the cluster (lost with it) and reach the in-cluster object "
                                      "store without TLS; platform secrets are generated into the cluster itself")]
        if self.backup_endpoint.startswith("http://"):
            return [("backupEndpoint", "backups travel to the S3 endpoint without TLS (http://)")]
        return []


# ---------------------------------------------------------------- AWS


class AwsNodePool(_Model):
    """An EKS managed node group (launch template: IMDSv2, encrypted root volume)."""

    instance_types: Annotated[list[Text], unique("instance type")] = field(["m6i.large"], "EC2 instance types, first is preferred.", min_length=1, max_length=20)
    # EKS managed node groups: at most 450 nodes per group (service quota), 20 instance types.
    min_size: int = field(1, "Minimum nodes.", ge=0, le=450)
    max_size: int = field(3, "Maximum nodes.", ge=1, le=450, rule="≥ minSize")
    desired_size: Optional[int] = field(None, "Initial nodes (default: minSize); the autoscaler owns it afterwards.", ge=0, le=450, rule="minSize ≤ desiredSize ≤ maxSize")
    disk_size_gb: int = field(50, "Encrypted gp3 root volume size in GiB.", ge=20, le=16384)
    capacity_type: Literal["ON_DEMAND", "SPOT"] = field("ON_DEMAND", "ON_DEMAND or SPOT.")
    labels: Labels = field({}, "Kubernetes node labels.")
    taints: Annotated[list[Taint], _UNIQUE_TAINTS] = field([], "Kubernetes node taints.")

    @model_validator(mode="after")
    def _sizes(self) -> "AwsNodePool":
        if self.min_size > self.max_size:
            raise refuse("maxSize", f"must be at least minSize ({self.min_size}); got {self.max_size}")
        if self.desired_size is not None and not self.min_size <= self.desired_size <= self.max_size:
            raise refuse("desiredSize", f"must lie between minSize ({self.min_size}) and maxSize ({self.max_size}); got {self.desired_size}")
        return self


class AwsNodePools(_Model):
    """The three pools: system (platform add-ons), apps, db (stateful data services). Each pool's unset keys keep that pool's defaults."""

    DEFAULTS: ClassVar[dict[str, dict[str, object]]] = {
        # 4 vCPU for system and db nodes: the plan's scheduling check places every pod at the pools'
        # minimum size, and each node first gives Longhorn's instance manager 12 % of its CPU and the
        # DaemonSets their share; 2-vCPU nodes then hold neither the add-ons (2 nodes) nor a production
        # client's mongod (1 CPU) + Typesense (0.5 CPU) member per db node plus the restore drill's copy.
        "system": {"instanceTypes": ["m6i.xlarge"], "minSize": 2, "maxSize": 3, "labels": {"lfh.io/pool": "system"}, "taints": [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"}]},
        "apps": {"instanceTypes": ["m6i.xlarge"], "minSize": 2, "maxSize": 6, "labels": {"lfh.io/pool": "apps"}},
        "db": {"instanceTypes": ["r6i.xlarge"], "minSize": 3, "maxSize": 6, "labels": {"lfh.io/pool": "db"}, "taints": [{"key": "lfh.io/pool", "value": "db", "effect": "NoSchedule"}]},
    }

    system: AwsNodePool = field(AwsNodePool.model_validate(DEFAULTS["system"]), "Pool for platform add-ons (default m6i.xlarge, 2–3 nodes, tainted CriticalAddonsOnly).")
    apps: AwsNodePool = field(AwsNodePool.model_validate(DEFAULTS["apps"]), "Pool for client applications (default m6i.xlarge, 2–6 nodes).")
    db: AwsNodePool = field(AwsNodePool.model_validate(DEFAULTS["db"]), "Pool for databases (default r6i.xlarge, 3–6 nodes, tainted lfh.io/pool=db).")

    @model_validator(mode="before")
    @classmethod
    def _pool_defaults(cls, data: Any) -> Any:
        return _with_pool_defaults(cls.DEFAULTS, data)


class AwsDnsZone(_Model):
    """A Route53 hosted zone cert-manager may answer DNS-01 challenges in."""

    name: DnsName = field(..., "Zone domain, e.g. `example.com`.")
    zone_id: Route53ZoneId = field(..., "Route53 hosted zone id, e.g. `Z0123456789ABCDEFGHIJ`.")


class AwsCluster(_Secure):
    """EKS in its own VPC (3 AZs, private subnets, NAT, flow logs)."""

    provider: Literal["aws"] = field("aws", "Selects AWS EKS.")
    region: AwsRegion = field("us-east-1", "AWS region.")
    vpc_cidr: AwsVpcCidr = field(
        "10.40.0.0/16", "VPC CIDR; split into 3 private and 3 public subnets.",
        rule="leaves subnets of at least /28: ≤ /24 for up to 3 zones, ≤ /22 for more")
    availability_zones: int = field(3, "Availability zones to spread subnets and nodes over.", ge=2, le=6)
    single_nat_gateway: bool = field(False, "One NAT gateway instead of one per AZ (cheaper, not zone-redundant).")
    kms_deletion_window_days: int = field(30, "KMS key deletion window in days.", ge=7, le=30)
    admin_role_arns: Annotated[list[IamRoleArn], unique("role ARN")] = field([], "IAM role ARNs granted cluster-admin through EKS access entries.")
    node_pools: AwsNodePools = field(AwsNodePools(), "Managed node groups.")
    dns_zones: Annotated[list[AwsDnsZone], unique("zone", lambda z: z.name, ".name")] = field([], "Route53 zones for cert-manager DNS-01 (empty: no DNS-01 solver).")
    ebs_csi_version: Optional[Text] = field(None, "EBS CSI add-on version (default: the version EKS recommends for the cluster).")
    metrics_server_version: Text = field("v0.8.0-eksbuild.3", "Version of the EKS community add-on `metrics-server` (serves the metrics API HPAs read); list them with `aws eks describe-addon-versions --addon-name metrics-server`.")
    cluster_autoscaler_image: Optional[ImageReference] = field(None, "Cluster Autoscaler image (default: registry.k8s.io/autoscaling/cluster-autoscaler at the newest pinned patch of `kubernetesVersion`).")

    @model_validator(mode="after")
    def _aws_subnets(self) -> "AwsCluster":
        # components/cluster/aws.py cuts the VPC into private subnets 2 bits longer (3 with more than 3 zones)
        # and public ones 4 (6) bits longer; AWS subnets are /16 to /28 (VPC docs).
        extra = 4 if self.availability_zones <= 3 else 6
        prefix = ipv4_network(self.vpc_cidr).prefixlen
        if prefix + extra > 28:
            raise refuse("vpcCidr", f"is a /{prefix}: its public subnets would be /{prefix + extra}, smaller than AWS's /28 "
                                    f"minimum; use a /{28 - extra} or larger (such as a /16)")
        return self


# ---------------------------------------------------------------- Azure


class AzureNodePool(_Model):
    """An AKS agent pool (host encryption on, VMSS, zones)."""

    vm_size: Text = field("Standard_D4ds_v5", "VM size.")
    os_sku: Literal["Ubuntu", "AzureLinux"] = field("Ubuntu", "Node image: `Ubuntu` ships open-iscsi and cryptsetup, which Longhorn needs on every node; `AzureLinux` only where Longhorn is off.")
    min_count: int = field(1, "Minimum nodes (autoscaler).", ge=0, le=1000)
    max_count: int = field(3, "Maximum nodes (autoscaler).", ge=1, le=1000, rule="≥ minCount")
    os_disk_size_gb: int = field(128, "OS disk size in GiB.", ge=30, le=2048)
    os_disk_type: Literal["Managed", "Ephemeral"] = field(
        "Managed", "OS disk type, set explicitly (AKS otherwise picks per VM size and it cannot change later): `Managed` disks carry "
                   "the platform's customer-managed key (disk encryption set); `Ephemeral` puts the OS on the VM's local disk "
                   "(encrypted at host), which must be larger than osDiskSizeGb.")
    labels: Labels = field({}, "Kubernetes node labels.")
    taints: Annotated[list[Taint], _UNIQUE_TAINTS] = field([], "Kubernetes node taints.")

    @model_validator(mode="after")
    def _sizes(self) -> "AzureNodePool":
        if self.min_count > self.max_count:
            raise refuse("maxCount", f"must be at least minCount ({self.min_count}); got {self.max_count}")
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
    resource_group: AzureResourceGroup = field(..., "Resource group holding the zone.")
    subscription_id: Union[EntraId, Literal[""]] = field("", "Subscription of the zone ('' = the platform's subscription).")


class AzureCluster(_Secure):
    """AKS in its own resource group and VNet, Entra ID + Azure RBAC, Key Vault KMS."""

    provider: Literal["azure"] = field("azure", "Selects Azure AKS.")
    location: AzureLocation = field("eastus2", "Azure region.")
    vnet_cidr: AzureVnetCidr = field("10.41.0.0/16", "VNet address space.")
    node_subnet_cidr: AzureSubnetCidr = field(
        "10.41.0.0/20", "Subnet for nodes (Azure CNI overlay: pods get overlay IPs).", rule="inside vnetCidr")
    api_server_subnet_cidr: AzureSubnetCidr = field(
        "10.41.16.0/28", "Subnet delegated to AKS for API Server VNet Integration (at least /28).",
        rule="inside vnetCidr, apart from nodeSubnetCidr")
    key_vault_network_access: Literal["private", "public"] = field("private", "How the API server reaches the Key Vault for KMS: `private` (API Server VNet Integration into `apiServerSubnetCidr`; the vault admits VNet subnets only) or `public` (weaker: the vault accepts every network, RBAC still decides; for regions without VNet Integration); shows a warning.")
    pod_cidr: Cidr = field("192.168.0.0/16", "Overlay pod CIDR.", rule="a /24 per node of every pool at maxCount; outside vnetCidr and serviceCidr")
    service_cidr: AksServiceCidr = field(
        "172.16.0.0/16", "Kubernetes service CIDR.", rule="outside vnetCidr and podCidr")
    dns_service_ip: Ipv4Address = field("172.16.0.10", "Cluster DNS service IP (inside serviceCidr).", rule="inside serviceCidr, not its first address")
    sku_tier: Literal["Standard", "Premium"] = field("Standard", "AKS SKU tier (Standard: uptime SLA).")
    admin_group_object_ids: Annotated[list[EntraId], unique("group id")] = field([], "Entra ID groups granted `Azure Kubernetes Service RBAC Cluster Admin`.")
    upgrade_channel: Literal["patch", "stable", "rapid", "node-image", "none"] = field("patch", "Automatic cluster upgrade channel.")
    node_pools: AzureNodePools = field(AzureNodePools(), "Agent pools.")
    dns_zones: Annotated[list[AzureDnsZone], unique("zone", lambda z: z.name, ".name")] = field([], "Azure DNS zones for cert-manager DNS-01 (empty: no DNS-01 solver).")
    static_ip_name: str = field("", "Name of a public IP (in the node resource group) for the gateway LB ('' = dynamic).")
    allow_shared_key_access: bool = field(False, "Weaker: allow account-key auth on the main backup storage account (Velero's, Entra ID only by default); no tool needs it: the key-based tools (Longhorn, MongoDB backups) get accounts of their own; shows a warning.")
    storage_redundancy: Optional[Literal["ZRS", "GZRS", "RAGZRS"]] = field(
        None, "Redundancy of the backup storage account (and the clients' containers in it); unset: GZRS (zone- and "
              "geo-redundant, a copy in the paired region) on production platforms, ZRS elsewhere.")

    @model_validator(mode="after")
    def _azure_network(self) -> "AzureCluster":
        """What AKS refuses at create time (AKS networking docs: Azure CNI overview, CNI overlay)."""
        vnet, subnet = ipv4_network(self.vnet_cidr), ipv4_network(self.node_subnet_cidr)
        pods, services = ipv4_network(self.pod_cidr), ipv4_network(self.service_cidr)
        if not subnet.subnet_of(vnet):
            raise refuse("nodeSubnetCidr", f"{subnet} must lie inside vnetCidr ({vnet})")
        # API Server VNet Integration: a subnet of the cluster's VNet delegated to AKS, at least /28, not
        # shared with nodes (AKS docs "API Server VNet Integration": "Bring your own VNet").
        api = ipv4_network(self.api_server_subnet_cidr)
        if api.prefixlen > 28:
            raise refuse("apiServerSubnetCidr", f"{api} is smaller than the /28 AKS requires for API Server VNet Integration")
        if not api.subnet_of(vnet):
            raise refuse("apiServerSubnetCidr", f"{api} must lie inside vnetCidr ({vnet})")
        if api.overlaps(subnet):
            raise refuse("apiServerSubnetCidr", f"{api} overlaps nodeSubnetCidr ({subnet}); the delegated subnet holds nothing else")
        for key, net in (("vnetCidr", vnet), ("podCidr", pods), ("serviceCidr", services)):
            for reserved in _AKS_RESERVED:
                if net.overlaps(reserved):
                    raise refuse(key, f"{net} overlaps {reserved}, which AKS reserves (169.254.0.0/16, 172.30.0.0/16, "
                                      "172.31.0.0/16 and 192.0.2.0/24 cannot be used)")
        for key, a, other, b in (("podCidr", pods, "vnetCidr", vnet), ("serviceCidr", services, "vnetCidr", vnet),
                                 ("serviceCidr", services, "podCidr", pods)):
            if a.overlaps(b):
                raise refuse(key, f"{a} overlaps {other} ({b}); they must be separate ranges")
        dns = ipaddress.IPv4Address(self.dns_service_ip)
        if dns not in services:
            raise refuse("dnsServiceIp", f"{dns} must lie inside serviceCidr ({services})")
        if dns in (services.network_address, services.network_address + 1, services.broadcast_address):
            raise refuse("dnsServiceIp", f"{dns} must not be the network, first (the kubernetes Service) or broadcast "
                                         f"address of {services}; use e.g. {services.network_address + 10}")
        # CNI overlay hands each node a /24 of the pod range.
        nodes = sum(p.max_count for p in (self.node_pools.system, self.node_pools.apps, self.node_pools.db))
        if pods.prefixlen > 24 or 2 ** (24 - pods.prefixlen) < nodes:
            raise refuse("podCidr", f"{pods} holds {2 ** max(0, 24 - pods.prefixlen)} node blocks of /24 but the pools "
                                    f"may grow to {nodes} nodes; use a larger range (such as a /16)")
        if self.node_pools.system.min_count < 1:
            raise refuse("nodePools.system.minCount", "must be at least 1: AKS needs a node in the system pool")
        return self

    @model_validator(mode="after")
    def _azure_limits(self) -> "AzureCluster":
        if self.backup.replication.enabled:
            raise ValueError("backup.replication.enabled is not supported on azure yet (AWS only); remove it")
        if self.log_retention_days > 730:
            raise ValueError("logRetentionDays is at most 730 on azure (Log Analytics workspace retention)")
        return self

    def weakened(self) -> list[tuple[str, str]]:
        out = super().weakened()
        if self.key_vault_network_access == "public":
            out.append(("keyVaultNetworkAccess", "the Key Vault with the KMS and data keys accepts connections from every network (RBAC still decides)"))
        if self.allow_shared_key_access:
            out.append(("allowSharedKeyAccess", "the backup storage account accepts account keys besides Entra ID"))
        return out


# ---------------------------------------------------------------- GCP


class GcpNodePool(_Model):
    """A GKE node pool (shielded nodes, CMEK boot disk, dedicated service account)."""

    machine_type: Text = field("e2-standard-4", "Machine type.")
    image_type: Literal["UBUNTU_CONTAINERD", "COS_CONTAINERD"] = field("UBUNTU_CONTAINERD", "Node image: `UBUNTU_CONTAINERD` ships open-iscsi and cryptsetup, which Longhorn needs on every node; `COS_CONTAINERD` only where Longhorn is off.")
    min_count: int = field(1, "Minimum nodes per zone (autoscaler).", ge=0, le=1000)
    max_count: int = field(3, "Maximum nodes per zone (autoscaler).", ge=1, le=1000, rule="≥ minCount")
    disk_size_gb: int = field(100, "CMEK-encrypted pd-balanced boot disk size in GB.", ge=20, le=65536)
    labels: Labels = field({}, "Kubernetes node labels.")
    taints: Annotated[list[Taint], _UNIQUE_TAINTS] = field([], "Kubernetes node taints.")

    @model_validator(mode="after")
    def _sizes(self) -> "GcpNodePool":
        if self.min_count > self.max_count:
            raise refuse("maxCount", f"must be at least minCount ({self.min_count}); got {self.max_count}")
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
    managed_zone: GcpName = field(..., "Cloud DNS managed zone name, e.g. `example-com`.")


def _binauthz_pattern_problem(value: str) -> Optional[str]:
    # Binary Authorization allowlist: `registry/path/to/image`, a trailing `*` or `**` only after `registry/`.
    host, _, path = value.partition("/")
    if not host or not path or "*" in host or "*" in path.rstrip("*") or any(c.isspace() for c in value):
        return "must name a registry and a path, such as `registry.example.com/team/**` (`*` or `**` only at the end, after the registry)"
    return None


BinAuthzPattern = checked(str, _binauthz_pattern_problem, "`registry/path/**`")
"""A Binary Authorization allowlist entry (`registry/path/to/image`, optionally ending in `*` or `**`)."""


def _security_group_problem(value: str) -> Optional[str]:
    local, at, domain = value.partition("@")
    if local != "gke-security-groups" or not at or dns_name_problem(domain, wildcard=False):
        return "must be the address gke-security-groups@<your domain> (GKE requires this group name)"
    return None


GkeSecurityGroup = checked(str, _security_group_problem, "`gke-security-groups@<domain>`")


class BinaryAuthorization(_Model):
    """GKE Binary Authorization: only images from the registries the platform and its clients use may run."""

    enforce: Optional[bool] = field(None, "Block images outside the allowlist (unset: on production platforms; elsewhere dry-run, which only logs them).")
    extra_image_patterns: Annotated[list[BinAuthzPattern], unique("pattern")] = field(
        [], "More image patterns clients may pull (e.g. a satellite's registry), beside the ones the platform's and the "
            "example clients' images need (components/cluster/gcp.py).")


class GcpCluster(_Secure):
    """GKE (regional, VPC-native, private nodes) in its own VPC."""

    provider: Literal["gcp"] = field("gcp", "Selects Google GKE.")
    project: GcpProject = field(..., "GCP project id.")
    region: GcpRegion = field("us-central1", "GCP region.")
    subnet_cidr: GcpSubnetCidr = field("10.42.0.0/20", "Node subnet CIDR.")
    pods_cidr: GkePodsCidr = field(
        "10.128.0.0/14", "Secondary range for pods (VPC-native).", rule="a /24 per node: every pool at maxCount in 3 zones; no overlap with the other ranges")
    services_cidr: GcpSecondaryCidr = field(
        "10.42.16.0/20", "Secondary range for services.", rule="no overlap with the other ranges")
    master_cidr: GkeMasterCidr = field(
        "172.16.0.0/28", "/28 for the private control plane.", rule="RFC 1918; no overlap with the other ranges")
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = field("REGULAR", "GKE release channel (automatic patching).")
    node_pools: GcpNodePools = field(GcpNodePools(), "Node pools.")
    dns_zones: Annotated[list[GcpDnsZone], unique("zone", lambda z: z.name, ".name")] = field([], "Cloud DNS zones for cert-manager DNS-01 (empty: no DNS-01 solver).")
    static_ip: bool = field(False, "Reserve a static regional IP for the gateway load balancer.")
    binary_authorization: BinaryAuthorization = field(BinaryAuthorization(), "Binary Authorization of the images pods may run.")
    rbac_security_group: Optional[GkeSecurityGroup] = field(
        None, "Google Groups for RBAC: the `gke-security-groups@<your domain>` group whose member groups RoleBindings may name "
              "(unset: off).")

    @model_validator(mode="after")
    def _gcp_network(self) -> "GcpCluster":
        """What the GCE/GKE APIs refuse at create time: overlapping ranges, a public control plane range,
        a pod range too small for the node pools (GKE VPC-native and private cluster docs)."""
        ranges = {"subnetCidr": ipv4_network(self.subnet_cidr), "podsCidr": ipv4_network(self.pods_cidr),
                  "servicesCidr": ipv4_network(self.services_cidr), "masterCidr": ipv4_network(self.master_cidr)}
        keys = list(ranges)
        for i, a in enumerate(keys):
            for b in keys[:i]:
                if ranges[a].overlaps(ranges[b]):
                    raise refuse(a, f"{ranges[a]} overlaps {b} ({ranges[b]}); they must be separate ranges")
        if not ranges["masterCidr"].is_private or not any(ranges["masterCidr"].subnet_of(n) for n in _RFC1918):
            raise refuse("masterCidr", f"{ranges['masterCidr']} must be a private (RFC 1918) range such as 172.16.0.0/28")
        nodes = 3 * sum(p.max_count for p in (self.node_pools.system, self.node_pools.apps, self.node_pools.db))
        blocks = 2 ** (24 - ranges["podsCidr"].prefixlen)
        if blocks < nodes:
            raise refuse("podsCidr", f"{ranges['podsCidr']} holds {blocks} node blocks of /24 but the pools may grow to "
                                     f"{nodes} nodes (maxCount × 3 zones); use a larger range (such as a /14)")
        return self

    @model_validator(mode="after")
    def _no_replication_yet(self) -> "GcpCluster":
        if self.backup.replication.enabled:
            raise ValueError("backup.replication.enabled is not supported on gcp yet (AWS only); remove it")
        return self


ClusterConfig = Annotated[
    Union[AwsCluster, AzureCluster, GcpCluster, ExistingCluster],
    Field(discriminator="provider"),
]
