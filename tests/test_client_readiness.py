"""Client environments that come up on a real cluster: each new plan check against the example stacks
(clean) and against a broken input (an error naming the object and the fix).

- certificate-solver: every name of every Certificate has an ACME solver that can answer for it;
- scheduling: every pod (platform's, the stack's, operator members, the drill's copy) placed on the
  platform's node pools;
- gateway-capacity / route-attachment: listener limits and headroom, ListenerSets admitted, routes attached;
- mongodb-tls: requireTLS, and apps that verify the server with the CA they mount.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

import pytest
import yaml

from client_apps_helpers import by_kind, client, plan_with

from lfh.plan import certificates, gateways, mongodb_tls, scheduling
from lfh.plan.conformance import check_crd_schema
from lfh.plan.model import Plan, Resource
from lfh.upstream import upstream_dir

needs_upstream = pytest.mark.skipif(upstream_dir() is None, reason="../shared/upstream is absent")
PROVIDER = "urn:pulumi:t::lfh::pulumi:providers:kubernetes::k8s::id"
GW_NS = "envoy-gateway-system"


def _res(obj: dict[str, Any]) -> Resource:
    group, _, version = obj["apiVersion"].rpartition("/")
    type_ = f"kubernetes:{group or 'core'}/{version}:{obj['kind']}"
    meta = obj["metadata"]
    name = f"{meta.get('namespace', '')}-{meta['name']}"
    return Resource(urn=f"urn:pulumi:t::lfh::{type_}::{name}", type=type_, name=name, parent="", provider=PROVIDER,
                    dependencies=[], inputs=obj)


def _plan(objs: list[dict[str, Any]], role: str = "client", platform: Plan | None = None, **kw: Any) -> Plan:
    return Plan(stack="t", role=role, resources=[_res(o) for o in objs], outputs=kw.pop("outputs", {}), secret_outputs=[],
                platform=platform, **kw)


def _replan(plan: Plan, edit: Callable[[list[Resource]], None]) -> Plan:
    """A copy of ``plan`` with its resources edited (analyzers' memos not carried over)."""
    resources = copy.deepcopy(plan.resources)
    edit(resources)
    return Plan(stack=plan.stack, role=plan.role, resources=resources, outputs=plan.outputs,
                secret_outputs=plan.secret_outputs, config=plan.config, kubernetes_version=plan.kubernetes_version,
                platform=plan.platform)


def _inputs(resources: list[Resource], kind: str, name: str) -> dict[str, Any]:
    (r,) = [r for r in resources if r.inputs.get("kind") == kind and (r.inputs.get("metadata") or {}).get("name") == name]
    return r.inputs


def _errors(plan: Plan, check: str) -> list[str]:
    return [f.message for f in plan.findings if f.check == check and f.severity == "error"]


# ---------------------------------------------------------------- certificates


def _gateway(http_from: str = "Same", allowed_listeners: str | None = "Same", listeners: int = 0) -> dict[str, Any]:
    spec: dict[str, Any] = {"gatewayClassName": "envoy-gateway", "listeners": [
        {"name": "http", "protocol": "HTTP", "port": 80, "allowedRoutes": {"namespaces": {"from": http_from}}},
        *({"name": f"l{i}", "protocol": "HTTPS", "port": 443, "hostname": f"h{i}.example.com",
           "tls": {"certificateRefs": [{"name": "s"}]}} for i in range(listeners)),
    ]}
    if allowed_listeners:
        spec["allowedListeners"] = {"namespaces": {"from": allowed_listeners}}
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "shared-gateway", "namespace": GW_NS}, "spec": spec}


HTTP01 = {"http01": {"gatewayHTTPRoute": {"parentRefs": [
    {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "shared-gateway", "namespace": GW_NS, "sectionName": "http"}]}}}
ZONE_DNS01 = {"selector": {"dnsZones": ["aws.example.com"]}, "dns01": {"route53": {"region": "us-east-1"}}}


def _issuer(solvers: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "letsencrypt-prod"},
            "spec": {"acme": {"server": "https://acme", "privateKeySecretRef": {"name": "k"}, "solvers": solvers}}}


def _certificate(names: list[str], ns: str = GW_NS, labels: dict | None = None) -> dict[str, Any]:
    return {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "acme-production-tls", "namespace": ns, "labels": labels or {}},
            "spec": {"secretName": "acme-production-tls", "dnsNames": names,
                     "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "letsencrypt-prod"}}}


def _certificate_findings(cert: dict, solvers: list[dict], http_from: str = "Same") -> list[str]:
    platform = _plan([_issuer(solvers), _gateway(http_from)], role="platform", outputs={"domain": "aws.example.com"})
    plan = _plan([cert], platform=platform)
    certificates.analyze(plan)
    return _errors(plan, "certificate-solver")


def test_client_certificates_issue_on_every_example_stack(plan_of):
    for stack in ("acme-prod", "demo-prod", "demo-staging"):
        plan = plan_of(stack)
        assert _errors(plan, "certificate-solver") == [], stack
        rows = plan.sections["certificates"]["data"]
        assert rows and all(set(r["solvers"].values()) == {"HTTP-01"} for r in rows if "solvers" in r), stack
    wildcard = next(r for r in plan_of("platform-aws").sections["certificates"]["data"] if "*.aws.example.com" in r["names"])
    assert wildcard["solvers"] == {"*.aws.example.com": "DNS-01", "aws.example.com": "DNS-01"}


def test_platform_issuers_answer_own_zones_by_dns01_and_other_names_by_http01(plan_of):
    (issuer,) = [m for m in by_kind(plan_of("platform-aws"), "ClusterIssuer") if m["metadata"]["name"] == "letsencrypt-prod"]
    solvers = issuer["spec"]["acme"]["solvers"]
    assert certificates.pick_solver("api.aws.example.com", {}, solvers)["selector"]["dnsZones"] == ["aws.example.com"]
    assert certificates.pick_solver("api.acme-health.com", {}, solvers) is solvers[-1]
    assert solvers[-1]["http01"]["gatewayHTTPRoute"]["parentRefs"][0]["sectionName"] == "http"
    delegated = certificates.pick_solver("api.acme-health.com", {"lfh.io/acme-challenge": "dns01-cname"}, solvers)
    assert delegated["dns01"]["cnameStrategy"] == "Follow"


def test_a_certificate_for_a_name_no_solver_covers_is_an_error():
    # The failure this issue started from: one DNS-01 solver scoped to the platform's zone.
    errors = _certificate_findings(_certificate(["api.acme-health.com", "api.aws.example.com"]), [ZONE_DNS01])
    assert len(errors) == 1
    assert "Certificate envoy-gateway-system/acme-production-tls" in errors[0] and "api.acme-health.com" in errors[0]
    assert "no configured challenge solvers" in errors[0] and "HTTP-01" in errors[0]
    assert _certificate_findings(_certificate(["api.acme-health.com"]), [ZONE_DNS01, HTTP01]) == []


def test_http01_cannot_answer_a_wildcard():
    errors = _certificate_findings(_certificate(["*.acme-health.com"]), [ZONE_DNS01, HTTP01])
    assert len(errors) == 1 and "a wildcard needs a DNS-01 solver" in errors[0]


def test_http01_challenge_route_must_land_where_the_listener_admits_it():
    errors = _certificate_findings(_certificate(["api.acme-health.com"], ns="acme-production"), [HTTP01])
    assert len(errors) == 1 and "does not admit routes from it" in errors[0]
    assert _certificate_findings(_certificate(["api.acme-health.com"], ns="acme-production"), [HTTP01], http_from="All") == []


def test_a_dns01_solver_without_zones_is_judged_against_the_platform_zones():
    unscoped = {"dns01": {"route53": {"region": "us-east-1"}}}
    errors = _certificate_findings(_certificate(["api.acme-health.com"]), [unscoped, HTTP01])
    assert len(errors) == 1 and "writes only to the zones aws.example.com" in errors[0]


def test_missing_issuer_is_an_error():
    plan = _plan([_certificate(["a.example.com"])], platform=_plan([], role="platform"))
    certificates.analyze(plan)
    assert any("is not in this plan or its platform's" in m for m in _errors(plan, "certificate-solver"))


def test_solver_choice_follows_cert_manager():
    by_name = {"selector": {"dnsNames": ["a.x.com"]}, "http01": {}}
    by_zone = {"selector": {"dnsZones": ["x.com"]}, "dns01": {}}
    deeper = {"selector": {"dnsZones": ["a.x.com"]}, "dns01": {"deeper": True}}
    by_label = {"selector": {"matchLabels": {"k": "v"}}, "dns01": {"label": True}}
    default = {"http01": {"default": True}}
    pick = certificates.pick_solver
    assert pick("a.x.com", {}, [default, by_zone, by_name]) is by_name          # dnsNames beat dnsZones
    assert pick("b.a.x.com", {}, [by_zone, deeper]) is deeper                  # the longest zone wins
    assert pick("a.y.com", {"k": "v"}, [default, by_label]) is by_label        # labels beat the default
    assert pick("a.y.com", {}, [default, by_label]) is default
    assert pick("*.x.com", {}, [default]) is None                              # HTTP-01 is never offered for wildcards
    assert pick("*.x.com", {}, [default, by_zone]) is by_zone


def test_cname_delegated_dns01_is_offered_where_the_platform_has_dns01(tmp_path, plan_of):
    stacks = {"d-production": client("d", "production", platformStack="organization/lfh/platform-aws",
                                     domain="d-health.com", certificates={"challenge": "dns01-cname"},
                                     apps={"hapihub": {"replicas": 2}, "mycureapp": {"replicas": 2}, "syncd": {"enabled": False}})}
    plan = plan_with(tmp_path, stacks, platform="platform-aws")("d-production")
    (cert,) = by_kind(plan, "Certificate")
    assert cert["metadata"]["labels"]["lfh.io/acme-challenge"] == "dns01-cname"
    assert _errors(plan, "certificate-solver") == []
    assert set(plan.sections["certificates"]["data"][0]["solvers"].values()) == {"DNS-01 (CNAME-delegated)"}
    records = {(r["name"], r["type"]): r["value"] for r in plan.outputs["dnsRecords"]}
    assert records[("_acme-challenge.api.d-health.com", "CNAME")] == "api.d-health.com.lfh-acme.aws.example.com"
    assert ("api.d-health.com", "CNAME (A/AAAA for an IP address)") in records


def test_cname_delegated_dns01_on_an_http01_platform_is_a_config_error(tmp_path):
    from lfh.config.loader import ConfigError

    stacks = {"d-staging": client("d", certificates={"challenge": "dns01-cname"})}
    with pytest.raises(ConfigError, match="lfh:client.certificates.challenge: `dns01-cname` needs a platform"):
        plan_with(tmp_path, stacks)("d-staging")


# ---------------------------------------------------------------- gateways


@needs_upstream
def test_gateway_headroom_is_reported_and_client_listeners_live_in_listenersets(plan_of):
    plan = plan_of("acme-prod")
    rows = {r["kind"]: r for r in plan.sections["gateways"]["data"]}
    assert rows["Gateway"]["limit"] == 64 and rows["Gateway"]["headroom"] == 62    # read from the pinned CRD
    assert rows["Gateway"]["allowedListeners"] == "Same" and rows["Gateway"]["attachedListenerSets"] == 1
    # api., app., portal. (MyCureApp's second hostname) and account. (the satellite): one listener each
    assert rows["ListenerSet"]["listeners"] == 4 and rows["ListenerSet"]["headroom"] == 60
    assert _errors(plan, "gateway-capacity") == [] and _errors(plan, "route-attachment") == []


@needs_upstream
def test_a_gateway_over_its_listener_limit_is_an_error():
    plan = _plan([_gateway(listeners=64)], role="platform")
    gateways.analyze(plan)
    (error,) = _errors(plan, "gateway-capacity")
    assert "Gateway envoy-gateway-system/shared-gateway has 65 listeners" in error and "at most 64" in error
    assert "ListenerSets" in error
    ok = _plan([_gateway(listeners=63)], role="platform")
    gateways.analyze(ok)
    assert _errors(ok, "gateway-capacity") == [] and ok.sections["gateways"]["data"][0]["headroom"] == 0


def _listener_set(ns: str = GW_NS, hosts: tuple[str, ...] = ("api.acme-health.com",)) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "ListenerSet",
            "metadata": {"name": "acme-production", "namespace": ns},
            "spec": {"parentRef": {"name": "shared-gateway", "namespace": GW_NS}, "listeners": [
                {"name": h.split(".")[0], "protocol": "HTTPS", "port": 443, "hostname": h,
                 "tls": {"certificateRefs": [{"name": "acme-production-tls"}]},
                 "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {"matchLabels": {
                     "kubernetes.io/metadata.name": "acme-production"}}}}} for h in hosts]}}


def _route(host: str, section: str = "api", kind: str = "ListenerSet") -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": section, "namespace": "acme-production"},
            "spec": {"parentRefs": [{"kind": kind, "name": "acme-production", "namespace": GW_NS, "sectionName": section}],
                     "hostnames": [host], "rules": [{"backendRefs": [{"name": "hapihub", "port": 7500}]}]}}


def test_listenerset_must_be_admitted_and_routes_must_attach():
    platform = _plan([_gateway(allowed_listeners=None)], role="platform")
    plan = _plan([_listener_set(), _route("api.acme-health.com"), _route("www.acme-health.com", section="www"),
                  _route("other.example.com")], platform=platform)
    gateways.analyze(plan)
    errors = _errors(plan, "route-attachment")
    assert any("ListenerSet envoy-gateway-system/acme-production is not admitted by Gateway" in e for e in errors)
    assert any("has no listener 'www'" in e for e in errors)
    assert any("hostnames ['other.example.com'] do not match listener api" in e for e in errors)
    fixed = _plan([_listener_set(), _route("api.acme-health.com")], platform=_plan([_gateway()], role="platform"))
    gateways.analyze(fixed)
    assert _errors(fixed, "route-attachment") == []


def test_listeners_of_two_listenersets_with_one_hostname_conflict():
    other = _listener_set()
    other["metadata"]["name"] = "beta-production"
    platform = _plan([_gateway(), other], role="platform")
    plan = _plan([_listener_set()], platform=platform)
    gateways.analyze(plan)
    assert any("Conflicted" in e for e in _errors(plan, "route-attachment"))


@needs_upstream
def test_listenersets_are_validated_against_their_crd(plan_of):
    """ListenerSet is standard at v1.6.1 but not in gateway-api/crds.yaml: it is checked against the CRD
    the envoy-gateway chart installs (identical schema), never skipped."""
    platform = plan_of("platform-aws")
    assert check_crd_schema(_plan([_listener_set()], platform=platform)) == []
    broken = _listener_set()
    broken["spec"]["listeners"][0]["hostnames"] = ["x"]
    findings = check_crd_schema(_plan([broken], platform=platform))
    assert [f.severity for f in findings] == ["error"] and "unknown field" in findings[0].message
    assert "gateway-helm" in findings[0].message


def _clients_routing(n: int) -> list[dict[str, Any]]:
    """What ``n`` custom-domain production clients add to the cluster's routing: each client's
    ListenerSet, Certificate and HTTPRoutes, built by the same functions the Routes component uses."""
    from components.client.contract import ClientContext, RouteSpec
    from components.client.routes import certificate_spec, listener_set_name, listener_set_spec, own_routes, route_spec
    from components.platform.contract import GatewayRef, PlatformContract
    from lfh.config.client import ClientConfig

    platform = PlatformContract(
        platform="aws", environment="production", domain="aws.example.com", kubernetes_version="1.33",
        cluster_name="aws", region="us-east-1", cloud={"kind": "aws"},
        gateway=GatewayRef(wildcard_domains=["*.aws.example.com"], listeners={"*.aws.example.com": "https"}),
        issuers={"public": "letsencrypt-prod", "internal": "internal-ca"})
    objects: list[dict[str, Any]] = []
    for i in range(n):
        cfg = ClientConfig.model_validate({"name": f"c{i:03d}", "environment": "production",
                                           "platformStack": "organization/lfh/platform-aws", "domain": f"c{i:03d}-health.com"},
                                          context={"environment": "production"})
        ns = f"c{i:03d}-production"
        ctx = ClientContext(config=cfg, platform=platform, provider=None, namespace=ns, namespace_resource=None,
                            labels={"lfh.io/client": cfg.name})
        routes = [RouteSpec(app, f"{prefix}.{cfg.domain}", app, 80) for app, prefix in
                  (("hapihub", "api"), ("mycureapp", "app"), ("syncd", "sync"))]
        own = own_routes(ctx, routes)
        objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {}}})
        objects.append({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "ListenerSet",
                        "metadata": {"name": listener_set_name(ctx), "namespace": GW_NS}, "spec": listener_set_spec(ctx, own)})
        objects.append({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                        "metadata": {"name": f"{ns}-tls", "namespace": GW_NS}, "spec": certificate_spec(ctx, own, {})})
        objects += [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                     "metadata": {"name": r.name, "namespace": ns}, "spec": route_spec(ctx, r)} for r in routes]
    return objects


@needs_upstream
def test_two_hundred_custom_domain_clients_fit_one_platform(plan_of):
    """200 clients × 3 own hostnames against the real platform-aws plan: the routing pieces only (each
    client's ListenerSet, Certificate and routes from the Routes component's own builders), not 200
    full stacks — the rest of a client stack adds nothing to the Gateway or the issuers."""
    plan = _plan(_clients_routing(200), platform=plan_of("platform-aws"))
    gateways.analyze(plan)
    certificates.analyze(plan)
    assert [f for f in plan.findings if f.severity == "error"] == []
    rows = plan.sections["gateways"]["data"]
    (gw,) = [r for r in rows if r["kind"] == "Gateway"]
    assert gw["attachedListenerSets"] == 200 and gw["listeners"] == 2 and gw["headroom"] == 62
    assert gw["mergedListeners"] == 2 + 200 * 3
    assert all(r["listeners"] == 3 and r["headroom"] == 61 for r in rows if r["kind"] == "ListenerSet")
    # Every ListenerSet is valid for the API server (the pinned CRD).
    sample = _plan([o for o in _clients_routing(3) if o["kind"] in ("ListenerSet", "HTTPRoute", "Certificate")],
                   platform=plan_of("platform-aws"))
    assert [f for f in check_crd_schema(sample) if f.severity == "error"] == []


def test_the_old_design_fails_the_same_check():
    """The 200 clients' listeners on the Gateway itself (the design before ListenerSets): an error."""
    gw = _gateway(listeners=200 * 3)
    plan = _plan([gw], role="platform")
    gateways.analyze(plan)
    assert any("has 601 listeners" in e for e in _errors(plan, "gateway-capacity"))


# ---------------------------------------------------------------- scheduling


def test_every_example_stack_schedules_and_reports_its_placement(plan_of):
    for stack in ("platform-aws", "platform-azure", "platform-gcp", "acme-prod", "demo-prod", "demo-staging"):
        plan = plan_of(stack)
        assert _errors(plan, "scheduling") == [], stack
    data = plan_of("acme-prod").sections["scheduling"]["data"]
    pools = {p["pool"]: p for p in data["pools"]}
    # acme's data services are on the db pool; nothing of acme's on the system pool.
    assert pools["db"]["thisStackCpu"] > 3 and pools["system"]["thisStackCpu"] == 0
    # EKS with its Cluster Autoscaler discovering the node groups, AKS/GKE with their built-in one: at the maximum.
    assert pools["db"]["autoscaled"] and pools["db"]["nodes"] == pools["db"]["maxNodes"]
    azure = {p["pool"]: p for p in plan_of("platform-azure").sections["scheduling"]["data"]["pools"]}
    assert all(p["autoscaled"] and p["nodes"] == p["maxNodes"] for p in azure.values())


def test_placement_includes_operator_members_platform_daemonsets_and_the_drill_copy(plan_of):
    plan = plan_of("acme-prod")
    placement = scheduling.place(plan)
    owners = {p.group.owner for n in placement.nodes for p in n.pods}
    assert "PerconaServerMongoDB acme-production/mongodb replset rs0" in owners
    assert any("(restore drill copy in acme-production-drill)" in o and "mongodb" in o for o in owners)
    db_nodes = [n for n in placement.nodes if n.pool == "db"]
    # One mongod per node (required hostname anti-affinity), every db node runs Longhorn's instance manager.
    members = [sum(p.group.owner.endswith("replset rs0") for p in n.pods) for n in db_nodes]
    assert sum(members) == 3 and max(members) == 1
    assert all(any("instance manager" in p.group.owner for p in n.pods) for n in placement.nodes)
    # The drill copy is one member: the drill's Velero modifiers shrink it (as the plan's ConfigMap says).
    (copy_,) = [g for g in placement.own if "drill copy" in g.owner and "PerconaServerMongoDB" in g.owner]
    assert copy_.count == 1 and copy_.anti_affinity == [] and copy_.cpu == pytest.approx(0.25)


def test_a_replset_without_the_db_toleration_is_unschedulable(plan_of):
    plan = _replan(plan_of("acme-prod"), lambda rs: _inputs(rs, "PerconaServerMongoDB", "mongodb")["spec"]["replsets"][0].pop("tolerations"))
    scheduling.analyze(plan)
    errors = [e for e in _errors(plan, "scheduling") if e.startswith("PerconaServerMongoDB acme-production/mongodb replset rs0:")]
    assert len(errors) == 1 and "3 of 3 pod(s) cannot be scheduled" in errors[0]
    assert "taint lfh.io/pool=db:NoSchedule not tolerated" in errors[0] and "Fix: give the pods the tolerations" in errors[0]


def test_a_replset_larger_than_its_nodes_is_unschedulable(plan_of):
    plan = _replan(plan_of("acme-prod"), lambda rs: _inputs(rs, "PerconaServerMongoDB", "mongodb")["spec"]["replsets"][0].update(size=8))
    scheduling.analyze(plan)
    errors = [e for e in _errors(plan, "scheduling") if e.startswith("PerconaServerMongoDB acme-production/mongodb replset rs0:")]
    # 6 db nodes at the autoscaled maximum, required hostname anti-affinity: the 7th and 8th members have nowhere to go.
    assert len(errors) == 1 and "2 of 8 pod(s)" in errors[0] and "required pod anti-affinity" in errors[0]
    assert "Fix: the pool needs at least as many nodes as the replica count" in errors[0]


def test_pools_at_minimum_unless_an_autoscaler_serves_them(plan_of):
    # platform-aws runs the Cluster Autoscaler, which discovers its node groups: each at its maximum.
    nodes, views, _ = scheduling.build_nodes(plan_of("platform-aws"))
    assert {v.name: (v.nodes, v.autoscaled) for v in views} == {"system": (3, True), "apps": (6, True), "db": (6, True)}

    def no_autoscaler(resources: list[Resource]) -> None:
        resources[:] = [r for r in resources if (r.inputs.get("metadata") or {}).get("name") != "cluster-autoscaler"]

    # The discovery tags alone scale nothing: without the autoscaler the pools stay at their minimum.
    platform = _replan(plan_of("platform-aws"), no_autoscaler)
    assert {v.name: (v.nodes, v.autoscaled) for v in scheduling.build_nodes(platform)[1]} == {
        "system": (2, False), "apps": (2, False), "db": (3, False)}


def test_modifiers_apply_like_velero():
    obj = {"apiVersion": "psmdb.percona.com/v1", "kind": "PerconaServerMongoDB", "metadata": {"name": "m"},
           "spec": {"replsets": [{"size": 3, "affinity": {"antiAffinityTopologyKey": "kubernetes.io/hostname"}}]}}
    rules = [{"conditions": {"groupResource": "perconaservermongodbs.psmdb.percona.com"}, "patches": [
        {"operation": "replace", "path": "/spec/replsets/0/size", "value": "1"},
        {"operation": "add", "path": "/spec/unsafeFlags", "value": '{"replsetSize": true}'},
        {"operation": "replace", "path": "/spec/replsets/0/affinity/antiAffinityTopologyKey", "value": "none"}]}]
    out = scheduling.apply_modifiers(obj, rules)
    assert out["spec"]["replsets"][0] == {"size": 1, "affinity": {"antiAffinityTopologyKey": "none"}}
    assert out["spec"]["unsafeFlags"] == {"replsetSize": True}
    assert scheduling.group_resource({"apiVersion": "v1", "kind": "ConfigMap"}) == "configmaps"


def test_drill_modifiers_shrink_the_copy_and_point_typesense_at_itself(plan_of):
    (cm,) = [m for m in by_kind(plan_of("acme-prod"), "ConfigMap") if m["metadata"]["name"].endswith("-modifiers")]
    rules = yaml.safe_load(cm["data"]["modifiers.yaml"])["resourceModifierRules"]
    by_resource = {(r["conditions"]["groupResource"], r["conditions"].get("resourceNameRegex")): r["patches"] for r in rules}
    mongo = {p["path"]: p["value"] for p in by_resource[("perconaservermongodbs.psmdb.percona.com", None)]}
    assert mongo["/spec/replsets/0/size"] == "1" and mongo["/spec/backup/enabled"] == "false"
    nodes = by_resource[("configmaps", "^typesense-nodes$")][0]
    assert nodes["value"] == "typesense-0.typesense-peers:8107:8108"   # resolves inside the copy's namespace


# ---------------------------------------------------------------- MongoDB TLS


def test_apps_connect_with_tls_and_the_mounted_ca(plan_of):
    plan = plan_of("acme-prod")
    assert [f for f in plan.findings if f.check == "mongodb-tls"] == []
    # (named after the current secret rotation: hapihub-env-r<n>)
    (es,) = [m for m in by_kind(plan, "ExternalSecret") if m["metadata"]["name"].startswith("hapihub-env")]
    uri = es["spec"]["target"]["template"]["data"]["MONGO_URI"]
    assert "tls=true&tlsCAFile=/etc/lfh/mongodb-ca/ca.crt" in uri
    (dep,) = [m for m in by_kind(plan, "Deployment") if m["metadata"]["name"] == "hapihub"]
    vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    (mount,) = [m for m in dep["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] if m["mountPath"] == "/etc/lfh/mongodb-ca"]
    assert vols[mount["name"]]["secret"] == {"secretName": "mongodb-ssl", "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                             "defaultMode": 0o444}
    assert mount["readOnly"] is True


def test_an_app_without_the_ca_mount_or_tls_options_is_an_error(plan_of):
    def drop_mount(rs):
        spec = _inputs(rs, "Deployment", "hapihub")["spec"]["template"]["spec"]
        spec["containers"][0]["volumeMounts"] = [m for m in spec["containers"][0]["volumeMounts"]
                                                 if m["mountPath"] != "/etc/lfh/mongodb-ca"]

    plan = _replan(plan_of("acme-prod"), drop_mount)
    mongodb_tls.analyze(plan)
    (error,) = _errors(plan, "mongodb-tls")
    assert error.startswith("Deployment acme-production/hapihub reads MONGO_URI") and "Mount the Secret's ca.crt" in error

    def plain_uri(rs):
        (es,) = [r for r in rs if r.inputs.get("kind") == "ExternalSecret"
                 and r.inputs["metadata"]["name"].startswith("hapihub-env")]
        data = es.inputs["spec"]["target"]["template"]["data"]
        data["MONGO_URI"] = data["MONGO_URI"].split("&tls=")[0]

    plan = _replan(plan_of("acme-prod"), plain_uri)
    mongodb_tls.analyze(plan)
    (error,) = _errors(plan, "mongodb-tls")
    assert "has no tls=true but the cluster requires TLS" in error

    def weaker(rs):
        _inputs(rs, "PerconaServerMongoDB", "mongodb")["spec"]["tls"]["mode"] = "preferTLS"

    plan = _replan(plan_of("acme-prod"), weaker)
    mongodb_tls.analyze(plan)
    assert [f.severity for f in plan.findings if f.check == "mongodb-tls"] == ["warning"]


# ---------------------------------------------------------------- docs


def test_onboarding_says_what_a_client_on_its_own_domain_must_do():
    from lfh import PROJECT_ROOT

    text = (PROJECT_ROOT / "docs" / "onboarding.md").read_text()
    for needle in ("dnsRecords", "_acme-challenge", "dns01-cname", "kubectl -n envoy-gateway-system get certificate",
                   "kubectl -n envoy-gateway-system get listenerset", "describe challenge"):
        assert needle in text, needle

