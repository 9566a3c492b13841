"""The client sizing analyzer over synthetic plans (data services' shapes included)."""
from __future__ import annotations

from lfh.charts import CHARTS
from lfh.plan.client_sizing import analyze, quantity
from lfh.plan.model import HELM_RELEASE_TYPE, Plan, Resource


def _res(type_: str, inputs: dict) -> Resource:
    return Resource(urn=f"urn:{inputs.get('kind', type_)}:{len(inputs)}", type=type_, name="x", parent="", provider="p",
                    dependencies=[], inputs=inputs)


def _pod(cpu: str, mem: str) -> dict:
    return {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": mem},
                                                       "limits": {"cpu": "2", "memory": "4Gi"}}}]}


def test_quantities():
    assert quantity("500m") == 0.5 and quantity("2") == 2 and quantity("1Gi") == 2**30 and quantity("1.5Ti") == 1.5 * 2**40
    assert quantity(None) == 0 and quantity("junk") == 0


def test_sums_deployments_statefulsets_percona_and_rendered_releases():
    plan = Plan(stack="x-production", role="client", outputs={}, secret_outputs=[], resources=[
        _res("kubernetes:apps/v1:Deployment", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
                                               "spec": {"replicas": 2, "template": {"spec": _pod("500m", "1Gi")}}}),
        _res("kubernetes:apps/v1:StatefulSet", {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "ts"},
                                                "spec": {"replicas": 3, "template": {"spec": _pod("1", "2Gi")},
                                                         "volumeClaimTemplates": [{"spec": {"resources": {"requests": {"storage": "10Gi"}}}}]}}),
        _res("kubernetes:psmdb.percona.com/v1:PerconaServerMongoDB", {
            "apiVersion": "psmdb.percona.com/v1", "kind": "PerconaServerMongoDB", "metadata": {"name": "db"},
            "spec": {"replsets": [{"name": "rs0", "size": 3, "resources": {"requests": {"cpu": "1", "memory": "4Gi"}},
                                   "volumeSpec": {"persistentVolumeClaim": {"resources": {"requests": {"storage": "100Gi"}}}}}]}}),
        # Sized from what the pinned chart renders: a StatefulSet of 6 pods with a 250Gi claim each.
        _res(HELM_RELEASE_TYPE, {"name": "minio", "namespace": "x-production", "chart": CHARTS["minio"].chart,
                                 "version": CHARTS["minio"].version, "repositoryOpts": {"repo": CHARTS["minio"].repository},
                                 "values": {"mode": "distributed", "replicas": 6,
                                            "resources": {"requests": {"cpu": "500m", "memory": "4Gi"}},
                                            "persistence": {"enabled": True, "size": "250Gi"}}}),
        _res("kubernetes:core/v1:ResourceQuota", {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
                                                  "spec": {"hard": {"requests.cpu": "10", "requests.memory": "100Gi"}}}),
    ])
    analyze(plan)
    data = plan.sections["clientSizing"]["data"]
    assert data["cpu"] == 1 + 3 + 3 + 3            # 2×0.5 + 3×1 + 3×1 + 6×0.5
    assert data["memoryGiB"] == 2 + 6 + 12 + 24
    assert data["storageGiB"] == 30 + 300 + 1500
    assert data["limitsCpu"] == 2 * 2 + 3 * 2 and data["limitsMemoryGiB"] == 2 * 4 + 3 * 4   # only pods that set limits
    # 10 CPU steady + 0.5 surge for the Deployment's rollout > 10: the quota is too small
    (finding,) = plan.errors
    assert "requests.cpu" in finding.message and "lfh:client.quota" in finding.message


def test_platform_plans_are_not_sized():
    plan = Plan(stack="platform-x", role="platform", outputs={}, secret_outputs=[], resources=[])
    analyze(plan)
    assert "clientSizing" not in plan.sections
