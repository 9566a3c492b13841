"""AKS target: the recorded graph of `platform-azure`."""
from __future__ import annotations

import pytest

from lfh.plan import fakes
from tests.graph import one, out


@pytest.fixture(scope="module")
def plan(plan_of):
    return plan_of("platform-azure")




def aks(plan):
    return one(plan, "azure-native:containerservice:ManagedCluster")


def test_plan_is_clean(plan):
    assert plan.errors == []
    assert len(plan.of_type("lfh:cluster:AksCluster")) == 1
    assert [f for f in plan.findings if f.check == "cluster-weakened"] == []


def test_private_api_entra_rbac_no_local_accounts(plan):
    inputs = aks(plan).inputs
    assert inputs["apiServerAccessProfile"]["enablePrivateCluster"] is True
    assert "authorizedIPRanges" not in inputs["apiServerAccessProfile"]
    assert inputs["aadProfile"]["managed"] is True and inputs["aadProfile"]["enableAzureRBAC"] is True
    assert inputs["disableLocalAccounts"] is True


def test_key_vault_kms_workload_identity_and_network_policy(plan):
    inputs = aks(plan).inputs
    kms = inputs["securityProfile"]["azureKeyVaultKms"]
    etcd_key = one(plan, "azure-native:keyvault:Key", "-key-etcd")
    assert kms["enabled"] is True and kms["keyId"] == out(etcd_key, "keyUriWithVersion")
    assert kms["keyVaultNetworkAccess"] == "Private"
    assert inputs["securityProfile"]["workloadIdentity"] == {"enabled": True}
    assert inputs["oidcIssuerProfile"] == {"enabled": True}
    assert inputs["networkProfile"]["networkPolicy"] == "cilium"


def test_keys_rotate_and_vault_is_purge_protected_rbac(plan):
    vault = one(plan, "azure-native:keyvault:Vault")
    props = vault.inputs["properties"]
    assert props["enablePurgeProtection"] is True and props["enableRbacAuthorization"] is True
    assert props["networkAcls"]["defaultAction"] == "Deny"
    assert vault.protect and vault.retain_on_delete
    for key in plan.of_type("azure-native:keyvault:Key"):
        actions = key.inputs["properties"]["rotationPolicy"]["lifetimeActions"]
        assert {"trigger": {"timeAfterCreate": "P1Y"}, "action": {"type": "rotate"}} in actions
        assert key.protect and key.retain_on_delete


def test_pools_host_encryption_taints_and_labels(plan):
    system = aks(plan).inputs["agentPoolProfiles"][0]
    assert system["mode"] == "System" and system["enableEncryptionAtHost"] is True
    assert system["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]
    pools = {p.inputs["agentPoolName"]: p.inputs for p in plan.of_type("azure-native:containerservice:AgentPool")}
    assert set(pools) == {"apps", "db"}
    assert all(p["mode"] == "User" and p["enableEncryptionAtHost"] is True for p in pools.values())
    assert pools["db"]["nodeTaints"] == ["lfh.io/pool=db:NoSchedule"]
    assert pools["db"]["nodeLabels"] == {"lfh.io/pool": "db"}
    assert pools["apps"]["minCount"] == 2 and pools["apps"]["maxCount"] == 6


def test_storage_account_hardening_and_cmk(plan):
    account = one(plan, "azure-native:storage:StorageAccount", "cluster-backups")
    i = account.inputs
    assert i["enableHttpsTrafficOnly"] is True and i["minimumTlsVersion"] == "TLS1_2"
    assert i["allowBlobPublicAccess"] is False and i["allowSharedKeyAccess"] is False
    assert i["encryption"]["keySource"] == "Microsoft.Keyvault"
    assert i["encryption"]["keyVaultProperties"]["keyName"] == "platform-data"
    assert account.protect and account.retain_on_delete
    assert i["tags"]["data-classification"] == "phi"
    blob = one(plan, "azure-native:storage:BlobServiceProperties", "cluster-backups-blob")
    assert blob.inputs["isVersioningEnabled"] is True
    container = one(plan, "azure-native:storage:BlobContainer", "cluster-backups-container")
    assert container.inputs["publicAccess"] == "None" and "immutableStorageWithVersioning" not in container.inputs


def test_backup_lifecycle_cool_then_cold(plan):
    rules = {r["name"]: r["definition"]
             for r in one(plan, "azure-native:storage:ManagementPolicy", "cluster-backups-lifecycle").inputs["policy"]["rules"]}
    daily = rules["daily-expire"]
    assert daily["filters"]["prefixMatch"] == ["velero/daily/"]
    assert daily["actions"]["baseBlob"]["delete"] == {"daysAfterModificationGreaterThan": 30}
    archive = rules["archive-tier"]["actions"]["baseBlob"]
    assert archive["tierToCool"] == {"daysAfterModificationGreaterThan": 0}
    assert archive["tierToCold"] == {"daysAfterModificationGreaterThan": 30}
    assert archive["delete"] == {"daysAfterModificationGreaterThan": 90}


@pytest.mark.parametrize("addon,ns,sa", [
    ("external-secrets", "external-secrets", "external-secrets"),
    ("velero", "velero", "velero"),
    ("cert-manager", "cert-manager", "cert-manager"),
])
def test_federated_credentials_scoped_to_service_accounts(plan, addon, ns, sa):
    fic = one(plan, "azure-native:managedidentity:FederatedIdentityCredential", f"-fic-{addon}")
    assert fic.inputs["subject"] == f"system:serviceaccount:{ns}:{sa}"
    assert fic.inputs["audiences"] == ["api://AzureADTokenExchange"]
    assert fic.inputs["issuer"] == out(aks(plan), "oidcIssuerProfile")["issuerURL"]
    ident = one(plan, "azure-native:managedidentity:UserAssignedIdentity", f"-id-{addon}")
    assert fic.inputs["resourceName"] == ident.inputs["resourceName"]


def test_longhorn_gets_no_identity_its_blob_store_only_takes_the_account_key(plan):
    """Longhorn's azblob backup store authenticates with AZBLOB_ACCOUNT_KEY only: a federated identity
    would be an unused grant (and its pods would run as a workload-identity account without the label)."""
    assert not [r for r in plan.of_type("azure-native:managedidentity:FederatedIdentityCredential") if "longhorn" in r.name]
    # (Longhorn's key-based backup account has its own identity, for its customer-managed key only.)
    assert not [r for r in plan.of_type("azure-native:managedidentity:UserAssignedIdentity") if r.name.endswith("-id-longhorn")]


def _roles_of(plan, addon):
    principal = out(one(plan, "azure-native:managedidentity:UserAssignedIdentity", f"-id-{addon}"), "principalId")
    return [(r.inputs["roleDefinitionId"].rsplit("/", 1)[-1], r.inputs["scope"])
            for r in plan.of_type("azure-native:authorization:RoleAssignment") if r.inputs["principalId"] == principal]


def test_addon_roles_are_scoped(plan):
    from components.cluster.azure import ROLES

    vault_id = out(one(plan, "azure-native:keyvault:Vault"), "id")
    assert _roles_of(plan, "external-secrets") == [(ROLES["Key Vault Secrets User"], vault_id)]
    velero = dict(_roles_of(plan, "velero"))
    assert velero[ROLES["Storage Blob Data Contributor"]].endswith("/blobServices/default/containers/velero")
    assert velero[ROLES["Disk Snapshot Contributor"]] == out(one(plan, "azure-native:resources:ResourceGroup"), "id")
    assert len(velero) == 2
    cert = _roles_of(plan, "cert-manager")
    assert cert == [(ROLES["DNS Zone Contributor"],
                     f"/subscriptions/{fakes.AZURE_SUBSCRIPTION}/resourceGroups/rg-dns/providers/Microsoft.Network/dnszones/azure.example.com")]


def test_storage_class_uses_disk_encryption_set(plan):
    sc = one(plan, "kubernetes:storage.k8s.io/v1:StorageClass", "-cluster-sc-managed-csi-encrypted")
    des = one(plan, "azure-native:compute:DiskEncryptionSet")
    assert sc.inputs["metadata"]["name"] == "managed-csi-encrypted"
    assert sc.inputs["parameters"]["diskEncryptionSetID"] == out(des, "id")
    assert aks(plan).inputs["diskEncryptionSetID"] == out(des, "id")


def test_protected_and_tagged(plan):
    assert aks(plan).protect and aks(plan).retain_on_delete
    for r in plan.resources:
        if r.type.startswith("azure-native:") and "tags" in r.inputs:
            assert r.inputs["tags"]["lfh:platform"] == "azure" and r.inputs["tags"]["managed-by"] == "pulumi", r.urn


def test_cloud_output_shape(plan):
    cloud = plan.outputs["cloud"]
    assert set(cloud) == {"kind", "region", "kmsKeyId", "secretsPrefix", "subscriptionId", "tenantId", "resourceGroup",
                          "oidcIssuer", "keyVaultName", "keyVaultUri", "storageAccountName", "location",
                          "nodeSubnetId", "apiServerCidrs", "apiServerTunnelPods", "nodeCidrs", "accessLogs", "replication"}
    assert cloud["replication"] == {"kind": "geo-redundant-account", "sku": "Standard_GZRS"}
    assert cloud["accessLogs"]["retentionDays"] == 365
    # API Server VNet Integration (KMS with a private Key Vault): the API server sits in its delegated
    # subnet and calls webhooks from there, with no konnectivity tunnel.
    assert cloud["apiServerCidrs"] == ["10.41.16.0/28"] and cloud["apiServerTunnelPods"] == []
    assert cloud["kind"] == "azure" and cloud["keyVaultUri"] == f"https://{cloud['keyVaultName']}.vault.azure.net/"
    assert cloud["oidcIssuer"].startswith("https://")
    assert "kubeconfig" in plan.secret_outputs


def test_control_plane_audit_logs_kept(plan):
    ws = one(plan, "azure-native:operationalinsights:Workspace")
    assert ws.inputs["retentionInDays"] >= 90 and ws.protect
    diag = one(plan, "azure-native:monitor:DiagnosticSetting", "-aks-diagnostics")
    assert diag.inputs["resourceUri"] == out(aks(plan), "id") and diag.inputs["workspaceId"] == out(ws, "id")
    assert {"kube-audit-admin", "guard", "kube-apiserver"} <= {log["category"] for log in diag.inputs["logs"] if log["enabled"]}


def test_blob_access_logs_archived_under_the_data_key(plan):
    """Every read, write and delete of a blob in the backup account (clients' containers included) goes to an
    archive account encrypted with the platform key and kept `accessLogs.retentionDays`, and to the workspace."""
    account = one(plan, "azure-native:storage:StorageAccount", "cluster-backups")
    audit = one(plan, "azure-native:storage:StorageAccount", "-audit")
    diag = one(plan, "azure-native:monitor:DiagnosticSetting", "-blob-access-logs")
    assert diag.inputs["resourceUri"] == f"{out(account, 'id')}/blobServices/default"
    assert diag.inputs["storageAccountId"] == out(audit, "id")
    assert diag.inputs["workspaceId"] == out(one(plan, "azure-native:operationalinsights:Workspace"), "id")
    assert {log["category"] for log in diag.inputs["logs"] if log["enabled"]} == {"StorageRead", "StorageWrite", "StorageDelete"}
    a = audit.inputs
    assert a["encryption"]["keySource"] == "Microsoft.Keyvault" and a["encryption"]["keyVaultProperties"]["keyName"] == "platform-data"
    assert a["allowSharedKeyAccess"] is False and a["publicNetworkAccess"] == "Disabled" and audit.protect
    assert a["networkRuleSet"] == {"defaultAction": "Deny", "bypass": "AzureServices"}  # Azure Monitor: a trusted service
    (rule,) = one(plan, "azure-native:storage:ManagementPolicy", "-audit-lifecycle").inputs["policy"]["rules"]
    assert rule["definition"]["filters"]["prefixMatch"] == ["insights-logs-"]
    assert rule["definition"]["actions"]["baseBlob"]["delete"] == {"daysAfterModificationGreaterThan": 365}


def test_key_vault_reached_only_through_its_private_endpoint(plan):
    vault = one(plan, "azure-native:keyvault:Vault")
    assert vault.inputs["properties"]["publicNetworkAccess"] == "Disabled"
    pe = one(plan, "azure-native:network:PrivateEndpoint")
    (conn,) = pe.inputs["privateLinkServiceConnections"]
    assert conn["privateLinkServiceId"] == out(vault, "id") and conn["groupIds"] == ["vault"]
    assert pe.inputs["subnet"]["id"] == out(one(plan, "azure-native:network:Subnet", "snet-nodes"), "id")
    zone = one(plan, "azure-native:privatedns:PrivateZone")
    assert zone.inputs["privateZoneName"] == "privatelink.vaultcore.azure.net"
    link = one(plan, "azure-native:privatedns:VirtualNetworkLink")
    assert link.inputs["virtualNetwork"]["id"] == out(one(plan, "azure-native:network:VirtualNetwork"), "id")
    group = one(plan, "azure-native:network:PrivateDnsZoneGroup")
    assert group.inputs["privateDnsZoneConfigs"][0]["privateDnsZoneId"] == out(zone, "id")


def test_production_backup_account_is_geo_redundant_and_os_disks_are_explicit(plan, tmp_path):
    assert one(plan, "azure-native:storage:StorageAccount", "cluster-backups").inputs["sku"] == {"name": "Standard_GZRS"}
    pools = [*aks(plan).inputs["agentPoolProfiles"], *[p.inputs for p in plan.of_type("azure-native:containerservice:AgentPool")]]
    assert len(pools) == 3 and all(p["osDiskType"] == "Managed" for p in pools)
    from lfh.plan import Engine

    (tmp_path / "Pulumi.platform-stg.yaml").write_text(
        "config:\n  lfh:platform:\n    name: stg\n    environment: staging\n    domain: stg.example.com\n"
        "    cluster:\n      provider: azure\n")
    staging = Engine(stacks_dir=tmp_path).plan("platform-stg")
    assert one(staging, "azure-native:storage:StorageAccount", "cluster-backups").inputs["sku"] == {"name": "Standard_ZRS"}
    assert "replication" not in staging.outputs["cloud"]
