"""Keys for the backup tools that cannot use a cloud identity, created and stored by the stacks.

- Azure: Longhorn's Azure Blob backup target builds a connection string from `AZBLOB_ACCOUNT_NAME` and
  `AZBLOB_ACCOUNT_KEY` only (longhorn/backupstore `azblob/azblob_service.go` newService; workload
  identity is the open longhorn#7830), and Percona Backup for MongoDB's Azure backend takes an account
  key only (`AZURE_STORAGE_ACCOUNT_NAME`/`_KEY`, operator v1.22.0 `pkg/psmdb/backup/pbm.go`; workload
  identity is the open percona-server-mongodb-operator#2505). The platform's backup account keeps
  shared keys off (Velero uses Entra ID); each key-based tool gets its own *key-based account*
  (`azure_keyed_account`): shared keys on, everything else as locked down as the main account, its
  key read by the stack and stored in Key Vault. Longhorn's account is the platform's; each client
  environment's MongoDB backups get an account of their own, so no key opens another tenant's data.
- GCP: Longhorn reaches GCS through its S3 interoperability API, which takes HMAC keys; PBM 2.12 with
  operator 1.22 takes HMAC keys as `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` in a `gcs` storage's
  credentials secret (operator v1.22.0 `pkg/psmdb/backup/pbm.go` GetPBMStorageGCSConfig; workload
  identity only from operator 1.23.0, #2314). `gcp_hmac_key` creates an HMAC key for a service
  account that is scoped to the bucket prefix (Cloud Storage docs, "HMAC keys for service accounts").
"""
from __future__ import annotations

from typing import Any, Optional

import pulumi

from ..sdk import SdkResource, _sdk_defaults

#: Built-in role that lets a storage account's identity wrap its data keys with the Key Vault key.
KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
#: Azure flags a key older than this for rotation (storage account `keyPolicy`); rotate it by
#: regenerating the *older* key and running `pulumi up` (docs/backup-restore.md).
KEY_EXPIRATION_DAYS = 90
#: GCS's S3-compatible (XML API) endpoint HMAC keys are used with.
GCS_S3_ENDPOINT = "https://storage.googleapis.com"


def newest_key(result: Any) -> str:
    """The value of the most recently (re)generated account key of a `listStorageAccountKeys` answer:
    after `az storage account keys renew` on the older key, the next `pulumi up` stores the new one,
    while the other stays valid until the next rotation."""
    keys = list((result or {}).get("keys") or [])
    if not keys:
        return ""
    return max(keys, key=lambda k: (str(k.get("creationTime") or ""), k.get("keyName") == "key1"))["value"]


#: Blob service diagnostic log categories: every read, write and delete (Azure Blob Storage monitoring
#: reference, "Resource logs").
BLOB_LOG_CATEGORIES = ["StorageRead", "StorageWrite", "StorageDelete"]


def azure_keyed_account(owner: pulumi.Resource, name: str, *, subscription_id: pulumi.Input[str],
                        resource_group: pulumi.Input[str], location: str, account_name: pulumi.Input[str],
                        container: str, subnet_id: pulumi.Input[str], vault_id: pulumi.Input[str],
                        vault_uri: pulumi.Input[str], key_name: pulumi.Input[str], tags: dict[str, str],
                        soft_delete_days: int, provider: Optional[pulumi.ProviderResource] = None,
                        sku: str = "Standard_ZRS", access_log_account_id: Optional[pulumi.Input[str]] = None,
                        access_log_workspace_id: Optional[pulumi.Input[str]] = None,
                        ) -> tuple[pulumi.Resource, pulumi.Resource, dict[str, pulumi.Input[str]]]:
    """A storage account for key-based backup tools: (account, container, {accountName, accountKey}).

    ``sku``: the platform's redundancy (geo-redundant on production platforms). With
    ``access_log_account_id`` every read, write and delete of its blobs is logged there (and to
    ``access_log_workspace_id``), as for the platform's main backup account (components/cluster/azure.py
    `_access_logs`): a key opens the account, so who used it must be on record."""
    def opts(**kw: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=owner, provider=provider, **kw)

    identity = SdkResource("azure-native:managedidentity:UserAssignedIdentity", f"{name}-identity", {
        "resourceGroupName": resource_group, "location": location,
        "resourceName": pulumi.Output.from_input(account_name).apply(lambda a: f"id-{a}"), "tags": tags,
    }, opts())
    grant = SdkResource("azure-native:authorization:RoleAssignment", f"{name}-key-access", {
        "principalId": identity.principalId, "principalType": "ServicePrincipal",
        "roleDefinitionId": pulumi.Output.from_input(subscription_id).apply(
            lambda s: f"/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/"
                      f"{KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER}"),
        # The one key, not the vault.
        "scope": pulumi.Output.all(vault_id, key_name).apply(lambda a: f"{a[0]}/keys/{a[1]}"),
    }, opts())
    account = SdkResource("azure-native:storage:StorageAccount", name, {
        "resourceGroupName": resource_group, "location": location, "accountName": account_name,
        "kind": "StorageV2", "sku": {"name": sku}, "accessTier": "Hot",
        "identity": {"type": "UserAssigned", "userAssignedIdentities": [identity.id]},
        "enableHttpsTrafficOnly": True, "minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": False,
        # The reason this account exists: its tools authenticate with the account key (module docstring).
        "allowSharedKeyAccess": True,
        "allowCrossTenantReplication": False,
        "keyPolicy": {"keyExpirationPeriodInDays": KEY_EXPIRATION_DAYS},
        # Reachable from the cluster's node subnet only.
        "networkRuleSet": {"defaultAction": "Deny", "bypass": "AzureServices",
                           "virtualNetworkRules": [{"virtualNetworkResourceId": subnet_id}]},
        "encryption": {
            "keySource": "Microsoft.Keyvault",
            "keyVaultProperties": {"keyName": key_name, "keyVaultUri": vault_uri},
            "encryptionIdentity": {"encryptionUserAssignedIdentity": identity.id},
            "requireInfrastructureEncryption": True,
            "services": {"blob": {"enabled": True, "keyType": "Account"}},
        },
        "tags": {**tags, "lfh:purpose": "key-based-backups"},
    }, opts(protect=True, retain_on_delete=True, depends_on=[grant]))
    # Overwritten and deleted blobs stay recoverable for `soft_delete_days` (the tools prune their own
    # old backups; a compromised key cannot silently destroy them), then go.
    SdkResource("azure-native:storage:BlobServiceProperties", f"{name}-blob", {
        "resourceGroupName": resource_group, "accountName": account.name, "blobServicesName": "default",
        "isVersioningEnabled": True,
        "deleteRetentionPolicy": {"enabled": True, "days": soft_delete_days},
        "containerDeleteRetentionPolicy": {"enabled": True, "days": soft_delete_days},
    }, opts())
    SdkResource("azure-native:storage:ManagementPolicy", f"{name}-lifecycle", {
        "resourceGroupName": resource_group, "accountName": account.name, "managementPolicyName": "default",
        "policy": {"rules": [{"name": "noncurrent-expire", "enabled": True, "type": "Lifecycle", "definition": {
            "filters": {"blobTypes": ["blockBlob"]},
            "actions": {"version": {"delete": {"daysAfterCreationGreaterThan": soft_delete_days}}}}}]},
    }, opts())
    if access_log_account_id is not None:
        SdkResource("azure-native:monitor:DiagnosticSetting", f"{name}-access-logs", {
            "name": "lfh-blob-access",
            "resourceUri": account.id.apply(lambda a: f"{a}/blobServices/default"),
            "storageAccountId": access_log_account_id,
            **({"workspaceId": access_log_workspace_id, "logAnalyticsDestinationType": "Dedicated"}
               if access_log_workspace_id is not None else {}),
            "logs": [{"category": c, "enabled": True} for c in BLOB_LOG_CATEGORIES],
        }, opts())
    blob_container = SdkResource("azure-native:storage:BlobContainer", f"{name}-container", {
        "resourceGroupName": resource_group, "accountName": account.name, "containerName": container,
        "publicAccess": "None",
    }, opts(protect=True, retain_on_delete=True))
    keys = pulumi.runtime.invoke_output(
        "azure-native:storage:listStorageAccountKeys",
        {"resourceGroupName": resource_group, "accountName": account.name},
        opts=pulumi.InvokeOutputOptions(parent=owner, provider=provider, depends_on=[account],
                                        version=_sdk_defaults("azure-native").version))
    return account, blob_container, {"accountName": account.name,
                                     "accountKey": pulumi.Output.secret(keys.apply(newest_key))}


def gcp_hmac_key(owner: pulumi.Resource, name: str, *, service_account_email: pulumi.Input[str], project: str,
                 provider: Optional[pulumi.ProviderResource] = None,
                 ) -> tuple[pulumi.Resource, dict[str, pulumi.Input[str]]]:
    """An HMAC key of a service account: (key, {accessKeyId, secretAccessKey}). Replace the resource
    (`pulumi up --replace <urn>`) to rotate it; the stored copy follows."""
    key = SdkResource("gcp:storage/hmacKey:HmacKey", name, {
        "serviceAccountEmail": service_account_email, "project": project, "state": "ACTIVE",
    }, pulumi.ResourceOptions(parent=owner, provider=provider))
    return key, {"accessKeyId": key.accessId, "secretAccessKey": key.secret}


def s3_key_pair(owner: pulumi.Resource, name: str) -> dict[str, pulumi.Input[str]]:
    """A generated S3 access key pair for an S3-compatible endpoint that provisions users from the
    stored copy (`lfh:platform.cluster.backupCredentials: generated`): {accessKeyId, secretAccessKey}."""
    opts = pulumi.ResourceOptions(parent=owner)
    key_id = SdkResource("random:index/randomPassword:RandomPassword", f"{name}-key-id", {
        "length": 20, "special": False, "lower": False}, opts)
    secret = SdkResource("random:index/randomPassword:RandomPassword", f"{name}-secret-key", {
        "length": 40, "special": False}, opts)
    return {"accessKeyId": key_id.result, "secretAccessKey": secret.result}
