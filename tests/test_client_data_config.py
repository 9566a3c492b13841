"""The data-service config sections: per-environment defaults and clear errors naming the key."""
from __future__ import annotations

import pytest

from lfh.config.loader import ConfigError, parse_stack_config


def client(environment="production", **extra):
    return {"lfh:client": {"name": "acme", "environment": environment, "platformStack": "o/lfh/platform-x",
                           "domain": "acme.example.com", "apps": {"mycureapp": {"tag": "10.0.0"}}, **extra}}


def parse(environment="production", **extra):
    stack = f"acme-{environment}"
    return parse_stack_config(stack, client(environment, **extra)).client


def errors(environment="production", **extra) -> str:
    with pytest.raises(ConfigError) as err:
        parse(environment, **extra)
    return str(err.value)


@pytest.mark.parametrize("environment,members,minio,search", [
    ("production", 3, (6, "250Gi"), 3), ("staging", 1, (1, "50Gi"), 1), ("development", 1, (1, "20Gi"), 1)])
def test_environment_defaults(environment, members, minio, search):
    c = parse(environment)
    assert c.mongodb.members == members
    assert (c.object_storage.minio.replicas, c.object_storage.minio.volume_size) == minio
    assert c.search.replicas == search
    assert c.object_storage.mode is None  # decided by the platform kind


def test_explicit_values_win_over_defaults():
    c = parse("staging", mongodb={"members": 3}, objectStorage={"mode": "minio", "minio": {"replicas": 4}})
    assert c.mongodb.members == 3 and c.object_storage.minio.replicas == 4


@pytest.mark.parametrize("extra,key", [
    ({"objectStorage": {"mode": "s3"}}, "lfh:client.objectStorage.mode"),
    ({"objectStorage": {"minio": {"replicas": 2}}}, "lfh:client.objectStorage.minio.replicas"),
    ({"mongodb": {"members": 2}}, "lfh:client.mongodb.members"),
    ({"mongodb": {"imageTag": "latest"}}, "lfh:client.mongodb.imageTag"),
    ({"search": {"replicas": 4}}, "lfh:client.search.replicas"),
    ({"search": {"enable": True}}, "lfh:client.search.enable"),
    ({"secrets": {"passwordLength": 8}}, "lfh:client.secrets.passwordLength"),
])
def test_bad_values_name_the_full_key(extra, key):
    message = errors(**extra)
    assert message.startswith(key), message
    assert "\n" not in message


def test_object_storage_cloud_mode_on_existing_platform_is_refused_before_resources():
    from components.client.objectstore import resolve_mode
    from components.platform.contract import PlatformContract

    import pulumi

    platform = PlatformContract(platform="local", environment="staging", domain="x.example.com",
                                kubernetes_version="1.33", cluster_name="local", region="r",
                                cloud={"kind": "existing"})
    with pytest.raises(pulumi.RunError, match=r"lfh:client\.objectStorage\.mode"):
        resolve_mode(parse(objectStorage={"mode": "cloud"}), platform)
    assert resolve_mode(parse(), platform) == "minio"
    platform.cloud = {"kind": "aws"}
    assert resolve_mode(parse(), platform) == "cloud"
    assert resolve_mode(parse(objectStorage={"mode": "minio"}), platform) == "minio"


def test_cloud_mode_on_existing_platform_fails_before_any_client_resource(tmp_path):
    """Through the real program (deploy_client checks right after reading the contract)."""
    import shutil

    from lfh import STACKS_DIR
    from lfh.plan import Engine

    shutil.copy(STACKS_DIR / "Pulumi.platform-local.yaml", tmp_path)
    (tmp_path / "Pulumi.acme-staging.yaml").write_text(
        "config:\n  lfh:client:\n    name: acme\n    environment: staging\n"
        "    platformStack: organization/lfh/platform-local\n    domain: acme.example.com\n"
        "    apps:\n      mycureapp:\n        tag: '10.0.0'\n    objectStorage:\n      mode: cloud\n")
    engine = Engine(stacks_dir=tmp_path)
    with pytest.raises(Exception, match=r"lfh:client\.objectStorage\.mode") as err:
        engine.plan("acme-staging")
    assert "minio" in str(err.value)
