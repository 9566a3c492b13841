"""`lfh:platform`: one cluster and its core stack (gateway, storage, GitOps, secrets, certificates,
backups, monitoring)."""
from __future__ import annotations

from typing import Optional

from .base import DnsLabel, DnsName, Environment, StrictModel, field
from .cluster import ClusterConfig


class PlatformConfig(StrictModel):
    """Everything a platform stack file may say under `lfh:platform`."""

    name: DnsLabel = field(..., "Platform name; the stack must be called `platform-<name>`.")
    environment: Environment = field(Environment.production, "Environment tier of the platform; selects defaults.")
    domain: DnsName = field(..., "Base DNS domain of the platform (routes such as `argocd.<domain>`).")
    kubernetes_version: str = field("1.33", "Kubernetes minor version (`1.33`); also selects the OpenAPI schema used to check manifests.", pattern=r"^1\.[0-9]{2}$")
    cluster: ClusterConfig = field(..., "The cluster this platform owns or connects to.")
    tags: dict[str, str] = field({}, "Extra tags/labels put on every cloud resource.")
    chart_versions: dict[str, str] = field({}, "Override a pinned chart version (e.g. while testing an upgrade); reported as a warning.")
