"""Config errors name the key and what is allowed; per-environment defaults."""
from __future__ import annotations

import pytest

from lfh.config import ConfigError, parse_stack_config

from client_apps_helpers import client


def _parse(stack: str, cfg: dict):
    return parse_stack_config(stack, {"lfh:client": cfg})


def test_environment_defaults():
    prod = _parse("x-production", client("x", "production")).client
    staging = _parse("x-staging", client("x")).client
    assert prod.apps.hapihub.replicas == 2 and prod.apps.hapihub.hpa.enabled
    assert staging.apps.hapihub.replicas == 1 and not staging.apps.hapihub.hpa.enabled
    assert prod.quota.requests_cpu == "32" and staging.quota.requests_cpu == "12"


@pytest.mark.parametrize("apps, expected", [
    ({"hapihub": {"tag": "latest"}}, "lfh:client.apps.hapihub.tag"),
    ({"mycureapp": {"tag": None}}, "lfh:client.apps.mycureapp.tag: is required"),
    ({"syncd": {"enabled": True, "tag": "v1 .2"}}, "lfh:client.apps.syncd.tag"),
    ({"hapihub": {"replicas": 0}}, "lfh:client.apps.hapihub.replicas"),
    ({"syncd": {"requestTimeout": "forever"}}, "lfh:client.apps.syncd.requestTimeout"),
    ({"hapihub": {"colour": "blue"}}, "lfh:client.apps.hapihub.colour: unknown key; allowed:"),
])
def test_bad_app_config_names_the_key(apps, expected):
    with pytest.raises(ConfigError) as exc:
        _parse("x-staging", client("x", apps=apps))
    assert any(line.startswith(expected) for line in exc.value.lines), exc.value.lines
    assert len(exc.value.lines) == 1 and "Traceback" not in exc.value.lines[0]


def test_missing_tag_says_what_is_allowed():
    with pytest.raises(ConfigError) as exc:
        _parse("x-staging", client("x", apps={"mycureapp": {"tag": None}}))
    assert exc.value.lines[0].startswith("lfh:client.apps.mycureapp.tag: is required") and "never latest" in exc.value.lines[0]


def test_production_needs_two_replicas():
    with pytest.raises(ConfigError) as exc:
        _parse("x-production", client("x", "production", apps={"mycureapp": {"replicas": 1}}))
    assert "apps.mycureapp.replicas: production needs at least 2 replicas" in str(exc.value)


def test_network_cidrs_validated():
    with pytest.raises(ConfigError) as exc:
        _parse("x-staging", client("x", network={"egressExceptCidrs": ["10.0.0.0"]}))
    assert exc.value.lines[0].startswith("lfh:client.network.egressExceptCidrs[0]")
