"""Client sizing: the summed requests and storage of a client stack next to the seed's per-client sizing.

Counts what the plan registers and what its Helm releases render (the MongoDB operator, MinIO):
container requests × replicas of Deployments and StatefulSets (init containers count as the larger of
themselves and the app containers, like the scheduler does), PerconaServerMongoDB replica sets (size ×
mongod requests, plus their volumes), StatefulSet volumeClaimTemplates × replicas and standalone
PersistentVolumeClaims. Also checks the namespace ResourceQuota leaves room for a rolling update (one
extra pod per Deployment, maxSurge 1).
"""
from __future__ import annotations

from typing import Any

from .model import Finding, Plan

#: Per-client sizing from the template's requirements doc (APPS.md / seed).
SEED = {
    "core": {"cpu": 7.0, "memory_gib": 23.0, "storage_gib": 100.0},
    "full": {"cpu": 22.0, "memory_gib": 53.0, "storage_gib": 1150.0},
}

def quantity(value: Any) -> float:
    """A Kubernetes quantity as a number (`500m` → 0.5, `1Gi` → 1073741824); 0 when unparsable."""
    from ..cost import quantity as parse

    try:
        return parse(value)
    except ValueError:
        return 0.0


#: Workloads that hold their requests in the steady state (Jobs, CronJobs, chart hooks and DaemonSets
#: are left out of the client's sums, as before the summing moved to lfh.cost).
_STEADY = ("Deployment", "StatefulSet", "ReplicaSet", "Pod", "PersistentVolumeClaim", "PerconaServerMongoDB",
           "TypesenseCluster", "Tenant")


def client_rows(plan: Plan) -> list[dict[str, Any]]:
    """One row per sized workload: name, kind, replicas, cpu, memory (bytes), storage (bytes) — totals.

    The sums come from ``lfh.cost.sizing`` (the one implementation of "sum requests from a plan");
    this keeps the client view: steady-state workloads only, each with where it comes from.
    """
    from ..cost import sizing

    rows: list[dict[str, Any]] = []
    for w in sizing(plan).workloads:
        if w.kind not in _STEADY or w.transient or w.per_node:
            continue
        total = w.total
        row = {"name": w.name, "kind": w.kind, "replicas": w.replicas if w.kind != "PersistentVolumeClaim" else 1,
               "cpu": total.cpu_requests, "memory": total.memory_requests, "storage": w.storage,
               "limitCpu": total.cpu_limits, "limitMemory": total.memory_limits, "source": w.source}
        if w.kind == "Deployment":
            # A rolling update (maxSurge 1) needs room for one more pod.
            row.update(surgeCpu=w.pod.cpu_requests, surgeMemory=w.pod.memory_requests)
        rows.append(row)
    return rows


def analyze(plan: Plan) -> None:
    if plan.role != "client":
        return
    rows = client_rows(plan)
    cpu = sum(r["cpu"] for r in rows)
    mem = sum(r["memory"] for r in rows) / 2**30
    storage = sum(r["storage"] for r in rows) / 2**30
    lcpu = sum(r.get("limitCpu", 0.0) for r in rows)
    lmem = sum(r.get("limitMemory", 0.0) for r in rows) / 2**30
    core, full = SEED["core"], SEED["full"]
    text = [
        f"requests: {cpu:.1f} CPU, {mem:.1f} GiB memory, {storage:.0f} GiB storage "
        f"(seed per client: core ≈ {core['cpu']:.0f} CPU / {core['memory_gib']:.0f} GiB / {core['storage_gib']:.0f} GiB; "
        f"full ≈ {full['cpu']:.0f} CPU / {full['memory_gib']:.0f} GiB / {full['storage_gib'] / 1000:.2f} TB)",
        f"limits:   {lcpu:.1f} CPU, {lmem:.1f} GiB memory (containers that set them)",
    ]
    for r in sorted(rows, key=lambda r: -r["cpu"]):
        text.append(f"  {r['name']:<28} {r['kind']:<22} ×{r['replicas']:<2} {r['cpu']:5.2f} CPU "
                    f"{r['memory'] / 2**30:6.1f} GiB {r['storage'] / 2**30:7.0f} GiB")
    data = {"cpu": round(cpu, 3), "memoryGiB": round(mem, 3), "storageGiB": round(storage, 3),
            "limitsCpu": round(lcpu, 3), "limitsMemoryGiB": round(lmem, 3), "seed": SEED,
            "workloads": [{**r, "memory": r["memory"] / 2**30, "storage": r["storage"] / 2**30,
                           "limitMemory": r.get("limitMemory", 0.0) / 2**30} for r in rows]}

    # The quota must hold the steady state plus one surge pod per Deployment (a rollout of everything).
    for res, m in plan.manifests():
        if m.get("kind") != "ResourceQuota":
            continue
        hard = (m.get("spec") or {}).get("hard") or {}
        need = {
            "requests.cpu": cpu + sum(r.get("surgeCpu", 0.0) for r in rows),
            "requests.memory": sum(r["memory"] + r.get("surgeMemory", 0.0) for r in rows),
            "requests.storage": sum(r["storage"] for r in rows),
        }
        for key, value in need.items():
            if key in hard and value > quantity(hard[key]) + 1e-9:
                shown = f"{value:.2f}" if key == "requests.cpu" else f"{value / 2**30:.1f}Gi"
                plan.findings.append(Finding(
                    "client-sizing", "error", res.urn,
                    f"ResourceQuota {key} is {hard[key]} but the client needs {shown} (with one surge pod per "
                    f"Deployment); raise lfh:client.quota",
                ))
        data["quota"] = hard
    plan.sections["clientSizing"] = {"title": "client sizing (summed requests × replicas):", "text": text, "data": data}
