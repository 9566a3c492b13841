"""Kubernetes policies: pod security of our own workloads, exposure, namespaces, routes, Helm releases.

Workload policies read the pod template of Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob
and Pod objects we create ourselves (charts are opaque here; their values are checked by conformance).
"""
from __future__ import annotations

import re
from typing import Any

from .common import (
    CHART_REPOSITORIES,
    CRITICAL,
    DEFAULT_PRIVILEGED_NAMESPACES,
    DEFAULT_REGISTRIES,
    GATEWAY_NAME,
    GATEWAY_NAMESPACE,
    HIGH,
    LONG_RUNNING_KINDS,
    LOW,
    MEDIUM,
    PRODUCTION,
    WORKLOAD_TYPES,
    config_value,
    containers,
    environment_of,
    falsy,
    get,
    is_client_namespace,
    is_map,
    is_sidecar,
    kind_of,
    labels,
    name_of,
    namespace_of,
    number,
    pod_spec,
    pod_template_labels,
    resource_policy,
    seq,
    stack_policy,
    truthy,
)

D = "kubernetes"


def _where(args: Any) -> str:
    return f"{kind_of(args.resource_type)} {namespace_of(args.props) or '-'}/{name_of(args.props, args.name)}"


def _spec(args: Any) -> Any:
    return pod_spec(args.resource_type, args.props) or {}


def _ctx(c: Any, key: str) -> Any:
    return get(c, "securityContext", key)


# ----------------------------------------------------------------------------- pod security


PSS_CONFIG = {
    "privilegedNamespaces": {
        "type": "array",
        "items": {"type": "string"},
        "default": DEFAULT_PRIVILEGED_NAMESPACES,
        "description": "Namespaces allowed Pod Security `privileged` (documented exceptions).",
    },
}


def _exception_namespace(args: Any) -> bool:
    """The workload lives in a documented Pod Security exception namespace (`privilegedNamespaces`)."""
    allowed = [str(n) for n in seq(config_value(args, PSS_CONFIG, "privilegedNamespaces"))]
    return namespace_of(args.props) in allowed


def _powerless(c: Any) -> bool:
    """A container with every capability dropped and no privilege escalation (root without root's powers)."""
    drop = {str(x).upper() for x in seq(get(c, "securityContext", "capabilities", "drop"))}
    return ("ALL" in drop and not seq(get(c, "securityContext", "capabilities", "add"))
            and falsy(_ctx(c, "allowPrivilegeEscalation")) and not truthy(_ctx(c, "privileged")))


@resource_policy(
    "k8s-run-as-non-root",
    "Workload containers run as a non-root user (runAsNonRoot true, never runAsUser 0); in a documented exception "
    "namespace, uid 0 only with every capability dropped and no privilege escalation.",
    domain=D, types=WORKLOAD_TYPES, severity=HIGH, safeguard="164.312(a)(1)", config=PSS_CONFIG,
    remediation="Set `securityContext.runAsNonRoot: true` (pod or every container) and a non-zero `runAsUser`.",
)
def run_as_non_root(args, report):
    spec = _spec(args)
    if _exception_namespace(args) and all(_powerless(c) for _, c in containers(spec)):
        return  # e.g. the log collector reading root-owned node logs (PRIVILEGED_NAMESPACE_REASONS)
    pod_nonroot = truthy(get(spec, "securityContext", "runAsNonRoot"))
    pod_uid = number(get(spec, "securityContext", "runAsUser"))
    for role, c in containers(spec):
        nonroot = _ctx(c, "runAsNonRoot")
        uid = number(_ctx(c, "runAsUser"))
        effective_uid = uid if uid is not None else pod_uid
        if effective_uid == 0:
            report(f"{_where(args)}: {role} {get(c, 'name')!r} runs as uid 0")
        elif not (truthy(nonroot) or (nonroot is None and pod_nonroot)):
            report(f"{_where(args)}: {role} {get(c, 'name')!r} does not set runAsNonRoot: true")


@resource_policy(
    "k8s-no-privilege-escalation",
    "Every container sets allowPrivilegeEscalation: false.",
    domain=D, types=WORKLOAD_TYPES, severity=HIGH, safeguard="164.312(a)(1)",
    remediation="Set `securityContext.allowPrivilegeEscalation: false` on every container and init container.",
)
def no_privilege_escalation(args, report):
    for role, c in containers(_spec(args)):
        if not falsy(_ctx(c, "allowPrivilegeEscalation")):
            report(f"{_where(args)}: {role} {get(c, 'name')!r} does not set allowPrivilegeEscalation: false")


@resource_policy(
    "k8s-drop-all-capabilities",
    "Every container drops ALL Linux capabilities and adds back at most NET_BIND_SERVICE.",
    domain=D, types=WORKLOAD_TYPES, severity=HIGH, safeguard="164.312(a)(1)",
    remediation="Set `securityContext.capabilities.drop: [ALL]`; add only NET_BIND_SERVICE if a port < 1024 is needed.",
)
def drop_all_capabilities(args, report):
    for role, c in containers(_spec(args)):
        caps = _ctx(c, "capabilities") or {}
        drop = {str(x).upper() for x in seq(get(caps, "drop"))}
        add = {str(x).upper() for x in seq(get(caps, "add"))} - {"NET_BIND_SERVICE"}
        if "ALL" not in drop:
            report(f"{_where(args)}: {role} {get(c, 'name')!r} does not drop ALL capabilities")
        if add:
            report(f"{_where(args)}: {role} {get(c, 'name')!r} adds capabilities {sorted(add)}")


@resource_policy(
    "k8s-seccomp-runtime-default",
    "Pods use the RuntimeDefault (or a Localhost) seccomp profile.",
    domain=D, types=WORKLOAD_TYPES, severity=MEDIUM, safeguard="164.312(a)(1)",
    remediation="Set `spec.securityContext.seccompProfile.type: RuntimeDefault` on the pod template.",
)
def seccomp(args, report):
    spec = _spec(args)
    pod_profile = get(spec, "securityContext", "seccompProfile", "type")
    for role, c in containers(spec):
        profile = get(c, "securityContext", "seccompProfile", "type") or pod_profile
        if profile not in ("RuntimeDefault", "Localhost"):
            report(f"{_where(args)}: {role} {get(c, 'name')!r} has seccomp profile {profile or 'unset'}")


@resource_policy(
    "k8s-no-privileged-containers",
    "No container runs privileged.",
    domain=D, types=WORKLOAD_TYPES, severity=CRITICAL, safeguard="164.312(a)(1)",
    remediation="Remove `securityContext.privileged: true`; grant the specific capability or use a node-level add-on instead.",
)
def no_privileged(args, report):
    for role, c in containers(_spec(args)):
        if truthy(_ctx(c, "privileged")):
            report(f"{_where(args)}: {role} {get(c, 'name')!r} is privileged")


@resource_policy(
    "k8s-no-host-namespaces",
    "Pods do not share the node's network, PID or IPC namespace.",
    domain=D, types=WORKLOAD_TYPES, severity=CRITICAL, safeguard="164.312(a)(1)",
    remediation="Remove `hostNetwork`, `hostPID` and `hostIPC` from the pod spec.",
)
def no_host_namespaces(args, report):
    spec = _spec(args)
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if truthy(get(spec, key)):
            report(f"{_where(args)}: {key} is true")


@resource_policy(
    "k8s-no-host-path",
    "Pods mount no hostPath volumes; a documented exception namespace may mount them read-only.",
    domain=D, types=WORKLOAD_TYPES, severity=CRITICAL, safeguard="164.312(a)(1)", config=PSS_CONFIG,
    remediation="Replace hostPath volumes with emptyDir, a PVC, a ConfigMap or a projected volume.",
)
def no_host_path(args, report):
    spec = _spec(args)
    mounts = [m for _, c in containers(spec) for m in seq(get(c, "volumeMounts"))]
    for v in seq(get(spec, "volumes")):
        name = get(v, "name")
        read_only = all(truthy(get(m, "readOnly")) for m in mounts if get(m, "name") == name)
        if get(v, "hostPath") is not None and _exception_namespace(args) and read_only:
            continue
        if get(v, "hostPath") is not None:
            report(f"{_where(args)}: volume {get(v, 'name')!r} is a hostPath ({get(v, 'hostPath', 'path')})")


@resource_policy(
    "k8s-no-host-ports",
    "Containers bind no host ports (they bypass NetworkPolicy and the gateway).",
    domain=D, types=WORKLOAD_TYPES, severity=HIGH, safeguard="164.312(e)(1)",
    remediation="Remove `hostPort`; expose the port through a ClusterIP Service and an HTTPRoute.",
)
def no_host_ports(args, report):
    for role, c in containers(_spec(args)):
        for p in seq(get(c, "ports")):
            hp = number(get(p, "hostPort"))
            if hp:
                report(f"{_where(args)}: {role} {get(c, 'name')!r} binds hostPort {int(hp)}")


RESOURCES_CONFIG = {
    "requireCpuLimits": {
        "type": "boolean",
        "default": False,
        "description": "Also require CPU limits (off by default: CPU limits throttle; memory limits protect neighbours).",
    },
}


@resource_policy(
    "k8s-resources-requests-limits",
    "Every container sets CPU and memory requests and a memory limit (CPU limit when configured).",
    domain=D, types=WORKLOAD_TYPES, severity=MEDIUM, safeguard="164.308(a)(7)", config=RESOURCES_CONFIG,
    remediation="Set `resources.requests.cpu`, `resources.requests.memory` and `resources.limits.memory` on every container.",
)
def requests_limits(args, report):
    need_cpu_limit = bool(config_value(args, RESOURCES_CONFIG, "requireCpuLimits"))
    for role, c in containers(_spec(args)):
        missing = [f"requests.{k}" for k in ("cpu", "memory") if get(c, "resources", "requests", k) is None]
        if get(c, "resources", "limits", "memory") is None:
            missing.append("limits.memory")
        if need_cpu_limit and get(c, "resources", "limits", "cpu") is None:
            missing.append("limits.cpu")
        if missing:
            report(f"{_where(args)}: {role} {get(c, 'name')!r} has no {', '.join(missing)}")


_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def image_problem(image: str) -> str:
    """Why an image reference is not pinned, or '' when it is (tag other than latest, or digest)."""
    if not image:
        return "has no image"
    if _DIGEST.search(image):
        return ""
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image!r} has no tag (resolves to latest)"
    tag = last.rsplit(":", 1)[1]
    if tag.lower() in ("latest", "stable", "main", "master", "edge", "nightly", "dev"):
        return f"image {image!r} uses the floating tag {tag!r}"
    return ""


@resource_policy(
    "k8s-image-pinned",
    "Container images are pinned to a version tag or digest (never latest or tag-less).",
    domain=D, types=WORKLOAD_TYPES, severity=HIGH, safeguard="164.312(c)(1)",
    remediation="Use `image: registry/repo:1.2.3` or `@sha256:…`; take the version from the stack config.",
)
def image_pinned(args, report):
    for role, c in containers(_spec(args)):
        problem = image_problem(str(get(c, "image", default="")))
        if problem:
            report(f"{_where(args)}: {role} {get(c, 'name')!r} {problem}")


REGISTRY_CONFIG = {
    "allowedRegistries": {
        "type": "array",
        "items": {"type": "string"},
        "default": DEFAULT_REGISTRIES,
        "description": "Image reference prefixes allowed (e.g. `ghcr.io/mycurelabs/`); Docker Hub short names count as `docker.io/`.",
    },
}


def normalise_image(image: str) -> str:
    first = image.split("/", 1)[0]
    if "/" not in image:
        return f"docker.io/library/{image}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{image}"
    return image


@resource_policy(
    "k8s-image-registry-allowed",
    "Container images come from an allowed registry.",
    domain=D, types=WORKLOAD_TYPES, severity=HIGH, safeguard="164.312(c)(1)", config=REGISTRY_CONFIG,
    remediation="Pull from an allowed registry, or add the registry to the `allowedRegistries` policy config.",
)
def image_registry(args, report):
    allowed = [str(a) for a in seq(config_value(args, REGISTRY_CONFIG, "allowedRegistries"))]
    for role, c in containers(_spec(args)):
        image = normalise_image(str(get(c, "image", default="")))
        if not any(image.startswith(a) for a in allowed):
            report(f"{_where(args)}: {role} {get(c, 'name')!r} image {image!r} is not from {allowed}")


@resource_policy(
    "k8s-probes",
    "Long-running containers have readiness and liveness probes.",
    domain=D, types=WORKLOAD_TYPES, severity=MEDIUM, safeguard="164.308(a)(7)",
    remediation="Add `readinessProbe` and `livenessProbe` (HTTP, TCP or exec) to every long-running container.",
)
def probes(args, report):
    if kind_of(args.resource_type) not in LONG_RUNNING_KINDS:
        return
    spec = _spec(args)
    for role, c in containers(spec):
        if role == "ephemeralContainer" or (role == "initContainer" and not is_sidecar(c)):
            continue
        missing = [p for p in ("readinessProbe", "livenessProbe") if get(c, p) is None]
        if missing:
            report(f"{_where(args)}: {role} {get(c, 'name')!r} has no {' or '.join(missing)}")


@resource_policy(
    "k8s-dedicated-service-account",
    "Pods run under their own ServiceAccount, never `default`.",
    domain=D, types=WORKLOAD_TYPES, severity=MEDIUM, safeguard="164.308(a)(4)",
    remediation="Create one ServiceAccount per workload and set `serviceAccountName` (automount the token only if needed).",
)
def dedicated_sa(args, report):
    sa = get(_spec(args), "serviceAccountName") or get(_spec(args), "serviceAccount")
    if not sa or sa == "default":
        report(f"{_where(args)}: runs as the namespace's default ServiceAccount")


@resource_policy(
    "k8s-read-only-root-filesystem",
    "Containers run with a read-only root filesystem (writable emptyDir mounts where needed).",
    domain=D, types=WORKLOAD_TYPES, severity=LOW, safeguard="164.312(c)(1)",
    # Advisory: some apps (HapiHub, per APPS.md) need a writable root; a client opts in per app.
    advisory="some apps need a writable root filesystem (APPS.md: HapiHub); it is tried per client",
    remediation="Set `securityContext.readOnlyRootFilesystem: true` and mount emptyDir at /tmp and cache paths.",
)
def read_only_root(args, report):
    for role, c in containers(_spec(args)):
        if role == "container" and not truthy(_ctx(c, "readOnlyRootFilesystem")):
            report(f"{_where(args)}: container {get(c, 'name')!r} has a writable root filesystem")


_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|MONGO_URI|DATABASE_URL)", re.I)


@resource_policy(
    "k8s-no-plaintext-secret-env",
    "Secret-looking environment variables come from a Secret (valueFrom), never a literal value.",
    domain=D, types=WORKLOAD_TYPES, severity=HIGH, safeguard="164.312(d)",
    remediation="Put the value in the cloud secret manager, sync it with an ExternalSecret and use `valueFrom.secretKeyRef`.",
)
def no_plaintext_secret_env(args, report):
    for role, c in containers(_spec(args)):
        for e in seq(get(c, "env")):
            name = str(get(e, "name", default=""))
            value = get(e, "value")
            if value not in (None, "") and _SECRET_NAME.search(name) and "$(" not in str(value):
                report(f"{_where(args)}: {role} {get(c, 'name')!r} sets {name} as a literal value")


# ----------------------------------------------------------------------------- exposure, namespaces, routes


@resource_policy(
    "k8s-service-not-exposed",
    f"Services of type LoadBalancer or NodePort exist only in the gateway namespace ({GATEWAY_NAMESPACE}).",
    domain=D, types={"kubernetes:core/v1:Service"}, severity=HIGH, safeguard="164.312(e)(1)",
    remediation="Use a ClusterIP Service and publish it through an HTTPRoute on the shared Gateway.",
)
def service_exposure(args, report):
    svc_type = get(args.props, "spec", "type", default="ClusterIP")
    if svc_type in ("LoadBalancer", "NodePort") and namespace_of(args.props) != GATEWAY_NAMESPACE:
        report(f"Service {namespace_of(args.props)}/{name_of(args.props, args.name)} is of type {svc_type}")


PSS_LEVELS = ("privileged", "baseline", "restricted")


@resource_policy(
    "k8s-namespace-pod-security",
    "Every namespace sets a Pod Security enforce level; `privileged` only for documented exceptions.",
    domain=D, types={"kubernetes:core/v1:Namespace"}, severity=HIGH, safeguard="164.312(a)(1)", config=PSS_CONFIG,
    remediation="Label the namespace `pod-security.kubernetes.io/enforce: restricted` (or baseline with a reason).",
)
def namespace_pss(args, report):
    ns = name_of(args.props, args.name)
    level = get(labels(args.props), "pod-security.kubernetes.io/enforce")
    allowed = [str(n) for n in seq(config_value(args, PSS_CONFIG, "privilegedNamespaces"))]
    if level not in PSS_LEVELS:
        report(f"Namespace {ns} has no valid pod-security.kubernetes.io/enforce label ({level!r})")
    elif level == "privileged" and ns not in allowed:
        report(f"Namespace {ns} enforces `privileged` but is not a documented exception {allowed}")


@resource_policy(
    "k8s-client-namespace-restricted",
    "Client namespaces enforce, audit and warn at Pod Security `restricted`.",
    domain=D, types={"kubernetes:core/v1:Namespace"}, severity=HIGH, safeguard="164.312(a)(1)",
    remediation="Label the client namespace with pod-security.kubernetes.io/{enforce,audit,warn}: restricted.",
)
def client_namespace_restricted(args, report):
    lab = labels(args.props)
    if not is_client_namespace(args.props):
        return
    for mode in ("enforce", "audit", "warn"):
        level = get(lab, f"pod-security.kubernetes.io/{mode}")
        if level != "restricted":
            report(f"client Namespace {name_of(args.props, args.name)}: {mode} level is {level!r}, not restricted")


ROUTE_TYPES = {
    "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
    "kubernetes:gateway.networking.k8s.io/v1beta1:HTTPRoute",
    "kubernetes:gateway.networking.k8s.io/v1:GRPCRoute",
}


@resource_policy(
    "k8s-route-shared-gateway",
    f"HTTPRoutes attach only to the shared Gateway ({GATEWAY_NAMESPACE}/{GATEWAY_NAME}) or to their own client's "
    f"ListenerSet in its namespace (named like the route's namespace: that client's listeners on the Gateway).",
    domain=D, types=ROUTE_TYPES, severity=HIGH, safeguard="164.312(e)(1)",
    remediation=f"Set `parentRefs: [{{name: {GATEWAY_NAME}, namespace: {GATEWAY_NAMESPACE}}}]` (from the platform contract).",
)
def route_shared_gateway(args, report):
    own_ns = namespace_of(args.props)
    refs = list(seq(get(args.props, "spec", "parentRefs")))
    if not refs:
        report(f"route {own_ns}/{name_of(args.props, args.name)} has no parentRefs")
    for ref in refs:
        kind = get(ref, "kind", default="Gateway")
        ns = get(ref, "namespace", default=own_ns)
        shared = kind == "Gateway" and get(ref, "name") == GATEWAY_NAME
        own_listeners = kind == "ListenerSet" and get(ref, "name") == own_ns
        if not (shared or own_listeners) or ns != GATEWAY_NAMESPACE:
            report(f"route {own_ns}/{name_of(args.props, args.name)} attaches to {kind} {ns}/{get(ref, 'name')}")


@resource_policy(
    "k8s-listenerset-shared-gateway",
    f"ListenerSets live in the gateway namespace ({GATEWAY_NAMESPACE}) and attach only to the shared Gateway.",
    domain=D, types={"kubernetes:gateway.networking.k8s.io/v1:ListenerSet"}, severity=HIGH, safeguard="164.312(e)(1)",
    remediation=f"Create the ListenerSet in {GATEWAY_NAMESPACE} with `parentRef: {{name: {GATEWAY_NAME}}}`.",
)
def listenerset_shared_gateway(args, report):
    ns = namespace_of(args.props)
    parent = get(args.props, "spec", "parentRef") or {}
    parent_ns = get(parent, "namespace", default=ns)
    if ns != GATEWAY_NAMESPACE or get(parent, "kind", default="Gateway") != "Gateway" \
            or get(parent, "name") != GATEWAY_NAME or parent_ns != GATEWAY_NAMESPACE:
        report(f"ListenerSet {ns}/{name_of(args.props, args.name)} attaches to {parent_ns}/{get(parent, 'name')}")


@resource_policy(
    "k8s-gateway-in-gateway-namespace",
    f"Gateways are created only in the gateway namespace ({GATEWAY_NAMESPACE}): one shared entry point.",
    domain=D, types={"kubernetes:gateway.networking.k8s.io/v1:Gateway", "kubernetes:gateway.networking.k8s.io/v1beta1:Gateway"},
    severity=HIGH, safeguard="164.312(e)(1)",
    remediation="Attach an HTTPRoute to the shared Gateway instead of creating another Gateway.",
)
def gateway_namespace(args, report):
    if namespace_of(args.props) != GATEWAY_NAMESPACE:
        report(f"Gateway {namespace_of(args.props)}/{name_of(args.props, args.name)} is outside {GATEWAY_NAMESPACE}")


@resource_policy(
    "k8s-networkpolicy-rules-name-peer",
    "Every NetworkPolicy allow rule names its peer (no `port to anywhere` rules).",
    domain=D, types={"kubernetes:networking.k8s.io/v1:NetworkPolicy"}, severity=HIGH, safeguard="164.312(e)(1)",
    remediation="Give each ingress rule a `from` and each egress rule a `to` (podSelector, namespaceSelector or ipBlock).",
)
def networkpolicy_peers(args, report):
    where = f"NetworkPolicy {namespace_of(args.props)}/{name_of(args.props, args.name)}"
    for direction, peer_key in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(seq(get(args.props, "spec", direction))):
            peers = list(seq(get(rule, peer_key)))
            if not peers:
                report(f"{where}: {direction}[{i}] has no `{peer_key}` (allows any peer)")
            for p in peers:
                if is_map(p) and not p:
                    report(f"{where}: {direction}[{i}] has an empty peer (allows any peer)")


NAMESPACED_KINDS = frozenset({
    "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Service", "ConfigMap",
    "Secret", "ServiceAccount", "Role", "RoleBinding", "NetworkPolicy", "PersistentVolumeClaim",
    "PodDisruptionBudget", "HorizontalPodAutoscaler", "Ingress", "ResourceQuota", "LimitRange",
})


@resource_policy(
    "k8s-no-default-namespace",
    "Namespaced objects name their namespace explicitly and never use `default`.",
    domain=D, types=lambda t: kind_of(t) in NAMESPACED_KINDS, severity=MEDIUM, safeguard="164.312(a)(1)",
    remediation="Set `metadata.namespace` to the component's namespace (client objects: `<client>-<environment>`).",
)
def no_default_namespace(args, report):
    ns = namespace_of(args.props)
    if ns in ("", "default"):
        report(f"{kind_of(args.resource_type)} {name_of(args.props, args.name)} is in namespace {ns or '(unset → default)'}")


# ----------------------------------------------------------------------------- Helm releases

HELM_TYPE = {"kubernetes:helm.sh/v3:Release"}
_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


@resource_policy(
    "helm-release-exact-version",
    "Helm releases pin an exact chart version (no ranges, wildcards or empty version).",
    domain=D, types=HELM_TYPE, severity=HIGH, safeguard="164.312(c)(1)",
    remediation="Take chart, repository and version from lfh/charts.py (exact `X.Y.Z`).",
)
def helm_exact_version(args, report):
    version = str(get(args.props, "version", default=""))
    if not _EXACT_VERSION.match(version):
        report(f"Helm release {args.name}: version {version!r} is not an exact chart version")


REPO_CONFIG = {
    "allowedRepositories": {
        "type": "array",
        "items": {"type": "string"},
        "default": CHART_REPOSITORIES,
        "description": "Helm repositories (https:// or oci://) charts may come from (default: lfh/charts.py).",
    },
}


def release_repository(props: Any) -> str:
    chart = str(get(props, "chart", default=""))
    if chart.startswith("oci://"):
        return chart
    return str(get(props, "repositoryOpts", "repo", default=""))


@resource_policy(
    "helm-release-allowed-repository",
    "Helm releases install charts only from allow-listed repositories.",
    domain=D, types=HELM_TYPE, severity=HIGH, safeguard="164.312(c)(1)", config=REPO_CONFIG,
    remediation="Use `repository_opts.repo` from lfh/charts.py, or add the repository to `allowedRepositories`.",
)
def helm_allowed_repo(args, report):
    repo = release_repository(args.props).rstrip("/")
    allowed = {str(a).rstrip("/") for a in seq(config_value(args, REPO_CONFIG, "allowedRepositories"))}
    if not repo:
        report(f"Helm release {args.name}: no repository (a local or implicit chart source)")
    elif repo not in allowed:
        report(f"Helm release {args.name}: repository {repo!r} is not allow-listed")


# ----------------------------------------------------------------------------- production availability


def _replica_targets(resources: list[Any]) -> dict[tuple[str, str, str], Any]:
    out = {}
    for r in resources:
        kind = kind_of(r.resource_type)
        if kind in ("Deployment", "StatefulSet"):
            out[(kind, namespace_of(r.props), name_of(r.props, r.name))] = r
    return out


def _hpa_min(resources: list[Any]) -> dict[tuple[str, str, str], float]:
    out = {}
    for r in resources:
        if kind_of(r.resource_type) == "HorizontalPodAutoscaler":
            ref = get(r.props, "spec", "scaleTargetRef", default={})
            key = (str(get(ref, "kind", default="")), namespace_of(r.props), str(get(ref, "name", default="")))
            out[key] = number(get(r.props, "spec", "minReplicas")) or 1.0
    return out


@stack_policy(
    "k8s-production-replicas",
    "Production Deployments and StatefulSets run at least 2 replicas (or an HPA with minReplicas ≥ 2).",
    domain=D, severity=MEDIUM, safeguard="164.308(a)(7)",
    remediation="Set `replicas: 2` or more (or an HPA with `minReplicas: 2`) for workloads labelled lfh.io/environment: production.",
)
def production_replicas(args, report):
    hpas = _hpa_min(args.resources)
    for key, r in _replica_targets(args.resources).items():
        if environment_of(r.props, r.resource_type) != PRODUCTION:
            continue
        replicas = hpas.get(key)
        if replicas is None:
            replicas = number(get(r.props, "spec", "replicas"))
            replicas = 1.0 if replicas is None else replicas
        if replicas < 2:
            report(f"{key[0]} {key[1]}/{key[2]} runs {int(replicas)} replica(s) in production", r.urn)


@stack_policy(
    "k8s-production-pdb",
    "Production Deployments and StatefulSets with 2+ replicas are covered by a PodDisruptionBudget.",
    domain=D, severity=MEDIUM, safeguard="164.308(a)(7)",
    remediation="Add a PodDisruptionBudget (minAvailable: 1) selecting the workload's pods.",
)
def production_pdb(args, report):
    from .selectors import selects

    pdbs = [r for r in args.resources if kind_of(r.resource_type) == "PodDisruptionBudget"]
    hpas = _hpa_min(args.resources)
    for key, r in _replica_targets(args.resources).items():
        if environment_of(r.props, r.resource_type) != PRODUCTION:
            continue
        replicas = hpas.get(key) or number(get(r.props, "spec", "replicas")) or 1.0
        if replicas < 2:
            continue  # k8s-production-replicas reports it
        pod_labels = pod_template_labels(r.resource_type, r.props)
        if not any(namespace_of(p.props) == key[1] and selects(get(p.props, "spec", "selector"), pod_labels) for p in pdbs):
            report(f"{key[0]} {key[1]}/{key[2]} has no PodDisruptionBudget", r.urn)


POLICIES = [
    run_as_non_root, no_privilege_escalation, drop_all_capabilities, seccomp, no_privileged, no_host_namespaces,
    no_host_path, no_host_ports, requests_limits, image_pinned, image_registry, probes, dedicated_sa,
    read_only_root, no_plaintext_secret_env, service_exposure, namespace_pss, client_namespace_restricted,
    route_shared_gateway, listenerset_shared_gateway, gateway_namespace, networkpolicy_peers, no_default_namespace, helm_exact_version,
    helm_allowed_repo, production_replicas, production_pdb,
]
