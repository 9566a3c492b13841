"""Small helpers every Kubernetes-facing component shares: labels, metadata, resource options."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import pulumi

PART_OF = "lfh"
MANAGED_BY = "pulumi"


def labels(name: str, *, client: str | None = None, environment: str | None = None,
           component: str | None = None, **extra: str) -> dict[str, str]:
    """The standard label set of every object we create."""
    out = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    if component:
        out["app.kubernetes.io/component"] = component
    if client:
        out["lfh.io/client"] = client
    if environment:
        out["lfh.io/environment"] = environment
    out.update(extra)
    return out


def meta(name: str, namespace: Optional[str] = None, *, labels: dict[str, str] | None = None,
         annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """ObjectMeta with an explicit name (never auto-named: names are part of the contract)."""
    out: dict[str, Any] = {"name": name}
    if namespace:
        out["namespace"] = namespace
    if labels:
        out["labels"] = labels
    if annotations:
        out["annotations"] = annotations
    return out


def child_opts(parent: pulumi.Resource, provider: pulumi.ProviderResource, *,
               depends_on: Sequence[pulumi.Resource] | None = None, **kwargs: Any) -> pulumi.ResourceOptions:
    """Options for a Kubernetes child: parented, explicit provider, explicit dependencies."""
    return pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on or []), **kwargs)
