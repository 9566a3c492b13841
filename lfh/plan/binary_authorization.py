"""Plan check `binary-authorization`: on a GKE platform, every pod image the cluster will run is on the Binary
Authorization allowlist — the platform's own pods (rendered charts, operator-built pods) against the patterns it
configures, a client's against the patterns its platform exports (`cloud.binaryAuthorization.imagePatterns`).

The allowlist is data (lfh/image_patterns.py) because the program cannot render charts; this check is what
makes it derived: an image nobody listed is an error naming the pod and the key that admits it, before a real
cluster would refuse (or, in dry run, log) the pod.
"""
from __future__ import annotations

from lfh.image_patterns import matches, owner_pattern

from .model import Finding, Plan
from .pods import pod_templates

CHECK = "binary-authorization"


def _patterns(plan: Plan) -> tuple[list[str], str] | None:
    """The allowlist this plan's pods must match, and the key that extends it; None when none applies."""
    if plan.role == "platform":
        policy = next((r for r in plan.resources if r.type == "gcp:binaryauthorization/policy:Policy"), None)
        if policy is None:
            return None
        cloud = plan.outputs.get("cloud") or {}
        patterns = (cloud.get("binaryAuthorization") or {}).get("imagePatterns")
        return list(patterns or []), "lfh:platform.cluster.binaryAuthorization.extraImagePatterns"
    platform = getattr(plan, "platform", None)
    cloud = (getattr(platform, "outputs", None) or {}).get("cloud") or {}
    binauthz = cloud.get("binaryAuthorization")
    if cloud.get("kind") != "gcp" or not binauthz:
        return None
    return list(binauthz.get("imagePatterns") or []), \
        "lfh:platform.cluster.binaryAuthorization.extraImagePatterns (in the platform stack)"


def analyze(plan: Plan) -> None:
    found = _patterns(plan)
    if found is None:
        return
    patterns, key = found
    seen: set[tuple[str, str]] = set()
    for t in pod_templates(plan):
        for _, c in t.containers():
            image = str(c.get("image") or "")
            if not image or any(matches(image, p) for p in patterns) or (t.label(), image) in seen:
                continue
            seen.add((t.label(), image))
            plan.findings.append(Finding(
                CHECK, "error", t.owner.urn,
                f"{t.label()}: image {image} is not on the Binary Authorization allowlist, so GKE would refuse the pod; "
                f"add `{owner_pattern(image)}` to {key} (or pull it from an owner already listed)"))
