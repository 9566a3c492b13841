"""Platform sizing: the summed CPU/memory *requests* of the core add-ons, next to the seed's shared
base (~3 CPU / 7 GiB), and the add-on workloads whose requests are left to chart defaults.

The sums come from ``lfh.cost.sizing`` (the one implementation of "sum requests from a plan", which
reads this module's TABLE for these charts); sources, all read from the recorded plan:
- our own Kubernetes objects: pod templates in manifests and the EnvoyProxy's container;
- the Helm values we set: for each pinned chart a table of `resources` paths and how many pods carry
  them (a replica-count value path with the chart's default, or "per node" for DaemonSets).
Jobs and init containers are transient and not counted.
"""
from __future__ import annotations

from typing import Any, Optional, Union

from ..charts import chart_for
from ..cost import GIB, quantity, value_at
from .model import Plan

SECTION = "platformSizing"
#: The seed's shared platform base the add-ons are measured against.
SEED_BASE = {"cpu": 3.0, "memoryGiB": 7.0}
PER_NODE = "per-node"

#: chart key -> add-on name, and per workload: (workload, resources path, replicas path or fixed count
#: or PER_NODE, default replicas when the path is unset).
ADDONS = {"envoy-gateway": "gateway", "longhorn": "storage", "argo-cd": "gitops", "external-secrets": "secrets",
          "cert-manager": "certificates", "velero": "backups", "kube-prometheus-stack": "monitoring"}
Replicas = Union[str, int]
TABLE: dict[str, list[tuple[str, str, Replicas, int]]] = {
    "envoy-gateway": [("controller", "deployment.envoyGateway.resources", "deployment.replicas", 1)],
    "external-secrets": [("operator", "resources", "replicaCount", 1),
                         ("webhook", "webhook.resources", "webhook.replicaCount", 1),
                         ("cert-controller", "certController.resources", "certController.replicaCount", 1)],
    "cert-manager": [("controller", "resources", "replicaCount", 1),
                     ("webhook", "webhook.resources", "webhook.replicaCount", 1),
                     ("cainjector", "cainjector.resources", "cainjector.replicaCount", 1)],
    "longhorn": [("longhorn-manager", "longhornManager.resources", PER_NODE, 0)],
    "argo-cd": [("application-controller", "controller.resources", "controller.replicas", 1),
                ("server", "server.resources", "server.replicas", 1),
                ("repo-server", "repoServer.resources", "repoServer.replicas", 1),
                ("applicationset", "applicationSet.resources", "applicationSet.replicas", 1),
                ("notifications", "notifications.resources", 1, 1)],
    "velero": [("server", "resources", 1, 1), ("node-agent", "nodeAgent.resources", PER_NODE, 0)],
    "kube-prometheus-stack": [
        ("prometheus", "prometheus.prometheusSpec.resources", "prometheus.prometheusSpec.replicas", 1),
        ("alertmanager", "alertmanager.alertmanagerSpec.resources", "alertmanager.alertmanagerSpec.replicas", 1),
        ("operator", "prometheusOperator.resources", 1, 1)],
}
#: Workloads of each chart we cannot size through the chart's own values (subcharts whose values the
#: pinned values.yaml does not expose, or components without a resources value).
CHART_DEFAULTS = {
    "longhorn": ["instance-manager (guaranteedInstanceManagerCPU % of node)", "csi sidecars", "longhorn-ui",
                 "driver-deployer", "engine-image"],
    "argo-cd": ["redis-ha (redis, sentinel, haproxy)"],
    "kube-prometheus-stack": ["grafana", "kube-state-metrics", "prometheus-node-exporter"],
}

def cpu(value: Any) -> float:
    """CPU cores of a quantity (`500m` → 0.5); 0 for what is not a quantity."""
    try:
        return quantity(value)
    except ValueError:
        return 0.0


def memory_gib(value: Any) -> float:
    """GiB of a memory quantity (`512Mi` → 0.5); 0 for what is not a quantity."""
    try:
        return quantity(value) / GIB
    except ValueError:
        return 0.0


_get = value_at


def _requests(res: Any) -> Optional[tuple[float, float]]:
    req = res.get("requests") if isinstance(res, dict) else None
    if not isinstance(req, dict) or not req:
        return None
    return cpu(req.get("cpu", 0)), memory_gib(req.get("memory", 0))


def analyze(plan: Plan) -> None:
    releases = [(r, h, chart_for(h["chart"], h["repository"])) for r, h in plan.helm_releases()]
    releases = [(r, h, c) for r, h, c in releases if c is not None and c.key in ADDONS]
    if plan.role != "platform" or not releases:
        return
    from ..cost import GIB, sizing  # the one implementation of "sum requests from a plan"

    by_addon: dict[str, dict[str, float]] = {ADDONS[c.key]: {"cpu": 0.0, "memoryGiB": 0.0} for _, _, c in releases}
    per_node = {"cpu": 0.0, "memoryGiB": 0.0}
    defaults: list[str] = []

    # Which table workloads have no requests of ours (left to the chart's defaults).
    for _, h, chart in releases:
        addon = ADDONS[chart.key]
        values = h.get("values") or {}
        for workload, res_path, _replicas, _default in TABLE.get(chart.key, []):
            if _requests(_get(values, res_path)) is None:
                defaults.append(f"{addon}: {workload}")
        defaults += [f"{addon}: {w}" for w in CHART_DEFAULTS.get(chart.key, [])]

    # Steady state only: Jobs, chart hooks and init containers are transient and not counted here.
    for w in sizing(plan).workloads:
        if w.transient or not (w.replicas or w.per_node):
            continue
        if w.per_node:
            per_node["cpu"] += w.pod.cpu_requests
            per_node["memoryGiB"] += w.pod.memory_requests / GIB
            continue
        if w.kind == "EnvoyProxy":
            if not w.pod.cpu_requests and not w.pod.memory_requests:
                defaults.append("gateway: envoy proxy")
                continue
            addon = "gateway"
        elif w.source == "helm values":
            if w.group not in ADDONS:
                continue
            addon = ADDONS[w.group]
        else:
            addon = "platform objects"
        acc = by_addon.setdefault(addon, {"cpu": 0.0, "memoryGiB": 0.0})
        acc["cpu"] += w.total.cpu_requests
        acc["memoryGiB"] += w.total.memory_requests / GIB

    total_cpu = sum(a["cpu"] for a in by_addon.values())
    total_mem = sum(a["memoryGiB"] for a in by_addon.values())
    text = [
        f"add-on requests: {total_cpu:.2f} CPU / {total_mem:.1f} GiB"
        f" (+ per node: {per_node['cpu']:.2f} CPU / {per_node['memoryGiB']:.2f} GiB)"
        f"  vs seed shared base ~{SEED_BASE['cpu']:g} CPU / {SEED_BASE['memoryGiB']:g} GiB",
    ]
    for addon, acc in sorted(by_addon.items()):
        text.append(f"  {addon:14s} {acc['cpu']:6.2f} CPU  {acc['memoryGiB']:6.2f} GiB")
    if defaults:
        text.append("left to chart defaults: " + ", ".join(defaults))
    plan.sections[SECTION] = {
        "title": "platform sizing (requests we set)",
        "text": text,
        "data": {
            "cpu": round(total_cpu, 3), "memoryGiB": round(total_mem, 3),
            "perNode": {k: round(v, 3) for k, v in per_node.items()},
            "byAddon": {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in sorted(by_addon.items())},
            "seedBase": dict(SEED_BASE),
            "chartDefaults": defaults,
        },
    }
