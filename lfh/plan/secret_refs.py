"""Check: every Secret key a pod reads exists in what the stack syncs or creates.

A `secretKeyRef` (or `envFrom.secretRef`) to a key no ExternalSecret target and no Secret in the
namespace provides leaves the pod in CreateContainerConfigError on a real cluster — e.g. a secret env
mapped in the config but lost on its way to the ExternalSecret. Sources: ExternalSecrets (their
template keys when they template with `mergePolicy: Replace`, else their `data` keys plus anything
`dataFrom` may bring), Secrets we or a chart create. `optional: true` references are skipped.
"""
from __future__ import annotations

from typing import Any, Optional

from .model import Finding, Plan

CHECK = "secret-refs"
#: A Secret whose keys are not known from the plan (filled from `dataFrom`, or by an operator at runtime).
ANY_KEY = None


def pod_spec_of(obj: dict[str, Any]) -> Optional[dict[str, Any]]:
    """The pod spec of a workload manifest (where each kind keeps it: the policy pack's table)."""
    from ..policy_runner import pack

    path = pack().common.POD_SPEC_PATHS.get(str(obj.get("kind")))
    node: Any = obj
    for part in path or ():
        node = node.get(part) if isinstance(node, dict) else None
    return node if path and isinstance(node, dict) else None


def secret_sources(objects: list[dict[str, Any]]) -> dict[tuple[str, str], Optional[set[str]]]:
    """(namespace, Secret name) -> the keys it will hold (ANY_KEY when the plan cannot know them)."""
    out: dict[tuple[str, str], Optional[set[str]]] = {}

    def add(key: tuple[str, str], keys: Optional[set[str]]) -> None:
        if key in out and (out[key] is ANY_KEY or keys is ANY_KEY):
            out[key] = ANY_KEY
        else:
            out[key] = (out.get(key) or set()) | (keys or set())

    for obj in objects:
        meta = obj.get("metadata") or {}
        ns = str(meta.get("namespace") or "default")
        spec = obj.get("spec") or {}
        if obj.get("kind") == "ExternalSecret":
            target = spec.get("target") or {}
            template = target.get("template") or {}
            name = str(target.get("name") or meta.get("name"))
            if template.get("data") and (template.get("mergePolicy") or "Replace") == "Replace":
                add((ns, name), set(template["data"]))
            elif spec.get("dataFrom"):
                add((ns, name), ANY_KEY)
            else:
                add((ns, name), {str(d.get("secretKey")) for d in spec.get("data") or []} | set(template.get("data") or {}))
        elif obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1":
            add((ns, str(meta.get("name"))), set(obj.get("data") or {}) | set(obj.get("stringData") or {}))
    return out


def _refs(pod: dict[str, Any]):
    for group in ("initContainers", "containers"):
        for c in pod.get(group) or []:
            for env in c.get("env") or []:
                ref = ((env.get("valueFrom") or {}).get("secretKeyRef")) or None
                if ref and not ref.get("optional"):
                    yield c.get("name"), f"env {env.get('name')}", str(ref.get("name")), str(ref.get("key"))
            for src in c.get("envFrom") or []:
                ref = src.get("secretRef")
                if ref and not ref.get("optional"):
                    yield c.get("name"), "envFrom", str(ref.get("name")), None


def check(plan: Plan, objects: list[tuple[str, dict[str, Any]]]) -> list[Finding]:
    """``objects``: (urn, object) of what the cluster will hold for this stack (ours and rendered)."""
    sources = secret_sources([o for _, o in objects])
    findings = []
    for urn, obj in objects:
        pod = pod_spec_of(obj)
        if pod is None:
            continue
        meta = obj.get("metadata") or {}
        ns = str(meta.get("namespace") or "default")
        where = f"{obj.get('kind')} {ns}/{meta.get('name')}"
        for container, what, secret, key in _refs(pod):
            if (ns, secret) not in sources:
                findings.append(Finding(CHECK, "error", urn, (
                    f"{where}: container {container!r} {what} reads Secret {secret!r}, which nothing in this stack creates "
                    f"(no ExternalSecret targets it, no Secret of that name in {ns}); the pod would never start — "
                    "map the variable through the app's `secretEnv` or create the Secret")))
                continue
            keys = sources[(ns, secret)]
            if key is not None and keys is not ANY_KEY and key not in keys:
                findings.append(Finding(CHECK, "error", urn, (
                    f"{where}: container {container!r} {what} reads key {key!r} of Secret {secret!r}, which holds only "
                    f"{', '.join(sorted(keys)) or 'nothing'}; the pod would never start — add the key to the ExternalSecret "
                    "that builds it (an app's `secretEnv`) or fix the reference")))
    return findings


def analyze(plan: Plan) -> None:
    if plan.role != "client":
        return
    from .render import cluster_objects

    objects = [(o.urn, o.obj) for o in cluster_objects(plan)]
    plan.findings.extend(check(plan, objects))
