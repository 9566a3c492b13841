"""Sizing, capacity and cost: sums from recorded objects, node pools from platform plans, findings."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lfh import PROJECT_ROOT, cost, prices
from lfh.cli import main
from lfh.plan.model import HELM_RELEASE_TYPE, Plan, Resource
from lfh.plan.output import write_plan

GIB = 1024 ** 3


def _k8s(kind: str, name: str, spec: dict, ns: str = "acme-production", api: str = "apps/v1") -> Resource:
    obj = {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": ns}, "spec": spec}
    return Resource(urn=f"urn:pulumi:s::lfh::kubernetes:x:{kind}::{name}", type=f"kubernetes:x:{kind}", name=name,
                    parent="", provider="urn:p::id", dependencies=[], inputs=obj)


def _pod(cpu="500m", mem="1Gi", lcpu="2", lmem="4Gi", **extra) -> dict:
    return {"template": {"spec": {"containers": [{"name": "c", "resources": {
        "requests": {"cpu": cpu, "memory": mem}, "limits": {"cpu": lcpu, "memory": lmem}}}], **extra}}}


def _plan(resources, role="client") -> Plan:
    return Plan(stack="acme-prod" if role == "client" else "platform-x", role=role, resources=resources,
                outputs={}, secret_outputs=[])


def test_quantity_parses_kubernetes_units():
    assert cost.quantity("500m") == 0.5
    assert cost.quantity("2") == 2
    assert cost.quantity(1.5) == 1.5
    assert cost.quantity("1Gi") == GIB
    assert cost.quantity("512Mi") == 512 * 1024 ** 2
    assert cost.quantity("1G") == 1e9
    assert cost.quantity("1e3") == 1000
    with pytest.raises(ValueError):
        cost.quantity("lots")


def test_pod_size_counts_sidecars_and_the_largest_init_container():
    spec = {
        "containers": [{"resources": {"requests": {"cpu": "100m", "memory": "100Mi"}}},
                       {"resources": {"requests": {"cpu": "200m", "memory": "200Mi"}}}],
        "initContainers": [
            {"resources": {"requests": {"cpu": "50m", "memory": "50Mi"}}, "restartPolicy": "Always"},  # sidecar adds
            {"resources": {"requests": {"cpu": "1", "memory": "10Mi"}}},  # plain init: max, not sum
        ],
    }
    p = cost.pod_size(spec)
    assert math.isclose(p.cpu_requests, 1.0)
    assert math.isclose(p.memory_requests, 350 * 1024 ** 2)
    # A limit without a request: Kubernetes uses the limit as the request.
    only_limit = cost.pod_size({"containers": [{"resources": {"limits": {"cpu": "2", "memory": "1Gi"}}}]})
    assert only_limit.cpu_requests == 2 and only_limit.unset == 0
    assert cost.pod_size({"containers": [{}]}).unset == 1


def _client_plan() -> Plan:
    psmdb = _k8s("PerconaServerMongoDB", "mongo", {
        "replsets": [{"name": "rs0", "size": 3, "resources": {"requests": {"cpu": "1", "memory": "2Gi"}},
                      "volumeSpec": {"persistentVolumeClaim": {"storageClassName": "longhorn-encrypted",
                                                               "resources": {"requests": {"storage": "100Gi"}}}}}],
        "backup": {"enabled": True, "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}}},
    }, api="psmdb.percona.com/v1")
    return _plan([
        _k8s("Deployment", "hapihub", {"replicas": 2, **_pod()}),
        _k8s("HorizontalPodAutoscaler", "hapihub", {"scaleTargetRef": {"kind": "Deployment", "name": "hapihub"},
                                                    "maxReplicas": 5}, api="autoscaling/v2"),
        _k8s("StatefulSet", "typesense", {"replicas": 3, **_pod("250m", "512Mi", "1", "1Gi"),
                                          "volumeClaimTemplates": [{"spec": {"storageClassName": "longhorn",
                                                                             "resources": {"requests": {"storage": "10Gi"}}}}]}),
        _k8s("CronJob", "drill", {"jobTemplate": {"spec": _pod("100m", "128Mi", "200m", "256Mi")}}, api="batch/v1"),
        _k8s("PersistentVolumeClaim", "scratch", {"resources": {"requests": {"storage": "5Gi"}}}, api="v1"),
        _k8s("DaemonSet", "agent", _pod("50m", "64Mi", "100m", "128Mi"), ns="monitoring"),
        psmdb,
    ])


def test_sizing_sums_requests_limits_storage_and_replicas_per_namespace():
    s = cost.sizing(_client_plan())
    ns = s.namespaces["acme-production"]
    # hapihub 2×0.5 + typesense 3×0.25 + drill 1×0.1 + mongo 3×(1+0.1)
    assert math.isclose(ns.cpu_requests, 1.0 + 0.75 + 0.1 + 3.3)
    assert math.isclose(ns.cpu_limits, 4 + 3 + 0.2)
    assert math.isclose(ns.memory_requests_gib, 2 + 1.5 + 0.125 + 3 * 2.25)
    assert math.isclose(ns.storage_gib, 30 + 5 + 300)
    assert ns.replicas == 2 + 3 + 1 + 3
    assert ns.max_replicas == 5 + 3 + 1 + 3  # the HPA's ceiling replaces hapihub's 2
    assert math.isclose(ns.cpu_requests_at_max, 2.5 + 0.75 + 0.1 + 3.3)
    # DaemonSets are per node, kept apart from the stack's own totals.
    mon = s.namespaces["monitoring"]
    assert mon.cpu_requests == 0 and math.isclose(mon.per_node_cpu_requests, 0.05)
    assert math.isclose(s.stack.cpu_requests, ns.cpu_requests)


def test_helm_values_we_set_are_counted_with_their_replicas():
    rel = Resource(urn="urn:rel", type=HELM_RELEASE_TYPE, name="eso", parent="", provider="p", dependencies=[],
                   inputs={"name": "external-secrets", "namespace": "external-secrets", "chart": "external-secrets",
                           "values": {"replicaCount": 2, "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                                      "webhook": {"replicaCount": 3, "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}}},
                                      "prometheus": {"prometheusSpec": {"replicas": 2, "storageSpec": {"volumeClaimTemplate": {
                                          "spec": {"resources": {"requests": {"storage": "50Gi"}}}}}}},
                                      "grafana": {"persistence": {"enabled": True, "size": "10Gi"}},
                                      "off": {"persistence": {"enabled": False, "size": "99Gi"}}}})
    s = cost.sizing(_plan([rel], role="platform"))
    assert math.isclose(s.stack.cpu_requests, 0.2 + 0.15)
    assert s.stack.replicas == 5
    assert math.isclose(s.stack.storage_gib, 2 * 50 + 10)


def _aws_pools(max_apps: int, instance="m6i.xlarge", taint_system=True) -> list[Resource]:
    def ng(name, itype, mx, taints=(), labels=None):
        return Resource(urn=f"urn:{name}", type="aws:eks/nodeGroup:NodeGroup", name=name, parent="", provider="",
                        dependencies=[], inputs={"nodeGroupName": name, "instanceTypes": [itype],
                                                 "scalingConfig": {"minSize": 1, "desiredSize": 2, "maxSize": mx},
                                                 "taints": list(taints), "labels": labels or {}, "diskSize": 50})
    return [
        ng("system", "m6i.large", 3, [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}] if taint_system else []),
        ng("apps", instance, max_apps),
        Resource(urn="urn:eks", type="aws:eks/cluster:Cluster", name="eks", parent="", provider="", dependencies=[], inputs={}),
        Resource(urn="urn:kms", type="aws:kms/key:Key", name="k", parent="", provider="", dependencies=[], inputs={}),
    ]


def test_node_pools_are_read_from_each_cloud():
    aws = cost.node_pools(_plan(_aws_pools(4), role="platform"))
    assert [(p.name, p.instance_type, p.cpu, p.memory_gib, p.max_nodes) for p in aws] == [
        ("system", "m6i.large", 2, 8, 3), ("apps", "m6i.xlarge", 4, 16, 4)]
    assert aws[0].taints == [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"}]
    azure = cost.node_pools(_plan([Resource(
        urn="u", type="azure-native:containerservice:ManagedCluster", name="aks", parent="", provider="", dependencies=[],
        inputs={"agentPoolProfiles": [{"name": "system", "vmSize": "Standard_D4s_v5", "count": 3, "minCount": 3, "maxCount": 5,
                                       "enableAutoScaling": True, "nodeTaints": ["CriticalAddonsOnly=true:NoSchedule"]}]})], role="platform"))
    assert (azure[0].cpu, azure[0].max_nodes, azure[0].taints[0]["effect"]) == (4, 5, "NoSchedule")
    gcp = cost.node_pools(_plan([
        Resource(urn="c", type="gcp:container/cluster:Cluster", name="gke", parent="", provider="", dependencies=[],
                 inputs={"location": "us-central1"}),
        Resource(urn="p", type="gcp:container/nodePool:NodePool", name="apps", parent="", provider="", dependencies=[],
                 inputs={"name": "apps", "nodeCount": 1, "nodeConfig": {"machineType": "e2-standard-4"},
                         "autoscaling": {"minNodeCount": 1, "maxNodeCount": 2}})], role="platform"))
    # A regional cluster runs the per-zone counts in 3 zones.
    assert (gcp[0].desired_nodes, gcp[0].max_nodes, gcp[0].memory_gib) == (3, 6, 16)


def test_allocatable_follows_the_reserve_formula():
    cpu, mem = cost.allocatable(4, 16)
    assert math.isclose(cpu, 4 - (0.06 + 0.01 + 2 * 0.005))
    assert math.isclose(mem, 16 - (1 + 0.8 + 0.8) - 100 / 1024)


def test_capacity_warning_when_client_does_not_fit_and_none_when_it_does():
    client = _client_plan()
    small = _plan(_aws_pools(1), role="platform")
    client.platform = small
    cost.analyze(client)
    warnings = [f for f in client.findings if f.check == "capacity"]
    assert warnings and all(f.severity == "warning" for f in warnings)
    assert "exceed" in warnings[0].message
    # The system pool is tainted: the client's pods only count the apps pool.
    cap = client.sections["cost"]["data"]["capacity"]
    assert [p["name"] for p in cap["pools"] if p["usedBy"]] == ["apps"]

    roomy = _client_plan()
    roomy.platform = _plan(_aws_pools(10), role="platform")
    cost.analyze(roomy)
    assert not [f for f in roomy.findings if f.check == "capacity"]
    assert roomy.sections["cost"]["data"]["capacity"]["fits"] is True


def test_capacity_flags_a_pod_larger_than_any_node():
    big = _plan([_k8s("Deployment", "huge", {"replicas": 1, **_pod("6", "8Gi", "6", "8Gi")})])
    big.platform = _plan(_aws_pools(50), role="platform")
    cost.analyze(big)
    assert any("more than any eligible node" in f.message for f in big.findings)


def test_unknown_pools_are_not_checked_and_raise_no_finding():
    p = _client_plan()
    p.platform = _plan([], role="platform")
    cost.analyze(p)
    assert not p.findings
    assert p.sections["cost"]["data"]["capacity"]["checked"] is False


def test_platform_cost_prices_nodes_control_plane_and_keys_from_the_dated_table(tmp_path):
    plat = _plan(_aws_pools(4), role="platform")
    cost.analyze(plat)
    data = plat.sections["cost"]["data"]["monthly"]
    assert data["pricesDate"] == prices.PRICES_DATE and data["cloud"] == "aws"
    items = {i["item"]: i for i in data["items"]}
    hourly = prices.NODE_HOURLY["aws"]
    assert items["nodes apps (m6i.xlarge)"]["monthly"] == round(2 * round(hourly["m6i.xlarge"] * 730, 2), 2)
    assert items["managed control plane"]["monthly"] == round(prices.SERVICES["aws"]["control_plane_hourly"] * 730, 2)
    assert items["KMS keys"]["quantity"] == 1
    assert math.isclose(data["total"], sum(i["monthly"] for i in data["items"]), abs_tol=0.01)
    # The section is printed and lands in report.json under "cost", with the table's date.
    write_plan(plat, tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["cost"]["monthly"]["pricesDate"] == prices.PRICES_DATE
    assert any(prices.PRICES_DATE in line for line in plat.sections["cost"]["text"])


def test_client_pays_its_share_of_nodes_and_replicated_storage():
    client = _client_plan()
    plat = _plan(_aws_pools(10) + [_k8s("StorageClass", "longhorn", {}, ns="", api="storage.k8s.io/v1")], role="platform")
    plat.resources[-1].inputs["parameters"] = {"numberOfReplicas": "3"}
    client.platform = plat
    cost.analyze(client)
    items = {i["item"]: i for i in client.sections["cost"]["data"]["monthly"]["items"]}
    share = items["share of platform nodes (apps: m6i.xlarge)"]
    s = cost.sizing(client).stack
    cpu, mem = cost.allocatable(4, 16)
    nodes = max(s.cpu_requests / cpu, s.memory_requests_gib / mem)
    assert math.isclose(share["quantity"], round(nodes, 3))
    assert math.isclose(share["monthly"], nodes * prices.NODE_HOURLY["aws"]["m6i.xlarge"] * 730, rel_tol=1e-3)
    # typesense's 30 GiB on `longhorn` (3 replicas) count 90 GiB; the rest has unknown classes (×1).
    assert math.isclose(items["block storage (PVCs)"]["quantity"], 90 + 5 + 300)


# ---------------------------------------------------------------- a real stack, checked independently


def _expected_from_manifests(manifest_dir: Path) -> dict[str, float]:
    """An independent re-count of demo-prod's requests from the written manifests (not lfh.cost)."""
    import yaml

    units = {"m": 1e-3, "": 1, "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "k": 1e3, "M": 1e6, "G": 1e9}

    def q(v):
        if v is None:
            return 0.0
        s = str(v)
        i = len(s.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        return float(s[:i]) * units[s[i:]]

    def containers(cs):
        cpu = mem = 0.0
        for c in cs or []:
            r = c.get("resources") or {}
            req, lim = r.get("requests") or {}, r.get("limits") or {}
            cpu += q(req.get("cpu", lim.get("cpu")))
            mem += q(req.get("memory", lim.get("memory")))
        return cpu, mem

    cpu = mem = storage = 0.0
    for f in sorted(p for p in manifest_dir.glob("*.yaml") if not p.name.startswith("helm.")):  # ours only
        o = yaml.safe_load(f.read_text())
        kind, spec = o["kind"], o.get("spec") or {}
        if kind in ("Deployment", "StatefulSet"):
            n = spec.get("replicas", 1)
            c, m = containers(spec["template"]["spec"].get("containers"))
            cpu, mem = cpu + n * c, mem + n * m
            for v in spec.get("volumeClaimTemplates") or []:
                storage += n * q(v["spec"]["resources"]["requests"]["storage"])
        elif kind == "CronJob":
            c, m = containers(spec["jobTemplate"]["spec"]["template"]["spec"].get("containers"))
            cpu, mem = cpu + c, mem + m
        elif kind == "Job":  # e.g. the secret rotation's drop-old-users Job: counted while it runs
            c, m = containers(spec["template"]["spec"].get("containers"))
            cpu, mem = cpu + c, mem + m
        elif kind == "PersistentVolumeClaim":
            storage += q(spec["resources"]["requests"]["storage"])
        elif kind == "PerconaServerMongoDB":
            agent = (spec.get("backup") or {}).get("resources") if (spec.get("backup") or {}).get("enabled", True) else None
            for rs in spec.get("replsets") or []:
                n = rs.get("size", 3)
                c, m = containers([{"resources": rs.get("resources")}] + [{"resources": agent}] * bool(agent)
                                  + list(rs.get("sidecars") or []))
                cpu, mem = cpu + n * c, mem + n * m
                pvc = (rs.get("volumeSpec") or {}).get("persistentVolumeClaim") or {}
                storage += n * q(((pvc.get("resources") or {}).get("requests") or {}).get("storage"))
        elif kind == "TypesenseCluster":
            n = spec.get("replicas", 3)
            c, m = containers([{"resources": spec.get("resources")}])
            cpu, mem = cpu + n * c, mem + n * m
            storage += n * q((spec.get("storage") or {}).get("size", "100Mi"))
        elif kind == "Tenant":
            for p in spec.get("pools") or []:
                c, m = containers([{"resources": p.get("resources")}])
                cpu, mem = cpu + p["servers"] * c, mem + p["servers"] * m
                storage += p["servers"] * p.get("volumesPerServer", 1) * q(
                    p["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"])
    return {"cpu": cpu, "memory_gib": mem / 2 ** 30, "storage_gib": storage / 2 ** 30}


def _expected_from_helm(helm_dir: Path) -> dict[str, float]:
    """The releases' own values, re-counted independently: every mapping with `resources.requests` is
    pods × requests (pods: its `replicas`/`replicaCount`, 1 in MinIO's standalone mode), and
    `persistence.size` × pods. (demo-prod's charts are not in the per-chart sizing table.)"""
    import yaml

    totals = {"cpu": 0.0, "memory_gib": 0.0, "storage_gib": 0.0}

    def walk(v):
        if isinstance(v, dict):
            n = 1 if v.get("mode") == "standalone" else int(v.get("replicas", v.get("replicaCount", 1)))
            req = (v.get("resources") or {}).get("requests") if isinstance(v.get("resources"), dict) else None
            if req:
                totals["cpu"] += n * cost.quantity(req.get("cpu"))
                totals["memory_gib"] += n * cost.quantity(req.get("memory")) / GIB
            pers = v.get("persistence")
            if isinstance(pers, dict) and pers.get("enabled", True) and pers.get("size"):
                totals["storage_gib"] += n * cost.quantity(pers["size"]) / GIB
            for k, child in v.items():
                if k != "resources":
                    walk(child)
        elif isinstance(v, list):
            for child in v:
                walk(child)

    for f in sorted(helm_dir.glob("*.yaml")):
        walk((yaml.safe_load(f.read_text()) or {}).get("values") or {})
    return totals


def test_cost_demo_prod_sums_match_the_stacks_own_objects(tmp_path, capsys):
    if not (PROJECT_ROOT / "stacks" / "Pulumi.demo-prod.yaml").exists():
        pytest.skip("demo-prod not in stacks/ yet")
    out = tmp_path / "demo-prod"
    assert main(["plan", "demo-prod", "--out", str(out), "-q"]) in (0, 1)
    capsys.readouterr()
    objs = _expected_from_manifests(out / "manifests")
    helm = _expected_from_helm(out / "helm")
    assert objs["cpu"] > 0, "demo-prod records no workloads with requests"
    assert main(["cost", "demo-prod", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert math.isclose(data["stack"]["cpuRequests"], objs["cpu"] + helm["cpu"], abs_tol=0.01)
    assert math.isclose(data["stack"]["memoryRequestsGiB"], objs["memory_gib"] + helm["memory_gib"], abs_tol=0.01)
    assert math.isclose(data["stack"]["storageGiB"], objs["storage_gib"] + helm["storage_gib"], abs_tol=0.01)
    per_ns = sum(ns["cpuRequests"] for ns in data["namespaces"].values())
    assert math.isclose(per_ns, data["stack"]["cpuRequests"], abs_tol=0.01)
    # And the table on stdout names the date of the price table.
    assert main(["cost", "demo-prod"]) == 0
    text = capsys.readouterr().out
    assert "TOTAL" in text and f"prices as of {prices.PRICES_DATE}" in text


def test_envoyproxy_fleet_and_transient_hooks_are_sized():
    proxy = _k8s("EnvoyProxy", "proxy", {"provider": {"type": "Kubernetes", "kubernetes": {"envoyDeployment": {
        "replicas": 2, "container": {"resources": {"requests": {"cpu": "250m", "memory": "512Mi"}}}}}}},
        ns="envoy-gateway-system", api="gateway.envoyproxy.io/v1alpha1")
    job = Resource(urn="urn:rel", type=HELM_RELEASE_TYPE, name="minio", parent="", provider="p", dependencies=[],
                   inputs={"name": "minio", "namespace": "acme-production", "chart": "minio",
                           "values": {"mode": "standalone", "replicas": 4, "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
                                      "makeBucketJob": {"resources": {"requests": {"cpu": "50m", "memory": "64Mi"}}}}})
    s = cost.sizing(_plan([proxy, job]))
    gw = s.namespaces["envoy-gateway-system"]
    assert math.isclose(gw.cpu_requests, 0.5) and gw.replicas == 2
    t = s.namespaces["acme-production"]
    assert math.isclose(t.cpu_requests, 1 + 0.05)  # standalone MinIO is one pod, the bucket job runs once
    assert math.isclose(t.transient_cpu_requests, 0.05)


def test_charts_in_the_sizing_table_are_read_where_the_table_says():
    table, per_node = cost._chart_table()
    if "cert-manager" not in table:
        pytest.skip("lfh.plan.platform_sizing (the per-chart table) is not merged yet")
    from lfh.charts import CHARTS

    c = CHARTS["cert-manager"]
    rel = Resource(urn="urn:cm", type=HELM_RELEASE_TYPE, name="cm", parent="", provider="p", dependencies=[],
                   inputs={"name": "cert-manager", "namespace": "cert-manager", "chart": c.chart, "version": c.version,
                           "repositoryOpts": {"repo": c.repository},
                           "values": {"replicaCount": 2, "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                                      "webhook": {"replicaCount": 3, "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}}}}})
    ws = {w.name: w for w in cost.sizing(_plan([rel], role="platform")).workloads}
    assert ws["cert-manager:controller"].replicas == 2 and ws["cert-manager:webhook"].replicas == 3
    assert all(w.group == "cert-manager" for w in ws.values())
    # Paths the table covers are not counted twice by the conventional walk.
    assert math.isclose(sum(w.total.cpu_requests for w in ws.values()), 0.1 + 0.03)


def test_patches_of_other_stacks_objects_count_for_nothing():
    patch = _k8s("Gateway", "shared-gateway", {"listeners": []}, ns="envoy-gateway-system", api="gateway.networking.k8s.io/v1")
    patch.type = "kubernetes:gateway.networking.k8s.io/v1:GatewayPatch"
    dep = _k8s("Deployment", "someone-elses", {"replicas": 5, **_pod()})
    dep.type = "kubernetes:apps/v1:DeploymentPatch"
    client = _plan([patch, dep])
    client.platform = _plan(_aws_pools(4), role="platform")
    cost.analyze(client)
    data = client.sections["cost"]["data"]
    assert data["stack"]["cpuRequests"] == 0
    assert not [i for i in data["monthly"]["items"] if i["item"] == "load balancers"]


def test_existing_cluster_nodes_from_config_are_checked_but_not_priced():
    """An existing cluster records no node resources; if its config lists node sizes, capacity uses them."""
    from types import SimpleNamespace

    plat = _plan([], role="platform")
    plat.config = SimpleNamespace(platform=SimpleNamespace(cluster=SimpleNamespace(
        provider="existing", node_pools=[{"name": "workers", "cpu": "4", "memory": "16Gi", "count": 1}])))
    (pool,) = cost.node_pools(plat)
    assert (pool.cpu, pool.memory_gib, pool.max_nodes, pool.cloud) == (4, 16, 1, "existing")
    client = _client_plan()
    client.platform = plat
    cost.analyze(client)
    assert any(f.check == "capacity" for f in client.findings)  # 6.65 CPU at max > one node of ~3.9 allocatable
    assert all(i["monthly"] is None for i in client.sections["cost"]["data"]["monthly"]["items"])
