"""ClientSecrets and the cloud adapters' secret side: scoping, separation, no plaintext."""
from __future__ import annotations

import json

import pytest

from test_client_data_harness import FAKE_PASSWORD, everything_recorded, kind, of_type, one, plan_scenario

KINDS = ["aws", "azure", "gcp", "existing"]


def store(plan):
    (s,) = kind(plan, "SecretStore")
    return s.inputs


@pytest.mark.parametrize("cloud", KINDS)
@pytest.mark.parametrize("environment", ["production", "staging"])
def test_generated_secrets_never_recorded_in_plaintext(cloud, environment):
    plan = plan_scenario(cloud, environment, search={"enabled": True})
    # The fakes answer every RandomPassword with FAKE_PASSWORD: it must only ever travel as a secret.
    assert of_type(plan, "random:index/randomPassword:RandomPassword"), "no generated passwords?"
    assert FAKE_PASSWORD not in everything_recorded(plan)
    assert plan.secret_outputs == []  # nothing secret is exported at all


def test_aws_secret_store_identity_reads_only_its_prefix():
    plan = plan_scenario("aws", "production")
    role = one(plan, "aws:iam/role:Role", "secrets-secret-store-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    issuer = "oidc.eks.us-east-1.amazonaws.com/id/ABC"
    assert trust["Condition"]["StringEquals"][f"{issuer}:sub"] == "system:serviceaccount:acme-production:lfh-secret-store"
    policy = json.loads(one(plan, "aws:iam/rolePolicy:RolePolicy", "secret-store-policy").inputs["policy"])
    resources = [s["Resource"] for s in policy["Statement"] if "secretsmanager:GetSecretValue" in s["Action"]]
    assert resources == ["arn:aws:secretsmanager:us-east-1:123456789012:secret:lfh-aws/acme/production/*"]
    assert store(plan)["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]["name"] == "lfh-secret-store"


def test_aws_secrets_written_under_the_env_path_with_the_platform_key():
    plan = plan_scenario("aws", "production")
    secrets = of_type(plan, "aws:secretsmanager/secret:Secret")
    assert secrets and all(s.inputs["name"].startswith("lfh-aws/acme/production/") for s in secrets)
    assert all(s.inputs["kmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/1111-2222" for s in secrets)
    assert all(s.protect for s in secrets)
    assert all(v.inputs["secretString"] == "[secret]" for v in of_type(plan, "aws:secretsmanager/secretVersion:SecretVersion"))


@pytest.mark.parametrize("cloud", KINDS)
def test_staging_and_production_never_share_a_path(cloud):
    prod, staging = plan_scenario(cloud, "production"), plan_scenario(cloud, "staging")

    def paths(plan):
        # A remote key is relative to its store: on existing clusters, to the store's source namespace.
        scope = store(plan)["spec"]["provider"].get("kubernetes", {}).get("remoteNamespace", "")
        return {f"{scope}/{v}" for w in plan.outputs["wiring"] for v in w["secretData"].values()}

    assert paths(prod) and paths(staging)
    assert not paths(prod) & paths(staging)


def test_two_clients_share_no_identity_or_path():
    a, b = plan_scenario("aws", "production", name="acme"), plan_scenario("aws", "production", name="globex")
    pa = json.loads(one(a, "aws:iam/rolePolicy:RolePolicy", "secret-store-policy").inputs["policy"])
    pb = json.loads(one(b, "aws:iam/rolePolicy:RolePolicy", "secret-store-policy").inputs["policy"])
    assert pa["Statement"][0]["Resource"] != pb["Statement"][0]["Resource"]
    names = lambda p: {s.inputs["name"] for s in of_type(p, "aws:secretsmanager/secret:Secret")}  # noqa: E731
    assert not names(a) & names(b)


def test_azure_grants_per_secret_never_the_vault():
    plan = plan_scenario("azure", "production")
    grants = [r for r in of_type(plan, "azure-native:authorization:RoleAssignment") if "-reader-" in r.name]
    secrets = of_type(plan, "azure-native:keyvault:Secret")
    assert len(grants) == len(secrets) > 0
    vault = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/lfh-az/providers/Microsoft.KeyVault/vaults/lfh-kv"
    for g in grants:
        assert g.inputs["scope"].startswith(f"{vault}/secrets/lfh-az--acme--production--"), g.inputs["scope"]
        assert g.inputs["roleDefinitionId"].endswith("4633458b-17de-408a-b874-0445c86b69e6")  # Secrets User
    fed = one(plan, "azure-native:managedidentity:FederatedIdentityCredential", "secret-store-federation")
    assert fed.inputs["subject"] == "system:serviceaccount:acme-production:lfh-secret-store"
    assert all(s.inputs["properties"] == "[secret]" or s.inputs["properties"]["value"] == "[secret]" for s in secrets)
    provider = store(plan)["spec"]["provider"]["azurekv"]
    assert provider["authType"] == "WorkloadIdentity" and provider["vaultUrl"] == "https://lfh-kv.vault.azure.net/"


def test_gcp_grants_per_secret_and_cmk_replication():
    plan = plan_scenario("gcp", "production")
    secrets = of_type(plan, "gcp:secretmanager/secret:Secret")
    grants = of_type(plan, "gcp:secretmanager/secretIamMember:SecretIamMember")
    assert len(grants) == len(secrets) > 0
    assert all(s.inputs["secretId"].startswith("lfh-gcp__acme__production__") for s in secrets)
    kms = "projects/lfh-example/locations/us-central1/keyRings/lfh/cryptoKeys/platform"
    for s in secrets:
        (replica,) = s.inputs["replication"]["userManaged"]["replicas"]
        assert replica["customerManagedEncryption"]["kmsKeyName"] == kms
    assert {g.inputs["role"] for g in grants} == {"roles/secretmanager.secretAccessor"}
    wi = one(plan, "gcp:serviceaccount/iAMMember:IAMMember", "secret-store-wi")
    assert wi.inputs["member"] == "serviceAccount:lfh-example.svc.id.goog[acme-production/lfh-secret-store]"


def test_existing_cluster_secrets_live_in_a_dedicated_source_namespace():
    plan = plan_scenario("existing", "production")
    source = "lfh-secrets-acme-production"
    (ns,) = [n for n in kind(plan, "Namespace") if n.inputs["metadata"]["name"] == source]
    assert ns.protect and ns.retain_on_delete
    secrets = kind(plan, "Secret")
    assert secrets and all(s.inputs["metadata"]["namespace"] == source for s in secrets)
    generated = [s for s in secrets if s.inputs["metadata"]["name"] != "mongodb-backup-credentials"]
    # Each keeps its key (a valid Secret), its value masked.
    assert all(s.inputs["stringData"] == {"value": "[secret]"} for s in generated)
    # Hand-filled credentials: created empty, never overwritten by the stack.
    (declared,) = [s for s in secrets if s.inputs["metadata"]["name"] == "mongodb-backup-credentials"]
    assert "stringData" not in declared.inputs and set(declared.ignore_changes) >= {"data", "stringData"}
    (role,) = kind(plan, "Role")
    assert role.inputs["metadata"]["namespace"] == source
    assert role.inputs["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}]
    (binding,) = kind(plan, "RoleBinding")
    assert binding.inputs["subjects"] == [{"kind": "ServiceAccount", "name": "lfh-secret-store", "namespace": "acme-production"}]
    provider = store(plan)["spec"]["provider"]["kubernetes"]
    assert provider["remoteNamespace"] == source
    assert provider["auth"]["serviceAccount"]["name"] == "lfh-secret-store"


@pytest.mark.parametrize("cloud", KINDS)
def test_every_external_secret_uses_the_namespace_store(cloud):
    plan = plan_scenario(cloud, "production", search={"enabled": True})
    externals = kind(plan, "ExternalSecret")
    assert len(externals) >= 4
    for es in externals:
        assert es.inputs["spec"]["secretStoreRef"] == {"name": "lfh-secret-store", "kind": "SecretStore"}
        assert es.inputs["metadata"]["namespace"] == "acme-production"
        # It waits for the store and for the cloud secrets it reads.
        assert any("SecretStore" in d for d in es.dependencies)


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
def test_cloud_resources_use_an_explicit_provider_from_the_contract(cloud):
    plan = plan_scenario(cloud, "production")
    providers = [r for r in plan.resources if r.type == f"pulumi:providers:{'azure-native' if cloud == 'azure' else cloud}"]
    assert len(providers) == 1
    p = providers[0]
    if cloud == "aws":
        # Provider inputs arrive JSON-encoded.
        assert p.inputs["region"] == "us-east-1" and json.loads(p.inputs["allowedAccountIds"]) == ["123456789012"]
        tags = json.loads(p.inputs["defaultTags"])["tags"]
        assert tags["lfh:client"] == "acme" and tags["lfh:environment"] == "production"
    elif cloud == "azure":
        assert p.inputs["subscriptionId"] == "00000000-0000-0000-0000-000000000000"
    else:
        assert p.inputs["project"] == "lfh-example" and p.inputs["region"] == "us-central1"
    cloud_children = [r for r in plan.resources if r.type.startswith(f"{'azure-native' if cloud == 'azure' else cloud}:")
                      and not r.type.startswith("pulumi:providers")]
    assert cloud_children and all(r.provider.startswith(p.urn) for r in cloud_children)


@pytest.mark.parametrize("cloud,keys", [
    ("azure", ["AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT_KEY"]),
    ("gcp", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])])
def test_stack_made_backup_credentials_are_stored_under_the_environment_with_per_secret_grants(cloud, keys):
    """The stack makes MongoDB's backup key (Azure account key, GCS HMAC key), stores it under the
    environment's own path with the same per-secret grant as every generated secret, and syncs it."""
    plan = plan_scenario(cloud, "production")
    (es,) = [e for e in kind(plan, "ExternalSecret") if e.inputs["metadata"]["name"] == "mongodb-backup-credentials"]
    data = {d["secretKey"]: d["remoteRef"]["key"] for d in es.inputs["spec"]["data"]}
    assert sorted(data) == sorted(keys)
    sep = "--" if cloud == "azure" else "__"
    prefix = {"azure": "lfh-az", "gcp": "lfh-gcp"}[cloud]
    for key, remote in data.items():
        stored = f"mongodb-backup-{key.lower().replace('_', '-')}"
        assert remote == sep.join([prefix, "acme", "production", stored])
        assert len([r for r in plan.resources if r.name.endswith(f"{stored}-reader-secret-store")]) == 1
    assert "dataFrom" not in es.inputs["spec"]   # nothing hand-filled any more


def test_azure_backup_key_is_read_from_its_own_account_and_kept_current():
    plan = plan_scenario("azure", "production")
    (secret,) = [r for r in of_type(plan, "azure-native:keyvault:Secret")
                 if r.name.endswith("mongodb-backup-azure-storage-account-key")]
    # stored value follows the account's newest key: never ignore_changes
    assert not secret.ignore_changes and secret.protect
    (account,) = of_type(plan, "azure-native:storage:StorageAccount")
    assert account.inputs["allowSharedKeyAccess"] is True and account.protect and account.retain_on_delete
    assert any(account.urn in r.dependencies for r in of_type(plan, "azure-native:keyvault:Secret") if r is secret) or \
        account.urn in secret.dependencies


def test_aws_has_no_hand_filled_secret_holders_beyond_the_prefix():
    plan = plan_scenario("aws", "production")
    # IRSA covers backups on AWS: no credentials secret is declared.
    assert not [r for r in plan.resources if "backup-credentials" in r.name]
