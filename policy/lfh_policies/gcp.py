"""GCP policies (pulumi_gcp 10.x): Cloud KMS, GKE (endpoint, etcd encryption, identity, nodes), GCS."""
from __future__ import annotations

import re
from typing import Any

from .common import (
    retention_config,
    retention_days,
    CRITICAL,
    HIGH,
    config_value,
    falsy,
    get,
    is_world,
    number,
    resource_policy,
    seq,
    truthy,
)

D = "gcp"

CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
GKE = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
BUCKET = "gcp:storage/bucket:Bucket"

ROTATION_CONFIG = {
    "maxRotationDays": {
        "type": "integer",
        "default": 365,
        "minimum": 1,
        "description": "Longest allowed Cloud KMS rotation period in days.",
    },
}


def _seconds(value: Any) -> float | None:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(value or "").strip())
    return float(m.group(1)) if m else None


@resource_policy(
    "gcp-kms-key-rotation",
    "Cloud KMS crypto keys rotate automatically at least every configured days (default 365).",
    domain=D, types={CRYPTO_KEY}, severity=HIGH, safeguard="164.312(a)(2)(iv)", config=ROTATION_CONFIG,
    remediation="Set rotation_period, e.g. \"7776000s\" (90 days).",
)
def kms_rotation(args, report):
    purpose = get(args.props, "purpose", default="ENCRYPT_DECRYPT")
    if purpose != "ENCRYPT_DECRYPT":
        return  # only symmetric keys support automatic rotation
    seconds = _seconds(get(args.props, "rotationPeriod"))
    max_days = number(config_value(args, ROTATION_CONFIG, "maxRotationDays")) or 365
    if seconds is None:
        report(f"Cloud KMS key {get(args.props, 'name') or args.name} has no rotationPeriod")
    elif seconds > max_days * 86400:
        report(f"Cloud KMS key {get(args.props, 'name') or args.name} rotates every {seconds / 86400:.0f} d > {max_days:.0f} d")


@resource_policy(
    "gcp-gke-private-cluster",
    "GKE nodes are private and the control plane is private or limited to explicit authorized networks (never 0.0.0.0/0).",
    domain=D, types={GKE}, severity=CRITICAL, safeguard="164.312(e)(1)",
    remediation="Set privateClusterConfig.enablePrivateNodes = true and enablePrivateEndpoint = true, or list operator CIDRs in masterAuthorizedNetworksConfig.",
)
def gke_private(args, report):
    pcc = get(args.props, "privateClusterConfig", default={})
    if not truthy(get(pcc, "enablePrivateNodes")):
        report(f"GKE cluster {args.name}: nodes are not private")
    ip_endpoint_off = falsy(get(args.props, "controlPlaneEndpointsConfig", "ipEndpointsConfig", "enabled"))
    if truthy(get(pcc, "enablePrivateEndpoint")) or ip_endpoint_off:
        return
    man = get(args.props, "masterAuthorizedNetworksConfig", default=None)
    cidrs = [str(get(b, "cidrBlock", default="")) for b in seq(get(man, "cidrBlocks"))] if man is not None else []
    if not cidrs:
        report(f"GKE cluster {args.name}: public control plane with no authorized networks")
    elif any(is_world(c) for c in cidrs):
        report(f"GKE cluster {args.name}: control plane open to {cidrs}")
    if man is not None and truthy(get(man, "gcpPublicCidrsAccessEnabled")):
        report(f"GKE cluster {args.name}: control plane reachable from all Google Cloud public IPs")


@resource_policy(
    "gcp-gke-secrets-encryption",
    "GKE encrypts Secrets in etcd with a Cloud KMS key (application-layer encryption).",
    domain=D, types={GKE}, severity=CRITICAL, safeguard="164.312(a)(2)(iv)",
    remediation="Set databaseEncryption = {state: ENCRYPTED, keyName: <crypto key id>}.",
)
def gke_secrets(args, report):
    enc = get(args.props, "databaseEncryption", default={})
    if get(enc, "state") != "ENCRYPTED" or not get(enc, "keyName"):
        report(f"GKE cluster {args.name}: application-layer Secrets encryption is off")


@resource_policy(
    "gcp-gke-workload-identity",
    "GKE has Workload Identity (workload pool) and node pools use the GKE metadata server.",
    domain=D, types={GKE, NODE_POOL}, severity=HIGH, safeguard="164.312(a)(1)",
    remediation="Set workloadIdentityConfig.workloadPool = <project>.svc.id.goog and nodeConfig.workloadMetadataConfig.mode = GKE_METADATA.",
)
def gke_workload_identity(args, report):
    if args.resource_type == GKE:
        if not get(args.props, "workloadIdentityConfig", "workloadPool"):
            report(f"GKE cluster {args.name}: Workload Identity is off")
        return
    mode = get(args.props, "nodeConfig", "workloadMetadataConfig", "mode")
    if mode != "GKE_METADATA":
        report(f"GKE node pool {args.name}: metadata mode is {mode or 'unset'}, not GKE_METADATA")


def _node_configs(args: Any) -> list[tuple[str, Any]]:
    if args.resource_type == NODE_POOL:
        return [(args.name, get(args.props, "nodeConfig", default={}))]
    if truthy(get(args.props, "removeDefaultNodePool")):
        return []
    return [(f"{args.name} (default pool)", get(args.props, "nodeConfig", default={}))]


@resource_policy(
    "gcp-gke-node-cmek",
    "GKE node boot disks are encrypted with a customer-managed Cloud KMS key.",
    domain=D, types={GKE, NODE_POOL}, severity=HIGH, safeguard="164.312(a)(2)(iv)",
    remediation="Set nodeConfig.bootDiskKmsKey on every node pool (and remove the default pool).",
)
def gke_node_cmek(args, report):
    for name, cfg in _node_configs(args):
        if not get(cfg, "bootDiskKmsKey"):
            report(f"GKE node pool {name}: boot disk not encrypted with a CMK")


@resource_policy(
    "gcp-gke-shielded-nodes",
    "GKE uses shielded nodes with secure boot and integrity monitoring.",
    domain=D, types={GKE, NODE_POOL}, severity=HIGH, safeguard="164.312(c)(1)",
    remediation="Keep enableShieldedNodes true and set nodeConfig.shieldedInstanceConfig.enableSecureBoot = true.",
)
def gke_shielded(args, report):
    if args.resource_type == GKE and falsy(get(args.props, "enableShieldedNodes")):
        report(f"GKE cluster {args.name}: shielded nodes are off")
    for name, cfg in _node_configs(args):
        sic = get(cfg, "shieldedInstanceConfig", default={})
        if not truthy(get(sic, "enableSecureBoot")) or falsy(get(sic, "enableIntegrityMonitoring")):
            report(f"GKE node pool {name}: secure boot / integrity monitoring not on")


@resource_policy(
    "gcp-bucket-cmk-encryption",
    "GCS buckets encrypt with a customer-managed Cloud KMS key by default.",
    domain=D, types={BUCKET}, severity=CRITICAL, safeguard="164.312(a)(2)(iv)",
    remediation="Set encryption.defaultKmsKeyName (grant the GCS service agent encrypt/decrypt on the key).",
)
def bucket_cmk(args, report):
    if not get(args.props, "encryption", "defaultKmsKeyName"):
        report(f"GCS bucket {get(args.props, 'name') or args.name} has no default CMK")


@resource_policy(
    "gcp-bucket-versioning",
    "GCS buckets have object versioning on.",
    domain=D, types={BUCKET}, severity=HIGH, safeguard="164.308(a)(7)(ii)(A)",
    remediation="Set versioning.enabled = true.",
)
def bucket_versioning(args, report):
    if not truthy(get(args.props, "versioning", "enabled")):
        report(f"GCS bucket {get(args.props, 'name') or args.name} is not versioned")


@resource_policy(
    "gcp-bucket-no-public-access",
    "GCS buckets enforce public access prevention and uniform bucket-level access.",
    domain=D, types={BUCKET}, severity=CRITICAL, safeguard="164.312(a)(1)",
    remediation="Set publicAccessPrevention = enforced and uniformBucketLevelAccess = true.",
)
def bucket_public(args, report):
    if get(args.props, "publicAccessPrevention") != "enforced":
        report(f"GCS bucket {get(args.props, 'name') or args.name}: public access prevention not enforced")
    if not truthy(get(args.props, "uniformBucketLevelAccess")):
        report(f"GCS bucket {get(args.props, 'name') or args.name}: uniform bucket-level access is off (ACLs apply)")


LOG_BUCKET = "gcp:logging/projectBucketConfig:ProjectBucketConfig"
LOG_CONFIG = retention_config("Cloud Logging buckets")


@resource_policy(
    "gcp-log-bucket-retention",
    "Cloud Logging buckets the stack configures keep logs at least the configured days (default 90).",
    domain=D, types={LOG_BUCKET}, severity=HIGH, safeguard="164.312(b)", config=LOG_CONFIG,
    remediation="Set retentionDays ≥ minRetentionDays on the logging bucket config (and route GKE audit logs to it).",
)
def log_bucket_retention(args, report):
    days, minimum = retention_days(args, LOG_CONFIG, "retentionDays")
    if days is None or days < minimum:
        report(f"log bucket {get(args.props, 'bucketId') or args.name}: retention {int(days) if days else 'default (30)'} d < {int(minimum)} d")


POLICIES = [
    kms_rotation, gke_private, gke_secrets, gke_workload_identity, gke_node_cmek, gke_shielded, bucket_cmk,
    bucket_versioning, bucket_public, log_bucket_retention,
]
