"""The platform contract: what a platform stack exports and a client stack reads through its
StackReference. Plain data (except the kubeconfig, which is a secret).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pulumi

from lfh.config.base import camel

#: Label a namespace must carry for the shared Gateway to accept its routes.
CLIENT_NAMESPACE_LABEL = "lfh.io/client-namespace"
#: Certificate label (value DNS01_CNAME) that selects the platform ACME issuers' CNAME-delegated
#: DNS-01 solver; the delegated record of `_acme-challenge.<host>` is `<host>.<DELEGATION_LABEL>.<zone>`.
ACME_CHALLENGE_LABEL = "lfh.io/acme-challenge"
DNS01_CNAME = "dns01-cname"
DELEGATION_LABEL = "lfh-acme"


@dataclass
class GatewayRef:
    name: str = "shared-gateway"
    namespace: str = "envoy-gateway-system"
    #: Listener (sectionName) for HTTPS routes.
    https_listener: str = "https"
    #: Namespaces with this label (value "true") may attach routes.
    client_namespace_label: str = CLIENT_NAMESPACE_LABEL
    #: Wildcard domains the gateway's certificate covers (`*.example.com`).
    wildcard_domains: list[str] = field(default_factory=list)
    #: HTTPS listener (sectionName) per wildcard domain (`*.example.com` -> `https`); a route for a host
    #: under another configured domain attaches to that domain's listener.
    listeners: dict[str, str] = field(default_factory=dict)
    #: Plain-HTTP listener: HTTP→HTTPS redirect and ACME HTTP-01 only (routes from the gateway namespace).
    http_listener: str = "http"
    #: GatewayClass of the shared Gateway.
    gateway_class: str = "envoy-gateway"
    #: Labels of the shared Gateway's Envoy pods (a client's policies let them reach its routed ports).
    proxy_pod_labels: dict[str, str] = field(default_factory=dict)


@dataclass
class PlatformContract:
    """The platform stack's outputs, as one typed object."""

    platform: str
    environment: str
    domain: str
    kubernetes_version: str
    cluster_name: str
    region: str
    #: Cloud adapter data (see ClusterContract.cloud); `cloud["kind"]` selects the client adapter.
    cloud: dict[str, Any]
    gateway: GatewayRef = field(default_factory=GatewayRef)
    #: StorageClass names: `default` (replicated), `encrypted` (for data services), `cloud`.
    storage_classes: dict[str, str] = field(default_factory=dict)
    #: Secret manager layout: `prefix` (`<platform>`) under which `<client>/<env>/…` live.
    secrets: dict[str, Any] = field(default_factory=dict)
    #: Velero: `namespace`, `locations` {default, archive}, bucket/endpoint for database backups.
    backups: dict[str, Any] = field(default_factory=dict)
    #: cert-manager issuer names: `public` (ACME), `internal` (CA for in-cluster TLS).
    issuers: dict[str, str] = field(default_factory=dict)
    #: Monitoring: `enabled`, `namespace`, `serviceMonitorLabels`, `prometheusPodLabels`.
    monitoring: dict[str, Any] = field(default_factory=dict)
    #: Argo CD: `namespace`.
    gitops: dict[str, Any] = field(default_factory=dict)
    #: Where to schedule by node pool, from the cluster contract: `{"system"|"apps"|"db": {"nodeSelector":
    #: {…}, "tolerations": […]}}` (empty on existing clusters: schedule anywhere). Data services use `db`.
    scheduling: dict[str, Any] = field(default_factory=dict)
    #: The cluster's node pools, metrics API and built-in StorageClasses (`ClusterContract.facts()`).
    cluster_facts: dict[str, Any] = field(default_factory=dict)

    def to_outputs(self) -> dict[str, Any]:
        """camelCase keys for `pulumi.export`."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "cluster_facts":  # already camelCase; its label keys are the user's, kept as they are
                out[camel(f.name)] = value
                continue
            out[camel(f.name)] = _camel_keys(asdict(value) if isinstance(value, GatewayRef) else value)
        return out

    @classmethod
    def from_outputs(cls, outputs: dict[str, Any]) -> "PlatformContract":
        data = {_snake(k): v for k, v in outputs.items() if _snake(k) in cls.__dataclass_fields__}
        gw = data.pop("gateway", None) or {}
        gateway = GatewayRef(**{_snake(k): v for k, v in gw.items() if _snake(k) in GatewayRef.__dataclass_fields__})
        return cls(gateway=gateway, **data)


def pool_placement(scheduling: dict[str, Any] | None, pool: str) -> dict[str, Any]:
    """`nodeSelector`/`tolerations` for a node pool from scheduling data ({} when there is none)."""
    entry = (scheduling or {}).get(pool) or {}
    out: dict[str, Any] = {}
    if entry.get("nodeSelector"):
        out["nodeSelector"] = dict(entry["nodeSelector"])
    if entry.get("tolerations"):
        out["tolerations"] = [dict(t) for t in entry["tolerations"]]
    return out


def export(contract: PlatformContract, kubeconfig: pulumi.Output[str]) -> None:
    """Export the platform contract (and the secret kubeconfig) as stack outputs."""
    for key, value in contract.to_outputs().items():
        pulumi.export(key, value)
    pulumi.export("kubeconfig", pulumi.Output.secret(kubeconfig))


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {(camel(k) if "_" in k else k): _camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value
