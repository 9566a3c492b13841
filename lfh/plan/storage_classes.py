"""Exactly one default StorageClass per cluster (`default-storage-class` errors).

A PVC without `storageClassName` gets the default class. With two defaults Kubernetes picks the newest
(since 1.26) — silently, so which disks (encrypted or not, replicated or not) patient data lands on
depends on creation order; with none such a PVC stays Pending. The count covers every class the
cluster will hold: the ones the cloud or distribution ships (the platform output
`clusterFacts.builtinStorageClasses`), ours, the ones Helm charts render, and our server-side apply
patches of any of them.
"""
from __future__ import annotations

from typing import Any

from .model import Finding, Plan

CHECK = "default-storage-class"
ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class")


def _default_flag(obj: dict[str, Any]) -> Any:
    """True/False from the object's default annotation, None when it sets none."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    values = [str(annotations[a]).lower() for a in ANNOTATIONS if a in annotations]
    return None if not values else "true" in values


def defaults(plan: Plan) -> dict[str, tuple[bool, str]]:
    """StorageClass name -> (is default, where that comes from), as the cluster will end up."""
    from .render import cluster_objects

    facts = (plan.outputs.get("clusterFacts") or {}) if plan.role == "platform" else {}
    state: dict[str, tuple[bool, str]] = {name: (bool(d), "built into the cluster")
                                          for name, d in (facts.get("builtinStorageClasses") or {}).items()}
    # Whole objects first, then patches (they apply on top, whatever the order of registration).
    objects = cluster_objects(plan, phases=("object", "patch"))
    for phase in ("object", "patch"):
        for o in objects:
            if o.phase != phase or o.kind != "StorageClass":
                continue
            flag = _default_flag(o.obj)
            if phase == "patch" and flag is None:
                continue
            was = state.get(o.name, (False, ""))[0]
            state[o.name] = (bool(flag) if flag is not None else (was and phase == "patch"), o.label())
    return state


def analyze(plan: Plan) -> None:
    if plan.role != "platform":
        return
    state = defaults(plan)
    marked = sorted(name for name, (is_default, _) in state.items() if is_default)
    if len(marked) == 1 or not state:
        return
    stack_urn = f"urn:pulumi:{plan.stack}::lfh::pulumi:pulumi:Stack::lfh-{plan.stack}"
    if not marked:
        plan.findings.append(Finding(CHECK, "error", stack_urn,
            f"no default StorageClass among {', '.join(sorted(state))}: PVCs without storageClassName stay Pending; "
            "mark exactly one default (components/platform/storage.py chooses it)"))
        return
    plan.findings.append(Finding(CHECK, "error", stack_urn,
        f"{len(marked)} default StorageClasses: " + "; ".join(f"{n} ({state[n][1]})" for n in marked)
        + ". Kubernetes then gives PVCs the newest one; keep exactly one: patch the others' "
          "storageclass.kubernetes.io/is-default-class to \"false\" (StorageClassPatch with pulumi.com/patchForce)"))


__all__ = ["CHECK", "analyze", "defaults"]
