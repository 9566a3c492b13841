"""NetworkPolicies of the platform namespaces, derived from what each add-on declares about its pods.

Each add-on module keeps, next to its component, a list of `PodSet`s (`network_pods(...)`): the pods
its chart or its operator runs, selected by the labels they really carry, the ports they listen on
and who may connect to each, and what they connect to. `derive` turns the declarations of every
enabled add-on into policies, the same way the client baseline derives its policies from Workloads:

- `default-deny` (ingress and egress) and `allow-dns` in every platform namespace;
- one `allow-<pod set>` per PodSet holding every rule its own and the other declarations imply: a
  link "A connects to B's port p" is one egress rule on A and one ingress rule on B, each naming the
  other by pod (and, across namespaces, namespace-name) selector;
- the shared gateway's Envoy pods reach every port declared `GATEWAY`; Prometheus reaches every port
  declared `PROMETHEUS` (those rules vanish when monitoring is off); the control plane reaches
  every `CONTROL_PLANE` port from where the cluster contract says it calls from.

The Pulumi program cannot render charts, so the declarations are data in code; the plan renders
every chart and `lfh/plan/network_policies.py` proves the declarations select every pod and admit
every port a Service, webhook, route or ServiceMonitor targets.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import pulumi

from ..k8s import KubeObject, child_opts, labels, meta
from .contract import CLIENT_NAMESPACE_LABEL
from ..network_rules import (
    ANYWHERE,
    KUBE_API_PORTS,
    PRIVATE_RANGES,
    allow_dns,
    cidr_peer,
    default_deny,
    pods_peer,
    port_range,
)

# --------------------------------------------------------------------------- who may connect to a port

#: The shared Gateway's Envoy pods (the port is a routed backend).
GATEWAY = "gateway"
#: The platform Prometheus (a metrics port); dropped when monitoring is off.
PROMETHEUS = "prometheus"
#: The Kubernetes API server calling a webhook. It is not a pod: see `NetworkSettings.control_plane_peers`.
CONTROL_PLANE = "control-plane"
#: Processes on the cluster's nodes (not pods): e.g. the kubelet's NFS client mounting a Longhorn share.
NODES = "nodes"
#: Every address and every pod (the gateway's public listeners).
ANYONE = "anyone"
#: Other pods of the same set (replica peers).
SELF = "self"
#: Pods of every client namespace (namespaces labelled `lfh.io/client-namespace: "true"`), e.g. their
#: backup agents writing to an in-cluster object store.
CLIENTS = "clients"
PEER_ROLES = (GATEWAY, PROMETHEUS, CONTROL_PLANE, NODES, ANYONE, SELF, CLIENTS)

#: Annotation on an `allow-<pod set>` policy: ports a Service exposes that no one may reach, and why.
CLOSED_PORTS_ANNOTATION = "lfh.io/closed-ports"


@dataclass(frozen=True)
class Port:
    """A port the pods listen on (``end`` makes it the range port..end)."""

    name: str
    port: int
    #: Who may connect (GATEWAY, PROMETHEUS, CONTROL_PLANE, NODES, ANYONE, SELF); another pod set
    #: connects by naming this port in its `connects_to`.
    peers: tuple[str, ...] = ()
    protocol: str = "TCP"
    end: int | None = None

    def rule_port(self) -> dict[str, Any]:
        return port_range(self.port, self.end, self.protocol)


# --------------------------------------------------------------------------- what a pod set connects to


@dataclass(frozen=True)
class To:
    """Pods of another declared set: ``target`` is `<pod set>` (same namespace) or `<namespace>/<pod set>`;
    ``ports`` are names of its `Port`s."""

    target: str
    ports: tuple[str, ...]


@dataclass(frozen=True)
class Outside:
    """Addresses outside the cluster on ``ports`` (cloud APIs, ACME, Git): anywhere but the private
    ranges, plus the private endpoints the platform config names (`network.privateEndpointCidrs`)."""

    ports: tuple[int, ...]
    protocol: str = "TCP"
    #: Private ranges too (e.g. a load balancer's address, which may be internal).
    include_private: bool = False


@dataclass(frozen=True)
class Pods:
    """Pods that are no platform add-on's (e.g. kube-system's CoreDNS metrics), by namespace and labels."""

    namespace: str
    labels: tuple[tuple[str, str], ...]
    ports: tuple[int, ...]


@dataclass(frozen=True)
class Nodes:
    """The cluster's nodes on ``ports`` (kubelet, node exporter, kube-proxy metrics)."""

    ports: tuple[int, ...]


@dataclass(frozen=True)
class CloudIdentity:
    """Wherever the cloud identity bound to ``addon`` gets its tokens, if not over HTTPS to the internet
    (GKE Workload Identity: the node's metadata server). IRSA (AWS STS) and Azure Workload Identity
    (Entra ID) exchange the projected token over HTTPS, which `Outside(443)` already allows."""

    addon: str


#: The Kubernetes API (operators, controllers, webhooks' own API calls, hook jobs).
KUBE_API = "kube-api"
#: The backup object store (bucket API endpoint, or the S3-compatible endpoint's host and port).
OBJECT_STORE = "object-store"
#: The secret manager behind the platform ClusterSecretStore.
SECRET_STORE = "secret-store"

Egress = str | To | Outside | Pods | Nodes | CloudIdentity


@dataclass
class PodSet:
    """One set of pods of a platform add-on, as its chart or operator really labels them."""

    #: Unique within the namespace; the policy is `allow-<name>`.
    name: str
    namespace: str
    #: `matchLabels` the pods carry (as rendered by the chart, or as the operator documents).
    labels: dict[str, str]
    ports: tuple[Port, ...] = ()
    connects_to: tuple[Egress, ...] = ()
    #: `matchExpressions` for pods whose label values are per object (`(key, operator, values)`).
    expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    #: GATEWAY or PROMETHEUS when these pods are that peer for everyone else.
    role: str = ""
    #: Ports a Service exposes that no one may reach: {port: why}.
    closed: dict[int, str] = field(default_factory=dict)

    @property
    def selector(self) -> dict[str, Any]:
        sel: dict[str, Any] = {}
        if self.labels:
            sel["matchLabels"] = dict(self.labels)
        if self.expressions:
            sel["matchExpressions"] = [{"key": k, "operator": op, **({"values": list(v)} if v else {})}
                                       for k, op, v in self.expressions]
        return sel

    def port(self, name: str) -> Port:
        for p in self.ports:
            if p.name == name:
                return p
        raise ValueError(f"pod set {self.namespace}/{self.name} has no port {name!r} "
                         f"(ports: {', '.join(p.name for p in self.ports) or 'none'})")


def job_pods(*job_names: str) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """Pods of the named Jobs: the Job controller labels every pod `batch.kubernetes.io/job-name: <job>`
    (Kubernetes docs, "Jobs": labels set by the controller) — for hook Jobs whose chart sets no labels."""
    return (("batch.kubernetes.io/job-name", "In", tuple(job_names)),)


def has_label(key: str) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    return ((key, "Exists", ()),)


# --------------------------------------------------------------------------- settings from the contract


@dataclass
class NetworkSettings:
    """What the derivation needs besides the declarations (from the cluster contract and platform config)."""

    #: Where the API server's addresses are (pods' API calls go there; on EKS/GKE it calls webhooks from there).
    api_server_cidrs: list[str] = field(default_factory=list)
    #: Pods the API server tunnels through to reach webhooks (konnectivity agents): [{namespace, labels}].
    api_server_tunnel_pods: list[dict[str, Any]] = field(default_factory=list)
    #: The nodes' addresses.
    node_cidrs: list[str] = field(default_factory=list)
    egress_except_cidrs: list[str] = field(default_factory=lambda: list(PRIVATE_RANGES))
    private_endpoint_cidrs: list[str] = field(default_factory=list)
    #: Port of the backup object store / secret manager endpoints (443 for cloud APIs).
    object_store_port: int = 443
    secret_store_port: int = 443
    #: Per add-on: where its cloud identity gets tokens, when not over HTTPS ([(cidr, port)]).
    token_endpoints: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    #: `<namespace>/<pod set>` of an in-cluster backup object store (self-contained clusters): OBJECT_STORE
    #: egress then goes to those pods, not outside the cluster ('' = the store is outside).
    object_store_set: str = ""
    #: Platform namespaces where no pod runs (a locked secret store): default-deny and nothing else.
    podless_namespaces: tuple[str, ...] = ()

    def control_plane_peers(self) -> list[dict[str, Any]]:
        """Where webhook calls come from: the API server's CIDRs and tunnel pods the contract names, else
        anywhere (any address and any pod) — the rule still opens the webhook port only."""
        peers = [cidr_peer(c) for c in self.api_server_cidrs]
        peers += [pods_peer(t["namespace"], {"matchLabels": dict(t["labels"])}) for t in self.api_server_tunnel_pods]
        return peers or _anyone()

    def api_peers(self) -> list[dict[str, Any]]:
        return [cidr_peer(c) for c in (self.api_server_cidrs or [ANYWHERE])]

    def node_peers(self) -> list[dict[str, Any]]:
        return [cidr_peer(c) for c in (self.node_cidrs or [ANYWHERE])]

    def outside_peers(self, include_private: bool = False) -> list[dict[str, Any]]:
        if include_private:
            return [cidr_peer(ANYWHERE)]
        return [cidr_peer(ANYWHERE, self.egress_except_cidrs)] + [cidr_peer(c) for c in self.private_endpoint_cidrs]


def url_port(url: str, default: int = 443) -> int:
    """The TCP port of an endpoint URL (`https://s3.example.com:9000` -> 9000; scheme default otherwise)."""
    if not url:
        return default
    parsed = urlparse(url if "://" in url else f"https://{url}")
    return parsed.port or (80 if parsed.scheme == "http" else 443)


def _anyone() -> list[dict[str, Any]]:
    # An ipBlock does not match pod addresses in every implementation (Cilium treats cluster pods apart),
    # so "anyone" names every pod too.
    return [cidr_peer(ANYWHERE), {"namespaceSelector": {}}]


# --------------------------------------------------------------------------- derivation


def _ref(ps: PodSet, target: str) -> tuple[str, str]:
    ns, _, name = target.rpartition("/")
    return (ns or ps.namespace, name)


def _peer_of(target: PodSet, policy_ns: str) -> dict[str, Any]:
    return pods_peer(None if target.namespace == policy_ns else target.namespace, target.selector)


def _merge(rules: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Rules with the same peers become one rule with their ports; exact duplicates go."""
    out: list[dict[str, Any]] = []
    for rule in rules:
        for seen in out:
            if seen[key] == rule[key]:
                for p in rule["ports"]:
                    if p not in seen["ports"]:
                        seen["ports"].append(p)
                break
        else:
            out.append({key: rule[key], "ports": list(rule["ports"])})
    for rule in out:
        rule["ports"].sort(key=lambda p: (p["protocol"], p["port"], p.get("endPort", 0)))
    return out


def validate(pod_sets: Sequence[PodSet], s: NetworkSettings | None = None) -> dict[tuple[str, str], PodSet]:
    """Index by (namespace, name); refuses duplicates, unknown targets and unknown port names."""
    index: dict[tuple[str, str], PodSet] = {}
    for ps in pod_sets:
        key = (ps.namespace, ps.name)
        if key in index:
            raise ValueError(f"two platform pod sets are both called {ps.namespace}/{ps.name}")
        index[key] = ps
        for p in ps.ports:
            bad = [r for r in p.peers if r not in PEER_ROLES]
            if bad:
                raise ValueError(f"pod set {ps.namespace}/{ps.name} port {p.name}: unknown peers {bad} (known: {PEER_ROLES})")
    for ps in pod_sets:
        for dest in ps.connects_to:
            if isinstance(dest, To):
                key = _ref(ps, dest.target)
                if key not in index:
                    raise ValueError(f"pod set {ps.namespace}/{ps.name} connects to {dest.target!r}, which is no "
                                     f"enabled pod set (enabled: {', '.join(sorted('/'.join(k) for k in index))})")
                for name in dest.ports:
                    index[key].port(name)
            elif isinstance(dest, str) and dest not in (KUBE_API, OBJECT_STORE, SECRET_STORE):
                raise ValueError(f"pod set {ps.namespace}/{ps.name}: unknown egress target {dest!r}")
            elif dest == OBJECT_STORE and s is not None and s.object_store_set:
                store = index.get(_ref(ps, s.object_store_set))
                if store is None or not any(p.port == s.object_store_port for p in store.ports):
                    raise ValueError(f"the in-cluster object store {s.object_store_set} is no enabled pod set with "
                                     f"port {s.object_store_port}")
    return index


def derive(pod_sets: Sequence[PodSet], s: NetworkSettings) -> dict[str, dict[str, dict[str, Any]]]:
    """`{namespace: {policy name: NetworkPolicy object body (metadata annotations + spec)}}`. Pure."""
    index = validate(pod_sets, s)
    gateway = [ps for ps in pod_sets if ps.role == GATEWAY]
    prometheus = [ps for ps in pod_sets if ps.role == PROMETHEUS]
    ingress: dict[tuple[str, str], list[dict[str, Any]]] = {k: [] for k in index}
    egress: dict[tuple[str, str], list[dict[str, Any]]] = {k: [] for k in index}

    def link(src: PodSet, dst: PodSet, port_list: Iterable[Port]) -> None:
        rule_ports = [p.rule_port() for p in port_list]
        if not rule_ports:
            return
        egress[(src.namespace, src.name)].append({"to": [_peer_of(dst, src.namespace)], "ports": rule_ports})
        ingress[(dst.namespace, dst.name)].append({"from": [_peer_of(src, dst.namespace)], "ports": rule_ports})

    for ps in pod_sets:
        key = (ps.namespace, ps.name)
        for p in ps.ports:
            for role in p.peers:
                if role == SELF:
                    link(ps, ps, [p])
                elif role == GATEWAY:
                    for gw in gateway:
                        link(gw, ps, [p])
                elif role == PROMETHEUS:
                    for prom in prometheus:
                        link(prom, ps, [p])
                elif role == CONTROL_PLANE:
                    ingress[key].append({"from": s.control_plane_peers(), "ports": [p.rule_port()]})
                elif role == NODES:
                    ingress[key].append({"from": s.node_peers(), "ports": [p.rule_port()]})
                elif role == ANYONE:
                    ingress[key].append({"from": _anyone(), "ports": [p.rule_port()]})
                elif role == CLIENTS:
                    ingress[key].append({"from": [{"namespaceSelector": {"matchLabels": {CLIENT_NAMESPACE_LABEL: "true"}}}],
                                         "ports": [p.rule_port()]})
        for dest in ps.connects_to:
            if isinstance(dest, To):
                target = index[_ref(ps, dest.target)]
                link(ps, target, [target.port(n) for n in dest.ports])
            elif dest == KUBE_API:
                egress[key].append({"to": s.api_peers(), "ports": [port_range(p) for p in KUBE_API_PORTS]})
            elif dest == OBJECT_STORE and s.object_store_set:
                store = index[_ref(ps, s.object_store_set)]
                link(ps, store, [p for p in store.ports if p.port == s.object_store_port])
            elif dest == OBJECT_STORE:
                egress[key].append({"to": s.outside_peers(), "ports": [port_range(s.object_store_port)]})
            elif dest == SECRET_STORE:
                egress[key].append({"to": s.outside_peers(), "ports": [port_range(s.secret_store_port)]})
            elif isinstance(dest, Outside):
                egress[key].append({"to": s.outside_peers(dest.include_private),
                                    "ports": [port_range(p, protocol=dest.protocol) for p in dest.ports]})
            elif isinstance(dest, Nodes):
                egress[key].append({"to": s.node_peers(), "ports": [port_range(p) for p in dest.ports]})
            elif isinstance(dest, Pods):
                egress[key].append({"to": [pods_peer(dest.namespace, {"matchLabels": dict(dest.labels)})],
                                    "ports": [port_range(p) for p in dest.ports]})
            elif isinstance(dest, CloudIdentity):
                for cidr, port in s.token_endpoints.get(dest.addon, []):
                    egress[key].append({"to": [cidr_peer(cidr)], "ports": [port_range(port)]})

    out: dict[str, dict[str, dict[str, Any]]] = {
        ns: {"default-deny": {"spec": default_deny()}} for ns in s.podless_namespaces}
    for ps in pod_sets:
        key = (ps.namespace, ps.name)
        policies = out.setdefault(ps.namespace, {"default-deny": {"spec": default_deny()},
                                                 "allow-dns": {"spec": allow_dns()}})
        body: dict[str, Any] = {"spec": {
            "podSelector": ps.selector,
            # Both directions always: a pod set that declares nothing is isolated on purpose, and the
            # policy still says so by selecting it.
            "policyTypes": ["Ingress", "Egress"],
        }}
        for direction, rules, peers_key in (("ingress", ingress[key], "from"), ("egress", egress[key], "to")):
            if rules:
                body["spec"][direction] = _merge(rules, peers_key)
        closed = dict(ps.closed)
        if not prometheus:
            closed.update({p.port: "monitoring is off on this platform (monitoring.enabled: false): nothing scrapes it"
                           for p in ps.ports if PROMETHEUS in p.peers and p.port not in closed})
        if closed:
            body["annotations"] = {CLOSED_PORTS_ANNOTATION: "; ".join(
                f"{port}: {why}" for port, why in sorted(closed.items()))}
        policies[f"allow-{ps.name}"] = body
    return out


def closed_ports(annotations: dict[str, Any] | None) -> dict[int, str]:
    """{port: why} from a policy's `lfh.io/closed-ports` annotation."""
    out: dict[int, str] = {}
    for part in str((annotations or {}).get(CLOSED_PORTS_ANNOTATION, "")).split("; "):
        port, _, why = part.partition(": ")
        if port.strip().isdigit():
            out[int(port)] = why
    return out


# --------------------------------------------------------------------------- the component side


class PlatformNetwork:
    """Every enabled add-on's pod declarations, derived once; each add-on component creates its own
    namespace's policies with `create`."""

    def __init__(self, pod_sets: Sequence[PodSet], settings: NetworkSettings):
        self.pod_sets = list(pod_sets)
        self.settings = settings
        self.policies = derive(self.pod_sets, settings)

    def create(self, parent: pulumi.Resource, provider: pulumi.ProviderResource, namespace: str, *,
               depends_on: Sequence[pulumi.Resource] = (), prefix: str = "") -> list[KubeObject]:
        """The namespace's policies as children of ``parent`` (the add-on's component). Releases
        depend on them, so hook Jobs and pods start with their allows in place. ``prefix`` tells apart
        the resource names of a component that owns several namespaces."""
        objects = []
        for policy, body in self.policies.get(namespace, {}).items():
            objects.append(KubeObject(
                f"{parent._name}-netpol-{prefix + '-' if prefix else ''}{policy}",  # type: ignore[attr-defined]
                "networking.k8s.io/v1", "NetworkPolicy",
                metadata=meta(policy, namespace, labels=labels(policy, component="network-policy"),
                              annotations=body.get("annotations")),
                spec=body["spec"],
                opts=child_opts(parent, provider, depends_on=list(depends_on))))
        return objects


def settings_from(cluster: Any, network_cfg: Any, *, object_store_url: str = "",
                  secret_store_url: str = "") -> NetworkSettings:
    """Settings from the cluster contract and the platform's `network` config section."""
    return NetworkSettings(
        api_server_cidrs=list(cluster.api_server_cidrs),
        api_server_tunnel_pods=[dict(t) for t in cluster.api_server_tunnel_pods],
        node_cidrs=list(cluster.node_cidrs),
        egress_except_cidrs=list(network_cfg.egress_except_cidrs),
        private_endpoint_cidrs=list(network_cfg.private_endpoint_cidrs),
        object_store_port=url_port(object_store_url),
        secret_store_port=url_port(secret_store_url),
        token_endpoints={addon: [(str(c), int(p)) for c, p in b.token_endpoints]
                         for addon, b in (cluster.addon_identities or {}).items() if b.token_endpoints},
    )


__all__ = [
    "ANYONE",
    "CLOSED_PORTS_ANNOTATION",
    "CONTROL_PLANE",
    "GATEWAY",
    "KUBE_API",
    "NODES",
    "OBJECT_STORE",
    "PROMETHEUS",
    "SECRET_STORE",
    "SELF",
    "CloudIdentity",
    "NetworkSettings",
    "Nodes",
    "Outside",
    "PlatformNetwork",
    "PodSet",
    "Pods",
    "Port",
    "To",
    "closed_ports",
    "derive",
    "has_label",
    "job_pods",
    "settings_from",
    "url_port",
]
