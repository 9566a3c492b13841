"""GKE on raw pulumi_gcp resources, following GKE safer-cluster; each hardening choice says why."""
from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import pulumi_random as random

from lfh.config import PlatformConfig
from lfh.names import join
from lfh.node_setup import CRYPTSETUP, GKE_UBUNTU_PREFIX, ISCSI, WHY
from lfh.config.cluster import GcpCluster as GcpClusterConfig
from lfh.config.cluster import GcpNodePool

from ..k8s import DEFAULT_CLASS_ANNOTATION, KubeObject, child_opts, labels
from ._common import (
    service_account_ref,
    ADDON_SERVICE_ACCOUNTS,
    ARCHIVE_PREFIX,
    DAILY_PREFIX,
    LONGHORN_PREFIX,
    data_opts,
    node_labels,
    gcp_labels,
    kubeconfig_yaml,
    scheduling,
    taint_effect_upper,
)
from lfh.image_patterns import ALLOWED_IMAGE_PATTERNS, written_forms

from ..network_rules import CLOUD_METADATA_ENDPOINTS
from . import backup_keys, secret_writers
from .contract import BackupStorage, ClusterContract, KeyedTarget, NodePool, ServiceAccountBinding, SnapshotSupport

STORAGE_CLASS = "pd-balanced-cmek"
#: The StorageClasses GKE installs with the Compute Engine PD CSI driver; `standard-rwo` is the default
#: (GKE docs "Using the Compute Engine persistent disk CSI driver"). They are add-ons of mode
#: `EnsureExists`, which users may edit (kubernetes cluster/addons/addon-manager README).
BUILTIN_STORAGE_CLASSES = {"standard-rwo": True, "standard": False, "premium-rwo": False}
#: Least-privilege roles of the node service account (GKE hardening guide), instead of the
#: Compute Engine default account with Editor.
NODE_ROLES = [
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/autoscaling.metricsWriter",
    "roles/artifactregistry.reader",
]
#: What Velero's GCP plugin needs for disk snapshots (the compute part of its documented custom
#: role). Object access is granted on the bucket only, signBlob on its own service account only.
VELERO_PERMISSIONS = [
    "compute.disks.get", "compute.disks.create", "compute.disks.createSnapshot",
    "compute.projects.get", "compute.snapshots.get", "compute.snapshots.create",
    "compute.snapshots.useReadOnly", "compute.snapshots.delete", "compute.zones.get",
]
#: APIs the platform uses; enabled here so a fresh project works on the first `pulumi up`.
SERVICES = ["compute.googleapis.com", "container.googleapis.com", "cloudkms.googleapis.com", "iam.googleapis.com",
            "iamcredentials.googleapis.com", "secretmanager.googleapis.com", "storage.googleapis.com",
            "logging.googleapis.com", "dns.googleapis.com", "binaryauthorization.googleapis.com"]
ADDON_SHORT = {"external-secrets": "eso", "velero": "velero", "cert-manager": "certmgr", "longhorn": "longhorn"}
#: Pod ports the platform's admission webhooks serve on, beyond the 443 and 10250 that GKE's own
#: firewall rule lets a private cluster's control plane reach ("Adding firewall rules for specific use
#: cases", https://cloud.google.com/kubernetes-engine/docs/how-to/private-clusters#add_firewall_rules).
#: The program cannot render charts, so this is data; `python -m lfh plan` (webhook-reachability)
#: proves it complete against the rendered webhooks, and a test that it holds nothing more.
WEBHOOK_PORTS = {
    9443: "envoy-gateway topology injector (MutatingWebhookConfiguration envoy-gateway-topology-injector)",
    9502: "Longhorn admission webhook (longhorn-manager registers longhorn-webhook-validator/-mutator)",
}


class GkeCluster(pulumi.ComponentResource):
    """A regional, private, VPC-native GKE cluster with CMEK, workload identity and three node pools."""

    contract: ClusterContract

    def __init__(self, name: str, platform: PlatformConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:cluster:GkeCluster", name, None, opts)
        cfg: GcpClusterConfig = platform.cluster  # type: ignore[assignment]
        self.cfg, self.platform, self.name = cfg, platform, name
        self.labels = gcp_labels(platform)
        self.phi_labels = gcp_labels(platform, phi=True)
        self.project = cfg.project
        self.workload_pool = f"{cfg.project}.svc.id.goog"
        # One explicit provider: project and region come from config, never from gcloud defaults.
        self.gcp = gcp.Provider(f"{name}-gcp", project=cfg.project, region=cfg.region,
                                default_labels=self.labels, opts=pulumi.ResourceOptions(parent=self))
        project = gcp.organizations.get_project_output(project_id=cfg.project,
                                                       opts=pulumi.InvokeOutputOptions(parent=self, provider=self.gcp))
        self.project_number = project.number
        # Key rings can never be deleted and bucket names are global: a short stable suffix lets a
        # platform be destroyed and re-created.
        self.suffix = random.RandomId(f"{name}-suffix", byte_length=3, opts=pulumi.ResourceOptions(parent=self)).hex
        self.cluster_name = self.suffix.apply(lambda s: f"{platform.name}-{s}")

        # Enabling is idempotent; never disabled on destroy (other workloads in the project may use them).
        self.services = [
            gcp.projects.Service(f"{name}-api-{svc.split('.')[0]}", project=cfg.project, service=svc,
                                 disable_on_destroy=False, opts=self._opts())
            for svc in SERVICES
        ]

        self._keys()
        self._network()
        self._cluster()
        self._logs()
        self._backup_bucket()
        grant = secret_writers.gcp_secret_manager_key_grant(self, self.gcp, name, cfg.project, self.data_key.id,
                                                            self.services)
        self.secret_writer = secret_writers.gcp(self.gcp, platform.name, cfg.project, cfg.region, self.data_key.id,
                                                [grant], self.labels)
        self._access_logs()
        self._binary_authorization()
        self._addon_identities()
        self._kubernetes()

        cloud = {
            "kind": "gcp",
            "region": cfg.region,
            "kmsKeyId": self.data_key.id,
            "secretsPrefix": platform.name,
            "project": cfg.project,
            "workloadIdentityPool": self.workload_pool,
            # Cloud Audit Logs (data access) of the platform's buckets and the clients' `<platform>-…` buckets.
            "accessLogs": {"kind": "cloud-audit-logs", "logBucket": self.access_log_bucket.id,
                           "retentionDays": cfg.access_logs.retention_days, "bucketPrefix": self.client_bucket_prefix},
            # What client pods may run (Binary Authorization allowlist).
            "binaryAuthorization": {"enforced": self.binauthz_enforced, "imagePatterns": list(self.image_patterns)},
        }
        lb: dict[str, str] = {}
        if cfg.internal_load_balancer:
            lb["networking.gke.io/load-balancer-type"] = "Internal"
        if self.static_ip is not None:
            lb["networking.gke.io/load-balancer-ip-addresses"] = self.static_ip.name
        dns_solver = None
        if cfg.dns_zones:
            first = cfg.dns_zones[0]
            dns_solver = {
                "selector": {"dnsZones": [first.name]},
                # Workload identity of the cert-manager service account: no key file.
                "dns01": {"cloudDNS": {"project": cfg.project, "hostedZoneName": first.managed_zone}},
            }
        self.contract = ClusterContract(
            name=self.cluster.name,
            kubernetes_version=platform.kubernetes_version,
            region=cfg.region,
            provider=self.k8s,
            kubeconfig=self.kubeconfig,
            backup=BackupStorage(
                flavour="gcs",
                bucket=self.bucket.name,
                region=cfg.region,
                kms_key_id=self.data_key.id,
                # serviceAccount: Velero's GCP plugin signs download URLs as this account (workload identity).
                extra={"project": cfg.project, "snapshotLocation": cfg.region,
                       "serviceAccount": self.bindings["velero"].annotations["iam.gke.io/gcp-service-account"]},
                keyed={"longhorn": self._longhorn_hmac()},
            ),
            storage_class=STORAGE_CLASS,
            kms_key_id=self.data_key.id,
            secret_store_provider={
                "gcpsm": {
                    "projectID": cfg.project,
                    "auth": {"workloadIdentity": {
                        "clusterLocation": cfg.region,
                        "clusterName": self.cluster.name,
                        "clusterProjectID": cfg.project,
                        "serviceAccountRef": service_account_ref("external-secrets"),
                    }},
                }
            },
            addon_identities=self.bindings,
            cloud=cloud,
            ready=self.ready,
            # GKE runs the snapshot CRDs and controller for the Compute Engine PD CSI driver, which is on
            # (GKE docs, "Back up Persistent Disk storage using volume snapshots": requirements); the
            # snapshots stay in the platform's region (`storage-locations`, same page).
            snapshots=SnapshotSupport(drivers={STORAGE_CLASS: "pd.csi.storage.gke.io"}, controller="gke",
                                      parameters={"pd.csi.storage.gke.io": {"storage-locations": cfg.region}}),
            secret_writer=self.secret_writer,
            dns01_solver=dns_solver,
            load_balancer_annotations=lb,
            scheduling=scheduling(cfg.node_pools),
            # Private control plane: its endpoint (the `kubernetes` Service's endpoint) is in the
            # master range, and so is the source of direct webhook calls; where GKE tunnels through
            # konnectivity, calls arrive from the agents in kube-system (`k8s-app: konnectivity-agent`,
            # tigera/operator#5212).
            api_server_cidrs=[cfg.master_cidr],
            api_server_tunnel_pods=[{"namespace": "kube-system", "labels": {"k8s-app": "konnectivity-agent"}}],
            node_cidrs=[cfg.subnet_cidr],
            node_pools=self.pool_facts,
            # GKE runs metrics-server in kube-system on every Standard cluster (GKE docs "Horizontal Pod
            # autoscaling": resource metrics come from the metrics-server GKE deploys).
            metrics_api="GKE built-in metrics-server",
            builtin_storage_classes=dict(BUILTIN_STORAGE_CLASSES),
            log_agent="cloud-logging",
        )
        self.register_outputs({"clusterName": self.cluster.name, "endpoint": self.cluster.endpoint,
                               "backupBucket": self.bucket.name})

    # ------------------------------------------------------------ helpers

    def _opts(self, **kw: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self.gcp, **kw)

    def _data_opts(self, **kw: Any) -> pulumi.ResourceOptions:
        return data_opts(self, provider=self.gcp, **kw)

    def _agent(self, domain: str) -> pulumi.Output[str]:
        return self.project_number.apply(lambda n: f"serviceAccount:service-{n}@{domain}")

    # ------------------------------------------------------------ KMS

    def _keys(self) -> None:
        n = self.name
        self.key_ring = gcp.kms.KeyRing(
            f"{n}-keyring", name=self.suffix.apply(lambda s: f"lfh-{self.platform.name}-{s}"),
            location=self.cfg.region, project=self.project, opts=self._data_opts(depends_on=self.services))

        def key(purpose: str, phi: bool) -> gcp.kms.CryptoKey:
            return gcp.kms.CryptoKey(
                f"{n}-key-{purpose}", name=purpose, key_ring=self.key_ring.id, purpose="ENCRYPT_DECRYPT",
                rotation_period="7776000s",  # 90 days: new key material for new data every quarter
                destroy_scheduled_duration="2592000s",  # 30 days to notice a mistaken destroy
                labels=self.phi_labels if phi else self.labels, opts=self._data_opts())

        # etcd's application-layer Secrets encryption and platform data (disks, backups) use separate keys.
        self.etcd_key = key("gke-etcd", False)
        self.data_key = key("data", True)
        # The GCS agent is created on first use: asking for it makes sure it exists before the grant.
        gcs_agent = gcp.storage.get_project_service_account_output(
            project=self.project, opts=pulumi.InvokeOutputOptions(parent=self, provider=self.gcp, depends_on=self.services))
        grants = [
            (self.etcd_key, self._agent("container-engine-robot.iam.gserviceaccount.com"), "gke"),
            (self.data_key, self._agent("compute-system.iam.gserviceaccount.com"), "compute"),
            (self.data_key, gcs_agent.email_address.apply(lambda e: f"serviceAccount:{e}"), "gcs"),
        ]
        self.key_grants: dict[str, gcp.kms.CryptoKeyIAMMember] = {}
        for crypto_key, agent, who in grants:
            # Service agents exist once their API is enabled.
            self.key_grants[who] = gcp.kms.CryptoKeyIAMMember(
                f"{n}-key-{who}-agent", crypto_key_id=crypto_key.id, role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
                member=agent, opts=self._opts(depends_on=self.services))

    # ------------------------------------------------------------ network

    def _network(self) -> None:
        cfg, n = self.cfg, self.name
        self.network = gcp.compute.Network(
            f"{n}-vpc", name=f"{self.platform.name}-vpc", project=self.project, auto_create_subnetworks=False,
            routing_mode="REGIONAL", opts=self._opts(depends_on=self.services))
        self.subnet = gcp.compute.Subnetwork(
            f"{n}-subnet", name=f"{self.platform.name}-nodes", project=self.project, region=cfg.region,
            network=self.network.id, ip_cidr_range=cfg.subnet_cidr,
            # VPC-native: pods and services get routable secondary ranges.
            secondary_ip_ranges=[{"range_name": "pods", "ip_cidr_range": cfg.pods_cidr},
                                 {"range_name": "services", "ip_cidr_range": cfg.services_cidr}],
            # Private nodes reach Google APIs without public IPs.
            private_ip_google_access=True,
            # VPC flow logs: network forensics.
            log_config={"aggregation_interval": "INTERVAL_5_SEC", "flow_sampling": 0.5, "metadata": "INCLUDE_ALL_METADATA"},
            opts=self._opts())
        router = gcp.compute.Router(f"{n}-router", name=f"{self.platform.name}-router", project=self.project,
                                    region=cfg.region, network=self.network.id, opts=self._opts())
        # Cloud NAT: egress for private nodes (image pulls) without node public IPs.
        gcp.compute.RouterNat(
            f"{n}-nat", name=f"{self.platform.name}-nat", project=self.project, region=cfg.region, router=router.name,
            nat_ip_allocate_option="AUTO_ONLY", source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            log_config={"enable": True, "filter": "ERRORS_ONLY"}, opts=self._opts())
        self.static_ip = None
        if cfg.static_ip:
            self.static_ip = gcp.compute.Address(
                f"{n}-gateway-ip", name=f"{self.platform.name}-gateway", project=self.project, region=cfg.region,
                address_type="INTERNAL" if cfg.internal_load_balancer else "EXTERNAL",
                subnetwork=self.subnet.id if cfg.internal_load_balancer else None,
                labels=self.labels, opts=self._opts())

    # ------------------------------------------------------------ cluster

    def _node_config(self, pool_name: str, pool: GcpNodePool) -> dict[str, Any]:
        return {
            "machine_type": pool.machine_type,
            # Ubuntu by default: Longhorn needs open-iscsi and cryptsetup on the host (lfh/node_setup.py).
            "image_type": pool.image_type,
            "disk_type": "pd-balanced",
            "disk_size_gb": pool.disk_size_gb,
            # CMEK boot disk.
            "boot_disk_kms_key": self.data_key.id,
            # Dedicated least-privilege identity; scopes are then irrelevant (IAM decides).
            "service_account": self.node_sa.email,
            "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
            "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
            # Pods see the GKE metadata server, never the node's credentials.
            "workload_metadata_config": {"mode": "GKE_METADATA"},
            "metadata": {"disable-legacy-endpoints": "true"},
            "labels": node_labels(pool_name, pool),
            "taints": [{"key": t.key, "value": t.value, "effect": taint_effect_upper(t)} for t in pool.taints],
            "resource_labels": {**self.phi_labels, "lfh_pool": pool_name},
        }

    def _cluster(self) -> None:
        cfg, n = self.cfg, self.name
        self.node_sa = gcp.serviceaccount.Account(
            f"{n}-nodes-sa", account_id=join("lfh", self.platform.name, "nodes", limit=30), project=self.project,
            display_name=f"GKE nodes of {self.platform.name}", opts=self._opts(depends_on=self.services))
        node_roles = [
            gcp.projects.IAMMember(f"{n}-nodes-sa-{role.split('/')[-1].replace('.', '-')}", project=self.project, role=role,
                                   member=self.node_sa.email.apply(lambda e: f"serviceAccount:{e}"), opts=self._opts())
            for role in NODE_ROLES
        ]
        authorized = [{"cidr_block": c, "display_name": f"operators-{i}"} for i, c in enumerate(cfg.api.public_access_cidrs)] if cfg.api.public else []
        self.cluster = gcp.container.Cluster(
            f"{n}-gke",
            name=self.cluster_name,
            project=self.project,
            location=cfg.region,  # regional: control plane and nodes across the region's zones
            network=self.network.id,
            subnetwork=self.subnet.id,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy={"cluster_secondary_range_name": "pods", "services_secondary_range_name": "services"},
            # We manage our own pools; the default one (with the default SA) goes right away.
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config=self._node_config("default", cfg.node_pools.system),
            min_master_version=self.platform.kubernetes_version,
            release_channel={"channel": cfg.release_channel},
            private_cluster_config={
                "enable_private_nodes": True,
                # Private endpoint unless authorized networks are explicitly configured.
                "enable_private_endpoint": not cfg.api.public,
                "master_ipv4_cidr_block": cfg.master_cidr,
                "master_global_access_config": {"enabled": False},
            },
            master_authorized_networks_config={"cidr_blocks": authorized, "gcp_public_cidrs_access_enabled": False},
            database_encryption=(
                {"state": "ENCRYPTED", "key_name": self.etcd_key.id} if cfg.secrets_encryption else {"state": "DECRYPTED"}
            ),
            workload_identity_config={"workload_pool": self.workload_pool},
            # Dataplane V2 (eBPF): NetworkPolicy enforced without the Calico add-on.
            datapath_provider="ADVANCED_DATAPATH",
            enable_shielded_nodes=True,
            enable_legacy_abac=False,
            master_auth={"client_certificate_config": {"issue_client_certificate": False}},
            addons_config={"http_load_balancing": {"disabled": False},
                           "gce_persistent_disk_csi_driver_config": {"enabled": True},
                           "horizontal_pod_autoscaling": {"disabled": False}},
            logging_config={"enable_components": ["SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER", "WORKLOADS"]},
            monitoring_config={"enable_components": ["SYSTEM_COMPONENTS"]},
            security_posture_config={"mode": "BASIC", "vulnerability_mode": "VULNERABILITY_BASIC"},
            # Pod-to-pod traffic on one node goes through the VPC too, so flow logs and firewall rules see it
            # (GKE docs, "Intranode visibility").
            enable_intranode_visibility=True,
            # The project's Binary Authorization policy (below) decides which images may run.
            binary_authorization={"evaluation_mode": "PROJECT_SINGLETON_POLICY_ENFORCE"},
            # Google Groups for RBAC: RoleBindings may name groups that are members of this one (GKE docs).
            authenticator_groups_config=({"security_group": cfg.rbac_security_group} if cfg.rbac_security_group else None),
            deletion_protection=True,
            resource_labels=self.labels,
            opts=self._data_opts(depends_on=[*node_roles, self.key_grants["gke"], self.key_grants["compute"]],
                                 ignore_changes=["nodeConfig", "initialNodeCount"]),
        )
        # The control plane calls webhooks on their pods' ports: open exactly those to the nodes (by
        # their dedicated service account), from the control plane's range only.
        self.webhook_firewall = gcp.compute.Firewall(
            f"{n}-master-webhooks", name=f"{self.platform.name}-master-webhooks", project=self.project,
            network=self.network.id, direction="INGRESS", priority=1000,
            description="GKE control plane to admission webhooks: " + "; ".join(f"{p} {w}" for p, w in sorted(WEBHOOK_PORTS.items())),
            source_ranges=[cfg.master_cidr], target_service_accounts=[self.node_sa.email],
            allows=[{"protocol": "tcp", "ports": [str(p) for p in sorted(WEBHOOK_PORTS)]}],
            log_config={"metadata": "INCLUDE_ALL_METADATA"}, opts=self._opts())
        self.pools: list[gcp.container.NodePool] = []
        for pool_name in ("system", "apps", "db"):
            pool: GcpNodePool = getattr(cfg.node_pools, pool_name)
            self.pools.append(gcp.container.NodePool(
                f"{n}-pool-{pool_name}", name=pool_name, project=self.project, location=cfg.region, cluster=self.cluster.name,
                initial_node_count=pool.min_count,
                autoscaling={"min_node_count": pool.min_count, "max_node_count": pool.max_count},
                management={"auto_repair": True, "auto_upgrade": True},
                upgrade_settings={"max_surge": 1, "max_unavailable": 0},
                node_config=self._node_config(pool_name, pool),
                opts=self._opts(ignore_changes=["initialNodeCount"])))
        zones = 3  # a regional cluster's pools run their counts in each of the region's three zones
        self.pool_facts = [NodePool(
            name=pool_name, labels=node_labels(pool_name, pool),
            taints=[{"key": t.key, "value": t.value, "effect": t.effect} for t in pool.taints],
            min_nodes=pool.min_count * zones, max_nodes=pool.max_count * zones,
            # `autoscaling` on every pool: GKE's cluster autoscaler.
            autoscaler="GKE cluster autoscaler",
            provides=({ISCSI: f"GKE {pool.image_type} node image ({WHY[ISCSI]})", CRYPTSETUP: f"GKE {pool.image_type} node image"}
                      if pool.image_type.startswith(GKE_UBUNTU_PREFIX) else {}),
            resource=resource)
            for pool_name, resource in zip(("system", "apps", "db"), self.pools, strict=True)
            for pool in [getattr(cfg.node_pools, pool_name)]]
        self.ready: list[pulumi.Resource] = [self.cluster, *self.pools]

    def _logs(self) -> None:
        """Cluster logs (API server, audit, and — `WORKLOADS` in the cluster's logging components — every
        container's log, the gateway's access log included) in one bucket, kept the longer of
        `logRetentionDays` and `logging.retentionDays` (Cloud Logging: a sink routes the cluster's entries to it)."""
        cfg, n = self.cfg, self.name
        bucket = gcp.logging.ProjectBucketConfig(
            f"{n}-log-bucket", project=self.project, location=cfg.region,
            bucket_id=self.suffix.apply(lambda s: f"lfh-{self.platform.name}-{s}"),
            retention_days=max(cfg.log_retention_days, self.platform.logging.retention_days), opts=self._opts())
        gcp.logging.ProjectSink(
            f"{n}-log-sink", name=self.suffix.apply(lambda s: f"lfh-{self.platform.name}-{s}"), project=self.project,
            destination=bucket.id.apply(lambda b: f"logging.googleapis.com/{b}"),
            filter=self.cluster.name.apply(lambda c: f'resource.labels.cluster_name="{c}"'),
            unique_writer_identity=True, opts=self._opts())

    # ------------------------------------------------------------ backup bucket

    def _backup_bucket(self) -> None:
        b = self.cfg.backup
        rules = [
            {"condition": {"age": b.daily_expire_days, "matches_prefixes": [f"{DAILY_PREFIX}/"]}, "action": {"type": "Delete"}},
            # Coldline is online storage: archives are readable at once (4 h RTO holds).
            {"condition": {"age": b.archive_transition_days, "matches_prefixes": [f"{ARCHIVE_PREFIX}/"]},
             "action": {"type": "SetStorageClass", "storage_class": "COLDLINE"}},
            {"condition": {"age": b.archive_expire_days, "matches_prefixes": [f"{ARCHIVE_PREFIX}/"]}, "action": {"type": "Delete"}},
            {"condition": {"days_since_noncurrent_time": b.noncurrent_expire_days, "with_state": "ARCHIVED"},
             "action": {"type": "Delete"}},
        ]
        # No retention lock here: Velero rewrites and deletes its own objects.
        self.bucket = gcp.storage.Bucket(
            f"{self.name}-backups",
            name=self.suffix.apply(lambda s: f"lfh-{self.platform.name}-backups-{s}"),
            project=self.project, location=self.cfg.region.upper(), storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="inherited" if b.disable_public_access_block else "enforced",
            versioning={"enabled": True},
            encryption={"default_kms_key_name": self.data_key.id},
            lifecycle_rules=rules,
            force_destroy=False,
            labels=self.phi_labels,
            opts=self._data_opts(depends_on=[self.key_grants["gcs"]]))

    # ------------------------------------------------------------ access logs (HIPAA 164.312(b))

    def _access_logs(self) -> None:
        """Every read and write of an object in the backup bucket and in the clients' buckets: Cloud Audit Logs
        data access of Cloud Storage (off by default: "Data Access audit logs … are disabled by default",
        Cloud Audit Logs docs), routed into a log bucket encrypted with the platform data key and kept
        `accessLogs.retentionDays`. The audit config is the project's (one per service): it records every
        bucket of the project, the sink keeps ours."""
        n, cfg = self.name, self.cfg
        self.client_bucket_prefix = f"{self.platform.name}-"
        audit = gcp.projects.IAMAuditConfig(
            f"{n}-gcs-data-access", project=self.project, service="storage.googleapis.com",
            audit_log_configs=[{"log_type": "DATA_READ"}, {"log_type": "DATA_WRITE"}],
            opts=self._opts(depends_on=self.services))
        # The Logging service agent encrypts the bucket's entries ("Configure CMEK for log buckets": grant it
        # cryptoKeyEncrypterDecrypter on a key in the bucket's region); asking for it creates it.
        agent = gcp.logging.get_project_cmek_settings_output(
            project=self.project, opts=pulumi.InvokeOutputOptions(parent=self, provider=self.gcp, depends_on=self.services))
        grant = gcp.kms.CryptoKeyIAMMember(
            f"{n}-key-logging-agent", crypto_key_id=self.data_key.id, role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=agent.service_account_id.apply(lambda e: f"serviceAccount:{e}"), opts=self._opts())
        self.access_log_bucket = gcp.logging.ProjectBucketConfig(
            f"{n}-access-log-bucket", project=self.project, location=cfg.region,
            bucket_id=self.suffix.apply(lambda s: f"lfh-{self.platform.name}-access-{s}"),
            description=f"Cloud Storage data access of {self.platform.name}'s backup and client buckets",
            retention_days=cfg.access_logs.retention_days,
            cmek_settings={"kms_key_name": self.data_key.id},
            opts=self._data_opts(depends_on=[grant]))
        gcp.logging.ProjectSink(
            f"{n}-access-log-sink", name=self.suffix.apply(lambda s: f"lfh-{self.platform.name}-access-{s}"),
            project=self.project,
            destination=self.access_log_bucket.id.apply(lambda b: f"logging.googleapis.com/{b}"),
            filter=self.bucket.name.apply(lambda b: (
                'logName:"cloudaudit.googleapis.com%2Fdata_access" AND protoPayload.serviceName="storage.googleapis.com" '
                f'AND (resource.labels.bucket_name="{b}" OR resource.labels.bucket_name=~"^{self.client_bucket_prefix}")')),
            unique_writer_identity=True, opts=self._opts(depends_on=[audit]))

    # ------------------------------------------------------------ Binary Authorization

    def _binary_authorization(self) -> None:
        """Only images of the owners the platform and its clients use may run in this cluster; blocked in
        production, logged only elsewhere (`binaryAuthorization.enforce`). The policy is the project's
        (one per project): other clusters of the project keep the default rule (allow), ours gets its own
        (`clusterAdmissionRules`, keyed `<location>.<cluster>`). Google's own system images are allowed by
        the global policy (`globalPolicyEvaluationMode: ENABLE`)."""
        b = self.cfg.binary_authorization
        self.binauthz_enforced = b.enforce if b.enforce is not None else self.platform.environment.is_production
        self.image_patterns = [*ALLOWED_IMAGE_PATTERNS, *b.extra_image_patterns]
        patterns = sorted({form for p in self.image_patterns for form in written_forms(p)})
        gcp.binaryauthorization.Policy(
            f"{self.name}-binauthz", project=self.project,
            description=f"lfh {self.platform.name}: images of the allowed owners only",
            global_policy_evaluation_mode="ENABLE",
            admission_whitelist_patterns=[{"name_pattern": p} for p in patterns],
            default_admission_rule={"evaluation_mode": "ALWAYS_ALLOW", "enforcement_mode": "ENFORCED_BLOCK_AND_AUDIT_LOG"},
            cluster_admission_rules=[{
                "cluster": self.cluster.name.apply(lambda c: f"{self.cfg.region}.{c}"),
                "evaluation_mode": "ALWAYS_DENY",
                "enforcement_mode": "ENFORCED_BLOCK_AND_AUDIT_LOG" if self.binauthz_enforced else "DRYRUN_AUDIT_LOG_ONLY",
            }],
            opts=self._opts(depends_on=self.services))

    # ------------------------------------------------------------ workload identity

    def _addon_identities(self) -> None:
        cfg, n = self.cfg, self.name
        self.bindings: dict[str, ServiceAccountBinding] = {}
        accounts: dict[str, gcp.serviceaccount.Account] = {}
        wanted = ["external-secrets", "velero", "longhorn"] + (["cert-manager"] if cfg.dns_zones else [])
        for addon in wanted:
            ns, sa = ADDON_SERVICE_ACCOUNTS[addon]
            account = gcp.serviceaccount.Account(
                f"{n}-sa-{addon}", account_id=join("lfh", self.platform.name, ADDON_SHORT[addon], limit=30),
                project=self.project, display_name=f"{addon} on {self.platform.name}", opts=self._opts(depends_on=self.services))
            # Only this Kubernetes service account may impersonate it.
            gcp.serviceaccount.IAMMember(
                f"{n}-sa-{addon}-wi", service_account_id=account.name, role="roles/iam.workloadIdentityUser",
                member=f"serviceAccount:{self.workload_pool}[{ns}/{sa}]", opts=self._opts())
            accounts[addon] = account
            self.bindings[addon] = ServiceAccountBinding(
                namespace=ns, service_account=sa, annotations={"iam.gke.io/gcp-service-account": account.email},
                # Workload Identity tokens come from the node's GKE metadata server.
                token_endpoints=list(CLOUD_METADATA_ENDPOINTS))

        def member(addon: str) -> pulumi.Output[str]:
            return accounts[addon].email.apply(lambda e: f"serviceAccount:{e}")

        # External Secrets: read secrets of this platform only. Secret Manager ids cannot hold `/`, so
        # the canonical path `<platform>/…` is stored as `<platform>__…` (the client adapters' rule).
        gcp.projects.IAMMember(
            f"{n}-eso-secret-accessor", project=self.project, role="roles/secretmanager.secretAccessor",
            member=member("external-secrets"),
            condition=self.project_number.apply(lambda num: {
                "title": f"only-{self.platform.name}-secrets",
                "description": f"Secrets whose id starts with {self.platform.name}__",
                "expression": f'resource.name.startsWith("projects/{num}/secrets/{self.platform.name}__")',
            }),
            opts=self._opts())
        # Velero: its bucket and disk snapshots.
        role = gcp.projects.IAMCustomRole(
            f"{n}-velero-role", role_id=f"lfh_{self.platform.name.replace('-', '_')}_velero", project=self.project,
            title=f"Velero on {self.platform.name}", permissions=VELERO_PERMISSIONS, opts=self._opts())
        gcp.projects.IAMMember(f"{n}-velero-snapshots", project=self.project, role=role.name, member=member("velero"),
                               opts=self._opts())
        gcp.storage.BucketIAMMember(f"{n}-velero-bucket", bucket=self.bucket.name, role="roles/storage.objectAdmin",
                                    member=member("velero"), opts=self._opts())
        # Signed download URLs (`velero backup download/logs`) sign as itself, and only itself.
        gcp.serviceaccount.IAMMember(f"{n}-velero-sign", service_account_id=accounts["velero"].name,
                                     role="roles/iam.serviceAccountTokenCreator", member=member("velero"), opts=self._opts())
        # Longhorn: its prefix of the bucket only.
        gcp.storage.BucketIAMMember(
            f"{n}-longhorn-bucket", bucket=self.bucket.name, role="roles/storage.objectAdmin", member=member("longhorn"),
            condition=self.bucket.name.apply(lambda b: {
                "title": "longhorn-prefix", "description": "Longhorn backup target prefix",
                # Objects under the prefix, and listing the bucket with that prefix (storage.objects.list
                # is checked on the bucket; IAM Conditions attribute `storage.googleapis.com/objectListPrefix`).
                "expression": f'resource.name.startsWith("projects/_/buckets/{b}/objects/{LONGHORN_PREFIX}/") || '
                              f'(resource.name == "projects/_/buckets/{b}" && api.getAttribute('
                              f'"storage.googleapis.com/objectListPrefix", "").startsWith("{LONGHORN_PREFIX}/"))',
            }),
            opts=self._opts())
        # cert-manager: DNS-01 in the configured zones only.
        for i, zone in enumerate(cfg.dns_zones):
            gcp.dns.DnsManagedZoneIamMember(
                f"{n}-certmgr-zone-{i}", project=self.project, managed_zone=zone.managed_zone, role="roles/dns.admin",
                member=member("cert-manager"), opts=self._opts())

    def _longhorn_hmac(self) -> KeyedTarget:
        """Longhorn writes to GCS through the S3 interoperability API, which takes HMAC keys: one for
        Longhorn's service account (its bucket grant is limited to the `longhorn/` prefix), stored in
        Secret Manager as `platform/longhorn-backup` (components/cluster/backup_keys.py)."""
        email = self.bindings["longhorn"].annotations["iam.gke.io/gcp-service-account"]
        _, key = backup_keys.gcp_hmac_key(self, f"{self.name}-longhorn-hmac", service_account_email=email,
                                          project=self.project, provider=self.gcp)
        self.secret_writer(self, "platform/longhorn-backup", key)
        return KeyedTarget(secret_path="platform/longhorn-backup", properties=("accessKeyId", "secretAccessKey"),
                           bucket=self.bucket.name, endpoint=backup_keys.GCS_S3_ENDPOINT)

    # ------------------------------------------------------------ Kubernetes side

    def _kubernetes(self) -> None:
        user = {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "gke-gcloud-auth-plugin",
            "installHint": "Install gke-gcloud-auth-plugin: https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl",
            "provideClusterInfo": True,
            "interactiveMode": "Never",
        }}
        ca = self.cluster.master_auth.cluster_ca_certificate
        self.kubeconfig = kubeconfig_yaml(self.cluster.name, self.cluster.endpoint, ca, user)
        self.k8s = k8s.Provider(f"{self.name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
                                opts=pulumi.ResourceOptions(parent=self))
        sc = KubeObject(
            f"{self.name}-sc-{STORAGE_CLASS}", "storage.k8s.io/v1", "StorageClass",
            metadata={"name": STORAGE_CLASS, "labels": labels(STORAGE_CLASS, component="storage"),
                      # The cluster's one default class when Longhorn is off (else Longhorn's is).
                      "annotations": {DEFAULT_CLASS_ANNOTATION: str(self.platform.storage.use_cluster_storage_class).lower()}},
            provisioner="pd.csi.storage.gke.io",
            parameters={"type": "pd-balanced", "disk-encryption-kms-key": self.data_key.id},
            reclaimPolicy="Retain",
            volumeBindingMode="WaitForFirstConsumer",
            allowVolumeExpansion=True,
            opts=child_opts(self, self.k8s, depends_on=self.ready),
        )
        self.ready.append(sc)
