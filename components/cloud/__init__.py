"""Client-side cloud adapters, selected by the platform contract's `cloud["kind"]`.

`adapter_for` is the only place that looks at the kind; each implementation lives in its own
module and imports its cloud SDK lazily (a client stack on AWS never imports the Azure SDK).
"""
from __future__ import annotations

import importlib

import pulumi

from .base import BackupTarget, BucketInfo, CloudAdapter

#: kind -> "module:Class"
ADAPTERS = {
    "aws": "components.cloud.aws:AwsAdapter",
    "azure": "components.cloud.azure:AzureAdapter",
    "gcp": "components.cloud.gcp:GcpAdapter",
    "existing": "components.cloud.existing:ExistingAdapter",
}


def cloud_kind(ctx) -> str:
    kind = str((ctx.platform.cloud or {}).get("kind", ""))
    if kind not in ADAPTERS:
        raise pulumi.RunError(
            f"platform output `cloud.kind` is {kind!r}; allowed: {', '.join(ADAPTERS)} "
            f"(platform stack {ctx.config.platform_stack!r})"
        )
    return kind


def adapter_for(ctx, parent: pulumi.Resource) -> CloudAdapter:
    """The cloud adapter for this client's platform; its children are parented to ``parent``."""
    module, _, cls = ADAPTERS[cloud_kind(ctx)].partition(":")
    return getattr(importlib.import_module(module), cls)(ctx, parent)


__all__ = ["ADAPTERS", "BackupTarget", "BucketInfo", "CloudAdapter", "adapter_for", "cloud_kind"]
