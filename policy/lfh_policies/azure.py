"""Azure policies (azure-native 3.x): Key Vault keys and vaults, AKS, storage accounts, log retention."""
from __future__ import annotations

from .common import (
    retention_config,
    retention_days,
    CRITICAL,
    HIGH,
    falsy,
    get,
    is_world,
    resource_policy,
    seq,
    stack_policy,
    truthy,
)
from .links import linked, of_types

D = "azure"

KEY = "azure-native:keyvault:Key"
VAULT = "azure-native:keyvault:Vault"
AKS = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"
WORKSPACE = "azure-native:operationalinsights:Workspace"
DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"
DIAGNOSTIC_SETTINGS = {DIAGNOSTIC_SETTING, "azure-native:insights:DiagnosticSetting"}


@resource_policy(
    "azure-keyvault-key-rotation",
    "Key Vault keys carry a rotation policy with an automatic `rotate` action.",
    domain=D, types={KEY}, severity=HIGH, safeguard="164.312(a)(2)(iv)",
    remediation="Set properties.rotationPolicy.lifetimeActions = [{action: {type: rotate}, trigger: {timeAfterCreate: P90D}}].",
)
def key_rotation(args, report):
    actions = seq(get(args.props, "properties", "rotationPolicy", "lifetimeActions"))
    if not any(str(get(a, "action", "type", default="")).lower() == "rotate" for a in actions):
        report(f"Key Vault key {get(args.props, 'keyName') or args.name} has no automatic rotation")


@resource_policy(
    "azure-keyvault-purge-protection",
    "Key Vaults have soft delete and purge protection on (keys cannot be destroyed by mistake).",
    domain=D, types={VAULT}, severity=HIGH, safeguard="164.308(a)(7)",
    remediation="Set properties.enablePurgeProtection = true (and leave enableSoftDelete on).",
)
def vault_purge_protection(args, report):
    props = get(args.props, "properties", default={})
    if not truthy(get(props, "enablePurgeProtection")):
        report(f"Key Vault {get(args.props, 'vaultName') or args.name}: purge protection is off")
    if falsy(get(props, "enableSoftDelete")):
        report(f"Key Vault {get(args.props, 'vaultName') or args.name}: soft delete is off")


@resource_policy(
    "azure-aks-private-api",
    "AKS API servers are private, or public only to explicit authorized IP ranges (never 0.0.0.0/0).",
    domain=D, types={AKS}, severity=CRITICAL, safeguard="164.312(e)(1)",
    remediation="Set apiServerAccessProfile.enablePrivateCluster = true, or list operator CIDRs in authorizedIPRanges.",
)
def aks_private_api(args, report):
    profile = get(args.props, "apiServerAccessProfile", default={})
    if truthy(get(profile, "enablePrivateCluster")):
        return
    ranges = [str(r) for r in seq(get(profile, "authorizedIPRanges"))]
    if not ranges:
        report(f"AKS cluster {args.name}: public API server with no authorized IP ranges")
    elif any(is_world(r) for r in ranges):
        report(f"AKS cluster {args.name}: API server open to {ranges}")


@resource_policy(
    "azure-aks-kms-etcd-encryption",
    "AKS encrypts Secrets in etcd with a Key Vault key (KMS plugin).",
    domain=D, types={AKS}, severity=CRITICAL, safeguard="164.312(a)(2)(iv)",
    remediation="Set securityProfile.azureKeyVaultKms = {enabled: true, keyId: <key URL>, keyVaultNetworkAccess: Private|Public}.",
)
def aks_kms(args, report):
    kms = get(args.props, "securityProfile", "azureKeyVaultKms", default={})
    if not truthy(get(kms, "enabled")) or not get(kms, "keyId"):
        report(f"AKS cluster {args.name}: Secrets are not encrypted with a Key Vault key")


@resource_policy(
    "azure-aks-workload-identity",
    "AKS has workload identity and the OIDC issuer enabled.",
    domain=D, types={AKS}, severity=HIGH, safeguard="164.312(a)(1)",
    remediation="Set securityProfile.workloadIdentity.enabled = true and oidcIssuerProfile.enabled = true.",
)
def aks_workload_identity(args, report):
    if not truthy(get(args.props, "securityProfile", "workloadIdentity", "enabled")):
        report(f"AKS cluster {args.name}: workload identity is off")
    if not truthy(get(args.props, "oidcIssuerProfile", "enabled")):
        report(f"AKS cluster {args.name}: OIDC issuer is off")


@resource_policy(
    "azure-aks-local-accounts-disabled",
    "AKS disables local accounts and uses Entra ID with Azure RBAC.",
    domain=D, types={AKS}, severity=HIGH, safeguard="164.312(d)",
    remediation="Set disableLocalAccounts = true and aadProfile = {managed: true, enableAzureRBAC: true}.",
)
def aks_local_accounts(args, report):
    if not truthy(get(args.props, "disableLocalAccounts")):
        report(f"AKS cluster {args.name}: local accounts are enabled")
    if not truthy(get(args.props, "aadProfile", "enableAzureRBAC")):
        report(f"AKS cluster {args.name}: Azure RBAC (aadProfile.enableAzureRBAC) is off")


@resource_policy(
    "azure-aks-encryption-at-host",
    "AKS node pools encrypt at host (temp disks and caches included).",
    domain=D, types={AKS, AGENT_POOL}, severity=HIGH, safeguard="164.312(a)(2)(iv)",
    remediation="Set enableEncryptionAtHost = true on every agent pool profile and AgentPool.",
)
def aks_encryption_at_host(args, report):
    if args.resource_type == AGENT_POOL:
        pools = [args.props]
    else:
        pools = seq(get(args.props, "agentPoolProfiles"))
    for p in pools:
        if not truthy(get(p, "enableEncryptionAtHost")):
            report(f"AKS node pool {get(p, 'name') or get(p, 'agentPoolName') or args.name}: encryption at host is off")


@resource_policy(
    "azure-storage-tls-only",
    "Storage accounts accept HTTPS only with TLS 1.2 or newer.",
    domain=D, types={STORAGE_ACCOUNT}, severity=HIGH, safeguard="164.312(e)(1)",
    remediation="Set enableHttpsTrafficOnly = true and minimumTlsVersion = TLS1_2.",
)
def storage_tls(args, report):
    if falsy(get(args.props, "enableHttpsTrafficOnly")):
        report(f"storage account {args.name}: plain HTTP allowed")
    if get(args.props, "minimumTlsVersion") not in ("TLS1_2", "TLS1_3"):
        report(f"storage account {args.name}: minimumTlsVersion is {get(args.props, 'minimumTlsVersion') or 'unset (TLS1_0)'}")


@resource_policy(
    "azure-storage-no-public-access",
    "Storage accounts forbid public blob access.",
    domain=D, types={STORAGE_ACCOUNT}, severity=CRITICAL, safeguard="164.312(a)(1)",
    remediation="Set allowBlobPublicAccess = false (and prefer publicNetworkAccess Disabled with a private endpoint).",
)
def storage_public(args, report):
    if not falsy(get(args.props, "allowBlobPublicAccess")):
        report(f"storage account {args.name}: allowBlobPublicAccess is not false")


@resource_policy(
    "azure-storage-cmk-encryption",
    "Storage accounts encrypt with a customer-managed Key Vault key.",
    domain=D, types={STORAGE_ACCOUNT}, severity=CRITICAL, safeguard="164.312(a)(2)(iv)",
    remediation="Set encryption = {keySource: Microsoft.Keyvault, keyVaultProperties: {keyName, keyVaultUri}, identity}.",
)
def storage_cmk(args, report):
    enc = get(args.props, "encryption", default={})
    if str(get(enc, "keySource", default="")).lower() != "microsoft.keyvault" or not get(enc, "keyVaultProperties", "keyName"):
        report(f"storage account {args.name}: not encrypted with a customer-managed key")


@stack_policy(
    "azure-storage-blob-versioning",
    "Every storage account has blob versioning enabled (BlobServiceProperties).",
    domain=D, severity=HIGH, safeguard="164.308(a)(7)(ii)(A)",
    remediation="Add azure-native storage.BlobServiceProperties(account_name=…, is_versioning_enabled=True).",
)
def storage_versioning(args, report):
    services = of_types(args.resources, {BLOB_SERVICE})
    for a in of_types(args.resources, {STORAGE_ACCOUNT}):
        values = [get(a.props, "accountName"), a.name]
        if not any(linked(s, a, "accountName", values) and truthy(get(s.props, "isVersioningEnabled")) for s in services):
            report(f"storage account {get(a.props, 'accountName') or a.name} has no blob versioning", a.urn)


LOG_CONFIG = retention_config("Log Analytics")


@resource_policy(
    "azure-log-analytics-retention",
    "Log Analytics workspaces keep logs at least the configured days (default 90).",
    domain=D, types={WORKSPACE}, severity=HIGH, safeguard="164.312(b)", config=LOG_CONFIG,
    remediation="Set retentionInDays ≥ minRetentionDays on the workspace.",
)
def workspace_retention(args, report):
    days, minimum = retention_days(args, LOG_CONFIG, "retentionInDays")
    if days is None or days < minimum:
        report(f"Log Analytics workspace {args.name}: retention {int(days) if days else 'default (30)'} d < {int(minimum)} d")


AUDIT_CATEGORIES = {"kube-audit", "kube-audit-admin"}


@stack_policy(
    "azure-aks-audit-logs",
    "Each AKS cluster sends kube-audit logs to a Log Analytics workspace through a diagnostic setting.",
    domain=D, severity=HIGH, safeguard="164.312(b)",
    remediation="Add a monitor.DiagnosticSetting on the cluster (resourceUri) with category kube-audit-admin (or group audit) to the workspace.",
)
def aks_audit(args, report):
    settings = of_types(args.resources, DIAGNOSTIC_SETTINGS)
    for c in of_types(args.resources, {AKS}):
        ok = False
        for s in settings:
            if not linked(s, c, "resourceUri", [get(c.props, "id")]):
                continue
            for log in seq(get(s.props, "logs")):
                cat = str(get(log, "category", default="")).lower()
                group = str(get(log, "categoryGroup", default="")).lower()
                if (cat in AUDIT_CATEGORIES or group in ("audit", "alllogs")) and not falsy(get(log, "enabled")):
                    ok = True
        if not ok:
            report(f"AKS cluster {c.name} has no kube-audit diagnostic setting", c.urn)


POLICIES = [
    key_rotation, vault_purge_protection, aks_private_api, aks_kms, aks_workload_identity, aks_local_accounts,
    aks_encryption_at_host, storage_tls, storage_public, storage_cmk, storage_versioning, workspace_retention,
    aks_audit,
]
