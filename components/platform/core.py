"""The core platform stack: one ComponentResource per add-on, reading only the ClusterContract.

Order (every edge is an explicit `depends_on`): cluster `ready` → namespaces → Helm releases (which
install their CRDs and wait for their controllers) → the custom resources of those CRDs → the objects
that use them. Concretely: Secrets (ESO + ClusterSecretStore) → Gateway (envoy-gateway, which also
owns the Gateway API CRDs; GatewayClass, Gateway, policies) → Certificates (cert-manager needs the
Gateway API CRDs at start; issuers; gateway certificates) → Storage (Longhorn; its ExternalSecrets need
the store) → GitOps (Argo CD; its certificate needs the internal CA, its route the Gateway) → Backups
(Velero) → Monitoring (optional; its PVC uses the default StorageClass, its route the Gateway).
"""
from __future__ import annotations

from typing import Optional

import pulumi

from lfh.config import PlatformConfig

from ..cluster.contract import ClusterContract
from . import backups, certificates, gateway, gitops, logging, monitoring, secrets, self_contained, storage
from .backups import NAMESPACE as VELERO_NAMESPACE, Backups
from .certificates import Certificates, acme_solver
from .contract import GatewayRef, PlatformContract, export
from .gateway import Gateway, GatewayPlan
from .gitops import NAMESPACE as ARGOCD_NAMESPACE, GitOps
from .monitoring import Monitoring
from .network import PlatformNetwork, PodSet, settings_from
from .secrets import Secrets
from .self_contained import SelfContained
from .storage import Storage


def platform_network(platform: PlatformConfig, cluster: ClusterContract, ref: GatewayRef) -> PlatformNetwork:
    """Every enabled add-on's pod declarations (kept next to each add-on) and the cluster's network facts."""
    dns01 = cluster.dns01_solver or platform.certificates.dns01_solver or None
    solver = acme_solver(platform.certificates, dns01)
    pod_sets: list[PodSet] = [
        *secrets.network_pods(),
        # Every ACME issuer has an HTTP-01 solver (for client names outside the platform's zones).
        *gateway.network_pods(ref, http01=True),
        *certificates.network_pods(solver=solver, gateway_namespace=ref.namespace),
        *([] if platform.storage.use_cluster_storage_class else storage.network_pods()),
        *gitops.network_pods(platform.gitops),
        *backups.network_pods(),
        *(monitoring.network_pods() if platform.monitoring.enabled else []),
        *(logging.network_pods() if not cluster.log_agent else []),
    ]
    store = cluster.secret_store_provider or platform.secrets.provider
    settings = settings_from(cluster, platform.network, object_store_url=cluster.backup.endpoint,
                             secret_store_url=secrets.store_url(store))
    if cluster.in_cluster is not None:
        # A self-contained cluster backs up to its own object store and keeps its secrets in a namespace
        # where nothing runs: the writers' OBJECT_STORE egress goes to the store's pods.
        pod_sets += self_contained.network_pods(cluster.in_cluster)
        settings.object_store_set = f"{cluster.in_cluster.store_namespace}/backup-store"
        settings.podless_namespaces = (cluster.in_cluster.secrets_namespace,)
    return PlatformNetwork(pod_sets, settings)


class CorePlatform(pulumi.ComponentResource):
    """Installs the core add-ons onto a cluster and assembles the platform contract."""

    contract: PlatformContract

    def __init__(self, name: str, platform: PlatformConfig, cluster: ClusterContract,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:platform:CorePlatform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        pins = {"chart_versions": dict(platform.chart_versions)}
        domains = [platform.domain, *[d for d in platform.gateway.extra_domains if d != platform.domain]]
        ref = GatewayRef(wildcard_domains=[f"*.{d}" for d in domains])
        ref.listeners = {lst.hostname: lst.name for lst in GatewayPlan.of(ref, domains).listeners}
        ref.proxy_pod_labels = gateway.proxy_pod_labels(ref)
        # The platform namespaces' NetworkPolicies: each add-on creates its own namespace's.
        self.network = platform_network(platform, cluster, ref)
        net = {"network": self.network}
        argocd_host = platform.gitops.hostname or f"argocd.{platform.domain}"
        grafana_host = platform.monitoring.grafana_hostname or f"grafana.{platform.domain}"
        public_hosts = [argocd_host] + ([grafana_host] if platform.monitoring.enabled else [])

        self.self_contained: Optional[SelfContained] = None
        if cluster.in_cluster is not None:
            # Nothing outside the cluster: its own secret store and backup store come first, and every
            # add-on waits for them as it waits for the cluster.
            self.self_contained = SelfContained(f"{name}-self-contained", platform, cluster, opts=child, **net, **pins)
            cluster.ready = [*cluster.ready, *self.self_contained.ready]
        self.secrets = Secrets(f"{name}-secrets", platform.secrets, cluster, prefix=platform.name, opts=child,
                               **net, **pins)
        self.gateway = Gateway(f"{name}-gateway", platform.gateway, cluster, ref, domains, opts=child, **net, **pins)
        self.certificates = Certificates(
            f"{name}-certificates", platform.certificates, cluster, self.gateway,
            dns01_solver=cluster.dns01_solver or platform.certificates.dns01_solver or None,
            http01_hosts=public_hosts, opts=child, **net, **pins)
        self.storage = Storage(f"{name}-storage", platform.storage, cluster, self.secrets, opts=child, **net, **pins)
        self.gitops = GitOps(f"{name}-gitops", platform.gitops, cluster, hostname=argocd_host,
                             gateway=self.gateway, certificates=self.certificates, secrets=self.secrets,
                             opts=child, **net, **pins)
        self.backups = Backups(f"{name}-backups", platform.backups, cluster, self.secrets, self.storage, opts=child,
                               **net, **pins)
        # Container and gateway access logs: the cloud's agent (set up by the cluster), else our collector.
        self.log_collector = None
        if not cluster.log_agent:
            self.log_collector = logging.LogCollector(f"{name}-logging", platform.logging, cluster, self.secrets,
                                                      opts=child, **net, **pins)
        self.monitoring: Optional[Monitoring] = None
        if platform.monitoring.enabled:
            self.monitoring = Monitoring(f"{name}-monitoring", platform.monitoring, cluster, hostname=grafana_host,
                                         gateway=self.gateway, storage=self.storage, opts=child, **net, **pins)

        b = cluster.backup
        self.contract = PlatformContract(
            platform=platform.name,
            environment=platform.environment.value,
            domain=platform.domain,
            kubernetes_version=platform.kubernetes_version,
            cluster_name=platform.name,
            region=cluster.region,
            # Where the API server and the nodes are, for the client stacks' NetworkPolicies and the plan.
            cloud={**cluster.cloud, "apiServerCidrs": list(cluster.api_server_cidrs),
                   "apiServerTunnelPods": [dict(t) for t in cluster.api_server_tunnel_pods],
                   "nodeCidrs": list(cluster.node_cidrs)},
            gateway=ref,
            storage_classes=dict(self.storage.classes),
            secrets={"prefix": platform.name, "store": self.secrets.store_name,
                     "storeKind": "ClusterSecretStore", "provider": cluster.secret_store_provider or platform.secrets.provider},
            backups={
                "namespace": VELERO_NAMESPACE,
                "locations": dict(self.backups.locations),
                # Database backups (mongodump/PBM) go to the same bucket under their own prefix.
                "bucket": b.bucket, "flavour": b.flavour, "region": b.region, "endpoint": b.endpoint,
                "archivePrefix": b.archive_prefix, "kmsKeyId": b.kms_key_id,
                # How client volumes are backed up (CSI snapshots or file-system backups) and by which drivers.
                "volumeBackup": self.backups.volume_backup.contract(),
                # Where key-based tools' keys come from on this platform (`stored`, `generate`, `operator`).
                "keySource": {tool: k.source for tool, k in b.keyed.items()},
            },
            issuers={"public": self.certificates.public_issuer, "internal": self.certificates.internal_issuer,
                     "staging": "letsencrypt-staging",
                     # Zone of CNAME-delegated DNS-01 challenges for client domains ("" = HTTP-01 only).
                     "dns01DelegationZone": self.certificates.delegation_zone},
            monitoring=(self.monitoring.contract() if self.monitoring else {"enabled": False}),
            gitops={"namespace": ARGOCD_NAMESPACE, "hostname": argocd_host},
            scheduling={pool: dict(entry) for pool, entry in (cluster.scheduling or {}).items()},
            cluster_facts=cluster.facts(),
        )
        self.register_outputs({})


__all__ = ["CorePlatform", "PlatformContract", "export"]  # re-exported lazily by __init__.py
