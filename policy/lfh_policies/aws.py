"""AWS policies: KMS, EKS (endpoint, envelope encryption, logs, identity), nodes, S3, VPC flow logs.

Type tokens are pulumi_aws 7.x (S3 resources were renamed in 7.0: `aws:s3/bucket:Bucket` is the former
BucketV2; the `…V2` tokens remain as deprecated aliases and are checked too).
"""
from __future__ import annotations

import json
from typing import Any

from .common import (
    retention_config,
    retention_days,
    CRITICAL,
    HIGH,
    MEDIUM,
    get,
    is_map,
    is_world,
    number,
    resource_policy,
    seq,
    stack_policy,
    truthy,
)
from .links import depends_on, linked, of_types

D = "aws"

KMS_KEY = "aws:kms/key:Key"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EKS_ADDON = "aws:eks/addon:Addon"
EKS_POD_IDENTITY = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
BUCKETS = {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}
BUCKET_SSE = {
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
}
BUCKET_VERSIONING = {"aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"}
BUCKET_PAB = {"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"}
BUCKET_POLICY = {"aws:s3/bucketPolicy:BucketPolicy"}
BUCKET_OBJECT_LOCK = {
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2",
}


def bucket_label(b: Any) -> str:
    return str(get(b.props, "bucket") or get(b.props, "bucketPrefix") or b.name)


def bucket_values(b: Any) -> list[Any]:
    return [get(b.props, "bucket"), get(b.props, "id"), get(b.props, "arn"), b.name]


def bucket_settings(resources: list[Any], b: Any, types: set[str]) -> list[Any]:
    """The separate S3 configuration resources (SSE, versioning, …) that target bucket `b`."""
    return [r for r in of_types(resources, types) if linked(r, b, "bucket", bucket_values(b))]


# ----------------------------------------------------------------------------- KMS


@resource_policy(
    "aws-kms-key-rotation",
    "Customer-managed KMS keys (symmetric) have automatic rotation enabled.",
    domain=D, types={KMS_KEY}, severity=HIGH, safeguard="164.312(a)(2)(iv)",
    remediation="Set `enable_key_rotation=True` (optionally `rotation_period_in_days`) on the aws.kms.Key.",
)
def kms_rotation(args, report):
    spec = get(args.props, "customerMasterKeySpec") or get(args.props, "keySpec") or "SYMMETRIC_DEFAULT"
    if spec == "SYMMETRIC_DEFAULT" and not truthy(get(args.props, "enableKeyRotation")):
        report(f"KMS key {args.name} does not rotate (enableKeyRotation is not true)")


# ----------------------------------------------------------------------------- EKS


@resource_policy(
    "aws-eks-private-endpoint",
    "EKS API endpoints are private, or public only to explicit CIDRs (never 0.0.0.0/0).",
    domain=D, types={EKS_CLUSTER}, severity=CRITICAL, safeguard="164.312(e)(1)",
    remediation="Set vpcConfig.endpointPrivateAccess=true and endpointPublicAccess=false, or list operator CIDRs in publicAccessCidrs.",
)
def eks_private_endpoint(args, report):
    vpc = get(args.props, "vpcConfig", default={})
    if not truthy(get(vpc, "endpointPrivateAccess")):
        report(f"EKS cluster {args.name}: endpointPrivateAccess is not true")
    public = get(vpc, "endpointPublicAccess")
    if public is None or truthy(public):  # the EKS default is public
        cidrs = [str(c) for c in seq(get(vpc, "publicAccessCidrs"))]
        if not cidrs:
            report(f"EKS cluster {args.name}: public endpoint without publicAccessCidrs (defaults to 0.0.0.0/0)")
        elif any(is_world(c) for c in cidrs):
            report(f"EKS cluster {args.name}: public endpoint open to {cidrs}")


@resource_policy(
    "aws-eks-secrets-encryption",
    "EKS envelope-encrypts Kubernetes Secrets with a customer-managed KMS key.",
    domain=D, types={EKS_CLUSTER}, severity=CRITICAL, safeguard="164.312(a)(2)(iv)",
    remediation="Set encryptionConfig = {resources: [secrets], provider: {keyArn: <CMK arn>}}.",
)
def eks_secrets_encryption(args, report):
    enc = get(args.props, "encryptionConfig", default={})
    resources = [str(r) for r in seq(get(enc, "resources"))]
    if "secrets" not in resources or not get(enc, "provider", "keyArn"):
        report(f"EKS cluster {args.name}: Secrets are not envelope-encrypted with a KMS key")


EKS_LOG_TYPES = ("api", "audit", "authenticator")


@resource_policy(
    "aws-eks-control-plane-logs",
    "EKS sends its api, audit and authenticator control-plane logs to CloudWatch.",
    domain=D, types={EKS_CLUSTER}, severity=HIGH, safeguard="164.312(b)",
    remediation=f"Set enabledClusterLogTypes to include {list(EKS_LOG_TYPES)}.",
)
def eks_logs(args, report):
    enabled = {str(t) for t in seq(get(args.props, "enabledClusterLogTypes"))}
    missing = [t for t in EKS_LOG_TYPES if t not in enabled]
    if missing:
        report(f"EKS cluster {args.name}: control-plane log types {missing} are not enabled")


@resource_policy(
    "aws-eks-access-entries",
    "EKS authenticates with access entries only (authenticationMode API, no aws-auth ConfigMap).",
    domain=D, types={EKS_CLUSTER}, severity=MEDIUM, safeguard="164.312(d)",
    remediation="Set accessConfig.authenticationMode = \"API\" and grant access with aws.eks.AccessEntry.",
)
def eks_access_entries(args, report):
    mode = get(args.props, "accessConfig", "authenticationMode")
    if mode != "API":
        report(f"EKS cluster {args.name}: authenticationMode is {mode or 'CONFIG_MAP (default)'}, not API")


LOG_CONFIG = retention_config("CloudWatch log groups")


@resource_policy(
    "aws-log-group-retention",
    "CloudWatch log groups set an explicit retention of at least the configured days (default 90).",
    domain=D, types={LOG_GROUP}, severity=HIGH, safeguard="164.312(b)", config=LOG_CONFIG,
    remediation="Set `retention_in_days` to a CloudWatch-allowed value ≥ minRetentionDays (e.g. 365).",
)
def log_group_retention(args, report):
    days, minimum = retention_days(args, LOG_CONFIG, "retentionInDays")
    if days is None or days == 0:
        report(f"log group {get(args.props, 'name') or args.name}: no explicit retention (never expires, unmanaged)")
    elif days < minimum:
        report(f"log group {get(args.props, 'name') or args.name}: retention {int(days)} d < {int(minimum)} d")


@stack_policy(
    "aws-eks-log-group-managed",
    "Each EKS cluster's control-plane log group (/aws/eks/<name>/cluster) is created by the stack, before the cluster.",
    domain=D, severity=MEDIUM, safeguard="164.312(b)",
    remediation="Create aws.cloudwatch.LogGroup `/aws/eks/<cluster name>/cluster` with retention and KMS, and make the cluster depend on it.",
)
def eks_log_group(args, report):
    groups = of_types(args.resources, {LOG_GROUP})
    for c in of_types(args.resources, {EKS_CLUSTER}):
        name = get(c.props, "name")
        if not name:
            report(f"EKS cluster {c.name} has no explicit name, so its log group cannot be pre-created", c.urn)
            continue
        wanted = f"/aws/eks/{name}/cluster"
        match = [g for g in groups if get(g.props, "name") == wanted]
        if not match:
            report(f"EKS cluster {name}: no log group {wanted} in the stack (EKS would create one that never expires)", c.urn)
        elif not any(depends_on(c, g) for g in match):
            report(f"EKS cluster {name} does not depend on its log group {wanted}", c.urn)


@stack_policy(
    "aws-eks-workload-identity",
    "Each EKS cluster has workload identity: an IAM OIDC provider (IRSA) or the Pod Identity agent add-on.",
    domain=D, severity=HIGH, safeguard="164.312(a)(1)",
    remediation="Create aws.iam.OpenIdConnectProvider from the cluster's OIDC issuer, or the `eks-pod-identity-agent` add-on.",
)
def eks_workload_identity(args, report):
    oidc = of_types(args.resources, {OIDC_PROVIDER})
    addons = [a for a in of_types(args.resources, {EKS_ADDON}) if get(a.props, "addonName") == "eks-pod-identity-agent"]
    for c in of_types(args.resources, {EKS_CLUSTER}):
        values = [get(c.props, "name"), c.name]
        ok = any(depends_on(o, c) for o in oidc) or any(
            linked(a, c, "clusterName", values) for a in addons
        )
        if not ok:
            report(f"EKS cluster {get(c.props, 'name') or c.name}: no OIDC provider or Pod Identity agent", c.urn)


# ----------------------------------------------------------------------------- nodes


@resource_policy(
    "aws-launch-template-imdsv2",
    "Node launch templates require IMDSv2 (httpTokens required) with a hop limit of 1.",
    domain=D, types={LAUNCH_TEMPLATE}, severity=HIGH, safeguard="164.312(a)(1)",
    remediation="Set metadataOptions = {httpTokens: required, httpPutResponseHopLimit: 1, httpEndpoint: enabled}.",
)
def imdsv2(args, report):
    md = get(args.props, "metadataOptions", default={})
    if get(md, "httpTokens") != "required":
        report(f"launch template {args.name}: httpTokens is {get(md, 'httpTokens') or 'optional (default)'}")
    hop = number(get(md, "httpPutResponseHopLimit"))
    if hop is None or hop > 1:
        report(f"launch template {args.name}: hop limit is {int(hop) if hop else 'unset'}, pods can reach node credentials")


@resource_policy(
    "aws-launch-template-ebs-encrypted",
    "Node launch templates encrypt every EBS volume with a customer-managed KMS key.",
    domain=D, types={LAUNCH_TEMPLATE}, severity=HIGH, safeguard="164.312(a)(2)(iv)",
    remediation="Add blockDeviceMappings for the root device with ebs = {encrypted: \"true\", kmsKeyId: <CMK arn>}.",
)
def ebs_encrypted(args, report):
    mappings = seq(get(args.props, "blockDeviceMappings"))
    if not mappings:
        report(f"launch template {args.name}: no blockDeviceMappings (root volume encryption left to account defaults)")
    for m in mappings:
        ebs = get(m, "ebs")
        if ebs is None:
            continue
        if not truthy(get(ebs, "encrypted")) or not get(ebs, "kmsKeyId"):
            report(f"launch template {args.name}: {get(m, 'deviceName')} is not encrypted with a CMK")


@resource_policy(
    "aws-eks-node-group-launch-template",
    "EKS managed node groups use a launch template (that is where IMDSv2 and disk encryption are set).",
    domain=D, types={EKS_NODE_GROUP}, severity=HIGH, safeguard="164.312(a)(2)(iv)",
    remediation="Give the node group `launch_template={id, version}` of a hardened aws.ec2.LaunchTemplate.",
)
def node_group_launch_template(args, report):
    if not get(args.props, "launchTemplate", "id") and not get(args.props, "launchTemplate", "name"):
        report(f"node group {args.name} has no launch template")


# ----------------------------------------------------------------------------- S3


def _sse_ok(rules: Any) -> bool:
    rules = seq(rules) if not is_map(rules) else [rules]
    for rule in rules:
        d = get(rule, "applyServerSideEncryptionByDefault", default={})
        if str(get(d, "sseAlgorithm", default="")).startswith("aws:kms") and get(d, "kmsMasterKeyId"):
            return True
    return False


@stack_policy(
    "aws-s3-bucket-cmk-encryption",
    "S3 buckets are encrypted by default with a customer-managed KMS key (SSE-KMS).",
    domain=D, severity=CRITICAL, safeguard="164.312(a)(2)(iv)",
    remediation="Add aws.s3.BucketServerSideEncryptionConfiguration with sseAlgorithm aws:kms and kmsMasterKeyId.",
)
def s3_cmk(args, report):
    for b in of_types(args.resources, BUCKETS):
        inline = get(b.props, "serverSideEncryptionConfiguration", "rule")
        configs = bucket_settings(args.resources, b, BUCKET_SSE)
        if not (_sse_ok(inline) or any(_sse_ok(get(c.props, "rules")) for c in configs)):
            report(f"bucket {bucket_label(b)} is not encrypted with a customer-managed KMS key", b.urn)


@stack_policy(
    "aws-s3-bucket-versioning",
    "S3 buckets have versioning enabled.",
    domain=D, severity=HIGH, safeguard="164.308(a)(7)(ii)(A)",
    remediation="Add aws.s3.BucketVersioning with versioningConfiguration.status Enabled.",
)
def s3_versioning(args, report):
    for b in of_types(args.resources, BUCKETS):
        inline = truthy(get(b.props, "versioning", "enabled"))
        configs = bucket_settings(args.resources, b, BUCKET_VERSIONING)
        if not (inline or any(get(c.props, "versioningConfiguration", "status") == "Enabled" for c in configs)):
            report(f"bucket {bucket_label(b)} is not versioned", b.urn)


PAB_KEYS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


@stack_policy(
    "aws-s3-bucket-public-access-block",
    "S3 buckets have a public access block with all four settings on.",
    domain=D, severity=CRITICAL, safeguard="164.312(a)(1)",
    remediation="Add aws.s3.BucketPublicAccessBlock with blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets = true.",
)
def s3_public_access_block(args, report):
    for b in of_types(args.resources, BUCKETS):
        blocks = bucket_settings(args.resources, b, BUCKET_PAB)
        if not any(all(truthy(get(p.props, k)) for k in PAB_KEYS) for p in blocks):
            report(f"bucket {bucket_label(b)} has no complete public access block", b.urn)


def _policy_document(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return {}
    return value or {}


def denies_insecure_transport(document: Any) -> bool:
    for st in seq(get(_policy_document(document), "Statement")):
        if get(st, "Effect") != "Deny":
            continue
        cond = get(st, "Condition", "Bool", "aws:SecureTransport")
        if cond is None:
            continue
        values = [str(v).lower() for v in (seq(cond) or [cond])]
        if "false" in values:
            return True
    return False


@stack_policy(
    "aws-s3-bucket-tls-only",
    "S3 bucket policies deny any request not made over TLS (aws:SecureTransport false).",
    domain=D, severity=HIGH, safeguard="164.312(e)(1)",
    remediation="Add an aws.s3.BucketPolicy statement: Effect Deny, Principal *, Action s3:*, Condition Bool aws:SecureTransport false.",
)
def s3_tls_only(args, report):
    for b in of_types(args.resources, BUCKETS):
        policies = bucket_settings(args.resources, b, BUCKET_POLICY)
        inline = get(b.props, "policy")
        if not (denies_insecure_transport(inline) or any(denies_insecure_transport(get(p.props, "policy")) for p in policies)):
            report(f"bucket {bucket_label(b)} does not deny non-TLS requests", b.urn)


@stack_policy(
    "aws-vpc-flow-logs",
    "Every VPC records flow logs.",
    domain=D, severity=MEDIUM, safeguard="164.312(b)",
    remediation="Add aws.ec2.FlowLog(vpc_id=vpc.id, traffic_type=ALL) to a retained, encrypted log group.",
)
def vpc_flow_logs(args, report):
    flows = of_types(args.resources, {FLOW_LOG})
    for v in of_types(args.resources, {VPC}):
        if not any(linked(f, v, "vpcId", [get(v.props, "id")]) for f in flows):
            report(f"VPC {v.name} has no flow log", v.urn)


POLICIES = [
    kms_rotation, eks_private_endpoint, eks_secrets_encryption, eks_logs, eks_access_entries, log_group_retention,
    eks_log_group, eks_workload_identity, imdsv2, ebs_encrypted, node_group_launch_template, s3_cmk,
    s3_versioning, s3_public_access_block, s3_tls_only, vpc_flow_logs,
]
