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


def _release(key: str, name: str, namespace: str, values: dict) -> Resource:
    from lfh.charts import CHARTS

    c = CHARTS[key]
    opts = {"chart": c.repository} if c.is_oci else {"chart": c.chart, "repositoryOpts": {"repo": c.repository}}
    return Resource(urn=f"urn:pulumi:s::lfh::{HELM_RELEASE_TYPE}::{name}", type=HELM_RELEASE_TYPE, name=name, parent="",
                    provider="p", dependencies=[],
                    inputs={"name": name, "namespace": namespace, "version": c.version, "values": values, **opts})


def test_a_release_is_sized_from_its_rendered_pod_templates():
    """Replicas × the rendered pod template's requests, whatever value path the chart reads them from;
    a container the chart leaves without requests counts 0 and is named."""
    rel = _release("external-secrets", "external-secrets", "external-secrets", {
        "replicaCount": 2, "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "webhook": {"replicaCount": 3, "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}}}})
    s = cost.sizing(_plan([rel], role="platform"))
    ws = {w.name: w for w in s.workloads}
    assert (ws["external-secrets"].replicas, ws["external-secrets-webhook"].replicas) == (2, 3)
    assert all(w.kind == "Deployment" and w.group == "external-secrets" and w.source.startswith("Helm release")
               for w in ws.values())
    assert math.isclose(s.stack.cpu_requests, 2 * 0.1 + 3 * 0.05)
    assert math.isclose(s.stack.memory_requests_gib, (2 * 128 + 3 * 64) / 1024)
    assert ws["external-secrets-cert-controller"].missing_requests == ["container cert-controller"]
    assert s.stack.containers_without_requests == 1


def _aws_pools(max_apps: int, instance="m6i.xlarge", taint_system=True, min_apps: int = 1,
               autoscaler=True) -> list[Resource]:
    def ng(name, itype, mx, taints=(), labels=None, mn=1):
        return Resource(urn=f"urn:{name}", type="aws:eks/nodeGroup:NodeGroup", name=name, parent="", provider="",
                        dependencies=[], inputs={"nodeGroupName": name, "instanceTypes": [itype], "clusterName": "eks-1",
                                                 "scalingConfig": {"minSize": mn, "desiredSize": max(2, mn), "maxSize": mx},
                                                 "taints": list(taints), "labels": labels or {}, "diskSize": 50})
    # The Cluster Autoscaler that discovers the cluster's node groups (as components/cluster/aws_autoscaler.py runs it).
    ca = _k8s("Deployment", "cluster-autoscaler", {"replicas": 1, "template": {"spec": {"containers": [{
        "name": "cluster-autoscaler", "command": ["./cluster-autoscaler", "--cloud-provider=aws",
                                                  "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,"
                                                  "k8s.io/cluster-autoscaler/eks-1"]}]}}})
    return [
        ng("system", "m6i.large", 3, [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}] if taint_system else []),
        ng("apps", instance, max_apps, mn=min_apps),
        Resource(urn="urn:eks", type="aws:eks/cluster:Cluster", name="eks", parent="", provider="", dependencies=[], inputs={}),
        Resource(urn="urn:kms", type="aws:kms/key:Key", name="k", parent="", provider="", dependencies=[], inputs={}),
        *([ca] if autoscaler else []),
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


def _scheduled(plan: Plan) -> Plan:
    from lfh.plan import scheduling

    scheduling.analyze(plan)
    cost.analyze(plan)
    return plan


def test_capacity_is_the_scheduling_placement_and_not_fitting_is_an_error():
    # Without an autoscaler the pools run at their minimum: one apps node cannot hold 3 mongod members
    # with required hostname anti-affinity (the operator's default), whatever the maximum says.
    client = _client_plan()
    client.platform = _plan(_aws_pools(10, autoscaler=False), role="platform")
    _scheduled(client)
    errors = [f for f in client.findings if f.check == "scheduling" and f.severity == "error"]
    assert errors
    assert any("PerconaServerMongoDB acme-production/mongo replset rs0: 2 of 3 pod(s)" in f.message
               and "anti-affinity" in f.message for f in errors)
    cap = client.sections["cost"]["data"]["capacity"]
    assert cap["checked"] and cap["fits"] is False
    # The system pool is tainted: the client's pods land on the apps pool only.
    assert [p["pool"] for p in cap["pools"] if p["thisStackCpu"]] == ["apps"]
    assert any("DOES NOT FIT" in line for line in client.sections["cost"]["text"])

    roomy = _client_plan()
    roomy.platform = _plan(_aws_pools(10, min_apps=4, autoscaler=False), role="platform")
    _scheduled(roomy)
    assert not [f for f in roomy.findings if f.check == "scheduling" and f.severity == "error"]
    assert roomy.sections["cost"]["data"]["capacity"]["fits"] is True


def test_a_pool_no_autoscaler_serves_counts_at_its_minimum():
    """The same roomy maximum, but nothing scales the node groups: only their minimum size is real."""
    fixed = _plan(_aws_pools(10, autoscaler=False), role="platform")
    pools = {p.name: p for p in cost.node_pools(fixed)}
    assert (pools["apps"].autoscaled, pools["apps"].capacity_nodes) == (False, 1)
    assert cost.node_pools(_plan(_aws_pools(10), role="platform"))[1].capacity_nodes == 10
    client = _client_plan()
    client.platform = fixed
    _scheduled(client)
    apps = next(row for row in client.sections["cost"]["data"]["capacity"]["pools"] if row["pool"] == "apps")
    assert (apps["nodes"], apps["autoscaled"]) == (1, False)
    assert [f for f in client.findings if f.check == "scheduling" and f.severity == "error"]
    # With the Cluster Autoscaler discovering the node groups, the same pools reach their maximum.
    scaled = _client_plan()
    scaled.platform = _plan(_aws_pools(10), role="platform")
    _scheduled(scaled)
    apps = next(row for row in scaled.sections["cost"]["data"]["capacity"]["pools"] if row["pool"] == "apps")
    assert (apps["nodes"], apps["autoscaled"]) == (10, True)


def test_capacity_flags_a_pod_larger_than_any_node():
    big = _plan([_k8s("Deployment", "huge", {"replicas": 1, **_pod("6", "8Gi", "6", "8Gi")})])
    big.platform = _plan(_aws_pools(50, min_apps=50), role="platform")
    _scheduled(big)
    assert any("Deployment acme-production/huge: 1 of 1 pod(s) cannot be scheduled" in f.message and "too full" in f.message
               for f in big.findings)


def test_unknown_pools_are_not_checked_and_raise_no_finding():
    p = _client_plan()
    p.platform = _plan([], role="platform")
    _scheduled(p)
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


def _expected_from_manifests(out: Path) -> dict[str, float]:
    """An independent re-count of demo-prod's requests from every written manifest and hook, ours and
    rendered (not lfh.cost): replicas × pod requests, init containers as the scheduler counts them."""
    import yaml

    units = {"m": 1e-3, "": 1, "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "k": 1e3, "M": 1e6, "G": 1e9}

    def q(v):
        if v is None:
            return 0.0
        s = str(v)
        i = len(s.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        return float(s[:i]) * units[s[i:]]

    def request(c):
        r = c.get("resources") or {}
        req, lim = r.get("requests") or {}, r.get("limits") or {}
        return q(req.get("cpu", lim.get("cpu"))), q(req.get("memory", lim.get("memory")))

    def containers(cs, inits=()):
        apps = [request(c) for c in cs or []] + [request(c) for c in inits or [] if c.get("restartPolicy") == "Always"]
        plain = [request(c) for c in inits or [] if c.get("restartPolicy") != "Always"]
        cpu, mem = sum(c for c, _ in apps), sum(m for _, m in apps)
        return max([cpu] + [c for c, _ in plain]), max([mem] + [m for _, m in plain])

    def pod(spec):
        return containers(spec.get("containers"), spec.get("initContainers"))

    cpu = mem = storage = 0.0
    files = sorted((out / "manifests").glob("*.yaml")) + sorted((out / "hooks").glob("*.yaml"))
    assert any(f.name.startswith("helm.") for f in files), "no rendered objects to count"
    for f in files:  # ours and rendered
        o = yaml.safe_load(f.read_text())
        kind, spec = o["kind"], o.get("spec") or {}
        if kind in ("Deployment", "StatefulSet"):
            n = spec.get("replicas", 1)
            c, m = pod(spec["template"]["spec"])
            cpu, mem = cpu + n * c, mem + n * m
            for v in spec.get("volumeClaimTemplates") or []:
                storage += n * q(v["spec"]["resources"]["requests"]["storage"])
        elif kind == "Job":
            n = spec.get("parallelism", 1)
            c, m = pod(spec["template"]["spec"])
            cpu, mem = cpu + n * c, mem + n * m
        elif kind == "CronJob":
            c, m = pod(spec["jobTemplate"]["spec"]["template"]["spec"])
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


def test_cost_demo_prod_sums_match_the_stacks_own_objects(tmp_path, capsys):
    if not (PROJECT_ROOT / "stacks" / "Pulumi.demo-prod.yaml").exists():
        pytest.skip("demo-prod not in stacks/ yet")
    out = tmp_path / "demo-prod"
    assert main(["plan", "demo-prod", "--out", str(out), "-q"]) in (0, 1)
    capsys.readouterr()
    objs = _expected_from_manifests(out)
    assert objs["cpu"] > 0, "demo-prod records no workloads with requests"
    assert main(["cost", "demo-prod", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert math.isclose(data["stack"]["cpuRequests"], objs["cpu"], abs_tol=0.01)
    assert math.isclose(data["stack"]["memoryRequestsGiB"], objs["memory_gib"], abs_tol=0.01)
    assert math.isclose(data["stack"]["storageGiB"], objs["storage_gib"], abs_tol=0.01)
    # The MongoDB operator the client installs is counted from its rendered Deployment.
    assert any(w["source"] == "Helm release demo-production/psmdb-operator" and w["kind"] == "Deployment"
               and w["cpuRequests"] > 0 for w in data["workloads"])
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
    minio = _release("minio", "minio", "acme-production", {
        "mode": "standalone", "replicas": 4, "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
        "persistence": {"size": "10Gi"}, "buckets": [{"name": "files"}],
        "makeBucketJob": {"resources": {"requests": {"cpu": "50m", "memory": "64Mi"}}}})
    s = cost.sizing(_plan([proxy, minio]))
    gw = s.namespaces["envoy-gateway-system"]
    # Each Envoy pod: its container plus envoy-gateway's shutdown-manager sidecar (10m).
    assert math.isclose(gw.cpu_requests, 2 * (0.25 + 0.01)) and gw.replicas == 2
    t = s.namespaces["acme-production"]
    # Standalone MinIO renders one pod whatever `replicas` says; the bucket job is a post-install hook.
    assert math.isclose(t.cpu_requests, 1 + 0.05)
    assert math.isclose(t.transient_cpu_requests, 0.05)
    assert math.isclose(t.storage_gib, 10)
    # An EnvoyProxy without resources gets envoy-gateway's defaults (100m / 512Mi).
    bare = _k8s("EnvoyProxy", "bare", {"provider": {"type": "Kubernetes"}}, ns="e", api="gateway.envoyproxy.io/v1alpha1")
    assert math.isclose(cost.sizing(_plan([bare])).stack.cpu_requests, 0.1 + 0.01)


def test_prometheus_and_alertmanager_pods_with_the_operators_config_reloader():
    operator = _k8s("Deployment", "operator", {"replicas": 1, "template": {"spec": {"containers": [{
        "name": "op", "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "args": ["--prometheus-config-reloader=quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1",
                 "--config-reloader-cpu-request=10m", "--config-reloader-memory-request=0"]}]}}}, ns="monitoring")
    prom = _k8s("Prometheus", "p", {"replicas": 2, "shards": 2, "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}},
                                    "storage": {"volumeClaimTemplate": {"spec": {"resources": {"requests": {"storage": "50Gi"}}}}}},
                ns="monitoring", api="monitoring.coreos.com/v1")
    am = _k8s("Alertmanager", "a", {"resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}},
              ns="monitoring", api="monitoring.coreos.com/v1")
    ws = {w.kind: w for w in cost.sizing(_plan([operator, prom, am], role="platform")).workloads}
    assert ws["Prometheus"].replicas == 4 and math.isclose(ws["Prometheus"].pod.cpu_requests, 0.5 + 0.01)
    assert math.isclose(ws["Prometheus"].storage / GIB, 4 * 50)
    assert ws["Alertmanager"].replicas == 1 and math.isclose(ws["Alertmanager"].pod.cpu_requests, 0.1 + 0.01)
    # The operator sets the reloader's memory request to 0 (unset): it is named as without requests.
    assert ws["Prometheus"].missing_requests == ["config-reloader"]


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
    _scheduled(client)
    assert any(f.check == "scheduling" for f in client.findings)  # 3 anti-affine mongod members > one node
    assert all(i["monthly"] is None for i in client.sections["cost"]["data"]["monthly"]["items"])


def test_a_node_selector_on_well_known_node_labels_fits_the_pools():
    """Charts select `kubernetes.io/os: linux` (cert-manager, Argo CD); every node has it, set by the kubelet."""
    pools = cost.node_pools(_plan(_aws_pools(4), role="platform"))
    apps = next(p for p in pools if p.name == "apps")
    linux = _k8s("Deployment", "a", {"replicas": 1, **_pod(nodeSelector={"kubernetes.io/os": "linux"})})
    windows = _k8s("Deployment", "w", {"replicas": 1, **_pod(nodeSelector={"kubernetes.io/os": "windows"})})
    typed = _k8s("Deployment", "t", {"replicas": 1, **_pod(nodeSelector={"node.kubernetes.io/instance-type": "m6i.xlarge"})})
    (lw,), (ww,), (tw,) = (cost.workloads(_plan([r])) for r in (linux, windows, typed))
    assert cost.eligible(lw, apps) and cost.eligible(tw, apps) and not cost.eligible(ww, apps)
