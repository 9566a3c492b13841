"""Weaker settings need an explicit key and show up as `cluster-weakened` warnings in the plan report."""
from __future__ import annotations

import textwrap

import pytest

from lfh.config import ConfigError
from lfh.plan import Engine, analyze
from tests.graph import SSO_YAML

WEAK = {
    "aws": ("cluster:\n  provider: aws\n", "aws:eks/cluster:Cluster"),
    "azure": ("cluster:\n  provider: azure\n", "azure-native:containerservice:ManagedCluster"),
    "gcp": ("cluster:\n  provider: gcp\n  project: lfh-example\n", "gcp:container/cluster:Cluster"),
}


def write_stack(tmp_path, name: str, cluster_yaml: str) -> Engine:
    body = textwrap.indent(cluster_yaml, "    ")
    (tmp_path / f"Pulumi.platform-{name}.yaml").write_text(
        "config:\n  lfh:platform:\n"
        f"    name: {name}\n    environment: production\n    domain: {name}.example.com\n{body}{SSO_YAML}"
    )
    return Engine(stacks_dir=tmp_path)


WEAKER = (
    "  secretsEncryption: false\n"
    "  api:\n    allowPublicEndpoint: true\n    publicAccessCidrs: [203.0.113.0/24]\n"
    "  backup:\n    disablePublicAccessBlock: true\n"
)


@pytest.mark.parametrize("cloud", sorted(WEAK))
def test_weakened_settings_warn_and_change_the_graph(tmp_path, cloud):
    base, cluster_type = WEAK[cloud]
    plan = analyze(write_stack(tmp_path, "weak", base + WEAKER).plan("platform-weak"))
    warnings = [f for f in plan.findings if f.check == "cluster-weakened"]
    assert [f.severity for f in warnings] == ["warning"] * 3
    messages = " | ".join(f.message for f in warnings)
    for key in ("api.allowPublicEndpoint", "secretsEncryption", "backup.disablePublicAccessBlock"):
        assert f"lfh:platform.cluster.{key} is set" in messages
    comp = {"aws": "EksCluster", "azure": "AksCluster", "gcp": "GkeCluster"}[cloud]
    assert all(f.urn.endswith(f"lfh:cluster:{comp}::weak-cluster") for f in warnings)
    # The only errors are the policy pack's verdicts on the same weakened settings (it gates `pulumi up`).
    assert all(f.check.startswith("policy:") for f in plan.errors), [f.check for f in plan.errors]
    (cluster,) = plan.of_type(cluster_type)
    i = cluster.inputs
    if cloud == "aws":
        assert i["vpcConfig"]["endpointPublicAccess"] is True and i["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
        assert "encryptionConfig" not in i
        # The backup buckets lose it; the audit bucket (access logs) keeps it whatever that key says.
        assert [b.name for b in plan.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")] == [
            "weak-cluster-audit-public-access-block"]
    elif cloud == "azure":
        assert i["apiServerAccessProfile"] == {"enablePrivateCluster": False, "disableRunCommand": True,
                                               "authorizedIPRanges": ["203.0.113.0/24"]}
        assert "azureKeyVaultKms" not in i["securityProfile"]
        (account,) = [a for a in plan.of_type("azure-native:storage:StorageAccount") if a.name.endswith("cluster-backups")]
        assert account.inputs["allowBlobPublicAccess"] is True
    else:
        assert i["privateClusterConfig"]["enablePrivateEndpoint"] is False
        assert i["masterAuthorizedNetworksConfig"]["cidrBlocks"] == [{"cidrBlock": "203.0.113.0/24", "displayName": "operators-0"}]
        assert i["databaseEncryption"] == {"state": "DECRYPTED"}
        (bucket,) = plan.of_type("gcp:storage/bucket:Bucket")
        assert bucket.inputs["publicAccessPrevention"] == "inherited"


def test_world_open_cidr_stops_the_plan_before_any_resource(tmp_path):
    engine = write_stack(tmp_path, "open", WEAK["aws"][0] + "  api:\n    allowPublicEndpoint: true\n    publicAccessCidrs: [0.0.0.0/0]\n")
    with pytest.raises(ConfigError) as exc:
        engine.plan("platform-open")
    assert exc.value.lines[0].startswith("lfh:platform.cluster.api.publicAccessCidrs[0]:")


def test_http_backup_endpoint_on_existing_cluster_warns(tmp_path):
    engine = write_stack(tmp_path, "plain", "cluster:\n  provider: existing\n  kubeconfigPath: /dev/null\n  backupEndpoint: http://minio.local:9000\n")
    plan = analyze(engine.plan("platform-plain"))
    (warning,) = [f for f in plan.findings if f.check == "cluster-weakened"]
    assert warning.message.startswith("lfh:platform.cluster.backupEndpoint is set")


def test_report_section_summarises_the_cluster(plan_of):
    section = plan_of("platform-aws").sections["cluster"]
    assert section["data"]["apiEndpoint"] == "private" and section["data"]["weakened"] == []
    assert section["data"]["backup"] == {"dailyExpireDays": 30, "archiveTransitionDays": 0, "archiveExpireDays": 90, "wormReplica": True}
    assert section["data"]["nodePools"]["system"]["taints"] == ["CriticalAddonsOnly=true:NoSchedule"]
    assert plan_of("platform-local").sections["cluster"]["data"]["backupEndpoint"] == "in-cluster object store"


def test_azure_shared_key_access_is_a_named_weaker_switch(tmp_path):
    engine = write_stack(tmp_path, "keys", WEAK["azure"][0] + "  allowSharedKeyAccess: true\n")
    plan = analyze(engine.plan("platform-keys"))
    (warning,) = [f for f in plan.findings if f.check == "cluster-weakened"]
    assert warning.message.startswith("lfh:platform.cluster.allowSharedKeyAccess is set")
    # the main (Velero) account; the key-based tools' own accounts allow keys anyway
    (account,) = [a for a in plan.of_type("azure-native:storage:StorageAccount") if a.name.endswith("cluster-backups")]
    assert account.inputs["allowSharedKeyAccess"] is True
