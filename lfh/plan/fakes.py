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
    return {"result": ("x" * length)}


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


# ------------------------------------------------------------------ client adapters
# Computed outputs of what the client-side cloud adapters (components/cloud/) create.


@state("aws:s3/bucket:Bucket")
def _client_s3_bucket(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    bucket = inputs.get("bucket") or f"{name}-{short_hash('s3', name)}"
    return {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "id": bucket,
            "bucketRegionalDomainName": f"{bucket}.s3.{AWS_REGION}.amazonaws.com",
            "bucketDomainName": f"{bucket}.s3.amazonaws.com", "region": AWS_REGION}


@state("aws:iam/role:Role")
def _client_iam_role(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    role = inputs.get("name") or f"{name}-{short_hash('role', name)}"
    return {"name": role, "id": role, "arn": f"arn:aws:iam::{AWS_ACCOUNT}:role/{role}",
            "uniqueId": f"AROA{short_hash('role-id', name, n=16).upper()}"}


@state("aws:secretsmanager/secret:Secret")
def _client_sm_secret(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    secret = inputs.get("name") or name
    arn = f"arn:aws:secretsmanager:{AWS_REGION}:{AWS_ACCOUNT}:secret:{secret}-{short_hash('sm', secret, n=6)}"
    return {"arn": arn, "id": arn}


@state("azure-native:managedidentity:UserAssignedIdentity")
def _client_azure_identity(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    h = short_hash("uai", name, n=32)
    guid = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
    rname = inputs.get("resourceName") or name
    return {"clientId": guid, "principalId": guid[::-1], "tenantId": AZURE_TENANT, "name": rname,
            "id": f"/subscriptions/{AZURE_SUBSCRIPTION}/resourceGroups/{inputs.get('resourceGroupName', 'rg')}"
                  f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{rname}"}


@state("azure-native:storage:BlobContainer")
def _client_azure_container(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    cname = inputs.get("containerName") or name
    return {"name": cname, "id": f"/subscriptions/{AZURE_SUBSCRIPTION}/resourceGroups/{inputs.get('resourceGroupName', 'rg')}"
                                 f"/providers/Microsoft.Storage/storageAccounts/{inputs.get('accountName', 'sa')}"
                                 f"/blobServices/default/containers/{cname}"}


@state("azure-native:storage:EncryptionScope")
def _client_azure_scope(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"name": inputs.get("encryptionScopeName") or name}


@state("gcp:serviceaccount/account:Account")
def _client_gcp_account(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    project = inputs.get("project") or GCP_PROJECT
    email = f"{inputs.get('accountId', name)}@{project}.iam.gserviceaccount.com"
    return {"email": email, "name": f"projects/{project}/serviceAccounts/{email}", "member": f"serviceAccount:{email}",
            "uniqueId": str(int(short_hash("gsa", name, n=12), 16))}


@state("gcp:storage/bucket:Bucket")
def _client_gcs_bucket(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    bucket = inputs.get("name") or name
    return {"name": bucket, "url": f"gs://{bucket}", "selfLink": f"https://www.googleapis.com/storage/v1/b/{bucket}"}


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
