"""NetworkPolicies of the platform namespaces: derived from each add-on's pod declarations, and proven
against the rendered charts by the `network-policy` plan check."""
from __future__ import annotations

import copy
import dataclasses
import json

import pytest
import yaml

from components.platform import backups, gateway, gitops, monitoring
from components.platform.contract import GatewayRef
from components.platform.network import (
    CLOSED_PORTS_ANNOTATION,
    KUBE_API,
    NetworkSettings,
    PodSet,
    Port,
    To,
    derive,
)
from lfh import STACKS_DIR
from lfh.config.platform import GitOpsConfig
from lfh.plan import Engine, analyze
from lfh.plan import network_policies as check
from lfh.plan.render import RenderedObject, rendered
from lfh.upstream import upstream_dir

pytestmark = pytest.mark.skipif(upstream_dir() is None, reason="needs ../shared/upstream (the pinned charts)")

PLATFORMS = ["platform-aws", "platform-azure", "platform-gcp", "platform-local"]
NS_NAME = "kubernetes.io/metadata.name"


def policies(plan, namespace=None):
    return [m for _, m in plan.manifests() if m.get("kind") == "NetworkPolicy"
            and (namespace is None or m["metadata"]["namespace"] == namespace)]


def our_namespaces(plan):
    return sorted(m["metadata"]["name"] for _, m in plan.manifests() if m.get("kind") == "Namespace")


def errors(plan):
    return [f for f in plan.findings if f.check == check.CHECK and f.severity == "error"]


def copy_of(plan):
    """A copy of an analysed plan to mutate: own resources, fresh renders, no findings."""
    return dataclasses.replace(plan, findings=[], sections={}, resources=copy.deepcopy(plan.resources))


def rechecked(plan):
    check.analyze(plan)
    return errors(plan)


def policy_input(plan, namespace, name):
    return next(r.inputs for r in plan.resources if r.inputs.get("kind") == "NetworkPolicy"
                and r.inputs["metadata"]["name"] == name and r.inputs["metadata"]["namespace"] == namespace)


def add_rendered(plan, release, obj):
    rel = next(r for r in rendered(plan) if r.name == release)
    rel.objects.append(RenderedObject(obj, rel, f"{release}/templates/injected.yaml"))


# ---------------------------------------------------------------- the policies exist and are sound


@pytest.mark.parametrize("stack", PLATFORMS)
def test_every_platform_namespace_gets_default_deny_dns_and_its_pods_allows(plan_of, stack):
    plan = plan_of(stack)
    namespaces = our_namespaces(plan)
    assert {"envoy-gateway-system", "cert-manager", "external-secrets", "argocd", "velero"} <= set(namespaces)
    for ns in namespaces:
        by_name = {p["metadata"]["name"]: p["spec"] for p in policies(plan, ns)}
        assert by_name.get("default-deny") == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, ns
        if ns == "lfh-platform-secrets":  # a self-contained platform's secret store: no pod may run there
            assert set(by_name) == {"default-deny"}
            continue
        assert by_name["allow-dns"]["egress"][0]["to"] == [{"podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                                                            "namespaceSelector": {"matchLabels": {NS_NAME: "kube-system"}}}]
        assert [n for n in by_name if n.startswith("allow-") and n != "allow-dns"], f"{ns}: no pod allows"
    # The charts' own policies are off: they only add (NetworkPolicies are a union) and would widen ours.
    assert not [ro for rel in rendered(plan) for ro in rel.objects if ro.kind == "NetworkPolicy"]
    assert errors(plan) == []
    assert plan.sections["networkPolicies"]["data"]["pods"] > 10


@pytest.mark.parametrize("stack", PLATFORMS)
def test_every_rule_names_a_peer_and_ports_and_namespaces_by_their_name_label(plan_of, stack):
    for p in policies(plan_of(stack)):
        for direction, key in (("ingress", "from"), ("egress", "to")):
            for rule in p["spec"].get(direction, []):
                assert rule.get(key) and rule.get("ports"), (p["metadata"], rule)
                for peer in rule[key]:
                    sel = peer.get("namespaceSelector")
                    # `{}` is "every pod" (public listeners, unknown control plane); else the name label only, or
                    # the label every client namespace carries (an in-cluster backup store admits their agents).
                    assert sel is None or sel == {} or set(sel) == {"matchLabels"} and (
                        set(sel["matchLabels"]) == {NS_NAME} or sel["matchLabels"] == {"lfh.io/client-namespace": "true"})
                    if peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0" and not peer["ipBlock"].get("except"):
                        ports = {r["port"] for r in rule["ports"]}
                        # Unrestricted addresses only on public listeners, webhooks, the API, HTTP-01 self-checks.
                        assert ports <= {10080, 10443, 443, 6443, 80, 9443, 10250, 9502, 2049}, (p["metadata"]["name"], ports)


def test_the_gateway_reaches_each_routed_backend_and_prometheus_each_metrics_port(plan_of):
    plan = plan_of("platform-aws")
    envoy = policy_input(plan, "envoy-gateway-system", "allow-envoy")["spec"]
    grafana = policy_input(plan, "monitoring", "allow-grafana")["spec"]
    to_grafana = [r for r in envoy["egress"] if r["to"][0].get("namespaceSelector", {}).get("matchLabels") == {NS_NAME: "monitoring"}]
    assert to_grafana and to_grafana[0]["ports"] == [{"protocol": "TCP", "port": 3000}]
    from_gateway = [r for r in grafana["ingress"] if r["from"][0]["podSelector"]["matchLabels"] == gateway.proxy_pod_labels(GatewayRef())]
    assert from_gateway and from_gateway[0]["from"][0]["namespaceSelector"] == {"matchLabels": {NS_NAME: "envoy-gateway-system"}}
    prometheus = policy_input(plan, "monitoring", "allow-prometheus")["spec"]
    scraped = {(r["to"][0].get("namespaceSelector", {}).get("matchLabels", {}).get(NS_NAME), p["port"])
               for r in prometheus["egress"] for p in r["ports"]}
    assert {("argocd", 8083), ("velero", 8085), ("cert-manager", 9402), ("longhorn-system", 9500),
            ("external-secrets", 8080), ("envoy-gateway-system", 19001)} <= scraped


def test_webhooks_are_open_to_the_control_plane_as_the_cluster_contract_knows_it(plan_of):
    def webhook_rule(stack):
        spec = policy_input(plan_of(stack), "cert-manager", "allow-webhook")["spec"]
        return next(r for r in spec["ingress"] if r["ports"] == [{"protocol": "TCP", "port": 10250}])

    # EKS: the control-plane ENIs in the private subnets.
    assert {p["ipBlock"]["cidr"] for p in webhook_rule("platform-aws")["from"]} == {"10.40.0.0/18", "10.40.64.0/18", "10.40.128.0/18"}
    # GKE: the private control plane range, or its konnectivity agents.
    assert webhook_rule("platform-gcp")["from"] == [
        {"ipBlock": {"cidr": "172.16.0.0/28"}},
        {"podSelector": {"matchLabels": {"k8s-app": "konnectivity-agent"}}, "namespaceSelector": {"matchLabels": {NS_NAME: "kube-system"}}}]
    # AKS with API Server VNet Integration: the delegated API server subnet (no konnectivity tunnel).
    assert webhook_rule("platform-azure")["from"] == [{"ipBlock": {"cidr": "10.41.16.0/28"}}]
    # An existing cluster: where the API server calls from is unknown, so anywhere, on that port only.
    assert webhook_rule("platform-local")["from"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"namespaceSelector": {}}]


def test_cloud_identity_token_endpoints_only_where_the_identity_needs_them(plan_of):
    def egress_cidrs(stack):
        spec = policy_input(plan_of(stack), "velero", "allow-server")["spec"]
        return {p.get("ipBlock", {}).get("cidr") for r in spec["egress"] for p in r["to"]}

    # GKE Workload Identity: the node's metadata server; IRSA and Azure WI exchange tokens over HTTPS.
    assert "169.254.169.254/32" in egress_cidrs("platform-gcp")
    assert "169.254.169.254/32" not in egress_cidrs("platform-aws") | egress_cidrs("platform-azure")


def test_the_kubernetes_schema_check_validates_the_policies(plan_of):
    from lfh.plan.conformance import check_k8s_schema

    plan = copy_of(plan_of("platform-aws"))
    assert not [f for f in check_k8s_schema(plan) if "NetworkPolicy" in f.message]
    policy_input(plan, "argocd", "allow-server")["spec"]["ingress"][0]["ports"][0]["endport"] = 9000
    assert [f for f in check_k8s_schema(plan) if "NetworkPolicy" in f.message and "endport" in f.message]


# ---------------------------------------------------------------- the derivation follows the declarations


def test_a_link_is_one_egress_rule_on_the_source_and_one_ingress_rule_on_the_target():
    a = PodSet("a", "ns1", {"app": "a"}, connects_to=(To("ns2/b", ("grpc",)), KUBE_API))
    b = PodSet("b", "ns2", {"app": "b"}, ports=(Port("grpc", 9000), Port("unused", 9001)))
    out = derive([a, b], NetworkSettings(api_server_cidrs=["10.0.0.0/28"]))
    assert out["ns1"]["allow-a"]["spec"]["egress"] == [
        {"to": [{"podSelector": {"matchLabels": {"app": "b"}}, "namespaceSelector": {"matchLabels": {NS_NAME: "ns2"}}}],
         "ports": [{"protocol": "TCP", "port": 9000}]},
        {"to": [{"ipBlock": {"cidr": "10.0.0.0/28"}}], "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}]
    assert out["ns2"]["allow-b"]["spec"]["ingress"] == [
        {"from": [{"podSelector": {"matchLabels": {"app": "a"}}, "namespaceSelector": {"matchLabels": {NS_NAME: "ns1"}}}],
         "ports": [{"protocol": "TCP", "port": 9000}]}]
    with pytest.raises(ValueError, match="no enabled pod set"):
        derive([a], NetworkSettings())
    with pytest.raises(ValueError, match="has no port 'http'"):
        derive([PodSet("a", "ns1", {"app": "a"}, connects_to=(To("ns2/b", ("http",)),)), b], NetworkSettings())


def test_turning_monitoring_off_removes_every_prometheus_rule():
    ref = GatewayRef()
    base = [*gateway.network_pods(ref, http01=False), *gitops.network_pods(GitOpsConfig()), *backups.network_pods()]
    on = derive(base + monitoring.network_pods(), NetworkSettings())
    off = derive(base, NetworkSettings())
    prom = monitoring.PROMETHEUS_POD_LABELS
    assert any(json.dumps(prom, sort_keys=True)[1:-1] in json.dumps(p, sort_keys=True) for p in on["argocd"].values())
    assert "monitoring" not in off
    for ns, pols in off.items():
        assert "prometheus" not in json.dumps(pols), ns
    # The metrics ports are then closed on purpose, and say so.
    assert "8083: monitoring is off" in off["argocd"]["allow-server"]["annotations"][CLOSED_PORTS_ANNOTATION]
    # The gateway reaches Grafana only while Grafana exists.
    assert "grafana" in json.dumps(on["envoy-gateway-system"]["allow-envoy"]) and "grafana" not in json.dumps(off)


def test_turning_monitoring_off_in_a_stack_plans_without_prometheus_rules(tmp_path):
    doc = yaml.safe_load((STACKS_DIR / "Pulumi.platform-aws.yaml").read_text())
    doc["config"]["lfh:platform"].setdefault("monitoring", {})["enabled"] = False
    (tmp_path / "Pulumi.platform-aws.yaml").write_text(yaml.safe_dump(doc))
    plan = analyze(Engine(stacks_dir=tmp_path).plan("platform-aws"))
    assert "monitoring" not in our_namespaces(plan)
    assert policies(plan) and not [p for p in policies(plan) if "prometheus" in json.dumps(p["spec"])]
    assert errors(plan) == []


# ---------------------------------------------------------------- the check catches what breaks them


def test_a_rendered_pod_no_policy_selects_is_an_error(plan_of):
    plan = copy_of(plan_of("platform-aws"))
    add_rendered(plan, "argo-cd", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "argocd-newcomponent", "namespace": "argocd"},
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "argocd-newcomponent"}},
                 "template": {"metadata": {"labels": {"app.kubernetes.io/name": "argocd-newcomponent"}},
                              "spec": {"containers": [{"name": "c", "image": "x:1"}]}}}})
    found = rechecked(plan)
    assert len(found) == 1 and "Deployment/argocd-newcomponent" in found[0].message
    assert "no NetworkPolicy of namespace argocd selects its pods" in found[0].message
    assert "network_pods()" in found[0].message


def test_an_operator_pod_no_policy_selects_is_an_error(plan_of):
    plan = copy_of(plan_of("platform-aws"))
    policy_input(plan, "monitoring", "allow-prometheus")["spec"]["podSelector"] = {"matchLabels": {"app": "renamed"}}
    assert any("pods of Prometheus/kube-prometheus-stack-prometheus" in f.message and "selects its pods" in f.message
               for f in rechecked(plan))


def test_a_service_port_no_rule_admits_is_an_error_naming_port_and_peer(plan_of):
    plan = copy_of(plan_of("platform-aws"))
    add_rendered(plan, "velero", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "velero-debug", "namespace": "velero"},
        "spec": {"selector": {"name": "velero"}, "ports": [{"name": "pprof", "port": 6060, "targetPort": 6060}]}})
    found = rechecked(plan)
    assert len(found) == 1
    assert "Service velero/velero-debug port pprof targets 6060/TCP" in found[0].message
    assert "admits it from any peer" in found[0].message


@pytest.mark.parametrize("namespace, policy, port, marker, peer", [
    ("monitoring", "allow-grafana", 3000, "envoy", "the shared Gateway's Envoy pods"),           # routed backend
    ("cert-manager", "allow-webhook", 10250, "ipBlock", "the control plane (10.40.0.0/18)"),     # webhook
    ("velero", "allow-server", 8085, "prometheus", "Prometheus monitoring/kube-prometheus-stack-prometheus"),  # ServiceMonitor
])
def test_a_used_port_without_a_rule_from_its_peer_is_an_error(plan_of, namespace, policy, port, marker, peer):
    plan = copy_of(plan_of("platform-aws"))
    spec = policy_input(plan, namespace, policy)["spec"]
    spec["ingress"] = [r for r in spec["ingress"]
                       if not ({"protocol": "TCP", "port": port} in r["ports"] and marker in json.dumps(r["from"]))]
    found = rechecked(plan)
    assert found and all(f"{port}/TCP" in f.message and peer in f.message for f in found), [f.message for f in found]


def test_the_peer_must_be_let_out_too(plan_of):
    plan = copy_of(plan_of("platform-aws"))
    spec = policy_input(plan, "envoy-gateway-system", "allow-envoy")["spec"]
    spec["egress"] = [r for r in spec["egress"] if "grafana" not in json.dumps(r)]
    found = rechecked(plan)
    assert len(found) == 1 and "needs Envoy pods of Gateway envoy-gateway-system/shared-gateway" in found[0].message
    assert "no NetworkPolicy of namespace envoy-gateway-system lets them out" in found[0].message


def test_a_port_closed_on_purpose_is_info_and_without_its_reason_an_error(plan_of):
    plan = copy_of(plan_of("platform-aws"))
    check.analyze(plan)
    assert any(f.severity == "info" and "longhorn-frontend" in f.message and "no login" in f.message for f in plan.findings)
    plan.findings = []
    del policy_input(plan, "longhorn-system", "allow-ui")["metadata"]["annotations"]
    found = rechecked(plan)
    assert len(found) == 1 and "Service longhorn-system/longhorn-frontend port http targets 8000/TCP" in found[0].message


def test_a_missing_default_deny_and_an_open_rule_are_errors(plan_of):
    plan = copy_of(plan_of("platform-aws"))
    plan.resources = [r for r in plan.resources if not (r.inputs.get("kind") == "NetworkPolicy"
                      and r.inputs["metadata"]["name"] == "default-deny" and r.inputs["metadata"]["namespace"] == "velero")]
    policy_input(plan, "argocd", "allow-server")["spec"]["ingress"].append({"ports": [{"protocol": "TCP", "port": 8080}]})
    messages = [f.message for f in rechecked(plan)]
    assert any(m.startswith("namespace velero: no default-deny") for m in messages)
    assert any("allow-server" in m and "names no peer" in m for m in messages)


def test_selector_and_port_semantics():
    assert check.selects({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": "1"})
    assert not check.selects({"matchExpressions": [{"key": "a", "operator": "In", "values": ["2"]}]}, {"a": "1"})
    assert check.selects({}, {}) and not check.selects(None, {})
    view = check.View(policies={"ns": [check.ClusterObject({"kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "ns"}, "spec": {
        "podSelector": {"matchLabels": {"app": "x"}}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                     "ports": [{"protocol": "TCP", "port": 10000, "endPort": 20000}, {"protocol": "TCP", "port": "web"}]}]}},
        "urn", "ours")]})
    allows = lambda ip, port, named={}: view.allows("ns", {"app": "x"}, "Ingress", check.Endpoint(ip=ip), port, "TCP", named)  # noqa: E731
    assert allows("10.2.0.1", 15000) and not allows("10.1.0.1", 15000) and not allows("10.2.0.1", 9090)
    assert allows("10.2.0.1", 9090, {"web": (9090, "TCP")})
    assert view.allows("ns", {"app": "y"}, "Ingress", None, 1, "TCP", {}) is None  # not isolated


# ---------------------------------------------------------------- client namespaces stay reachable


def test_client_stacks_let_the_platform_gateway_reach_their_routed_ports(plan_of):
    plan = plan_of("demo-prod")
    ns = plan.outputs["namespace"]
    egress = [p for p in policies(plan, "envoy-gateway-system") if p["metadata"]["name"] == f"egress-to-{ns}"]
    assert egress and egress[0]["spec"]["podSelector"]["matchLabels"] == gateway.proxy_pod_labels(GatewayRef())
    assert all(r["to"][0]["namespaceSelector"] == {"matchLabels": {NS_NAME: ns}} for r in egress[0]["spec"]["egress"])
    assert errors(plan) == []
    mutated = copy_of(plan)
    # The gateway's one only (monitoring has its own `egress-to-<ns>` for the apps' metrics ports).
    mutated.resources = [r for r in mutated.resources if not (r.inputs.get("kind") == "NetworkPolicy"
                         and r.inputs["metadata"]["name"] == f"egress-to-{ns}"
                         and r.inputs["metadata"].get("namespace") == "envoy-gateway-system")]
    found = rechecked(mutated)
    assert found and all("needs Envoy pods" in f.message and f"namespace {ns}" in f.message for f in found)


def test_client_kube_api_egress_uses_the_platforms_api_server_addresses(plan_of):
    plan = plan_of("demo-prod")
    ns = plan.outputs["namespace"]
    cidrs = {p["ipBlock"]["cidr"] for pol in policies(plan, ns) for r in pol["spec"].get("egress", [])
             if {x["port"] for x in r["ports"]} == {443, 6443} for p in r["to"] if "ipBlock" in p}
    assert cidrs and cidrs <= {"10.40.0.0/18", "10.40.64.0/18", "10.40.128.0/18"}


def test_declared_ports_exist_on_the_rendered_pods(plan_of):
    """Every declared port of a rendered pod set is a container port of the pods it selects (a chart
    that moves a port breaks this before it breaks a cluster)."""
    plan = plan_of("platform-aws")
    pods = [p for co in check.cluster_objects(plan) if co.kind in check.POD_KINDS
            if (p := check._workload_pod(co, True)) is not None]
    for pol in policies(plan):
        spec = pol["spec"]
        selected = [p for p in pods if p.namespace == pol["metadata"]["namespace"] and spec["podSelector"]
                    and check.selects(spec["podSelector"], p.labels)]
        for pod in selected:
            numbers = {n for _, n, _ in pod.ports}
            for rule in spec.get("ingress", []):
                for port in rule["ports"]:
                    if "endPort" not in port and not pod.host_network:
                        assert port["port"] in numbers, (pol["metadata"]["name"], pod.what, port)


@pytest.mark.parametrize("stack", ["platform-aws", "demo-prod"])
def test_the_gateway_reaches_the_acme_http01_solver_pods_of_every_certificate(plan_of, stack):
    """Every issuer ends with an HTTP-01 solver through the shared Gateway (client names outside the
    platform's zones), so cert-manager's solver pods in each Certificate's namespace must be selected and
    admitted from Envoy on 8089 — on a DNS-01 platform too."""
    plan = plan_of(stack)
    assert errors(plan) == []
    mutated = copy_of(plan)
    platform = mutated.platform or mutated
    if mutated.platform is not None:
        mutated.platform = platform = copy_of(mutated.platform)
    platform.resources = [r for r in platform.resources if not (
        r.inputs.get("kind") == "NetworkPolicy" and r.inputs["metadata"]["name"] == "allow-acme-http01-solver")]
    found = [f.message for f in rechecked(mutated)]
    assert any("HTTP-01 solver pods" in m for m in found), found


def test_backup_writers_reach_the_in_cluster_backup_store(plan_of):
    """A self-contained platform backs up to its own MinIO: Velero's storage locations and the clients'
    Percona backup agents must be let out to it and in on its S3 port (the store is no outside address)."""
    platform, client = plan_of("platform-local"), plan_of("demo-staging")
    assert errors(platform) == [] and errors(client) == []
    store = copy_of(platform)
    store.resources = [r for r in store.resources if not (
        r.inputs.get("kind") == "NetworkPolicy" and r.inputs["metadata"]["name"] == "allow-backup-store")]
    found = [f.message for f in rechecked(store)]
    assert any(m.startswith("BackupStorageLocation velero/default") and "9000/TCP" in m for m in found), found
    agents = copy_of(client)
    policy = policy_input(agents, "demo-staging", "allow-mongodb")
    policy["spec"]["egress"] = [r for r in policy["spec"]["egress"]
                                if not any("namespaceSelector" in peer for peer in r.get("to", []))]
    found = [f.message for f in rechecked(agents)]
    assert any("backup storage" in m and "needs the mongod pods" in m for m in found), found
