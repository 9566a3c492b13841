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
from typing import Any

import pulumi

from ..k8s import KubeObject, child_opts, meta
from ..network_rules import (
    ANYWHERE,
    CLOUD_METADATA_ENDPOINTS,
    NS_NAME_LABEL,
    allow_dns,
    default_deny,
    dns_egress_rule,
)
from ..network_rules import ns_peer as _ns_peer
from ..network_rules import ports as _ports
from .contract import (
    FROM_GATEWAY,
    FROM_MONITORING,
    FROM_SELF,
    TO_BACKUP_STORE,
    TO_INTERNET_HTTPS,
    TO_KUBE_API,
    TO_SMTP,
    ClientContext,
    Workload,
)

#: `ingress_from` entries `namespace:<name>` admit a platform namespace (e.g. an operator) on `ports`.
FROM_NAMESPACE_PREFIX = "namespace:"
#: Egress target for pods that use GKE Workload Identity (the node's metadata server).
TO_CLOUD_METADATA = "cloud-metadata"
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
    #: Labels of the platform's Envoy and Prometheus pods ({}: an older platform that exports none).
    gateway_pod_labels: dict[str, str] = field(default_factory=dict)
    prometheus_pod_labels: dict[str, str] = field(default_factory=dict)
    #: `external:<name>` targets: name -> (CIDRs, ports).
    external: dict[str, tuple[list[str], list[int]]] = field(default_factory=dict)
    #: The platform's in-cluster backup store (self-contained platforms): (namespace, pod labels, port);
    #: None: the backup bucket is outside the cluster (HTTPS).
    backup_store: tuple[str, dict[str, str], int] | None = None


def routed_ports(w: Workload) -> list[int]:
    """Ports the shared Gateway's Envoy pods may reach on the workload."""
    return list(w.routed_ports) or (list(w.ports) if FROM_GATEWAY in w.ingress_from else [])


def scraped_ports(w: Workload, s: NetworkSettings) -> list[int]:
    """Ports the platform's Prometheus may reach on the workload (none without platform monitoring)."""
    if not s.monitoring_namespace:
        return []
    if w.metrics_port:
        return [w.metrics_port]
    return list(w.ports) if FROM_MONITORING in w.ingress_from else []


def _pod_peer(w: Workload) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": dict(w.pod_labels)}}


def derive_policies(workloads: list[Workload], s: NetworkSettings) -> dict[str, dict[str, Any]]:
    """`{policy name: spec}` for the workloads. Pure function (tests use it directly)."""
    by_name: dict[str, Workload] = {}
    for w in workloads:
        if w.name in by_name:
            raise ValueError(f"two workloads are both called {w.name!r}")
        by_name[w.name] = w
    specials = {TO_INTERNET_HTTPS, TO_KUBE_API, TO_SMTP, TO_CLOUD_METADATA, TO_BACKUP_STORE,
                *(TO_EXTERNAL_PREFIX + n for n in s.external)}
    for w in workloads:
        unknown = [t for t in w.egress_to if t not in specials and t not in by_name]
        if unknown:
            raise ValueError(f"workload {w.name!r} egress_to names {unknown}, which are not enabled workloads "
                             f"(enabled: {sorted(by_name)})")

    policies: dict[str, dict[str, Any]] = {"default-deny": default_deny(), "allow-dns": allow_dns()}
    for w in workloads:
        spec = workload_policy(w, workloads, s)
        if spec is not None:
            policies[f"allow-{w.name}"] = spec
    return policies


def workload_policy(w: Workload, workloads: list[Workload], s: NetworkSettings,
                    extra_egress: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """The `allow-<workload>` spec: every rule its own and its peers' declarations imply (None: no rules)."""
    by_name = {x.name: x for x in workloads}
    outside = {"ipBlock": {"cidr": ANYWHERE, "except": list(s.egress_except_cidrs)}}
    ingress: list[dict[str, Any]] = []
    egress: list[dict[str, Any]] = list(extra_egress or [])
    if routed_ports(w):
        ingress.append({"from": [_ns_peer(s.gateway_namespace)], "ports": _ports(routed_ports(w))})
    if FROM_SELF in w.ingress_from and w.peer_ports:
        ingress.append({"from": [_pod_peer(w)], "ports": _ports(w.peer_ports)})
        egress.append({"to": [_pod_peer(w)], "ports": _ports(w.peer_ports)})
    if scraped_ports(w, s):
        ingress.append({"from": [_ns_peer(str(s.monitoring_namespace))], "ports": _ports(scraped_ports(w, s))})
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
        elif target == TO_INTERNET_HTTPS or (target == TO_BACKUP_STORE and s.backup_store is None):
            egress.append({"to": [outside], "ports": _ports([443])})
        elif target == TO_BACKUP_STORE and s.backup_store is not None:
            store_ns, store_labels, store_port = s.backup_store
            egress.append({"to": [{"namespaceSelector": {"matchLabels": {NS_NAME_LABEL: store_ns}},
                                   "podSelector": {"matchLabels": dict(store_labels)}}], "ports": _ports([store_port])})
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


def platform_side_policies(workloads: list[Workload], s: NetworkSettings, namespace: str
                           ) -> dict[tuple[str, str], dict[str, Any]]:
    """`{(platform namespace, policy name): spec}`: the egress the platform's Envoy and Prometheus pods
    need to this namespace's routed and metrics ports. The platform namespaces deny all egress by
    default and know no client, so each client adds its own (peers by namespace name and pod labels)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for platform_ns, pod_labels, ports_of in (
            (s.gateway_namespace, s.gateway_pod_labels, routed_ports),
            (s.monitoring_namespace, s.prometheus_pod_labels, lambda w: scraped_ports(w, s))):
        rules = [{"to": [{**_ns_peer(namespace), "podSelector": {"matchLabels": dict(w.pod_labels)}}],
                  "ports": _ports(ports_of(w))} for w in workloads if ports_of(w)]
        if platform_ns and pod_labels and rules:
            out[(platform_ns, f"egress-to-{namespace}")] = {
                "podSelector": {"matchLabels": dict(pod_labels)}, "policyTypes": ["Egress"], "egress": rules}
    return out


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
        for (platform_ns, policy), spec in platform_side_policies(workloads, settings, ctx.namespace).items():
            self.policies.append(KubeObject(
                f"{name}-{policy}-{platform_ns}", "networking.k8s.io/v1", "NetworkPolicy",
                metadata=meta(policy, platform_ns, labels={**ctx.labels, "app.kubernetes.io/name": policy,
                                                           "app.kubernetes.io/component": "network-policy"}),
                spec=spec, opts=child_opts(self, ctx.provider)))
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
        gateway_pod_labels=dict(ctx.platform.gateway.proxy_pod_labels or {}),
        prometheus_pod_labels=dict(mon.get("prometheusPodLabels") or {}),
        external=external_endpoints(ctx),
        backup_store=backup_store(cloud),
    )


def backup_store(cloud: dict) -> tuple[str, dict[str, str], int] | None:
    """The platform's in-cluster backup store, from its `cloud` output (`backupStorePods`)."""
    pods = cloud.get("backupStorePods") or {}
    if not pods:
        return None
    return str(pods["namespace"]), {str(k): str(v) for k, v in (pods.get("labels") or {}).items()}, int(pods["port"])


def external_endpoints(ctx: ClientContext) -> dict[str, tuple[list[str], list[int]]]:
    """Services outside the cluster the stack's config names: a managed MongoDB (`mongodb.external`)."""
    ext = ctx.config.mongodb.external
    return {"mongodb": (list(ext.addresses), [ext.port])} if ext else {}
