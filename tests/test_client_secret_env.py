"""App secret env: config → secret holder in the manager → ExternalSecret key → secretKeyRef → pod, in the checksum."""
from __future__ import annotations

import copy
import re

import pytest

from lfh.config import ConfigError, parse_stack_config
from lfh.config.base import SECRET_ENV_NAME
from lfh.plan import secret_refs

from client_apps_helpers import client, named, plan_with
from lfh.plan.fakes import ROTATION_BASE_UNIX

GEN = f"r{ROTATION_BASE_UNIX}"  # the fake rotation generation (secrets.py names rotated objects after it)

SMTP = {"hapihub": {"secretEnv": {"SMTP_PASSWORD": "smtp/password"}}}



def _env(deployment: dict) -> dict:
    return {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def _checksum(plan, name: str = "hapihub") -> str:
    return named(plan, "Deployment", name)["spec"]["template"]["metadata"]["annotations"]["lfh.io/config-checksum"]


def test_secret_env_reaches_the_pod_through_an_external_secret(plan_of):
    plan = plan_of("acme-prod")
    es = named(plan, "ExternalSecret", f"hapihub-env-{GEN}")
    # The key comes from the client's own path, the property the config names...
    data = {d["secretKey"]: d["remoteRef"] for d in es["spec"]["data"]}
    assert data["SMTP_PASSWORD"] == {"key": "aws/acme/production/smtp", "property": "password"}
    assert es["spec"]["target"]["template"]["data"]["SMTP_PASSWORD"] == "{{ .SMTP_PASSWORD }}"
    # ...the pod reads it from the Secret the ExternalSecret builds, never as a literal...
    ref = _env(named(plan, "Deployment", "hapihub"))["SMTP_PASSWORD"]
    assert ref == {"name": "SMTP_PASSWORD", "valueFrom": {"secretKeyRef": {"name": f"hapihub-env-{GEN}", "key": "SMTP_PASSWORD"}}}
    # ...and the stack creates the holder under that path (platform KMS key), never a value.
    holders = [r for r in plan.resources if r.type == "aws:secretsmanager/secret:Secret"
               and r.inputs["name"] == "aws/acme/production/smtp"]
    assert len(holders) == 1 and holders[0].protect and holders[0].inputs["kmsKeyId"]
    assert not [r for r in plan.resources if r.type == "aws:secretsmanager/secretVersion:SecretVersion"
                and r.name.endswith("-smtp-value")]


def test_secret_env_changes_the_checksum_and_so_rolls_the_pods(tmp_path):
    def plan(sub: str, apps: dict):
        (tmp_path / sub).mkdir()
        return plan_with(tmp_path / sub, {"s-staging": client("s", apps=apps)})("s-staging")

    without = plan("a", {})
    with_secret = plan("b", SMTP)
    other_property = plan("c", {"hapihub": {"secretEnv": {"SMTP_PASSWORD": "smtp/pass"}}})
    sums = {_checksum(p) for p in (without, with_secret, other_property)}
    assert len(sums) == 3
    # MyCureApp has no secret env: its pods don't roll.
    assert _checksum(without, "mycureapp") == _checksum(with_secret, "mycureapp")
    # On an existing cluster the holder is a Secret in the source namespace, read by property.
    es = named(with_secret, "ExternalSecret", f"hapihub-env-{GEN}")
    assert {"secretKey": "SMTP_PASSWORD", "remoteRef": {"key": "smtp", "property": "password"}} in es["spec"]["data"]
    assert not with_secret.errors


@pytest.mark.parametrize("ref, expected", [
    ("../staging/smtp", "cannot reach another client's or environment's secrets"),
    ("staging/smtp", "cannot reach another client's or environment's secrets"),
    ("/aws/other/production/smtp", "cannot reach another client's or environment's secrets"),
    ("a/b/c", "cannot reach another client's or environment's secrets"),
    ("Smtp", "must be lower-case letters and digits"),
    ("smtp--x", "stand for `/`"),
])
def test_secret_references_stay_in_the_environments_own_path(ref, expected):
    with pytest.raises(ConfigError) as exc:
        parse_stack_config("x-staging", {"lfh:client": client("x", apps={"hapihub": {"secretEnv": {"SMTP_PASSWORD": ref}}})})
    (line,) = exc.value.lines
    assert line.startswith("lfh:client.apps.hapihub.secretEnv.SMTP_PASSWORD: ") and expected in line


@pytest.mark.parametrize("where, key", [
    ({"apps": {"hapihub": {"env": {"SMTP_PASSWORD": "hunter2"}}}}, "lfh:client.apps.hapihub.env.SMTP_PASSWORD"),
    ({"apps": {"mycureapp": {"env": {"STRIPE_SECRET_KEY": "sk_live"}}}}, "lfh:client.apps.mycureapp.env.STRIPE_SECRET_KEY"),
    ({"apps": {"hapihub": {"jobs": {"j": {"schedule": "@daily", "command": ["x"], "env": {"TWILIO_AUTH_TOKEN": "t"}}}}}},
     "lfh:client.apps.hapihub.jobs.j.env.TWILIO_AUTH_TOKEN"),
])
def test_plain_text_for_a_secret_key_is_refused(where, key):
    with pytest.raises(ConfigError) as exc:
        parse_stack_config("x-staging", {"lfh:client": client("x", **where)})
    (line,) = exc.value.lines
    assert line.startswith(f"{key}: names a secret") and "secretEnv" in line


def test_secret_env_cannot_shadow_plain_env_or_the_stacks_own():
    for apps, key in (({"hapihub": {"env": {"SMTP_HOST": "a"}, "secretEnv": {"SMTP_HOST": "smtp/host"}}}, "SMTP_HOST"),
                      ({"hapihub": {"secretEnv": {"MONGO_URI": "my-db"}}}, "MONGO_URI")):
        with pytest.raises(ConfigError) as exc:
            parse_stack_config("x-staging", {"lfh:client": client("x", apps=apps)})
        assert exc.value.lines[0].startswith(f"lfh:client.apps.hapihub.secretEnv.{key}: ")


def test_config_rule_is_the_policy_packs_rule():
    from policy.lfh_policies.kubernetes import _SECRET_NAME

    assert (SECRET_ENV_NAME.pattern, SECRET_ENV_NAME.flags) == (_SECRET_NAME.pattern, _SECRET_NAME.flags)
    assert SECRET_ENV_NAME.search("SMTP_PASSWORD") and not SECRET_ENV_NAME.search("SMTP_HOST")


# ------------------------------------------------------------------ the plan check


def test_a_pod_reading_a_key_nothing_syncs_is_an_error(plan_of):
    plan = plan_of("acme-prod")
    objects = [(r.urn, copy.deepcopy(m)) for r, m in plan.manifests()]
    assert secret_refs.check(plan, objects) == []
    # Lose the key on its way: the ExternalSecret no longer templates SMTP_PASSWORD.
    for _, obj in objects:
        if obj["kind"] == "ExternalSecret" and obj["metadata"]["name"] == f"hapihub-env-{GEN}":
            del obj["spec"]["target"]["template"]["data"]["SMTP_PASSWORD"]
    findings = secret_refs.check(plan, objects)
    # The app, its CronJob: each pod that reads it.
    assert {re.match(r"(\w+ [\w-]+/[\w-]+)", f.message).group(1) for f in findings} == {
        "Deployment acme-production/hapihub", "CronJob acme-production/hapihub-prune-sessions"}
    assert all(f.severity == "error" and "SMTP_PASSWORD" in f.message and "secretEnv" in f.message for f in findings)
    # A Secret nobody creates at all.
    for _, obj in objects:
        if obj["kind"] == "ExternalSecret" and obj["metadata"]["name"] == f"hapihub-env-{GEN}":
            obj["spec"]["target"]["name"] = "renamed"
    assert any("which nothing in this stack creates" in f.message for f in secret_refs.check(plan, objects))
