"""Autoscaling that is configured is also served (`autoscaling` errors).

- Node pools: a pool whose maximum is above its minimum needs something that scales it, or its maximum
  is never reached (and `cost` would count capacity that never exists). What the plan shows decides
  (`lfh.cost.node_pools`): AKS `enableAutoScaling`, a GKE `autoscaling` block, or, on EKS, a Cluster
  Autoscaler Deployment whose auto-discovery names the node group's cluster — and, for the Cluster
  Autoscaler, an image of the cluster's own minor version (upstream: "use the version that matches your
  Kubernetes minor version"; other minors are untested and may call APIs the cluster does not serve).
- The metrics API: an HPA with nobody serving `metrics.k8s.io` never scales. A production platform (its
  clients' apps autoscale by default) and every client with an HPA need a metrics API: the cluster
  contract says who serves it (`clusterFacts.metricsApi`), and on EKS the plan must hold the
  `metrics-server` add-on it names.
"""
from __future__ import annotations

import re
from typing import Any

from .model import Finding, Plan

CHECK = "autoscaling"
CA_IMAGE = re.compile(r"/cluster-autoscaler:v(?P<minor>\d+\.\d+)\.\d+")


def facts_of(plan: Plan) -> dict[str, Any]:
    """The cluster facts the platform exported (a client reads its platform's)."""
    source = plan if plan.role == "platform" else plan.platform
    return dict(((source.outputs if source is not None else {}) or {}).get("clusterFacts") or {})


def _autoscaler_images(plan: Plan) -> list[tuple[str, str]]:
    """(urn, image) of every Cluster Autoscaler container in the plan."""
    from ..cost import EKS_AUTOSCALER_FLAGS

    out = []
    for res, obj in plan.manifests():
        spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        for c in spec.get("containers") or [] if obj.get("kind") == "Deployment" else []:
            if EKS_AUTOSCALER_FLAGS[0] in [str(a) for a in c.get("command") or []]:
                out.append((res.urn, str(c.get("image") or "")))
    return out


FIX = {"aws": "run the Cluster Autoscaler with auto-discovery for the cluster (components/cluster/aws_autoscaler.py)",
       "azure": "set enableAutoScaling (with minCount/maxCount) on the pool", "gcp": "give the pool an `autoscaling` block"}


def _node_pools(plan: Plan) -> None:
    from ..cost import node_pools

    recorded = node_pools(plan)
    # The configured sizes (the contract's facts), each checked against how the plan records its pool;
    # without facts, the recorded pools on their own.
    wanted = [(str(p.get("name")), str(p.get("urn") or ""), int(p.get("minNodes") or 0), int(p.get("maxNodes") or 0))
              for p in facts_of(plan).get("nodePools") or []] or [(p.name, p.urn, p.min_nodes, p.max_nodes) for p in recorded]
    for name, urn, low, high in wanted:
        if high <= low or not urn:
            continue
        same = [p for p in recorded if p.urn == urn]
        pool = next((p for p in same if p.name == name), same[0] if len(same) == 1 else None)
        if pool is not None and pool.autoscaled:
            continue
        cloud = pool.cloud if pool is not None else ""
        plan.findings.append(Finding(CHECK, "error", urn,
            f"node pool {name!r} ({cloud or 'unknown'}) may grow from {low} to {high} nodes, but nothing scales it: "
            f"it stays at {low} and its maximum is never used. Fix: {FIX.get(cloud, 'add a node autoscaler')}"))
    version = plan.kubernetes_version
    for urn, image in _autoscaler_images(plan):
        m = CA_IMAGE.search(image)
        if m is None or m["minor"] != version:
            plan.findings.append(Finding(CHECK, "error", urn,
                f"Cluster Autoscaler image {image!r} is not of the cluster's minor version {version}: use the "
                f"registry.k8s.io/autoscaling/cluster-autoscaler release of {version} (the upstream compatibility rule)"))


def _metrics_api(plan: Plan) -> None:
    facts = facts_of(plan)
    if not facts:
        return
    served = str(facts.get("metricsApi") or "")
    stack_urn = f"urn:pulumi:{plan.stack}::lfh::pulumi:pulumi:Stack::lfh-{plan.stack}"
    if plan.role == "platform":
        if served.startswith("EKS") and not any(
                r.type == "aws:eks/addon:Addon" and r.inputs.get("addonName") == "metrics-server" for r in plan.resources):
            plan.findings.append(Finding(CHECK, "error", stack_urn,
                f"the cluster contract says the metrics API is served by {served!r}, but the plan creates no "
                "aws:eks/addon:Addon `metrics-server`: add the add-on (components/cluster/aws.py)"))
        environment = getattr(getattr(getattr(plan, "config", None), "platform", None), "environment", None)
        if not served and environment is not None and environment.is_production:
            plan.findings.append(Finding(CHECK, "error", stack_urn,
                "nothing serves the metrics API (metrics.k8s.io) on this production platform, so its clients' HPAs "
                "get no metrics and never scale: install metrics-server (on an existing cluster, then set "
                "lfh:platform.cluster.metricsApi: true)"))
        return
    if served:
        return
    for res, obj in plan.manifests():
        if obj.get("kind") == "HorizontalPodAutoscaler":
            name = (obj.get("metadata") or {}).get("name")
            plan.findings.append(Finding(CHECK, "error", res.urn,
                f"HorizontalPodAutoscaler {name}: the platform serves no metrics API (metrics.k8s.io), so it never "
                "scales: install metrics-server on the cluster and declare it (lfh:platform.cluster.metricsApi), "
                "or turn the app's `hpa` off"))


def analyze(plan: Plan) -> None:
    if plan.role == "platform":
        _node_pools(plan)
    _metrics_api(plan)


__all__ = ["CHECK", "analyze", "facts_of"]
