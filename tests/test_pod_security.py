"""Pod Security admission offline: the Pod Security Standards rules, the namespace levels, and every pod
of every example stack (ours, rendered, hooks, operator-built) admitted where it runs."""
from __future__ import annotations

import pytest

from graph import manifest, mutable_copy, rendered_object
from lfh.plan import list_stacks
from lfh.plan import pod_security
from lfh.plan.pod_security import rules_for, violations
from lfh.plan.pods import pod_templates
from lfh.upstream import upstream_dir

pytestmark = pytest.mark.skipif(upstream_dir() is None, reason="needs ../shared/upstream (the pinned charts)")

RESTRICTED_OK = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [{"name": "app", "image": "x:1", "securityContext": {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
}


def _spec(**changes):
    import copy

    spec = copy.deepcopy(RESTRICTED_OK)
    for key, value in changes.items():
        if key == "container":
            spec["containers"][0]["securityContext"].update(value)
        else:
            spec[key] = value
    return spec


def _ids(spec, level="restricted", version=(1, 33), meta=None):
    return [r.id for r, _ in violations(meta or {}, spec, level, version)]


# ---------------------------------------------------------------- the rules


def test_a_restricted_pod_passes_and_each_restricted_rule_bites():
    assert _ids(RESTRICTED_OK) == []
    assert _ids(_spec(container={"allowPrivilegeEscalation": True})) == ["allowPrivilegeEscalation"]
    assert _ids(_spec(container={"capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}})) == ["capabilities_restricted"]
    assert _ids(_spec(container={"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}})) == []
    assert _ids(_spec(securityContext={"seccompProfile": {"type": "RuntimeDefault"}})) == ["runAsNonRoot"]
    assert _ids(_spec(securityContext={"runAsNonRoot": True})) == ["seccompProfile_restricted"]
    assert _ids(_spec(container={"runAsUser": 0})) == ["runAsUser"]
    assert _ids(_spec(volumes=[{"name": "v", "nfs": {"server": "s", "path": "/"}}])) == ["restrictedVolumes"]


def test_baseline_rules_as_the_standard_defines_them():
    assert _ids(RESTRICTED_OK, "baseline") == []
    assert _ids(_spec(hostNetwork=True), "baseline") == ["hostNamespaces"]
    assert _ids(_spec(container={"privileged": True}), "baseline") == ["privileged"]
    # The runtime's default capabilities may be added under baseline, others not.
    assert _ids(_spec(container={"capabilities": {"add": ["CHOWN"]}}), "baseline") == []
    assert _ids(_spec(container={"capabilities": {"add": ["SYS_ADMIN"]}}), "baseline") == ["capabilities_baseline"]
    assert _ids(_spec(volumes=[{"name": "h", "hostPath": {"path": "/"}}]), "baseline") == ["hostPathVolumes"]
    spec = _spec()
    spec["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 80}]
    assert _ids(spec, "baseline") == ["hostPorts"]
    assert _ids(_spec(container={"procMount": "Unmasked"}), "baseline") == ["procMount"]
    assert _ids(_spec(container={"seccompProfile": {"type": "Unconfined"}}), "baseline") == ["seccompProfile_baseline"]
    assert _ids(_spec(container={"appArmorProfile": {"type": "Unconfined"}}), "baseline") == ["appArmorProfile"]
    assert _ids(_spec(container={"seLinuxOptions": {"user": "root"}}), "baseline") == ["seLinuxOptions"]
    assert _ids(_spec(container={"windowsOptions": {"hostProcess": True}}), "baseline") == ["windowsHostProcess"]
    # Baseline allows what only restricted forbids.
    assert _ids(_spec(securityContext={}, container={"allowPrivilegeEscalation": True}), "baseline") == []
    assert _ids(RESTRICTED_OK, "privileged") == [] and rules_for("privileged", (1, 33)) == []


def test_rules_follow_the_policy_version():
    sysctl = _spec(securityContext={**RESTRICTED_OK["securityContext"], "sysctls": [{"name": "net.ipv4.tcp_rmem", "value": "4096"}]})
    assert _ids(sysctl, "baseline", (1, 31)) == ["sysctls"]
    assert _ids(sysctl, "baseline", (1, 32)) == []  # added to the safe set in 1.32
    probe = _spec()
    probe["containers"][0]["readinessProbe"] = {"httpGet": {"host": "10.0.0.1", "port": 80}}
    assert _ids(probe, "baseline", (1, 33)) == []
    assert _ids(probe, "baseline", (1, 34)) == ["hostProbesAndHostLifecycle"]
    # A user-namespaced pod may run as uid 0 from 1.35 on, not before.
    userns = _spec(hostUsers=False, container={"runAsUser": 0})
    assert _ids(userns, "restricted", (1, 34)) == ["runAsUser"]
    assert _ids(userns, "restricted", (1, 35)) == []


def test_restricted_checks_replace_their_baseline_counterparts():
    ids = [r.id for r, _ in rules_for("restricted", (1, 33))]
    assert "capabilities_restricted" in ids and "capabilities_baseline" not in ids
    assert "restrictedVolumes" in ids and "hostPathVolumes" not in ids
    assert "seccompProfile_restricted" in ids and "seccompProfile_baseline" not in ids
    assert "hostNamespaces" in ids and "privileged" in ids


def test_every_rule_cites_the_standard():
    import inspect

    source = inspect.getsource(pod_security)
    for rule in pod_security.RULES:
        assert rule.cite.startswith(pod_security.PSS) and rule.fix
        assert f'Rule("{rule.id}"' in source
        line = source[:source.index(f'Rule("{rule.id}"')].rstrip().splitlines()[-1]
        assert line.strip().startswith("# PSS ") and "policy/check_" in line, rule.id


# ---------------------------------------------------------------- the plans


@pytest.mark.parametrize("stack", list_stacks())
def test_every_pod_of_every_example_stack_is_admitted(plan_of, stack):
    plan = plan_of(stack)
    assert not [f for f in plan.findings if f.check == "pod-security" and f.severity != "info"]
    templates = pod_templates(plan)
    assert templates
    if stack.startswith("platform-"):
        assert any(t.owner.rendered for t in templates)  # charts' pods are checked, not only ours
        assert any(t.built_by.startswith("Envoy Gateway") for t in templates)


def test_operator_built_pods_are_checked(plan_of):
    gcp = {t.owner.kind for t in pod_templates(plan_of("platform-gcp")) if t.built_by}
    assert {"Prometheus", "Alertmanager", "EnvoyProxy"} <= gcp
    client = [t for t in pod_templates(plan_of("demo-prod")) if t.owner.kind == "PerconaServerMongoDB"]
    # mongod, the metrics exporter sidecar (the platform runs monitoring) and the backup agent.
    assert [c["name"] for _, c in client[0].containers()] == ["mongo-init", "mongod", "mongodb-exporter", "backup-agent"]


def test_a_privileged_pod_in_a_restricted_namespace_is_an_error(engine):
    plan = mutable_copy(engine, "platform-aws")
    dep = rendered_object(plan, "Deployment", "argo-cd-argocd-repo-server")
    dep.obj["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    pod_security.analyze(plan)
    [finding] = [f for f in plan.findings if f.severity == "error"]
    assert finding.check == "pod-security" and finding.urn.endswith("argo-cd")
    assert "Deployment/argo-cd-argocd-repo-server" in finding.message and "`restricted`" in finding.message
    assert "Privileged Containers" in finding.message and "fix:" in finding.message


def test_a_privileged_pod_in_a_privileged_namespace_is_admitted(engine):
    plan = mutable_copy(engine, "platform-aws")
    ui = rendered_object(plan, "Deployment", "longhorn-ui")
    ui.obj["spec"]["template"]["spec"]["containers"][0].setdefault("securityContext", {})["privileged"] = True
    pod_security.analyze(plan)
    assert not plan.errors


def test_an_operator_pod_is_checked_as_the_operator_builds_it(engine):
    plan = mutable_copy(engine, "demo-prod")
    cr = manifest(plan, "PerconaServerMongoDB", "mongodb")
    cr["spec"]["backup"]["containerSecurityContext"] = {"runAsNonRoot": True}  # no drop ALL, no seccomp on it
    pod_security.analyze(plan)
    messages = [f.message for f in plan.errors]
    assert messages and all("PerconaServerMongoDB/mongodb" in m and "backup-agent" in m for m in messages)


def test_a_namespace_without_an_enforce_label_is_privileged_and_the_plan_says_so(engine):
    plan = mutable_copy(engine, "platform-aws")
    ns = manifest(plan, "Namespace", "argocd")
    for key in list(ns["metadata"]["labels"]):
        if key.startswith("pod-security.kubernetes.io/enforce"):
            del ns["metadata"]["labels"][key]
    dep = rendered_object(plan, "Deployment", "argo-cd-argocd-repo-server")
    dep.obj["spec"]["template"]["spec"]["hostNetwork"] = True
    pod_security.analyze(plan)
    assert not plan.errors
    [note] = [f for f in plan.findings if "namespace argocd" in f.message]
    assert note.severity == "warning" and "privileged" in note.message and "admission default" in note.message


def test_a_typesense_cluster_is_checked_as_tyko_builds_its_pods(engine):
    """TyKO's default pod securityContext sets no seccomp profile and its containers drop nothing:
    a TypesenseCluster left to those defaults is rejected in a restricted namespace."""
    from lfh.plan.model import Resource
    from lfh.plan import containers

    plan = mutable_copy(engine, "demo-prod")
    ns = "demo-production"
    cr = {"apiVersion": "ts.opentelekomcloud.com/v1alpha1", "kind": "TypesenseCluster",
          "metadata": {"name": "search", "namespace": ns},
          "spec": {"image": "typesense/typesense:30.1", "replicas": 3,
                   "storage": {"size": "10Gi", "storageClassName": "longhorn"}}}
    plan.resources.append(Resource(urn="urn:pulumi:demo-prod::lfh::kubernetes:ts.opentelekomcloud.com/v1alpha1:TypesenseCluster::search",
                                   type="kubernetes:ts.opentelekomcloud.com/v1alpha1:TypesenseCluster", name="search",
                                   parent="", provider="p", dependencies=[], inputs=cr))
    [t] = [t for t in pod_templates(plan) if t.owner.kind == "TypesenseCluster"]
    assert [c["name"] for _, c in t.containers()] == ["typesense", "metrics-exporter", "healthcheck"]
    pod_security.analyze(plan)
    rules = {m for f in plan.errors for m in ("seccompProfile_restricted", "capabilities_restricted", "allowPrivilegeEscalation")
             if m in f.message and "TypesenseCluster/search" in f.message}
    assert rules == {"seccompProfile_restricted", "capabilities_restricted", "allowPrivilegeEscalation"}
    plan.findings.clear()
    containers.analyze(plan)  # the operator's own default requests count
    assert not plan.errors


def test_an_envoyproxy_no_gateway_class_uses_builds_no_pods(engine):
    plan = mutable_copy(engine, "platform-aws")
    assert any(t.owner.kind == "EnvoyProxy" for t in pod_templates(plan))
    plan = mutable_copy(engine, "platform-aws")
    manifest(plan, "GatewayClass", "envoy-gateway")["spec"]["parametersRef"]["name"] = "another-proxy"
    assert not any(t.owner.kind == "EnvoyProxy" for t in pod_templates(plan))
