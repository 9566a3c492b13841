"""Stack-level policies: isolation, ordering, providers, protection, tagging, backups, secret scoping.

Most look across resources (StackValidationPolicy); the per-resource ones (provider, protect, tags,
labels) are ResourceValidationPolicies that need the engine's options or provider of the resource.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterable

from .common import (
    CLIENT_LABEL,
    CRITICAL,
    ENVIRONMENT_LABEL,
    HIGH,
    MEDIUM,
    PART_OF,
    PART_OF_LABEL,
    REQUIRED_TAGS,
    WORKLOAD_TYPES,
    get,
    go_duration_seconds,
    is_client_namespace,
    is_custom_resource_type,
    is_k8s_object,
    is_map,
    k8s_parts,
    kind_of,
    labels,
    missing_tags,
    name_of,
    namespace_of,
    pod_template_labels,
    resource_policy,
    seq,
    stack_policy,
    truthy,
)
from .links import ancestors, of_types, transitive_dependencies
from .selectors import is_empty_selector, selects

D = "stack"

NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
YAML_COMPONENTS = {"kubernetes:yaml/v2:ConfigFile", "kubernetes:yaml/v2:ConfigGroup", "kubernetes:yaml:ConfigFile", "kubernetes:yaml:ConfigGroup"}


def client_namespaces(resources: Iterable[Any]) -> list[Any]:
    return [r for r in resources if r.resource_type == NAMESPACE and is_client_namespace(r.props)]


# ----------------------------------------------------------------------------- network isolation


def _denies(np: Any, direction: str) -> bool:
    """A default-deny for `direction` (Ingress/Egress): selects every pod and allows nothing."""
    spec = get(np.props, "spec", default={})
    types = [str(t) for t in seq(get(spec, "policyTypes"))]
    if direction == "Ingress" and not types:
        types = ["Ingress"]  # Kubernetes' default when policyTypes is omitted
    return (is_empty_selector(get(spec, "podSelector", default={})) and direction in types
            and not seq(get(spec, direction.lower())))


@stack_policy(
    "stack-client-namespace-default-deny",
    "Every client namespace has a default-deny NetworkPolicy for both ingress and egress.",
    domain=D, severity=CRITICAL, safeguard="164.312(e)(1)",
    remediation="Add a NetworkPolicy with `podSelector: {}` and `policyTypes: [Ingress, Egress]` and no rules to the namespace.",
)
def default_deny(args, report):
    nps = of_types(args.resources, {NETWORK_POLICY})
    for ns in client_namespaces(args.resources):
        name = name_of(ns.props, ns.name)
        mine = [p for p in nps if namespace_of(p.props) == name]
        for direction in ("Ingress", "Egress"):
            if not any(_denies(p, direction) for p in mine):
                report(f"client namespace {name} has no default-deny {direction} NetworkPolicy", ns.urn)


@stack_policy(
    "stack-pods-selected-by-networkpolicy",
    "Every pod-bearing workload is selected by at least one NetworkPolicy in its namespace.",
    domain=D, severity=HIGH, safeguard="164.312(e)(1)",
    remediation="Add (or derive) a NetworkPolicy whose podSelector matches the workload's pod labels.",
)
def pods_selected(args, report):
    nps = of_types(args.resources, {NETWORK_POLICY})
    for w in args.resources:
        if w.resource_type not in WORKLOAD_TYPES:
            continue
        ns = namespace_of(w.props)
        pod_labels = pod_template_labels(w.resource_type, w.props)
        if not any(namespace_of(p.props) == ns and selects(get(p.props, "spec", "podSelector"), pod_labels) for p in nps):
            report(f"{kind_of(w.resource_type)} {ns}/{name_of(w.props, w.name)} is selected by no NetworkPolicy", w.urn)


# ----------------------------------------------------------------------------- ordering: CRs after their CRDs

#: CRD group -> chart names whose release installs it (from ../shared/upstream/*/crds.yaml; a test keeps
#: this equal to the pinned CRD files). Gateway API CRDs: the envoy-gateway chart ships them
#: (`crds.enabled`, its default), or the standard-channel bundle applied as CRD objects / a YAML component.
CRD_INSTALLERS: dict[str, tuple[str, ...]] = {
    "argoproj.io": ("argo-cd",),
    "cert-manager.io": ("cert-manager",),
    "acme.cert-manager.io": ("cert-manager",),
    "gateway.envoyproxy.io": ("gateway-helm",),
    "external-secrets.io": ("external-secrets",),
    "generators.external-secrets.io": ("external-secrets",),
    "monitoring.coreos.com": ("kube-prometheus-stack",),
    "longhorn.io": ("longhorn",),
    "psmdb.percona.com": ("psmdb-operator",),
    "ts.opentelekomcloud.com": ("typesense-operator",),
    "velero.io": ("velero",),
    "minio.min.io": ("operator",),
    "gateway.networking.k8s.io": ("gateway-helm",),
}


def _chart_name(props: Any) -> str:
    chart = str(get(props, "chart", default=""))
    return chart.rstrip("/").rsplit("/", 1)[-1]


def _installs(r: Any, group: str) -> bool:
    if r.resource_type == HELM_RELEASE:
        return _chart_name(r.props) in CRD_INSTALLERS.get(group, ())
    if r.resource_type == CRD:
        return get(r.props, "spec", "group") == group
    if r.resource_type in YAML_COMPONENTS:
        return group == "gateway.networking.k8s.io" and "gateway-api" in json.dumps(_plain(r.props))
    return False


def _plain(value: Any) -> Any:
    if is_map(value):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return [_plain(v) for v in seq(value)]


@stack_policy(
    "stack-crd-installed-first",
    "Every custom resource depends (transitively) on what installs its CRD in the same stack (Helm release or CRD).",
    domain=D, severity=HIGH, safeguard="164.312(c)(1)",
    remediation="Pass `depends_on=[<release>]` (or the component that contains it) when creating the custom resource.",
)
def crd_installed_first(args, report):
    by_urn = {r.urn: r for r in args.resources}
    installers: dict[str, list[Any]] = {}
    for r in args.resources:
        if r.resource_type in (HELM_RELEASE, CRD) or r.resource_type in YAML_COMPONENTS:
            for group in set(CRD_INSTALLERS) | {str(get(r.props, "spec", "group", default=""))}:
                if group and _installs(r, group):
                    installers.setdefault(group, []).append(r)
    for r in args.resources:
        if not is_custom_resource_type(r.resource_type):
            continue
        group = k8s_parts(r.resource_type)[0]
        mine = installers.get(group)
        if not mine:
            continue  # the CRD comes from another stack (a client's CRs use the platform's add-ons)
        deps = transitive_dependencies(r, by_urn)
        if not any(i.urn in deps or any(a.urn in deps for a in ancestors(i)) for i in mine):
            names = ", ".join(sorted(i.name for i in mine))
            report(f"{kind_of(r.resource_type)} {name_of(r.props, r.name)} does not depend on {names}, which installs {group}", r.urn)


# ----------------------------------------------------------------------------- providers, protection, tags, labels


def _is_default_provider(provider: Any) -> bool:
    return provider is None or str(getattr(provider, "name", "")).startswith("default")


@resource_policy(
    "k8s-explicit-provider",
    "Every Kubernetes resource (objects and Helm releases) uses an explicit provider, never the ambient kubeconfig.",
    domain=D, types=lambda t: is_k8s_object(t) or t == HELM_RELEASE, severity=CRITICAL, safeguard="164.312(a)(1)",
    remediation="Pass `provider=` (components.k8s.child_opts) to every Kubernetes resource.",
)
def explicit_provider(args, report):
    if _is_default_provider(args.provider):
        report(f"{args.resource_type} {args.name} uses the default provider (ambient kubeconfig)")


DATA_TYPES = {
    "aws:kms/key:Key", "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws:eks/cluster:Cluster",
    "azure-native:keyvault:Vault", "azure-native:keyvault:Key", "azure-native:storage:StorageAccount",
    "azure-native:containerservice:ManagedCluster",
    "gcp:kms/keyRing:KeyRing", "gcp:kms/cryptoKey:CryptoKey", "gcp:storage/bucket:Bucket", "gcp:container/cluster:Cluster",
    "kubernetes:core/v1:PersistentVolumeClaim",
    "kubernetes:psmdb.percona.com/v1:PerconaServerMongoDB", "kubernetes:minio.min.io/v2:Tenant",
    "kubernetes:ts.opentelekomcloud.com/v1alpha1:TypesenseCluster",
}


def holds_data(resource_type: str, props: Any) -> bool:
    if resource_type in DATA_TYPES:
        return True
    if resource_type == "kubernetes:apps/v1:StatefulSet":
        return bool(seq(get(props, "spec", "volumeClaimTemplates")))
    if resource_type == NAMESPACE:
        return is_client_namespace(props)
    return False


@resource_policy(
    "data-resources-protected",
    "Resources that hold data or keys (KMS keys, buckets, clusters, PVC-backed StatefulSets, PVCs, database CRs, client namespaces) are protected.",
    domain=D, types=lambda t: True, severity=CRITICAL, safeguard="164.308(a)(7)",
    remediation="Create them with `protect=True, retain_on_delete=True` (components/cluster/_common.py: data_opts).",
)
def data_protected(args, report):
    if holds_data(args.resource_type, args.props) and not args.opts.protect:
        report(f"{args.resource_type} {args.name} holds data but is not protected")


#: Resource types that take tags/labels, and the property that holds them.
TAGGABLE = {
    **{t: "tags" for t in (
        "aws:kms/key:Key", "aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup", "aws:eks/addon:Addon",
        "aws:eks/podIdentityAssociation:PodIdentityAssociation", "aws:eks/accessEntry:AccessEntry",
        "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet",
        "aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip",
        "aws:ec2/routeTable:RouteTable", "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/flowLog:FlowLog", "aws:cloudwatch/logGroup:LogGroup", "aws:iam/role:Role", "aws:iam/policy:Policy",
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "aws:secretsmanager/secret:Secret",
        "azure-native:resources:ResourceGroup", "azure-native:network:VirtualNetwork",
        "azure-native:containerservice:ManagedCluster", "azure-native:keyvault:Vault", "azure-native:keyvault:Key",
        "azure-native:storage:StorageAccount", "azure-native:managedidentity:UserAssignedIdentity",
        "azure-native:operationalinsights:Workspace",
    )},
    "gcp:storage/bucket:Bucket": "labels",
    "gcp:kms/cryptoKey:CryptoKey": "labels",
    "gcp:secretmanager/secret:Secret": "labels",
    "gcp:container/cluster:Cluster": "resourceLabels",
}


def _provider_default_tags(provider: Any) -> dict[str, Any]:
    """Tags the provider adds to every resource (aws `defaultTags.tags`, gcp `defaultLabels`)."""
    if provider is None:
        return {}
    props = provider.props or {}
    for key in ("defaultTags", "defaultLabels"):
        value = get(props, key)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = None
        if is_map(value):
            tags = get(value, "tags", default=value) if key == "defaultTags" else value
            if is_map(tags):
                return dict(tags)
    return {}


@resource_policy(
    "cloud-required-tags",
    f"Taggable cloud resources carry the tags {REQUIRED_TAGS} (GCP labels: `lfh_platform`, `lfh_environment`, `managed-by`).",
    domain=D, types=TAGGABLE.keys(), severity=MEDIUM, safeguard="164.308(a)(1)(ii)(D)",
    remediation="Merge components/cluster/_common.py tags() (gcp_labels() on GCP) into every resource, or set provider default tags.",
)
def required_tags(args, report):
    tags = dict(_provider_default_tags(args.provider))
    own = get(args.props, TAGGABLE[args.resource_type])
    if is_map(own):
        tags.update(own)
    missing = missing_tags(tags, REQUIRED_TAGS)
    if missing:
        report(f"{args.resource_type} {args.name} lacks tags {missing}")


@resource_policy(
    "k8s-part-of-label",
    f"Every Kubernetes object we create is labelled `{PART_OF_LABEL}: {PART_OF}`.",
    domain=D, types=lambda t: is_k8s_object(t) and t != CRD and not kind_of(t).endswith("Patch"),
    severity=MEDIUM, safeguard="164.308(a)(1)(ii)(D)",
    # CRDs are excluded: they are upstream objects applied byte-for-byte from the pinned bundle.
    # `…Patch` resources are excluded: they edit an object another stack creates and labels.
    remediation="Build metadata with components.k8s.meta(name, labels=components.k8s.labels(...)).",
)
def part_of_label(args, report):
    if get(args.props, "metadata") is None:
        return
    if get(labels(args.props), PART_OF_LABEL) != PART_OF:
        report(f"{kind_of(args.resource_type)} {name_of(args.props, args.name)} lacks label {PART_OF_LABEL}: {PART_OF}")


# ----------------------------------------------------------------------------- backups

SCHEDULE = "kubernetes:velero.io/v1:Schedule"
#: The seed's three tiers: hourly kept 72 h, daily 30 d, weekly 90 d.
BACKUP_TTLS_HOURS = (72, 720, 2160)


@stack_policy(
    "stack-client-backups",
    "Every client namespace is backed up by Velero Schedules with the seed's three TTLs (72h, 720h, 2160h).",
    domain=D, severity=HIGH, safeguard="164.308(a)(7)(ii)(A)",
    remediation="Create velero.io/v1 Schedules (hourly ttl 72h, daily 720h, weekly 2160h) including the namespace.",
)
def client_backups(args, report):
    schedules = of_types(args.resources, {SCHEDULE})
    for ns in client_namespaces(args.resources):
        name = name_of(ns.props, ns.name)
        ttls = set()
        for s in schedules:
            included = [str(n) for n in seq(get(s.props, "spec", "template", "includedNamespaces"))]
            if name in included and not truthy(get(s.props, "spec", "paused")):
                seconds = go_duration_seconds(get(s.props, "spec", "template", "ttl"))
                if seconds is not None:
                    ttls.add(round(seconds / 3600))
        missing = [f"{h}h" for h in BACKUP_TTLS_HOURS if h not in ttls]
        if missing:
            report(f"client namespace {name} has no backup schedule with ttl {', '.join(missing)}", ns.urn)


BUCKET_TYPES = {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "gcp:storage/bucket:Bucket",
                "azure-native:storage:StorageAccount", "azure-native:storage:BlobContainer"}


def _bucket_names(r: Any) -> list[str]:
    return [str(v) for v in (get(r.props, "bucket"), get(r.props, "name"), get(r.props, "containerName"), r.name) if v]


@stack_policy(
    "backup-bucket-no-object-lock",
    "The Velero backup bucket has no Object Lock / immutability (Velero rewrites and deletes its objects); WORM belongs on a replica.",
    domain=D, severity=HIGH, safeguard="164.308(a)(7)(ii)(A)",
    remediation="Remove Object Lock / retention locks from the bucket Velero writes to; replicate into a separate locked bucket instead.",
)
def velero_no_object_lock(args, report):
    bsls = [b for b in args.resources
            if b.resource_type.startswith("kubernetes:velero.io/") and kind_of(b.resource_type) == "BackupStorageLocation"]
    bsl_buckets = {str(get(b.props, "spec", "objectStorage", "bucket", default="")) for b in bsls}
    bsl_buckets.discard("")
    # A BackupStorageLocation whose spec takes an output of a bucket resource writes to that bucket.
    bsl_inputs = {getattr(d, "urn", d) for b in bsls for deps in (b.property_dependencies or {}).values() for d in deps or []}
    locks = [r for r in args.resources if "ObjectLockConfiguration" in r.resource_type
             or r.resource_type == "azure-native:storage:BlobContainerImmutabilityPolicy"]
    for r in args.resources:
        if r.resource_type not in BUCKET_TYPES:
            continue
        names = _bucket_names(r)
        if not (any(n in bsl_buckets for n in names) or r.urn in bsl_inputs):
            continue
        why = []
        if truthy(get(r.props, "objectLockEnabled")) or get(r.props, "objectLockConfiguration") is not None:
            why.append("object lock enabled on the bucket")
        if get(r.props, "retentionPolicy") is not None:
            why.append("GCS retention policy")
        if truthy(get(r.props, "immutableStorageWithVersioning", "enabled")):
            why.append("immutable storage with versioning")
        for lock in locks:
            if str(get(lock.props, "bucket", default="")) in names or str(get(lock.props, "containerName", default="")) in names \
                    or any(getattr(d, "urn", d) == r.urn for deps in (lock.property_dependencies or {}).values() for d in deps or []):
                why.append(f"{lock.resource_type.rsplit(':', 1)[-1]} {lock.name}")
        if why:
            report(f"Velero bucket {names[0]}: {'; '.join(why)}", r.urn)


# ----------------------------------------------------------------------------- secret scoping

SECRET_STORE = "kubernetes:external-secrets.io/v1:SecretStore"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
CLOUD_SECRETS = {
    "aws:secretsmanager/secret:Secret": ("name", "namePrefix"),
    "gcp:secretmanager/secret:Secret": ("secretId",),
    "azure-native:keyvault:Secret": ("secretName",),
}


def store_path(props: Any) -> str:
    """The part of the secret manager a SecretStore is confined to ('' when the provider has none)."""
    prov = get(props, "spec", "provider", default={})
    return str(get(prov, "aws", "prefix") or get(prov, "vault", "path") or get(prov, "kubernetes", "remoteNamespace") or "")


def remote_path(store_props: Any, key: str) -> str:
    """Where an ExternalSecret key points: ESO prepends an AWS `prefix` verbatim, while a Vault mount
    or a Kubernetes source namespace is a path segment. A `#property` suffix selects inside the secret."""
    key = key.split("#", 1)[0]
    if store_props is None:
        return key
    prov = get(store_props, "spec", "provider", default={})
    if get(prov, "aws", "prefix"):
        return f"{get(prov, 'aws', 'prefix')}{key}"
    base = store_path(store_props)
    return f"{base.rstrip('/')}/{key}" if base else key


def contains_segment(path: str, word: str) -> bool:
    return bool(word) and re.search(rf"(^|[^a-z0-9]){re.escape(word.lower())}([^a-z0-9]|$)", path.lower()) is not None


def _scope(r: Any, namespaces: dict[str, Any]) -> tuple[str, str]:
    lab = labels(r.props)
    client, env = get(lab, CLIENT_LABEL), get(lab, ENVIRONMENT_LABEL)
    ns = namespaces.get(namespace_of(r.props))
    if ns is not None:
        client = client or get(labels(ns.props), CLIENT_LABEL)
        env = env or get(labels(ns.props), ENVIRONMENT_LABEL)
    return str(client or ""), str(env or "")


def secret_references(resources: list[Any]) -> list[tuple[Any, str, str, str]]:
    """(resource, path, client, environment) for every secret path a stack uses or creates."""
    namespaces = {name_of(n.props, n.name): n for n in resources if n.resource_type == NAMESPACE}
    clients = client_namespaces(resources)
    default_scope = ("", "")
    if len(clients) == 1:
        default_scope = (str(get(labels(clients[0].props), CLIENT_LABEL, default="")),
                         str(get(labels(clients[0].props), ENVIRONMENT_LABEL, default="")))
    stores = {(namespace_of(s.props), name_of(s.props, s.name)): s for s in resources if s.resource_type == SECRET_STORE}
    out = []
    for r in resources:
        if r.resource_type == SECRET_STORE:
            path = store_path(r.props)
            if path:
                out.append((r, path, *(_scope(r, namespaces))))
        elif r.resource_type == EXTERNAL_SECRET:
            ref = get(r.props, "spec", "secretStoreRef", default={})
            if get(ref, "kind", default="SecretStore") != "SecretStore":
                continue
            store = stores.get((namespace_of(r.props), str(get(ref, "name", default=""))))
            keys = [get(d, "remoteRef", "key") for d in seq(get(r.props, "spec", "data"))]
            keys += [get(d, "extract", "key") or get(d, "find", "path") for d in seq(get(r.props, "spec", "dataFrom"))]
            for key in keys:
                if key:
                    out.append((r, remote_path(store.props if store is not None else None, str(key)), *(_scope(r, namespaces))))
        elif r.resource_type in CLOUD_SECRETS:
            for prop in CLOUD_SECRETS[r.resource_type]:
                if get(r.props, prop):
                    out.append((r, str(get(r.props, prop)), *default_scope))
                    break
    return out


@stack_policy(
    "stack-secret-paths-scoped",
    "Within a client stack every secret path (SecretStore prefix, ExternalSecret key, created secret) contains the client and the environment.",
    domain=D, severity=CRITICAL, safeguard="164.308(a)(4)",
    remediation="Scope the SecretStore to `<platform>/<client>/<environment>/` and name every secret under it.",
)
def secret_paths_scoped(args, report):
    if not client_namespaces(args.resources):
        return  # platform stacks hold platform-wide stores (ClusterSecretStore) by design
    for r, path, client, env in secret_references(args.resources):
        if not client or not env:
            report(f"{r.resource_type.rsplit(':', 1)[-1]} {r.name}: cannot tell which client/environment {path!r} belongs to", r.urn)
        elif not (contains_segment(path, client) and contains_segment(path, env)):
            report(f"{r.resource_type.rsplit(':', 1)[-1]} {r.name}: secret path {path!r} does not contain {client!r} and {env!r}", r.urn)


def overlapping_paths(paths_by_stack: dict[str, Iterable[str]]) -> list[tuple[str, str, str, str]]:
    """(stack a, path a, stack b, path b) for every pair of client stacks whose secret paths overlap:
    equal, or one a prefix of the other at a path boundary. Used across plans by `plan --all`."""
    norm = {s: sorted({p.strip().rstrip("/") for p in ps if p and p.strip()}) for s, ps in paths_by_stack.items()}
    stacks = sorted(norm)
    out = []
    for i, a in enumerate(stacks):
        for b in stacks[i + 1:]:
            for pa in norm[a]:
                for pb in norm[b]:
                    if pa == pb or pb.startswith(pa + "/") or pa.startswith(pb + "/"):
                        out.append((a, pa, b, pb))
    return out


POLICIES = [
    default_deny, pods_selected, crd_installed_first, explicit_provider, data_protected, required_tags,
    part_of_label, client_backups, velero_no_object_lock, secret_paths_scoped,
]
