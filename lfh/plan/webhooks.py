"""Webhook reachability: every admission webhook and CRD conversion webhook the cluster will call
points at a Service that exists, whose port maps (targetPort, by number or name) to a container port
of the pods it selects — and the control plane can reach that port.

The API server calls a webhook Service by connecting to a selected pod's IP on the target port. On a
private GKE cluster the control plane sits in a Google-managed network whose firewall rule lets it
open TCP connections to nodes and pods only on 443 and 10250, unless a firewall rule from the master
CIDR opens more ("Adding firewall rules for specific use cases",
https://cloud.google.com/kubernetes-engine/docs/how-to/private-clusters#add_firewall_rules). A webhook
on any other port fails every call it gets: with `failurePolicy: Fail` the API requests it guards fail.

Webhooks come from the rendered/our configurations and CRDs, and from operators that register theirs
at run time (table below, with sources).
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from .model import Finding, Plan, Resource
from .pods import workload_template
from .references import Cluster, selects
from .render import ClusterObject, cluster_objects

CHECK = "webhook-reachability"
#: What GKE's own firewall rule lets the control plane reach on a private cluster (see docstring).
GKE_PRIVATE_OPEN_PORTS = frozenset({443, 10250})
GKE_FIREWALL_DOC = "https://cloud.google.com/kubernetes-engine/docs/how-to/private-clusters#add_firewall_rules"
FIREWALL_TYPE = "gcp:compute/firewall:Firewall"
GKE_CLUSTER_TYPE = "gcp:container/cluster:Cluster"


@dataclass
class Webhook:
    source: ClusterObject
    name: str
    namespace: str
    service: str
    port: int
    #: "admission" or "conversion"
    kind: str
    #: Labels the serving workload (``source``) puts on its own pods at run time, for its Service to select them.
    self_labels: Optional[dict[str, str]] = None

    def label(self) -> str:
        return f"{self.kind} webhook {self.name!r} of {self.source.label()}"


def _service_ref(client_config: Any) -> Optional[dict[str, Any]]:
    ref = (client_config or {}).get("service") if isinstance(client_config, dict) else None
    return ref if isinstance(ref, dict) else None


def _runtime_webhooks(o: ClusterObject) -> Iterator[Webhook]:
    """Webhooks an operator registers itself once it runs (none of them is a rendered object).

    - Longhorn v1.12 longhorn-manager (`daemon`): ValidatingWebhookConfiguration `longhorn-webhook-validator`
      and MutatingWebhookConfiguration `longhorn-webhook-mutator` on Service `longhorn-admission-webhook`,
      port 9502 (longhorn-manager v1.12.1 webhook/server/server.go, types/types.go
      DefaultAdmissionWebhookPort), served by the manager pods, which label themselves
      `longhorn.io/admission-webhook: longhorn-admission-webhook` once it runs (app/daemon.go
      AddLabelToManagerPod(GetAdmissionWebhookLabel())); its conversion webhook (9501) is off
      (app/daemon.go `enableConversionWebhook = false`).
    """
    t = workload_template(o)
    if t is None:
        return
    for _, c in t.containers():
        if "longhorn-manager" in str(c.get("image", "")) and "daemon" in [str(a) for a in c.get("command") or []]:
            for name in ("longhorn-webhook-validator", "longhorn-webhook-mutator"):
                yield Webhook(o, f"{name} (registered by longhorn-manager at run time)", o.namespace,
                              "longhorn-admission-webhook", 9502, "admission",
                              {"longhorn.io/admission-webhook": "longhorn-admission-webhook"})


def webhooks(objects: list[ClusterObject]) -> Iterator[Webhook]:
    for o in objects:
        if o.kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
            for w in o.obj.get("webhooks") or []:
                ref = _service_ref(w.get("clientConfig"))
                if ref:
                    yield Webhook(o, str(w.get("name")), str(ref.get("namespace")), str(ref.get("name")),
                                  int(ref.get("port") or 443), "admission")
        elif o.kind == "CustomResourceDefinition":
            conversion = (o.obj.get("spec") or {}).get("conversion") or {}
            if conversion.get("strategy") == "Webhook":
                ref = _service_ref(((conversion.get("webhook") or {}).get("clientConfig")))
                if ref:
                    yield Webhook(o, o.name, str(ref.get("namespace")), str(ref.get("name")),
                                  int(ref.get("port") or 443), "conversion")
        else:
            yield from _runtime_webhooks(o)


def target_ports(cluster: Cluster, w: Webhook) -> tuple[list[int], str]:
    """The container ports the webhook's Service sends to, or ([], what is wrong)."""
    svc = cluster.get("Service", w.namespace, w.service)
    if svc is None:
        return [], f"Service {w.namespace}/{w.service} does not exist"
    ports = [p for p in (svc.obj.get("spec") or {}).get("ports") or [] if int(p.get("port", 0)) == w.port]
    if not ports:
        return [], f"Service {w.namespace}/{w.service} has no port {w.port}"
    target = ports[0].get("targetPort", w.port)
    selector = (svc.obj.get("spec") or {}).get("selector") or {}
    pods = [t for t in cluster.pods_in(w.namespace) if selector and selects(
        {"matchLabels": selector}, {**t.labels, **((w.self_labels or {}) if t.owner.obj is w.source.obj else {})})]
    if not pods:
        return [], f"Service {w.namespace}/{w.service} selects no pod (selector {selector})"
    found: set[int] = set()
    for t in pods:
        for _, c in t.containers():
            for p in c.get("ports") or []:
                if (str(target) == str(p.get("name")) if not str(target).isdigit() else int(target) == int(p.get("containerPort", 0))):
                    found.add(int(p["containerPort"]))
    if not found:
        return [], (f"targetPort {target!r} of Service {w.namespace}/{w.service} is no container port of the pods it "
                    f"selects ({', '.join(sorted({t.owner.name for t in pods}))})")
    return sorted(found), ""


# ---------------------------------------------------------------- private GKE


def _cidr(text: Any) -> Optional[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return ipaddress.ip_network(str(text), strict=False)
    except ValueError:
        return None


def _port_ranges(allow: dict[str, Any]) -> Iterator[tuple[int, int]]:
    if str(allow.get("protocol", "")).lower() not in ("tcp", "all"):
        return
    ports = allow.get("ports") or []
    if not ports:  # no ports: every port of the protocol
        yield 0, 65535
    for p in ports:
        low, _, high = str(p).partition("-")
        yield int(low), int(high or low)


@dataclass
class PrivateGke:
    cluster: Resource
    master_cidr: str
    firewalls: list[Resource]

    def opened(self, port: int) -> Optional[Resource]:
        """The firewall rule that lets the control plane reach ``port`` on the nodes, if any."""
        master = _cidr(self.master_cidr)
        node_accounts = {str((self.cluster.inputs.get("nodeConfig") or {}).get("serviceAccount") or "")}
        for fw in self.firewalls:
            i = fw.inputs
            if str(i.get("direction", "INGRESS")) != "INGRESS" or i.get("disabled"):
                continue
            if i.get("network") and self.cluster.inputs.get("network") and i["network"] != self.cluster.inputs["network"]:
                continue
            sources = [_cidr(s) for s in i.get("sourceRanges") or []]
            if master is None or not any(s is not None and s.version == master.version and master.subnet_of(s) for s in sources):
                continue
            targets = i.get("targetServiceAccounts")
            if targets and not node_accounts & {str(t) for t in targets}:
                continue
            if any(low <= port <= high for allow in i.get("allows") or [] for low, high in _port_ranges(allow)):
                return fw
        return None


def private_gke(plan: Plan) -> Optional[PrivateGke]:
    """The plan's (or, for a client, its platform's) private GKE cluster and firewall rules."""
    for p in (plan, plan.platform):
        if p is None:
            continue
        for r in p.resources:
            private = r.inputs.get("privateClusterConfig") or {}
            if r.type == GKE_CLUSTER_TYPE and private.get("enablePrivateNodes"):
                return PrivateGke(r, str(private.get("masterIpv4CidrBlock") or ""), p.of_type(FIREWALL_TYPE))
    return None


def analyze(plan: Plan) -> None:
    cluster = Cluster(plan)
    gke = private_gke(plan)
    own = cluster_objects(plan, phases=("object", "hook", "crd"))
    for w in webhooks(own):
        ports, problem = target_ports(cluster, w)
        if problem:
            plan.findings.append(Finding(CHECK, "error", w.source.urn,
                                         f"{w.label()}: {problem} — the API server cannot call it; fix: point the "
                                         "webhook at a Service whose port reaches the serving container"))
            continue
        if gke is None:
            continue
        for port in ports:
            if port in GKE_PRIVATE_OPEN_PORTS or gke.opened(port):
                continue
            plan.findings.append(Finding(
                CHECK, "error", w.source.urn,
                f"{w.label()}: serves on pod port {port}, but on private GKE cluster {gke.cluster.name} the control "
                f"plane reaches nodes only on {sorted(GKE_PRIVATE_OPEN_PORTS)} and no {FIREWALL_TYPE} from the master "
                f"CIDR {gke.master_cidr} opens tcp:{port} — every call fails; fix: open tcp:{port} from the master CIDR "
                f"to the nodes (components/cluster/gcp.py WEBHOOK_PORTS) ({GKE_FIREWALL_DOC})"))


__all__ = ["CHECK", "GKE_PRIVATE_OPEN_PORTS", "Webhook", "analyze", "private_gke", "target_ports", "webhooks"]
