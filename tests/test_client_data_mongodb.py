"""MongoDB: one owner (operator chart + our PerconaServerMongoDB), sizes per env, TLS, PITR, users."""
from __future__ import annotations

import pytest
import yaml

from test_client_data_harness import kind, one, plan_scenario
from lfh.plan.fakes import ROTATION_BASE_UNIX

GEN = f"r{ROTATION_BASE_UNIX}"  # the fake rotation generation (secrets.py names rotated objects after it)

HELM = "kubernetes:helm.sh/v3:Release"


def cluster(plan):
    (c,) = kind(plan, "PerconaServerMongoDB")
    return c


@pytest.mark.parametrize("environment,members", [("production", 3), ("staging", 1)])
def test_replica_set_size_per_environment(environment, members):
    spec = cluster(plan_scenario("aws", environment)).inputs["spec"]
    (rs,) = spec["replsets"]
    assert rs["size"] == members
    # The operator needs the explicit unsafe flag for < 3 members; production never sets it.
    assert ("unsafeFlags" in spec) == (members < 3)


def test_production_default_can_be_overridden_but_not_to_an_even_size():
    spec = cluster(plan_scenario("aws", "production", mongodb={"members": 5})).inputs["spec"]
    assert spec["replsets"][0]["size"] == 5


def test_data_on_the_encrypted_storage_class_and_encrypted_at_rest():
    spec = cluster(plan_scenario("gcp", "production")).inputs["spec"]
    (rs,) = spec["replsets"]
    pvc = rs["volumeSpec"]["persistentVolumeClaim"]
    assert pvc["storageClassName"] == "longhorn-encrypted"
    assert pvc["resources"]["requests"]["storage"] == "100Gi"
    assert yaml.safe_load(rs["configuration"])["security"]["enableEncryption"] is True
    assert spec["secrets"]["encryptionKey"] == "mongodb-encryption-key"


def test_tls_required_from_the_operators_own_ca():
    spec = cluster(plan_scenario("aws", "production")).inputs["spec"]
    assert spec["tls"]["mode"] == "requireTLS"
    # The operator's cert-manager integration issues from a CA of this cluster alone (no shared issuer).
    assert "issuerConf" not in spec["tls"]
    assert spec["secrets"]["ssl"] == "mongodb-ssl"
    weaker = cluster(plan_scenario("aws", "production", mongodb={"tlsMode": "preferTLS"})).inputs["spec"]
    assert weaker["tls"]["mode"] == "preferTLS"


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
def test_replset_runs_on_the_db_pool(cloud):
    (rs,) = cluster(plan_scenario(cloud, "production")).inputs["spec"]["replsets"]
    assert rs["nodeSelector"] == {"lfh.io/pool": "db"}
    assert rs["tolerations"] == [{"key": "lfh.io/pool", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]
    # An existing cluster has no pools: schedule anywhere.
    (rs,) = cluster(plan_scenario("existing", "production")).inputs["spec"]["replsets"]
    assert "nodeSelector" not in rs and "tolerations" not in rs


@pytest.mark.parametrize("cloud,storage_type", [("aws", "s3"), ("azure", "azure"), ("gcp", "gcs"), ("existing", "s3")])
def test_backups_to_the_platform_bucket_with_pitr_at_most_5_minutes(cloud, storage_type):
    backup = cluster(plan_scenario(cloud, "production")).inputs["spec"]["backup"]
    assert backup["enabled"] is True
    assert backup["pitr"]["enabled"] is True and 0 < backup["pitr"]["oplogSpanMin"] <= 5
    (storage,) = backup["storages"].values()
    assert storage["type"] == storage_type
    target = storage[storage_type]
    if storage_type == "azure":
        # its own key-based account's container (PBM authenticates to Azure Blob with an account key only)
        assert target["container"] == "mongodb"
    else:
        assert target["bucket"].endswith("-backups")
    assert target["prefix"] == "acme/production/mongodb"
    assert backup["tasks"][0]["storageName"] in backup["storages"]


def test_aws_backups_use_irsa_not_keys():
    plan = plan_scenario("aws", "production")
    s3 = cluster(plan).inputs["spec"]["backup"]["storages"]["platform"]["s3"]
    assert "credentialsSecret" not in s3
    assert s3["serverSideEncryption"]["sseAlgorithm"] == "aws:kms"
    (sa,) = [s for s in kind(plan, "ServiceAccount") if s.inputs["metadata"]["name"] == "mongodb"]
    assert "eks.amazonaws.com/role-arn" in sa.inputs["metadata"]["annotations"]
    assert cluster(plan).inputs["spec"]["replsets"][0]["serviceAccountName"] == "mongodb"


def test_pitr_config_rejects_more_than_5_minutes():
    from lfh.config.loader import ConfigError, parse_stack_config

    with pytest.raises(ConfigError) as err:
        parse_stack_config("acme-production", {"lfh:client": {
            "name": "acme", "environment": "production", "platformStack": "o/lfh/platform-x",
            "domain": "acme.example.com", "apps": {"mycureapp": {"tag": "10.0.0"}},
            "mongodb": {"pitrOplogSpanMinutes": 10}}})
    assert "lfh:client.mongodb.pitrOplogSpanMinutes" in str(err.value)


def test_apps_get_an_app_user_never_root():
    plan = plan_scenario("aws", "production")
    spec = cluster(plan).inputs["spec"]
    user, canary = spec["users"]
    # the backup canary's user: its own database only (rotated like every app user)
    assert canary == {"name": f"lfhcanary-{GEN}", "db": "admin",
                      "passwordSecretRef": {"name": f"mongodb-app-users-{GEN}", "key": "lfhcanary"},
                      "roles": [{"name": "readWrite", "db": "lfhcanary"}]}
    assert user["name"] == f"hapihub-{GEN}" and user["name"] not in ("root", "admin", "userAdmin", "clusterAdmin", "databaseAdmin")
    assert user["roles"] == [{"name": "readWrite", "db": "hapihub"}]
    mongo_wiring = [w for w in plan.outputs["wiring"] if "MONGO_URI" in w["secretEnv"]]
    (w,) = mongo_wiring
    uri = w["secretEnv"]["MONGO_URI"]
    assert uri.startswith(f"mongodb://hapihub-{GEN}:{{{{ .mongoPassword }}}}@mongodb-rs0.acme-production.svc.cluster.local:27017/hapihub?")
    assert "replicaSet=rs0" in uri and "authSource=admin" in uri
    assert w["secretData"]["mongoPassword"] == "lfh-aws/acme/production/mongodb-app-hapihub-password"


def test_one_user_per_database():
    spec = cluster(plan_scenario("aws", "production", mongodb={"databases": ["hapihub", "syncd"]})).inputs["spec"]
    assert [(u["name"], u["roles"]) for u in spec["users"]] == [
        (f"hapihub-{GEN}", [{"name": "readWrite", "db": "hapihub"}]), (f"syncd-{GEN}", [{"name": "readWrite", "db": "syncd"}]),
        (f"lfhcanary-{GEN}", [{"name": "readWrite", "db": "lfhcanary"}])]


def test_one_owner_operator_chart_pinned_and_namespace_scoped():
    plan = plan_scenario("aws", "production")
    releases = [r for r in plan.resources if r.type == HELM]
    charts = [r.inputs["chart"] for r in releases]
    assert charts.count("psmdb-operator") == 1 and "psmdb-db" not in charts
    (op,) = [r for r in releases if r.inputs["chart"] == "psmdb-operator"]
    assert op.inputs["version"] == "1.22.0"
    assert op.inputs["values"]["watchAllNamespaces"] is False
    assert op.inputs["namespace"] == "acme-production"


def test_database_protected_and_retained():
    c = cluster(plan_scenario("azure", "production"))
    assert c.protect and c.retain_on_delete


def test_workloads_declare_peers_and_operator_access():
    workloads = {w["name"]: w for w in plan_scenario("aws", "production").outputs["workloads"]}
    m = workloads["mongodb"]
    assert m["ports"] == [27017] and m["peer_ports"] == [27017] and "self" in m["ingress_from"]
    assert m["tier"] == "data"
    assert "mongodb" in workloads["mongodb-operator"]["egress_to"]


def test_aws_backup_role_writes_only_its_own_prefix():
    import json

    plan = plan_scenario("aws", "production")
    role = one(plan, "aws:iam/role:Role", "mongodb-backup-role")
    cond = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    # the namespace's mongod pods, and the restore drill's copy of them (its point-in-time restore reads here)
    assert cond["oidc.eks.us-east-1.amazonaws.com/id/ABC:sub"] == [
        "system:serviceaccount:acme-production:mongodb", "system:serviceaccount:acme-production-drill:mongodb"]
    policy = json.loads(one(plan, "aws:iam/rolePolicy:RolePolicy", "mongodb-backup-backup-policy").inputs["policy"])
    objects = [s for s in policy["Statement"] if "s3:PutObject" in s["Action"]]
    assert [s["Resource"] for s in objects] == ["arn:aws:s3:::lfh-aws-backups/acme/production/mongodb/*"]


def test_labels_on_operator_owned_pods_never_touch_selector_keys():
    plan = plan_scenario("aws", "production")
    rs = cluster(plan).inputs["spec"]["replsets"][0]
    assert rs["labels"] and all(k.startswith("lfh.io/") for k in rs["labels"])
    (op,) = [r for r in plan.resources if r.type == HELM and r.inputs["chart"] == "psmdb-operator"]
    assert all(k.startswith("lfh.io/") for k in op.inputs["values"]["podLabels"])
