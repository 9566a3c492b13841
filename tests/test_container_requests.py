"""Every container the cluster runs (ours, rendered, hooks, operator-built) has CPU and memory requests
and a pinned image."""
from __future__ import annotations

import pytest

from graph import errors_after, manifest, mutable_copy, rendered_object
from lfh.plan import containers, list_stacks
from lfh.plan.containers import missing_requests
from lfh.upstream import upstream_dir

pytestmark = pytest.mark.skipif(upstream_dir() is None, reason="needs ../shared/upstream (the pinned charts)")



@pytest.mark.parametrize("stack", list_stacks())
def test_every_container_of_every_example_stack_is_sized_and_pinned(plan_of, stack):
    assert not [f.message for f in plan_of(stack).findings if f.check in (containers.REQUESTS, containers.IMAGES)]


def test_the_charts_containers_the_issue_named_now_have_requests(plan_of):
    from lfh.plan.pods import pod_templates

    sized = {(t.owner.name, c["name"]): c.get("resources", {}).get("requests")
             for t in pod_templates(plan_of("platform-gcp")) for _, c in t.containers()}
    for workload, container in [("argo-cd-redis-ha-server", "redis"), ("argo-cd-redis-ha-server", "sentinel"),
                                ("argo-cd-redis-ha-haproxy", "haproxy"), ("argo-cd-redis-ha-haproxy", "config-init"),
                                ("kube-prometheus-stack-grafana", "grafana"),
                                ("kube-prometheus-stack-grafana", "grafana-sc-dashboard"),
                                ("kube-prometheus-stack-kube-state-metrics", "kube-state-metrics"),
                                ("kube-prometheus-stack-prometheus-node-exporter", "node-exporter"),
                                ("kube-prometheus-stack-prometheus", "config-reloader")]:
        requests = sized[(workload, container)]
        assert requests and requests.get("cpu") and requests.get("memory"), (workload, container)


def test_a_container_without_requests_is_an_error(engine):
    plan = mutable_copy(engine, "platform-aws")
    dep = rendered_object(plan, "Deployment", "cert-manager-webhook")
    dep.obj["spec"]["template"]["spec"]["containers"][0].pop("resources")
    [message] = errors_after(containers, plan)
    assert "Deployment/cert-manager-webhook" in message and "no cpu or memory request" in message
    assert "chart's values" in message


def test_a_limit_alone_counts_as_the_request():
    assert missing_requests({"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}) == []
    assert missing_requests({"resources": {"requests": {"cpu": "1"}}}) == ["memory"]
    assert missing_requests({"resources": {"requests": {"cpu": "0", "memory": ""}}}) == ["cpu", "memory"]


def test_longhorn_containers_the_chart_cannot_size_get_requests_from_a_limitrange(engine):
    plan = mutable_copy(engine, "platform-aws")
    assert errors_after(containers, plan) == []
    limit_range = manifest(plan, "LimitRange", "longhorn-default-requests")
    limit_range["spec"]["limits"] = []
    plan.findings.clear()
    messages = errors_after(containers, plan)
    assert any("Deployment/longhorn-ui" in m for m in messages)
    assert any("Deployment/longhorn-driver-deployer" in m and "initContainer" in m for m in messages)
    assert all("longhorn-system" in m for m in messages)


def test_an_operator_pod_without_requests_is_an_error(engine):
    plan = mutable_copy(engine, "platform-gcp")
    operator = rendered_object(plan, "Deployment", "kube-prometheus-stack-operator")
    args = operator.obj["spec"]["template"]["spec"]["containers"][0]["args"]
    args[:] = [a if not a.startswith("--config-reloader-cpu-request=") else "--config-reloader-cpu-request=0" for a in args]
    messages = errors_after(containers, plan)
    assert {m.split(":")[0].split(" (")[0] for m in messages} == {"Prometheus/kube-prometheus-stack-prometheus",
                                                                   "Alertmanager/kube-prometheus-stack-alertmanager"}
    assert all("config-reloader" in m and "no cpu request" in m for m in messages)


def test_the_mongodb_backup_agent_is_sized(engine):
    plan = mutable_copy(engine, "platform-aws")  # a namespace without a LimitRange: nothing to fall back on
    assert errors_after(containers, plan) == []
    plan = mutable_copy(engine, "demo-prod")
    cr = manifest(plan, "PerconaServerMongoDB", "mongodb")
    assert cr["spec"]["backup"]["resources"]["requests"]
    ns_limit = manifest(plan, "LimitRange", "demo-production-limits")
    ns_limit["spec"]["limits"] = []
    cr["spec"]["backup"].pop("resources")
    [message] = errors_after(containers, plan)
    assert "PerconaServerMongoDB/mongodb" in message and "'backup-agent'" in message


def test_floating_or_missing_images_are_errors(engine):
    plan = mutable_copy(engine, "platform-aws")
    dep = rendered_object(plan, "Deployment", "velero")
    dep.obj["spec"]["template"]["spec"]["containers"][0]["image"] = "velero/velero:latest"
    dep.obj["spec"]["template"]["spec"]["initContainers"][0]["image"] = ""
    messages = errors_after(containers, plan)
    assert any("'velero'" in m and "floating tag 'latest'" in m for m in messages)
    assert any("initContainer" in m and "has no image" in m for m in messages)
