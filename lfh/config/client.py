"""`lfh:client`: one client+environment on a platform."""
from __future__ import annotations

from .base import DnsLabel, DnsName, Environment, StrictModel, field


class ClientConfig(StrictModel):
    """Everything a client stack file may say under `lfh:client`."""

    name: DnsLabel = field(..., "Client name (DNS label); the stack must be called `<name>-<environment>`.")
    environment: Environment = field(..., "Environment tier: production, staging or development.")
    platform_stack: str = field(..., "Platform stack to deploy onto, as `<org>/lfh/<stack>`.", pattern=r"^[A-Za-z0-9_.-]+/lfh/platform-[a-z0-9-]+$")
    domain: DnsName = field(..., "The client's DNS domain; apps get `api.`, `app.`, `sync.` … under it.")
    chart_versions: dict[str, str] = field({}, "Override a pinned chart version (e.g. while testing an upgrade); reported as a warning.")
