"""The recorded cloud resources of a plan, in the formats an independent scanner reads.

`tools/scan_cloud.py` runs checkov (pinned, in its own virtualenv) over what this module writes:

- AWS and GCP resources as a **Terraform plan JSON** (`planned_values.root_module.resources[]` with
  `type`, `name`, `address`, `values`, and `configuration.root_module.resources[].expressions` naming the
  resources an attribute refers to). pulumi-aws and pulumi-gcp are bridged from the Terraform providers,
  so a Pulumi type is one Terraform type and its camelCase inputs are the Terraform attributes in
  snake_case — except where the bridge renamed a block (a repeated block `rule` is the Pulumi list
  `rules`): `RENAMES` lists those for the types we use.
- azure-native resources as an **ARM template**: type `Microsoft.<Namespace>/<type>` and `apiVersion`
  from the SDK module the resource was registered through (the API version its docstring names), the
  ARM top-level fields (`location`, `tags`, `sku`, `kind`, `identity`, `zones`) at the top and every other
  input under `properties`, with the few inputs whose SDK name differs from the wire name renamed back.

Limits (what the scan cannot see, so it cannot mean): only inputs are converted, never outputs the cloud
computes (an ID the mock invents is a placeholder string); a type missing from the tables is left out and
reported, never guessed; Kubernetes resources are not converted (the plan's own checks cover them); the
values are those of the offline plan (mock account, project and subscription ids).
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import util as importlib_util
from pathlib import Path
from typing import Any, Iterable

# ----------------------------------------------------------------------------- Terraform (AWS, GCP)

#: Pulumi type token -> Terraform resource type (pulumi-aws 7.x / pulumi-gcp 8+ tokens of the types the
#: program registers; each is the provider's `resources.go` mapping of that token).
TF_TYPES: dict[str, str] = {
    # AWS
    "aws:cloudtrail/trail:Trail": "aws_cloudtrail",
    "aws:cloudwatch/logGroup:LogGroup": "aws_cloudwatch_log_group",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "aws_default_security_group",
    "aws:ec2/eip:Eip": "aws_eip",
    "aws:ec2/flowLog:FlowLog": "aws_flow_log",
    "aws:ec2/internetGateway:InternetGateway": "aws_internet_gateway",
    "aws:ec2/launchTemplate:LaunchTemplate": "aws_launch_template",
    "aws:ec2/natGateway:NatGateway": "aws_nat_gateway",
    "aws:ec2/routeTable:RouteTable": "aws_route_table",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "aws_route_table_association",
    "aws:ec2/subnet:Subnet": "aws_subnet",
    "aws:ec2/vpc:Vpc": "aws_vpc",
    "aws:eks/accessEntry:AccessEntry": "aws_eks_access_entry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": "aws_eks_access_policy_association",
    "aws:eks/addon:Addon": "aws_eks_addon",
    "aws:eks/cluster:Cluster": "aws_eks_cluster",
    "aws:eks/nodeGroup:NodeGroup": "aws_eks_node_group",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "aws_iam_openid_connect_provider",
    "aws:iam/role:Role": "aws_iam_role",
    "aws:iam/rolePolicy:RolePolicy": "aws_iam_role_policy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "aws_iam_role_policy_attachment",
    "aws:kms/alias:Alias": "aws_kms_alias",
    "aws:kms/key:Key": "aws_kms_key",
    "aws:s3/bucket:Bucket": "aws_s3_bucket",
    "aws:s3/bucketV2:BucketV2": "aws_s3_bucket",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "aws_s3_bucket_lifecycle_configuration",
    "aws:s3/bucketLogging:BucketLogging": "aws_s3_bucket_logging",
    "aws:s3/bucketNotification:BucketNotification": "aws_s3_bucket_notification",
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": "aws_s3_bucket_object_lock_configuration",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "aws_s3_bucket_ownership_controls",
    "aws:s3/bucketPolicy:BucketPolicy": "aws_s3_bucket_policy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "aws_s3_bucket_public_access_block",
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": "aws_s3_bucket_replication_configuration",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        "aws_s3_bucket_server_side_encryption_configuration",
    "aws:s3/bucketVersioning:BucketVersioning": "aws_s3_bucket_versioning",
    "aws:secretsmanager/secret:Secret": "aws_secretsmanager_secret",
    "aws:secretsmanager/secretRotation:SecretRotation": "aws_secretsmanager_secret_rotation",
    "aws:secretsmanager/secretVersion:SecretVersion": "aws_secretsmanager_secret_version",
    # GCP
    "gcp:binaryauthorization/policy:Policy": "google_binary_authorization_policy",
    "gcp:compute/firewall:Firewall": "google_compute_firewall",
    "gcp:compute/network:Network": "google_compute_network",
    "gcp:compute/router:Router": "google_compute_router",
    "gcp:compute/routerNat:RouterNat": "google_compute_router_nat",
    "gcp:compute/subnetwork:Subnetwork": "google_compute_subnetwork",
    "gcp:container/cluster:Cluster": "google_container_cluster",
    "gcp:container/nodePool:NodePool": "google_container_node_pool",
    "gcp:dns/dnsManagedZoneIamMember:DnsManagedZoneIamMember": "google_dns_managed_zone_iam_member",
    "gcp:kms/cryptoKey:CryptoKey": "google_kms_crypto_key",
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": "google_kms_crypto_key_iam_member",
    "gcp:kms/keyRing:KeyRing": "google_kms_key_ring",
    "gcp:logging/projectBucketConfig:ProjectBucketConfig": "google_logging_project_bucket_config",
    "gcp:logging/projectSink:ProjectSink": "google_logging_project_sink",
    "gcp:projects/iAMAuditConfig:IAMAuditConfig": "google_project_iam_audit_config",
    "gcp:projects/iAMCustomRole:IAMCustomRole": "google_project_iam_custom_role",
    "gcp:projects/iAMMember:IAMMember": "google_project_iam_member",
    "gcp:projects/service:Service": "google_project_service",
    "gcp:secretmanager/secret:Secret": "google_secret_manager_secret",
    "gcp:secretmanager/secretIamMember:SecretIamMember": "google_secret_manager_secret_iam_member",
    "gcp:secretmanager/secretVersion:SecretVersion": "google_secret_manager_secret_version",
    "gcp:serviceaccount/account:Account": "google_service_account",
    "gcp:serviceaccount/iAMMember:IAMMember": "google_service_account_iam_member",
    "gcp:storage/bucket:Bucket": "google_storage_bucket",
    "gcp:storage/bucketIAMMember:BucketIAMMember": "google_storage_bucket_iam_member",
}

#: Pulumi input names the bridge changed from the Terraform name (repeated blocks and list attributes
#: are pluralised in Pulumi: Terraform's block `rule` is the input `rules`). Per Terraform type where the
#: name is ambiguous; `*` holds the renames that hold for every type of both providers.
RENAMES: dict[str, dict[str, str]] = {
    "*": {
        "transitions": "transition",
        "noncurrentVersionTransitions": "noncurrent_version_transition",
        "taints": "taint",
        "advancedEventSelectors": "advanced_event_selector",
        "fieldSelectors": "field_selector",
        "eventSelectors": "event_selector",
        "dataResources": "data_resource",
        "insightSelectors": "insight_selector",
        "inlinePolicies": "inline_policy",
        "targetGrants": "target_grant",
        "clientIdLists": "client_id_list",
        "thumbprintLists": "thumbprint_list",
        "secondaryIpRanges": "secondary_ip_range",
        "allows": "allow",
        "denies": "deny",
        "lifecycleRules": "lifecycle_rule",
        "matchesPrefixes": "matches_prefix",
        "matchesSuffixes": "matches_suffix",
        "matchesStorageClasses": "matches_storage_class",
        "auditLogConfigs": "audit_log_config",
        "guestAccelerators": "guest_accelerator",
        "admissionWhitelistPatterns": "admission_whitelist_patterns",
        "clusterAdmissionRules": "cluster_admission_rules",
        "startsWiths": "starts_with",
        "notStartsWiths": "not_starts_with",
        "endsWiths": "ends_with",
        "notEndsWiths": "not_ends_with",
        "privateEndpointNetworkPolicies": "private_endpoint_network_policies",
    },
    "aws_route_table": {"routes": "route"},
    "aws_s3_bucket_lifecycle_configuration": {"rules": "rule"},
    "aws_s3_bucket_replication_configuration": {"rules": "rule"},
    "aws_s3_bucket_server_side_encryption_configuration": {"rules": "rule"},
    "google_compute_router_nat": {"subnetworks": "subnetwork"},
}

#: Attributes that are Terraform maps (user keys, kept as written), not blocks.
MAP_ATTRIBUTES = frozenset({
    "tags", "tags_all", "labels", "resource_labels", "metadata", "effective_labels", "pulumi_labels",
    "default_labels", "node_labels", "annotations",
})

#: Attributes that refer to another resource, and the Terraform type they refer to. The converter writes a
#: `references` expression for them (the edge checkov's graph checks follow), to the dependency of that type
#: whose identifying input equals the value (else the only dependency of that type).
REFERENCE_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "bucket": ("aws_s3_bucket", "google_storage_bucket"),
    "allocation_id": ("aws_eip",),
    "nat_gateway_id": ("aws_nat_gateway",),
    "gateway_id": ("aws_internet_gateway",),
    "role": ("aws_iam_role",),
    "vpc_id": ("aws_vpc",),
    "subnet_id": ("aws_subnet",),
    "route_table_id": ("aws_route_table",),
    "cluster_name": ("aws_eks_cluster",),
    "target_key_id": ("aws_kms_key",),
    "kms_key_id": ("aws_kms_key",),
    "secret_id": ("aws_secretsmanager_secret",),
    "log_destination": ("aws_cloudwatch_log_group", "aws_s3_bucket"),
    "s3_bucket_name": ("aws_s3_bucket",),
    "target_bucket": ("aws_s3_bucket",),
    "network": ("google_compute_network",),
    "subnetwork": ("google_compute_subnetwork",),
    "router": ("google_compute_router",),
    "cluster": ("google_container_cluster",),
    "key_ring": ("google_kms_key_ring",),
    "crypto_key_id": ("google_kms_crypto_key",),
    "service_account_id": ("google_service_account",),
}
#: Inputs that name a resource (what another resource's reference attribute holds).
_IDENTIFYING = ("bucket", "name", "id", "arn", "clusterName", "vaultName", "accountName")


def snake(name: str) -> str:
    """`enableKeyRotation` -> `enable_key_rotation`, `iAMMember` -> `i_am_member` is never asked (types
    come from TF_TYPES); attribute names are camelCase with single upper-case letters or acronyms."""
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.lower()


def _tf_key(key: str, tf_type: str) -> str:
    return RENAMES.get(tf_type, {}).get(key) or RENAMES["*"].get(key) or snake(key)


def tf_values(value: Any, tf_type: str, *, in_map: bool = False) -> Any:
    """Pulumi inputs -> Terraform attribute values (keys snake_case, map attributes kept verbatim)."""
    if isinstance(value, dict):
        if in_map:
            return dict(value)
        out = {}
        for k, v in value.items():
            key = _tf_key(k, tf_type)
            out[key] = tf_values(v, tf_type, in_map=key in MAP_ATTRIBUTES)
        return out
    if isinstance(value, list):
        return [tf_values(v, tf_type) for v in value]
    return value


def tf_name(pulumi_name: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", pulumi_name)
    return name if name[:1].isalpha() or name[:1] == "_" else f"r_{name}"


def _identifiers(r: dict[str, Any]) -> set[str]:
    inputs = r.get("inputs") or {}
    return {str(inputs[k]) for k in _IDENTIFYING if isinstance(inputs.get(k), (str, int))}


def terraform_plan(resources: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """(Terraform plan JSON of the AWS and GCP resources, Pulumi types left out for want of a mapping)."""
    records = [r for r in resources if r["type"].split(":", 1)[0] in ("aws", "gcp")]
    skipped = sorted({r["type"] for r in records if r["type"] not in TF_TYPES})
    converted = [r for r in records if r["type"] in TF_TYPES]
    addresses: dict[str, tuple[str, str]] = {}
    used: set[str] = set()
    for r in converted:
        tf_type, name = TF_TYPES[r["type"]], tf_name(r["name"])
        while f"{tf_type}.{name}" in used:
            name += "_"
        used.add(f"{tf_type}.{name}")
        addresses[r["urn"]] = (tf_type, name)
    by_urn = {r["urn"]: r for r in converted}
    planned, configuration = [], []
    for r in converted:
        tf_type, name = addresses[r["urn"]]
        values = tf_values(r.get("inputs") or {}, tf_type)
        values.pop("region", None) if tf_type.startswith("google_") else None
        expressions: dict[str, Any] = {}
        deps = [by_urn[d] for d in r.get("dependencies") or [] if d in by_urn]
        for attr, targets in REFERENCE_ATTRIBUTES.items():
            if attr not in values:
                continue
            candidates = [d for d in deps if addresses[d["urn"]][0] in targets]
            value = str(values[attr])
            exact = [d for d in candidates if value in _identifiers(d) or any(i and i in value for i in _identifiers(d))]
            target = exact[0] if exact else (candidates[0] if len(candidates) == 1 else None)
            if target is not None:
                t_type, t_name = addresses[target["urn"]]
                expressions[attr] = {"references": [f"{t_type}.{t_name}.id", f"{t_type}.{t_name}"]}
        planned.append({"address": f"{tf_type}.{name}", "mode": "managed", "type": tf_type, "name": name,
                        "provider_name": _provider_name(tf_type), "schema_version": 0, "values": values,
                        "sensitive_values": {}})
        configuration.append({"address": f"{tf_type}.{name}", "mode": "managed", "type": tf_type, "name": name,
                              "provider_config_key": tf_type.split("_", 1)[0], "expressions": expressions,
                              "schema_version": 0})
    plan = {
        "format_version": "1.2",
        "terraform_version": "1.9.0",
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": [
            {"address": p["address"], "mode": "managed", "type": p["type"], "name": p["name"],
             "provider_name": p["provider_name"], "change": {"actions": ["create"], "before": None, "after": p["values"],
                                                             "after_unknown": {}}}
            for p in planned
        ],
        "configuration": {"root_module": {"resources": configuration}},
    }
    return plan, skipped


def _provider_name(tf_type: str) -> str:
    return {"aws": "registry.terraform.io/hashicorp/aws", "google": "registry.terraform.io/hashicorp/google"}[
        tf_type.split("_", 1)[0]]


# ----------------------------------------------------------------------------- ARM (azure-native)

#: azure-native module -> ARM resource provider namespace.
ARM_NAMESPACES = {
    "authorization": "Microsoft.Authorization",
    "compute": "Microsoft.Compute",
    "containerservice": "Microsoft.ContainerService",
    "insights": "Microsoft.Insights",
    "keyvault": "Microsoft.KeyVault",
    "managedidentity": "Microsoft.ManagedIdentity",
    "monitor": "Microsoft.Insights",
    "network": "Microsoft.Network",
    "operationalinsights": "Microsoft.OperationalInsights",
    "privatedns": "Microsoft.Network",
    "resources": "Microsoft.Resources",
    "storage": "Microsoft.Storage",
}

#: azure-native resource -> (ARM type below the namespace, the path input that is the resource's own name).
ARM_TYPES: dict[str, tuple[str, str]] = {
    "authorization:RoleAssignment": ("roleAssignments", "roleAssignmentName"),
    "compute:DiskEncryptionSet": ("diskEncryptionSets", "diskEncryptionSetName"),
    "containerservice:AgentPool": ("managedClusters/agentPools", "agentPoolName"),
    "containerservice:ManagedCluster": ("managedClusters", "resourceName"),
    "keyvault:Key": ("vaults/keys", "keyName"),
    "keyvault:Secret": ("vaults/secrets", "secretName"),
    "keyvault:Vault": ("vaults", "vaultName"),
    "managedidentity:FederatedIdentityCredential": ("userAssignedIdentities/federatedIdentityCredentials",
                                                    "federatedIdentityCredentialResourceName"),
    "managedidentity:UserAssignedIdentity": ("userAssignedIdentities", "resourceName"),
    "monitor:DataCollectionRule": ("dataCollectionRules", "dataCollectionRuleName"),
    "monitor:DataCollectionRuleAssociation": ("dataCollectionRuleAssociations", "associationName"),
    "monitor:DiagnosticSetting": ("diagnosticSettings", "name"),
    "network:PrivateEndpoint": ("privateEndpoints", "privateEndpointName"),
    "network:PrivateDnsZoneGroup": ("privateEndpoints/privateDnsZoneGroups", "privateDnsZoneGroupName"),
    "network:Subnet": ("virtualNetworks/subnets", "subnetName"),
    "network:VirtualNetwork": ("virtualNetworks", "virtualNetworkName"),
    "operationalinsights:Table": ("workspaces/tables", "tableName"),
    "operationalinsights:Workspace": ("workspaces", "workspaceName"),
    "privatedns:PrivateZone": ("privateDnsZones", "privateZoneName"),
    "privatedns:VirtualNetworkLink": ("privateDnsZones/virtualNetworkLinks", "virtualNetworkLinkName"),
    "resources:ResourceGroup": ("resourceGroups", "resourceGroupName"),
    "storage:BlobContainer": ("storageAccounts/blobServices/containers", "containerName"),
    "storage:BlobServiceProperties": ("storageAccounts/blobServices", "blobServicesName"),
    "storage:EncryptionScope": ("storageAccounts/encryptionScopes", "encryptionScopeName"),
    "storage:ManagementPolicy": ("storageAccounts/managementPolicies", "managementPolicyName"),
    "storage:StorageAccount": ("storageAccounts", "accountName"),
}

#: Path parameters: they locate the resource (its parent, resource group, scope), they are not its body.
ARM_PATH_INPUTS = frozenset({
    "resourceGroupName", "accountName", "vaultName", "resourceName", "virtualNetworkName", "workspaceName",
    "privateZoneName", "privateEndpointName", "scope", "resourceUri", "blobServicesName", "managementPolicyName",
    "containerName", "encryptionScopeName", "keyName", "secretName", "subnetName", "agentPoolName",
    "federatedIdentityCredentialResourceName", "diskEncryptionSetName", "roleAssignmentName", "tableName",
    "virtualNetworkLinkName", "privateDnsZoneGroupName", "name",
})
#: Inputs that sit at the top of an ARM resource, not under `properties`.
ARM_TOP_LEVEL = frozenset({"location", "tags", "sku", "kind", "identity", "zones", "extendedLocation", "plan", "etag"})
#: SDK input name -> ARM wire name, where azure-native took the spec's `x-ms-client-name`.
ARM_RENAMES: dict[str, dict[str, str]] = {
    "storage:StorageAccount": {"enableHttpsTrafficOnly": "supportsHttpsTrafficOnly", "networkRuleSet": "networkAcls",
                               "enableNfsV3": "isNfsV3Enabled", "enableSftp": "isSftpEnabled",
                               "isHnsEnabled": "isHnsEnabled"},
}


@lru_cache(maxsize=None)
def arm_api_version(module: str, kind: str) -> str:
    """The Azure REST API version the azure-native SDK class of `module:kind` registers with (its docstring
    says "Uses Azure REST API version …"); read from the SDK's source without importing it."""
    spec = importlib_util.find_spec("pulumi_azure_native")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pulumi_azure_native is not installed")
    folder = Path(list(spec.submodule_search_locations)[0]) / module
    file = folder / f"{snake(kind)}.py"
    text = file.read_text() if file.is_file() else ""
    m = re.search(r"Uses Azure REST API version (\d{4}-\d{2}-\d{2}(?:-preview)?)", text)
    if not m:
        raise RuntimeError(f"no API version for azure-native {module}:{kind} in {file}")
    return m.group(1)


def _arm_identity(identity: Any) -> Any:
    """azure-native takes user-assigned identities as a list of ids; ARM as a map id -> {}."""
    if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
        return {**identity, "userAssignedIdentities": {i: {} for i in identity["userAssignedIdentities"]}}
    return identity


def arm_template(resources: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """(ARM deployment template of the azure-native resources, types left out for want of a mapping)."""
    out, skipped = [], set()
    for r in resources:
        if not r["type"].startswith("azure-native:"):
            continue
        _, module, kind = r["type"].split(":")
        key = f"{module}:{kind}"
        if key not in ARM_TYPES or module not in ARM_NAMESPACES:
            skipped.add(r["type"])
            continue
        arm_type, own_name = ARM_TYPES[key]
        inputs = dict(r.get("inputs") or {})
        renames = ARM_RENAMES.get(key, {})
        resource: dict[str, Any] = {
            "type": f"{ARM_NAMESPACES[module]}/{arm_type}",
            "apiVersion": arm_api_version(module, kind),
            "name": str(inputs.get(own_name) or r["name"]),
        }
        properties: dict[str, Any] = {}
        for k, v in inputs.items():
            if k in ARM_TOP_LEVEL:
                resource[k] = _arm_identity(v) if k == "identity" else v
            elif k == "properties" and isinstance(v, dict):
                properties.update(v)
            elif k not in ARM_PATH_INPUTS:
                properties[renames.get(k, k)] = v
        if properties:
            resource["properties"] = properties
        out.append(resource)
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": out,
    }
    return template, sorted(skipped)


# ----------------------------------------------------------------------------- files


def convert_stack(resources_json: Path, out_dir: Path) -> dict[str, Any]:
    """Write `tfplan.json` and/or `arm/template.json` for one stack; returns what was written and skipped."""
    resources = json.loads(resources_json.read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Any] = {"skipped": []}
    plan, skipped = terraform_plan(resources)
    written["skipped"] += skipped
    if plan["planned_values"]["root_module"]["resources"]:
        path = out_dir / "tfplan.json"
        path.write_text(json.dumps(plan, indent=1, sort_keys=True))
        written["terraform_plan"] = path
    template, skipped = arm_template(resources)
    written["skipped"] += skipped
    if template["resources"]:
        (out_dir / "arm").mkdir(exist_ok=True)
        path = out_dir / "arm" / "template.json"
        path.write_text(json.dumps(template, indent=1, sort_keys=True))
        written["arm"] = path
    return written

