"""Cloud hardening an independent scanner checks (issue 15): replicated PHI buckets, AWS-managed add-on policies,
GKE intranode visibility and Binary Authorization, a private Key Vault, geo-redundant backup accounts in
production, explicit AKS OS disk types."""
from __future__ import annotations

import json
from typing import Any

from .common import HIGH, MEDIUM, config_value, get, is_map, seq, stack_policy, resource_policy, truthy
from .links import linked, of_types

PRODUCTION_CONFIG = {
    "environments": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["production"],
        "description": "Environments (`lfh:environment` tag) whose PHI must have a copy in a second region.",
    },
}


def _environments(args: Any) -> set[str]:
    return {str(e) for e in (config_value(args, PRODUCTION_CONFIG, "environments") or [])}


def _tag(tags: Any, key: str) -> str:
    return str(get(tags, key, default="")) if is_map(tags) else ""


# ----------------------------------------------------------------------------- AWS

BUCKETS = {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}
REPLICATION = {"aws:s3/bucketReplicationConfig:BucketReplicationConfig"}
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"


@stack_policy(
    "aws-s3-phi-bucket-replicated",
    "In production, every S3 bucket holding a client's PHI replicates into a bucket in another region.",
    domain="aws", severity=MEDIUM, safeguard="164.308(a)(7)(ii)(A)", config=PRODUCTION_CONFIG,
    remediation="Give the bucket an aws.s3.BucketReplicationConfig whose destination bucket lives in a second region "
                "(`objectStorage.cloud.replicate`, the platform's `cluster.backup.replication.region`).",
)
def aws_phi_bucket_replicated(args, report):
    envs = _environments(args)
    buckets = of_types(args.resources, BUCKETS)
    configs = of_types(args.resources, REPLICATION)
    destinations = {str(get(d, "destination", "bucket")) for c in configs for d in seq(get(c.props, "rules"))}
    for b in buckets:
        tags = get(b.props, "tags")
        name = str(get(b.props, "bucket") or b.name)
        if _tag(tags, "data-classification") != "phi" or not _tag(tags, "lfh:client") or _tag(tags, "lfh:environment") not in envs:
            continue
        if any(d.endswith(f":::{name}") for d in destinations):
            continue  # the copy itself
        mine = [c for c in configs if linked(c, b, "bucket", [get(b.props, "bucket")])]
        region = get(b.props, "region")
        remote = [c for c in mine for rule in seq(get(c.props, "rules"))
                  for dst in buckets if str(get(rule, "destination", "bucket")).endswith(f":::{get(dst.props, 'bucket')}")
                  and get(dst.props, "region") not in (None, region)]
        if not remote:
            report(f"bucket {name} ({_tag(tags, 'lfh:environment')}) has no copy in a second region", b.urn)


ADDON_MANAGED_POLICIES = {
    # service account (namespace:name) -> AWS-managed policy its role must carry
    "kube-system:aws-node": "AmazonEKS_CNI_Policy",
    "kube-system:ebs-csi-controller-sa": "AmazonEBSCSIDriverPolicy",
}


def _trusted_service_account(role: Any) -> str:
    try:
        doc = json.loads(str(get(role.props, "assumeRolePolicy", default="") or "{}"))
    except ValueError:
        return ""
    for st in seq(get(doc, "Statement")) if is_map(doc) else []:
        for key, value in (get(st, "Condition", "StringEquals", default={}) or {}).items():
            if str(key).endswith(":sub") and str(value).startswith("system:serviceaccount:"):
                return str(value).removeprefix("system:serviceaccount:")
    return ""


@stack_policy(
    "aws-eks-addon-managed-policies",
    "The VPC CNI and EBS CSI roles use the AWS-managed policies (AmazonEKS_CNI_Policy, AmazonEBSCSIDriverPolicy), "
    "not hand-copied EC2 permissions that drift from what the add-on needs.",
    domain="aws", severity=MEDIUM, safeguard="164.312(a)(1)",
    remediation="Attach arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy (aws-node) or "
                "service-role/AmazonEBSCSIDriverPolicy (ebs-csi-controller-sa); keep inline only the KMS grant of your key.",
)
def aws_addon_managed_policies(args, report):
    for role in of_types(args.resources, {ROLE}):
        wanted = ADDON_MANAGED_POLICIES.get(_trusted_service_account(role))
        if not wanted:
            continue
        attached = [a for a in of_types(args.resources, {ATTACHMENT}) if linked(a, role, "role")
                    and str(get(a.props, "policyArn", default="")).endswith(f"/{wanted}")]
        if not attached:
            report(f"IAM role {role.name} ({_trusted_service_account(role)}) lacks the AWS-managed {wanted}", role.urn)
        for p in of_types(args.resources, {ROLE_POLICY}):
            if not linked(p, role, "role"):
                continue
            try:
                doc = json.loads(str(get(p.props, "policy", default="") or "{}"))
            except ValueError:
                continue
            actions = [str(a) for st in seq(get(doc, "Statement")) for a in (seq(get(st, "Action")) or [get(st, "Action")])]
            if any(a.startswith("ec2:") for a in actions):
                report(f"IAM role {role.name}: inline policy {p.name} hand-copies EC2 permissions of {wanted}", p.urn)


SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
TIME_ROTATING = "time:index/rotating:Rotating"
ROTATION_CONFIG = {
    "maxRotationDays": {"type": "integer", "default": 90, "minimum": 1,
                        "description": "Longest allowed rotation period of a rotating Secrets Manager secret, in days."},
}


def _rotation_days(r: Any) -> float | None:
    days = get(r.props, "rotationDays")
    months, years = get(r.props, "rotationMonths"), get(r.props, "rotationYears")
    for value, factor in ((days, 1), (months, 31), (years, 366)):
        try:
            if value is not None:
                return float(value) * factor
        except (TypeError, ValueError):
            return None
    return None


def _upstream(r: Any, by_urn: dict[str, Any], prop: str) -> list[Any]:
    """The resources ``r``'s input ``prop`` is computed from (its property dependencies)."""
    return [by_urn[getattr(d, "urn", d)] for d in (r.property_dependencies or {}).get(prop, []) or []
            if getattr(d, "urn", d) in by_urn]


@stack_policy(
    "aws-secretsmanager-rotation",
    "A Secrets Manager secret that rotates does so at least every maxRotationDays, by Secrets Manager rotation or — "
    "the platform's equivalent — because its value comes from a generator whose keepers follow a time.Rotating. "
    "(Which generated secrets must rotate is `stack-generated-secrets-rotate`'s business.)",
    domain="aws", severity=MEDIUM, safeguard="164.308(a)(5)(ii)(D)", config=ROTATION_CONFIG,
    remediation="Take the generator's `keepers` from a time.Rotating's rfc3339 (rotationDays ≤ maxRotationDays), or "
                "give the secret an aws.secretsmanager.SecretRotation with rotationRules.automaticallyAfterDays ≤ maxRotationDays.",
)
def aws_secret_rotation(args, report):
    max_days = float(config_value(args, ROTATION_CONFIG, "maxRotationDays") or 90)
    by_urn = {r.urn: r for r in args.resources}
    versions = of_types(args.resources, {SECRET_VERSION})
    rotations = of_types(args.resources, {SECRET_ROTATION})
    for secret in of_types(args.resources, {SECRET}):
        name = str(get(secret.props, "name") or secret.name)
        native = [r for r in rotations if linked(r, secret, "secretId", [get(secret.props, "name")])]
        for r in native:
            days = get(r.props, "rotationRules", "automaticallyAfterDays")
            if days is None and not get(r.props, "rotationRules", "scheduleExpression"):
                report(f"secret {name}: its Secrets Manager rotation has no schedule", secret.urn)
            elif days is not None and float(days) > max_days:
                report(f"secret {name} rotates every {int(float(days))} d > {int(max_days)} d", secret.urn)
        if native:
            continue
        mine = [v for v in versions if linked(v, secret, "secretId")]
        generators = [g for v in mine for g in _upstream(v, by_urn, "secretString")
                      if g.resource_type.startswith("random:") and get(g.props, "keepers")]
        for g in generators:
            clocks = [c for c in _upstream(g, by_urn, "keepers") if c.resource_type == TIME_ROTATING]
            if not clocks:
                report(f"secret {name}: its generator {g.name} is replaced by keepers that follow no time.Rotating, so "
                       "nothing schedules its rotation", secret.urn)
            elif all((_rotation_days(c) or float("inf")) > max_days for c in clocks):
                report(f"secret {name} rotates less often than every {int(max_days)} d", secret.urn)


# ----------------------------------------------------------------------------- GCP

GKE = "gcp:container/cluster:Cluster"
BINAUTHZ_POLICY = "gcp:binaryauthorization/policy:Policy"


@resource_policy(
    "gcp-gke-intranode-visibility",
    "GKE clusters have intranode visibility on: pod-to-pod traffic on one node passes the VPC (flow logs, firewall).",
    domain="gcp", types={GKE}, severity=MEDIUM, safeguard="164.312(b)",
    remediation="Set enableIntranodeVisibility = true on the gcp.container.Cluster.",
)
def gke_intranode_visibility(args, report):
    if not truthy(get(args.props, "enableIntranodeVisibility")):
        report(f"GKE cluster {get(args.props, 'name') or args.name}: intranode visibility is off")


@stack_policy(
    "gcp-gke-binary-authorization",
    "GKE clusters evaluate the project's Binary Authorization policy, whose rule for the cluster admits only "
    "allow-listed images (ALWAYS_DENY or attestations) and blocks others in production.",
    domain="gcp", severity=HIGH, safeguard="164.312(c)(1)", config=PRODUCTION_CONFIG,
    remediation="Set binaryAuthorization.evaluationMode = PROJECT_SINGLETON_POLICY_ENFORCE and add a "
                "gcp.binaryauthorization.Policy with a clusterAdmissionRule `<location>.<cluster>` (ALWAYS_DENY + "
                "admissionWhitelistPatterns; ENFORCED_BLOCK_AND_AUDIT_LOG in production).",
)
def gke_binary_authorization(args, report):
    envs = _environments(args)
    policies = of_types(args.resources, {BINAUTHZ_POLICY})
    for c in of_types(args.resources, {GKE}):
        name = str(get(c.props, "name") or c.name)
        if get(c.props, "binaryAuthorization", "evaluationMode") != "PROJECT_SINGLETON_POLICY_ENFORCE":
            report(f"GKE cluster {name} does not evaluate Binary Authorization", c.urn)
            continue
        rules = [r for p in policies for r in seq(get(p.props, "clusterAdmissionRules"))
                 if str(get(r, "cluster", default="")).endswith(f".{name}")]
        if not rules:
            default = [get(p.props, "defaultAdmissionRule") for p in policies]
            rules = [r for r in default if r is not None]
        if not rules:
            report(f"GKE cluster {name}: no Binary Authorization policy in the stack", c.urn)
            continue
        production = _tag(get(c.props, "resourceLabels"), "lfh_environment") in envs
        for r in rules:
            if get(r, "evaluationMode") == "ALWAYS_ALLOW":
                report(f"GKE cluster {name}: its Binary Authorization rule allows every image", c.urn)
            elif production and get(r, "enforcementMode") != "ENFORCED_BLOCK_AND_AUDIT_LOG":
                report(f"GKE cluster {name} (production): Binary Authorization only logs (dry run)", c.urn)


# ----------------------------------------------------------------------------- Azure

VAULT = "azure-native:keyvault:Vault"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
AKS = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
GEO_REDUNDANT = {"Standard_GRS", "Standard_RAGRS", "Standard_GZRS", "Standard_RAGZRS"}


@resource_policy(
    "azure-keyvault-no-public-network",
    "Key Vaults take no traffic on their public endpoint (publicNetworkAccess Disabled: private endpoints and "
    "trusted services only).",
    domain="azure", types={VAULT}, severity=HIGH, safeguard="164.312(e)(1)",
    remediation="Set properties.publicNetworkAccess = Disabled and reach the vault through a private endpoint "
                "(privatelink.vaultcore.azure.net linked to the VNet).",
)
def vault_no_public_network(args, report):
    if get(args.props, "properties", "publicNetworkAccess") != "Disabled":
        report(f"Key Vault {get(args.props, 'vaultName') or args.name}: publicNetworkAccess is "
               f"{get(args.props, 'properties', 'publicNetworkAccess') or 'Enabled (default)'}")


@resource_policy(
    "azure-storage-geo-redundant",
    "In production, storage accounts holding PHI or backups keep a copy in the paired region (GRS/GZRS, or RA-).",
    domain="azure", types={STORAGE_ACCOUNT}, severity=MEDIUM, safeguard="164.308(a)(7)(ii)(A)", config=PRODUCTION_CONFIG,
    remediation="Set sku.name = Standard_GZRS (cluster.storageRedundancy) on production platforms.",
)
def storage_geo_redundant(args, report):
    tags = get(args.props, "tags")
    if _tag(tags, "data-classification") != "phi" or _tag(tags, "lfh:environment") not in _environments(args):
        return
    sku = str(get(args.props, "sku", "name", default=""))
    if sku not in GEO_REDUNDANT:
        report(f"storage account {get(args.props, 'accountName') or args.name} ({_tag(tags, 'lfh:environment')}) is {sku or 'unset'}, not geo-redundant")


@resource_policy(
    "azure-aks-os-disk-type",
    "AKS node pools set their OS disk type explicitly (AKS otherwise picks it per VM size, and it cannot change later).",
    domain="azure", types={AKS, AGENT_POOL}, severity=MEDIUM, safeguard="164.312(a)(2)(iv)",
    remediation="Set osDiskType = Managed (customer-managed key through the disk encryption set) or Ephemeral on every pool.",
)
def aks_os_disk_type(args, report):
    pools = [args.props] if args.resource_type == AGENT_POOL else seq(get(args.props, "agentPoolProfiles"))
    for p in pools:
        if get(p, "osDiskType") not in ("Managed", "Ephemeral"):
            report(f"AKS node pool {get(p, 'name') or get(p, 'agentPoolName') or args.name}: osDiskType is not set")


POLICIES = [
    aws_phi_bucket_replicated, aws_addon_managed_policies, aws_secret_rotation, gke_intranode_visibility, gke_binary_authorization,
    vault_no_public_network, storage_geo_redundant, aks_os_disk_type,
]
