"""Object storage: per-client cloud buckets (CMK, versioning, no public access, TLS only, HapiHub-only
identity) and MinIO (distributed 6×250Gi EC:2 in production, 1 node in staging, rate-limited route)."""
from __future__ import annotations

import json

import pytest

from test_client_data_harness import kind, of_type, one, plan_scenario
from lfh.plan.fakes import ROTATION_BASE_UNIX

HELM = "kubernetes:helm.sh/v3:Release"


def minio(plan):
    (r,) = [r for r in plan.resources if r.type == HELM and r.inputs["chart"] == "minio"]
    return r


# ------------------------------------------------------------------ cloud mode


def test_aws_bucket_cmk_versioning_public_block_tls_only_protected():
    plan = plan_scenario("aws", "staging")  # one bucket: staging keeps no second copy by default
    bucket = one(plan, "aws:s3/bucket:Bucket")
    assert bucket.inputs["bucket"] == "lfh-aws-acme-staging-hapihub-files"
    assert bucket.inputs["forceDestroy"] is False
    assert bucket.inputs["tags"]["data-classification"] == "phi"
    sse = one(plan, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    rule = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert rule == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "arn:aws:kms:us-east-1:123456789012:key/1111-2222"}
    assert one(plan, "aws:s3/bucketVersioning:BucketVersioning").inputs["versioningConfiguration"]["status"] == "Enabled"
    pab = one(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(pab[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    policy = json.loads(one(plan, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    deny = [s for s in policy["Statement"] if s["Effect"] == "Deny" and s["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false"]
    assert deny and deny[0]["Action"] == "s3:*"
    data = [r for r in plan.resources if r.type.startswith("aws:s3/")]
    assert data and all(r.protect and r.retain_on_delete for r in data)


def test_aws_bucket_role_trusts_hapihub_only_and_reaches_its_bucket_only():
    plan = plan_scenario("aws", "production")
    role = one(plan, "aws:iam/role:Role", "storage-hapihub-files-role")
    cond = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    assert cond["oidc.eks.us-east-1.amazonaws.com/id/ABC:sub"] == "system:serviceaccount:acme-production:hapihub"
    policy = json.loads(one(plan, "aws:iam/rolePolicy:RolePolicy", "storage-hapihub-files-policy").inputs["policy"])
    resources = {r for s in policy["Statement"] for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])}
    s3 = {r for r in resources if ":s3:" in r}
    assert s3 == {"arn:aws:s3:::lfh-aws-acme-production-hapihub-files", "arn:aws:s3:::lfh-aws-acme-production-hapihub-files/*"}
    assert not any("secretsmanager" in r for r in resources)
    binding = plan.outputs["appBinding"]
    assert binding["serviceAccount"] == "hapihub"
    assert binding["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::123456789012:role/")


def test_cloud_mode_apps_get_no_keys():
    plan = plan_scenario("aws", "production")
    (w,) = [w for w in plan.outputs["wiring"] if "S3_BUCKET" in w["env"]]
    assert w["secretData"] == {} and w["secretEnv"] == {}
    assert w["env"]["S3_BUCKET"] == "lfh-aws-acme-production-hapihub-files"
    assert not [r for r in plan.resources if r.type == HELM and r.inputs["chart"] == "minio"]


def test_azure_container_private_with_cmk_scope_and_container_scoped_role():
    plan = plan_scenario("azure", "production")
    container = one(plan, "azure-native:storage:BlobContainer", "hapihub-files")
    assert container.inputs["publicAccess"] == "None"
    assert container.inputs["denyEncryptionScopeOverride"] is True
    scope = one(plan, "azure-native:storage:EncryptionScope")
    assert scope.inputs["source"] == "Microsoft.KeyVault"
    assert scope.inputs["keyVaultProperties"]["keyUri"] == "https://lfh-kv.vault.azure.net/keys/platform"
    assert container.inputs["defaultEncryptionScope"] == scope.inputs["encryptionScopeName"]
    assert container.protect and container.retain_on_delete and scope.protect
    grant = one(plan, "azure-native:authorization:RoleAssignment", "hapihub-files-blob-access")
    assert grant.inputs["scope"].endswith(f"/containers/{container.inputs['containerName']}")
    fed = one(plan, "azure-native:managedidentity:FederatedIdentityCredential", "hapihub-files-federation")
    assert fed.inputs["subject"] == "system:serviceaccount:acme-production:hapihub"
    assert plan.outputs["appBinding"]["podLabels"] == {"azure.workload.identity/use": "true"}


def test_gcp_bucket_cmk_versioning_public_prevention():
    plan = plan_scenario("gcp", "production")
    b = one(plan, "gcp:storage/bucket:Bucket").inputs
    assert b["encryption"]["defaultKmsKeyName"] == "projects/lfh-example/locations/us-central1/keyRings/lfh/cryptoKeys/platform"
    assert b["versioning"]["enabled"] is True
    assert b["publicAccessPrevention"] == "enforced" and b["uniformBucketLevelAccess"] is True
    assert b["forceDestroy"] is False
    assert one(plan, "gcp:storage/bucket:Bucket").protect
    member = one(plan, "gcp:storage/bucketIAMMember:BucketIAMMember", "hapihub-files-bucket-access")
    assert member.inputs["bucket"] == b["name"]
    wi = one(plan, "gcp:serviceaccount/iAMMember:IAMMember", "hapihub-files-wi")
    assert wi.inputs["member"] == "serviceAccount:lfh-example.svc.id.goog[acme-production/hapihub]"


def test_two_clients_never_share_a_bucket():
    a, b = plan_scenario("aws", "production", name="acme"), plan_scenario("aws", "production", name="globex")
    names = [{r.inputs["bucket"] for r in of_type(p, "aws:s3/bucket:Bucket")} for p in (a, b)]
    assert len(names[0]) == len(names[1]) == 2 and not names[0] & names[1]


def test_production_bucket_replicates_into_the_platforms_second_region():
    """A copy under the second region's key, fed by S3 replication that does not carry deletes."""
    plan = plan_scenario("aws", "production")
    primary = one(plan, "aws:s3/bucket:Bucket", "hapihub-files")
    replica = one(plan, "aws:s3/bucket:Bucket", "hapihub-files-replica")
    assert replica.inputs["region"] == "us-west-2" and "region" not in primary.inputs
    assert replica.inputs["bucket"] == "lfh-aws-acme-production-hapihub-files-replica" and replica.protect
    settings = [r for r in plan.resources if r.type.startswith("aws:s3/") and r.inputs.get("bucket") == replica.inputs["bucket"]]
    assert {r.type.split(":")[-1] for r in settings} >= {"BucketVersioning", "BucketServerSideEncryptionConfiguration",
                                                         "BucketPublicAccessBlock", "BucketPolicy", "BucketOwnershipControls"}
    assert all(r.inputs["region"] == "us-west-2" for r in settings)
    (sse,) = [r for r in settings if r.type.endswith("BucketServerSideEncryptionConfiguration")]
    replica_key = "arn:aws:kms:us-west-2:123456789012:key/3333-4444"
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == replica_key
    repl = one(plan, "aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    (rule,) = repl.inputs["rules"]
    assert rule["deleteMarkerReplication"] == {"status": "Disabled"}
    assert rule["destination"] == {"bucket": "arn:aws:s3:::lfh-aws-acme-production-hapihub-files-replica",
                                   "encryptionConfiguration": {"replicaKmsKeyId": replica_key}}
    versioning = {r.urn for r in of_type(plan, "aws:s3/bucketVersioning:BucketVersioning")}
    assert versioning <= set(repl.dependencies)  # S3 refuses replication before both buckets are versioned
    assert len(of_type(plan_scenario("aws", "production", objectStorage={"cloud": {"replicate": False}}),
                       "aws:s3/bucket:Bucket")) == 1


@pytest.mark.parametrize("kind,cloud,key", [
    ("aws", {"accessLogRetentionDays": 2555}, "accessLogRetentionDays"),  # the platform keeps 2190 days
    ("gcp", {"replicate": True}, "replicate"),  # no second region on this platform
])
def test_what_the_platform_cannot_give_is_refused_naming_the_key(kind, cloud, key):
    with pytest.raises(Exception) as err:
        plan_scenario(kind, "production", objectStorage={"cloud": cloud})
    assert f"lfh:client.objectStorage.cloud.{key}" in str(err.value)


def test_production_without_a_second_region_warns():
    plan = plan_scenario("gcp", "production")
    assert any("objectStorage.cloud.replicate" in f.message for f in plan.findings if f.severity == "warning")
    assert not any("replicate" in f.message for f in plan_scenario("aws", "production").findings)


def test_cloud_mode_on_an_existing_cluster_is_a_clear_error_naming_the_key():
    from lfh.plan.engine import PlanError  # noqa: F401  (the engine surfaces program errors)

    with pytest.raises(Exception) as err:
        plan_scenario("existing", "production", objectStorage={"mode": "cloud"})
    assert "lfh:client.objectStorage.mode" in str(err.value)
    assert "minio" in str(err.value)


# ------------------------------------------------------------------ minio mode


@pytest.mark.parametrize("environment,replicas,size,mode", [
    ("production", 6, "250Gi", "distributed"), ("staging", 1, "50Gi", "standalone")])
def test_minio_sizes_per_environment(environment, replicas, size, mode):
    values = minio(plan_scenario("existing", environment)).inputs["values"]
    assert values["replicas"] == replicas and values["mode"] == mode
    assert values["persistence"]["size"] == size and values["persistence"]["storageClass"] == "longhorn-encrypted"
    assert values["drivesPerNode"] == 1
    assert ("MINIO_STORAGE_CLASS_STANDARD" in values["environment"]) == (replicas > 1)
    if replicas > 1:
        assert values["environment"]["MINIO_STORAGE_CLASS_STANDARD"] == "EC:2"


def test_minio_pinned_nonroot_console_off_bucket_and_app_user():
    plan = plan_scenario("existing", "production")
    r = minio(plan)
    assert r.inputs["version"] == "5.4.0" and r.protect and r.retain_on_delete
    v = r.inputs["values"]
    assert v["image"]["tag"].startswith("RELEASE.") and v["image"]["tag"] != "latest"
    assert v["securityContext"]["runAsNonRoot"] is True and v["securityContext"]["runAsUser"] != 0
    assert v["containerSecurityContext"]["allowPrivilegeEscalation"] is False
    assert v["environment"]["MINIO_BROWSER"] == "off"
    assert v["buckets"] == [{"name": "hapihub-files", "policy": "none", "purge": False, "versioning": True, "objectlocking": False}]
    assert v["existingSecret"] == "minio-root" and "rootPassword" not in v
    (user,) = v["users"]
    assert user["accessKey"] == f"hapihub-r{ROTATION_BASE_UNIX}" and user["policy"] != "consoleAdmin" and "secretKey" not in user
    (policy,) = [p for p in v["policies"] if p["name"] == user["policy"]]
    assert {res for s in policy["statements"] for res in s["resources"]} == {
        "arn:aws:s3:::hapihub-files", "arn:aws:s3:::hapihub-files/*"}


def test_minio_also_possible_on_clouds():
    plan = plan_scenario("aws", "production", objectStorage={"mode": "minio"})
    assert minio(plan).inputs["values"]["replicas"] == 6
    # Its servers are a data service: on the db pool, like MongoDB and Typesense.
    values = minio(plan).inputs["values"]
    assert values["nodeSelector"] == {"lfh.io/pool": "db"}
    assert values["tolerations"][0]["key"] == "lfh.io/pool" and values["tolerations"][0]["value"] == "db"
    assert not of_type(plan, "aws:s3/bucket:Bucket")
    assert plan.outputs["appBinding"] is None


def test_minio_route_and_its_own_rate_limit():
    plan = plan_scenario("existing", "production", objectStorage={"minio": {"rateLimitPerSecond": 20}})
    (route,) = plan.outputs["routes"]
    assert route["hostname"] == "storage.acme-production.example.com"
    assert route["service"] == "minio" and route["port"] == 9000
    (policy,) = kind(plan, "BackendTrafficPolicy")
    spec = policy.inputs["spec"]
    assert spec["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": route["name"]}]
    assert spec["rateLimit"]["type"] == "Local"
    assert spec["rateLimit"]["local"]["rules"][0]["limit"] == {"requests": 20, "unit": "Second"}
    assert policy.inputs["metadata"]["namespace"] == "acme-production"


def test_minio_wiring_uses_the_app_user_secret():
    plan = plan_scenario("existing", "staging")
    (w,) = [w for w in plan.outputs["wiring"] if "S3_BUCKET" in w["env"]]
    assert w["env"]["S3_ENDPOINT"] == "http://minio.acme-staging.svc.cluster.local:9000"
    assert w["env"]["S3_PUBLIC_URL"] == "https://storage.acme-staging.example.com"
    assert w["secretEnv"]["S3_ACCESS_KEY_ID"] == f"hapihub-r{ROTATION_BASE_UNIX}"  # the rotation's user
    assert w["secretData"] == {"minioSecretKey": "minio-app-secret-key#value"}
    assert w["egressTo"] == ["minio"]
    workloads = {x["name"]: x for x in plan.outputs["workloads"]}
    assert workloads["minio"]["ports"] == [9000] and workloads["minio"]["routed_ports"] == [9000]
    assert workloads["minio"]["peer_ports"] == []  # one node: no peers
    prod = {x["name"]: x for x in plan_scenario("existing", "production").outputs["workloads"]}
    assert prod["minio"]["peer_ports"] == [9000] and "self" in prod["minio"]["ingress_from"]


def test_minio_setup_job_meets_pod_security_restricted():
    v = minio(plan_scenario("existing", "production")).inputs["values"]
    pod = v["postJob"]["securityContext"]
    assert pod["enabled"] and pod["runAsNonRoot"] and pod["seccompProfile"] == {"type": "RuntimeDefault"}
    for job in ("makePolicyJob", "makeUserJob", "makeBucketJob"):
        assert v[job]["securityContext"]["enabled"] is True
        c = v[job]["containerSecurityContext"]
        assert c["allowPrivilegeEscalation"] is False and c["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.parametrize("cloud,api,extra", [("aws", "s3", None), ("azure", "azure-blob", "AZURE_STORAGE_ACCOUNT"),
                                             ("gcp", "gcs", "GOOGLE_CLOUD_PROJECT")])
def test_cloud_wiring_names_the_object_api(cloud, api, extra):
    (w,) = [w for w in plan_scenario(cloud, "production").outputs["wiring"] if "S3_BUCKET" in w["env"]]
    assert w["env"]["STORAGE_API"] == api
    assert extra is None or w["env"][extra]
