"""Kubernetes label selectors (matchLabels + matchExpressions), as NetworkPolicy and PDB use them."""
from __future__ import annotations

from typing import Any

from .common import get, is_map, seq


def selects(selector: Any, pod_labels: Any) -> bool:
    """Whether a LabelSelector selects a pod with these labels (an empty selector selects all)."""
    if selector is None or not is_map(selector):
        return False
    labels = {str(k): str(v) for k, v in (pod_labels or {}).items()} if is_map(pod_labels) else {}
    for k, v in (get(selector, "matchLabels", default={}) or {}).items():
        if labels.get(str(k)) != str(v):
            return False
    for expr in seq(get(selector, "matchExpressions")):
        key, op = str(get(expr, "key", default="")), str(get(expr, "operator", default=""))
        values = {str(v) for v in seq(get(expr, "values"))}
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def is_empty_selector(selector: Any) -> bool:
    return is_map(selector) and not get(selector, "matchLabels") and not seq(get(selector, "matchExpressions"))
