"""The workload contract for every pod-making object in the client stacks."""
from __future__ import annotations

import pytest

from client_apps_helpers import CLIENT_STACKS, by_kind, client, plan_with, pod_specs


def _containers(spec):
    return list(spec.get("initContainers") or []) + list(spec["containers"])


@pytest.mark.parametrize("stack", CLIENT_STACKS)
def test_security_context_resources_and_pinned_images(plan_of, stack):
    plan = plan_of(stack)
    pods = pod_specs(plan)
    assert {n.split("/")[0] for n, _, _ in pods} >= {"Deployment", "CronJob"}
    (limit_range,) = [lr for lr in by_kind(plan, "LimitRange") if lr["metadata"]["namespace"] == plan.outputs["namespace"]]
    default_cpu_limit = limit_range["spec"]["limits"][0]["default"]["cpu"]
    for name, _, spec in pods:
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True, name
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert isinstance(psc.get("runAsUser"), int) and psc["runAsUser"] > 0, name
        assert spec.get("serviceAccountName") and spec["serviceAccountName"] != "default", name
        for c in _containers(spec):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"] == {"drop": ["ALL"]}, name
            image = c["image"]
            assert ("@sha256:" in image) or (":" in image.rsplit("/", 1)[-1]), f"{name}: {image} not pinned"
            assert not image.endswith(":latest"), name
            res = c["resources"]
            assert set(res["requests"]) >= {"cpu", "memory"}, f"{name}: requests"
            assert "memory" in res["limits"], f"{name}: memory limit"
            # A CPU limit left out on purpose (no throttling) still gets the namespace LimitRange default.
            assert "cpu" in res["limits"] or default_cpu_limit, f"{name}: no CPU limit and no LimitRange default"
            if sc.get("readOnlyRootFilesystem"):
                assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"]), f"{name}: read-only root without /tmp"


@pytest.mark.parametrize("stack", CLIENT_STACKS)
def test_long_running_workloads_have_probes_and_safe_rollouts(plan_of, stack):
    plan = plan_of(stack)
    deployments = by_kind(plan, "Deployment")
    assert {d["metadata"]["name"] for d in deployments} >= {"hapihub", "mycureapp"}
    for d in deployments:
        c = d["spec"]["template"]["spec"]["containers"][0]
        for probe in ("livenessProbe", "readinessProbe"):
            assert c[probe]["httpGet"]["port"] == c["ports"][0]["containerPort"], d["metadata"]["name"]
        assert d["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
        assert len(d["spec"]["template"]["metadata"]["annotations"]["lfh.io/config-checksum"]) == 64
        anti = d["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        assert {t["podAffinityTerm"]["topologyKey"] for t in anti} == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}


def test_production_has_replicas_pdb_and_hpa(plan_of):
    plan = plan_of("demo-prod")
    pdbs = {p["metadata"]["name"]: p for p in by_kind(plan, "PodDisruptionBudget")}
    hpas = {h["metadata"]["name"]: h for h in by_kind(plan, "HorizontalPodAutoscaler")}
    for d in by_kind(plan, "Deployment"):
        name = d["metadata"]["name"]
        assert d["spec"]["replicas"] >= 2, name
        assert pdbs[name]["spec"]["minAvailable"] == 1
        assert pdbs[name]["spec"]["selector"]["matchLabels"] == d["spec"]["selector"]["matchLabels"]
        hpa = hpas[name]["spec"]
        assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert hpa["minReplicas"] >= 2 and hpa["maxReplicas"] >= hpa["minReplicas"]
        assert {m["resource"]["name"] for m in hpa["metrics"]} == {"cpu", "memory"}
        assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300


def test_staging_single_replica_has_no_blocking_pdb(plan_of):
    plan = plan_of("demo-staging")
    assert all(d["spec"]["replicas"] == 1 for d in by_kind(plan, "Deployment"))
    assert by_kind(plan, "PodDisruptionBudget") == []     # minAvailable 1 of 1 would block drains
    assert by_kind(plan, "HorizontalPodAutoscaler") == []


def test_service_accounts_do_not_mount_tokens(plan_of):
    plan = plan_of("demo-prod")
    ns = plan.outputs["namespace"]
    sas = {s["metadata"]["name"]: s for s in by_kind(plan, "ServiceAccount") if s["metadata"].get("namespace") == ns}
    for d in by_kind(plan, "Deployment"):
        name = d["spec"]["template"]["spec"]["serviceAccountName"]
        assert sas[name]["automountServiceAccountToken"] is False
        assert d["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    default = [p for p in by_kind(plan, "ServiceAccount") if p["metadata"]["name"] == "default"]
    assert default and default[0]["automountServiceAccountToken"] is False


def test_config_change_rolls_pods_and_migrations_run_once(tmp_path):
    plan_of = plan_with(tmp_path, {
        "a-staging": client("a", apps={"hapihub": {"logLevel": "info"}}),
        "b-staging": client("b", apps={"hapihub": {"logLevel": "debug", "runMigrations": True}}),
    })
    a, b = plan_of("a-staging"), plan_of("b-staging")
    sums = [next(d for d in by_kind(p, "Deployment") if d["metadata"]["name"] == "hapihub")
            ["spec"]["template"]["metadata"]["annotations"]["lfh.io/config-checksum"] for p in (a, b)]
    assert sums[0] != sums[1]
    jobs = [j for j in by_kind(b, "Job") if j["metadata"]["name"].startswith("hapihub-migrate")]
    assert [j["metadata"]["name"] for j in jobs] == ["hapihub-migrate-5-215-2"]
    assert jobs[0]["spec"]["template"]["spec"]["serviceAccountName"] == "hapihub-migrate"
    assert [j for j in by_kind(a, "Job") if j["metadata"]["name"].startswith("hapihub-migrate")] == []
    # the Deployment rolls only after the Job (Pulumi awaits a Job's completion)
    job_urn = next(r.urn for r in b.resources if r.type == "kubernetes:batch/v1:Job" and r.name.endswith("-migrate"))
    deployment = next(r for r in b.resources if r.type == "kubernetes:apps/v1:Deployment" and r.inputs["metadata"]["name"] == "hapihub")
    assert job_urn in deployment.dependencies


def test_node_env_is_production_on_deployed_tiers(plan_of):
    for stack in ("demo-staging", "demo-prod"):
        hapihub = next(d for d in by_kind(plan_of(stack), "Deployment") if d["metadata"]["name"] == "hapihub")
        env = {e["name"]: e.get("value") for e in hapihub["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["NODE_ENV"] == "production"
        assert env["APP_ENVIRONMENT"] == ("production" if stack == "demo-prod" else "staging")


def test_namespace_baseline(plan_of):
    plan = plan_of("demo-prod")
    (ns,) = [n for n in by_kind(plan, "Namespace") if n["metadata"]["name"] == plan.outputs["namespace"]]
    labels = ns["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
    assert labels["lfh.io/client-namespace"] == "true"
    res = next(r for r in plan.resources if r.type == "kubernetes:core/v1:Namespace"
               and r.inputs["metadata"]["name"] == plan.outputs["namespace"])
    assert res.protect and res.retain_on_delete
    (quota,) = [q["spec"]["hard"] for q in by_kind(plan, "ResourceQuota") if q["metadata"]["namespace"] == plan.outputs["namespace"]]
    assert quota["services.loadbalancers"] == "0" and quota["requests.cpu"] == "32"
    assert by_kind(plan, "LimitRange")[0]["spec"]["limits"][0]["type"] == "Container"


def test_sizing_section_compares_with_the_seed(plan_of):
    plan = plan_of("demo-prod")
    section = plan.sections["clientSizing"]
    assert "core ≈ 7 CPU / 23 GiB / 100 GiB" in section["text"][0]
    assert "full ≈ 22 CPU / 53 GiB / 1.15 TB" in section["text"][0]
    names = {w["name"] for w in section["data"]["workloads"]}
    assert {"hapihub", "mycureapp"} <= names
    # hapihub: 2 × 500m; mycureapp 2 × 200m — the sum covers at least these
    assert section["data"]["cpu"] >= 1.4


def test_quota_too_small_is_an_error(tmp_path):
    plan_of = plan_with(tmp_path, {"tiny-staging": client("tiny", quota={"requestsCpu": "1"})})
    plan = plan_of("tiny-staging")
    assert [f for f in plan.errors if f.check == "client-sizing" and "requests.cpu" in f.message]


def test_writable_root_is_an_explicit_weaker_setting_that_warns(tmp_path):
    plan_of = plan_with(tmp_path, {"rw-staging": client("rw", apps={"hapihub": {"readOnlyRootFilesystem": False}}),
                                   "ro-staging": client("ro")})
    rw, ro = plan_of("rw-staging"), plan_of("ro-staging")

    def hapihub_sc(plan):
        d = next(d for d in by_kind(plan, "Deployment") if d["metadata"]["name"] == "hapihub")
        return d["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"]

    assert hapihub_sc(ro) is True and hapihub_sc(rw) is False
    assert not [f for f in ro.findings if "read-only-root" in f.check]
    assert [f for f in rw.findings if "read-only-root" in f.check and f.severity == "warning"]
