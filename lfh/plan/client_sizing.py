"""Client sizing: the summed requests and storage of a client stack next to the seed's per-client sizing.

Counts what the plan registers: container requests × replicas of Deployments and StatefulSets
(init containers count as the larger of themselves and the app containers, like the scheduler does),
PerconaServerMongoDB replica sets (size × mongod requests, plus their volumes), StatefulSet
volumeClaimTemplates × replicas, standalone PersistentVolumeClaims, and Helm releases by their values
(replicas × `resources.requests`, `persistence.size`). Also checks the namespace
ResourceQuota leaves room for a rolling update (one extra pod per Deployment, maxSurge 1).
"""
from __future__ import annotations

import re
from typing import Any

from .model import Finding, Plan

#: Per-client sizing from the template's requirements doc (APPS.md / seed).
SEED = {
    "core": {"cpu": 7.0, "memory_gib": 23.0, "storage_gib": 100.0},
    "full": {"cpu": 22.0, "memory_gib": 53.0, "storage_gib": 1150.0},
}

_UNITS = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "m": 1e-3}


def quantity(value: Any) -> float:
    """A Kubernetes quantity as a number (`500m` → 0.5, `1Gi` → 1073741824)."""
    if value is None:
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", str(value))
    if not m or m.group(2) not in _UNITS:
        return 0.0
    return float(m.group(1)) * _UNITS[m.group(2)]


def _pod_limits(pod_spec: dict[str, Any]) -> tuple[float, float]:
    """Summed container limits of a pod (containers without a limit count 0 here)."""
    def lim(c: dict[str, Any], key: str) -> float:
        return quantity(((c.get("resources") or {}).get("limits") or {}).get(key))

    containers = pod_spec.get("containers") or []
    return sum(lim(c, "cpu") for c in containers), sum(lim(c, "memory") for c in containers)


def _pod_requests(pod_spec: dict[str, Any]) -> tuple[float, float]:
    def req(c: dict[str, Any], key: str) -> float:
        return quantity(((c.get("resources") or {}).get("requests") or {}).get(key))

    containers = pod_spec.get("containers") or []
    inits = pod_spec.get("initContainers") or []
    cpu = sum(req(c, "cpu") for c in containers)
    mem = sum(req(c, "memory") for c in containers)
    cpu = max([cpu] + [req(c, "cpu") for c in inits])
    mem = max([mem] + [req(c, "memory") for c in inits])
    return cpu, mem


def _volume_claims(templates: list[dict[str, Any]]) -> float:
    return sum(quantity((((t.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage"))
               for t in templates or [])


def client_rows(plan: Plan) -> list[dict[str, Any]]:
    """One row per sized workload: name, kind, replicas, cpu, memory (bytes), storage (bytes) — totals."""
    rows: list[dict[str, Any]] = []
    for r, m in plan.manifests():
        kind = m.get("kind")
        spec = m.get("spec") or {}
        name = (m.get("metadata") or {}).get("name", r.name)
        if kind in ("Deployment", "StatefulSet"):
            replicas = int(spec.get("replicas", 1) or 0)
            pod = ((spec.get("template") or {}).get("spec")) or {}
            cpu, mem = _pod_requests(pod)
            lcpu, lmem = _pod_limits(pod)
            storage = _volume_claims(spec.get("volumeClaimTemplates") or []) if kind == "StatefulSet" else 0.0
            rows.append({"name": name, "kind": kind, "replicas": replicas, "cpu": cpu * replicas,
                         "limitCpu": lcpu * replicas, "limitMemory": lmem * replicas,
                         "memory": mem * replicas, "storage": storage * replicas, "surgeCpu": cpu if kind == "Deployment" else 0.0,
                         "surgeMemory": mem if kind == "Deployment" else 0.0})
        elif kind == "PersistentVolumeClaim":
            rows.append({"name": name, "kind": kind, "replicas": 1, "cpu": 0.0, "memory": 0.0,
                         "storage": quantity(((spec.get("resources") or {}).get("requests") or {}).get("storage"))})
        elif kind == "PerconaServerMongoDB":
            for rs in spec.get("replsets") or []:
                size = int(rs.get("size", 0) or 0)
                req = ((rs.get("resources") or {}).get("requests")) or {}
                lim = ((rs.get("resources") or {}).get("limits")) or {}
                pvc = (((rs.get("volumeSpec") or {}).get("persistentVolumeClaim") or {}).get("resources") or {})
                storage = quantity((pvc.get("requests") or {}).get("storage"))
                rows.append({"name": f"{name}/{rs.get('name', 'rs')}", "kind": kind, "replicas": size,
                             "cpu": quantity(req.get("cpu")) * size, "memory": quantity(req.get("memory")) * size,
                             "limitCpu": quantity(lim.get("cpu")) * size, "limitMemory": quantity(lim.get("memory")) * size,
                             "storage": storage * size})
    for r, rel in plan.helm_releases():
        rows.extend(_release_rows(rel))
    return rows


def _release_rows(rel: dict[str, Any]) -> list[dict[str, Any]]:
    """A Helm release's pods as its values declare them (the chart isn't rendered offline).

    Reads the common chart conventions: `replicas`/`replicaCount` (MinIO's `mode: standalone` is one
    pod), `resources.requests`, and `persistence.{enabled,size}` per replica.
    """
    values = rel.get("values") or {}
    requests = ((values.get("resources") or {}).get("requests")) or {}
    limits = ((values.get("resources") or {}).get("limits")) or {}
    if not isinstance(requests, dict) or not requests:
        return []
    replicas = values.get("replicas", values.get("replicaCount", 1))
    if values.get("mode") == "standalone":
        replicas = 1
    replicas = int(replicas or 0)
    persistence = values.get("persistence") or {}
    storage = quantity(persistence.get("size")) if persistence.get("enabled", False) else 0.0
    return [{"name": f"{rel['name']} (helm)", "kind": "HelmRelease", "replicas": replicas,
             "cpu": quantity(requests.get("cpu")) * replicas, "memory": quantity(requests.get("memory")) * replicas,
             "limitCpu": quantity(limits.get("cpu")) * replicas, "limitMemory": quantity(limits.get("memory")) * replicas,
             "storage": storage * replicas}]


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
