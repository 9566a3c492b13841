"""Realistic fake answers for the mock runtime: computed resource outputs and invoke results.

Each cloud adds its own entries with the ``state`` and ``invoke`` decorators; anything the program
invokes that has no fake is an error (a silent empty answer would hide bugs).
"""
from __future__ import annotations

import hashlib
from typing import Any, Callable

#: Fake identity of the account/subscription/project the plan pretends to run in.
AWS_ACCOUNT = "123456789012"
AWS_REGION = "us-east-1"
AZURE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
AZURE_TENANT = "11111111-1111-1111-1111-111111111111"
GCP_PROJECT = "lfh-example"

StateFn = Callable[[str, dict[str, Any]], dict[str, Any]]
InvokeFn = Callable[[dict[str, Any]], dict[str, Any]]

_STATES: dict[str, StateFn] = {}
_STATE_PREFIXES: list[tuple[str, StateFn]] = []
_INVOKES: dict[str, InvokeFn] = {}


def state(*type_tokens: str, prefix: bool = False) -> Callable[[StateFn], StateFn]:
    """Register computed outputs for resource types (exact tokens, or prefixes with prefix=True)."""

    def register(fn: StateFn) -> StateFn:
        for token in type_tokens:
            if prefix:
                _STATE_PREFIXES.append((token, fn))
            else:
                _STATES[token] = fn
        return fn

    return register


def invoke(*tokens: str) -> Callable[[InvokeFn], InvokeFn]:
    """Register the fake result of a provider function (invoke)."""

    def register(fn: InvokeFn) -> InvokeFn:
        for token in tokens:
            _INVOKES[token] = fn
        return fn

    return register


def short_hash(*parts: str, n: int = 8) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


def resource_id(type_: str, name: str, inputs: dict[str, Any]) -> str:
    return f"{name}-{short_hash(type_, name)}"


def computed_state(type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Outputs a real provider would compute, layered over the inputs."""
    out: dict[str, Any] = {}
    for token, fn in _STATE_PREFIXES:
        if type_.startswith(token):
            out.update(fn(name, inputs))
    if type_ in _STATES:
        out.update(_STATES[type_](name, inputs))
    return out


class MissingFake(Exception):
    pass


def invoke_result(token: str, args: dict[str, Any]) -> dict[str, Any]:
    fn = _INVOKES.get(token)
    if fn is None:
        raise MissingFake(
            f"the program invokes {token!r}, which has no offline fake; add one in lfh/plan/fakes.py"
        )
    return fn(args)


# ------------------------------------------------------------------ generic fakes


@state("aws:", prefix=True)
def _aws_arn(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"arn": f"arn:aws:lfh:{AWS_REGION}:{AWS_ACCOUNT}:{name}"}


@state("pulumi:pulumi:StackReference")
def _stack_reference(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    # Filled in by the engine with the outputs of planning the referenced stack.
    return {}


@state("random:index/randomPassword:RandomPassword", "random:index/randomString:RandomString")
def _random_string(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    length = int(inputs.get("length", 32))
    # RandomPassword also answers a bcrypt hash of the result (its `bcryptHash` output).
    return {"result": ("x" * length), "bcryptHash": "$2a$10$" + "x" * 53}


@state("random:index/randomId:RandomId")
def _random_id(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    n = int(inputs.get("byteLength", 4))
    h = short_hash("randomid", name, n=n * 2)
    return {"hex": h, "dec": str(int(h, 16)), "b64Url": h, "b64Std": h}


@invoke("aws:index/getCallerIdentity:getCallerIdentity")
def _aws_caller(args: dict[str, Any]) -> dict[str, Any]:
    return {"accountId": AWS_ACCOUNT, "arn": f"arn:aws:iam::{AWS_ACCOUNT}:user/ci", "userId": "AIDAEXAMPLE", "id": AWS_ACCOUNT}


@invoke("aws:index/getPartition:getPartition")
def _aws_partition(args: dict[str, Any]) -> dict[str, Any]:
    return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws", "reverseDnsPrefix": "com.amazonaws"}


@invoke("aws:index/getRegion:getRegion")
def _aws_region(args: dict[str, Any]) -> dict[str, Any]:
    region = args.get("region") or args.get("name") or AWS_REGION
    return {"name": region, "region": region, "id": region, "endpoint": f"ec2.{region}.amazonaws.com", "description": region}


@invoke("aws:index/getAvailabilityZones:getAvailabilityZones")
def _aws_azs(args: dict[str, Any]) -> dict[str, Any]:
    names = [f"{AWS_REGION}{s}" for s in "abcdef"]
    return {"names": names, "zoneIds": [f"use1-az{i}" for i in range(1, 7)], "id": AWS_REGION, "groupNames": [AWS_REGION]}


@invoke("azure-native:authorization:getClientConfig")
def _azure_client(args: dict[str, Any]) -> dict[str, Any]:
    return {"clientId": "22222222-2222-2222-2222-222222222222", "objectId": "33333333-3333-3333-3333-333333333333",
            "subscriptionId": AZURE_SUBSCRIPTION, "tenantId": AZURE_TENANT}


@invoke("gcp:organizations/getProject:getProject")
def _gcp_project(args: dict[str, Any]) -> dict[str, Any]:
    project = args.get("projectId") or GCP_PROJECT
    return {"projectId": project, "number": "123456789012", "name": project, "id": f"projects/{project}"}


@invoke("gcp:organizations/getClientConfig:getClientConfig")
def _gcp_client(args: dict[str, Any]) -> dict[str, Any]:
    return {"project": GCP_PROJECT, "region": "us-central1", "zone": "us-central1-a", "accessToken": "fake-token", "id": "gcp"}


# ================================================================== AWS (cluster: EKS) — owned by the cluster work


@state("aws:eks/cluster:Cluster")
def _aws_eks_cluster(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    cluster = str(inputs.get("name") or name)
    oidc_id = short_hash("eks-oidc", cluster, n=32).upper()
    return {
        "arn": f"arn:aws:eks:{AWS_REGION}:{AWS_ACCOUNT}:cluster/{cluster}",
        "name": cluster,
        "endpoint": f"https://{short_hash('eks', cluster, n=32).upper()}.gr7.{AWS_REGION}.eks.amazonaws.com",
        "certificateAuthority": {"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmZha2UKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="},
        "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{AWS_REGION}.amazonaws.com/id/{oidc_id}"}]}],
        "clusterId": short_hash("eks-id", cluster, n=32),
        "platformVersion": "eks.1",
        "status": "ACTIVE",
        "vpcConfig": {**(inputs.get("vpcConfig") or {}), "clusterSecurityGroupId": f"sg-{short_hash('eks-sg', cluster, n=17)}",
                      "vpcId": f"vpc-{short_hash('vpc', cluster, n=17)}"},
    }


@state("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
def _aws_oidc_provider(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    url = str(inputs.get("url", "")).removeprefix("https://")
    return {"arn": f"arn:aws:iam::{AWS_ACCOUNT}:oidc-provider/{url}"}


@state("aws:iam/role:Role")
def _aws_iam_role(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    role = str(inputs.get("name") or f"{name}-{short_hash('role', name, n=7)}")
    return {"arn": f"arn:aws:iam::{AWS_ACCOUNT}:role/{role}", "name": role, "uniqueId": f"AROA{short_hash('role', name, n=17).upper()}"}


@state("aws:kms/key:Key")
def _aws_kms_key(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    h = short_hash("kms", name, n=32)
    key_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
    return {"id": key_id, "keyId": key_id, "arn": f"arn:aws:kms:{AWS_REGION}:{AWS_ACCOUNT}:key/{key_id}"}


@state("aws:s3/bucket:Bucket")
def _aws_s3_bucket(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    bucket = str(inputs.get("bucket") or f"{name}-{short_hash('s3', name)}")
    return {"id": bucket, "bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "region": inputs.get("region") or AWS_REGION,
            "bucketDomainName": f"{bucket}.s3.amazonaws.com", "bucketRegionalDomainName": f"{bucket}.s3.{AWS_REGION}.amazonaws.com"}


@state("aws:cloudwatch/logGroup:LogGroup")
def _aws_log_group(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    group = str(inputs.get("name") or name)
    return {"arn": f"arn:aws:logs:{AWS_REGION}:{AWS_ACCOUNT}:log-group:{group}"}


@state("aws:ec2/launchTemplate:LaunchTemplate")
def _aws_launch_template(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"lt-{short_hash('lt', name, n=17)}", "latestVersion": 1, "defaultVersion": 1}




@state("aws:eks/nodeGroup:NodeGroup")
def _aws_node_group(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"status": "ACTIVE", "nodeGroupName": f"{inputs.get('nodeGroupNamePrefix', '')}{short_hash('ng', name)}"}


# ================================================================== end AWS (cluster)


# ================================================================== Azure (cluster: AKS) — owned by the cluster work

#: Input keys azure-native resources name themselves with, most specific first.
_AZURE_NAME_KEYS = ("resourceName", "vaultName", "keyName", "accountName", "containerName", "diskEncryptionSetName",
                    "virtualNetworkName", "subnetName", "agentPoolName", "federatedIdentityCredentialResourceName",
                    "managementPolicyName", "blobServicesName", "resourceGroupName", "roleAssignmentName")


def _azure_name(name: str, inputs: dict[str, Any]) -> str:
    for key in _AZURE_NAME_KEYS:
        value = inputs.get(key)
        if isinstance(value, str) and value:
            return value
    return name


@state("azure-native:", prefix=True)
def _azure_identity_map(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Inputs list user-assigned identity ids; outputs map each id to its principal/client id."""
    identity = inputs.get("identity")
    if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
        ids = identity["userAssignedIdentities"]
        return {"identity": {**identity, "userAssignedIdentities": {
            i: {"principalId": f"{short_hash('p', str(i))}-0000-4000-8000-000000000000",
                "clientId": f"{short_hash('c', str(i))}-0000-4000-8000-000000000000"} for i in ids}}}
    return {}


@state("azure-native:resources:ResourceGroup")
def _azure_rg(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    rg = str(inputs.get("resourceGroupName") or name)
    return {"id": f"/subscriptions/{AZURE_SUBSCRIPTION}/resourceGroups/{rg}", "name": rg}


def _arm(inputs: dict[str, Any], provider: str, name: str) -> str:
    rg = inputs.get("resourceGroupName") or "rg"
    return f"/subscriptions/{AZURE_SUBSCRIPTION}/resourceGroups/{rg}/providers/{provider}/{name}"


@state("azure-native:managedidentity:UserAssignedIdentity")
def _azure_uai(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    n = _azure_name(name, inputs)
    h = short_hash("uai", name, n=24)
    return {"id": _arm(inputs, "Microsoft.ManagedIdentity/userAssignedIdentities", n), "name": n,
            "principalId": f"{h[:8]}-0000-4000-8000-{h[8:20]}", "clientId": f"{h[4:12]}-1111-4000-8000-{h[12:24]}",
            "tenantId": AZURE_TENANT}


@state("azure-native:keyvault:Vault")
def _azure_vault(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    n = _azure_name(name, inputs)
    props = dict(inputs.get("properties") or {})
    props["vaultUri"] = f"https://{n}.vault.azure.net/"
    return {"id": _arm(inputs, "Microsoft.KeyVault/vaults", n), "name": n, "properties": props}


@state("azure-native:keyvault:Key")
def _azure_key(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    vault, key = inputs.get("vaultName", "vault"), inputs.get("keyName", name)
    version = short_hash("keyversion", name, n=32)
    return {"id": _arm(inputs, f"Microsoft.KeyVault/vaults/{vault}/keys", key), "name": key,
            "keyUri": f"https://{vault}.vault.azure.net/keys/{key}",
            "keyUriWithVersion": f"https://{vault}.vault.azure.net/keys/{key}/{version}"}


@state("azure-native:compute:DiskEncryptionSet")
def _azure_des(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    n = _azure_name(name, inputs)
    h = short_hash("des", name, n=12)
    return {"id": _arm(inputs, "Microsoft.Compute/diskEncryptionSets", n), "name": n,
            "identity": {"type": "SystemAssigned", "principalId": f"{h[:8]}-2222-4000-8000-{h}", "tenantId": AZURE_TENANT}}


@state("azure-native:storage:StorageAccount")
def _azure_storage_account(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    n = _azure_name(name, inputs)
    return {"id": _arm(inputs, "Microsoft.Storage/storageAccounts", n), "name": n,
            "primaryEndpoints": {"blob": f"https://{n}.blob.core.windows.net/", "dfs": f"https://{n}.dfs.core.windows.net/"}}


@state("azure-native:storage:BlobContainer")
def _azure_container(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    n = inputs.get("containerName", name)
    return {"id": _arm(inputs, f"Microsoft.Storage/storageAccounts/{inputs.get('accountName')}/blobServices/default/containers", n), "name": n}


@state("azure-native:network:VirtualNetwork")
def _azure_vnet(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    n = _azure_name(name, inputs)
    return {"id": _arm(inputs, "Microsoft.Network/virtualNetworks", n), "name": n}


@state("azure-native:network:Subnet")
def _azure_subnet(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    n = inputs.get("subnetName", name)
    return {"id": _arm(inputs, f"Microsoft.Network/virtualNetworks/{inputs.get('virtualNetworkName')}/subnets", n), "name": n}


@state("azure-native:containerservice:ManagedCluster")
def _azure_aks(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    n = _azure_name(name, inputs)
    oidc = short_hash("aks-oidc", n, n=32)
    return {
        "id": _arm(inputs, "Microsoft.ContainerService/managedClusters", n), "name": n,
        "fqdn": f"{inputs.get('dnsPrefix', n)}-{short_hash('fqdn', n)}.hcp.eastus2.azmk8s.io",
        "privateFQDN": f"{inputs.get('dnsPrefix', n)}-{short_hash('fqdn', n)}.privatelink.eastus2.azmk8s.io",
        "oidcIssuerProfile": {"enabled": True,
                              "issuerURL": f"https://eastus2.oic.prod-aks.azure.com/{AZURE_TENANT}/{oidc}/"},
        "nodeResourceGroup": f"MC_{inputs.get('resourceGroupName', 'rg')}_{n}",
        "identityProfile": {"kubeletidentity": {"objectId": f"{oidc[:8]}-3333-4000-8000-{oidc[8:20]}",
                                                "clientId": f"{oidc[12:20]}-3333-4000-8000-{oidc[20:32]}"}},
    }


@state("azure-native:authorization:RoleAssignment")
def _azure_role_assignment(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    h = short_hash("ra", name, n=32)
    guid = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
    return {"id": f"{inputs.get('scope', '')}/providers/Microsoft.Authorization/roleAssignments/{guid}", "name": guid}


@state("azure-native:privatedns:PrivateZone")
def _azure_private_zone(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    n = inputs.get("privateZoneName", name)
    return {"id": _arm(inputs, "Microsoft.Network/privateDnsZones", n), "name": n}


@state("azure-native:network:PrivateEndpoint")
def _azure_private_endpoint(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    n = inputs.get("privateEndpointName", name)
    return {"id": _arm(inputs, "Microsoft.Network/privateEndpoints", n), "name": n}


@state("azure-native:operationalinsights:Workspace")
def _azure_workspace(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    n = inputs.get("workspaceName", name)
    return {"id": _arm(inputs, "Microsoft.OperationalInsights/workspaces", n), "name": n,
            "customerId": f"{short_hash('ws', n)}-5555-4000-8000-{short_hash('ws2', n, n=12)}"}


@invoke("azure-native:containerservice:listManagedClusterUserCredentials")
def _azure_aks_user_credentials(args: dict[str, Any]) -> dict[str, Any]:
    import base64

    cluster = args.get("resourceName", "aks")
    server = f"https://{cluster}-{short_hash('fqdn', cluster)}.privatelink.eastus2.azmk8s.io:443"
    kubeconfig = (
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: {cluster}\n  cluster:\n    server: {server}\n    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n"
        f"contexts:\n- name: {cluster}\n  context:\n    cluster: {cluster}\n    user: clusterUser_{cluster}\n"
        f"current-context: {cluster}\n"
        f"users:\n- name: clusterUser_{cluster}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
        "      command: kubelogin\n      args: [get-token, --login, devicecode]\n"
    )
    return {"kubeconfigs": [{"name": "clusterUser", "value": base64.b64encode(kubeconfig.encode()).decode()}]}


# ================================================================== end Azure (cluster)


# ================================================================== GCP (cluster: GKE) — owned by the cluster work


@state("gcp:container/cluster:Cluster")
def _gcp_gke(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    cluster = str(inputs.get("name") or name)
    project, location = inputs.get("project", GCP_PROJECT), inputs.get("location", "us-central1")
    h = short_hash("gke", cluster)
    return {
        "id": f"projects/{project}/locations/{location}/clusters/{cluster}", "name": cluster,
        "endpoint": f"172.16.0.{int(h[:2], 16) % 250 + 2}",
        "masterAuth": {**(inputs.get("masterAuth") or {}),
                       "clusterCaCertificate": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmZha2UKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="},
        "selfLink": f"https://container.googleapis.com/v1/projects/{project}/locations/{location}/clusters/{cluster}",
        "masterVersion": f"{inputs.get('minMasterVersion', '1.33')}.5-gke.1000000",
    }


@state("gcp:container/nodePool:NodePool")
def _gcp_node_pool(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"instanceGroupUrls": [], "operation": ""}


@state("gcp:kms/keyRing:KeyRing")
def _gcp_key_ring(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    ring = inputs.get("name", name)
    return {"id": f"projects/{inputs.get('project', GCP_PROJECT)}/locations/{inputs.get('location', 'us-central1')}/keyRings/{ring}"}


@state("gcp:kms/cryptoKey:CryptoKey")
def _gcp_crypto_key(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"{inputs.get('keyRing', 'projects/p/locations/l/keyRings/r')}/cryptoKeys/{inputs.get('name', name)}"}


@state("gcp:serviceaccount/account:Account")
def _gcp_service_account(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    project = inputs.get("project", GCP_PROJECT)
    email = f"{inputs.get('accountId', name)}@{project}.iam.gserviceaccount.com"
    return {"id": f"projects/{project}/serviceAccounts/{email}", "name": f"projects/{project}/serviceAccounts/{email}",
            "email": email, "member": f"serviceAccount:{email}", "uniqueId": str(int(short_hash('sa', email, n=12), 16))}


@state("gcp:storage/bucket:Bucket")
def _gcp_bucket(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    bucket = inputs.get("name", name)
    return {"id": bucket, "name": bucket, "url": f"gs://{bucket}", "selfLink": f"https://www.googleapis.com/storage/v1/b/{bucket}"}


@state("gcp:compute/network:Network", "gcp:compute/subnetwork:Subnetwork", "gcp:compute/router:Router", "gcp:compute/address:Address")
def _gcp_compute(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    project = inputs.get("project", GCP_PROJECT)
    res = inputs.get("name", name)
    if "ipCidrRange" in inputs:
        path = f"projects/{project}/regions/{inputs.get('region')}/subnetworks/{res}"
    elif "addressType" in inputs:
        path = f"projects/{project}/regions/{inputs.get('region')}/addresses/{res}"
        return {"id": path, "selfLink": f"https://www.googleapis.com/compute/v1/{path}", "address": "203.0.113.10"}
    elif "region" in inputs:
        path = f"projects/{project}/regions/{inputs.get('region')}/routers/{res}"
    else:
        path = f"projects/{project}/global/networks/{res}"
    return {"id": path, "selfLink": f"https://www.googleapis.com/compute/v1/{path}"}


@state("gcp:logging/projectBucketConfig:ProjectBucketConfig")
def _gcp_log_bucket(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    path = f"projects/{inputs.get('project', GCP_PROJECT)}/locations/{inputs.get('location')}/buckets/{inputs.get('bucketId', name)}"
    return {"id": path, "name": path}


@state("gcp:logging/projectSink:ProjectSink")
def _gcp_log_sink(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"writerIdentity": "serviceAccount:service-123456789012@gcp-sa-logging.iam.gserviceaccount.com"}


@state("gcp:projects/iAMCustomRole:IAMCustomRole")
def _gcp_custom_role(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    path = f"projects/{inputs.get('project', GCP_PROJECT)}/roles/{inputs.get('roleId', name)}"
    return {"id": path, "name": path}


@invoke("gcp:storage/getProjectServiceAccount:getProjectServiceAccount")
def _gcp_gcs_agent(args: dict[str, Any]) -> dict[str, Any]:
    project = args.get("project") or GCP_PROJECT
    email = "service-123456789012@gs-project-accounts.iam.gserviceaccount.com"
    return {"emailAddress": email, "member": f"serviceAccount:{email}", "project": project, "id": email}


@invoke("gcp:logging/getProjectCmekSettings:getProjectCmekSettings")
def _gcp_logging_agent(args: dict[str, Any]) -> dict[str, Any]:
    project = args.get("project") or GCP_PROJECT
    return {"project": project, "id": f"projects/{project}/cmekSettings", "name": f"projects/{project}/cmekSettings",
            "serviceAccountId": "service-123456789012@gcp-sa-logging.iam.gserviceaccount.com"}


# ================================================================== end GCP (cluster)
# ------------------------------------------------------------------ client adapters
# Computed outputs of what the client-side cloud adapters (components/cloud/) create, beyond the
# cluster section's fakes (roles, buckets, identities, containers, service accounts are shared).


@state("aws:secretsmanager/secret:Secret")
def _client_sm_secret(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    secret = inputs.get("name") or name
    arn = f"arn:aws:secretsmanager:{AWS_REGION}:{AWS_ACCOUNT}:secret:{secret}-{short_hash('sm', secret, n=6)}"
    return {"arn": arn, "id": arn}


@state("azure-native:storage:EncryptionScope")
def _client_azure_scope(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"name": inputs.get("encryptionScopeName") or name}


@state("gcp:secretmanager/secret:Secret")
def _client_gcp_secret(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    project = inputs.get("project") or GCP_PROJECT
    sid = inputs.get("secretId") or name
    return {"secretId": sid, "name": f"projects/123456789012/secrets/{sid}", "id": f"projects/{project}/secrets/{sid}"}


@state("random:index/randomBytes:RandomBytes")
def _client_random_bytes(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    import base64

    n = int(inputs.get("length", 32))
    raw = hashlib.sha256(f"randombytes/{name}".encode()).digest() * (n // 32 + 1)
    return {"base64": base64.b64encode(raw[:n]).decode(), "hex": raw[:n].hex()}


# ------------------------------------------------------------------ backups (keys, snapshots)
# What the key-based backup credentials (components/cluster/backup_keys.py) read back.


@invoke("azure-native:storage:listStorageAccountKeys")
def _azure_account_keys(args: dict[str, Any]) -> dict[str, Any]:
    account = str(args.get("accountName") or "account")
    return {"keys": [
        {"keyName": name, "permissions": "FULL", "creationTime": created,
         "value": hashlib.sha256(f"{account}/{name}".encode()).hexdigest() + "=="}
        for name, created in (("key1", "2026-01-05T10:00:00Z"), ("key2", "2026-04-05T10:00:00Z"))]}


@state("gcp:storage/hmacKey:HmacKey")
def _gcp_hmac_key(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    access = "GOOG1E" + short_hash("hmac", name, n=32).upper()
    return {"accessId": access, "secret": short_hash("hmac-secret", name, n=40), "state": inputs.get("state", "ACTIVE"),
            "id": f"projects/{inputs.get('project', GCP_PROJECT)}/hmacKeys/{access}"}


@state("gcp:projects/serviceIdentity:ServiceIdentity")
def _gcp_service_identity(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    service = str(inputs.get("service", "service")).split(".")[0]
    email = f"service-123456789012@gcp-sa-{service}.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}"}
# ------------------------------------------------------------------ secret rotation (pulumiverse-time)

#: The base time every fake `time.Rotating` reports (2026-01-01T00:00:00Z), so rotated names are stable.
ROTATION_BASE_UNIX = 1767225600


@state("time:index/rotating:Rotating")
def _time_rotating(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    import datetime

    base = datetime.datetime.fromtimestamp(ROTATION_BASE_UNIX, datetime.timezone.utc)
    days = int(inputs.get("rotationDays") or 0)
    rotation = base + datetime.timedelta(days=days)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return {"rfc3339": base.strftime(fmt), "rotationRfc3339": rotation.strftime(fmt), "unix": ROTATION_BASE_UNIX,
            "year": base.year, "month": base.month, "day": base.day, "hour": 0, "minute": 0, "second": 0}
