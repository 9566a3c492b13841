"""AKS on raw azure-native resources, following the AKS secure baseline; each choice says why."""
from __future__ import annotations

import base64
from typing import Any

import pulumi
import pulumi_azure_native as azure
import pulumi_kubernetes as k8s
import pulumi_random as random
import yaml

from lfh.config import PlatformConfig
from lfh.config.cluster import AzureCluster as AzureClusterConfig
from lfh.config.cluster import AzureNodePool
from lfh.names import fit
from lfh.node_setup import AKS_UBUNTU_SKUS, CRYPTSETUP, ISCSI, WHY

from ..k8s import DEFAULT_CLASS_ANNOTATION, KubeObject, child_opts, labels
from ._common import (
    service_account_ref,
    ADDON_SERVICE_ACCOUNTS,
    ARCHIVE_PREFIX,
    DAILY_PREFIX,
    data_opts,
    node_labels,
    scheduling,
    tags as base_tags,
)
from . import backup_keys, secret_writers
from .contract import BackupStorage, ClusterContract, KeyedTarget, NodePool, ServiceAccountBinding, SnapshotSupport

STORAGE_CLASS = "managed-csi-encrypted"
#: The StorageClasses AKS creates with the Azure Disk/Files CSI drivers; `default` is the default class
#: (AKS docs "Storage options: storage classes"). AKS lets it be changed (Azure/AKS CHANGELOG: "You can
#: now mutate the AKS default storage class").
BUILTIN_STORAGE_CLASSES = {"default": True, "managed-csi": False, "managed-csi-premium": False,
                           "azurefile-csi": False, "azurefile-csi-premium": False}
#: Delegation API Server VNet Integration needs on its subnet (AKS docs "API Server VNet Integration":
#: "delegate an API server subnet to Microsoft.ContainerService/managedClusters … minimum /28").
APISERVER_DELEGATION = "Microsoft.ContainerService/managedClusters"
BACKUP_CONTAINER = "velero"
#: The Entra ID application every AKS AAD cluster uses as token audience (kubelogin --server-id).
AKS_AAD_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
WORKLOAD_IDENTITY_AUDIENCE = "api://AzureADTokenExchange"
#: Storage SKUs that keep a copy in the paired region (Azure Storage redundancy docs: GRS/GZRS and read-access).
GEO_REDUNDANT = {"Standard_GRS", "Standard_RAGRS", "Standard_GZRS", "Standard_RAGZRS"}
#: Blob service log categories: every read, write and delete of a blob (Azure Blob Storage monitoring reference).
#: Private DNS zone of Key Vault private endpoints (Azure Private Endpoint DNS configuration).
KEY_VAULT_PRIVATE_ZONE = "privatelink.vaultcore.azure.net"
#: Control-plane log categories kept (audit of changes, API server, Entra ID sign-ins via guard).
AKS_LOG_CATEGORIES = ["kube-audit-admin", "kube-apiserver", "guard", "kube-controller-manager", "cluster-autoscaler"]

#: Built-in role definition ids (stable GUIDs, identical in every tenant).
ROLES = {
    "Key Vault Crypto User": "12338af0-0e69-4776-bea7-57ae8d297424",
    "Key Vault Crypto Service Encryption User": "e147488a-f6f5-4113-8e2d-b22465e65bf6",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Network Contributor": "4d97b98b-1d4f-4787-a291-c67834d212e7",
    "DNS Zone Contributor": "befefa01-2a29-4197-83a8-272ff33ce314",
    "Disk Snapshot Contributor": "7efff54f-a5b4-42b5-a1c5-5411624893ce",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "Key Vault Contributor": "f25e0fa2-a7c8-4377-a976-54943a77a395",
    "Azure Kubernetes Service RBAC Cluster Admin": "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b",
}


def _taint(t: Any) -> str:
    return f"{t.key}={t.value}:{t.effect}"


class AksCluster(pulumi.ComponentResource):
    """An AKS cluster with Entra ID + Azure RBAC, Key Vault KMS, workload identity and three pools."""

    contract: ClusterContract

    def __init__(self, name: str, platform: PlatformConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:cluster:AksCluster", name, None, opts)
        cfg: AzureClusterConfig = platform.cluster  # type: ignore[assignment]
        self.cfg, self.platform, self.name = cfg, platform, name
        self.tags = base_tags(platform)
        self.phi_tags = base_tags(platform, phi=True)
        client = azure.authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
        self.subscription_id = client.subscription_id
        self.tenant_id = client.tenant_id
        self.deployer_object_id = client.object_id
        # Key Vault and storage account names are global and Key Vault names stay reserved for the
        # soft-delete period: a short stable suffix lets a platform be re-created.
        self.suffix = random.RandomId(f"{name}-suffix", byte_length=3, opts=pulumi.ResourceOptions(parent=self)).hex
        short = "".join(c for c in platform.name if c.isalnum())[:12]
        self.rg = azure.resources.ResourceGroup(
            f"{name}-rg", resource_group_name=self.suffix.apply(lambda s: f"rg-lfh-{platform.name}-{s}"),
            location=cfg.location, tags=self.tags, opts=pulumi.ResourceOptions(parent=self))
        self._short = short

        self._network()
        self._key_vault()
        self.secret_writer = secret_writers.azure(platform.name, self.rg.name, self.vault.name, self.tags)
        self._storage()
        self._workspace()
        self._cluster()
        self._access_logs()
        self._addon_identities()
        self._kubernetes()

        cloud = {
            "kind": "azure",
            "region": cfg.location,
            "kmsKeyId": self.data_key.key_uri,
            "secretsPrefix": platform.name,
            "subscriptionId": self.subscription_id,
            "tenantId": self.tenant_id,
            "resourceGroup": self.rg.name,
            "oidcIssuer": self.oidc_issuer,
            "keyVaultName": self.vault.name,
            "keyVaultUri": self.vault.properties.vault_uri,
            "storageAccountName": self.account.name,
            "location": cfg.location,
            # Client environments put their key-based backup accounts behind the same subnet rule.
            "nodeSubnetId": self.subnet.id,
            # The blob service's diagnostic logs (every container, the clients' included) and where they are kept.
            "accessLogs": {"kind": "diagnostic-settings", "storageAccount": self.audit_account.name,
                           "retentionDays": cfg.access_logs.retention_days},
        }
        if self.storage_sku in GEO_REDUNDANT:
            # The clients' containers live in this account: geo-redundancy is their second copy.
            cloud["replication"] = {"kind": "geo-redundant-account", "sku": self.storage_sku}
        lb: dict[str, str] = {}
        if cfg.internal_load_balancer:
            lb["service.beta.kubernetes.io/azure-load-balancer-internal"] = "true"
        if cfg.static_ip_name:
            lb["service.beta.kubernetes.io/azure-pip-name"] = cfg.static_ip_name
        dns_solver = None
        if cfg.dns_zones:
            first = cfg.dns_zones[0]
            same = [z.name for z in cfg.dns_zones if (z.resource_group, z.subscription_id) == (first.resource_group, first.subscription_id)]
            dns_solver = {
                "selector": {"dnsZones": same},
                "dns01": {"azureDNS": {
                    "subscriptionID": first.subscription_id or self.subscription_id,
                    "resourceGroupName": first.resource_group,
                    "environment": "AzurePublicCloud",
                    # Workload identity of the cert-manager service account (no client secret).
                    "managedIdentity": {"clientID": self.identities["cert-manager"].client_id},
                }},
            }
        self.contract = ClusterContract(
            name=self.aks.name,
            kubernetes_version=platform.kubernetes_version,
            region=cfg.location,
            provider=self.k8s,
            kubeconfig=self.kubeconfig,
            backup=BackupStorage(
                flavour="azure-blob",
                bucket=self.container.name,
                region=cfg.location,
                kms_key_id=self.data_key.key_uri,
                extra={
                    "resourceGroup": self.rg.name,
                    "storageAccount": self.account.name,
                    "subscriptionId": self.subscription_id,
                    # Entra ID auth (shared keys are disabled on the account).
                    "useAAD": "true",
                    "storageAccountURI": self.account.primary_endpoints.blob,
                    "snapshotResourceGroup": self.rg.name,
                },
                keyed={"longhorn": self._longhorn_backup_account()},
            ),
            storage_class=STORAGE_CLASS,
            kms_key_id=self.data_key.key_uri,
            secret_store_provider={
                "azurekv": {
                    "authType": "WorkloadIdentity",
                    "vaultUrl": cloud["keyVaultUri"],
                    "serviceAccountRef": service_account_ref("external-secrets"),
                }
            },
            addon_identities=self.bindings,
            cloud=cloud,
            ready=self.ready,
            # AKS runs the snapshot CRDs and controller itself (storage profile, below); incremental
            # snapshots are the Azure Disk CSI driver's default on public cloud and keep the disk's
            # encryption (azuredisk-csi-driver deploy/example/snapshot/storageclass-azuredisk-snapshot.yaml).
            snapshots=SnapshotSupport(drivers={STORAGE_CLASS: "disk.csi.azure.com"}, controller="aks",
                                      parameters={"disk.csi.azure.com": {"incremental": "true"}}),
            secret_writer=self.secret_writer,
            dns01_solver=dns_solver,
            load_balancer_annotations=lb,
            scheduling=scheduling(cfg.node_pools),
            # Without VNet integration AKS's API server reaches pods (webhooks) through the konnectivity
            # agents in kube-system, so webhook calls arrive from those pods (AKS FAQ "How does the managed
            # control plane communicate with my nodes?"; tigera/operator#5212: the calls arrive with the
            # agents' pod addresses, labelled `app: konnectivity-agent`). With API Server VNet Integration
            # the API server is projected into the delegated subnet and calls nodes directly from there, no
            # tunnel (AKS docs "API Server VNet Integration").
            api_server_cidrs=[cfg.api_server_subnet_cidr] if self.vnet_integration else [],
            api_server_tunnel_pods=([] if self.vnet_integration
                                    else [{"namespace": "kube-system", "labels": {"app": "konnectivity-agent"}}]),
            node_cidrs=[cfg.node_subnet_cidr],
            node_pools=self.pool_facts,
            # metrics-server runs on every AKS cluster as a managed component (AKS docs "Metrics Server").
            metrics_api="AKS built-in metrics-server",
            builtin_storage_classes=dict(BUILTIN_STORAGE_CLASSES),
            log_agent="container-insights",
        )
        self.register_outputs({"clusterName": self.aks.name, "resourceGroup": self.rg.name, "oidcIssuer": self.oidc_issuer})

    # ------------------------------------------------------------ helpers

    def _opts(self, **kw: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kw)

    def _role(self, key: str, role: str, principal_id: pulumi.Input[str], scope: pulumi.Input[str],
              principal_type: str | None = "ServicePrincipal", **kw: Any) -> azure.authorization.RoleAssignment:
        return azure.authorization.RoleAssignment(
            f"{self.name}-ra-{key}",
            principal_id=principal_id,
            principal_type=principal_type,
            role_definition_id=self.subscription_id.apply(
                lambda s: f"/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{ROLES[role]}"),
            scope=scope,
            opts=self._opts(**kw))

    def _identity(self, key: str) -> azure.managedidentity.UserAssignedIdentity:
        return azure.managedidentity.UserAssignedIdentity(
            f"{self.name}-id-{key}", resource_group_name=self.rg.name, location=self.cfg.location,
            resource_name_=f"id-{self.platform.name}-{key}", tags=self.tags, opts=self._opts())

    # ------------------------------------------------------------ network

    @property
    def vnet_integration(self) -> bool:
        """API Server VNet Integration: needed when KMS reaches a private Key Vault."""
        return self.cfg.secrets_encryption and self.cfg.key_vault_network_access == "private"

    def _network(self) -> None:
        cfg, n = self.cfg, self.name
        self.vnet = azure.network.VirtualNetwork(
            f"{n}-vnet", resource_group_name=self.rg.name, location=cfg.location,
            virtual_network_name=f"vnet-{self.platform.name}",
            address_space={"address_prefixes": [cfg.vnet_cidr]}, tags=self.tags,
            # Subnets are managed as their own resources below.
            opts=self._opts(ignore_changes=["subnets"]))
        self.subnet = azure.network.Subnet(
            f"{n}-snet-nodes", resource_group_name=self.rg.name, virtual_network_name=self.vnet.name,
            subnet_name="nodes", address_prefix=cfg.node_subnet_cidr,
            # Service endpoints: Key Vault and the backup account accept traffic from the nodes only.
            service_endpoints=[{"service": "Microsoft.KeyVault"}, {"service": "Microsoft.Storage"}],
            # No implicit outbound IP: egress only through the cluster's load balancer.
            default_outbound_access=False,
            opts=self._opts())
        self.apiserver_subnet = None
        if self.vnet_integration:
            # API Server VNet Integration: the API server gets an internal IP in this delegated subnet, so
            # its calls to the (private) Key Vault for KMS come from our VNet (AKS docs: "If the cluster
            # has KMS enabled with a private key vault, it must use the API Server VNet Integration
            # tunnel; Konnectivity isn't supported" since 2024-09-15 for new subscriptions).
            self.apiserver_subnet = azure.network.Subnet(
                f"{n}-snet-apiserver", resource_group_name=self.rg.name, virtual_network_name=self.vnet.name,
                subnet_name="apiserver", address_prefix=cfg.api_server_subnet_cidr,
                delegations=[{"name": "aks-apiserver", "service_name": APISERVER_DELEGATION}],
                service_endpoints=[{"service": "Microsoft.KeyVault"}],
                default_outbound_access=False,
                # One subnet change at a time on a VNet (Azure serialises them).
                opts=self._opts(depends_on=[self.subnet]))

    # ------------------------------------------------------------ Key Vault

    def _key_vault(self) -> None:
        n = self.name
        self.vault = azure.keyvault.Vault(
            f"{n}-kv",
            resource_group_name=self.rg.name, location=self.cfg.location,
            vault_name=self.suffix.apply(lambda s: f"kv-{self._short}-{s}"),
            properties={
                "tenant_id": self.tenant_id,
                # Premium: keys are HSM-backed.
                "sku": {"family": "A", "name": "premium"},
                # RBAC instead of access policies: least privilege per identity and scope.
                "enable_rbac_authorization": True,
                "enable_soft_delete": True,
                "soft_delete_retention_in_days": 90,
                # Purge protection: a deleted key (and the data it encrypts) can always be recovered.
                "enable_purge_protection": True,
                # Nodes (External Secrets) and, with VNet Integration, the API server (KMS) only. With
                # `keyVaultNetworkAccess: public` every network: KMS over the public endpoint cannot pass a
                # firewall limited to selected networks (AKS KMS docs, "Limitations").
                "network_acls": {"default_action": "Allow" if self.cfg.key_vault_network_access == "public" else "Deny",
                                 "bypass": "AzureServices",
                                 "virtual_network_rules": [{"id": s.id} for s in (self.subnet, self.apiserver_subnet) if s is not None]},
                # The cluster reaches the vault through the private endpoint below, so nothing needs its public
                # endpoint: "Disabled" blocks all traffic but private endpoints and trusted services (the disk
                # encryption set, the storage account's CMK), whatever the firewall rules say (Key Vault network
                # security docs, publicNetworkAccess). Keys and secrets the stack writes go through ARM.
                "public_network_access": "Disabled" if self.vault_private else "Enabled",
            },
            tags=self.phi_tags, opts=data_opts(self))
        if self.vault_private:
            self._vault_private_endpoint()
        rotation = {
            "attributes": {"expiry_time": "P2Y"},
            "lifetime_actions": [
                {"trigger": {"time_after_create": "P1Y"}, "action": {"type": "rotate"}},
                {"trigger": {"time_before_expiry": "P30D"}, "action": {"type": "notify"}},
            ],
        }
        # Separate keys: etcd envelope encryption (AKS KMS needs RSA) and platform data (disks, backups).
        self.etcd_key = azure.keyvault.Key(
            f"{n}-key-etcd", resource_group_name=self.rg.name, vault_name=self.vault.name, key_name="aks-etcd",
            properties={"kty": "RSA-HSM", "key_size": 2048, "rotation_policy": rotation,
                        "key_ops": ["encrypt", "decrypt", "wrapKey", "unwrapKey"]},
            tags=self.tags, opts=data_opts(self))
        self.data_key = azure.keyvault.Key(
            f"{n}-key-data", resource_group_name=self.rg.name, vault_name=self.vault.name, key_name="platform-data",
            properties={"kty": "RSA-HSM", "key_size": 3072, "rotation_policy": rotation,
                        "key_ops": ["encrypt", "decrypt", "wrapKey", "unwrapKey"]},
            tags=self.phi_tags, opts=data_opts(self))
        # Customer-managed key for every managed disk (OS and the StorageClass's data disks).
        self.des = azure.compute.DiskEncryptionSet(
            f"{n}-des", resource_group_name=self.rg.name, location=self.cfg.location,
            disk_encryption_set_name=f"des-{self.platform.name}",
            identity={"type": "SystemAssigned"},
            encryption_type="EncryptionAtRestWithCustomerKey",
            active_key={"key_url": self.data_key.key_uri_with_version, "source_vault": {"id": self.vault.id}},
            rotation_to_latest_key_version_enabled=True,
            tags=self.tags, opts=data_opts(self))
        self.des_access = self._role("des-key", "Key Vault Crypto Service Encryption User",
                                     self.des.identity.principal_id,
                                     self.vault.id)

    @property
    def vault_private(self) -> bool:
        """Whether the cluster reaches Key Vault privately only (KMS `Private`, External Secrets on the nodes):
        not with `keyVaultNetworkAccess: public`, where KMS goes over the vault's public endpoint."""
        return self.cfg.key_vault_network_access == "private"

    def _vault_private_endpoint(self) -> None:
        """A private endpoint of the vault in the node subnet, resolvable through the privatelink zone linked
        to the VNet (Azure docs "Azure Private Endpoint DNS configuration": Key Vault uses
        privatelink.vaultcore.azure.net, group id `vault`)."""
        n = self.name
        zone = azure.privatedns.PrivateZone(
            f"{n}-kv-dns", resource_group_name=self.rg.name, private_zone_name=KEY_VAULT_PRIVATE_ZONE, location="global",
            tags=self.tags, opts=self._opts())
        azure.privatedns.VirtualNetworkLink(
            f"{n}-kv-dns-link", resource_group_name=self.rg.name, private_zone_name=zone.name,
            virtual_network_link_name=f"{self.platform.name}-vnet", location="global",
            virtual_network={"id": self.vnet.id}, registration_enabled=False, tags=self.tags, opts=self._opts())
        endpoint = azure.network.PrivateEndpoint(
            f"{n}-kv-endpoint", resource_group_name=self.rg.name, location=self.cfg.location,
            private_endpoint_name=f"pe-kv-{self.platform.name}", subnet={"id": self.subnet.id},
            private_link_service_connections=[{"name": "vault", "private_link_service_id": self.vault.id, "group_ids": ["vault"]}],
            tags=self.tags, opts=self._opts())
        azure.network.PrivateDnsZoneGroup(
            f"{n}-kv-endpoint-dns", resource_group_name=self.rg.name, private_endpoint_name=endpoint.name,
            private_dns_zone_group_name="default",
            private_dns_zone_configs=[{"name": "vault", "private_dns_zone_id": zone.id}], opts=self._opts())

    # ------------------------------------------------------------ storage (backups)

    def _storage(self) -> None:
        n, b = self.name, self.cfg.backup
        ident = self._identity("storage")
        key_access = self._role("storage-key", "Key Vault Crypto Service Encryption User", ident.principal_id, self.vault.id)
        self.storage_identity, self.storage_key_access = ident, key_access
        redundancy = self.cfg.storage_redundancy or ("GZRS" if self.platform.environment.is_production else "ZRS")
        # Zone-redundant in the region; on production also copied to the paired region (ZRS -> GZRS is an
        # in-place conversion, Azure Storage "Change how a storage account is replicated").
        self.storage_sku = f"Standard_{redundancy}"
        self.account = azure.storage.StorageAccount(
            f"{n}-backups",
            resource_group_name=self.rg.name, location=self.cfg.location,
            account_name=self.suffix.apply(lambda s: f"lfh{self._short}bk{s}"),
            kind="StorageV2", sku={"name": self.storage_sku}, access_tier="Hot",
            identity={"type": "UserAssigned", "user_assigned_identities": [ident.id]},
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            allow_blob_public_access=b.disable_public_access_block,
            # Entra ID only: no account keys, no SAS signed with them (weaker only via allowSharedKeyAccess).
            allow_shared_key_access=self.cfg.allow_shared_key_access,
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            network_rule_set={"default_action": "Deny", "bypass": "AzureServices",
                              "virtual_network_rules": [{"virtual_network_resource_id": self.subnet.id}]},
            encryption={
                "key_source": "Microsoft.Keyvault",
                "key_vault_properties": {"key_name": self.data_key.name,
                                         "key_vault_uri": self.vault.properties.vault_uri},
                "encryption_identity": {"encryption_user_assigned_identity": ident.id},
                # Double encryption: infrastructure layer too.
                "require_infrastructure_encryption": True,
                "services": {"blob": {"enabled": True, "key_type": "Account"}},
            },
            tags=self.phi_tags,
            opts=data_opts(self, depends_on=[key_access]))
        azure.storage.BlobServiceProperties(
            f"{n}-backups-blob", resource_group_name=self.rg.name, account_name=self.account.name, blob_services_name="default",
            is_versioning_enabled=True,
            delete_retention_policy={"enabled": True, "days": b.noncurrent_expire_days},
            container_delete_retention_policy={"enabled": True, "days": b.noncurrent_expire_days},
            opts=self._opts())
        # No immutability policy on Velero's container: Velero rewrites and deletes its own objects.
        self.container = azure.storage.BlobContainer(
            f"{n}-backups-container", resource_group_name=self.rg.name, account_name=self.account.name,
            container_name=BACKUP_CONTAINER, public_access="None", opts=data_opts(self))
        archive_actions: dict[str, Any] = {
            "tier_to_cool": {"days_after_modification_greater_than": b.archive_transition_days},
            "delete": {"days_after_modification_greater_than": b.archive_expire_days},
        }
        cold_after = max(b.archive_transition_days + 30, 30)
        if cold_after < b.archive_expire_days:
            # Cool, then Cold: both online tiers, readable at once (Archive would need hours of rehydration).
            archive_actions["tier_to_cold"] = {"days_after_modification_greater_than": cold_after}
        azure.storage.ManagementPolicy(
            f"{n}-backups-lifecycle", resource_group_name=self.rg.name, account_name=self.account.name,
            management_policy_name="default",
            policy={"rules": [
                {"name": "daily-expire", "enabled": True, "type": "Lifecycle", "definition": {
                    "filters": {"blob_types": ["blockBlob"], "prefix_match": [f"{BACKUP_CONTAINER}/{DAILY_PREFIX}/"]},
                    "actions": {"base_blob": {"delete": {"days_after_modification_greater_than": b.daily_expire_days}}}}},
                {"name": "archive-tier", "enabled": True, "type": "Lifecycle", "definition": {
                    "filters": {"blob_types": ["blockBlob"], "prefix_match": [f"{BACKUP_CONTAINER}/{ARCHIVE_PREFIX}/"]},
                    "actions": {"base_blob": archive_actions}}},
                {"name": "noncurrent-expire", "enabled": True, "type": "Lifecycle", "definition": {
                    "filters": {"blob_types": ["blockBlob"]},
                    "actions": {"version": {"delete": {"days_after_creation_greater_than": b.noncurrent_expire_days}}}}},
            ]},
            opts=self._opts())

    def _longhorn_backup_account(self) -> KeyedTarget:
        """Longhorn's own key-based backup account (components/cluster/backup_keys.py says why), its
        newest key stored in Key Vault as `platform/longhorn-backup`."""
        b = self.cfg.backup
        account, container, key = backup_keys.azure_keyed_account(
            self, f"{self.name}-longhorn-backups", subscription_id=self.subscription_id, resource_group=self.rg.name,
            location=self.cfg.location, account_name=self.suffix.apply(lambda s: f"lfh{self._short}lh{s}"),
            container="longhorn", subnet_id=self.subnet.id, vault_id=self.vault.id,
            vault_uri=self.vault.properties.vault_uri, key_name=self.data_key.name, tags=self.phi_tags,
            soft_delete_days=b.noncurrent_expire_days, sku=self.storage_sku,
            access_log_account_id=self.audit_account.id, access_log_workspace_id=self.workspace.id)
        self.secret_writer(self, "platform/longhorn-backup", key)
        return KeyedTarget(secret_path="platform/longhorn-backup", properties=("accountName", "accountKey"),
                           bucket=container.name, account=account.name)

    # ------------------------------------------------------------ cluster

    def _pool(self, pool_name: str, pool: AzureNodePool) -> dict[str, Any]:
        return {
            "vm_size": pool.vm_size,
            "enable_auto_scaling": True,
            "min_count": pool.min_count,
            "max_count": pool.max_count,
            "count": pool.min_count,
            "availability_zones": ["1", "2", "3"],
            # Host encryption: temp disks and caches encrypted too (not only managed disks).
            "enable_encryption_at_host": True,
            "enable_node_public_ip": False,
            "os_disk_size_gb": pool.os_disk_size_gb,
            # Explicit: AKS would otherwise pick per VM size, and the type cannot change after creation.
            "os_disk_type": pool.os_disk_type,
            "os_type": "Linux",
            # Ubuntu ships open-iscsi and cryptsetup, which Longhorn needs (lfh/node_setup.py).
            "os_sku": pool.os_sku,
            "type": "VirtualMachineScaleSets",
            "vnet_subnet_id": self.subnet.id,
            "max_pods": 110,
            "node_labels": node_labels(pool_name, pool),
            "node_taints": [_taint(t) for t in pool.taints],
            "upgrade_settings": {"max_surge": "33%"},
            "tags": {**self.tags, "lfh:pool": pool_name},
        }

    def _cluster(self) -> None:
        cfg, n = self.cfg, self.name
        self.cluster_identity = self._identity("aks")
        principal = self.cluster_identity.principal_id
        prereqs = [
            # KMS: the control plane wraps etcd's DEKs with the Key Vault key; with a private vault
            # AKS also manages the private link to it (documented requirement for "Private" access).
            self._role("aks-kms", "Key Vault Crypto User", principal, self.vault.id),
            self._role("aks-kms-private", "Key Vault Contributor", principal, self.vault.id),
            # Joins nodes/LBs to our subnet.
            self._role("aks-network", "Network Contributor", principal, self.subnet.id),
            # Uses the disk encryption set for node and PVC disks.
            self._role("aks-des", "Reader", principal, self.des.id),
            # The disk encryption set can only encrypt the first OS disk once its own identity may use
            # the key (Azure docs "Server-side encryption: customer-managed keys": grant the DES access
            # to the vault before creating disks with it).
            self.des_access,
        ]
        if self.apiserver_subnet is not None:
            # "The cluster identity needs permissions to both the API server subnet and the node subnet"
            # (AKS docs, API Server VNet Integration).
            prereqs.append(self._role("aks-apiserver-network", "Network Contributor", principal, self.apiserver_subnet.id))
        system = self._pool("system", cfg.node_pools.system)
        system.update({"name": "system", "mode": "System"})
        security: dict[str, Any] = {
            "workload_identity": {"enabled": True},
            "image_cleaner": {"enabled": True, "interval_hours": 168},
        }
        if cfg.secrets_encryption:
            security["azure_key_vault_kms"] = {
                "enabled": True,
                "key_id": self.etcd_key.key_uri_with_version,
                # Private: the vault only admits our VNet, which the API server joins (VNet Integration).
                "key_vault_network_access": "Private" if self.vnet_integration else "Public",
                "key_vault_resource_id": self.vault.id,
            }
        api: dict[str, Any] = {"enable_private_cluster": not cfg.api.public, "disable_run_command": True}
        if self.apiserver_subnet is not None:
            api.update({"enable_vnet_integration": True, "subnet_id": self.apiserver_subnet.id})
        if cfg.api.public:
            api["authorized_ip_ranges"] = list(cfg.api.public_access_cidrs)
        self.aks = azure.containerservice.ManagedCluster(
            f"{n}-aks",
            resource_group_name=self.rg.name, location=cfg.location,
            resource_name_=self.suffix.apply(lambda s: f"aks-{self.platform.name}-{s}"),
            dns_prefix=f"{self.platform.name}",
            kubernetes_version=self.platform.kubernetes_version,
            sku={"name": "Base", "tier": cfg.sku_tier},
            identity={"type": "UserAssigned", "user_assigned_identities": [self.cluster_identity.id]},
            # Entra ID sign-in with Azure RBAC; no static local admin credentials.
            aad_profile={"managed": True, "enable_azure_rbac": True, "tenant_id": self.tenant_id,
                         "admin_group_object_ids": list(cfg.admin_group_object_ids)},
            disable_local_accounts=True,
            enable_rbac=True,
            api_server_access_profile=api,
            security_profile=security,
            oidc_issuer_profile={"enabled": True},
            disk_encryption_set_id=self.des.id,
            # Velero's CSI snapshots need the snapshot CRDs and controller, which AKS runs when the storage
            # profile's snapshot controller is enabled (ManagedClusterStorageProfileSnapshotController:
            # "The default value is true"); said explicitly so the plan can check it.
            storage_profile={"disk_csi_driver": {"enabled": True}, "snapshot_controller": {"enabled": True}},
            network_profile={
                "network_plugin": "azure", "network_plugin_mode": "overlay",
                # Cilium dataplane enforces NetworkPolicy.
                "network_dataplane": "cilium", "network_policy": "cilium",
                "pod_cidr": cfg.pod_cidr, "service_cidr": cfg.service_cidr, "dns_service_ip": cfg.dns_service_ip,
                "load_balancer_sku": "standard", "outbound_type": "loadBalancer",
            },
            agent_pool_profiles=[system],
            auto_upgrade_profile={"upgrade_channel": cfg.upgrade_channel, "node_os_upgrade_channel": "NodeImage"},
            # Named explicitly and kept within 80 characters: the generated `MC_<rg>_<cluster>_<location>`
            # grows with platform and region names. Nobody edits it by hand.
            node_resource_group=self.suffix.apply(lambda s: fit(f"rg-lfh-{self.platform.name}-{s}-nodes", 80)),
            node_resource_group_profile={"restriction_level": "ReadOnly"},
            # Container Insights: the monitoring agent ships every container's log to the platform workspace
            # (managed-identity auth; what it collects is the data collection rule's, `_workload_logs`).
            addon_profiles={"omsagent": {"enabled": True, "config": {
                "logAnalyticsWorkspaceResourceID": self.workspace.id, "useAADAuth": "true"}}},
            tags=self.tags,
            opts=data_opts(self, depends_on=prereqs, ignore_changes=["agentPoolProfiles[0].count"]),
        )
        self.oidc_issuer = self.aks.oidc_issuer_profile.issuer_url
        self._audit_logs()
        self._workload_logs()
        self.pools: list[pulumi.Resource] = []
        for pool_name in ("apps", "db"):
            pool = self._pool(pool_name, getattr(cfg.node_pools, pool_name))
            self.pools.append(azure.containerservice.AgentPool(
                f"{n}-pool-{pool_name}", resource_group_name=self.rg.name, resource_name_=self.aks.name,
                agent_pool_name=pool_name, mode="User", **pool, opts=self._opts(ignore_changes=["count"])))
        self.pool_facts = [self._pool_facts(pool_name, resource) for pool_name, resource
                           in zip(("system", "apps", "db"), [self.aks, *self.pools], strict=True)]
        # The deployer (this Pulumi run) needs cluster-admin through Azure RBAC to install the platform.
        # (The deployer may be a user or a service principal: the type is left for Azure to resolve.)
        self._role("deployer-admin", "Azure Kubernetes Service RBAC Cluster Admin", self.deployer_object_id, self.aks.id,
                   principal_type=None)
        self.ready: list[pulumi.Resource] = [self.aks, *self.pools]

    def _pool_facts(self, pool_name: str, resource: pulumi.Resource) -> NodePool:
        pool: AzureNodePool = getattr(self.cfg.node_pools, pool_name)
        image = ({ISCSI: f"AKS {pool.os_sku} node image ({WHY[ISCSI]})", CRYPTSETUP: f"AKS {pool.os_sku} node image"}
                 if pool.os_sku in AKS_UBUNTU_SKUS else {})
        return NodePool(name=pool_name, labels=node_labels(pool_name, pool),
                        taints=[{"key": t.key, "value": t.value, "effect": t.effect} for t in pool.taints],
                        min_nodes=pool.min_count, max_nodes=pool.max_count,
                        # enableAutoScaling on every pool (`_pool`): AKS's own cluster autoscaler.
                        autoscaler="AKS cluster autoscaler", provides=image, resource=resource)

    def _workspace(self) -> None:
        """The platform's Log Analytics workspace (control-plane audit and container logs), before the cluster."""
        self.workspace = azure.operationalinsights.Workspace(
            f"{self.name}-logs", resource_group_name=self.rg.name, location=self.cfg.location,
            workspace_name=self.suffix.apply(lambda s: f"log-{self.platform.name}-{s}"),
            sku={"name": "PerGB2018"}, retention_in_days=self.cfg.log_retention_days,
            tags=self.tags, opts=data_opts(self))

    def _workload_logs(self) -> None:
        """Container insights' data collection rule (container logs of every namespace, ContainerLogV2) and
        the ContainerLogV2 table kept `logging.retentionDays` (Azure Monitor docs, "Enable monitoring for
        AKS clusters", ARM template with managed identity: DCR kind Linux, extension ContainerInsights,
        stream Microsoft-ContainerInsights-Group-Default; table retention: interactive ≤ 730 days, total
        up to 4383)."""
        n, days = self.name, self.platform.logging.retention_days
        self.container_log_table = azure.operationalinsights.Table(
            f"{n}-containerlogv2", resource_group_name=self.rg.name, workspace_name=self.workspace.name,
            table_name="ContainerLogV2", retention_in_days=min(days, 730), total_retention_in_days=days,
            opts=self._opts(depends_on=[self.workspace]))
        stream = "Microsoft-ContainerInsights-Group-Default"
        dcr = azure.monitor.DataCollectionRule(
            f"{n}-container-insights", resource_group_name=self.rg.name, location=self.cfg.location,
            data_collection_rule_name=f"MSCI-{self.cfg.location}-{self.platform.name}", kind="Linux",
            description="Container Insights: every container's log (apps, gateway access log) to the platform workspace",
            data_sources={"extensions": [{
                "name": "ContainerInsightsExtension", "streams": [stream], "extension_name": "ContainerInsights",
                "extension_settings": {"dataCollectionSettings": {
                    "interval": "1m", "namespaceFilteringMode": "Off", "enableContainerLogV2": True}}}]},
            destinations={"log_analytics": [{"workspace_resource_id": self.workspace.id, "name": "platform-workspace"}]},
            data_flows=[{"streams": [stream], "destinations": ["platform-workspace"]}],
            tags=self.tags, opts=self._opts(depends_on=[self.container_log_table]))
        azure.monitor.DataCollectionRuleAssociation(
            f"{n}-container-insights-association", association_name="ContainerInsightsExtension",
            resource_uri=self.aks.id, data_collection_rule_id=dcr.id, opts=self._opts())

    def _audit_logs(self) -> None:
        """Control-plane audit (admin actions, Entra ID sign-ins) kept `logRetentionDays` in the workspace."""
        n = self.name
        azure.monitor.DiagnosticSetting(
            f"{n}-aks-diagnostics", name="lfh-control-plane", resource_uri=self.aks.id, workspace_id=self.workspace.id,
            log_analytics_destination_type="Dedicated",
            logs=[{"category": c, "enabled": True} for c in AKS_LOG_CATEGORIES],
            opts=self._opts())

    # ------------------------------------------------------------ access logs (HIPAA 164.312(b))

    def _access_logs(self) -> None:
        """Every read, write and delete of a blob in the backup account (the clients' containers live there too):
        the blob service's diagnostic logs, kept `accessLogs.retentionDays` in an archive account encrypted with
        the platform data key, and queryable in the platform workspace for `logRetentionDays`.

        An archive account, not the workspace alone: a Log Analytics workspace takes a customer-managed key only
        through a dedicated cluster (a 100 GB/day commitment tier), and keeps data interactively for 730 days
        at most. The logs cannot go to the account they describe (Azure Blob Storage monitoring docs,
        destination limitations). Azure Monitor writes through the trusted-service exception of the firewall
        (MicrosoftDocs/azure-docs#64844: "Allow trusted Microsoft Services"), with shared keys off as in Azure's
        own diagnostics accounts (Azure/missionlz#1094, azure-quickstart-templates#14560)."""
        n, retention = self.name, self.cfg.access_logs.retention_days
        self.audit_account = azure.storage.StorageAccount(
            f"{n}-audit",
            resource_group_name=self.rg.name, location=self.cfg.location,
            account_name=self.suffix.apply(lambda s: f"lfh{self._short}au{s}"),
            # As redundant as the data it describes (geo-redundant on production platforms).
            kind="StorageV2", sku={"name": self.storage_sku}, access_tier="Cool",
            identity={"type": "UserAssigned", "user_assigned_identities": [self.storage_identity.id]},
            enable_https_traffic_only=True, minimum_tls_version="TLS1_2", allow_blob_public_access=False,
            allow_shared_key_access=False, default_to_o_auth_authentication=True, allow_cross_tenant_replication=False,
            public_network_access="Disabled",
            network_rule_set={"default_action": "Deny", "bypass": "AzureServices"},
            encryption={
                "key_source": "Microsoft.Keyvault",
                "key_vault_properties": {"key_name": self.data_key.name, "key_vault_uri": self.vault.properties.vault_uri},
                "encryption_identity": {"encryption_user_assigned_identity": self.storage_identity.id},
                "require_infrastructure_encryption": True,
                "services": {"blob": {"enabled": True, "key_type": "Account"}},
            },
            tags=self.tags,
            opts=data_opts(self, depends_on=[self.storage_key_access]))
        azure.storage.BlobServiceProperties(
            f"{n}-audit-blob", resource_group_name=self.rg.name, account_name=self.audit_account.name,
            blob_services_name="default", is_versioning_enabled=True,
            delete_retention_policy={"enabled": True, "days": 30},
            container_delete_retention_policy={"enabled": True, "days": 30},
            opts=self._opts())
        azure.storage.ManagementPolicy(
            f"{n}-audit-lifecycle", resource_group_name=self.rg.name, account_name=self.audit_account.name,
            management_policy_name="default",
            policy={"rules": [{"name": "access-log-retention", "enabled": True, "type": "Lifecycle", "definition": {
                # Azure Monitor writes each category to a container `insights-logs-<category>`.
                "filters": {"blob_types": ["appendBlob", "blockBlob"], "prefix_match": ["insights-logs-"]},
                "actions": {"base_blob": {"delete": {"days_after_modification_greater_than": retention}},
                            "version": {"delete": {"days_after_creation_greater_than": retention}}}}}]},
            opts=self._opts())
        azure.monitor.DiagnosticSetting(
            f"{n}-blob-access-logs", name="lfh-blob-access",
            resource_uri=self.account.id.apply(lambda a: f"{a}/blobServices/default"),
            storage_account_id=self.audit_account.id, workspace_id=self.workspace.id,
            log_analytics_destination_type="Dedicated",
            logs=[{"category": c, "enabled": True} for c in backup_keys.BLOB_LOG_CATEGORIES],
            opts=self._opts())

    # ------------------------------------------------------------ workload identity

    def _addon_identities(self) -> None:
        cfg = self.cfg
        self.bindings: dict[str, ServiceAccountBinding] = {}
        self.identities: dict[str, azure.managedidentity.UserAssignedIdentity] = {}
        container_scope = pulumi.Output.all(self.account.id, self.container.name).apply(
            lambda a: f"{a[0]}/blobServices/default/containers/{a[1]}")
        grants: dict[str, list[tuple[str, pulumi.Input[str]]]] = {
            # The vault is this platform's alone: read its secrets, nothing else.
            "external-secrets": [("Key Vault Secrets User", self.vault.id)],
            # Its container, and disk snapshots in the platform resource group.
            "velero": [("Storage Blob Data Contributor", container_scope), ("Disk Snapshot Contributor", self.rg.id)],
            # No identity for Longhorn: its Azure Blob backup store authenticates with the storage
            # account key only (longhorn/backupstore azblob/azblob_service.go builds a connection
            # string from AZBLOB_ACCOUNT_NAME/AZBLOB_ACCOUNT_KEY), so a federated identity would be an
            # unused grant on the backup container. The platform passes it the key from Key Vault.
        }
        if cfg.dns_zones:
            grants["cert-manager"] = [
                ("DNS Zone Contributor", self.subscription_id.apply(
                    lambda s, z=z: f"/subscriptions/{z.subscription_id or s}/resourceGroups/{z.resource_group}"
                                   f"/providers/Microsoft.Network/dnszones/{z.name}"))
                for z in cfg.dns_zones
            ]
        for addon, roles in grants.items():
            ns, sa = ADDON_SERVICE_ACCOUNTS[addon]
            ident = self._identity(addon)
            self.identities[addon] = ident
            # Only this service account, through this cluster's issuer, may use the identity.
            azure.managedidentity.FederatedIdentityCredential(
                f"{self.name}-fic-{addon}", resource_group_name=self.rg.name, resource_name_=ident.name,
                federated_identity_credential_resource_name=f"{self.platform.name}-{addon}",
                issuer=self.oidc_issuer, subject=f"system:serviceaccount:{ns}:{sa}",
                audiences=[WORKLOAD_IDENTITY_AUDIENCE], opts=self._opts())
            for i, (role, scope) in enumerate(roles):
                self._role(f"{addon}-{i}", role, ident.principal_id, scope)
            self.bindings[addon] = ServiceAccountBinding(
                namespace=ns, service_account=sa,
                annotations={"azure.workload.identity/client-id": ident.client_id,
                             "azure.workload.identity/tenant-id": self.tenant_id},
                pod_labels={"azure.workload.identity/use": "true"})

    # ------------------------------------------------------------ Kubernetes side

    def _kubernetes(self) -> None:
        creds = azure.containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=self.rg.name, resource_name=self.aks.name, format="exec",
            opts=pulumi.InvokeOutputOptions(parent=self))

        def render(result: Any) -> str:
            value = result.kubeconfigs[0].value
            doc = yaml.safe_load(base64.b64decode(value).decode())
            # kubelogin turns the Entra ID login into a token; AAD_LOGIN_METHOD (azurecli, workloadidentity,
            # spn) selects how, so CI and humans share one kubeconfig. No static credentials inside.
            for user in doc.get("users", []):
                user["user"] = {"exec": {
                    "apiVersion": "client.authentication.k8s.io/v1beta1",
                    "command": "kubelogin",
                    "args": ["get-token", "--login", "azurecli", "--server-id", AKS_AAD_SERVER_APP_ID],
                    "interactiveMode": "Never",
                    "provideClusterInfo": False,
                }}
            return yaml.safe_dump(doc, sort_keys=False)

        self.kubeconfig = pulumi.Output.secret(creds.apply(render))
        self.k8s = k8s.Provider(f"{self.name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
                                opts=pulumi.ResourceOptions(parent=self))
        sc = KubeObject(
            f"{self.name}-sc-{STORAGE_CLASS}", "storage.k8s.io/v1", "StorageClass",
            metadata={"name": STORAGE_CLASS, "labels": labels(STORAGE_CLASS, component="storage"),
                      # The cluster's one default class when Longhorn is off (else Longhorn's is).
                      "annotations": {DEFAULT_CLASS_ANNOTATION: str(self.platform.storage.use_cluster_storage_class).lower()}},
            provisioner="disk.csi.azure.com",
            parameters={
                "skuName": "Premium_ZRS",
                # Customer-managed key through the disk encryption set.
                "diskEncryptionSetID": self.des.id,
                "diskEncryptionType": "EncryptionAtRestWithCustomerKey",
                # No SAS export/import of disks.
                "networkAccessPolicy": "DenyAll",
                "publicNetworkAccess": "Disabled",
            },
            reclaimPolicy="Retain",
            volumeBindingMode="WaitForFirstConsumer",
            allowVolumeExpansion=True,
            opts=child_opts(self, self.k8s, depends_on=self.ready),
        )
        self.ready.append(sc)
