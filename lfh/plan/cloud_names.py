"""Every name we set, or leave to Pulumi's auto-naming, against its provider's length limit and
character set (`cloud-name` errors).

A name that is too long is only refused by the provider at `pulumi up` — after other resources were
created — so the plan computes each name as the provider will receive it:

- an explicit name input is checked as it is;
- a name left out of a type the bridged providers auto-name is the logical name plus a `-` and 7 random
  hex characters (pulumi-terraform-bridge `tfbridge.AutoName`: Separator "-", Randlen 7), and Pulumi
  refuses it outright when that exceeds the provider's maximum ("name '…-' plus 7 random chars is
  longer than maximum length N", `resource.NewUniqueHex`; pulumi/pulumi#500);
- a `…Prefix` input gets a 26-character unique suffix from the Terraform provider
  (`id.UniqueIDSuffixLength`), so its limit is the name's limit minus 26.

Kubernetes names and label values are checked too (`kubernetes-name`): DNS-1123 subdomains (253),
labels (63: Namespace, Service), CronJobs (52: the controller appends an 11-character suffix to Job
names, which must be ≤ 63 — Kubernetes API validation), StatefulSets (52: the pods' label
`controller-revision-hash` is `<name>-<10-char hash>`, kubernetes/kubernetes#64023), label values (63)
and Helm release names (53, Helm's release name validation).

The fix is always the same: compose the name with `lfh.names.fit` (readable prefix + short hash).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from .model import HELM_RELEASE_TYPE, SECRET, Finding, Plan

CHECK = "cloud-name"
K8S_CHECK = "kubernetes-name"
#: What the bridged providers append to an auto-named resource: "-" + 7 random hex characters.
AUTONAME_SUFFIX = 8
#: What the Terraform providers append to a `name_prefix`: a 26-character timestamp/counter suffix.
PREFIX_SUFFIX = 26
FIX = "compose it with lfh.names.fit (readable prefix + short hash) so it fits"


@dataclass(frozen=True)
class NameRule:
    #: Input property holding the name; `a[].b` reads `b` of every item of list `a`.
    path: str
    max_length: int
    pattern: str
    #: What the provider allows, in words (shown in the finding).
    allowed: str
    min_length: int = 1
    #: The provider auto-names the resource from its logical name when the input is left out.
    auto: bool = False
    #: The input is a prefix the provider completes with a unique suffix.
    prefix: bool = False


_RFC1035 = r"[a-z]([-a-z0-9]*[a-z0-9])?"
_IAM = NameRule("name", 64, r"[\w+=,.@-]+", "letters, digits and +=,.@_-", auto=True)
_GCP_NAME = NameRule("name", 63, _RFC1035, "lower-case letters, digits and '-', starting with a letter")

#: Provider rules per type token (AWS IAM/S3/EKS user guides, Azure "naming rules and restrictions for
#: Azure resources", GCP resource naming conventions of each API).
RULES: dict[str, tuple[NameRule, ...]] = {
    # AWS (pulumi-aws auto-names these with `tfbridge.AutoName(name, max, "-")`).
    "aws:iam/role:Role": (_IAM,),
    "aws:iam/rolePolicy:RolePolicy": (NameRule("name", 128, r"[\w+=,.@-]+", "letters, digits and +=,.@_-", auto=True),),
    "aws:s3/bucket:Bucket": (NameRule("bucket", 63, r"[a-z0-9][a-z0-9.-]*[a-z0-9]",
                                      "lower-case letters, digits, '.' and '-'", min_length=3, auto=True),),
    "aws:eks/cluster:Cluster": (NameRule("name", 100, r"[0-9A-Za-z][A-Za-z0-9_-]*", "letters, digits, '-' and '_'", auto=True),),
    "aws:eks/nodeGroup:NodeGroup": (
        NameRule("nodeGroupName", 63, r"[0-9A-Za-z][A-Za-z0-9_-]*", "letters, digits, '-' and '_'"),
        NameRule("nodeGroupNamePrefix", 63, r"[0-9A-Za-z][A-Za-z0-9_-]*", "letters, digits, '-' and '_'", prefix=True)),
    "aws:ec2/launchTemplate:LaunchTemplate": (
        NameRule("name", 128, r"[a-zA-Z0-9().\-/_]+", "letters, digits and ().-/_", min_length=3),
        NameRule("namePrefix", 128, r"[a-zA-Z0-9().\-/_]+", "letters, digits and ().-/_", prefix=True)),
    "aws:kms/alias:Alias": (NameRule("name", 256, r"alias/[a-zA-Z0-9/_-]+", "`alias/` then letters, digits and /_-"),),
    "aws:cloudwatch/logGroup:LogGroup": (NameRule("name", 512, r"[.\-_/#A-Za-z0-9]+", "letters, digits and ._-/#"),),
    "aws:secretsmanager/secret:Secret": (NameRule("name", 512, r"[A-Za-z0-9/_+=.@-]+", "letters, digits and /_+=.@-"),),
    # Azure (azure-native takes the name in a `…Name` input; every one of ours is explicit).
    "azure-native:resources:ResourceGroup": (NameRule("resourceGroupName", 90, r"[-\w.()]*[-\w()]", "letters, digits and -_.() (not ending in '.')"),),
    "azure-native:network:VirtualNetwork": (NameRule("virtualNetworkName", 64, r"[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9_])?", "letters, digits and _.-", min_length=2),),
    "azure-native:network:Subnet": (NameRule("subnetName", 80, r"[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9_])?", "letters, digits and _.-"),),
    "azure-native:keyvault:Vault": (NameRule("vaultName", 24, r"[a-zA-Z](?!.*--)[a-zA-Z0-9-]*[a-zA-Z0-9]",
                                             "letters, digits and single '-', starting with a letter", min_length=3),),
    "azure-native:keyvault:Key": (NameRule("keyName", 127, r"[a-zA-Z0-9-]+", "letters, digits and '-'"),),
    "azure-native:keyvault:Secret": (NameRule("secretName", 127, r"[a-zA-Z0-9-]+", "letters, digits and '-'"),),
    "azure-native:storage:StorageAccount": (NameRule("accountName", 24, r"[a-z0-9]+", "lower-case letters and digits only", min_length=3),),
    "azure-native:storage:BlobContainer": (NameRule("containerName", 63, r"[a-z0-9](?!.*--)[a-z0-9-]*[a-z0-9]",
                                                    "lower-case letters, digits and single '-'", min_length=3),),
    "azure-native:storage:EncryptionScope": (NameRule("encryptionScopeName", 63, r"[a-zA-Z0-9]+", "letters and digits only", min_length=3),),
    "azure-native:containerservice:ManagedCluster": (
        NameRule("resourceName", 63, r"[a-zA-Z0-9]([-_a-zA-Z0-9]*[a-zA-Z0-9])?", "letters, digits, '-' and '_'"),
        NameRule("dnsPrefix", 54, r"[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?", "letters, digits and '-'"),
        NameRule("nodeResourceGroup", 80, r"[-\w.()]*[-\w()]", "letters, digits and -_.()"),
        NameRule("agentPoolProfiles[].name", 12, r"[a-z][a-z0-9]*", "lower-case letters and digits, starting with a letter")),
    "azure-native:containerservice:AgentPool": (NameRule("agentPoolName", 12, r"[a-z][a-z0-9]*", "lower-case letters and digits, starting with a letter"),),
    "azure-native:managedidentity:UserAssignedIdentity": (NameRule("resourceName", 128, r"[a-zA-Z0-9][a-zA-Z0-9_-]*", "letters, digits, '-' and '_'", min_length=3),),
    "azure-native:managedidentity:FederatedIdentityCredential": (
        NameRule("federatedIdentityCredentialResourceName", 120, r"[a-zA-Z0-9][a-zA-Z0-9_-]*", "letters, digits, '-' and '_'", min_length=3),),
    "azure-native:compute:DiskEncryptionSet": (NameRule("diskEncryptionSetName", 80, r"[a-zA-Z0-9_-]+", "letters, digits, '-' and '_'"),),
    "azure-native:operationalinsights:Workspace": (NameRule("workspaceName", 63, r"[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]", "letters, digits and '-'", min_length=4),),
    # GCP (pulumi-gcp auto-names `name` inputs the same way as pulumi-aws).
    "gcp:container/cluster:Cluster": (NameRule("name", 40, _RFC1035, "lower-case letters, digits and '-', starting with a letter", auto=True),),
    "gcp:container/nodePool:NodePool": (NameRule("name", 40, _RFC1035, "lower-case letters, digits and '-', starting with a letter", auto=True),),
    "gcp:compute/network:Network": (_GCP_NAME,),
    "gcp:compute/subnetwork:Subnetwork": (_GCP_NAME,),
    "gcp:compute/router:Router": (_GCP_NAME,),
    "gcp:compute/routerNat:RouterNat": (_GCP_NAME,),
    "gcp:compute/address:Address": (_GCP_NAME,),
    "gcp:compute/firewall:Firewall": (_GCP_NAME,),
    "gcp:serviceaccount/account:Account": (NameRule("accountId", 30, r"[a-z]([-a-z0-9]*[a-z0-9])",
                                                    "lower-case letters, digits and '-', starting with a letter", min_length=6),),
    "gcp:storage/bucket:Bucket": (NameRule("name", 63, r"[a-z0-9][a-z0-9._-]*[a-z0-9]", "lower-case letters, digits and ._-", min_length=3),),
    "gcp:kms/keyRing:KeyRing": (NameRule("name", 63, r"[a-zA-Z0-9_-]+", "letters, digits, '-' and '_'"),),
    "gcp:kms/cryptoKey:CryptoKey": (NameRule("name", 63, r"[a-zA-Z0-9_-]+", "letters, digits, '-' and '_'"),),
    "gcp:projects/iAMCustomRole:IAMCustomRole": (NameRule("roleId", 64, r"[a-zA-Z0-9_.]+", "letters, digits, '_' and '.'", min_length=3),),
    "gcp:logging/projectBucketConfig:ProjectBucketConfig": (NameRule("bucketId", 100, r"[A-Za-z0-9_.-]+", "letters, digits and _.-"),),
    "gcp:logging/projectSink:ProjectSink": (NameRule("name", 100, r"[A-Za-z0-9_.-]+", "letters, digits and _.-"),),
    "gcp:secretmanager/secret:Secret": (NameRule("secretId", 255, r"[a-zA-Z0-9_-]+", "letters, digits, '-' and '_'"),),
}


def _values(inputs: dict[str, Any], path: str) -> Iterator[tuple[str, Any]]:
    """(display path, value) for `a.b` or `a[].b` in ``inputs``."""
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        items = inputs.get(head[:-2])
        for i, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict):
                for sub, value in _values(item, rest):
                    yield f"{head[:-2]}[{i}].{sub}", value
        return
    if rest:
        node = inputs.get(head)
        if isinstance(node, dict):
            for sub, value in _values(node, rest):
                yield f"{head}.{sub}", value
        return
    yield head, inputs.get(head, None)


def problem(value: str, rule: NameRule, *, limit: Optional[int] = None) -> Optional[str]:
    """Why ``value`` breaks ``rule`` (None if it does not)."""
    limit = limit if limit is not None else rule.max_length
    if len(value) > limit:
        return f"is {len(value)} characters; at most {limit} are allowed"
    if len(value) < rule.min_length and not rule.prefix:
        return f"is {len(value)} characters; at least {rule.min_length} are required"
    if not re.fullmatch(rule.pattern, value if not rule.prefix else value.rstrip("-_") or value):
        return f"has characters or a shape the provider refuses (allowed: {rule.allowed})"
    return None


def check_resource(r: Any) -> list[str]:
    """Messages for every name of recorded resource ``r`` that breaks its provider's rules."""
    out: list[str] = []
    for rule in RULES.get(r.type, ()):
        for where, value in _values(r.inputs, rule.path):
            if value is None:
                if rule.auto and "." not in rule.path and "[]" not in rule.path:
                    auto = f"{r.name}-xxxxxxx"
                    why = problem(auto, rule)
                    if why and len(auto) > rule.max_length:
                        out.append(
                            f"{r.type} {r.name}: `{rule.path}` is left to Pulumi's auto-naming, which appends "
                            f"{AUTONAME_SUFFIX} characters to the logical name ({len(r.name)} + {AUTONAME_SUFFIX} > "
                            f"{rule.max_length}): `pulumi up` fails with \"name plus 7 random chars is longer than "
                            f"maximum length {rule.max_length}\"; set `{rule.path}` explicitly and {FIX}")
                continue
            if not isinstance(value, str) or value == SECRET:
                continue
            limit = rule.max_length - PREFIX_SUFFIX if rule.prefix else rule.max_length
            why = problem(value, rule, limit=limit)
            if why:
                what = "prefix (the provider appends 26 characters)" if rule.prefix else "name"
                out.append(f"{r.type} {r.name}: {what} `{where}` = {value!r} {why}; {FIX}")
    return out


# ---------------------------------------------------------------- Kubernetes

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = rf"{_DNS_LABEL}(\.{_DNS_LABEL})*"
_LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
#: metadata.name limits by kind (others: a DNS-1123 subdomain of at most 253 characters).
K8S_NAME_LIMITS: dict[str, tuple[int, str]] = {
    "Namespace": (63, _DNS_LABEL),
    "Service": (63, _RFC1035),
    "CronJob": (52, _DNS_SUBDOMAIN),
    "StatefulSet": (52, _DNS_SUBDOMAIN),
    "Job": (63, _DNS_SUBDOMAIN),
}
#: Helm's limit on release names (they prefix every object the chart names).
HELM_RELEASE_MAX = 53


def _template_labels(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    tmpl = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") if obj.get("kind") == "CronJob" else spec.get("template")
    return ((tmpl or {}).get("metadata") or {}).get("labels") or {}


def check_object(obj: dict[str, Any]) -> list[str]:
    """Messages for a Kubernetes object whose name or label values break the API's rules."""
    out: list[str] = []
    kind = str(obj.get("kind", ""))
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if isinstance(name, str) and name != SECRET:
        limit, pattern = K8S_NAME_LIMITS.get(kind, (253, _DNS_SUBDOMAIN))
        if len(name) > limit:
            out.append(f"{kind}/{name}: name is {len(name)} characters; at most {limit} are allowed for a {kind}; {FIX}")
        elif not re.fullmatch(pattern, name):
            out.append(f"{kind}/{name}: name is not a valid DNS-1123 name (lower-case letters, digits, '-'); {FIX}")
    for where, labels in (("label", meta.get("labels") or {}), ("pod template label", _template_labels(obj))):
        for key, value in labels.items():
            if isinstance(value, str) and value != SECRET and (len(value) > 63 or not re.fullmatch(_LABEL_VALUE, value)):
                out.append(f"{kind}/{name}: {where} {key}={value!r} is not a valid label value (at most 63 letters, "
                           f"digits, '-', '_' or '.', alphanumeric at both ends); {FIX}")
    return out


def analyze(plan: Plan) -> None:
    for r in plan.resources:
        if r.type in RULES:
            for message in check_resource(r):
                plan.findings.append(Finding(CHECK, "error", r.urn, message))
        elif r.type == HELM_RELEASE_TYPE:
            name = str(r.inputs.get("name") or "")
            if len(name) > HELM_RELEASE_MAX or (name and not re.fullmatch(_DNS_SUBDOMAIN, name)):
                plan.findings.append(Finding(K8S_CHECK, "error", r.urn,
                                             f"Helm release {name!r}: a release name is a DNS-1123 name of at most "
                                             f"{HELM_RELEASE_MAX} characters (Helm refuses it); {FIX}"))
    for res, obj in plan.manifests():
        for message in check_object(obj):
            plan.findings.append(Finding(K8S_CHECK, "error", res.urn, message))


__all__ = ["AUTONAME_SUFFIX", "CHECK", "K8S_CHECK", "RULES", "NameRule", "analyze", "check_object", "check_resource"]
