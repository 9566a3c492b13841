"""Contracts between the parts of a client environment.

The namespace baseline derives NetworkPolicies, and the apps derive their environment, from what the
enabled components declare here — never from hand-written lists (see LESSONS.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from lfh.config import ClientConfig

from ..platform.contract import PlatformContract, pool_placement

#: Roles a workload may accept traffic from (``Workload.ingress_from``).
FROM_GATEWAY = "gateway"        # the shared Gateway's namespace (routed ports only)
FROM_SELF = "self"              # other members of the same workload (replica-set peers)
FROM_MONITORING = "monitoring"  # the platform's monitoring namespace (metrics port only)
#: Egress targets that are not workloads in the namespace (``Workload.egress_to``).
TO_INTERNET_HTTPS = "internet-https"  # TCP 443 outside the cluster (cloud APIs, webhooks)
TO_KUBE_API = "kube-api"              # the Kubernetes API (operators, drill job)
TO_SMTP = "smtp"                      # the configured SMTP relay port outside the cluster
TO_BACKUP_STORE = "backup-store"      # the platform's backup bucket endpoint (HTTPS outside, or its in-cluster store)


@dataclass
class Workload:
    """What one workload (set of pods) declares about its network needs.

    Pods are matched by ``pod_labels``. Another workload may connect to this one on ``ports`` only if
    it names this workload's ``name`` in its ``egress_to``; the baseline turns that into one ingress
    rule here and one egress rule there, both naming the peer by pod selector.
    """

    name: str
    pod_labels: dict[str, str]
    #: Ports served inside the cluster (service target ports).
    ports: list[int] = field(default_factory=list)
    #: Subset of ports the Gateway may reach (routed ports).
    routed_ports: list[int] = field(default_factory=list)
    #: Ports members use among themselves (with FROM_SELF in ingress_from).
    peer_ports: list[int] = field(default_factory=list)
    ingress_from: list[str] = field(default_factory=list)
    #: Workload names in this namespace, or TO_* targets.
    egress_to: list[str] = field(default_factory=list)
    metrics_port: Optional[int] = None
    #: `app` or `data`: data workloads are protected and backed up.
    tier: str = "app"


@dataclass
class AppWiring:
    """What a data service hands the apps that use it."""

    #: Plain environment variables (S3_ENDPOINT, TYPESENSE_URL, …).
    env: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    #: Secret env vars as ExternalSecret templates over ``secret_data`` keys,
    #: e.g. {"MONGO_URI": "mongodb://{{ .mongoUser }}:{{ .mongoPassword }}@…"}.
    secret_env: dict[str, str] = field(default_factory=dict)
    #: ExternalSecret data: key -> remote key in the namespace SecretStore (optionally "key#property").
    secret_data: dict[str, str] = field(default_factory=dict)
    #: Workload names the app must be allowed to reach.
    egress_to: list[str] = field(default_factory=list)
    #: Files from Secrets the app mounts read-only: {directory: (Secret name, [keys])}, e.g. a CA
    #: that a connection string names.
    secret_files: dict[str, tuple[str, list[str]]] = field(default_factory=dict)


@dataclass
class RouteSpec:
    """An HTTPRoute the client environment publishes on the shared Gateway."""

    name: str
    hostname: str
    service: str
    port: int
    #: Per-route timeout, e.g. "60s"; "0s" disables it (WebSockets).
    request_timeout: str = "60s"
    backend_timeout: Optional[str] = None
    websocket: bool = False


@dataclass
class ClientContext:
    """What every client component gets: config, platform contract, provider, namespace."""

    config: ClientConfig
    platform: PlatformContract
    provider: k8s.Provider
    namespace: str
    namespace_resource: pulumi.Resource
    labels: dict[str, str]
    #: Resources created by the stack that Kubernetes objects may need first (e.g. cloud secrets).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def environment(self) -> str:
        return self.config.environment.value

    @property
    def is_production(self) -> bool:
        return self.config.environment.is_production

    def placement(self, pool: str = "db") -> dict[str, Any]:
        """`nodeSelector`/`tolerations` of a node pool from the platform contract's scheduling data
        ({} when the platform has none: an existing cluster schedules anywhere). Data services use `db`."""
        return pool_placement(self.platform.scheduling, pool)

    @property
    def drill_namespace(self) -> str:
        """The restore drill's throwaway copy of this namespace (components/client/backups.py)."""
        from lfh.config import names

        return names.drill_namespace(self.namespace)

    @property
    def secret_prefix(self) -> str:
        """`<platform>/<client>/<env>`: the only secret path this environment may read."""
        return f"{self.platform.secrets.get('prefix', self.platform.platform)}/{self.config.name}/{self.environment}"
