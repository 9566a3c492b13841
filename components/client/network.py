"""NetworkPolicies derived from the declared Workloads — never hand-listed (LESSONS.md).

Design: one `default-deny` policy selects every pod (ingress and egress); one `allow-dns` policy lets
every pod resolve names through the cluster DNS; then one `allow-<workload>` policy per Workload holds
exactly the rules its declaration (and its peers' declarations) imply. Every allow rule names a peer:
a pod selector, a namespace selector (by `kubernetes.io/metadata.name`) or an ipBlock with the
private ranges cut out. Turning a component off removes its Workload, hence its policy and every rule
on other workloads that mentioned it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import pulumi

from ..k8s import KubeObject, child_opts, meta
from .contract import (
    FROM_GATEWAY,
    FROM_MONITORING,
    FROM_SELF,
    TO_INTERNET_HTTPS,
    TO_KUBE_API,
    TO_SMTP,
    ClientContext,
    Workload,
)

#: A namespace is selected by its immutable name label (set by the API server; can't be spoofed by
#: labelling another namespace, unlike custom labels).
NS_NAME_LABEL = "kubernetes.io/metadata.name"
#: `ingress_from` entries `namespace:<name>` admit a platform namespace (e.g. an operator) on `ports`.
FROM_NAMESPACE_PREFIX = "namespace:"
#: CoreDNS/kube-dns pods carry this label on EKS, AKS, GKE and kubeadm clusters alike.
DNS_POD_LABELS = {"k8s-app": "kube-dns"}
DNS_NAMESPACE = "kube-system"
ANYWHERE = "0.0.0.0/0"
#: Egress target for pods that use GKE Workload Identity: the node's metadata server answers token
#: requests on 169.254.169.254:80 (Dataplane V2) / 169.254.169.252:988 (legacy network policy).
TO_CLOUD_METADATA = "cloud-metadata"
CLOUD_METADATA_ENDPOINTS = [("169.254.169.254/32", 80), ("169.254.169.252/32", 988)]
#: Egress targets `external:<name>` reach a service outside the cluster at the addresses and ports the
#: stack configures for it (`NetworkSettings.external`), e.g. a managed MongoDB — and nothing else there.
TO_EXTERNAL_PREFIX = "external:"


@dataclass
class NetworkSettings:
    """The few inputs that are not derived from the workloads."""

    gateway_namespace: str
    monitoring_namespace: str | None
    egress_except_cidrs: list[str]
    kube_api_ports: list[int]
    kube_api_cidrs: list[str] = field(default_factory=lambda: [ANYWHERE])
    smtp_port: int | None = None
    #: `external:<name>` targets: name -> (CIDRs, ports).
    external: dict[str, tuple[list[str], list[int]]] = field(default_factory=dict)


def _ports(ports: Iterable[int], protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"protocol": protocol, "port": int(p)} for p in sorted(set(int(p) for p in ports))]


def _ns_peer(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {NS_NAME_LABEL: name}}}


def _pod_peer(w: Workload) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": dict(w.pod_labels)}}


def derive_policies(workloads: list[Workload], s: NetworkSettings) -> dict[str, dict[str, Any]]:
    """`{policy name: spec}` for the workloads. Pure function (tests use it directly)."""
    by_name: dict[str, Workload] = {}
    for w in workloads:
        if w.name in by_name:
            raise ValueError(f"two workloads are both called {w.name!r}")
        by_name[w.name] = w
    specials = {TO_INTERNET_HTTPS, TO_KUBE_API, TO_SMTP, TO_CLOUD_METADATA, *(TO_EXTERNAL_PREFIX + n for n in s.external)}
    for w in workloads:
        unknown = [t for t in w.egress_to if t not in specials and t not in by_name]
        if unknown:
            raise ValueError(f"workload {w.name!r} egress_to names {unknown}, which are not enabled workloads "
                             f"(enabled: {sorted(by_name)})")

    policies: dict[str, dict[str, Any]] = {
        # Nothing flows unless a rule below says so.
        "default-deny": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        # Every pod may resolve names, only against the cluster DNS pods.
        "allow-dns": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [dns_egress_rule()]},
    }
    for w in workloads:
        spec = workload_policy(w, workloads, s)
        if spec is not None:
            policies[f"allow-{w.name}"] = spec
    return policies


def dns_egress_rule() -> dict[str, Any]:
    """Egress to the cluster DNS pods only (UDP and TCP 53)."""
    return {"to": [{**_ns_peer(DNS_NAMESPACE), "podSelector": {"matchLabels": DNS_POD_LABELS}}],
            "ports": _ports([53], "UDP") + _ports([53], "TCP")}


def workload_policy(w: Workload, workloads: list[Workload], s: NetworkSettings,
                    extra_egress: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """The `allow-<workload>` spec: every rule its own and its peers' declarations imply (None: no rules)."""
    by_name = {x.name: x for x in workloads}
    outside = {"ipBlock": {"cidr": ANYWHERE, "except": list(s.egress_except_cidrs)}}
    ingress: list[dict[str, Any]] = []
    egress: list[dict[str, Any]] = list(extra_egress or [])
    routed = list(w.routed_ports)
    if routed or FROM_GATEWAY in w.ingress_from:
        ingress.append({"from": [_ns_peer(s.gateway_namespace)], "ports": _ports(routed or w.ports)})
    if FROM_SELF in w.ingress_from and w.peer_ports:
        ingress.append({"from": [_pod_peer(w)], "ports": _ports(w.peer_ports)})
        egress.append({"to": [_pod_peer(w)], "ports": _ports(w.peer_ports)})
    if w.metrics_port and s.monitoring_namespace:
        ingress.append({"from": [_ns_peer(s.monitoring_namespace)], "ports": _ports([w.metrics_port])})
    elif FROM_MONITORING in w.ingress_from and s.monitoring_namespace and w.ports:
        ingress.append({"from": [_ns_peer(s.monitoring_namespace)], "ports": _ports(w.ports)})
    for entry in w.ingress_from:
        if entry.startswith(FROM_NAMESPACE_PREFIX) and w.ports:
            ingress.append({"from": [_ns_peer(entry[len(FROM_NAMESPACE_PREFIX):])], "ports": _ports(w.ports)})
    # Workload → workload: an ingress rule here for every source that names this workload.
    for src in workloads:
        if w.name in src.egress_to and src.name != w.name and w.ports:
            ingress.append({"from": [_pod_peer(src)], "ports": _ports(w.ports)})
    for target in w.egress_to:
        if target in by_name and target != w.name and by_name[target].ports:
            egress.append({"to": [_pod_peer(by_name[target])], "ports": _ports(by_name[target].ports)})
        elif target == TO_INTERNET_HTTPS:
            egress.append({"to": [outside], "ports": _ports([443])})
        elif target == TO_KUBE_API:
            egress.append({"to": [{"ipBlock": {"cidr": c}} for c in s.kube_api_cidrs],
                           "ports": _ports(s.kube_api_ports)})
        elif target == TO_SMTP and s.smtp_port:
            egress.append({"to": [outside], "ports": _ports([s.smtp_port])})
        elif target == TO_CLOUD_METADATA:
            egress += [{"to": [{"ipBlock": {"cidr": cidr}}], "ports": _ports([port])} for cidr, port in CLOUD_METADATA_ENDPOINTS]
        elif target.startswith(TO_EXTERNAL_PREFIX) and target[len(TO_EXTERNAL_PREFIX):] in s.external:
            cidrs, ports = s.external[target[len(TO_EXTERNAL_PREFIX):]]
            egress.append({"to": [{"ipBlock": {"cidr": c}} for c in cidrs], "ports": _ports(ports)})
    if not ingress and not egress:
        return None
    spec: dict[str, Any] = {"podSelector": {"matchLabels": dict(w.pod_labels)}, "policyTypes": []}
    if ingress:
        spec["policyTypes"].append("Ingress")
        spec["ingress"] = ingress
    if egress:
        spec["policyTypes"].append("Egress")
        spec["egress"] = egress
    return spec


def isolated_policy(w: Workload, s: NetworkSettings) -> dict[str, Any]:
    """A self-contained policy for a workload outside the client namespace (the restore drill in the
    velero namespace): no ingress at all, egress to DNS plus what it declares."""
    spec = workload_policy(w, [w], s, extra_egress=[dns_egress_rule()]) or {}
    spec["policyTypes"] = ["Ingress", "Egress"]
    spec.setdefault("ingress", [])
    return spec


class NetworkPolicies(pulumi.ComponentResource):
    """Default-deny plus the allows the enabled workloads declare."""

    def __init__(self, name: str, ctx: ClientContext, workloads: list[Workload],
                 settings: NetworkSettings, opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:client:NetworkPolicies", name, None, opts)
        self.specs = derive_policies(workloads, settings)
        self.policies = []
        for policy, spec in self.specs.items():
            self.policies.append(KubeObject(
                f"{name}-{policy}", "networking.k8s.io/v1", "NetworkPolicy",
                metadata=meta(policy, ctx.namespace, labels={**ctx.labels, "app.kubernetes.io/name": policy,
                                                             "app.kubernetes.io/component": "network-policy"}),
                spec=spec,
                opts=child_opts(self, ctx.provider, depends_on=[ctx.namespace_resource]),
            ))
        self.register_outputs({"policies": sorted(self.specs)})


def settings_for(ctx: ClientContext) -> NetworkSettings:
    """Network settings from the platform contract and the client's `network` section."""
    mon = ctx.platform.monitoring or {}
    net = ctx.config.network
    cloud = ctx.platform.cloud or {}
    return NetworkSettings(
        gateway_namespace=ctx.platform.gateway.namespace,
        monitoring_namespace=(mon.get("namespace") or "monitoring") if mon.get("enabled") else None,
        egress_except_cidrs=list(net.egress_except_cidrs),
        kube_api_ports=list(net.kube_api_ports),
        # The API server's addresses when the platform knows them; otherwise any address on the API ports.
        kube_api_cidrs=list(cloud.get("apiServerCidrs") or net.kube_api_cidrs or [ANYWHERE]),
        smtp_port=net.smtp_port,
        external=external_endpoints(ctx),
    )


def external_endpoints(ctx: ClientContext) -> dict[str, tuple[list[str], list[int]]]:
    """Services outside the cluster the stack's config names: a managed MongoDB (`mongodb.external`)."""
    ext = ctx.config.mongodb.external
    return {"mongodb": (list(ext.addresses), [ext.port])} if ext else {}
