"""AKS with a private Key Vault for KMS uses API Server VNet Integration, and the cluster waits for the
disk encryption set's Key Vault grant."""
from __future__ import annotations

import copy


from lfh.plan import analyze
from lfh.plan import aks_key_vault
from lfh.plan.model import Plan
from tests.graph import one, out
from tests.test_node_setup import platform_stack

CHECK = "aks-key-vault"


def errors(plan) -> list[str]:
    return [f.message for f in plan.errors if f.check == CHECK]


def test_private_kms_vault_goes_through_a_delegated_api_server_subnet(plan_of):
    plan = plan_of("platform-azure")
    aks = one(plan, "azure-native:containerservice:ManagedCluster")
    assert aks.inputs["securityProfile"]["azureKeyVaultKms"]["keyVaultNetworkAccess"] == "Private"
    api = aks.inputs["apiServerAccessProfile"]
    subnet = one(plan, "azure-native:network:Subnet", "-snet-apiserver")
    assert api["enableVnetIntegration"] is True and api["subnetId"] == out(subnet, "id")
    assert subnet.inputs["delegations"] == [{"name": "aks-apiserver", "serviceName": "Microsoft.ContainerService/managedClusters"}]
    assert subnet.inputs["addressPrefix"].endswith("/28")
    # The vault admits the API server's subnet (KMS) and the nodes' (External Secrets) only.
    vault = one(plan, "azure-native:keyvault:Vault")
    acls = vault.inputs["properties"]["networkAcls"]
    assert acls["defaultAction"] == "Deny"
    assert {r["id"] for r in acls["virtualNetworkRules"]} == {out(subnet, "id"), out(one(plan, "azure-native:network:Subnet", "-snet-nodes"), "id")}
    grant = one(plan, "azure-native:authorization:RoleAssignment", "-ra-aks-apiserver-network")
    assert grant.urn in aks_key_vault.closure(plan, aks)
    assert errors(plan) == []


def test_cluster_waits_for_the_disk_encryption_sets_vault_grant(plan_of):
    plan = plan_of("platform-azure")
    aks = one(plan, "azure-native:containerservice:ManagedCluster")
    assert one(plan, "azure-native:authorization:RoleAssignment", "-ra-des-key").urn in aks_key_vault.closure(plan, aks)


def _without_vnet_integration(plan: Plan) -> Plan:
    broken = copy.copy(plan)
    broken.findings = []
    broken.resources = [copy.deepcopy(r) for r in plan.resources]
    aks = next(r for r in broken.resources if r.type == aks_key_vault.MANAGED_CLUSTER)
    aks.inputs["apiServerAccessProfile"] = {"enablePrivateCluster": True, "disableRunCommand": True}
    return broken


def test_a_private_kms_vault_without_vnet_integration_is_an_error(plan_of):
    broken = _without_vnet_integration(plan_of("platform-azure"))
    aks_key_vault.analyze(broken)
    (message,) = errors(broken)
    assert "API Server VNet Integration is off" in message and "keyVaultNetworkAccess" in message


def test_a_cluster_created_before_the_des_grant_is_an_error(tmp_path, monkeypatch):
    import components.cluster.azure as azure

    real = azure.AksCluster._cluster

    def before_the_grant(self):  # the cluster as it was: no dependency on the DES identity's grant
        grant, self.des_access = self.des_access, self.rg
        try:
            real(self)
        finally:
            self.des_access = grant

    monkeypatch.setattr(azure.AksCluster, "_cluster", before_the_grant)
    plan = analyze(platform_stack(tmp_path, "azure").plan("platform-ns"))
    (message,) = errors(plan)
    assert "without waiting for role assignment ns-cluster-ra-des-key of disk encryption set" in message


def test_public_vault_is_an_explicit_weaker_choice(tmp_path):
    plan = analyze(platform_stack(tmp_path, "azure", "      keyVaultNetworkAccess: public\n").plan("platform-ns"))
    aks = one(plan, "azure-native:containerservice:ManagedCluster")
    assert aks.inputs["securityProfile"]["azureKeyVaultKms"]["keyVaultNetworkAccess"] == "Public"
    assert "enableVnetIntegration" not in aks.inputs["apiServerAccessProfile"]
    assert plan.of_type("azure-native:network:Subnet") and not [
        s for s in plan.of_type("azure-native:network:Subnet") if s.name.endswith("-snet-apiserver")]
    assert one(plan, "azure-native:keyvault:Vault").inputs["properties"]["networkAcls"]["defaultAction"] == "Allow"
    warnings = [f.message for f in plan.findings if f.check == "cluster-weakened"]
    assert any("keyVaultNetworkAccess is set" in w for w in warnings)
    assert errors(plan) == []
