"""Plan check: the platform namespaces' NetworkPolicies select every pod and admit every port in use.

The platform's policies are derived from declarations kept in code (components/platform/*.py
`network_pods`), because `pulumi up` cannot render charts. This check proves them against what the
cluster will really run — our objects and every rendered chart object — so a chart upgrade that
renames a label or moves a port is an error here, not an outage:

1. every platform namespace has a `default-deny` (ingress and egress), and every pod in it may reach
   the cluster DNS;
2. every pod of a platform namespace — Deployments, StatefulSets, DaemonSets, Jobs, CronJobs, Helm hook
   Jobs, and the pods operators start for the plan's Prometheus, Alertmanager and Gateway objects — is
   selected by a policy made for it (a non-empty podSelector), not only by namespace-wide ones;
3. every container port a Service, an admission or conversion webhook, an HTTPRoute or a
   ServiceMonitor targets on such pods is admitted by a policy from the right peer: the Gateway's Envoy
   pods for a routed backend, Prometheus for a scraped port, the control plane (as the cluster contract
   describes it) for a webhook, anyone at all for any other Service port. A port a policy declares
   closed (`lfh.io/closed-ports`) is reported as info. The Envoy and Prometheus pods' own egress must
   allow the connection too (also for client namespaces' routes and monitors);
4. no rule of a platform namespace's policy names no peer or no port: policies add up, so one such rule
   opens what every other policy closes.

Pods on the host network are left out: NetworkPolicy does not apply to them (Kubernetes docs, "Network
Policies": behaviour for hostNetwork pods is undefined; implementations ignore them).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .model import Finding, Plan
from .render import ClusterObject, cluster_objects

CHECK = "network-policy"
NS_NAME_LABEL = "kubernetes.io/metadata.name"
DNS = ("kube-system", {"k8s-app": "kube-dns"})
#: Where the fix goes.
DECLARATIONS = "the add-on's network_pods() in components/platform/<add-on>.py"
POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")
CLOSED_PORTS_ANNOTATION = "lfh.io/closed-ports"
#: An address outside every private range: "anywhere" when the contract names no control-plane address.
SOME_OUTSIDE_ADDRESS = "198.51.100.7"
EG_CONTROLLER = "gateway.envoyproxy.io/gatewayclass-controller"


# ---------------------------------------------------------------- pods and endpoints


@dataclass
class Pod:
    """The pods of one workload (or of an operator-made set)."""

    namespace: str
    labels: dict[str, str]
    #: (name, number, protocol) of every container port.
    ports: list[tuple[str, int, str]]
    what: str  # "Deployment/x (namespace n) from …"
    urn: str
    own: bool
    host_network: bool = False

    def named(self) -> dict[str, tuple[int, str]]:
        return {n: (num, proto) for n, num, proto in self.ports if n}


@dataclass(frozen=True)
class Endpoint:
    """One side of a connection: pods (namespace + labels) or an address."""

    namespace: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    ip: str | None = None
    text: str = ""

    @classmethod
    def of(cls, pod: Pod, text: str = "") -> Endpoint:
        return cls(pod.namespace, tuple(sorted(pod.labels.items())), None, text or pod.what)


def _template(obj: dict[str, Any]) -> dict[str, Any] | None:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Pod":
        return {"metadata": obj.get("metadata") or {}, "spec": spec}
    if obj.get("kind") == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    return spec.get("template")


def _workload_pod(co: ClusterObject, own: bool) -> Pod | None:
    tpl = _template(co.obj)
    if not isinstance(tpl, dict):
        return None
    labels = {str(k): str(v) for k, v in ((tpl.get("metadata") or {}).get("labels") or {}).items()}
    if co.kind == "Job":
        # The Job controller labels every pod with its Job's name (Kubernetes docs, "Jobs").
        labels.setdefault("batch.kubernetes.io/job-name", co.name)
        labels.setdefault("job-name", co.name)
    spec = tpl.get("spec") or {}
    ports = [(str(p.get("name") or ""), int(p["containerPort"]), str(p.get("protocol") or "TCP"))
             for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
             for p in c.get("ports") or [] if "containerPort" in p]
    return Pod(co.namespace, labels, ports, co.label(), co.urn, own, bool(spec.get("hostNetwork")))


def _operator_pods(objs: list[ClusterObject], own_urns: set[str]) -> list[Pod]:
    """Pods the plan's custom resources make operators start, with the labels the operators set."""
    out: list[Pod] = []
    classes = {co.name: co.obj.get("spec") or {} for co in objs if co.kind == "GatewayClass"}
    for co in objs:
        spec = co.obj.get("spec") or {}
        extra = {str(k): str(v) for k, v in ((spec.get("podMetadata") or {}).get("labels") or {}).items()}
        own = co.urn in own_urns
        if co.kind in ("Prometheus", "Alertmanager") and co.obj.get("apiVersion", "").startswith("monitoring.coreos.com/"):
            # Reserved labels, as the CRDs' `podMetadata` descriptions list them.
            app = co.kind.lower()
            labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/instance": co.name,
                      "app.kubernetes.io/managed-by": "prometheus-operator", app: co.name, **extra}
            web = 9090 if co.kind == "Prometheus" else 9093
            ports = [(str(spec.get("portName") or "web"), web, "TCP"), ("reloader-web", 8080, "TCP")]
            if co.kind == "Prometheus":
                labels.update({"operator.prometheus.io/name": co.name, "operator.prometheus.io/shard": "0"})
            else:
                ports += [("mesh-tcp", 9094, "TCP"), ("mesh-udp", 9094, "UDP")]
            out.append(Pod(co.namespace, labels, ports, f"pods of {co.kind}/{co.name} (namespace {co.namespace}, "
                           "started by prometheus-operator)", co.urn, own, bool(spec.get("hostNetwork"))))
        elif co.kind == "Gateway" and (classes.get(spec.get("gatewayClassName")) or {}).get("controllerName") == EG_CONTROLLER:
            params = (classes.get(spec.get("gatewayClassName")) or {}).get("parametersRef") or {}
            ns = params.get("namespace") or co.namespace
            # Envoy Gateway's proxy labels (proxy `EnvoyAppLabel` + owning gateway); listener ports
            # below 1024 are bound at port + 10000 inside the pod.
            labels = {"app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy",
                      "app.kubernetes.io/managed-by": "envoy-gateway",
                      "gateway.envoyproxy.io/owning-gateway-name": co.name,
                      "gateway.envoyproxy.io/owning-gateway-namespace": co.namespace}
            ports = sorted({("", int(lst["port"]) + (10000 if int(lst["port"]) < 1024 else 0), "TCP")
                            for lst in spec.get("listeners") or [] if "port" in lst}) + [("metrics", 19001, "TCP")]
            out.append(Pod(ns, labels, ports, f"Envoy pods of Gateway {co.namespace}/{co.name} (started by Envoy Gateway "
                           f"in namespace {ns})", co.urn, own))
    for co in objs:
        if co.kind == "PerconaServerMongoDB" and co.obj.get("apiVersion", "").startswith("psmdb.percona.com/"):
            # The replset members the Percona operator 1.22 builds (pkg/psmdb/statefulset.go labels).
            for rs in (co.obj.get("spec") or {}).get("replsets") or []:
                labels = {"app.kubernetes.io/name": "percona-server-mongodb", "app.kubernetes.io/instance": co.name,
                          "app.kubernetes.io/replset": str(rs.get("name", "")), "app.kubernetes.io/component": "mongod",
                          "app.kubernetes.io/managed-by": "percona-server-mongodb-operator",
                          "app.kubernetes.io/part-of": "percona-server-mongodb"}
                out.append(Pod(co.namespace, labels, [("mongodb", 27017, "TCP")],
                               f"the mongod pods of PerconaServerMongoDB {co.namespace}/{co.name} replset {rs.get('name')} "
                               "(started by the Percona operator)", co.urn, co.urn in own_urns))
    for cert, _gateways in _http01_certificates(objs):
        # cert-manager starts a solver pod per challenge in the Certificate's namespace, labelled
        # `acme.cert-manager.io/http01-solver: "true"`, listening on 8089 (`http`), and routes the
        # challenge path to it through the Gateway (cert-manager v1.21 pkg/issuer/acme/http/pod.go).
        if not any(p.namespace == cert.namespace and p.labels == ACME_SOLVER_LABELS for p in out):
            out.append(Pod(cert.namespace, dict(ACME_SOLVER_LABELS), [("http", ACME_SOLVER_PORT, "TCP")],
                           f"cert-manager's HTTP-01 solver pods (namespace {cert.namespace}, started for "
                           f"Certificate {cert.namespace}/{cert.name})", cert.urn, cert.urn in own_urns))
    return out


def _backup_writers(objs: list[ClusterObject], pods: list[Pod]) -> list[tuple[str, str, list[Pod], str]]:
    """(what, endpoint URL, the pods that write there, URN) for every object-store endpoint the plan
    configures: Velero BackupStorageLocations (its server and node agents move the data) and each
    PerconaServerMongoDB's backup storages (the pbm-agent sidecar of every member uploads)."""
    out = []
    for co in objs:
        spec = co.obj.get("spec") or {}
        if co.kind == "BackupStorageLocation" and co.obj.get("apiVersion", "").startswith("velero.io/"):
            url = str((spec.get("config") or {}).get("s3Url") or "")
            writers = [p for p in pods if p.namespace == co.namespace and p.labels.get("name") in ("velero", "node-agent")]
            if url:
                out.append((f"BackupStorageLocation {co.namespace}/{co.name}", url, writers, co.urn))
        elif co.kind == "PerconaServerMongoDB":
            writers = [p for p in pods if p.namespace == co.namespace
                       and p.labels.get("app.kubernetes.io/instance") == co.name
                       and p.labels.get("app.kubernetes.io/component") == "mongod"]
            for name, storage in ((spec.get("backup") or {}).get("storages") or {}).items():
                url = str((storage.get("s3") or {}).get("endpointUrl") or "")
                if url:
                    out.append((f"PerconaServerMongoDB {co.namespace}/{co.name} backup storage {name}", url, writers, co.urn))
    return out


def url_port(url: str) -> int:
    """The TCP port of an endpoint URL (its own, else the scheme's)."""
    from urllib.parse import urlparse

    parsed = urlparse(url if "://" in url else f"https://{url}")
    return parsed.port or (80 if parsed.scheme == "http" else 443)


def _in_cluster_service(url: str, services: dict[tuple[str, str], ClusterObject]) -> ClusterObject | None:
    """The Service an endpoint URL names by its cluster DNS name (`<svc>.<ns>.svc[.cluster.local]`)."""
    from urllib.parse import urlparse

    host = urlparse(url if "://" in url else f"https://{url}").hostname or ""
    parts = host.split(".")
    if len(parts) >= 3 and parts[2] == "svc":
        return services.get((parts[1], parts[0]))
    return None


ACME_SOLVER_LABELS = {"acme.cert-manager.io/http01-solver": "true"}
ACME_SOLVER_PORT = 8089


def _http01_certificates(objs: list[ClusterObject]) -> list[tuple[ClusterObject, list[tuple[str, str]]]]:
    """Certificates whose issuer has an HTTP-01 solver through a Gateway, with that solver's Gateways."""
    issuers = {(co.kind, co.namespace if co.kind == "Issuer" else "", co.name): co for co in objs
               if co.kind in ("ClusterIssuer", "Issuer") and co.obj.get("apiVersion", "").startswith("cert-manager.io/")}
    out = []
    for cert in objs:
        if cert.kind != "Certificate" or not cert.obj.get("apiVersion", "").startswith("cert-manager.io/"):
            continue
        ref = (cert.obj.get("spec") or {}).get("issuerRef") or {}
        kind = ref.get("kind") or "Issuer"
        issuer = issuers.get((kind, cert.namespace if kind == "Issuer" else "", ref.get("name")))
        solvers = (((issuer.obj.get("spec") or {}).get("acme") or {}).get("solvers") or []) if issuer else []
        gateways = [(p.get("namespace") or cert.namespace, p.get("name"))
                    for s in solvers for p in ((s.get("http01") or {}).get("gatewayHTTPRoute") or {}).get("parentRefs") or []
                    if p.get("kind", "Gateway") == "Gateway"]
        if gateways:
            out.append((cert, gateways))
    return out


# ---------------------------------------------------------------- NetworkPolicy semantics


def selects(selector: Any, labels: dict[str, str]) -> bool:
    """A LabelSelector against labels (`{}` selects everything; a missing selector nothing)."""
    if not isinstance(selector, dict):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != str(value):
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in expr.get("values") or []]
        ok = {"In": key in labels and labels.get(key) in values,
              "NotIn": key not in labels or labels.get(key) not in values,
              "Exists": key in labels, "DoesNotExist": key not in labels}.get(op, False)
        if not ok:
            return False
    return True


def policy_types(spec: dict[str, Any]) -> list[str]:
    return list(spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else [])))


@dataclass
class View:
    """The policies and namespaces a plan's cluster will hold."""

    policies: dict[str, list[ClusterObject]] = field(default_factory=dict)
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def ns_labels(self, ns: str) -> dict[str, str]:
        return {**self.namespace_labels.get(ns, {}), NS_NAME_LABEL: ns}

    def selecting(self, namespace: str, labels: dict[str, str], direction: str) -> list[ClusterObject]:
        return [p for p in self.policies.get(namespace, [])
                if direction in policy_types(p.obj.get("spec") or {})
                and selects((p.obj.get("spec") or {}).get("podSelector"), labels)]

    def peer_matches(self, peer: dict[str, Any], policy_ns: str, ep: Endpoint) -> bool:
        if "ipBlock" in peer:
            if ep.ip is None:
                return False
            block = peer["ipBlock"]
            addr = ipaddress.ip_address(ep.ip)
            return addr in ipaddress.ip_network(block["cidr"], strict=False) and not any(
                addr in ipaddress.ip_network(c, strict=False) for c in block.get("except") or [])
        if ep.namespace is None:
            return False
        ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
        if ns_sel is None and ep.namespace != policy_ns:
            return False
        if ns_sel is not None and not selects(ns_sel, self.ns_labels(ep.namespace)):
            return False
        return pod_sel is None or selects(pod_sel, dict(ep.labels))

    def allows(self, namespace: str, labels: dict[str, str], direction: str, peer: Endpoint | None,
               port: int, protocol: str, named: dict[str, tuple[int, str]]) -> bool | None:
        """Whether the policies selecting these pods let the connection through in ``direction``
        (None: no policy isolates them that way). ``peer`` None: any peer will do."""
        policies = self.selecting(namespace, labels, direction)
        if not policies:
            return None
        key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        for pol in policies:
            for rule in (pol.obj.get("spec") or {}).get(key) or []:
                peers = rule.get(peers_key) or []
                if peer is not None and peers and not any(self.peer_matches(p, pol.namespace, peer) for p in peers):
                    continue
                if _port_ok(rule.get("ports") or [], port, protocol, named):
                    return True
        return False


def _port_ok(rule_ports: list[dict[str, Any]], port: int, protocol: str, named: dict[str, tuple[int, str]]) -> bool:
    if not rule_ports:
        return True
    for rp in rule_ports:
        if str(rp.get("protocol") or "TCP") != protocol:
            continue
        value = rp.get("port")
        if value is None:
            return True
        if isinstance(value, str) and not value.isdigit():
            if named.get(value) == (port, protocol):  # a named port is the destination pod's
                return True
            continue
        if int(value) <= port <= int(rp.get("endPort") or value):
            return True
    return False


# ---------------------------------------------------------------- the analyzer


@dataclass
class Target:
    """A port some object makes connections to, on some pods."""

    pod: Pod
    port: int
    protocol: str
    #: "anyone", "gateway", "prometheus", "control-plane"
    peer: str
    via: str           # "Service argocd/x port https (443)" …
    urn: str           # the referencing object's
    own: bool
    peers: list[tuple[Endpoint, Pod | None]] = field(default_factory=list)


def _service_ports(svc: ClusterObject, pods: list[Pod]) -> Iterable[tuple[Pod, dict[str, Any], int, str]]:
    """(pod, service port entry, container port, protocol) for every port of ``svc`` on its pods."""
    spec = svc.obj.get("spec") or {}
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not selector:
        return
    for pod in pods:
        if pod.namespace != svc.namespace or not selects({"matchLabels": selector}, pod.labels):
            continue
        for entry in spec.get("ports") or []:
            protocol = str(entry.get("protocol") or "TCP")
            target = entry.get("targetPort", entry.get("port"))
            if isinstance(target, str) and not target.isdigit():
                number = pod.named().get(target)
                if number is None:
                    continue  # an unresolvable name is the reference check's finding
                yield pod, entry, number[0], number[1]
            elif target is not None:
                yield pod, entry, int(target), protocol


def analyze(plan: Plan) -> None:
    platform = plan if plan.platform is None else plan.platform
    objs = cluster_objects(plan, with_platform=True)
    crds = cluster_objects(plan, phases=("crd",), with_platform=True)
    own_urns = {r.urn for r in plan.resources}
    platform_ns = {co.name for co in cluster_objects(platform) if co.kind == "Namespace" and not co.rendered}
    view = View()
    for co in objs:
        if co.kind == "NetworkPolicy":
            view.policies.setdefault(co.namespace, []).append(co)
        elif co.kind == "Namespace":
            view.namespace_labels[co.name] = {str(k): str(v) for k, v in ((co.obj.get("metadata") or {}).get("labels") or {}).items()}
    pods = [p for co in objs if co.kind in POD_KINDS if (p := _workload_pod(co, co.urn in own_urns)) is not None]
    pods += _operator_pods(objs, own_urns)
    cloud = dict((platform.outputs or {}).get("cloud") or {})
    findings: list[Finding] = []
    stats = {"namespaces": 0, "policies": 0, "pods": 0, "ports": 0, "closed": 0}

    def error(urn: str, message: str) -> None:
        findings.append(Finding(CHECK, "error", urn, message))

    # 1. default deny and DNS, 4. no open rules (the platform's own policies, checked in its plan)
    for ns in sorted(platform_ns):
        policies = view.policies.get(ns, [])
        stats["namespaces"] += 1
        stats["policies"] += len(policies)
        ns_urn = next((co.urn for co in objs if co.kind == "Namespace" and co.name == ns), "")
        if plan.role == "platform" and not any(
                (p.obj.get("spec") or {}).get("podSelector") == {} and set(policy_types(p.obj["spec"])) == {"Ingress", "Egress"}
                and not p.obj["spec"].get("ingress") and not p.obj["spec"].get("egress") for p in policies):
            error(ns_urn, f"namespace {ns}: no default-deny NetworkPolicy (podSelector {{}}, policyTypes Ingress "
                          f"and Egress, no rules): its pods accept and open any connection; the add-on component "
                          f"must create its namespace's policies (PlatformNetwork.create)")
        for pol in policies:
            if pol.urn not in own_urns:
                continue
            for key, peers_key in (("ingress", "from"), ("egress", "to")):
                for rule in (pol.obj.get("spec") or {}).get(key) or []:
                    if not rule.get(peers_key) or not rule.get("ports"):
                        missing = "peer" if not rule.get(peers_key) else "port"
                        error(pol.urn, f"{pol.label()}: an {key} rule names no {missing}, so it opens "
                                       f"{'every source/destination' if missing == 'peer' else 'every port'} for the "
                                       f"pods it selects whatever the other policies say; name the peer and the ports "
                                       f"(or turn the chart's own policies off)")

    # 2. every pod selected by a policy made for it, and allowed to resolve names
    for pod in pods:
        if pod.namespace not in platform_ns or pod.host_network or not pod.own:
            continue
        stats["pods"] += 1
        made_for = [p for p in view.policies.get(pod.namespace, [])
                    if (p.obj.get("spec") or {}).get("podSelector") not in ({}, None)
                    and selects((p.obj.get("spec") or {}).get("podSelector"), pod.labels)]
        if not made_for:
            error(pod.urn, f"{pod.what}: no NetworkPolicy of namespace {pod.namespace} selects its pods (labels "
                           f"{pod.labels}) except namespace-wide ones, so under default-deny it can reach nothing but "
                           f"DNS and nothing can reach it; declare its pods (labels, ports, peers) in {DECLARATIONS}")
        dns = Endpoint(DNS[0], tuple(sorted(DNS[1].items())), text="the cluster DNS")
        if view.allows(pod.namespace, pod.labels, "Egress", dns, 53, "UDP", {}) is False:
            error(pod.urn, f"{pod.what}: no NetworkPolicy lets its pods reach the cluster DNS (kube-system k8s-app=kube-dns, "
                           f"UDP 53); every platform namespace needs the derived allow-dns policy")

    # 3. ports in use, each from its right peer
    targets = _targets(plan, objs, crds, pods, own_urns, cloud)
    # A port some route, monitor or webhook uses is judged against that peer, not again against "anyone".
    specific = {(id(t.pod), t.port, t.protocol) for t in targets if t.peer != "anyone"}
    for t in targets:
        if t.pod.host_network or (t.peer == "anyone" and (id(t.pod), t.port, t.protocol) in specific):
            continue
        platform_target = t.pod.namespace in platform_ns
        if t.peer == "anyone" and not platform_target:
            continue
        named = t.pod.named()
        if platform_target or t.peer != "anyone":
            if t.own or t.pod.own:
                stats["ports"] += 1
            peers = t.peers or [(None, None)]
            missing = [ep.text if ep is not None else "any peer" for ep, _ in peers
                       if view.allows(t.pod.namespace, t.pod.labels, "Ingress", ep, t.port, t.protocol, named) is False]
            if missing and (t.own or t.pod.own):
                closed = _closed(view, t.pod, t.port)
                if closed is not None:
                    stats["closed"] += 1
                    findings.append(Finding(CHECK, "info", t.urn, f"{t.via} -> {t.port}/{t.protocol} on {t.pod.what}: "
                                                                  f"closed on purpose ({closed})"))
                else:
                    error(t.urn, f"{t.via} targets {t.port}/{t.protocol} on {t.pod.what}, but no NetworkPolicy of "
                                 f"namespace {t.pod.namespace} admits it from {', '.join(missing)}; declare the port "
                                 f"with that peer in {DECLARATIONS} (or, if no one may connect, declare it closed "
                                 f"and say why)")
        for ep, src in t.peers:
            if src is None or ep is None or not (t.own or src.own or t.pod.own):
                continue
            dest = Endpoint.of(t.pod)
            if view.allows(src.namespace, src.labels, "Egress", dest, t.port, t.protocol, named) is False:
                error(t.urn, f"{t.via} needs {src.what} to connect to {t.port}/{t.protocol} on {t.pod.what}, but no "
                             f"NetworkPolicy of namespace {src.namespace} lets them out to it; "
                             + ("the client stack's network policies add this egress for its routed and metrics ports"
                                if t.pod.namespace not in platform_ns else f"declare the port with that peer in {DECLARATIONS}"))

    seen: set[tuple[str, str]] = set()
    for f in findings:
        if (f.urn, f.message) not in seen:
            seen.add((f.urn, f.message))
            plan.findings.append(f)
    if platform_ns:
        plan.sections["networkPolicies"] = {
            "title": "platform NetworkPolicies:",
            "text": [(f"{stats['namespaces']} platform namespaces, {stats['policies']} policies; {stats['pods']} pod sets "
                      f"selected, {stats['ports']} ports checked against their peers, {stats['closed']} closed on purpose")],
            "data": stats}


def _closed(view: View, pod: Pod, port: int) -> str | None:
    for pol in view.selecting(pod.namespace, pod.labels, "Ingress"):
        note = str(((pol.obj.get("metadata") or {}).get("annotations") or {}).get(CLOSED_PORTS_ANNOTATION, ""))
        for part in note.split("; "):
            number, _, why = part.partition(": ")
            if number.strip() == str(port):
                return why
    return None


def _targets(plan: Plan, objs: list[ClusterObject], crds: list[ClusterObject], pods: list[Pod],
             own_urns: set[str], cloud: dict[str, Any]) -> list[Target]:
    services = {(co.namespace, co.name): co for co in objs if co.kind == "Service"}
    out: list[Target] = []

    def from_service(svc: ClusterObject, wanted: set[Any] | None, peer: str, via: str, urn: str, own: bool,
                     peers: list[tuple[Endpoint, Pod | None]]) -> None:
        """Targets for the ports of ``svc`` whose number, name or target port is in ``wanted`` (None: all)."""
        for pod, entry, number, protocol in _service_ports(svc, pods):
            keys = {entry.get("port"), entry.get("name"), str(entry.get("targetPort"))}
            if wanted is None or keys & wanted:
                port = f"Service {svc.namespace}/{svc.name} port {entry.get('name') or entry.get('port')}"
                out.append(Target(pod, number, protocol, peer, f"{via} ({port})" if via else port, urn,
                                  own or svc.urn in own_urns, peers))

    for svc in services.values():
        from_service(svc, None, "anyone", "", svc.urn, svc.urn in own_urns, [])

    # HTTPRoute backends: the Envoy pods of the Gateways the route attaches to
    envoys = {(p.labels.get("gateway.envoyproxy.io/owning-gateway-namespace"),
               p.labels.get("gateway.envoyproxy.io/owning-gateway-name")): p for p in pods
              if p.labels.get("app.kubernetes.io/managed-by") == "envoy-gateway"}
    # A route may attach to a ListenerSet, whose listeners the parent Gateway's Envoy pods serve.
    listener_sets = {(co.namespace, co.name): ((co.obj.get("spec") or {}).get("parentRef") or {}, co.namespace)
                     for co in objs if co.kind == "ListenerSet"}

    def gateway_of(ref: dict[str, Any], namespace: str) -> tuple[Any, Any]:
        key = (ref.get("namespace") or namespace, ref.get("name"))
        if ref.get("kind") == "ListenerSet" and key in listener_sets:
            parent, ls_ns = listener_sets[key]
            return (parent.get("namespace") or ls_ns, parent.get("name"))
        return key

    for route in (co for co in objs if co.kind == "HTTPRoute"):
        spec = route.obj.get("spec") or {}
        gws = [envoys[key] for ref in spec.get("parentRefs") or []
               if (key := gateway_of(ref, route.namespace)) in envoys]
        if not gws:
            continue
        for rule in spec.get("rules") or []:
            for ref in rule.get("backendRefs") or []:
                if ref.get("kind", "Service") != "Service":
                    continue
                svc = services.get((ref.get("namespace") or route.namespace, ref.get("name")))
                if svc is None:
                    continue  # a dangling backend is the reference check's finding
                from_service(svc, {ref.get("port")}, "gateway",
                             f"HTTPRoute {route.namespace}/{route.name}", route.urn, route.urn in own_urns,
                             [(Endpoint.of(g, "the shared Gateway's Envoy pods"), g) for g in gws])

    # ACME HTTP-01 challenges: the Gateway's Envoy pods reach cert-manager's solver pods.
    for cert, gateways in _http01_certificates(objs):
        solver = next((p for p in pods if p.namespace == cert.namespace and p.labels == ACME_SOLVER_LABELS), None)
        gws = [envoys[g] for g in gateways if g in envoys]
        if solver is not None and gws:
            out.append(Target(solver, ACME_SOLVER_PORT, "TCP", "gateway",
                              f"the ACME HTTP-01 challenges of Certificate {cert.namespace}/{cert.name}", cert.urn,
                              cert.urn in own_urns, [(Endpoint.of(g, "the shared Gateway's Envoy pods"), g) for g in gws]))

    # Backup writers → an in-cluster object store (a self-contained platform's): Velero's storage
    # locations and the Percona backup agents of the plan's replica sets.
    for via, url, writers, urn in _backup_writers(objs, pods):
        svc = _in_cluster_service(url, services)
        if svc is not None and writers:
            from_service(svc, {url_port(url)}, "backup writers", f"{via} ({url})", urn, urn in own_urns,
                         [(Endpoint.of(w), w) for w in writers])

    # ServiceMonitors / PodMonitors: the Prometheus pods whose selectors pick them
    proms = [(co, p) for co in objs if co.kind == "Prometheus"
             for p in pods if p.urn == co.urn and p.labels.get("prometheus") == co.name]
    for mon in (co for co in objs if co.kind in ("ServiceMonitor", "PodMonitor")):
        spec = mon.obj.get("spec") or {}
        mon_labels = {str(k): str(v) for k, v in ((mon.obj.get("metadata") or {}).get("labels") or {}).items()}
        scrapers = []
        for prom, pod in proms:
            pspec = prom.obj.get("spec") or {}
            sel_key = "serviceMonitor" if mon.kind == "ServiceMonitor" else "podMonitor"
            ns_sel = pspec.get(f"{sel_key}NamespaceSelector")
            if selects(pspec.get(f"{sel_key}Selector"), mon_labels) and (
                    mon.namespace == prom.namespace if ns_sel is None else selects(ns_sel, {NS_NAME_LABEL: mon.namespace})):
                scrapers.append((Endpoint.of(pod, f"Prometheus {prom.namespace}/{prom.name}"), pod))
        if not scrapers:
            continue
        ns_spec = spec.get("namespaceSelector") or {}
        namespaces = None if ns_spec.get("any") else set(ns_spec.get("matchNames") or [mon.namespace])
        via = f"{mon.kind} {mon.namespace}/{mon.name}"
        if mon.kind == "ServiceMonitor":
            names = {str(e.get("port")) for e in spec.get("endpoints") or [] if e.get("port")}
            target_ports = {str(e.get("targetPort")) for e in spec.get("endpoints") or [] if e.get("targetPort") is not None}
            for svc in services.values():
                svc_labels = {str(k): str(v) for k, v in ((svc.obj.get("metadata") or {}).get("labels") or {}).items()}
                if (namespaces is None or svc.namespace in namespaces) and selects(spec.get("selector"), svc_labels):
                    from_service(svc, names | target_ports, "prometheus", via, mon.urn, mon.urn in own_urns, scrapers)
        else:
            names = {str(e.get("port")) for e in spec.get("podMetricsEndpoints") or [] if e.get("port")}
            for pod in pods:
                if (namespaces is None or pod.namespace in namespaces) and selects(spec.get("selector"), pod.labels):
                    for name in names:
                        if name in pod.named():
                            number, protocol = pod.named()[name]
                            out.append(Target(pod, number, protocol, "prometheus", via, mon.urn, mon.urn in own_urns, scrapers))

    # Webhooks: the control plane, from where the cluster contract says it calls
    control = [(Endpoint(ip=_first_address(c), text=f"the control plane ({c})"), None) for c in cloud.get("apiServerCidrs") or []]
    control += [(Endpoint(t.get("namespace"), tuple(sorted((t.get("labels") or {}).items())),
                          text=f"the control plane's tunnel pods ({t.get('namespace')} {t.get('labels')})"), None)
                for t in cloud.get("apiServerTunnelPods") or []]
    control = control or [(Endpoint(ip=SOME_OUTSIDE_ADDRESS, text="the control plane (address unknown: any address)"), None)]
    hooks: list[tuple[ClusterObject, dict[str, Any]]] = []
    for co in objs:
        if co.kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
            hooks += [(co, (w.get("clientConfig") or {}).get("service") or {}) for w in co.obj.get("webhooks") or []]
    for co in crds:
        hook = (((co.obj.get("spec") or {}).get("conversion") or {}).get("webhook") or {}).get("clientConfig") or {}
        if hook.get("service"):
            hooks.append((co, hook["service"]))
    for co, ref in hooks:
        svc = services.get((ref.get("namespace"), ref.get("name")))
        if svc is not None:
            from_service(svc, {int(ref.get("port") or 443)}, "control-plane",
                         f"{co.kind}/{co.name}", co.urn, co.urn in own_urns, control)
    return out


def _first_address(cidr: str) -> str:
    net = ipaddress.ip_network(cidr, strict=False)
    return str(net.network_address + 1) if net.num_addresses > 2 else str(net.network_address)


__all__ = ["CHECK", "Endpoint", "View", "analyze", "selects"]
