"""Cluster config model: secure defaults, weaker settings only by name, clear errors naming the key."""
from __future__ import annotations

import pytest

from lfh.config import ConfigError, parse_stack_config
from tests.graph import SSO


def platform(cluster: dict, name: str = "acme") -> dict:
    return {"lfh:platform": {"name": name, "environment": "production", "domain": f"{name}.example.com", "cluster": cluster,
                             "gitops": SSO}}


def parse(cluster: dict):
    return parse_stack_config("platform-acme", platform(cluster)).platform.cluster


def errors(cluster: dict) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse(cluster)
    return exc.value.lines


@pytest.mark.parametrize("cluster", [
    {"provider": "aws"}, {"provider": "azure"}, {"provider": "gcp", "project": "lfh-example"},
])
def test_cloud_defaults_are_private_encrypted_and_not_weakened(cluster):
    cfg = parse(cluster)
    assert cfg.api.public is False and cfg.api.public_access_cidrs == []
    assert cfg.secrets_encryption is True
    assert cfg.log_retention_days >= 90
    assert cfg.backup.daily_expire_days == 30 and cfg.backup.archive_expire_days == 90
    assert cfg.backup.disable_public_access_block is False
    assert cfg.weakened() == []
    pools = cfg.node_pools
    assert [t.key for t in pools.system.taints] == ["CriticalAddonsOnly"]
    assert pools.system.labels == {"lfh.io/pool": "system"} and pools.db.labels == {"lfh.io/pool": "db"}
    assert [(t.key, t.value) for t in pools.db.taints] == [("lfh.io/pool", "db")]
    assert pools.apps.taints == []


@pytest.mark.parametrize("cidr, says", [("0.0.0.0/0", "whole internet"), ("10.0.0.0/0", "the network is 0.0.0.0/0")])
def test_world_open_api_is_refused_naming_the_key(cidr, says):
    lines = errors({"provider": "aws", "api": {"allowPublicEndpoint": True, "publicAccessCidrs": ["203.0.113.0/24", cidr]}})
    assert len(lines) == 1
    assert lines[0].startswith("lfh:platform.cluster.api.publicAccessCidrs[1]:")
    assert says in lines[0]


def test_public_cidrs_need_the_explicit_switch():
    lines = errors({"provider": "gcp", "project": "lfh-example", "api": {"publicAccessCidrs": ["203.0.113.0/24"]}})
    assert lines[0].startswith("lfh:platform.cluster.api:") and "allowPublicEndpoint" in lines[0]


def test_public_switch_without_cidrs_is_refused():
    lines = errors({"provider": "azure", "api": {"allowPublicEndpoint": True}})
    assert lines[0].startswith("lfh:platform.cluster.api:") and "publicAccessCidrs" in lines[0]


def test_log_retention_below_90_days_is_refused():
    lines = errors({"provider": "aws", "logRetentionDays": 30})
    assert lines[0].startswith("lfh:platform.cluster.logRetentionDays:")


def test_unknown_cluster_key_lists_allowed_keys():
    lines = errors({"provider": "aws", "publicEndpoint": True})
    assert lines[0].startswith("lfh:platform.cluster.publicEndpoint: unknown key")
    assert "api" in lines[0] and "secretsEncryption" in lines[0]


def test_archive_must_outlive_its_transition():
    lines = errors({"provider": "aws", "backup": {"archiveTransitionDays": 100, "archiveExpireDays": 90}})
    assert lines[0].startswith("lfh:platform.cluster.backup:")


@pytest.mark.parametrize("cluster", [{"provider": "azure"}, {"provider": "gcp", "project": "lfh-example"}])
def test_replication_is_refused_where_not_implemented(cluster):
    lines = errors({**cluster, "backup": {"replication": {"enabled": True}}})
    assert "backup.replication.enabled" in lines[0] and "not supported" in lines[0]


def test_node_pool_min_above_max_is_refused():
    lines = errors({"provider": "aws", "nodePools": {"apps": {"minSize": 5, "maxSize": 2}}})
    assert lines[0].startswith("lfh:platform.cluster.nodePools.apps.maxSize: must be at least minSize (5)")


def test_weakened_lists_every_explicit_weaker_key():
    cfg = parse({"provider": "aws", "secretsEncryption": False,
                 "api": {"allowPublicEndpoint": True, "publicAccessCidrs": ["203.0.113.0/24"]},
                 "backup": {"disablePublicAccessBlock": True}})
    assert [k for k, _ in cfg.weakened()] == ["api.allowPublicEndpoint", "secretsEncryption", "backup.disablePublicAccessBlock"]


def test_existing_cluster_rejects_two_kubeconfig_sources():
    with pytest.raises(ConfigError) as exc:
        parse_stack_config("platform-acme", platform({"provider": "existing", "kubeconfig": "[secret:x]", "kubeconfigPath": "/k"}))
    assert exc.value.lines[0].startswith("lfh:platform.cluster:")


@pytest.mark.parametrize("cluster,key", [
    ({"provider": "aws"}, "minSize"), ({"provider": "azure"}, "minCount"), ({"provider": "gcp", "project": "lfh-example"}, "minCount"),
])
def test_overriding_one_pool_key_keeps_the_pools_other_defaults(cluster, key):
    cfg = parse({**cluster, "nodePools": {"system": {key: 2}, "db": {key: 2}}})
    assert getattr(cfg.node_pools.db, "min_size" if key == "minSize" else "min_count") == 2
    assert [t.key for t in cfg.node_pools.system.taints] == ["CriticalAddonsOnly"]
    assert [t.value for t in cfg.node_pools.db.taints] == ["db"]
    assert cfg.node_pools.db.labels == {"lfh.io/pool": "db"}


def test_azure_log_retention_is_bounded_by_the_workspace():
    lines = errors({"provider": "azure", "logRetentionDays": 1000})
    assert lines[0].startswith("lfh:platform.cluster:") and "730" in lines[0]
