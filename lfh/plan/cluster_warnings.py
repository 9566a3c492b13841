"""Warn about every weaker cluster setting a platform stack turns on (explicit config keys only).

The config model lists them (`weakened()` on each cluster model); this analyzer turns each into a
`cluster-weakened` warning on the cluster component, so the plan report shows it next to the graph.
"""
from __future__ import annotations

from .model import Finding, Plan

CLUSTER_TYPES = ("lfh:cluster:EksCluster", "lfh:cluster:AksCluster", "lfh:cluster:GkeCluster", "lfh:cluster:ExistingCluster")
KEY_PREFIX = "lfh:platform.cluster."


def analyze(plan: Plan) -> None:
    platform = getattr(getattr(plan, "config", None), "platform", None)
    if platform is None:
        return
    cluster = platform.cluster
    weakened = getattr(cluster, "weakened", None)
    if weakened is None:
        return
    urn = next((r.urn for r in plan.resources if r.type in CLUSTER_TYPES), "")
    for key, why in weakened():
        plan.findings.append(Finding("cluster-weakened", "warning", urn, f"{KEY_PREFIX}{key} is set: {why}"))
