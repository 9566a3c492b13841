"""Azure: user-assigned identities with federated credentials, Blob containers with a CMK encryption
scope, Key Vault secrets with secret-level role assignments.

Key Vault RBAC cannot scope a role to a name prefix: a role at vault scope would let one client
environment read every other's secrets. So each generated secret gets its own role assignment
(scope `<vault>/secrets/<name>`) for this environment's SecretStore identity only. Secrets an
operator adds by hand need the same per-secret assignment (see docs).
"""
from __future__ import annotations

from typing import Any, Optional

import pulumi

from ..cluster.backup_keys import azure_keyed_account
from ..cluster.contract import ServiceAccountBinding
from ..sdk import SdkResource
from .base import DATA_CLASSIFICATION, BackupTarget, BucketInfo, CloudAdapter

#: Built-in role ids (stable across tenants).
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
#: Audience AKS workload identity tokens are exchanged for.
TOKEN_AUDIENCE = "api://AzureADTokenExchange"


class AzureAdapter(CloudAdapter):
    kind = "azure"

    def __init__(self, ctx, parent):
        super().__init__(ctx, parent)
        self.require("subscriptionId", "tenantId", "resourceGroup", "oidcIssuer", "keyVaultName", "keyVaultUri",
                     "storageAccountName", "kmsKeyId")
        self.subscription = str(self.cloud["subscriptionId"])
        self.resource_group = str(self.cloud["resourceGroup"])
        self.location = str(self.cloud.get("location") or self.cloud.get("region") or "")
        issuer = str(self.cloud["oidcIssuer"])
        self.issuer = issuer if issuer.startswith("https://") else f"https://{issuer}"
        for part in (self.platform, ctx.config.name):
            if "--" in part:
                # "--" separates path segments in Key Vault secret names.
                raise pulumi.RunError(f"names containing '--' cannot be mapped to Key Vault secret names: {part!r}")

    def _make_provider(self):
        import pulumi_azure_native as azure_native

        return azure_native.Provider(
            f"{self.prefix}-azure",
            subscription_id=self.subscription,
            tenant_id=str(self.cloud["tenantId"]),
            location=self.location or None,
            opts=pulumi.ResourceOptions(parent=self.parent),
        )

    def _role(self, role_id: str) -> str:
        return f"/subscriptions/{self.subscription}/providers/Microsoft.Authorization/roleDefinitions/{role_id}"

    @property
    def vault_id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.KeyVault/vaults/{self.cloud['keyVaultName']}")

    @property
    def storage_account_id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.Storage/storageAccounts/{self.cloud['storageAccountName']}")

    # ------------------------------------------------------------------ identity
    def workload_identity(self, name: str, service_account: str, *, read_secret_prefix: Optional[str] = None,
                          bucket: Optional[BucketInfo] = None, drill_copy: bool = False) -> ServiceAccountBinding:
        ns = self.ctx.namespace
        identity = SdkResource("azure-native:managedidentity:UserAssignedIdentity", f"{self.prefix}-{name}-identity", {
            "resourceGroupName": self.resource_group,
            "location": self.location or None,
            "resourceName": self.short_name("lfh", self.ctx.platform.platform, ns, name, limit=128),
            "tags": self.tags,
        }, self.opts())
        # Exactly one service account of one namespace (and of the restore drill's copy when asked).
        for where, suffix in [(ns, "federation")] + ([(self.ctx.drill_namespace, "drill-federation")] if drill_copy else []):
            SdkResource("azure-native:managedidentity:FederatedIdentityCredential", f"{self.prefix}-{name}-{suffix}", {
                "resourceGroupName": self.resource_group,
                "resourceName": identity.name,
                "federatedIdentityCredentialResourceName": self.short_name(where, service_account, limit=120),
                "issuer": self.issuer,
                "subject": f"system:serviceaccount:{where}:{service_account}",
                "audiences": [TOKEN_AUDIENCE],
            }, self.opts())
        binding = ServiceAccountBinding(
            namespace=ns,
            service_account=service_account,
            annotations={"azure.workload.identity/client-id": identity.clientId,
                         "azure.workload.identity/tenant-id": str(self.cloud["tenantId"])},
            pod_labels={"azure.workload.identity/use": "true"},
        )
        binding._principal_id = identity.principalId  # type: ignore[attr-defined]
        binding._name = name  # type: ignore[attr-defined]
        if read_secret_prefix:
            # Granted per secret in write_secret (Key Vault cannot scope a role to a prefix).
            self.secret_readers.append(binding)
        if bucket is not None and bucket.resource is not None:
            SdkResource("azure-native:authorization:RoleAssignment", f"{self.prefix}-{name}-blob-access", {
                "principalId": identity.principalId,
                "principalType": "ServicePrincipal",
                "roleDefinitionId": self._role(STORAGE_BLOB_DATA_CONTRIBUTOR),
                # The client's own container only, not the storage account.
                "scope": bucket.resource.id,
                "description": f"{ns}/{service_account}: read/write its bucket",
            }, self.opts())
        return binding

    # ------------------------------------------------------------------ buckets
    def bucket(self, name: str, *, noncurrent_version_days: int = 30, replicate: bool = False) -> BucketInfo:
        account = str(self.cloud["storageAccountName"])
        # A per-client encryption scope with the platform CMK: the container's blobs are encrypted
        # with it and writers cannot override it. Versioning, TLS ≥ 1.2 only, no public network and
        # no shared-key access are storage-account settings owned by the platform stack, and so are the second
        # copy (``replicate``: the account is geo-redundant) and the access logs (the account's diagnostic logs).
        scope_name = self.short_name(self.ctx.config.name, self.ctx.environment, name, limit=63).replace("-", "")
        scope = SdkResource("azure-native:storage:EncryptionScope", f"{self.prefix}-{name}-encryption", {
            "resourceGroupName": self.resource_group,
            "accountName": account,
            "encryptionScopeName": scope_name,
            "source": "Microsoft.KeyVault",
            "keyVaultProperties": {"keyUri": str(self.cloud["kmsKeyId"])},
            "requireInfrastructureEncryption": True,
            "state": "Enabled",
        }, self.opts(protect=True, retain=True))
        container_name = self.short_name(self.ctx.config.name, self.ctx.environment, name, limit=63)
        container = SdkResource("azure-native:storage:BlobContainer", f"{self.prefix}-{name}", {
            "resourceGroupName": self.resource_group,
            "accountName": account,
            "containerName": container_name,
            "publicAccess": "None",
            "defaultEncryptionScope": scope.name,
            "denyEncryptionScopeOverride": True,
            "metadata": {k.replace(":", "_").replace("-", "_"): v for k, v in {**self.tags, **DATA_CLASSIFICATION}.items()},
        }, self.opts(protect=True, retain=True, depends_on=[scope]))
        endpoint = f"https://{account}.blob.core.windows.net"
        return BucketInfo(name=container.name, region=self.location, endpoint=endpoint,
                          public_url=f"{endpoint}/{container_name}", resource=container,
                          api="azure-blob", app_env={"AZURE_STORAGE_ACCOUNT": account})

    # ------------------------------------------------------------------ secrets
    def _secret_name(self, key: str) -> str:
        # Key Vault names allow letters, digits and '-': '--' stands for '/'.
        return self.secret_path(key).replace("/", "--")

    def remote_key(self, key: str) -> str:
        return self._secret_name(key)

    def declare_secret(self, key: str, description: str) -> pulumi.Resource:
        # Key Vault needs a value at creation: an empty JSON object, which an operator replaces
        # (`az keyvault secret set`); the stack ignores the value from then on.
        return self.write_secret(key, "{}", content_type="application/json", ignore_value=True)

    def write_secret(self, key: str, value: pulumi.Input[str], *, content_type: str = "text/plain",
                     ignore_value: bool = False) -> pulumi.Resource:
        name = self._secret_name(key)
        opts = self.opts(protect=True, additional_secret_outputs=["properties"])
        if ignore_value:
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(ignore_changes=["properties.value"]))
        secret = SdkResource("azure-native:keyvault:Secret", f"{self.prefix}-{key}", {
            "resourceGroupName": self.resource_group,
            "vaultName": str(self.cloud["keyVaultName"]),
            "secretName": name,
            "properties": {"value": pulumi.Output.secret(value), "contentType": content_type,
                           "attributes": {"enabled": True}},
            "tags": {**self.tags, **DATA_CLASSIFICATION},
        }, opts)
        for reader in self.secret_readers:
            SdkResource("azure-native:authorization:RoleAssignment",
                        f"{self.prefix}-{key}-reader-{reader._name}", {  # type: ignore[attr-defined]
                "principalId": reader._principal_id,  # type: ignore[attr-defined]
                "principalType": "ServicePrincipal",
                "roleDefinitionId": self._role(KEY_VAULT_SECRETS_USER),
                # This one secret, never the vault.
                "scope": f"{self.vault_id}/secrets/{name}",
                "description": f"{reader.namespace}/{reader.service_account}: read {self.secret_path(key)}",
            }, self.opts(depends_on=[secret]))
        return secret

    def secret_store_provider(self, binding: ServiceAccountBinding) -> dict[str, Any]:
        return {"azurekv": {
            "authType": "WorkloadIdentity",
            "vaultUrl": str(self.cloud["keyVaultUri"]),
            "tenantId": str(self.cloud["tenantId"]),
            "serviceAccountRef": {"name": binding.service_account},
        }}

    def _audit_account_id(self) -> Optional[str]:
        """The platform's access-log archive account (cloud output `accessLogs`), as a resource id."""
        logs = self.cloud.get("accessLogs") or {}
        if not logs.get("storageAccount"):
            return None
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/"
                f"Microsoft.Storage/storageAccounts/{logs['storageAccount']}")

    # ------------------------------------------------------------------ backups
    def backup_target(self, service: str, binding: Optional[ServiceAccountBinding]) -> Optional[BackupTarget]:
        # Percona Backup for MongoDB authenticates to Azure Blob with an account key only
        # (components/cluster/backup_keys.py). An account key opens every container of its account, so
        # this environment's backups get a key-based account of their own: no key opens another
        # tenant's backups, and the platform's accounts keep shared keys off.
        self.require("nodeSubnetId")  # exported by platforms since their key-based backup accounts
        import hashlib

        digest = hashlib.sha256(f"{self.platform}/{self.ctx.namespace}/{service}".encode()).hexdigest()
        account, container, key = azure_keyed_account(
            self.parent, f"{self.prefix}-{service}-backups", subscription_id=self.subscription,
            resource_group=self.resource_group, location=self.location, account_name=f"lfhbk{digest[:19]}",
            container=service, subnet_id=str(self.cloud["nodeSubnetId"]), vault_id=self.vault_id,
            vault_uri=str(self.cloud["keyVaultUri"]), key_name=self.key_name, tags={**self.tags, **DATA_CLASSIFICATION},
            soft_delete_days=30, provider=self.provider(),
            # As redundant as the platform's backups, and its blob access logged to the platform's audit account.
            sku=str((self.cloud.get("replication") or {}).get("sku") or "Standard_ZRS"),
            access_log_account_id=self._audit_account_id())
        return BackupTarget(
            storage={"type": "azure", "azure": {
                "container": container.name,
                "prefix": self.backup_prefix(service),
                "credentialsSecret": f"{service}-backup-credentials",
            }},
            credentials={"AZURE_STORAGE_ACCOUNT_NAME": key["accountName"], "AZURE_STORAGE_ACCOUNT_KEY": key["accountKey"]},
            key_kind="azure",
        )

    @property
    def key_name(self) -> str:
        """The platform data key's name, from its URI (`https://<vault>.vault.azure.net/keys/<name>[/<version>]`)."""
        return str(self.cloud["kmsKeyId"]).split("/keys/", 1)[-1].split("/")[0]
