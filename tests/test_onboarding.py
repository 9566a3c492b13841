"""`python -m lfh new-client`: validated, minimal, never overwrites, plans cleanly at once."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from lfh import STACKS_DIR
from lfh.cli import main
from lfh.config import load_stack_file
from lfh.config.client import ClientConfig
from lfh.onboarding import _has_path
from lfh.plan import Engine, analyze

#: Values only the operator can know (no default in the model), passed like a user would. None today:
#: a client file with nothing but the required keys must validate and plan.
REQUIRED_OPTIONS: list[str] = []
PLATFORMS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in STACKS_DIR.glob("Pulumi.platform-*.yaml"))


@pytest.fixture()
def stacks(tmp_path: Path) -> Path:
    for p in STACKS_DIR.glob("Pulumi.platform-*.yaml"):
        shutil.copy(p, tmp_path / p.name)
    return tmp_path


def _new(stacks: Path, *args: str, required: bool = True) -> int:
    return main(["new-client", *args, "--stacks-dir", str(stacks), *(REQUIRED_OPTIONS if required else [])])


def _unexpected(plan) -> list[dict]:
    """Every finding of any severity: a freshly generated client plans with none — except, in production on a
    platform without a second region (GCP), the warning that its file bucket keeps one copy."""
    single_copy = plan.platform is not None and not (plan.platform.outputs.get("cloud") or {}).get("replication")
    return [f.as_dict() for f in plan.findings
            if not (single_copy and f.severity == "warning" and "objectStorage.cloud.replicate" in f.message)]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """One folder with every platform and a generated prod + staging client on each; one Engine."""
    d = tmp_path_factory.mktemp("generated")
    for p in STACKS_DIR.glob("Pulumi.platform-*.yaml"):
        shutil.copy(p, d / p.name)
    outputs = {}
    for platform in PLATFORMS:
        for env in ("prod", "staging"):
            name = f"{platform.removeprefix('platform-')}x"
            buf = __import__("io").StringIO()
            with __import__("contextlib").redirect_stdout(buf):
                code = main(["new-client", name, "--env", env, "--platform", platform, "--stacks-dir", str(d), *REQUIRED_OPTIONS])
            outputs[(platform, env)] = (code, buf.getvalue(), f"{name}-{env}")
    return d, Engine(stacks_dir=d), outputs


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("env", ["prod", "staging"])
def test_generated_stack_plans_with_no_findings(generated, platform, env):
    d, engine, outputs = generated
    code, out, stack = outputs[(platform, env)]
    assert code == 0
    path = d / f"Pulumi.{stack}.yaml"
    assert f"wrote {path}" in out and f"pulumi up --stack {stack}" in out
    cfg = load_stack_file(path)[0]
    assert cfg.client.platform_stack == f"organization/lfh/{platform}"
    plan = analyze(engine.plan(stack))
    assert _unexpected(plan) == []
    assert not plan.errors
    single_copy = [f for f in plan.findings if "objectStorage.cloud.replicate" in f.message]
    assert bool(single_copy) == (platform == "platform-gcp" and env == "prod")
    assert any(r.type == "kubernetes:core/v1:Namespace" for r in plan.resources)


def test_file_is_minimal_and_defaults_come_from_the_model(stacks, capsys):
    assert _new(stacks, "acme", "--env", "production", "--platform", "platform-local", "--domain", "acme.example.org") == 0
    doc = yaml.safe_load((stacks / "Pulumi.acme-production.yaml").read_text())
    client = doc["config"]["lfh:client"]
    required = {"name", "environment", "platformStack", "domain"}
    # Only required keys (and secret placeholders for required secrets) are written.
    assert required <= set(client) and all(k in required or isinstance(v, dict) for k, v in client.items())
    assert client["domain"] == "acme.example.org" and client["environment"] == "production"


def test_default_domain_sits_under_the_platform_domain(stacks, capsys):
    assert _new(stacks, "acme", "--env", "staging", "--platform", "local", "--dry-run") == 0
    doc = yaml.safe_load(capsys.readouterr().out)
    platform_domain = load_stack_file(stacks / "Pulumi.platform-local.yaml")[0].platform.domain
    assert doc["config"]["lfh:client"]["domain"] == f"acme-staging.{platform_domain}"
    assert not (stacks / "Pulumi.acme-staging.yaml").exists()  # dry run writes nothing


def test_refuses_to_overwrite(stacks, capsys):
    assert _new(stacks, "acme", "--env", "prod", "--platform", "platform-local") == 0
    before = (stacks / "Pulumi.acme-prod.yaml").read_text()
    (stacks / "Pulumi.acme-prod.yaml").write_text(before + "# hand edit\n")
    capsys.readouterr()
    assert _new(stacks, "acme", "--env", "prod", "--platform", "platform-local") == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (stacks / "Pulumi.acme-prod.yaml").read_text().endswith("# hand edit\n")
    # The same client+environment under the other spelling of the environment is refused too.
    assert _new(stacks, "acme", "--env", "production", "--platform", "platform-local") == 2
    assert "already has a production stack" in capsys.readouterr().err


@pytest.mark.parametrize("name, env, message", [
    ("Acme", "prod", "DNS-1123 label"),
    ("acme_corp", "prod", "DNS-1123 label"),
    ("acme.corp", "prod", "DNS-1123 label"),
    ("acme-", "prod", "DNS-1123 label"),
    ("a" * 31, "development", "at most 30 are allowed"),
    ("acme", "qa", "allowed: production (or prod), staging, development (or dev)"),
])
def test_bad_names_are_refused_with_one_clear_line(stacks, capsys, name, env, message):
    assert _new(stacks, name, "--env", env, "--platform", "platform-local") == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert list(stacks.glob("Pulumi.*-*.yaml")) == [p for p in stacks.glob("Pulumi.platform-*.yaml")]


def test_longest_allowed_name_is_accepted(stacks, capsys):
    name = "a" * 30  # lfh:client.name: at most 30 characters
    assert _new(stacks, name, "--env", "dev", "--platform", "platform-local") == 0


def test_unknown_platform_is_refused_and_lists_the_known_ones(stacks, capsys):
    assert _new(stacks, "acme", "--env", "prod", "--platform", "platform-nowhere") == 2
    err = capsys.readouterr().err
    assert "Pulumi.platform-nowhere.yaml" in err and "platform-local" in err


def test_an_option_the_model_does_not_have_is_refused_not_ignored(stacks, capsys, monkeypatch):
    from lfh import onboarding

    monkeypatch.setitem(onboarding.OPTION_KEYS, "search", "noSuchSection.enabled")
    assert _new(stacks, "acme", "--env", "prod", "--platform", "platform-local", "--search") == 2
    assert "lfh:client.noSuchSection.enabled" in capsys.readouterr().err


def _needs(path: str) -> None:
    if not _has_path(ClientConfig, path):
        pytest.skip(f"lfh:client.{path} is not in this version's config model")


def test_values_equal_to_the_environment_default_are_not_written(stacks, capsys):
    _needs("apps.hapihub.replicas")
    assert _new(stacks, "acme", "--env", "prod", "--platform", "platform-local", "--dry-run",
                "--set", "apps.hapihub.replicas=2", "--set", "apps.mycureapp.replicas=3") == 0
    client = yaml.safe_load(capsys.readouterr().out)["config"]["lfh:client"]
    # 2 is production's default for hapihub: dropped; 3 differs: kept (as a number, not a string).
    assert "hapihub" not in client["apps"]
    assert client["apps"]["mycureapp"]["replicas"] == 3


def test_a_value_the_model_rejects_is_refused_naming_the_key(stacks, capsys):
    _needs("apps.hapihub.replicas")
    assert _new(stacks, "acme", "--env", "prod", "--platform", "platform-local", "--set", "apps.hapihub.replicas=1") == 2
    err = capsys.readouterr().err
    # Production needs ≥ 2 replicas: the loader's own message, one line, naming the key; nothing written.
    assert "apps.hapihub.replicas" in err and "would not validate" in err and len(err.strip().splitlines()) == 1
    assert not (stacks / "Pulumi.acme-prod.yaml").exists()


def test_image_tags_are_written_as_strings(stacks, capsys):
    _needs("apps.mycureapp.tag")
    assert _new(stacks, "acme", "--env", "staging", "--platform", "platform-local", "--image-tag", "mycureapp=10.20",
                "--dry-run") == 0
    doc = yaml.safe_load(capsys.readouterr().out)
    assert doc["config"]["lfh:client"]["apps"]["mycureapp"]["tag"] == "10.20"  # not the float 10.2


def test_component_options_become_config_keys_and_plan(stacks, capsys):
    _needs("objectStorage.mode")
    _needs("search.enabled")
    assert _new(stacks, "acme", "--env", "staging", "--platform", "platform-local",
                "--object-storage", "minio", "--search") == 0
    client = load_stack_file(stacks / "Pulumi.acme-staging.yaml")[0].client
    assert client.object_storage.mode == "minio" and client.search.enabled is True
    plan = analyze(Engine(stacks_dir=stacks).plan("acme-staging"))
    kinds = {o.get("kind") for _, o in plan.manifests()}
    assert "StatefulSet" in kinds  # Typesense runs as our own StatefulSet
    assert _unexpected(plan) == []


def test_set_refuses_unknown_keys_and_bad_pairs(stacks, capsys):
    assert _new(stacks, "acme", "--env", "prod", "--platform", "platform-local", "--set", "noSuchKey=1") == 2
    assert "lfh:client.noSuchKey" in capsys.readouterr().err
    assert _new(stacks, "acme", "--env", "prod", "--platform", "platform-local", "--set", "novalue") == 2
    assert "expected <key>=<value>" in capsys.readouterr().err


# ------------------------------------------------------------------ what real clients add (issue 16)

FEATURES = [
    # (flags, what the validated config must then hold)
    (["--secret-env", "hapihub.SMTP_PASSWORD=smtp/password"],
     lambda c: c.apps.hapihub.secret_env == {"SMTP_PASSWORD": "smtp/password"}),
    (["--extra-hostname", "mycureapp=portal.acme-health.com", "--extra-hostname", "mycureapp=book.acme-health.com"],
     lambda c: c.apps.mycureapp.extra_hostnames == ["portal.acme-health.com", "book.acme-health.com"]),
    (["--satellite", "myaccount=ghcr.io/mycurelabs/myaccount:1.0.1", "--set", "apps.satellites.myaccount.runAsUser=101",
      "--secret-env", "myaccount.API_TOKEN=myaccount/token"],
     lambda c: (c.apps.satellites["myaccount"].tag, c.apps.satellites["myaccount"].run_as_user,
                c.apps.satellites["myaccount"].secret_env) == ("1.0.1", 101, {"API_TOKEN": "myaccount/token"})),
    (["--set", 'apps.hapihub.jobs.prune-sessions={schedule: "30 3 * * *", command: [npm, run, prune-sessions]}',
      "--set", "apps.hapihub.workers.jobs.env.RUN_WORKERS=true"],
     lambda c: c.apps.hapihub.jobs["prune-sessions"].schedule == "30 3 * * *"
     and c.apps.hapihub.workers["jobs"].env == {"RUN_WORKERS": "true"}),
    (["--set", "mongodb.external={hosts: [db-0.acme.example.net], addresses: [10.60.12.0/24]}"],
     lambda c: c.mongodb.external.hosts == ["db-0.acme.example.net"]),
    (["--set", "chartVersions.psmdb-operator=1.22.0"],
     lambda c: c.chart_versions == {"psmdb-operator": "1.22.0"}),
]


@pytest.mark.parametrize("flags, holds", FEATURES)
def test_new_client_scaffolds_each_feature(stacks, capsys, flags, holds):
    assert _new(stacks, "acme", "--env", "prod", "--platform", "platform-aws", "--domain", "acme-health.com", *flags) == 0, \
        capsys.readouterr().err
    assert holds(load_stack_file(stacks / "Pulumi.acme-prod.yaml")[0].client)


def test_scaffolded_features_plan_cleanly(stacks, capsys):
    flags = [f for fl, _ in FEATURES[:-1] for f in fl]
    assert _new(stacks, "acme", "--env", "prod", "--platform", "platform-aws", "--domain", "acme-health.com", *flags) == 0, \
        capsys.readouterr().err
    plan = analyze(Engine(stacks_dir=stacks).plan("acme-prod"))
    assert [f.as_dict() for f in plan.errors] == []
    kinds = {(o.get("kind"), o["metadata"]["name"]) for _, o in plan.manifests()}
    assert {("CronJob", "hapihub-prune-sessions"), ("Deployment", "hapihub-jobs"), ("Deployment", "myaccount"),
            ("HTTPRoute", "mycureapp-portal-acme-health-com")} <= kinds


@pytest.mark.parametrize("flag, value, message", [
    ("--secret-env", "SMTP_PASSWORD=smtp", "expected <app>.<VAR>=<secret>"),
    ("--extra-hostname", "portal.acme-health.com", "expected <app>=<hostname>"),
    ("--satellite", "myaccount=ghcr.io/mycurelabs/myaccount", "expected <name>=<image>:<tag>"),
    ("--secret-env", "hapihub.SMTP_PASSWORD=../staging/smtp", "apps.hapihub.secretEnv.SMTP_PASSWORD"),
])
def test_feature_flags_refuse_bad_values_in_one_line(stacks, capsys, flag, value, message):
    assert _new(stacks, "acme", "--env", "prod", "--platform", "platform-aws", flag, value) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (stacks / "Pulumi.acme-prod.yaml").exists()
