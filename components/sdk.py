"""Provider resources registered by type token, without importing their typed SDK modules.

Why: a provider's typed Python SDK is generated code, and importing a module of it defines every
annotated class of that module: `pulumi_kubernetes.core.v1` alone takes ~0.4 s, `pulumi_aws.s3` ~0.3 s,
`pulumi_aws.iam` ~0.1 s. A client plan used a handful of classes from them and spent most of its time
importing the rest (docs/performance.md). The typed class adds nothing to the RegisterResource call
that we cannot state here: its type token, its inputs under their Pulumi names, the plugin version the
SDK pins, its aliases and the inputs/outputs it marks secret. `SDK_TYPES` holds exactly that for each
type we register this way, and tests/test_sdk_registration.py registers every recorded resource of
those types again through the typed class and compares the two requests field by field — so an SDK
upgrade that changes a registration fails a test instead of silently drifting.

Inputs are given under their Pulumi (camelCase) names, top level and nested; outputs are read as
attributes of the same names (`bucket.arn`, `bucket.bucketRegionalDomainName`).
"""
from __future__ import annotations

import importlib
import importlib.metadata
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

import pulumi

#: Python distribution of each provider package (its `_utilities` knows the plugin version it pins).
SDK_PACKAGES = {
    "kubernetes": "pulumi_kubernetes",
    "aws": "pulumi_aws",
    "gcp": "pulumi_gcp",
    "azure-native": "pulumi_azure_native",
    "random": "pulumi_random",
}


@dataclass(frozen=True)
class SdkType:
    """What the typed class adds to a registration besides the caller's inputs."""

    #: Older type tokens the typed class declares as aliases (adopt state created under them).
    aliases: tuple[str, ...] = ()
    #: Inputs the typed class wraps in `Output.secret` before sending them.
    secret_inputs: tuple[str, ...] = ()
    #: Outputs the typed class asks the engine to keep secret (`additional_secret_outputs`).
    secret_outputs: tuple[str, ...] = ()
    #: Output-only properties this program reads (declared so they resolve as attributes).
    outputs: tuple[str, ...] = ()
    #: Inputs the typed class fills in when the caller leaves them out.
    defaults: tuple[tuple[str, Any], ...] = ()


def _azure(module: str, kind: str, versions: str, **extra: Any) -> tuple[str, SdkType]:
    """An azure-native type and its aliases: the same type in each API-versioned module it shipped."""
    aliases = tuple(f"azure-native:{module}/{v}:{kind}" for v in versions.split())
    return f"azure-native:{module}:{kind}", SdkType(aliases=aliases, **extra)


RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
_RBAC = "kubernetes:rbac.authorization.k8s.io"
#: Every type registered through `SdkResource`; a type missing here is refused (add it with the
#: typed class's metadata, and the equivalence test will check it).
SDK_TYPES: dict[str, SdkType] = {
    # Kubernetes built-in kinds (components/k8s.py KubeObject) and Helm releases (HelmRelease).
    "kubernetes:core/v1:Namespace": SdkType(),
    "kubernetes:core/v1:ServiceAccount": SdkType(),
    "kubernetes:core/v1:ServiceAccountPatch": SdkType(),
    "kubernetes:core/v1:ConfigMap": SdkType(),
    "kubernetes:core/v1:Secret": SdkType(secret_inputs=("data", "stringData"), secret_outputs=("data", "stringData")),
    "kubernetes:core/v1:Service": SdkType(),
    "kubernetes:core/v1:ResourceQuota": SdkType(),
    "kubernetes:core/v1:LimitRange": SdkType(),
    "kubernetes:apps/v1:Deployment": SdkType(aliases=(
        "kubernetes:apps/v1beta1:Deployment", "kubernetes:apps/v1beta2:Deployment",
        "kubernetes:extensions/v1beta1:Deployment")),
    "kubernetes:apps/v1:DaemonSet": SdkType(aliases=(
        "kubernetes:apps/v1beta2:DaemonSet", "kubernetes:extensions/v1beta1:DaemonSet")),
    "kubernetes:apps/v1:StatefulSet": SdkType(aliases=(
        "kubernetes:apps/v1beta1:StatefulSet", "kubernetes:apps/v1beta2:StatefulSet")),
    "kubernetes:batch/v1:Job": SdkType(),
    "kubernetes:batch/v1:CronJob": SdkType(aliases=("kubernetes:batch/v1beta1:CronJob", "kubernetes:batch/v2alpha1:CronJob")),
    **{f"{_RBAC}/v1:{kind}": SdkType(aliases=(f"{_RBAC}/v1alpha1:{kind}", f"{_RBAC}/v1beta1:{kind}"))
       for kind in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")},
    "kubernetes:policy/v1:PodDisruptionBudget": SdkType(aliases=("kubernetes:policy/v1beta1:PodDisruptionBudget",)),
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": SdkType(aliases=("kubernetes:extensions/v1beta1:NetworkPolicy",)),
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": SdkType(aliases=(
        "kubernetes:autoscaling/v1:HorizontalPodAutoscaler", "kubernetes:autoscaling/v2beta1:HorizontalPodAutoscaler",
        "kubernetes:autoscaling/v2beta2:HorizontalPodAutoscaler")),
    "kubernetes:storage.k8s.io/v1:StorageClass": SdkType(aliases=("kubernetes:storage.k8s.io/v1beta1:StorageClass",)),
    "kubernetes:storage.k8s.io/v1:StorageClassPatch": SdkType(aliases=("kubernetes:storage.k8s.io/v1beta1:StorageClassPatch",)),
    RELEASE_TYPE: SdkType(outputs=("status",)),
    # Generated secrets (components/client/secrets.py).
    "random:index/randomPassword:RandomPassword": SdkType(secret_outputs=("bcryptHash", "result"), outputs=("result",)),
    "random:index/randomBytes:RandomBytes": SdkType(secret_outputs=("base64", "hex"), outputs=("base64",)),
    # AWS resources of the client adapter (components/cloud/aws.py).
    "aws:iam/role:Role": SdkType(outputs=("arn",)),
    "aws:iam/rolePolicy:RolePolicy": SdkType(),
    "aws:s3/bucket:Bucket": SdkType(aliases=("aws:s3/bucketV2:BucketV2", "aws:s3/bucketV2:BucketV2"),
                                    outputs=("arn", "bucketRegionalDomainName")),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": SdkType(),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": SdkType(),
    "aws:s3/bucketVersioning:BucketVersioning": SdkType(aliases=("aws:s3/bucketVersioningV2:BucketVersioningV2",)),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": SdkType(
        aliases=("aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",)),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": SdkType(
        aliases=("aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",)),
    "aws:s3/bucketPolicy:BucketPolicy": SdkType(),
    "aws:s3/bucketNotification:BucketNotification": SdkType(),
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": SdkType(secret_outputs=("token",)),
    "aws:secretsmanager/secret:Secret": SdkType(),
    "aws:secretsmanager/secretVersion:SecretVersion": SdkType(
        secret_inputs=("secretBinary", "secretString", "secretStringWo"),
        secret_outputs=("secretBinary", "secretString", "secretStringWo")),
    # GCP resources of the client adapter (components/cloud/gcp.py).
    "gcp:serviceaccount/account:Account": SdkType(aliases=("gcp:serviceAccount/account:Account",),
                                                  outputs=("email", "name")),
    "gcp:serviceaccount/iAMMember:IAMMember": SdkType(aliases=("gcp:serviceAccount/iAMMember:IAMMember",)),
    "gcp:storage/bucket:Bucket": SdkType(secret_outputs=("effectiveLabels", "pulumiLabels")),
    "gcp:storage/bucketIAMMember:BucketIAMMember": SdkType(),
    "gcp:secretmanager/secret:Secret": SdkType(secret_outputs=("effectiveLabels", "pulumiLabels")),
    "gcp:secretmanager/secretIamMember:SecretIamMember": SdkType(),
    "gcp:secretmanager/secretVersion:SecretVersion": SdkType(
        secret_inputs=("secretData", "secretDataWo"), secret_outputs=("secretData", "secretDataWo")),
    # HMAC keys for the backup tools that need them (components/cluster/backup_keys.py).
    "gcp:storage/hmacKey:HmacKey": SdkType(secret_outputs=("secret",), outputs=("accessId", "secret")),
    # Blob access logs of the key-based backup accounts (components/cluster/backup_keys.py): the typed
    # class aliases the old `insights` module's type as well.
    "azure-native:monitor:DiagnosticSetting": SdkType(aliases=(
        "azure-native:insights/v20210501preview:DiagnosticSetting", "azure-native:insights:DiagnosticSetting",
        "azure-native:monitor/v20170501preview:DiagnosticSetting", "azure-native:monitor/v20210501preview:DiagnosticSetting")),
    # Azure resources of the client adapter (components/cloud/azure.py): azure-native aliases each
    # type to the same type in every API-versioned module it once shipped (listed by version).
    **dict(_azure(module, kind, versions, **extra) for module, kind, versions, extra in (
        ("managedidentity", "UserAssignedIdentity",
         "v20150831preview v20181130 v20210930preview v20220131preview v20230131 v20230731preview v20241130 "
         "v20250131preview v20250531preview", {"outputs": ("clientId", "principalId", "name")}),
        ("managedidentity", "FederatedIdentityCredential",
         "v20220131preview v20230131 v20230731preview v20241130 v20250131preview v20250531preview", {}),
        ("authorization", "RoleAssignment",
         "v20150701 v20171001preview v20180101preview v20180901preview v20200301preview v20200401preview "
         "v20200801preview v20201001preview v20220401", {"defaults": (("principalType", "User"),)}),
        ("storage", "EncryptionScope",
         "v20190601 v20200801preview v20210101 v20210201 v20210401 v20210601 v20210801 v20210901 v20220501 "
         "v20220901 v20230101 v20230401 v20230501 v20240101 v20250101 v20250601 v20250801 v20260401",
         {"outputs": ("name",)}),
        ("storage", "BlobContainer",
         "v20180201 v20180301preview v20180701 v20181101 v20190401 v20190601 v20200801preview v20210101 "
         "v20210201 v20210401 v20210601 v20210801 v20210901 v20220501 v20220901 v20230101 v20230401 v20230501 "
         "v20240101 v20250101 v20250601 v20250801 v20260401", {"outputs": ("name",)}),
        # Key-based backup accounts (components/cluster/backup_keys.py).
        ("storage", "StorageAccount",
         "v20150501preview v20150615 v20160101 v20160501 v20161201 v20170601 v20171001 v20180201 "
         "v20180301preview v20180701 v20181101 v20190401 v20190601 v20200801preview v20210101 v20210201 "
         "v20210401 v20210601 v20210801 v20210901 v20220501 v20220901 v20230101 v20230401 v20230501 v20240101 "
         "v20250101 v20250601 v20250801 v20260401", {"outputs": ("name",)}),
        ("storage", "BlobServiceProperties",
         "v20180701 v20181101 v20190401 v20190601 v20200801preview v20210101 v20210201 v20210401 v20210601 "
         "v20210801 v20210901 v20220501 v20220901 v20230101 v20230401 v20230501 v20240101 v20250101", {}),
        ("storage", "ManagementPolicy",
         "v20180301preview v20181101 v20190401 v20190601 v20200801preview v20210101 v20210201 v20210401 "
         "v20210601 v20210801 v20210901 v20220501 v20220901 v20230101 v20230401 v20230501 v20240101 v20250101 "
         "v20250601 v20250801 v20260401", {}),
        ("keyvault", "Secret",
         "v20161001 v20180214 v20180214preview v20190901 v20200401preview v20210401preview v20210601preview "
         "v20211001 v20211101preview v20220201preview v20220701 v20221101 v20230201 v20230701 v20240401preview "
         "v20241101 v20241201preview v20250501 v20260201 v20260301preview", {}),
    )),
}


@lru_cache(maxsize=None)
def _sdk_defaults(package: str) -> pulumi.ResourceOptions:
    """The options every typed class of ``package`` starts from (`_utilities.get_resource_opts_defaults`):
    the plugin version its SDK pins, and no download URL (the generated SDKs set none)."""
    version = importlib.metadata.version(SDK_PACKAGES[package])
    if re.fullmatch(r"\d+\.\d+\.\d+", version):
        # A release: `get_version()` returns the distribution version unchanged. Reading it from the
        # metadata spares importing the package (pulumi_random's root imports every class it has).
        return pulumi.ResourceOptions(version=version)
    # A pre-release or local build: let the SDK convert its PEP 440 version to semver.
    return importlib.import_module(f"{SDK_PACKAGES[package]}._utilities").get_resource_opts_defaults()


def sdk_options(token: str, opts: Optional[pulumi.ResourceOptions]) -> pulumi.ResourceOptions:
    """The options the typed class would register with: SDK defaults, then the caller's, then the
    class's aliases and secret outputs (merged in that order, as the generated code does)."""
    spec = SDK_TYPES[token]
    merged = pulumi.ResourceOptions.merge(_sdk_defaults(token.split(":", 1)[0]), opts)
    if spec.aliases:
        merged = pulumi.ResourceOptions.merge(
            merged, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=t) for t in spec.aliases]))
    if spec.secret_outputs:
        merged = pulumi.ResourceOptions.merge(
            merged, pulumi.ResourceOptions(additional_secret_outputs=list(spec.secret_outputs)))
    return merged


def sdk_registration(token: str, resource_name: str, props: dict[str, Any],
                     opts: Optional[pulumi.ResourceOptions]) -> tuple[dict[str, Any], pulumi.ResourceOptions]:
    """Properties and options exactly as the typed class of ``token`` would register them."""
    spec = SDK_TYPES.get(token)
    if spec is None:
        raise TypeError(f"{resource_name}: {token} is not in components.sdk.SDK_TYPES "
                        "(add it with its typed class's aliases and secret fields)")
    props = dict(props)
    for name, value in spec.defaults:
        if props.get(name) is None:
            props[name] = value
    for name in spec.secret_inputs:
        if props.get(name) is not None:
            props[name] = pulumi.Output.secret(props[name])
    for name in spec.outputs:
        props.setdefault(name, None)  # output-only: never sent (None is not serialized), but resolvable
    return props, sdk_options(token, opts)


class SdkResource(pulumi.CustomResource):
    """A resource of a type in `SDK_TYPES`, registered as its typed SDK class registers it.

    ``SdkResource("aws:s3/bucket:Bucket", "files", {"bucket": "acme-files", "forceDestroy": False})``
    sends what ``aws.s3.Bucket("files", bucket="acme-files", force_destroy=False)`` sends.
    """

    def __init__(self, token: str, resource_name: str, props: dict[str, Any],
                 opts: Optional[pulumi.ResourceOptions] = None):
        props, opts = sdk_registration(token, resource_name, props, opts)
        super().__init__(token, resource_name, props, opts)
