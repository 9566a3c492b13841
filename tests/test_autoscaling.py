"""Node pools that may grow are scaled by something, HPAs have a metrics API, and capacity counts only
nodes that can exist."""
from __future__ import annotations

import json
import shutil

import pulumi
import pytest

from lfh import STACKS_DIR, cost
from lfh.plan import Engine, analyze
from tests.graph import SSO_YAML, one, out
from tests.test_node_setup import platform_stack

CHECK = "autoscaling"


def errors(plan) -> list[str]:
    return [f.message for f in plan.errors if f.check == CHECK]


def test_eks_runs_a_pinned_cluster_autoscaler_that_discovers_its_node_groups(plan_of):
    plan = plan_of("platform-aws")
    cluster = one(plan, "aws:eks/cluster:Cluster").inputs["name"]
    dep = next(m for r, m in plan.manifests() if m["kind"] == "Deployment" and m["metadata"]["name"] == "cluster-autoscaler")
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.6"
    assert "--cloud-provider=aws" in container["command"]
    assert ("--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,"
            f"k8s.io/cluster-autoscaler/{cluster}") in container["command"]
    assert dep["spec"]["template"]["spec"]["nodeSelector"] == {"lfh.io/pool": "system"}
    sa = next(m for r, m in plan.manifests() if m["kind"] == "ServiceAccount" and m["metadata"]["name"] == "cluster-autoscaler")
    role = one(plan, "aws:iam/role:Role", "-irsa-cluster-autoscaler")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == out(role, "arn")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:kube-system:cluster-autoscaler" in trust.values()
    policy = json.loads(one(plan, "aws:iam/rolePolicy:RolePolicy", "-irsa-cluster-autoscaler-policy").inputs["policy"])
    scaling = next(s for s in policy["Statement"] if "autoscaling:SetDesiredCapacity" in s["Action"])
    # Scaling actions only on this cluster's groups.
    assert scaling["Condition"]["StringEquals"][f"autoscaling:ResourceTag/kubernetes.io/cluster/{cluster}"] == "owned"
    assert errors(plan) == []


def test_eks_serves_the_metrics_api_with_the_pinned_community_add_on(plan_of):
    plan = plan_of("platform-aws")
    addon = one(plan, "aws:eks/addon:Addon", "-addon-metrics-server")
    assert addon.inputs["addonName"] == "metrics-server" and addon.inputs["addonVersion"] == "v0.8.0-eksbuild.3"
    assert json.loads(addon.inputs["configurationValues"])["nodeSelector"] == {"lfh.io/pool": "system"}
    assert plan.outputs["clusterFacts"]["metricsApi"].startswith("EKS community add-on metrics-server")


@pytest.mark.parametrize("stack", ["platform-aws", "platform-azure", "platform-gcp"])
def test_every_cloud_pool_is_autoscaled_and_capacity_counts_its_maximum(plan_of, stack):
    pools = cost.node_pools(plan_of(stack))
    assert len(pools) == 3 and all(p.autoscaled and p.capacity_nodes == p.max_nodes for p in pools)
    assert all(p["autoscaler"] for p in plan_of(stack).outputs["clusterFacts"]["nodePools"])


def test_eks_without_the_cluster_autoscaler_is_an_error(tmp_path, monkeypatch):
    import components.cluster.aws as eks

    class NoAutoscaler(pulumi.ComponentResource):
        def __init__(self, name, **_):
            super().__init__("lfh:test:NoAutoscaler", name, None)

    monkeypatch.setattr(eks, "ClusterAutoscaler", NoAutoscaler)
    monkeypatch.setattr(NoAutoscaler, "SERVICE_ACCOUNT", "cluster-autoscaler", raising=False)
    plan = analyze(platform_stack(tmp_path, "aws").plan("platform-ns"))
    found = errors(plan)
    assert len(found) == 3 and all("nothing scales it" in e and "Cluster Autoscaler" in e for e in found), found
    # And the capacity counts the minimum, not the maximum, of each group.
    assert all(not p.autoscaled and p.capacity_nodes == p.min_nodes for p in cost.node_pools(plan))


def test_a_cluster_autoscaler_of_another_minor_version_is_an_error(tmp_path):
    engine = platform_stack(tmp_path, "aws", "      clusterAutoscalerImage: registry.k8s.io/autoscaling/cluster-autoscaler:v1.30.7\n")
    (message,) = errors(analyze(engine.plan("platform-ns")))
    assert "not of the cluster's minor version 1.33" in message


def test_aks_pool_without_autoscaling_is_an_error(tmp_path, monkeypatch):
    import components.cluster.azure as aks

    real = aks.AksCluster._pool
    monkeypatch.setattr(aks.AksCluster, "_pool", lambda self, name, pool: {
        **real(self, name, pool), **({"enable_auto_scaling": False} if name == "db" else {})})
    plan = analyze(platform_stack(tmp_path, "azure").plan("platform-ns"))
    (message,) = errors(plan)
    assert message.startswith("node pool 'db' (azure) may grow") and "enableAutoScaling" in message


def _local_with_client(tmp_path, metrics_api: bool, hpa: bool = True):
    """platform-local (kind: no metrics-server when ``metrics_api`` is false) and demo-staging with an HPA."""
    shutil.copy(STACKS_DIR / "Pulumi.demo-staging.yaml", tmp_path)
    text = (STACKS_DIR / "Pulumi.platform-local.yaml").read_text()
    assert "      metricsApi: true\n" in text
    (tmp_path / "Pulumi.platform-local.yaml").write_text(text.replace("      metricsApi: true\n", f"      metricsApi: {str(metrics_api).lower()}\n"))
    if hpa:
        path = tmp_path / "Pulumi.demo-staging.yaml"
        path.write_text(path.read_text().replace('        tag: "5.215.2"\n', '        tag: "5.215.2"\n        hpa:\n          enabled: true\n', 1))
    return Engine(stacks_dir=tmp_path)


def test_an_hpa_on_a_platform_without_a_metrics_api_is_an_error(tmp_path):
    plan = analyze(_local_with_client(tmp_path, metrics_api=False).plan("demo-staging"))
    (message,) = errors(plan)
    assert message.startswith("HorizontalPodAutoscaler hapihub:") and "metricsApi" in message
    (tmp_path / "served").mkdir()
    served = analyze(_local_with_client(tmp_path / "served", metrics_api=True).plan("demo-staging"))
    assert errors(served) == []


def test_a_production_platform_without_a_metrics_api_is_an_error(tmp_path):
    text = (STACKS_DIR / "Pulumi.platform-local.yaml").read_text().replace("environment: staging", "environment: production")
    text = text.replace("      metricsApi: true\n", "").replace("    gitops:\n      adminEnabled: true\n", SSO_YAML)
    (tmp_path / "Pulumi.platform-local.yaml").write_text(text)
    plan = analyze(Engine(stacks_dir=tmp_path).plan("platform-local"))
    (message,) = errors(plan)
    assert "nothing serves the metrics API" in message and "production platform" in message
