"""Webhook reachability: every admission/conversion webhook reaches a serving container, and on a
private GKE cluster the control plane may open a connection to its port."""
from __future__ import annotations

import pytest

from graph import errors_after, mutable_copy, rendered_object
from lfh.plan import list_stacks, webhooks
from lfh.plan.references import Cluster
from lfh.plan.render import cluster_objects
from lfh.upstream import upstream_dir

pytestmark = pytest.mark.skipif(upstream_dir() is None, reason="needs ../shared/upstream (the pinned charts)")

FIREWALL = "gcp:compute/firewall:Firewall"



def needed_ports(plan) -> set[int]:
    cluster = Cluster(plan)
    ports: set[int] = set()
    for w in webhooks.webhooks(cluster_objects(plan, phases=("object", "hook", "crd"))):
        found, problem = webhooks.target_ports(cluster, w)
        assert not problem, problem
        ports |= set(found)
    return ports


@pytest.mark.parametrize("stack", list_stacks())
def test_every_webhook_of_every_example_stack_is_reachable(plan_of, stack):
    assert not [f.message for f in plan_of(stack).findings if f.check == webhooks.CHECK]


def test_the_gke_firewall_opens_exactly_the_webhook_ports_beyond_443_and_10250(plan_of):
    from components.cluster.gcp import WEBHOOK_PORTS

    plan = plan_of("platform-gcp")
    needed = needed_ports(plan) - webhooks.GKE_PRIVATE_OPEN_PORTS
    assert needed == set(WEBHOOK_PORTS) == {9443, 9502}
    [fw] = plan.of_type(FIREWALL)
    assert fw.inputs["sourceRanges"] == [plan.config.platform.cluster.master_cidr]
    assert fw.inputs["allows"] == [{"protocol": "tcp", "ports": ["9443", "9502"]}]
    assert fw.inputs["targetServiceAccounts"] == [plan.by_urn()[next(
        r.urn for r in plan.resources if r.type == "gcp:container/cluster:Cluster")].inputs["nodeConfig"]["serviceAccount"]]


def test_a_webhook_on_9443_on_private_gke_without_a_firewall_rule_is_an_error(engine):
    plan = mutable_copy(engine, "platform-gcp")
    plan.resources = [r for r in plan.resources if r.type != FIREWALL]
    messages = errors_after(webhooks, plan)
    assert len(messages) == 3  # envoy-gateway's injector (9443), Longhorn's validator and mutator (9502)
    [eg] = [m for m in messages if "9443" in m]
    assert "MutatingWebhookConfiguration/envoy-gateway-topology-injector" in eg and "172.16.0.0/28" in eg
    assert "private-clusters#add_firewall_rules" in eg
    assert all("tcp:9502" in m and "longhorn-manager" in m for m in messages if m is not eg)


def test_a_firewall_rule_from_elsewhere_or_for_other_ports_does_not_count(engine):
    plan = mutable_copy(engine, "platform-gcp")
    [fw] = plan.of_type(FIREWALL)
    fw.inputs["sourceRanges"] = ["10.0.0.0/8"]
    assert len(errors_after(webhooks, plan)) == 3
    plan = mutable_copy(engine, "platform-gcp")
    [fw] = plan.of_type(FIREWALL)
    fw.inputs["allows"] = [{"protocol": "tcp", "ports": ["9400-9450"]}]
    assert [m for m in errors_after(webhooks, plan) if "9443" in m] == []  # a range covers it; 9502 still closed
    assert len(plan.errors) == 2


def test_webhooks_need_no_firewall_rule_off_private_gke(engine):
    plan = mutable_copy(engine, "platform-aws")
    assert 9443 in needed_ports(plan) and errors_after(webhooks, plan) == []


def test_a_webhook_service_that_reaches_no_container_is_an_error(engine):
    plan = mutable_copy(engine, "platform-aws")
    svc = rendered_object(plan, "Service", "envoy-gateway")
    for port in svc.obj["spec"]["ports"]:
        if port["port"] == 9443:
            port["targetPort"] = "no-such-port"
    dep = rendered_object(plan, "Deployment", "cert-manager-webhook")
    dep.obj["spec"]["template"]["metadata"]["labels"] = {"app": "renamed"}
    messages = errors_after(webhooks, plan)
    assert any("topology.webhook.gateway.envoyproxy.io" in m and "targetPort 'no-such-port'" in m for m in messages)
    assert any("webhook.cert-manager.io" in m and "selects no pod" in m for m in messages)


def test_longhorn_registers_its_webhooks_at_run_time_on_its_manager_pods(plan_of):
    plan = plan_of("platform-aws")
    found = [w for w in webhooks.webhooks(cluster_objects(plan)) if w.service == "longhorn-admission-webhook"]
    assert len(found) == 2 and all(w.port == 9502 and w.source.kind == "DaemonSet" for w in found)
    assert webhooks.target_ports(Cluster(plan), found[0]) == ([9502], "")
