"""Shared building blocks of the core add-ons: namespaces with deliberate Pod Security levels, pinned
Helm releases from `lfh.charts.CHARTS`, and small value helpers."""
from __future__ import annotations

from typing import Any, Literal, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from lfh.config.platform import Resources

from ..k8s import HelmRelease, KubeObject, child_opts, labels, meta, pinned_chart
from .contract import pool_placement

PodSecurityLevel = Literal["restricted", "baseline", "privileged"]

#: Pod Security Admission version we pin labels to (the cluster's own minor is fine; `latest` would
#: silently tighten on upgrade and block pods mid-upgrade).
PSS_VERSION = "latest"


def namespace(parent: pulumi.Resource, provider: pulumi.ProviderResource, name: str, *,
              level: PodSecurityLevel, component: str, why: str = "",
              depends_on: Sequence[pulumi.Resource] = (), extra_labels: Optional[dict[str, str]] = None,
              ) -> KubeObject:
    """An add-on namespace with its Pod Security level set on purpose.

    `enforce` is the level the add-on's pods need; `warn`/`audit` are always `restricted`, so every
    deviation from the strictest level stays visible in kubectl warnings and the audit log. A level
    other than `restricted` must come with ``why`` (it lands in an annotation next to the label).
    """
    if level != "restricted" and not why:
        raise ValueError(f"namespace {name}: Pod Security level {level!r} needs a documented reason")
    ns_labels = labels(name, component=component)
    ns_labels.update({
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/enforce-version": PSS_VERSION,
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": PSS_VERSION,
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": PSS_VERSION,
    })
    ns_labels.update(extra_labels or {})
    annotations = {"lfh.io/pod-security-exception": why} if why else None
    return KubeObject(
        f"{parent._name}-ns-{name}", "v1", "Namespace",  # type: ignore[attr-defined]
        metadata=meta(name, labels=ns_labels, annotations=annotations),
        opts=child_opts(parent, provider, depends_on=list(depends_on)),
    )


def release(parent: pulumi.Resource, provider: pulumi.ProviderResource, chart_key: str, *,
            namespace: KubeObject | str, values: dict[str, Any], name: Optional[str] = None,
            depends_on: Sequence[pulumi.Resource] = (), timeout: int = 600,
            skip_await: bool = False, skip_await_reason: str = "",
            ) -> HelmRelease:
    """A Helm release of a pinned chart (chart/repository/version only from `lfh.charts.CHARTS`).

    `atomic` rolls a failed install/upgrade back instead of leaving a half-installed add-on, and
    implies `wait`: the release only completes when its Deployments are ready, so custom resources
    that depend on it meet a running controller and an installed CRD (webhooks answer).
    """
    if skip_await and not skip_await_reason:
        raise ValueError(f"release {chart_key}: skip_await needs a documented reason")
    release_name = name or chart_key
    ns_name = namespace if isinstance(namespace, str) else None
    deps = list(depends_on)
    if not isinstance(namespace, str):
        deps.append(namespace)
        ns_name = namespace.metadata["name"]  # type: ignore[index]
    return HelmRelease(
        f"{parent._name}-{release_name}",  # type: ignore[attr-defined]
        {
            "name": release_name,
            # A stack may override a pin (`chartVersions`); the plan warns about it.
            **pinned_chart(chart_key, getattr(parent, "chart_versions", None)),
            "namespace": ns_name,
            # The namespace is ours (labelled with its Pod Security level); Helm must not create one.
            "createNamespace": False,
            "values": values,
            "atomic": True,
            "waitForJobs": True,
            "cleanupOnFail": True,
            "timeout": timeout,
            "maxHistory": 10,
            "skipAwait": skip_await,
            # CRDs come with the chart and are kept on uninstall (deleting a CRD deletes every object of it).
            "skipCrds": False,
        },
        child_opts(parent, provider, depends_on=deps),
    )


def resources(r: Resources) -> dict[str, Any]:
    """A container `resources` block from config: CPU request only, memory request and limit."""
    return {"requests": {"cpu": r.cpu, "memory": r.memory}, "limits": {"memory": r.memory_limit}}


def restricted_container(read_only_root: bool = True) -> dict[str, Any]:
    """A container securityContext that passes Pod Security `restricted`."""
    ctx: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if read_only_root:
        ctx["readOnlyRootFilesystem"] = True
    return ctx


def restricted_pod(uid: int = 65532) -> dict[str, Any]:
    return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
            "seccompProfile": {"type": "RuntimeDefault"}}


def custom_resource(parent: pulumi.Resource, provider: pulumi.ProviderResource, suffix: str, *,
                    api_version: str, kind: str, name: str, namespace: Optional[str] = None,
                    spec: Optional[dict[str, Any]] = None, component: str = "", depends_on: Sequence[pulumi.Resource] = (),
                    obj_labels: Optional[dict[str, str]] = None, annotations: Optional[dict[str, Any]] = None,
                    ) -> k8s.apiextensions.CustomResource:
    """A custom resource; ``depends_on`` must include the release that installs its CRD."""
    lbl = labels(name, component=component or kind.lower())
    lbl.update(obj_labels or {})
    return k8s.apiextensions.CustomResource(
        f"{parent._name}-{suffix}",  # type: ignore[attr-defined]
        api_version=api_version, kind=kind, metadata=meta(name, namespace, labels=lbl, annotations=annotations),
        spec=spec,
        opts=child_opts(parent, provider, depends_on=list(depends_on)))


def identity(cluster: Any, addon: str, namespace: str, service_account: str) -> Any:
    """The cloud identity bound for ``addon``, checked against the service account its chart creates.

    A binding for another namespace/name would leave the pods without cloud credentials at run time,
    so a mismatch between cluster target and add-on is refused here, at plan time.
    """
    binding = cluster.addon_identities.get(addon)
    if binding is not None and (binding.namespace, binding.service_account) != (namespace, service_account):
        raise ValueError(
            f"cluster contract: addon_identities[{addon!r}] binds {binding.namespace}/{binding.service_account}, "
            f"but the {addon} chart runs as {namespace}/{service_account}")
    return binding


def placement(cluster: Any, pool: str = "system") -> dict[str, Any]:
    """`nodeSelector`/`tolerations` for a node pool from the cluster contract ({} when it has none:
    existing clusters schedule anywhere)."""
    return pool_placement(cluster.scheduling, pool)


def every_pool_tolerations(cluster: Any) -> list[dict[str, Any]]:
    """Tolerations of every pool: for node-level DaemonSets (storage, backup data movers) that must run
    wherever a volume can be attached."""
    out: list[dict[str, Any]] = []
    for entry in (cluster.scheduling or {}).values():
        for t in entry.get("tolerations") or []:
            if dict(t) not in out:
                out.append(dict(t))
    return out


def place(values: dict[str, Any], prefixes: Sequence[str], where: dict[str, Any]) -> dict[str, Any]:
    """Put ``where`` (`nodeSelector`, `tolerations`) under each dotted ``prefix`` of ``values`` ('' = top)."""
    for prefix in prefixes:
        node = values
        for part in [p for p in prefix.split(".") if p]:
            node = node.setdefault(part, {})
        for key, value in where.items():
            node[key] = value
    return values


def node_affinity_terms(where: dict[str, Any]) -> list[dict[str, Any]]:
    """The placement's nodeSelector as required node-affinity match expressions (for charts whose
    `nodeSelector` default is not empty, so added keys would not be known values keys)."""
    return [{"key": k, "operator": "In", "values": [v]} for k, v in (where.get("nodeSelector") or {}).items()]


def place_by_affinity(values: dict[str, Any], prefixes: Sequence[str], where: dict[str, Any]) -> dict[str, Any]:
    """Like `place`, with a required nodeAffinity under `affinity` instead of `nodeSelector`."""
    terms = node_affinity_terms(where)
    spec: dict[str, Any] = {}
    if terms:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": terms}]}}}
    if where.get("tolerations"):
        spec["tolerations"] = where["tolerations"]
    return place(values, prefixes, spec)
