"""Every container the cluster will run — ours, rendered, Helm hooks, and the ones operators build from
our custom resources — has CPU and memory requests and a pinned image.

Requests: the scheduler places pods by them and the sizing/cost figures add them up, so a container
without them is invisible to both (and gets BestEffort QoS: first to be evicted). A request counts
when the container sets it, or sets only the limit (the API server then copies the limit into the
request: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#requests-and-limits),
or when a LimitRange of our plan in its namespace gives containers a `defaultRequest` (or `default`)
for it: the LimitRanger admission plugin sets it on every container created without one
(https://kubernetes.io/docs/concepts/policy/limit-range/) — the way to size what a chart exposes no
value for.

Images: pinned by a version tag (not `latest` or another floating tag, never empty) or a digest, the
same rule the policy pack applies to our own workloads (`lfh_policies.kubernetes.image_problem`).
"""
from __future__ import annotations

from typing import Any

from .model import Finding, Plan
from .pods import PodTemplate, pod_templates
from .render import ClusterObject, cluster_objects

REQUESTS = "container-requests"
IMAGES = "image-pinned"


def _image_problem(image: str) -> str:
    from ..policy_runner import pack

    pack()
    from lfh_policies.kubernetes import image_problem  # the policy pack's one definition of "pinned"

    return image_problem(image)


_UNSET = (None, "", 0, "0")


def missing_requests(container: dict[str, Any], defaults: dict[str, Any] | None = None) -> list[str]:
    """The resources (`cpu`, `memory`) a container has no request for (a limit alone counts, and so
    does a namespace default from ``defaults``)."""
    res = container.get("resources") if isinstance(container.get("resources"), dict) else {}
    requests = res.get("requests") if isinstance(res.get("requests"), dict) else {}
    limits = res.get("limits") if isinstance(res.get("limits"), dict) else {}
    return [r for r in ("cpu", "memory") if requests.get(r) in _UNSET and limits.get(r) in _UNSET
            and (defaults or {}).get(r) in _UNSET]


def namespace_defaults(objects: list[ClusterObject]) -> dict[str, dict[str, Any]]:
    """Per namespace, the request each LimitRange gives a container that sets none (`defaultRequest`,
    else `default`, which LimitRanger also applies as the request)."""
    out: dict[str, dict[str, Any]] = {}
    for o in objects:
        if o.kind != "LimitRange":
            continue
        for item in (o.obj.get("spec") or {}).get("limits") or []:
            if isinstance(item, dict) and item.get("type") == "Container":
                merged = {**(item.get("default") or {}), **(item.get("defaultRequest") or {})}
                out.setdefault(o.namespace, {}).update({k: v for k, v in merged.items() if k in ("cpu", "memory")})
    return out


def _how_to_fix(t: PodTemplate) -> str:
    if t.built_by:
        return f"set it in {t.owner.kind}/{t.owner.name}'s spec (the operator copies it into the pod)"
    if t.owner.rendered:
        return f"set it through the chart's values ({t.owner.origin}, template {t.owner.template})"
    return "set it on the container"


def analyze(plan: Plan) -> None:
    defaults = namespace_defaults(cluster_objects(plan, with_platform=True))
    for t in pod_templates(plan):
        for role, c in t.containers(ephemeral=False):
            name = c.get("name", "?")
            missing = missing_requests(c, defaults.get(t.namespace))
            if missing:
                plan.findings.append(Finding(
                    REQUESTS, "error", t.owner.urn,
                    f"{t.label()}: {role} {name!r} has no {' or '.join(missing)} request — the scheduler and the "
                    f"sizing/cost figures cannot see it; fix: resources.requests.{{{','.join(missing)}}}: "
                    + _how_to_fix(t)))
            problem = _image_problem(str(c.get("image") or ""))
            if problem:
                plan.findings.append(Finding(
                    IMAGES, "error", t.owner.urn,
                    f"{t.label()}: {role} {name!r} {problem}; fix: pin a version tag or a digest — " + _how_to_fix(t)))


__all__ = ["IMAGES", "REQUESTS", "analyze", "missing_requests"]
