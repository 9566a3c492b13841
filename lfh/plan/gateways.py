"""Gateway capacity and attachment: every Gateway and ListenerSet within its listener limit, every
ListenerSet admitted by its Gateway, every HTTPRoute attached to a listener that admits it.

Facts (Gateway API v1.6.1; cited where they are used):
- `Gateway.spec.listeners` and `ListenerSet.spec.listeners` have `maxItems: 64` in the pinned CRDs; the
  limits are read from those CRDs (the standard bundle, and the envoy-gateway chart's ListenerSet CRD,
  identical to the standard one at v1.6.1), not hard-coded.
- A Gateway admits ListenerSets only through `spec.allowedListeners.namespaces.from` (`Same`, `All`,
  `Selector`; default `None`: none at all).
- A listener admits routes by `allowedRoutes.namespaces.from` (default `Same`, relative to the
  Gateway's or the ListenerSet's namespace) and, with a hostname, only routes with an intersecting
  hostname; a route's `parentRef.namespace` defaults to its own namespace.
- Listeners from ListenerSets merge into the Gateway's; on the same port two listeners with the same
  hostname conflict (the older one wins, the other is `Conflicted`).

The report section `gateways` gives each Gateway's listener count against its limit and, for each
ListenerSet in the plan, its own count and the headroom left.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from .model import Finding, Plan

CHECK = "gateway-capacity"
ATTACH = "route-attachment"
GATEWAY_API = "gateway.networking.k8s.io/v1"
#: The CRDs' `maxItems` when no CRD can be read (it is 64 in every Gateway API release so far).
FALLBACK_LIMIT = 64
NS_NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass
class Listeners:
    """A Gateway or a ListenerSet and what it holds."""

    kind: str
    namespace: str
    name: str
    urn: str
    listeners: list[dict[str, Any]]
    limit: int
    #: Gateway only: `allowedListeners`; ListenerSet only: (namespace, name) of its parent Gateway.
    allowed_listeners: dict[str, Any] = field(default_factory=dict)
    parent: Optional[tuple[str, str]] = None
    ours: bool = True

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


def listener_limit(plan: Plan, kind: str) -> tuple[int, str]:
    """`spec.listeners.maxItems` of ``kind``'s pinned CRD, and where it came from."""
    from .conformance import crd_schema

    schema = crd_schema(plan, GATEWAY_API, kind) or {}
    limit = (((schema.get("properties") or {}).get("spec") or {}).get("properties") or {}).get("listeners", {}).get("maxItems")
    if isinstance(limit, (int, float)):
        return int(limit), f"{kind} CRD spec.listeners.maxItems"
    return FALLBACK_LIMIT, f"{kind} CRD not found: Gateway API's documented limit"


def namespace_labels(objects: Iterable[Any]) -> dict[str, dict[str, str]]:
    """Labels of every Namespace the plans create, with the API server's own name label added."""
    out: dict[str, dict[str, str]] = {}
    for o in objects:
        if o.obj.get("kind") == "Namespace":
            meta = o.obj.get("metadata") or {}
            out[meta.get("name", "")] = {**(meta.get("labels") or {}), NS_NAME_LABEL: meta.get("name", "")}
    return out


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against a label set."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), list(expr.get("values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def admits(namespaces: Optional[dict[str, Any]], owner_ns: str, candidate_ns: str,
           ns_labels: dict[str, dict[str, str]], default: str = "Same") -> bool:
    """Whether a `namespaces: {from, selector}` block of an object in ``owner_ns`` admits ``candidate_ns``."""
    frm = (namespaces or {}).get("from") or default
    if frm == "All":
        return True
    if frm == "Same":
        return candidate_ns == owner_ns
    if frm == "Selector":
        labels = ns_labels.get(candidate_ns, {NS_NAME_LABEL: candidate_ns})
        return selector_matches((namespaces or {}).get("selector") or {}, labels)
    return False  # None


def hostnames_intersect(listener_host: Optional[str], route_hosts: list[str]) -> bool:
    """Gateway API hostname matching: no hostname on either side matches all; `*.x` matches one or more
    labels under x (the listener/route wildcard rules of HTTPRoute.spec.hostnames)."""
    if not listener_host or not route_hosts:
        return True

    def match(a: str, b: str) -> bool:
        if a == b:
            return True
        if a.startswith("*.") and b.endswith(a[1:]) and len(b) > len(a) - 1:
            return True
        return b.startswith("*.") and a.endswith(b[1:]) and len(a) > len(b) - 1

    return any(match(listener_host, h) for h in route_hosts)


def collect(plan: Plan) -> tuple[list[Listeners], list[Any], dict[str, dict[str, str]]]:
    """Gateways and ListenerSets the cluster will hold (this plan's and, for a client, its platform's),
    the plan's own HTTPRoutes, and the namespaces' labels."""
    from .render import cluster_objects

    own = cluster_objects(plan)
    everything = cluster_objects(plan, with_platform=True)
    own_urns = {o.urn for o in own}
    gw_limit = listener_limit(plan, "Gateway")[0]
    ls_limit = listener_limit(plan, "ListenerSet")[0]
    holders: list[Listeners] = []
    seen: set[tuple[str, str, str]] = set()
    for o in everything:
        kind = o.kind
        if kind not in ("Gateway", "ListenerSet") or not str(o.obj.get("apiVersion", "")).startswith("gateway.networking.k8s.io/"):
            continue
        if o.phase == "patch":
            continue
        key = (kind, o.namespace, o.name)
        if key in seen:
            continue
        seen.add(key)
        spec = o.obj.get("spec") or {}
        entry = Listeners(kind, o.namespace, o.name, o.urn, list(spec.get("listeners") or []),
                          gw_limit if kind == "Gateway" else ls_limit, ours=o.urn in own_urns)
        if kind == "Gateway":
            entry.allowed_listeners = dict(spec.get("allowedListeners") or {})
        else:
            parent = spec.get("parentRef") or {}
            entry.parent = (parent.get("namespace") or o.namespace, parent.get("name", ""))
        holders.append(entry)
    routes = [o for o in own if o.kind == "HTTPRoute" and o.phase != "patch"]
    return holders, routes, namespace_labels(everything)


def analyze(plan: Plan) -> None:
    holders, routes, ns_labels = collect(plan)
    if not holders and not routes:
        return
    gateways = {(h.namespace, h.name): h for h in holders if h.kind == "Gateway"}
    sets = {(h.namespace, h.name): h for h in holders if h.kind == "ListenerSet"}
    findings: list[Finding] = []

    for h in holders:
        if not h.ours:
            continue
        if len(h.listeners) > h.limit:
            findings.append(Finding(CHECK, "error", h.urn, (
                f"{h.label} has {len(h.listeners)} listeners; the pinned CRD allows at most {h.limit} "
                f"(spec.listeners maxItems): the API server rejects it. "
                + ("Move client listeners into per-client ListenerSets attached to this Gateway."
                   if h.kind == "Gateway" else "Split the listeners over more ListenerSets."))))
        names = [lst.get("name") for lst in h.listeners]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            findings.append(Finding(CHECK, "error", h.urn, f"{h.label}: listener name {dup!r} is used twice; names must be unique"))
        if h.kind == "ListenerSet":
            gw = gateways.get(h.parent or ("", ""))
            if gw is None:
                findings.append(Finding(ATTACH, "error", h.urn, (
                    f"{h.label}: its parent Gateway {h.parent[0]}/{h.parent[1]} is not in this plan or its platform's; "
                    "set spec.parentRef to the platform contract's gateway")))
            elif not admits(gw.allowed_listeners.get("namespaces"), gw.namespace, h.namespace, ns_labels, default="None"):
                findings.append(Finding(ATTACH, "error", h.urn, (
                    f"{h.label} is not admitted by {gw.label}: its spec.allowedListeners "
                    f"({gw.allowed_listeners or 'unset: None'}) does not select namespace {h.namespace}; the listeners "
                    "would never be programmed. Create the ListenerSet where the Gateway allows it.")))

    # Same port and hostname on two listeners of one Gateway (its own or attached): one is Conflicted.
    for gw in gateways.values():
        claimed: dict[tuple[Any, Any], tuple[str, Listeners]] = {}
        for h in [gw] + [s for s in sets.values() if s.parent == (gw.namespace, gw.name)]:
            for lst in h.listeners:
                key = (lst.get("port"), lst.get("hostname"))
                where = f"{h.label} listener {lst.get('name')}"
                if key in claimed and (h.ours or claimed[key][1].ours):
                    mine = h if h.ours else claimed[key][1]
                    findings.append(Finding(ATTACH, "error", mine.urn, (
                        f"{where} has port {key[0]} and hostname {key[1]!r} like {claimed[key][0]}: one of them is "
                        "Conflicted and never serves (the older one wins); give each hostname one listener")))
                claimed.setdefault(key, (where, h))

    for route in routes:
        findings += _route_findings(route, gateways, sets, ns_labels)
    plan.findings.extend(findings)
    plan.sections["gateways"] = _section(holders, sets)


def _route_findings(route: Any, gateways: dict, sets: dict, ns_labels: dict) -> list[Finding]:
    spec = route.obj.get("spec") or {}
    ns = route.namespace
    hosts = list(spec.get("hostnames") or [])
    out: list[Finding] = []
    label = f"HTTPRoute {ns}/{route.name}"
    for ref in spec.get("parentRefs") or []:
        kind = ref.get("kind") or "Gateway"
        key = (ref.get("namespace") or ns, ref.get("name", ""))
        holder = (gateways if kind == "Gateway" else sets if kind == "ListenerSet" else {}).get(key)
        if holder is None:
            out.append(Finding(ATTACH, "error", route.urn, (
                f"{label}: parentRef {kind} {key[0]}/{key[1]} does not exist in this plan or its platform's; "
                "the route never attaches (use the platform contract's gateway or this client's ListenerSet)")))
            continue
        section = ref.get("sectionName")
        listeners = [lst for lst in holder.listeners if section is None or lst.get("name") == section]
        if not listeners:
            out.append(Finding(ATTACH, "error", route.urn,
                               f"{label}: {holder.label} has no listener {section!r}; the route never attaches"))
            continue
        for lst in listeners:
            allowed = lst.get("allowedRoutes") or {}
            kinds = [k.get("kind") for k in allowed.get("kinds") or []]
            if not admits(allowed.get("namespaces"), holder.namespace, ns, ns_labels) or (kinds and "HTTPRoute" not in kinds):
                out.append(Finding(ATTACH, "error", route.urn, (
                    f"{label}: listener {lst.get('name')} of {holder.label} does not admit HTTPRoutes from namespace "
                    f"{ns} (allowedRoutes {allowed or 'default: Same'}); widen allowedRoutes or attach elsewhere")))
            elif not hostnames_intersect(lst.get("hostname"), hosts):
                out.append(Finding(ATTACH, "error", route.urn, (
                    f"{label}: hostnames {hosts} do not match listener {lst.get('name')} of {holder.label} "
                    f"(hostname {lst.get('hostname')}); the route is not accepted there")))
    return out


def _section(holders: list[Listeners], sets: dict) -> dict[str, Any]:
    text: list[str] = []
    data: list[dict[str, Any]] = []
    for h in sorted(holders, key=lambda h: (h.kind != "Gateway", h.namespace, h.name)):
        attached = [s for s in sets.values() if s.parent == (h.namespace, h.name)] if h.kind == "Gateway" else []
        row = {"kind": h.kind, "namespace": h.namespace, "name": h.name, "listeners": len(h.listeners),
               "limit": h.limit, "headroom": h.limit - len(h.listeners), "inThisPlan": h.ours}
        line = f"{h.label}: {len(h.listeners)}/{h.limit} listeners ({h.limit - len(h.listeners)} left)"
        if h.kind == "Gateway":
            row["allowedListeners"] = (h.allowed_listeners.get("namespaces") or {}).get("from", "None")
            row["attachedListenerSets"] = len(attached)
            row["mergedListeners"] = len(h.listeners) + sum(len(s.listeners) for s in attached)
            line += (f"; ListenerSets allowed from {row['allowedListeners']}, {len(attached)} attached in this plan "
                     f"(each holds up to its own limit; the Gateway's list does not grow with clients)")
        else:
            row["parent"] = "/".join(h.parent or ("", ""))
        text.append(line)
        data.append(row)
    return {"title": "gateway listeners and headroom", "text": text, "data": data}


__all__ = ["admits", "analyze", "collect", "hostnames_intersect", "listener_limit", "namespace_labels",
           "selector_matches"]
