"""External Secrets Operator and the platform ClusterSecretStore (the cloud's secret manager).

ESO 2.x serves only `external-secrets.io/v1` (v1beta1 is `served: false`), so every store and
ExternalSecret here uses v1.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from lfh.config.platform import SecretsConfig

from ..cluster import secret_writers
from ..cluster.contract import ClusterContract, SecretWriter
from ._helpers import custom_resource, identity as addon_identity, namespace, place, placement, release, resources
from .network import (
    CONTROL_PLANE,
    KUBE_API,
    PROMETHEUS,
    SECRET_STORE,
    CloudIdentity,
    Outside,
    PlatformNetwork,
    PodSet,
    Port,
)

ESO_API = "external-secrets.io/v1"
NAMESPACE = "external-secrets"
SERVICE_ACCOUNT = "external-secrets"
#: How a secret manager spells the path `<platform>/platform/<name>`: Key Vault and Secret Manager
#: names allow no `/` (the same mapping the client adapters use), nor do Kubernetes Secret names (the
#: `kubernetes` provider of a self-contained cluster); keyed by the ESO provider type.
PATH_SEPARATOR = {"azurekv": "--", "gcpsm": "__", "kubernetes": "."}


def remote_name(prefix: str, path: str, provider_block: dict[str, Any]) -> str:
    """The secret manager's name for `<prefix>/<path>` under the ESO ``provider_block``."""
    separator = next((PATH_SEPARATOR[k] for k in provider_block if k in PATH_SEPARATOR), "/")
    return f"{prefix}/{path}".replace("/", separator)
#: Namespaces whose ExternalSecrets may use the platform ClusterSecretStore.
PLATFORM_CONSUMERS = ("longhorn-system", "velero", "cert-manager", "argocd", "monitoring", "envoy-gateway-system",
                      "logging")


def network_pods() -> list[PodSet]:
    """The pods of external-secrets (labels and ports as the external-secrets chart 2.9.0 renders them)."""
    def pods(name: str) -> dict[str, str]:
        return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": "external-secrets"}

    metrics = Port("metrics", 8080, (PROMETHEUS,))
    return [
        # The operator reads every store: the platform's secret manager (its endpoint's port), the
        # cloud secret managers client SecretStores name (HTTPS), and its cloud identity's tokens.
        PodSet("controller", NAMESPACE, pods("external-secrets"), ports=(metrics,),
               connects_to=(KUBE_API, SECRET_STORE, Outside((443,)), CloudIdentity("external-secrets"))),
        # Service external-secrets-webhook :443 -> `webhook` 10250 (Validating webhooks for stores
        # and ExternalSecrets).
        PodSet("webhook", NAMESPACE, pods("external-secrets-webhook"),
               ports=(Port("webhook", 10250, (CONTROL_PLANE,)), metrics), connects_to=(KUBE_API,)),
        PodSet("cert-controller", NAMESPACE, pods("external-secrets-cert-controller"), ports=(metrics,),
               connects_to=(KUBE_API,)),
    ]


def store_url(provider_block: dict[str, Any]) -> str:
    """The endpoint URL of a ClusterSecretStore provider block when it names one (Vault), else ''."""
    for body in provider_block.values():
        if isinstance(body, dict) and isinstance(body.get("server"), str):
            return body["server"]
    return ""


class Secrets(pulumi.ComponentResource):
    """ESO (HA operator + webhook) and one ClusterSecretStore built from the cluster contract."""

    def __init__(self, name: str, cfg: SecretsConfig, cluster: ClusterContract, *, prefix: str,
                 network: PlatformNetwork, chart_versions: Mapping[str, str] | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:platform:Secrets", name, None, opts)
        self.chart_versions = dict(chart_versions or {})  # stack-level pin overrides (warned)
        p = cluster.provider
        self.store_name = cfg.store_name
        self.prefix = prefix
        self.refresh_interval = cfg.refresh_interval
        # The operator, webhook and cert controller run non-root, read-only, all capabilities dropped.
        self.namespace = namespace(self, p, NAMESPACE, level="restricted", component="secrets",
                                   depends_on=cluster.ready)
        self.network_policies = network.create(self, p, NAMESPACE, depends_on=[self.namespace])
        identity = addon_identity(cluster, "external-secrets", NAMESPACE, SERVICE_ACCOUNT)
        res = resources(cfg.resources)
        values: dict[str, Any] = {
            # ESO's CRDs come with the chart (and stay on uninstall: deleting them deletes every secret sync).
            "installCRDs": True,
            "replicaCount": cfg.replicas,
            "leaderElect": True,
            "resources": res,
            "podDisruptionBudget": {"enabled": cfg.replicas > 1, "minAvailable": 1},
            "serviceAccount": {"create": True, "name": SERVICE_ACCOUNT,
                               "annotations": dict(identity.annotations) if identity else {}},
            "podLabels": dict(identity.pod_labels) if identity else {},
            "webhook": {
                "replicaCount": cfg.webhook_replicas,
                "resources": res,
                # A webhook outage blocks every ExternalSecret change: keep one up.
                "podDisruptionBudget": {"enabled": cfg.webhook_replicas > 1, "minAvailable": 1},
            },
            "certController": {"resources": res},
        }
        place(values, ["", "webhook", "certController"], placement(cluster))
        self.release = release(self, p, "external-secrets", namespace=self.namespace, values=values,
                               depends_on=self.network_policies)

        provider_block = cluster.secret_store_provider or cfg.provider
        self.provider_block = provider_block
        self.store: Optional[k8s.apiextensions.CustomResource] = None
        if provider_block:
            self.store = custom_resource(
                self, p, "store", api_version=ESO_API, kind="ClusterSecretStore", name=cfg.store_name,
                component="secrets", depends_on=[self.release],
                spec={"provider": provider_block, "refreshInterval": 3600,
                      # Only the platform's own namespaces may read through this store: it holds the
                      # platform's identity. Clients get namespace-scoped SecretStores on their own
                      # paths, so one client can never read another's (LESSONS.md).
                      "conditions": [{"namespaces": list(PLATFORM_CONSUMERS)}]})
        else:
            # Existing clusters may leave the store out; then the bucket credentials (velero/velero-credentials,
            # longhorn-system/longhorn-backup-credentials) are Secrets the operator creates before `pulumi up`.
            pulumi.log.warn(
                "lfh:platform.secrets.provider: no secret manager configured for this cluster; the platform "
                "ClusterSecretStore and its ExternalSecrets are not created: create velero/velero-credentials, "
                "velero/velero-repo-credentials (key `repository-password`: a long random password, kept safe: "
                "without it no backup can be read) and, with Longhorn, longhorn-system/longhorn-backup-credentials "
                "by hand", self)
        #: How this stack stores a secret it generated where the store reads it (None: it cannot, an
        #: operator seeds it): the cloud's writer, or a Secret in a Kubernetes-backed store's namespace.
        self.writer: Optional[SecretWriter] = cluster.secret_writer
        remote_ns = (provider_block.get("kubernetes") or {}).get("remoteNamespace")
        if self.writer is None and remote_ns:
            self.writer = secret_writers.kubernetes(p, prefix, remote_ns)
        self.register_outputs({"store": cfg.store_name})

    def store_generated(self, owner: pulumi.Resource, path: str, properties: Mapping[str, Any], *,
                        what: str) -> Optional[pulumi.Resource]:
        """Store a generated secret at `<prefix>/<path>` (JSON ``properties``), or warn that an operator
        must seed it there when this store cannot be written by the stack."""
        if self.writer is not None:
            return self.writer(owner, path, properties)
        pulumi.log.warn(
            f"lfh:platform.secrets.provider: the stack cannot write to this secret store; seed {what} at "
            f"{self.remote_name(path)} (properties: {', '.join(sorted(properties))}) before `pulumi up`", owner)
        return None

    def remote_name(self, path: str) -> str:
        """The secret manager's name for `<prefix>/<path>` (JSON value; ExternalSecrets pick a property)."""
        return remote_name(self.prefix, path, self.provider_block)

    @property
    def ready(self) -> list[pulumi.Resource]:
        """What an ExternalSecret must wait for: the CRD's release and the store it reads."""
        return [self.release] + ([self.store] if self.store is not None else [])

    def external_secret(self, parent: pulumi.Resource, provider: pulumi.ProviderResource, suffix: str, *,
                        name: str, namespace: str, target: str, data: dict[str, tuple[str, str]],
                        template: Optional[dict[str, Any]] = None, depends_on: Sequence[pulumi.Resource] = (),
                        creation_policy: str = "Owner",
                        annotations: Optional[dict[str, Any]] = None,
                        ) -> Optional[k8s.apiextensions.CustomResource]:
        """An ExternalSecret reading ``{secretKey: (path under the prefix, property)}`` from the platform store.

        ``creation_policy`` `Merge` adds the keys to a Secret someone else creates (e.g. a chart's)."""
        if self.store is None:
            return None
        if namespace not in PLATFORM_CONSUMERS:
            raise ValueError(f"ExternalSecret {namespace}/{name}: namespace may not read the platform store")
        target_block: dict[str, Any] = {"name": target, "creationPolicy": creation_policy,
                                        # Keep the Secret if the ExternalSecret goes: volumes need their key.
                                        "deletionPolicy": "Retain"}
        if template:
            target_block["template"] = template
        return custom_resource(
            parent, provider, suffix, api_version=ESO_API, kind="ExternalSecret", name=name, namespace=namespace,
            component="secrets", depends_on=list(self.ready) + list(depends_on), annotations=annotations, spec={
                "refreshInterval": self.refresh_interval,
                "secretStoreRef": {"kind": "ClusterSecretStore", "name": self.store_name},
                "target": target_block,
                "data": [{"secretKey": key, "remoteRef": {"key": self.remote_name(path), "property": prop}}
                         for key, (path, prop) in data.items()],
            })
