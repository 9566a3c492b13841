"""GKE target: the recorded graph of `platform-gcp`."""
from __future__ import annotations

import re

import pytest

from tests.graph import one, out


@pytest.fixture(scope="module")
def plan(plan_of):
    return plan_of("platform-gcp")




def gke(plan):
    return one(plan, "gcp:container/cluster:Cluster")


def test_plan_is_clean(plan):
    assert plan.errors == []
    assert len(plan.of_type("lfh:cluster:GkeCluster")) == 1
    assert [f for f in plan.findings if f.check == "cluster-weakened"] == []


def test_private_vpc_native_cluster(plan):
    i = gke(plan).inputs
    assert i["privateClusterConfig"]["enablePrivateNodes"] is True
    assert i["privateClusterConfig"]["enablePrivateEndpoint"] is True
    assert i["masterAuthorizedNetworksConfig"]["cidrBlocks"] == []
    assert i["networkingMode"] == "VPC_NATIVE"
    assert i["ipAllocationPolicy"] == {"clusterSecondaryRangeName": "pods", "servicesSecondaryRangeName": "services"}
    assert i["masterAuth"]["clientCertificateConfig"]["issueClientCertificate"] is False


def test_etcd_encryption_workload_identity_dataplane_v2_shielded(plan):
    i = gke(plan).inputs
    etcd_key = one(plan, "gcp:kms/cryptoKey:CryptoKey", "-key-gke-etcd")
    assert i["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": out(etcd_key, "id")}
    assert i["workloadIdentityConfig"] == {"workloadPool": "lfh-example.svc.id.goog"}
    assert i["datapathProvider"] == "ADVANCED_DATAPATH"
    assert i["enableShieldedNodes"] is True
    assert i["releaseChannel"] == {"channel": "REGULAR"}
    assert i["removeDefaultNodePool"] is True


def test_kms_keys_rotate_and_are_protected(plan):
    keys = plan.of_type("gcp:kms/cryptoKey:CryptoKey")
    assert len(keys) == 2
    for key in keys:
        assert key.inputs["rotationPeriod"] == "7776000s"
        assert key.protect and key.retain_on_delete
    ring = one(plan, "gcp:kms/keyRing:KeyRing")
    assert ring.protect and re.fullmatch(r"lfh-gcp-[0-9a-f]{6}", ring.inputs["name"])
    agents = {m.inputs["member"] for m in plan.of_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")}
    assert "serviceAccount:service-123456789012@container-engine-robot.iam.gserviceaccount.com" in agents


def test_node_pools_least_privilege_cmek_shielded_taints(plan):
    sa = one(plan, "gcp:serviceaccount/account:Account", "-nodes-sa")
    data_key = out(one(plan, "gcp:kms/cryptoKey:CryptoKey", "-key-data"), "id")
    pools = {p.inputs["name"]: p.inputs for p in plan.of_type("gcp:container/nodePool:NodePool")}
    assert set(pools) == {"system", "apps", "db"}
    for p in pools.values():
        nc = p["nodeConfig"]
        assert nc["serviceAccount"] == out(sa, "email")
        assert nc["bootDiskKmsKey"] == data_key
        assert nc["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
        assert nc["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert pools["system"]["nodeConfig"]["taints"] == [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}]
    assert pools["db"]["nodeConfig"]["taints"] == [{"key": "lfh.io/pool", "value": "db", "effect": "NO_SCHEDULE"}]
    assert pools["db"]["nodeConfig"]["labels"] == {"lfh.io/pool": "db"}
    roles = {m.inputs["role"] for m in plan.of_type("gcp:projects/iAMMember:IAMMember")
             if m.inputs["member"] == f"serviceAccount:{out(sa, 'email')}"}
    assert roles and not roles & {"roles/editor", "roles/owner"}
    assert "roles/logging.logWriter" in roles


def test_backup_bucket_uniform_private_versioned_cmek_lifecycle(plan):
    bucket = one(plan, "gcp:storage/bucket:Bucket")
    i = bucket.inputs
    assert i["uniformBucketLevelAccess"] is True and i["publicAccessPrevention"] == "enforced"
    assert i["versioning"] == {"enabled": True}
    assert i["encryption"]["defaultKmsKeyName"] == out(one(plan, "gcp:kms/cryptoKey:CryptoKey", "-key-data"), "id")
    assert "retentionPolicy" not in i
    assert bucket.protect and bucket.retain_on_delete
    assert i["labels"]["data-classification"] == "phi" and i["labels"]["lfh_platform"] == "gcp"
    rules = i["lifecycleRules"]
    assert {"condition": {"age": 30, "matchesPrefixes": ["daily/"]}, "action": {"type": "Delete"}} in rules
    assert {"condition": {"age": 0, "matchesPrefixes": ["archive/"]},
            "action": {"type": "SetStorageClass", "storageClass": "COLDLINE"}} in rules
    assert {"condition": {"age": 90, "matchesPrefixes": ["archive/"]}, "action": {"type": "Delete"}} in rules


@pytest.mark.parametrize("addon,ns,sa", [
    ("external-secrets", "external-secrets", "external-secrets"),
    ("velero", "velero", "velero"),
    ("cert-manager", "cert-manager", "cert-manager"),
    ("longhorn", "longhorn-system", "longhorn-service-account"),
])
def test_workload_identity_user_scoped_to_service_account(plan, addon, ns, sa):
    account = one(plan, "gcp:serviceaccount/account:Account", f"-sa-{addon}")
    binding = one(plan, "gcp:serviceaccount/iAMMember:IAMMember", f"-sa-{addon}-wi")
    assert binding.inputs["role"] == "roles/iam.workloadIdentityUser"
    assert binding.inputs["member"] == f"serviceAccount:lfh-example.svc.id.goog[{ns}/{sa}]"
    assert binding.inputs["serviceAccountId"] == out(account, "name")


def test_external_secrets_reads_only_platform_secrets(plan):
    member = one(plan, "gcp:projects/iAMMember:IAMMember", "-eso-secret-accessor")
    assert member.inputs["role"] == "roles/secretmanager.secretAccessor"
    assert member.inputs["condition"]["expression"] == 'resource.name.startsWith("projects/123456789012/secrets/gcp__")'


def test_cert_manager_only_configured_zone(plan):
    zone = one(plan, "gcp:dns/dnsManagedZoneIamMember:DnsManagedZoneIamMember")
    assert zone.inputs["managedZone"] == "gcp-example-com"


def test_flow_logs_nat_and_log_retention(plan):
    subnet = one(plan, "gcp:compute/subnetwork:Subnetwork")
    assert subnet.inputs["privateIpGoogleAccess"] is True and "logConfig" in subnet.inputs
    assert one(plan, "gcp:compute/routerNat:RouterNat")
    assert one(plan, "gcp:logging/projectBucketConfig:ProjectBucketConfig", "-cluster-log-bucket").inputs["retentionDays"] >= 90


def test_storage_class_and_kubeconfig(plan):
    sc = one(plan, "kubernetes:storage.k8s.io/v1:StorageClass", "-cluster-sc-pd-balanced-cmek")
    assert sc.inputs["metadata"]["name"] == "pd-balanced-cmek"
    assert sc.inputs["parameters"]["disk-encryption-kms-key"] == out(one(plan, "gcp:kms/cryptoKey:CryptoKey", "-key-data"), "id")
    assert "kubeconfig" in plan.secret_outputs


def test_labels_are_gcp_safe(plan):
    for r in plan.resources:
        for key in ("labels", "resourceLabels"):
            for k, v in (r.inputs.get(key) or {}).items() if r.type.startswith("gcp:") else []:
                assert re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", k) and re.fullmatch(r"[a-z0-9_-]{0,63}", v), (r.urn, k, v)


def test_cloud_output_shape(plan):
    cloud = plan.outputs["cloud"]
    assert cloud == {"kind": "gcp", "region": "us-central1", "kmsKeyId": cloud["kmsKeyId"], "secretsPrefix": "gcp",
                     "project": "lfh-example", "workloadIdentityPool": "lfh-example.svc.id.goog",
                     "apiServerCidrs": ["172.16.0.0/28"], "nodeCidrs": ["10.42.0.0/20"],
                     "apiServerTunnelPods": [{"namespace": "kube-system", "labels": {"k8s-app": "konnectivity-agent"}}],
                     "accessLogs": cloud["accessLogs"], "binaryAuthorization": cloud["binaryAuthorization"]}
    assert cloud["accessLogs"]["retentionDays"] == 365 and cloud["accessLogs"]["bucketPrefix"] == "gcp-"
    assert cloud["binaryAuthorization"]["enforced"] is True
    assert cloud["kmsKeyId"].endswith("/cryptoKeys/data")


def test_velero_project_role_is_compute_only(plan):
    role = one(plan, "gcp:projects/iAMCustomRole:IAMCustomRole")
    perms = role.inputs["permissions"]
    assert perms and all(p.startswith("compute.") for p in perms)
    bucket = one(plan, "gcp:storage/bucket:Bucket")
    (velero_bucket,) = [m for m in plan.of_type("gcp:storage/bucketIAMMember:BucketIAMMember") if m.name.endswith("-velero-bucket")]
    assert velero_bucket.inputs["bucket"] == out(bucket, "name") and "condition" not in velero_bucket.inputs
    (longhorn,) = [m for m in plan.of_type("gcp:storage/bucketIAMMember:BucketIAMMember") if m.name.endswith("-longhorn-bucket")]
    expression = longhorn.inputs["condition"]["expression"]
    # its prefix's objects, and listing the bucket under that prefix only
    assert '/objects/longhorn/")' in expression
    assert 'api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("longhorn/")' in expression


def test_labelled_resources_carry_platform_labels(plan):
    for type_, key in [("gcp:container/cluster:Cluster", "resourceLabels"), ("gcp:storage/bucket:Bucket", "labels"),
                       ("gcp:kms/cryptoKey:CryptoKey", "labels")]:
        for r in plan.of_type(type_):
            labels = r.inputs[key]
            assert labels["lfh_platform"] == "gcp" and labels["lfh_environment"] == "production" and labels["managed-by"] == "pulumi"
    (provider,) = plan.of_type("pulumi:providers:gcp")
    assert provider.inputs["project"] == "lfh-example" and provider.inputs["region"] == "us-central1"


def test_apis_enabled_first_and_never_disabled(plan):
    services = {s.inputs["service"]: s for s in plan.of_type("gcp:projects/service:Service")}
    assert {"container.googleapis.com", "cloudkms.googleapis.com", "compute.googleapis.com", "secretmanager.googleapis.com"} <= set(services)
    assert all(s.inputs["disableOnDestroy"] is False for s in services.values())
    ring = one(plan, "gcp:kms/keyRing:KeyRing")
    assert {s.urn for s in services.values()} <= set(ring.dependencies)
    gcs_grant = one(plan, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "-key-gcs-agent")
    assert gcs_grant.inputs["member"] == "serviceAccount:service-123456789012@gs-project-accounts.iam.gserviceaccount.com"


def test_cloud_storage_data_access_is_audited_into_a_cmek_log_bucket(plan):
    audit = one(plan, "gcp:projects/iAMAuditConfig:IAMAuditConfig")
    assert audit.inputs["service"] == "storage.googleapis.com"
    assert {c["logType"] for c in audit.inputs["auditLogConfigs"]} == {"DATA_READ", "DATA_WRITE"}
    bucket = one(plan, "gcp:logging/projectBucketConfig:ProjectBucketConfig", "-access-log-bucket")
    data_key = out(one(plan, "gcp:kms/cryptoKey:CryptoKey", "-key-data"), "id")
    assert bucket.inputs["cmekSettings"] == {"kmsKeyName": data_key} and bucket.inputs["retentionDays"] == 365
    grant = one(plan, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "-key-logging-agent")
    assert grant.inputs["member"] == "serviceAccount:service-123456789012@gcp-sa-logging.iam.gserviceaccount.com"
    assert grant.urn in bucket.dependencies  # the agent may use the key before the bucket is created with it
    sink = one(plan, "gcp:logging/projectSink:ProjectSink", "-access-log-sink")
    assert sink.inputs["destination"] == f"logging.googleapis.com/{out(bucket, 'id')}"
    backups = one(plan, "gcp:storage/bucket:Bucket").inputs["name"]
    assert "cloudaudit.googleapis.com%2Fdata_access" in sink.inputs["filter"]
    assert f'resource.labels.bucket_name="{backups}"' in sink.inputs["filter"] and '=~"^gcp-"' in sink.inputs["filter"]


def test_gke_intranode_visibility_binary_authorization_and_groups(plan):
    cluster = one(plan, "gcp:container/cluster:Cluster")
    assert cluster.inputs["enableIntranodeVisibility"] is True
    assert cluster.inputs["binaryAuthorization"] == {"evaluationMode": "PROJECT_SINGLETON_POLICY_ENFORCE"}
    assert cluster.inputs["authenticatorGroupsConfig"] == {"securityGroup": "gke-security-groups@gcp.example.com"}
    policy = one(plan, "gcp:binaryauthorization/policy:Policy")
    (rule,) = policy.inputs["clusterAdmissionRules"]
    assert rule["cluster"] == f"us-central1.{cluster.inputs['name']}"
    assert rule["evaluationMode"] == "ALWAYS_DENY" and rule["enforcementMode"] == "ENFORCED_BLOCK_AND_AUDIT_LOG"
    # Other clusters of the project keep the default rule; Google's system images pass the global policy.
    assert policy.inputs["defaultAdmissionRule"]["evaluationMode"] == "ALWAYS_ALLOW"
    assert policy.inputs["globalPolicyEvaluationMode"] == "ENABLE"
    patterns = {p["namePattern"] for p in policy.inputs["admissionWhitelistPatterns"]}
    assert {"quay.io/jetstack/**", "docker.io/percona/**", "percona/**"} <= patterns
    assert not any(p.rstrip("*").count("/") == 0 or p in ("docker.io/**", "quay.io/**") for p in patterns)


def test_binary_authorization_dry_run_off_production(tmp_path):
    from lfh.plan import Engine

    (tmp_path / "Pulumi.platform-stg.yaml").write_text(
        "config:\n  lfh:platform:\n    name: stg\n    environment: staging\n    domain: stg.example.com\n"
        "    cluster:\n      provider: gcp\n      project: lfh-example\n"
        "      binaryAuthorization:\n        extraImagePatterns: [registry.example.com/team/**]\n")
    plan = Engine(stacks_dir=tmp_path).plan("platform-stg")
    (rule,) = one(plan, "gcp:binaryauthorization/policy:Policy").inputs["clusterAdmissionRules"]
    assert rule["enforcementMode"] == "DRYRUN_AUDIT_LOG_ONLY"
    assert "registry.example.com/team/**" in plan.outputs["cloud"]["binaryAuthorization"]["imagePatterns"]
    assert "authenticatorGroupsConfig" not in one(plan, "gcp:container/cluster:Cluster").inputs
