"""AKS and its Key Vault: what a real create needs before it starts (`aks-key-vault` errors).

- KMS with a private key vault: since 2024-09-15 the API server reaches a private vault only through
  API Server VNet Integration ("Konnectivity is no longer supported for private key vaults for new
  subscriptions"; AKS docs "Add KMS etcd encryption"). So a cluster with
  `azureKeyVaultKms.keyVaultNetworkAccess: Private` needs `apiServerAccessProfile.enableVnetIntegration`
  with a subnet delegated to `Microsoft.ContainerService/managedClusters` of at least /28, on which the
  cluster identity is Network Contributor before the cluster is created (AKS docs "API Server VNet
  Integration": "Lack of permissions at the API server subnet can cause a provisioning failure").
- Customer-managed keys through an identity: the disk encryption set of the cluster's disks, and the
  identity a storage account encrypts with, may only be used once their Key Vault role assignment exists
  (Azure docs "Server-side encryption of Azure managed disks": grant the disk encryption set access to
  the vault first). The cluster / account must depend on those role assignments, or the first create
  races them and fails with a Key Vault 403.
"""
from __future__ import annotations

import ipaddress
from typing import Any

from .model import Finding, Plan, Resource

CHECK = "aks-key-vault"
MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
SUBNET = "azure-native:network:Subnet"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
DES = "azure-native:compute:DiskEncryptionSet"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
DELEGATION = "Microsoft.ContainerService/managedClusters"
MAX_PREFIX = 28


def closure(plan: Plan, res: Resource) -> set[str]:
    """Every URN ``res`` waits for: its dependencies, theirs, and (for components) their children."""
    by_urn = plan.by_urn()
    children: dict[str, list[str]] = {}
    for r in plan.resources:
        children.setdefault(r.parent, []).append(r.urn)
    seen: set[str] = set()
    todo = list(res.dependencies)
    while todo:
        urn = todo.pop()
        if urn in seen:
            continue
        seen.add(urn)
        dep = by_urn.get(urn)
        if dep is not None:
            todo += dep.dependencies
        todo += children.get(urn, [])
    return seen


def _referenced(plan: Plan, res: Resource, prop: str, type_: str) -> list[Resource]:
    by_urn = plan.by_urn()
    return [by_urn[u] for u in res.property_dependencies.get(prop, []) if u in by_urn and by_urn[u].type == type_]


def _grants_to(plan: Plan, principal: Resource) -> list[Resource]:
    """Role assignments whose principal comes from ``principal`` (they depend on it)."""
    return [r for r in plan.of_type(ROLE_ASSIGNMENT) if principal.urn in r.property_dependencies.get("principalId", r.dependencies)]


def _kms(plan: Plan, aks: Resource, waits_for: set[str]) -> list[str]:
    kms = ((aks.inputs.get("securityProfile") or {}).get("azureKeyVaultKms") or {})
    if not kms.get("enabled") or kms.get("keyVaultNetworkAccess") != "Private":
        return []
    api = aks.inputs.get("apiServerAccessProfile") or {}
    if not api.get("enableVnetIntegration") or not api.get("subnetId"):
        return [f"AKS cluster {aks.name}: KMS uses a private Key Vault (keyVaultNetworkAccess: Private) but API Server "
                "VNet Integration is off, and Konnectivity no longer reaches private vaults (since 2024-09-15): enable "
                "apiServerAccessProfile.enableVnetIntegration with a delegated subnet (lfh:platform.cluster."
                "apiServerSubnetCidr), or choose lfh:platform.cluster.keyVaultNetworkAccess: public"]
    out = []
    for subnet in _referenced(plan, aks, "apiServerAccessProfile", SUBNET) or [None]:
        if subnet is None:
            out.append(f"AKS cluster {aks.name}: the API server subnet {api['subnetId']} is not created by this stack, so "
                       "its delegation and size cannot be checked: create it here (components/cluster/azure.py)")
            continue
        delegations = [d.get("serviceName") for d in subnet.inputs.get("delegations") or []]
        if DELEGATION not in delegations:
            out.append(f"AKS cluster {aks.name}: API server subnet {subnet.name} is not delegated to {DELEGATION}")
        prefix = ipaddress.ip_network(str(subnet.inputs.get("addressPrefix") or "0.0.0.0/32"), strict=False).prefixlen
        if prefix > MAX_PREFIX:
            out.append(f"AKS cluster {aks.name}: API server subnet {subnet.name} is a /{prefix}; at least /{MAX_PREFIX} is required")
        grants = [r for r in plan.of_type(ROLE_ASSIGNMENT) if subnet.urn in r.property_dependencies.get("scope", [])
                  and str(r.inputs.get("roleDefinitionId", "")).endswith(NETWORK_CONTRIBUTOR)]
        if not any(g.urn in waits_for for g in grants):
            out.append(f"AKS cluster {aks.name}: the cluster identity must be Network Contributor on API server subnet "
                       f"{subnet.name} before the cluster is created (a role assignment in its depends_on)")
    return out


def _waits_for_grants(plan: Plan, user: Resource, waits_for: set[str], prop: str, holder_type: str, what: str) -> list[str]:
    out = []
    for holder in _referenced(plan, user, prop, holder_type):
        grants = _grants_to(plan, holder)
        if not grants:
            out.append(f"{user.type.rsplit(':', 1)[-1]} {user.name}: {what} {holder.name} has no Key Vault role assignment "
                       "in this stack, so it cannot use the customer-managed key: grant it `Key Vault Crypto Service "
                       "Encryption User` on the vault")
        for grant in grants:
            if grant.urn not in waits_for:
                out.append(f"{user.type.rsplit(':', 1)[-1]} {user.name}: is created without waiting for role assignment "
                           f"{grant.name} of {what} {holder.name}, so its first create races the grant and fails with a "
                           f"Key Vault 403: add the role assignment to its depends_on")
    return out


def analyze(plan: Plan) -> None:
    for aks in plan.of_type(MANAGED_CLUSTER):
        waits_for = closure(plan, aks)
        problems = _kms(plan, aks, waits_for)
        problems += _waits_for_grants(plan, aks, waits_for, "diskEncryptionSetID", DES, "disk encryption set")
        plan.findings.extend(Finding(CHECK, "error", aks.urn, p) for p in problems)
    for account in plan.of_type(STORAGE_ACCOUNT):
        enc: dict[str, Any] = account.inputs.get("encryption") or {}
        if str(enc.get("keySource", "")).lower() != "microsoft.keyvault":
            continue
        problems = _waits_for_grants(plan, account, closure(plan, account), "encryption", IDENTITY, "encryption identity")
        plan.findings.extend(Finding(CHECK, "error", account.urn, p) for p in problems)


__all__ = ["CHECK", "analyze", "closure"]
