"""What every policy module shares: project constants, the HIPAA references, policy builders and
small readers for resource properties as the Pulumi engine presents them.

The pack runs in its own virtualenv (only pulumi + pulumi-policy), so it must not import the project's
`lfh` or `components` packages. The few constants worth sharing are duplicated here; tests
(tests/test_policy_pack.py) keep them equal to their sources.

Properties arrive through pulumi_policy's unknown-checking proxies: dicts are `Mapping`s (not `dict`),
lists are `Sequence`s (not `list`), numbers are floats and secrets are unwrapped. Read them with the
helpers below, never with `isinstance(x, dict)`.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Iterable, Iterator, Optional

from pulumi_policy.proxy import UnknownValueError
from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)

# ----------------------------------------------------------------------------- project constants
# Duplicated from the project (the pack cannot import it); tests/test_policy_pack.py keeps them equal.

#: components/k8s.py: PART_OF and the label key every object we create carries.
PART_OF_LABEL = "app.kubernetes.io/part-of"
PART_OF = "lfh"
CLIENT_LABEL = "lfh.io/client"
ENVIRONMENT_LABEL = "lfh.io/environment"
#: components/platform/contract.py: CLIENT_NAMESPACE_LABEL and GatewayRef defaults.
CLIENT_NAMESPACE_LABEL = "lfh.io/client-namespace"
GATEWAY_NAME = "shared-gateway"
GATEWAY_NAMESPACE = "envoy-gateway-system"
PRODUCTION = "production"

#: lfh/charts.py: every chart repository we pin (a test keeps this list equal to CHARTS).
CHART_REPOSITORIES = [
    "oci://docker.io/envoyproxy/gateway-helm",
    "https://charts.longhorn.io",
    "https://argoproj.github.io/argo-helm",
    "https://charts.external-secrets.io",
    "https://charts.jetstack.io",
    "https://vmware-tanzu.github.io/helm-charts",
    "https://prometheus-community.github.io/helm-charts",
    "https://percona.github.io/percona-helm-charts/",
    "https://charts.min.io/",
    "https://operator.min.io/",
    "https://akyriako.github.io/typesense-operator/",
]

#: Registries our own workloads pull from by default (the user narrows or extends this in policy config).
DEFAULT_REGISTRIES = [
    "ghcr.io/",
    "docker.io/",
    "quay.io/",
    "registry.k8s.io/",
    "public.ecr.aws/",
    "mcr.microsoft.com/",
]

#: Namespaces allowed Pod Security `privileged`, each with its reason (documented exceptions).
PRIVILEGED_NAMESPACE_REASONS = {
    "longhorn-system": "Longhorn's manager and instance managers need privileged containers, hostPath and host PID",
    "velero": "Velero's node agent mounts the kubelet's pod directory (hostPath /var/lib/kubelet/pods) for data movement",
    "monitoring": "the Prometheus node exporter needs host network, host PID and hostPath /proc, /sys, /",
}
DEFAULT_PRIVILEGED_NAMESPACES = list(PRIVILEGED_NAMESPACE_REASONS)

#: Cloud tags every taggable resource carries (components/cluster/_common.py: tags()).
REQUIRED_TAGS = ["lfh:platform", "lfh:environment", "managed-by"]

# ----------------------------------------------------------------------------- HIPAA references

HIPAA_SAFEGUARDS = {
    "164.308(a)(1)(ii)(D)": "Information system activity review",
    "164.308(a)(4)": "Information access management",
    "164.308(a)(5)(ii)(D)": "Security awareness and training: password management",
    "164.308(a)(7)": "Contingency plan",
    "164.308(a)(7)(ii)(A)": "Contingency plan: data backup plan",
    "164.312(a)(1)": "Access control",
    "164.312(a)(2)(iv)": "Access control: encryption and decryption (at rest)",
    "164.312(b)": "Audit controls",
    "164.312(c)(1)": "Integrity",
    "164.312(d)": "Person or entity authentication",
    "164.312(e)(1)": "Transmission security",
}


def hipaa(reference: str) -> PolicyComplianceFramework:
    return PolicyComplianceFramework(
        name="HIPAA Security Rule",
        version="45 CFR Part 164 Subpart C",
        reference=reference,
        specification=HIPAA_SAFEGUARDS[reference],
    )


# ----------------------------------------------------------------------------- policy builders

#: policy name -> why it is advisory instead of mandatory (documented next to the policy too).
ADVISORY_REASONS: dict[str, str] = {}
#: policy name -> domain (kubernetes, aws, azure, gcp, stack), for docs.
DOMAINS: dict[str, str] = {}

CRITICAL, HIGH, MEDIUM, LOW = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW

Report = Callable[..., None]


def _level(name: str, advisory: Optional[str]) -> EnforcementLevel:
    if advisory:
        ADVISORY_REASONS[name] = advisory
        return EnforcementLevel.ADVISORY
    return EnforcementLevel.MANDATORY


def _schema(config: Optional[dict[str, dict[str, Any]]]) -> Optional[PolicyConfigSchema]:
    return PolicyConfigSchema(properties=config) if config else None


def resource_policy(
    name: str,
    description: str,
    *,
    domain: str,
    types: Iterable[str] | Callable[[str], bool],
    severity: Severity,
    safeguard: str,
    remediation: str,
    advisory: Optional[str] = None,
    config: Optional[dict[str, dict[str, Any]]] = None,
) -> Callable[[Callable[[Any, Report], None]], ResourceValidationPolicy]:
    """Decorator: turn `check(args, report)` into a ResourceValidationPolicy for the given types.

    `advisory` is the written reason a policy is not mandatory (mandatory is the default).
    """
    match = types if callable(types) else frozenset(types).__contains__

    def wrap(check: Callable[[Any, Report], None]) -> ResourceValidationPolicy:
        def validate(args: Any, report_violation: Report) -> None:
            if match(args.resource_type):
                check(args, report_violation)

        policy = ResourceValidationPolicy(
            validate=validate,
            **_metadata(name, description, domain, severity, safeguard, remediation, advisory, config),
        )
        # Lets the offline runner skip resources the policy ignores anyway (validate filters too).
        policy.lfh_applies_to = match  # type: ignore[attr-defined]
        return policy

    return wrap


def _metadata(name: str, description: str, domain: str, severity: Severity, safeguard: str, remediation: str,
              advisory: Optional[str], config: Optional[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """What every policy of the pack carries, resource or stack: name, enforcement, severity, HIPAA, remediation."""
    DOMAINS[name] = domain
    return {
        "name": name,
        "description": description,
        "enforcement_level": _level(name, advisory),
        "config_schema": _schema(config),
        "severity": severity,
        "framework": hipaa(safeguard),
        "tags": [domain, "hipaa"],
        "remediation_steps": remediation,
    }


def stack_policy(
    name: str,
    description: str,
    *,
    domain: str,
    severity: Severity,
    safeguard: str,
    remediation: str,
    advisory: Optional[str] = None,
    config: Optional[dict[str, dict[str, Any]]] = None,
) -> Callable[[Callable[[Any, Report], None]], StackValidationPolicy]:
    """Decorator: turn `check(args, report)` into a StackValidationPolicy."""

    def wrap(check: Callable[[Any, Report], None]) -> StackValidationPolicy:
        return StackValidationPolicy(
            validate=check,
            **_metadata(name, description, domain, severity, safeguard, remediation, advisory, config),
        )

    return wrap


def config_value(args: Any, policy_config: Optional[dict[str, dict[str, Any]]], key: str) -> Any:
    """The user's value for `key`, else the schema default (the CLI may pass no config at all)."""
    cfg = args.get_config() or {}
    if key in cfg and cfg[key] is not None:
        return cfg[key]
    return (policy_config or {}).get(key, {}).get("default")


# ----------------------------------------------------------------------------- property readers


def is_map(value: Any) -> bool:
    return isinstance(value, Mapping)


def is_seq(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


class _Unknown:
    """A value `pulumi preview` cannot know yet (an output of another resource, e.g. a key ARN).

    Truthy, so "is it set?" checks pass (a reference to a key is set), but equal to nothing, so a
    check that needs a literal (`httpTokens == "required"`) still reports."""

    def __bool__(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return "<unknown during preview>"

    __str__ = __repr__


UNKNOWN = _Unknown()


def get(obj: Any, *path: Any, default: Any = None) -> Any:
    """obj[path[0]][path[1]]…, or `default` when any step is missing; UNKNOWN for preview unknowns."""
    cur = obj
    try:
        for key in path:
            if isinstance(key, int):
                if not is_seq(cur) or key >= len(cur):
                    return default
                cur = cur[key]
            else:
                if not is_map(cur) or key not in cur:
                    return default
                cur = cur[key]
    except UnknownValueError:
        return UNKNOWN
    return default if cur is None else cur


def seq(value: Any) -> list[Any]:
    return list(value) if is_seq(value) else []


def truthy(value: Any) -> bool:
    """True for `True` and `"true"` (some providers type booleans as strings, e.g. EBS `encrypted`)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def falsy(value: Any) -> bool:
    """Explicitly false (not merely absent)."""
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def number(value: Any) -> Optional[float]:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def is_world(cidr: Any) -> bool:
    return str(cidr).strip() in ("0.0.0.0/0", "::/0", "*", "0.0.0.0", "Internet", "any")


# ----------------------------------------------------------------------------- Kubernetes readers

POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
WORKLOAD_TYPES = frozenset({
    "kubernetes:core/v1:Pod",
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:ReplicaSet",
    "kubernetes:batch/v1:Job",
    "kubernetes:batch/v1:CronJob",
})
#: Workloads whose pods run until stopped (probes and replicas matter); Jobs run to completion.
LONG_RUNNING_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod"})

#: API groups built into Kubernetes (anything else in a `kubernetes:` type token is a custom resource).
BUILTIN_GROUPS = frozenset({
    "core", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "rbac.authorization.k8s.io",
    "storage.k8s.io", "apiextensions.k8s.io", "admissionregistration.k8s.io", "scheduling.k8s.io",
    "coordination.k8s.io", "discovery.k8s.io", "certificates.k8s.io", "node.k8s.io",
    "flowcontrol.apiserver.k8s.io", "events.k8s.io", "resource.k8s.io", "apiregistration.k8s.io",
    "authentication.k8s.io", "authorization.k8s.io", "internal.apiserver.k8s.io", "storagemigration.k8s.io",
    # Pulumi's own pseudo-groups: Helm releases, YAML/kustomize components.
    "helm.sh", "yaml", "kustomize",
})


def k8s_parts(resource_type: str) -> tuple[str, str, str]:
    """`kubernetes:apps/v1:Deployment` -> ("apps", "v1", "Deployment"); ("", "", "") if not Kubernetes."""
    if not resource_type.startswith("kubernetes:"):
        return "", "", ""
    try:
        _, gv, kind = resource_type.split(":", 2)
    except ValueError:
        return "", "", ""
    group, _, version = gv.rpartition("/")
    return group, version, kind


def kind_of(resource_type: str) -> str:
    return k8s_parts(resource_type)[2]


def is_custom_resource_type(resource_type: str) -> bool:
    group, version, kind = k8s_parts(resource_type)
    return bool(kind) and group not in BUILTIN_GROUPS and not kind.endswith("Patch") and not kind.endswith("List")


def is_k8s_object(resource_type: str) -> bool:
    """A Kubernetes API object (not a provider, Helm release or YAML component)."""
    group, _, kind = k8s_parts(resource_type)
    return bool(kind) and group not in ("helm.sh", "yaml", "kustomize")


def metadata(props: Any) -> Any:
    return get(props, "metadata", default={})


def labels(props: Any) -> Any:
    return get(props, "metadata", "labels", default={})


def namespace_of(props: Any) -> str:
    return str(get(props, "metadata", "namespace", default="") or "")


def name_of(props: Any, fallback: str = "") -> str:
    return str(get(props, "metadata", "name", default="") or fallback)


def pod_spec(resource_type: str, props: Any) -> Any:
    path = POD_SPEC_PATHS.get(kind_of(resource_type))
    return get(props, *path) if path else None


def pod_template_labels(resource_type: str, props: Any) -> Any:
    kind = kind_of(resource_type)
    if kind == "Pod":
        return labels(props)
    if kind == "CronJob":
        return get(props, "spec", "jobTemplate", "spec", "template", "metadata", "labels", default={})
    return get(props, "spec", "template", "metadata", "labels", default={})


def containers(spec: Any, *, init: bool = True) -> Iterator[tuple[str, Any]]:
    """(`container`|`initContainer`|`ephemeralContainer`, container) for every container of a pod spec."""
    for c in seq(get(spec, "containers")):
        yield "container", c
    if init:
        for c in seq(get(spec, "initContainers")):
            yield "initContainer", c
        for c in seq(get(spec, "ephemeralContainers")):
            yield "ephemeralContainer", c


def is_sidecar(c: Any) -> bool:
    """A native sidecar (init container with restartPolicy Always) runs for the pod's life."""
    return get(c, "restartPolicy") == "Always"


def is_client_namespace(props: Any) -> bool:
    """A client's namespace: labelled for the shared Gateway *and* owned by a client. Platform namespaces
    (e.g. argocd) may carry the gateway label to publish a route, but have no `lfh.io/client`."""
    lab = labels(props)
    return get(lab, CLIENT_NAMESPACE_LABEL) == "true" and bool(get(lab, CLIENT_LABEL))


def environment_of(props: Any, resource_type: str = "") -> str:
    env = get(labels(props), ENVIRONMENT_LABEL)
    if not env and resource_type:
        env = get(pod_template_labels(resource_type, props), ENVIRONMENT_LABEL)
    return str(env or "")


# ----------------------------------------------------------------------------- tags


def normalise_tag_key(key: str) -> str:
    """GCP label keys cannot contain `:`; `lfh:platform` is spelled `lfh_platform` there."""
    return re.sub(r"[^a-z0-9]", "_", key.lower())


def missing_tags(tags: Any, required: Sequence[str]) -> list[str]:
    have = {normalise_tag_key(str(k)) for k in (tags or {})} if is_map(tags) else set()
    return [k for k in required if normalise_tag_key(k) not in have]


# ----------------------------------------------------------------------------- Go durations

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def go_duration_seconds(value: Any) -> Optional[float]:
    """`72h`, `72h0m0s`, `2160h0m0s` -> seconds; None when it is not a Go duration."""
    text = str(value or "").strip()
    if not text or _DURATION.sub("", text) != "":
        return None
    return sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(text))


def retention_config(where: str) -> dict[str, dict[str, Any]]:
    """The user-owned threshold of a log-retention policy (`minRetentionDays`, default 90)."""
    return {
        "minRetentionDays": {
            "type": "integer",
            "default": 90,
            "minimum": 1,
            "description": f"Minimum days audit logs are kept in {where}.",
        },
    }


def retention_days(args: Any, policy_config: dict[str, dict[str, Any]], prop: str) -> tuple[Optional[float], float]:
    """(configured retention days of the resource or None, the minimum the user requires)."""
    minimum = number(config_value(args, policy_config, "minRetentionDays")) or 90
    return number(get(args.props, prop)), minimum
