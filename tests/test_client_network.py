"""Derived NetworkPolicies: default deny, every pod selected, every allow names a peer, isolation."""
from __future__ import annotations

import pytest

from components.client.contract import TO_INTERNET_HTTPS, Workload
from components.client.network import NetworkSettings, derive_policies

from client_apps_helpers import CLIENT_STACKS, by_kind, client, namespace_of, plan_with, pod_specs

SETTINGS = NetworkSettings(gateway_namespace="gw", monitoring_namespace=None,
                           egress_except_cidrs=["10.0.0.0/8"], kube_api_ports=[443])


def _selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items()) and \
        not selector.get("matchExpressions")


def test_workload_to_workload_rules_name_the_peer_on_both_sides():
    app = Workload("app", {"app": "a"}, ports=[7500], routed_ports=[7500], egress_to=["db"])
    db = Workload("db", {"app": "db"}, ports=[27017], peer_ports=[27017], ingress_from=["self"])
    p = derive_policies([app, db], SETTINGS)
    assert p["allow-app"]["egress"] == [{"to": [{"podSelector": {"matchLabels": {"app": "db"}}}],
                                         "ports": [{"protocol": "TCP", "port": 27017}]}]
    db_ingress = p["allow-db"]["ingress"]
    assert {"from": [{"podSelector": {"matchLabels": {"app": "a"}}}], "ports": [{"protocol": "TCP", "port": 27017}]} in db_ingress
    # replica-set members reach each other, and only each other, on the peer port
    assert {"from": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ports": [{"protocol": "TCP", "port": 27017}]} in db_ingress
    # the gateway reaches the routed port only, selected by namespace name
    assert p["allow-app"]["ingress"] == [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gw"}}}],
                                          "ports": [{"protocol": "TCP", "port": 7500}]}]
    # the database has no route: no gateway rule
    assert not any("namespaceSelector" in peer for rule in db_ingress for peer in rule["from"])


def test_internet_https_excludes_private_ranges_and_unknown_targets_fail():
    w = Workload("app", {"app": "a"}, egress_to=[TO_INTERNET_HTTPS])
    rule = derive_policies([w], SETTINGS)["allow-app"]["egress"][0]
    assert rule == {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}],
                    "ports": [{"protocol": "TCP", "port": 443}]}
    with pytest.raises(ValueError, match="not enabled workloads"):
        derive_policies([Workload("app", {"app": "a"}, egress_to=["mongodb"])], SETTINGS)


def test_monitoring_allow_only_when_platform_monitoring_is_on():
    w = Workload("app", {"app": "a"}, ports=[7500], metrics_port=7500)
    assert "allow-app" not in derive_policies([w], SETTINGS)
    on = NetworkSettings(**{**SETTINGS.__dict__, "monitoring_namespace": "monitoring"})
    assert derive_policies([w], on)["allow-app"]["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]


@pytest.mark.parametrize("stack", CLIENT_STACKS)
def test_default_deny_and_every_pod_selected(plan_of, stack):
    plan = plan_of(stack)
    ns = plan.outputs["namespace"]
    policies = [m for m in by_kind(plan, "NetworkPolicy") if namespace_of(m) == ns]
    deny = [p for p in policies if p["metadata"]["name"] == "default-deny"]
    assert deny and deny[0]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    pods = [(n, meta, spec) for (n, meta, spec) in pod_specs(plan)
            if any(namespace_of(m) == ns and f"{m['kind']}/{m['metadata']['name']}" == n for _, m in plan.manifests())]
    assert pods
    for name, meta, _ in pods:
        selecting = [p for p in policies if p["metadata"]["name"].startswith("allow-")
                     and _selects(p["spec"]["podSelector"], meta.get("labels") or {})]
        assert selecting, f"{name} has no workload allow policy (only default deny)"


@pytest.mark.parametrize("stack", CLIENT_STACKS)
def test_every_allow_rule_names_a_peer(plan_of, stack):
    plan = plan_of(stack)
    for p in by_kind(plan, "NetworkPolicy"):
        for direction, key in (("ingress", "from"), ("egress", "to")):
            for rule in p["spec"].get(direction, []):
                peers = rule.get(key)
                assert peers, f"{p['metadata']['name']}: a {direction} rule allows any peer"
                assert rule.get("ports"), f"{p['metadata']['name']}: a {direction} rule allows any port"
                for peer in peers:
                    assert peer, f"{p['metadata']['name']}: empty peer"
                    if "ipBlock" in peer and peer["ipBlock"]["cidr"] == "0.0.0.0/0" and \
                            not {r["port"] for r in rule["ports"]} <= {443, 6443}:
                        assert peer["ipBlock"].get("except"), "0.0.0.0/0 on a non-HTTPS port must cut out private ranges"


def test_turning_syncd_off_removes_its_allows(tmp_path):
    plan_of = plan_with(tmp_path, {
        "on-staging": client("on"),
        "off-staging": client("off", apps={"syncd": {"enabled": False}}),
    })
    on, off = plan_of("on-staging"), plan_of("off-staging")

    def mentions_syncd(plan):
        return [p["metadata"]["name"] for p in by_kind(plan, "NetworkPolicy") if "syncd" in repr(p["spec"])]

    # on: Syncd's own policy, an ingress rule on every workload it reaches (MongoDB), and the gateway's
    # egress to its routed port (in the platform's gateway namespace)
    assert "allow-syncd" in mentions_syncd(on) and f"egress-to-{on.outputs['namespace']}" in mentions_syncd(on)
    syncd_egress = {p["metadata"]["name"]: p for p in by_kind(on, "NetworkPolicy")}["allow-syncd"]["spec"].get("egress", [])
    assert len(mentions_syncd(on)) == 2 + len(syncd_egress)
    assert mentions_syncd(off) == []
    assert not [r for r in by_kind(off, "HTTPRoute") if "sync." in repr(r)]


def test_two_clients_share_nothing(tmp_path):
    plan_of = plan_with(tmp_path, {"alpha-production": client("alpha", "production"),
                                   "beta-production": client("beta", "production")})
    a, b = plan_of("alpha-production"), plan_of("beta-production")
    assert a.outputs["namespace"] == "alpha-production" and b.outputs["namespace"] == "beta-production"

    def objects(plan):   # objects each stack owns
        return [(r, m) for r, m in plan.manifests() if not r.type.endswith("Patch")]

    def namespaced(plan):
        return {(m["kind"], namespace_of(m), m["metadata"]["name"]) for _, m in objects(plan) if namespace_of(m)}

    def cluster_scoped(plan):
        return {(m["kind"], m["metadata"]["name"]) for _, m in objects(plan) if not namespace_of(m)}

    assert not namespaced(a) & namespaced(b)
    assert not cluster_scoped(a) & cluster_scoped(b)
    # Each client's listeners are its own ListenerSet (distinct objects, distinct hostnames).
    listeners = [{(m["metadata"]["name"], lst["hostname"]) for m in by_kind(p, "ListenerSet") for lst in m["spec"]["listeners"]}
                 for p in (a, b)]
    assert listeners[0] and listeners[1] and not listeners[0] & listeners[1]
    for p, ns in ((a, "alpha-production"), (b, "beta-production")):
        for m in by_kind(p, "ListenerSet"):
            for lst in m["spec"]["listeners"]:
                assert lst["allowedRoutes"]["namespaces"]["selector"]["matchLabels"] == {"kubernetes.io/metadata.name": ns}
    # No NetworkPolicy peer of one client points into the other's namespace or at its pods.
    for plan, other in ((a, "beta"), (b, "alpha")):
        for p in by_kind(plan, "NetworkPolicy"):
            assert other not in repr(p["spec"])
    hosts = lambda plan: {h for r in by_kind(plan, "HTTPRoute") for h in r["spec"]["hostnames"]}  # noqa: E731
    assert not hosts(a) & hosts(b)


def test_cloud_metadata_egress_names_the_metadata_server_only():
    from components.client.network import TO_CLOUD_METADATA

    w = Workload("app", {"app": "a"}, egress_to=[TO_CLOUD_METADATA])
    rules = derive_policies([w], SETTINGS)["allow-app"]["egress"]
    assert rules == [{"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}], "ports": [{"protocol": "TCP", "port": 80}]},
                     {"to": [{"ipBlock": {"cidr": "169.254.169.252/32"}}], "ports": [{"protocol": "TCP", "port": 988}]}]


def test_the_platform_side_egress_mirrors_the_gateway_and_monitoring_ingress():
    import dataclasses

    from components.client.network import platform_side_policies

    app = Workload("app", {"app": "a"}, ports=[7500], routed_ports=[7500], metrics_port=9100)
    db = Workload("db", {"app": "db"}, ports=[27017], peer_ports=[27017], ingress_from=["self"])
    s = NetworkSettings(gateway_namespace="gw", monitoring_namespace="mon", egress_except_cidrs=[], kube_api_ports=[443],
                        gateway_pod_labels={"app": "envoy"}, prometheus_pod_labels={"app": "prometheus"})
    out = platform_side_policies([app, db], s, "client-ns")
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "client-ns"}},
            "podSelector": {"matchLabels": {"app": "a"}}}
    assert out == {
        ("gw", "egress-to-client-ns"): {"podSelector": {"matchLabels": {"app": "envoy"}}, "policyTypes": ["Egress"],
                                        "egress": [{"to": [peer], "ports": [{"protocol": "TCP", "port": 7500}]}]},
        ("mon", "egress-to-client-ns"): {"podSelector": {"matchLabels": {"app": "prometheus"}}, "policyTypes": ["Egress"],
                                         "egress": [{"to": [peer], "ports": [{"protocol": "TCP", "port": 9100}]}]}}
    # the same ports the client's own ingress rules open to those namespaces
    ingress = derive_policies([app, db], s)["allow-app"]["ingress"]
    assert [r["ports"] for r in ingress] == [[{"protocol": "TCP", "port": 7500}], [{"protocol": "TCP", "port": 9100}]]
    # no platform monitoring, or a platform that exports no pod labels: nothing to add there
    assert platform_side_policies([app], dataclasses.replace(s, monitoring_namespace=None, gateway_pod_labels={}), "client-ns") == {}
