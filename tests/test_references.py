"""References resolve: routes, TLS policies, monitors, budgets, autoscalers, the Secrets/ConfigMaps and
ServiceAccounts pods use, and cloud identities — over ours and the rendered objects."""
from __future__ import annotations

import pytest

from graph import errors_after, manifest, mutable_copy, rendered_object
from lfh.plan import list_stacks, references
from lfh.plan.references import Cluster
from lfh.upstream import upstream_dir

pytestmark = pytest.mark.skipif(upstream_dir() is None, reason="needs ../shared/upstream (the pinned charts)")



@pytest.mark.parametrize("stack", list_stacks())
def test_every_reference_of_every_example_stack_resolves(plan_of, stack):
    assert not [f.message for f in plan_of(stack).findings if f.check == "references"]


def test_the_argocd_route_reaches_the_service_the_chart_creates(plan_of):
    plan = plan_of("platform-aws")
    cluster = Cluster(plan)
    route = next(o for o in cluster.objects if o.kind == "HTTPRoute" and o.name == "argocd")
    [ref] = route.obj["spec"]["rules"][0]["backendRefs"]
    service = cluster.get("Service", "argocd", ref["name"])
    assert service is not None and service.rendered and 443 in [p["port"] for p in service.obj["spec"]["ports"]]
    policy = next(o for o in cluster.objects if o.kind == "BackendTLSPolicy")
    assert policy.obj["spec"]["targetRefs"][0]["name"] == ref["name"]


def test_a_wrong_backend_service_name_is_an_error(engine):
    plan = mutable_copy(engine, "platform-aws")
    manifest(plan, "HTTPRoute", "argocd")["spec"]["rules"][0]["backendRefs"][0]["name"] = "argocd-server"
    [message] = errors_after(references, plan)
    assert "HTTPRoute/argocd" in message and "argocd/argocd-server does not exist" in message
    assert "argo-cd-argocd-server" in message  # the fix names the Service that exists


def test_a_wrong_backend_port_and_a_missing_tls_target_are_errors(engine):
    plan = mutable_copy(engine, "platform-aws")
    manifest(plan, "HTTPRoute", "argocd")["spec"]["rules"][0]["backendRefs"][0]["port"] = 8443
    manifest(plan, "BackendTLSPolicy", "argocd-server")["spec"]["targetRefs"][0]["name"] = "argocd-server"
    messages = errors_after(references, plan)
    assert any("backendRef port 8443" in m for m in messages)
    assert any("BackendTLSPolicy/argocd-server" in m and "targetRef Service" in m for m in messages)


def test_a_wrong_servicemonitor_port_is_an_error(engine):
    plan = mutable_copy(engine, "platform-aws")
    sm = manifest(plan, "ServiceMonitor", "cert-manager")
    sm["spec"]["endpoints"][0]["port"] = "tcp-prometheus-servicemonitor"
    [message] = errors_after(references, plan)
    assert "ServiceMonitor/cert-manager" in message and "'tcp-prometheus-servicemonitor'" in message
    assert "http-metrics" in message


def test_a_servicemonitor_selecting_nothing_or_selected_by_no_prometheus_is_an_error(engine):
    plan = mutable_copy(engine, "platform-aws")
    manifest(plan, "ServiceMonitor", "velero")["spec"]["selector"]["matchLabels"] = {"app": "nope"}
    manifest(plan, "ServiceMonitor", "longhorn")["metadata"]["labels"].pop("release")
    messages = errors_after(references, plan)
    assert any("ServiceMonitor/velero" in m and "matches no Service" in m for m in messages)
    assert any("ServiceMonitor/longhorn" in m and "no Prometheus selects" in m for m in messages)


def test_budgets_and_autoscalers_must_find_their_workloads(engine):
    plan = mutable_copy(engine, "demo-prod")
    pdb = next(r.inputs for r in plan.resources if r.inputs.get("kind") == "PodDisruptionBudget")
    pdb["spec"]["selector"] = {"matchLabels": {"app.kubernetes.io/name": "gone"}}
    hpa = next(r.inputs for r in plan.resources if r.inputs.get("kind") == "HorizontalPodAutoscaler")
    hpa["spec"]["scaleTargetRef"]["name"] = "gone"
    messages = errors_after(references, plan)
    assert any("PodDisruptionBudget/" in m and "matches no pod" in m for m in messages)
    assert any("HorizontalPodAutoscaler/" in m and "scaleTargetRef Deployment/gone" in m for m in messages)


def test_a_pod_reading_a_secret_nothing_creates_is_an_error_unless_optional(engine):
    plan = mutable_copy(engine, "demo-staging")
    sts_env = next(r.inputs for r in plan.resources if r.inputs.get("kind") == "Deployment")["spec"]["template"]["spec"]
    container = sts_env["containers"][0]
    ref = next(e["valueFrom"]["secretKeyRef"] for e in container["env"] if "secretKeyRef" in (e.get("valueFrom") or {}))
    ref["name"] = "no-such-secret"
    messages = errors_after(references, plan)
    assert len(messages) == 1 and "Secret demo-staging/no-such-secret, which nothing creates" in messages[0]
    ref["optional"] = True
    plan.findings.clear()
    assert errors_after(references, plan) == []


def test_a_key_the_externalsecret_does_not_produce_is_an_error(engine):
    plan = mutable_copy(engine, "demo-staging")
    spec = next(r.inputs for r in plan.resources if r.inputs.get("kind") == "Deployment")["spec"]["template"]["spec"]
    ref = next(e["valueFrom"]["secretKeyRef"] for c in spec["containers"] for e in c.get("env") or []
               if "secretKeyRef" in (e.get("valueFrom") or {}))
    ref["key"] = "no-such-key"
    [message] = errors_after(references, plan)
    assert "reads key 'no-such-key'" in message


def test_a_missing_service_account_and_a_chart_secret_are_errors(engine):
    plan = mutable_copy(engine, "platform-aws")
    dep = rendered_object(plan, "Deployment", "cert-manager")
    dep.obj["spec"]["template"]["spec"]["serviceAccountName"] = "nobody"
    argocd = rendered_object(plan, "Deployment", "argo-cd-argocd-server")
    argocd.obj["spec"]["template"]["spec"]["volumes"].append({"name": "x", "secret": {"secretName": "not-made"}})
    messages = errors_after(references, plan)
    assert any("Deployment/cert-manager" in m and "ServiceAccount cert-manager/nobody" in m for m in messages)
    assert any("argo-cd-argocd-server" in m and "Secret argocd/not-made" in m for m in messages)


def test_secrets_made_at_run_time_count_only_where_a_source_makes_them(engine):
    """`argocd-redis` exists because the chart's hook job runs `argocd admin redis-initial-password`."""
    plan = mutable_copy(engine, "platform-aws")
    job = rendered_object(plan, "Job", "argo-cd-argocd-redis-secret-init")
    job.obj["spec"]["template"]["spec"]["containers"][0]["command"] = ["argocd", "version"]
    messages = errors_after(references, plan)
    assert messages and all("Secret argocd/argocd-redis" in m for m in messages)


def test_irsa_annotation_must_land_on_the_service_account_the_pods_use(engine):
    plan = mutable_copy(engine, "platform-aws")
    sa = rendered_object(plan, "ServiceAccount", "velero")
    sa.obj["metadata"]["annotations"].pop("eks.amazonaws.com/role-arn")
    [message] = errors_after(references, plan)
    assert "ServiceAccount/velero" in message and "eks.amazonaws.com/role-arn" in message


def test_an_identity_bound_to_an_account_no_pod_uses_is_an_error(engine):
    plan = mutable_copy(engine, "platform-aws")
    dep = rendered_object(plan, "Deployment", "velero")
    dep.obj["spec"]["template"]["spec"]["serviceAccountName"] = "default"
    ds = rendered_object(plan, "DaemonSet", "node-agent")
    ds.obj["spec"]["template"]["spec"]["serviceAccountName"] = "default"
    messages = errors_after(references, plan)
    assert any("no pod runs as velero" in m for m in messages)


def test_azure_workload_identity_pods_need_the_use_label(engine):
    plan = mutable_copy(engine, "platform-azure")
    ds = rendered_object(plan, "DaemonSet", "node-agent")
    assert ds.obj["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    ds.obj["spec"]["template"]["metadata"]["labels"].pop("azure.workload.identity/use")
    [message] = errors_after(references, plan)
    assert "DaemonSet/node-agent" in message and 'azure.workload.identity/use: "true"' in message


def test_a_token_requested_through_serviceaccountref_counts_as_use(plan_of):
    """The client's SecretStore account is used by External Secrets' TokenRequest, not by a pod."""
    cluster = Cluster(plan_of("demo-prod"))
    assert ("demo-production", "lfh-secret-store") in references.token_requesters(cluster)
