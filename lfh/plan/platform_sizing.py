"""Platform sizing: the summed CPU/memory *requests* of the core add-ons, next to the seed's shared
base (~3 CPU / 7 GiB), and every container that sets no requests (counted as 0, named).

The sums come from ``lfh.cost.sizing`` (the one implementation of "sum requests from a plan"): the
platform's own objects and every object its Helm releases render — replicas × pod template requests,
DaemonSets per node, the pods operators start for the custom resources (Prometheus, Alertmanager, the
EnvoyProxy fleet). Jobs, chart hooks and init containers are transient and not counted here.

Longhorn's instance managers are started by longhorn-manager at runtime (no object in the plan); each
reserves a share of its node's CPU (`guaranteedInstanceManagerCPU`), reported as such.
"""
from __future__ import annotations

import json
from typing import Any

from ..charts import chart_for
from ..cost import GIB
from .model import Plan

SECTION = "platformSizing"
#: The seed's shared platform base the add-ons are measured against.
SEED_BASE = {"cpu": 3.0, "memoryGiB": 7.0}

#: chart key -> add-on name.
ADDONS = {"envoy-gateway": "gateway", "longhorn": "storage", "argo-cd": "gitops", "external-secrets": "secrets",
          "cert-manager": "certificates", "velero": "backups", "kube-prometheus-stack": "monitoring"}
#: Longhorn 1.12.1 values.yaml `defaultSettings.guaranteedInstanceManagerCPU`: "Percentage of the total
#: allocatable CPU resources on each node to be reserved for each instance manager pod. The default
#: value is {"v1":"12","v2":"12"}" (one v1 instance manager per node).
LONGHORN_INSTANCE_MANAGER_CPU_PERCENT = 12.0


def instance_manager_cpu_percent(values: dict[str, Any]) -> float:
    """The v1 instance manager's share of each node's CPU, from the Longhorn release's values."""
    setting = (values.get("defaultSettings") or {}).get("guaranteedInstanceManagerCPU")
    if isinstance(setting, str) and setting.strip().startswith("{"):
        setting = json.loads(setting)
    if isinstance(setting, dict):
        setting = setting.get("v1")
    try:
        return float(setting) if setting is not None else LONGHORN_INSTANCE_MANAGER_CPU_PERCENT
    except (TypeError, ValueError):
        return LONGHORN_INSTANCE_MANAGER_CPU_PERCENT


def analyze(plan: Plan) -> None:
    releases = [(h, chart_for(h["chart"], h["repository"])) for _, h in plan.helm_releases()]
    releases = [(h, c) for h, c in releases if c is not None and c.key in ADDONS]
    if plan.role != "platform" or not releases:
        return
    from ..cost import sizing  # the one implementation of "sum requests from a plan"

    by_addon: dict[str, dict[str, float]] = {ADDONS[c.key]: {"cpu": 0.0, "memoryGiB": 0.0} for _, c in releases}
    per_node = {"cpu": 0.0, "memoryGiB": 0.0}
    without: list[str] = []
    for w in sizing(plan).workloads:
        addon = ADDONS.get(w.group, "platform objects")
        without += [f"{addon}: {w.kind}/{w.name} ({w.namespace}) {m}" for m in w.missing_requests]
        # Steady state only: Jobs, chart hooks and init containers are transient.
        if w.transient or not (w.replicas or w.per_node):
            continue
        if w.per_node:
            per_node["cpu"] += w.pod.cpu_requests
            per_node["memoryGiB"] += w.pod.memory_requests / GIB
            continue
        acc = by_addon.setdefault(addon, {"cpu": 0.0, "memoryGiB": 0.0})
        acc["cpu"] += w.total.cpu_requests
        acc["memoryGiB"] += w.total.memory_requests / GIB
    longhorn = next((h for h, c in releases if c.key == "longhorn"), None)
    node_share = ({"storage: longhorn instance-manager (guaranteedInstanceManagerCPU)":
                   instance_manager_cpu_percent(longhorn.get("values") or {}) / 100} if longhorn is not None else {})

    total_cpu = sum(a["cpu"] for a in by_addon.values())
    total_mem = sum(a["memoryGiB"] for a in by_addon.values())
    text = [
        f"add-on requests: {total_cpu:.2f} CPU / {total_mem:.1f} GiB"
        f" (+ per node: {per_node['cpu']:.2f} CPU / {per_node['memoryGiB']:.2f} GiB)"
        f"  vs seed shared base ~{SEED_BASE['cpu']:g} CPU / {SEED_BASE['memoryGiB']:g} GiB",
    ]
    for addon, acc in sorted(by_addon.items()):
        text.append(f"  {addon:16s} {acc['cpu']:6.2f} CPU  {acc['memoryGiB']:6.2f} GiB")
    for what, share in node_share.items():
        text.append(f"+ {share:.0%} of each node's CPU: {what}, started by longhorn-manager at runtime")
    if without:
        text.append(f"{len(without)} container(s) set no requests (counted as 0): " + ", ".join(without))
    plan.sections[SECTION] = {
        "title": "platform sizing (rendered requests)",
        "text": text,
        "data": {
            "cpu": round(total_cpu, 3), "memoryGiB": round(total_mem, 3),
            "perNode": {k: round(v, 3) for k, v in per_node.items()},
            "perNodeCpuShare": node_share,
            "byAddon": {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in sorted(by_addon.items())},
            "seedBase": dict(SEED_BASE),
            "withoutRequests": without,
        },
    }
