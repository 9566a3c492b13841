"""Cloud and Kubernetes names fit their providers' limits for the longest names the config allows
(platforms of 20 characters, clients of 30), and longer ones are refused at config validation."""
from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path

import pytest

from lfh import STACKS_DIR
from lfh.cli import main
from lfh.config import ConfigError, load_stack_file
from lfh.names import fit, join
from lfh.plan import Engine, analyze
from lfh.plan.cloud_names import RULES, check_object, check_resource
from lfh.plan.model import Resource

CLOUDS = ("aws", "azure", "gcp")
PLATFORM = {cloud: f"{cloud}-platform-of-twenty-chars"[:19] + "x" for cloud in CLOUDS}
CLIENT = {cloud: f"{cloud}-client-named-with-thirty-chars"[:29] + "x" for cloud in CLOUDS}
NAME_CHECKS = ("cloud-name", "kubernetes-name")


def write_long_named_stacks(folder: Path) -> None:
    """The example platforms renamed to 20 characters, and a generated 30-character development client
    (the longest environment name) on each."""
    for cloud in CLOUDS:
        text = (STACKS_DIR / f"Pulumi.platform-{cloud}.yaml").read_text()
        text = re.sub(r"(\n    name: )\S+", rf"\g<1>{PLATFORM[cloud]}", text, count=1)
        (folder / f"Pulumi.platform-{PLATFORM[cloud]}.yaml").write_text(text)
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["new-client", CLIENT[cloud], "--env", "dev", "--platform",
                         f"platform-{PLATFORM[cloud]}", "--stacks-dir", str(folder)]) == 0


@pytest.fixture(scope="module")
def long_named(tmp_path_factory):
    folder = tmp_path_factory.mktemp("long-names")
    write_long_named_stacks(folder)
    return folder, Engine(stacks_dir=folder)


def test_lengths_are_the_allowed_maxima():
    assert {len(p) for p in PLATFORM.values()} == {20} and {len(c) for c in CLIENT.values()} == {30}


@pytest.mark.parametrize("cloud", CLOUDS)
def test_longest_names_plan_without_name_findings(long_named, cloud):
    folder, engine = long_named
    for stack in (f"platform-{PLATFORM[cloud]}", f"{CLIENT[cloud]}-dev"):
        plan = analyze(engine.plan(stack))
        assert [f.message for f in plan.findings if f.check in NAME_CHECKS] == [], stack
        assert plan.errors == [], [f.as_dict() for f in plan.errors]
        # Every name the rules cover was checked (the plan holds such resources at all).
        assert any(r.type in RULES for r in plan.resources), stack


def test_without_the_shortening_scheme_the_long_client_names_overflow(long_named, monkeypatch):
    """The same stacks, with `join` no longer shortening: the plan reports the overflowing names."""
    import components.cloud.base as base

    folder, _ = long_named
    monkeypatch.setattr(base, "join", lambda *parts, limit, sep="-", **kw: sep.join(p for p in parts if p))
    plan = analyze(Engine(stacks_dir=folder).plan(f"{CLIENT['aws']}-dev"))
    messages = [f.message for f in plan.errors if f.check == "cloud-name"]
    assert any(m.startswith("aws:iam/role:Role") and "at most 64" in m for m in messages), messages
    assert any(m.startswith("aws:s3/bucket:Bucket") and "at most 63" in m for m in messages), messages


@pytest.mark.parametrize("section, key, value, limit", [
    ("client", "name", "c" * 64, 30),
    ("client", "name", "c" * 31, 30),
    ("platform", "name", "p" * 21, 20),
])
def test_names_over_the_limit_are_refused_at_config_validation(tmp_path, section, key, value, limit):
    source = STACKS_DIR / ("Pulumi.demo-staging.yaml" if section == "client" else "Pulumi.platform-local.yaml")
    text = re.sub(r"(\n    name: )\S+", rf"\g<1>{value}", source.read_text(), count=1)
    stack = f"{value}-staging" if section == "client" else f"platform-{value}"
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_stack_file(path)
    (line,) = [line for line in exc.value.lines if line.startswith(f"lfh:{section}.{key}:")]
    assert f"at most {limit} characters" in line


def test_new_client_refuses_a_name_over_30_characters(tmp_path, capsys):
    shutil.copy(STACKS_DIR / "Pulumi.platform-local.yaml", tmp_path)
    assert main(["new-client", "c" * 31, "--env", "dev", "--platform", "platform-local", "--stacks-dir", str(tmp_path)]) == 2
    assert "at most 30 are allowed" in capsys.readouterr().err


# ---------------------------------------------------------------- the scheme and the rules


def test_fit_keeps_short_names_and_shortens_long_ones_deterministically():
    assert fit("short-name", 24) == "short-name"
    a, b = fit("x" * 40 + "-one", 24), fit("x" * 40 + "-two", 24)
    assert len(a) == len(b) == 24 and a != b and a == fit("x" * 40 + "-one", 24)
    assert a.startswith("xxxxxxxxxxxxxxx-")
    assert "--" not in fit("abc-" * 10, 12)
    assert re.fullmatch(r"[a-z0-9]{24}", fit("Platform-With-A-Long-Name-Backups", 24, alnum=True, lower=True))
    assert join("lfh", "", "nodes", limit=30) == "lfh-nodes"


def _resource(type_: str, logical: str, inputs: dict) -> Resource:
    return Resource(urn=f"urn:pulumi:s::lfh::{type_}::{logical}", type=type_, name=logical, parent="", provider="",
                    dependencies=[], inputs=inputs)


@pytest.mark.parametrize("type_, inputs, expected", [
    ("aws:iam/role:Role", {}, "auto-naming"),
    ("aws:iam/role:Role", {"name": "r" * 65}, "at most 64"),
    ("azure-native:keyvault:Vault", {"vaultName": "kv-" + "a" * 22}, "at most 24"),
    ("azure-native:keyvault:Vault", {"vaultName": "kv--double"}, "refuses"),
    ("azure-native:storage:StorageAccount", {"accountName": "lfh-backups"}, "refuses"),
    ("azure-native:containerservice:AgentPool", {"agentPoolName": "applications1"}, "at most 12"),
    ("gcp:serviceaccount/account:Account", {"accountId": "lfh-" + "a" * 27}, "at most 30"),
    ("gcp:container/cluster:Cluster", {"name": "c" * 41}, "at most 40"),
    ("gcp:compute/network:Network", {"name": "1-starts-with-a-digit"}, "refuses"),
    ("aws:eks/nodeGroup:NodeGroup", {"nodeGroupNamePrefix": "p" * 38}, "at most 37"),
])
def test_rules_find_names_the_provider_refuses(type_, inputs, expected):
    logical = "platform-with-a-long-name-cluster-irsa-external-secrets-role"
    (message,) = check_resource(_resource(type_, logical, inputs))
    assert expected in message and "lfh.names.fit" in message


def test_rules_accept_names_within_the_limits():
    assert check_resource(_resource("aws:iam/role:Role", "short-logical-name", {})) == []
    assert check_resource(_resource("azure-native:keyvault:Vault", "x", {"vaultName": "kv-aws-1a2b3c"})) == []


@pytest.mark.parametrize("obj, expected", [
    ({"kind": "CronJob", "metadata": {"name": "c" * 53}}, "at most 52"),
    ({"kind": "Namespace", "metadata": {"name": "n" * 64}}, "at most 63"),
    ({"kind": "ConfigMap", "metadata": {"name": "ok", "labels": {"app": "v" * 64}}}, "not a valid label value"),
    ({"kind": "Deployment", "metadata": {"name": "ok"},
      "spec": {"template": {"metadata": {"labels": {"app": "bad value"}}}}}, "pod template label"),
])
def test_kubernetes_names_and_label_values(obj, expected):
    (message,) = check_object(obj)
    assert expected in message
