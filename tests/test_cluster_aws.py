"""EKS target: the recorded graph of `platform-aws` (inputs as the AWS provider would receive them)."""
from __future__ import annotations

import json

import pytest

from tests.graph import SSO_YAML, one, out


@pytest.fixture(scope="module")
def plan(plan_of):
    return plan_of("platform-aws")




def test_plan_is_clean_and_one_component(plan):
    assert plan.errors == []
    assert len(plan.of_type("lfh:cluster:EksCluster")) == 1
    assert [f for f in plan.findings if f.check == "cluster-weakened"] == []


def test_api_endpoint_is_private(plan):
    cluster = one(plan, "aws:eks/cluster:Cluster")
    vpc = cluster.inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc
    assert len(vpc["subnetIds"]) == 3 and all("private" in s for s in vpc["subnetIds"])


def test_access_entries_only_and_control_plane_logs(plan):
    cluster = one(plan, "aws:eks/cluster:Cluster")
    assert cluster.inputs["accessConfig"]["authenticationMode"] == "API"
    assert {"api", "audit", "authenticator"} <= set(cluster.inputs["enabledClusterLogTypes"])
    group = one(plan, "aws:cloudwatch/logGroup:LogGroup", "-control-plane-logs")
    assert group.inputs["name"] == f"/aws/eks/{cluster.inputs['name']}/cluster"
    assert group.inputs["retentionInDays"] >= 90
    assert group.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    assert group.urn in cluster.dependencies


def test_secrets_envelope_encryption_with_rotated_cmk(plan):
    cluster = one(plan, "aws:eks/cluster:Cluster")
    enc = cluster.inputs["encryptionConfig"]
    assert enc["resources"] == ["secrets"]
    eks_key = one(plan, "aws:kms/key:Key", "-kms-eks")
    assert enc["provider"]["keyArn"] == out(eks_key, "arn")
    for key in plan.of_type("aws:kms/key:Key"):
        assert key.inputs["enableKeyRotation"] is True
        assert key.protect and key.retain_on_delete
    aliases = [a.inputs["name"] for a in plan.of_type("aws:kms/alias:Alias")]
    # The random suffix keeps aliases unique across re-creations.
    assert all(a.startswith(f"alias/lfh/aws-{cluster.inputs['name'].split('-')[-1]}/") for a in aliases)


def test_cluster_and_data_are_protected(plan):
    for type_ in ("aws:eks/cluster:Cluster", "aws:s3/bucket:Bucket", "aws:kms/key:Key"):
        for r in plan.of_type(type_):
            assert r.protect and r.retain_on_delete, r.urn
    assert one(plan, "aws:eks/cluster:Cluster").inputs["deletionProtection"] is True


def test_vpc_three_azs_nat_and_flow_logs(plan):
    subnets = plan.of_type("aws:ec2/subnet:Subnet")
    private = [s for s in subnets if "-private-" in s.name]
    public = [s for s in subnets if "-public-" in s.name]
    assert len(private) == 3 and len(public) == 3
    assert all(s.inputs["tags"].get("kubernetes.io/role/internal-elb") == "1" for s in private)
    assert all(s.inputs.get("mapPublicIpOnLaunch") is False for s in public)
    assert len(plan.of_type("aws:ec2/natGateway:NatGateway")) == 3
    flow = one(plan, "aws:ec2/flowLog:FlowLog")
    assert flow.inputs["trafficType"] == "ALL"
    flow_group = one(plan, "aws:cloudwatch/logGroup:LogGroup", "-flow-logs")
    assert flow_group.inputs["retentionInDays"] >= 90


def test_node_groups_use_imdsv2_and_encrypted_root_volumes(plan):
    templates = plan.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert len(templates) == 3
    data_key = out(one(plan, "aws:kms/key:Key", "-kms-data"), "arn")
    for lt in templates:
        md = lt.inputs["metadataOptions"]
        assert md["httpTokens"] == "required" and md["httpPutResponseHopLimit"] == 1
        ebs = lt.inputs["blockDeviceMappings"][0]["ebs"]
        assert ebs["encrypted"] == "true" and ebs["kmsKeyId"] == data_key


def test_node_group_labels_taints_and_sizes(plan):
    groups = {r.name.split("-")[-2]: r.inputs for r in plan.of_type("aws:eks/nodeGroup:NodeGroup")}
    assert set(groups) == {"system", "apps", "db"}
    assert groups["system"]["taints"] == [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}]
    assert groups["db"]["taints"] == [{"key": "lfh.io/pool", "value": "db", "effect": "NO_SCHEDULE"}]
    assert "taints" not in groups["apps"] or groups["apps"]["taints"] == []
    assert groups["db"]["labels"] == {"lfh.io/pool": "db"}
    assert groups["system"]["scalingConfig"] == {"minSize": 2, "maxSize": 3, "desiredSize": 2}
    for g in groups.values():
        assert g["launchTemplate"]["id"].startswith("lt-")


def test_backup_bucket_versioned_cmk_private_and_tiered(plan):
    bucket = one(plan, "aws:s3/bucket:Bucket", "-backups")
    assert bucket.inputs.get("objectLockEnabled") is False  # Velero rewrites its objects
    assert bucket.inputs["tags"]["data-classification"] == "phi"
    name = out(bucket, "bucket")

    def for_bucket(type_):
        return [r for r in plan.of_type(type_) if r.inputs.get("bucket") == name]

    (versioning,) = for_bucket("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    (sse,) = for_bucket("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    default = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms" and default["kmsMasterKeyId"].startswith("arn:aws:kms:")
    (pab,) = for_bucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(pab.inputs[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    (policy,) = for_bucket("aws:s3/bucketPolicy:BucketPolicy")
    assert json.loads(policy.inputs["policy"])["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (lifecycle,) = for_bucket("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    rules = {r["id"]: r for r in lifecycle.inputs["rules"]}
    assert rules["daily-expire"]["filter"] == {"prefix": "daily/"} and rules["daily-expire"]["expiration"] == {"days": 30}
    archive = rules["archive-tier"]
    assert archive["transitions"] == [{"days": 0, "storageClass": "GLACIER_IR"}]
    assert archive["expiration"] == {"days": 90}


def test_worm_replica_is_locked_and_fed_by_replication(plan):
    replica = one(plan, "aws:s3/bucket:Bucket", "-backups-replica")
    assert replica.inputs["objectLockEnabled"] is True and replica.protect
    lock = one(plan, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock.inputs["bucket"] == out(replica, "bucket")
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 90}
    repl = one(plan, "aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    rule = repl.inputs["rules"][0]
    assert rule["destination"]["bucket"] == out(replica, "arn")
    assert rule["deleteMarkerReplication"] == {"status": "Disabled"}


def _trust(plan, addon):
    role = one(plan, "aws:iam/role:Role", f"-irsa-{addon}")
    return role, json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]


@pytest.mark.parametrize("addon,ns,sa", [
    ("external-secrets", "external-secrets", "external-secrets"),
    ("velero", "velero", "velero"),
    ("cert-manager", "cert-manager", "cert-manager"),
    ("longhorn", "longhorn-system", "longhorn-service-account"),
    ("ebs-csi", "kube-system", "ebs-csi-controller-sa"),
])
def test_irsa_trust_is_scoped_to_one_service_account(plan, addon, ns, sa):
    _, stmt = _trust(plan, addon)
    oidc = one(plan, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert stmt["Principal"] == {"Federated": out(oidc, "arn")}
    assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
    cond = stmt["Condition"]["StringEquals"]
    subs = [v for k, v in cond.items() if k.endswith(":sub")]
    auds = [v for k, v in cond.items() if k.endswith(":aud")]
    assert subs == [f"system:serviceaccount:{ns}:{sa}"] and auds == ["sts.amazonaws.com"]


def _policy_of(plan, addon):
    role = one(plan, "aws:iam/role:Role", f"-irsa-{addon}")
    (pol,) = [p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy") if p.name == f"{role.name}-policy"]
    return json.loads(pol.inputs["policy"])["Statement"]


def test_external_secrets_reads_only_this_platforms_path(plan):
    stmts = _policy_of(plan, "external-secrets")
    sm = [s for s in stmts if any(a.startswith("secretsmanager:") for a in s["Action"])]
    assert sm and all(r.endswith(":secret:aws/*") for s in sm for r in s["Resource"])
    assert not any("secretsmanager:PutSecretValue" in s["Action"] for s in stmts)


def test_velero_only_its_bucket(plan):
    bucket = out(one(plan, "aws:s3/bucket:Bucket", "-backups"), "arn")
    s3 = [s for s in _policy_of(plan, "velero") if any(a.startswith("s3:") for a in s["Action"])]
    assert {r for s in s3 for r in s["Resource"]} == {bucket, f"{bucket}/*"}


def test_cert_manager_only_configured_zones_txt(plan):
    stmts = _policy_of(plan, "cert-manager")
    change = next(s for s in stmts if s["Action"] == "route53:ChangeResourceRecordSets")
    assert change["Resource"] == ["arn:aws:route53:::hostedzone/Z0123456789EXAMPLE"]
    assert change["Condition"]["ForAllValues:StringEquals"] == {"route53:ChangeResourceRecordSetsRecordTypes": ["TXT"]}


def test_ebs_csi_addon_and_encrypted_storage_class(plan):
    addons = {a.inputs["addonName"]: a for a in plan.of_type("aws:eks/addon:Addon")}
    assert {"aws-ebs-csi-driver", "vpc-cni", "coredns", "kube-proxy"} <= set(addons)
    assert addons["aws-ebs-csi-driver"].inputs["serviceAccountRoleArn"].startswith("arn:aws:iam::")
    sc = one(plan, "kubernetes:storage.k8s.io/v1:StorageClass", "-cluster-sc-gp3-encrypted")
    assert sc.inputs["metadata"]["name"] == "gp3-encrypted"
    assert sc.inputs["parameters"]["encrypted"] == "true"
    assert sc.inputs["parameters"]["kmsKeyId"] == out(one(plan, "aws:kms/key:Key", "-kms-data"), "arn")
    assert sc.provider and addons["aws-ebs-csi-driver"].urn in sc.dependencies


def test_every_taggable_resource_is_tagged(plan):
    for r in plan.resources:
        if r.type.startswith("aws:") and "tags" in r.inputs:
            tags = r.inputs["tags"]
            assert tags["lfh:platform"] == "aws" and tags["managed-by"] == "pulumi" and tags["lfh:environment"] == "production", r.urn
    untagged = [r.type for r in plan.resources if r.type in (
        "aws:eks/cluster:Cluster", "aws:s3/bucket:Bucket", "aws:kms/key:Key", "aws:ec2/vpc:Vpc", "aws:eks/nodeGroup:NodeGroup",
        "aws:iam/role:Role", "aws:cloudwatch/logGroup:LogGroup") and "tags" not in r.inputs]
    assert untagged == []


def test_kubeconfig_is_exec_based_and_secret(plan):
    assert "kubeconfig" in plan.secret_outputs
    provider = one(plan, "pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == "[secret]"


def test_cloud_output_shape(plan):
    cloud = plan.outputs["cloud"]
    assert set(cloud) == {"kind", "region", "kmsKeyId", "secretsPrefix", "accountId", "oidcProviderArn", "oidcIssuer", "partition",
                          "apiServerCidrs", "apiServerTunnelPods", "nodeCidrs", "accessLogs", "replication"}
    assert cloud["accessLogs"]["retentionDays"] == 365 and cloud["accessLogs"]["bucketPrefix"] == "aws-"
    assert cloud["replication"]["region"] == "us-west-2"
    assert cloud["replication"]["kmsKeyId"] == out(one(plan, "aws:kms/key:Key", "-kms-replica"), "arn")
    # EKS's control-plane ENIs live in the cluster's (private) subnets.
    assert cloud["apiServerCidrs"] == cloud["nodeCidrs"] == ["10.40.0.0/18", "10.40.64.0/18", "10.40.128.0/18"]
    assert cloud["kind"] == "aws" and cloud["secretsPrefix"] == "aws" and cloud["partition"] == "aws"
    assert not cloud["oidcIssuer"].startswith("https://")
    assert cloud["oidcProviderArn"].endswith(cloud["oidcIssuer"])


def test_pool_label_survives_custom_labels(tmp_path):
    from lfh.plan import Engine

    (tmp_path / "Pulumi.platform-lbl.yaml").write_text(
        "config:\n  lfh:platform:\n    name: lbl\n    domain: lbl.example.com\n    cluster:\n      provider: aws\n"
        "      nodePools:\n        apps:\n          labels: {team: web}\n" + SSO_YAML)
    plan = Engine(stacks_dir=tmp_path).plan("platform-lbl")
    (apps,) = [g for g in plan.of_type("aws:eks/nodeGroup:NodeGroup") if g.name.endswith("-apps-ng")]
    assert apps.inputs["labels"] == {"team": "web", "lfh.io/pool": "apps"}


def test_data_key_policy_scopes_service_use(plan):
    stmts = {s["Sid"]: s for s in json.loads(one(plan, "aws:kms/key:Key", "-kms-data").inputs["policy"])["Statement"]}
    assert stmts["EbsViaEc2"]["Condition"]["StringEquals"] == {"kms:CallerAccount": "123456789012",
                                                               "kms:ViaService": "ec2.us-east-1.amazonaws.com"}
    assert stmts["CloudWatchLogs"]["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == \
        "arn:aws:logs:us-east-1:123456789012:log-group:*"
    # The EKS secrets key is usable by nobody but through IAM of this account.
    eks = json.loads(one(plan, "aws:kms/key:Key", "-kms-eks").inputs["policy"])["Statement"]
    assert [s["Sid"] for s in eks] == ["AccountAdmin"]


def test_cross_region_replica_gets_its_own_key(tmp_path):
    from lfh.plan import Engine

    (tmp_path / "Pulumi.platform-dr.yaml").write_text(
        "config:\n  lfh:platform:\n    name: dr\n    domain: dr.example.com\n    cluster:\n      provider: aws\n"
        "      backup:\n        replication:\n          enabled: true\n          region: us-west-2\n" + SSO_YAML)
    plan = Engine(stacks_dir=tmp_path).plan("platform-dr")
    replica_key = one(plan, "aws:kms/key:Key", "-kms-replica")
    assert replica_key.inputs["region"] == "us-west-2" and replica_key.inputs["enableKeyRotation"] is True
    replica = one(plan, "aws:s3/bucket:Bucket", "-backups-replica")
    assert replica.inputs["region"] == "us-west-2"
    for r in plan.resources:
        if r.type.startswith("aws:s3/bucket") and r.inputs.get("bucket") == out(replica, "bucket"):
            assert r.inputs.get("region") == "us-west-2", r.urn
    repl = one(plan, "aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    assert repl.inputs["rules"][0]["destination"]["encryptionConfiguration"]["replicaKmsKeyId"] == out(replica_key, "arn")


def test_nodes_join_only_after_the_cni_addon_with_its_own_identity(plan):
    (cni,) = [a for a in plan.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == "vpc-cni"]
    assert json.loads(cni.inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
    for group in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        assert cni.urn in group.dependencies
    _, stmt = _trust(plan, "vpc-cni")
    assert [v for k, v in stmt["Condition"]["StringEquals"].items() if k.endswith(":sub")] == ["system:serviceaccount:kube-system:aws-node"]
    node_policies = {a.inputs["policyArn"].rsplit("/", 1)[-1] for a in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                     if a.name.startswith("aws-cluster-node-role")}
    assert node_policies == {"AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly"}


def test_data_access_of_every_phi_bucket_is_recorded_under_the_data_key(plan):
    """S3 data events of the backup buckets and every client bucket (`<platform>-…`) go to a CMK-encrypted,
    validated trail whose audit bucket keeps them `accessLogs.retentionDays`."""
    trail = one(plan, "aws:cloudtrail/trail:Trail")
    data_key = out(one(plan, "aws:kms/key:Key", "-kms-data"), "arn")
    assert trail.inputs["kmsKeyId"] == data_key and trail.inputs["enableLogFileValidation"] is True
    assert trail.inputs["isMultiRegionTrail"] is True  # the replicas live in the second region
    (selector,) = trail.inputs["advancedEventSelectors"]
    fields = {f["field"]: f for f in selector["fieldSelectors"]}
    assert fields["eventCategory"]["equals"] == ["Data"] and fields["resources.type"]["equals"] == ["AWS::S3::Object"]
    prefixes = fields["resources.ARN"]["startsWiths"]
    for b in plan.of_type("aws:s3/bucket:Bucket"):
        name = b.inputs["bucket"]
        covered = any(f"arn:aws:s3:::{name}/".startswith(p) for p in prefixes)
        assert covered == ("audit" not in name), name
    assert "arn:aws:s3:::aws-" in prefixes  # client buckets: <platform>-<client>-<env>-<bucket>
    audit = one(plan, "aws:s3/bucket:Bucket", "-audit")
    assert trail.inputs["s3BucketName"] == out(audit, "id") and audit.protect
    sse = [r for r in plan.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
           if r.inputs["bucket"] == audit.inputs["bucket"]]
    assert sse[0].inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == data_key
    (life,) = [r for r in plan.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
               if r.inputs["bucket"] == audit.inputs["bucket"]]
    assert life.inputs["rules"][0]["expiration"]["days"] == 365
    (policy,) = [r for r in plan.of_type("aws:s3/bucketPolicy:BucketPolicy") if r.inputs["bucket"] == audit.inputs["bucket"]]
    stmts = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    trail_arn = f"arn:aws:cloudtrail:us-east-1:123456789012:trail/{trail.inputs['name']}"
    assert stmts["CloudTrailWrite"]["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn
    key = {s["Sid"]: s for s in json.loads(one(plan, "aws:kms/key:Key", "-kms-data").inputs["policy"])["Statement"]}
    assert key["CloudTrailEncryptLogs"]["Condition"]["StringEquals"] == {"aws:SourceArn": trail_arn}


def test_access_log_retention_is_config(tmp_path):
    from lfh.plan import Engine

    (tmp_path / "Pulumi.platform-six.yaml").write_text(
        "config:\n  lfh:platform:\n    name: six\n    domain: six.example.com\n    cluster:\n      provider: aws\n"
        "      accessLogs:\n        retentionDays: 2190\n" + SSO_YAML)
    plan = Engine(stacks_dir=tmp_path).plan("platform-six")
    life = one(plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "-audit-lifecycle")
    assert life.inputs["rules"][0]["expiration"]["days"] == 2190
    assert plan.outputs["cloud"]["accessLogs"]["retentionDays"] == 2190
    assert "replication" not in plan.outputs["cloud"]  # no second region configured


@pytest.mark.parametrize("addon,policy", [("vpc-cni", "AmazonEKS_CNI_Policy"), ("ebs-csi", "service-role/AmazonEBSCSIDriverPolicy")])
def test_addon_roles_use_the_aws_managed_policies(plan, addon, policy):
    role = one(plan, "aws:iam/role:Role", f"-irsa-{addon}")
    attached = [a for a in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if role.urn in a.dependencies]
    assert [a.inputs["policyArn"] for a in attached] == [f"arn:aws:iam::aws:policy/{policy}"]
    inline = [p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy") if role.urn in p.dependencies]
    # No hand-copied EC2 action list: at most our own statement for the customer-managed key.
    for p in inline:
        actions = {a for st in json.loads(p.inputs["policy"])["Statement"] for a in st["Action"]}
        assert all(a.startswith("kms:") for a in actions), actions
    assert bool(inline) == (addon == "ebs-csi")
