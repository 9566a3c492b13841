"""Longhorn's host prerequisites on every node pool it runs on (`node-setup` errors).

longhorn-manager exits on a node without open-iscsi and a running iscsid, and encrypted volumes do not
attach without cryptsetup and dm_crypt (lfh/node_setup.py has the sources). Which pools Longhorn runs
on follows from the rendered longhorn-manager DaemonSet's tolerations and nodeSelector against each
pool's taints and labels; what each pool's hosts bring comes from the platform output `clusterFacts`
(the cluster contract), checked against what the plan records for the pool: the launch template's user
data on EKS, the node image on AKS and GKE.
"""
from __future__ import annotations

from typing import Any, Optional

from ..node_setup import CRYPTSETUP, ISCSI, WHY, al2023_capabilities, image_capabilities
from .model import Finding, Plan

CHECK = "node-setup"
LONGHORN_CHART = "longhorn"
LONGHORN_PROVISIONER = "driver.longhorn.io"
FIX = {
    "aws:ec2/launchTemplate:LaunchTemplate": "install it from the launch template's user data (lfh.node_setup.al2023_user_data)",
    "gcp:container/nodePool:NodePool": "use the UBUNTU_CONTAINERD node image (lfh:platform.cluster.nodePools.<pool>.imageType)",
    "azure-native:containerservice:AgentPool": "use the Ubuntu node image (lfh:platform.cluster.nodePools.<pool>.osSku)",
    "azure-native:containerservice:ManagedCluster": "use the Ubuntu node image (lfh:platform.cluster.nodePools.<pool>.osSku)",
    "": "install it on every node and declare it in lfh:platform.cluster.nodeCapabilities (check with `longhornctl check preflight`)",
}


def longhorn_needs(plan: Plan) -> tuple[Optional[Any], dict[str, str]]:
    """(the longhorn-manager DaemonSet as rendered, {capability: why}) — (None, {}) without Longhorn."""
    from .render import rendered

    manager = None
    for rel in rendered(plan):
        if rel.chart_key == LONGHORN_CHART:
            manager = next((o for o in rel.objects if o.kind == "DaemonSet" and o.name == "longhorn-manager"), None)
    if manager is None:
        return None, {}
    needs = {ISCSI: WHY[ISCSI]}
    for _, obj in plan.manifests():
        params = obj.get("parameters") or {}
        if obj.get("kind") == "StorageClass" and obj.get("provisioner") == LONGHORN_PROVISIONER and str(params.get("encrypted")) == "true":
            needs[CRYPTSETUP] = f"{WHY[CRYPTSETUP]} (StorageClass {obj['metadata']['name']})"
    return manager, needs


def runs_on(pod_owner: dict[str, Any], pool: dict[str, Any]) -> bool:
    """Do the pods of ``pod_owner`` (a rendered workload) tolerate and select the pool?"""
    from ..cost import NodePool, _from_manifest, _taint, eligible

    target = NodePool(str(pool.get("name")), "", "", 0, 0, 0, 0, 0,
                      [_taint(t) for t in pool.get("taints") or []], dict(pool.get("labels") or {}))
    return any(eligible(w, target) for w in _from_manifest("", pod_owner))


def recorded_capabilities(resource: Any) -> Optional[set[str]]:
    """What the recorded resource that sets a pool's nodes up provides (None when nothing is recorded)."""
    if resource is None:
        return None
    if resource.type == "aws:ec2/launchTemplate:LaunchTemplate":
        return al2023_capabilities(resource.inputs.get("userData"))
    if resource.type == "azure-native:containerservice:ManagedCluster":  # the system pool's profile
        profiles = resource.inputs.get("agentPoolProfiles") or [{}]
        return image_capabilities("azure-native:containerservice:AgentPool", profiles[0])
    return image_capabilities(resource.type, resource.inputs)


def analyze(plan: Plan) -> None:
    if plan.role != "platform":
        return
    manager, needs = longhorn_needs(plan)
    if manager is None:
        return
    pools = (plan.outputs.get("clusterFacts") or {}).get("nodePools") or []
    by_urn = plan.by_urn()
    for pool in pools:
        if not runs_on(manager.obj, pool):
            continue
        setup = by_urn.get(str(pool.get("setupUrn") or ""))
        recorded = recorded_capabilities(setup)
        fix = FIX.get(setup.type if setup is not None else "", FIX[""])
        where = f"{setup.type} {setup.name}" if setup is not None else "the cluster's nodes"
        for cap, why in needs.items():
            if cap not in (pool.get("provides") or {}):
                plan.findings.append(Finding(CHECK, "error", setup.urn if setup else manager.urn,
                    f"node pool {pool.get('name')!r}: Longhorn runs there but its node set-up ({where}) does not provide "
                    f"`{cap}` — {why}; longhorn-manager fails on these nodes. Fix: {fix}"))
            elif recorded is not None and cap not in recorded:
                plan.findings.append(Finding(CHECK, "error", setup.urn,
                    f"node pool {pool.get('name')!r}: the cluster contract says its nodes provide `{cap}`, but {where} "
                    f"as recorded does not set it up — {why}. Fix: {fix}"))


__all__ = ["CHECK", "analyze", "longhorn_needs", "recorded_capabilities", "runs_on"]
