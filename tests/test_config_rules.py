"""Issue 17: what a cloud or Kubernetes would refuse is refused by the loader first — through the real CLI,
with exit 2, one line naming the full key, and no resource registered."""
from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from lfh import STACKS_DIR
from lfh.cli import main
from lfh.config import ConfigError, load_stack_file, parse_stack_config
from lfh.plan import engine as plan_engine

HEX = "0123456789abcdef" * 4
DIGEST = f"sha256:{HEX}"


def _raw(stack: str) -> dict:
    return yaml.safe_load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]


def _set(config: dict, path: str, value: Any) -> dict:
    """``config`` with the value at a dotted path under its `lfh:` section (`apps.hapihub.replicas`)."""
    section = next(k for k in config if k.startswith("lfh:"))
    node = config[section]
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return config


@pytest.fixture
def registrations(monkeypatch) -> list[str]:
    """Every resource the mock engine is asked to register during the test."""
    seen: list[str] = []
    original = plan_engine._RecordingMonitor._record

    def record(self, request, urn, custom):
        seen.append(urn)
        return original(self, request, urn, custom)

    monkeypatch.setattr(plan_engine._RecordingMonitor, "_record", record)
    monkeypatch.setenv("LFH_PLAN_CACHE", "0")
    return seen


def _plan(tmp_path: Path, stack: str, config: dict | None = None, text: str | None = None,
          platforms: tuple[str, ...] = ("platform-local",)) -> int:
    for platform in platforms:
        if not (tmp_path / f"Pulumi.{platform}.yaml").exists():
            shutil.copy(STACKS_DIR / f"Pulumi.{platform}.yaml", tmp_path)
    body = text if text is not None else yaml.safe_dump({"config": config}, sort_keys=False)
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(body)
    return main(["plan", stack, "--stacks-dir", str(tmp_path), "--out", str(tmp_path / "out")])


def _refused(tmp_path, capsys, registrations, stack: str, key: str, says: str, **kw) -> str:
    """Plan through the CLI; assert exit 2, a line naming ``key`` that says ``says``, nothing registered."""
    code = _plan(tmp_path, stack, **kw)
    err = capsys.readouterr().err
    lines = [line.removeprefix("config error: ") for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert any(line.startswith(f"{key}:") or f" {key}:" in line for line in lines), lines
    assert any(says in line for line in lines), lines
    assert "Traceback" not in err
    assert registrations == []
    return err


CLIENT = "demo-staging"


def client(path: str, value: Any) -> dict:
    return _set(_raw(CLIENT), path, value)


def platform(stack: str, path: str, value: Any) -> dict:
    return _set(_raw(stack), path, value)


# ---------------------------------------------------------------- per class: (stack, config, key, says)

CASES: dict[str, list[tuple[str, Callable[[], dict], str, str]]] = {
    "network": [
        ("platform-aws", lambda: platform("platform-aws", "cluster.vpcCidr", "10.32.0.0/12"), "lfh:platform.cluster.vpcCidr", "/16 to /28"),
        ("platform-aws", lambda: platform("platform-aws", "cluster.vpcCidr", "10.40.0.0/26"), "lfh:platform.cluster.vpcCidr", "smaller than AWS's /28"),
        ("platform-aws", lambda: platform("platform-aws", "cluster.vpcCidr", "10.300.0.0/16"), "lfh:platform.cluster.vpcCidr", "not an IPv4 network"),
        ("platform-aws", lambda: platform("platform-aws", "cluster.vpcCidr", "10.40.1.0/16"), "lfh:platform.cluster.vpcCidr", "the network is 10.40.0.0/16"),
        ("platform-aws", lambda: platform("platform-aws", "cluster.vpcCidr", "10.40.0.0/33"), "lfh:platform.cluster.vpcCidr", "prefix length 0–32"),
        ("platform-gcp", lambda: platform("platform-gcp", "cluster.masterCidr", "172.16.0.0/27"), "lfh:platform.cluster.masterCidr", "/28"),
        ("platform-gcp", lambda: platform("platform-gcp", "cluster.masterCidr", "203.0.113.0/28"), "lfh:platform.cluster.masterCidr", "RFC 1918"),
        ("platform-gcp", lambda: platform("platform-gcp", "cluster.podsCidr", "10.42.0.0/16"), "lfh:platform.cluster.podsCidr", "overlaps subnetCidr"),
        ("platform-gcp", lambda: platform("platform-gcp", "cluster.podsCidr", "10.128.0.0/22"), "lfh:platform.cluster.podsCidr", "node blocks of /24"),
        ("platform-azure", lambda: platform("platform-azure", "cluster.nodeSubnetCidr", "10.99.0.0/20"), "lfh:platform.cluster.nodeSubnetCidr", "inside vnetCidr"),
        ("platform-azure", lambda: platform("platform-azure", "cluster.dnsServiceIp", "172.17.0.10"), "lfh:platform.cluster.dnsServiceIp", "inside serviceCidr"),
        ("platform-azure", lambda: platform("platform-azure", "cluster.dnsServiceIp", "172.16.0.1"), "lfh:platform.cluster.dnsServiceIp", "first"),
        ("platform-azure", lambda: platform("platform-azure", "cluster.serviceCidr", "172.0.0.0/10"), "lfh:platform.cluster.serviceCidr", "/12"),
        ("platform-azure", lambda: platform("platform-azure", "cluster.podCidr", "172.31.0.0/16"), "lfh:platform.cluster.podCidr", "AKS reserves"),
        (CLIENT, lambda: client("network.egressExceptCidrs", ["0.0.0.0/0"]), "lfh:client.network.egressExceptCidrs[0]", "strictly inside"),
        (CLIENT, lambda: client("network.kubeApiPorts", [443, 0]), "lfh:client.network.kubeApiPorts[1]", "at least 1"),
        (CLIENT, lambda: client("network.smtpPort", 70000), "lfh:client.network.smtpPort", "at most 65535"),
    ],
    "sizes": [
        ("platform-aws", lambda: platform("platform-aws", "cluster.nodePools", {"apps": {"desiredSize": 9}}), "lfh:platform.cluster.nodePools.apps.desiredSize", "between minSize (2) and maxSize (6)"),
        ("platform-aws", lambda: platform("platform-aws", "cluster.nodePools", {"db": {"minSize": 7}}), "lfh:platform.cluster.nodePools.db.maxSize", "at least minSize (7)"),
        ("platform-aws", lambda: platform("platform-aws", "cluster.nodePools", {"db": {"maxSize": 451}}), "lfh:platform.cluster.nodePools.db.maxSize", "at most 450"),
        ("platform-azure", lambda: platform("platform-azure", "cluster.nodePools", {"system": {"minCount": 0}}), "lfh:platform.cluster.nodePools.system.minCount", "AKS needs a node"),
        (CLIENT, lambda: client("apps.hapihub.replicas", True), "lfh:client.apps.hapihub.replicas", "whole number, not true/false"),
        (CLIENT, lambda: client("apps.hapihub.replicas", "3"), "lfh:client.apps.hapihub.replicas", "whole number (without quotes)"),
        (CLIENT, lambda: client("search.enabled", "yes"), "lfh:client.search.enabled", "true or false"),
        (CLIENT, lambda: client("search.enabled", 1), "lfh:client.search.enabled", "true or false"),
        (CLIENT, lambda: client("quota.pods", 0), "lfh:client.quota.pods", "at least 1"),
        (CLIENT, lambda: client("quota.requestsMemory", "0Gi"), "lfh:client.quota.requestsMemory", "more than zero"),
        (CLIENT, lambda: client("backups.dailyTtl", "0h"), "lfh:client.backups.dailyTtl", "at least 1h"),
        (CLIENT, lambda: client("backups.weeklyTtl", "1000000h"), "lfh:client.backups.weeklyTtl", "at most 87600h"),
        (CLIENT, lambda: client("mongodb.backupKeep", 1000), "lfh:client.mongodb.backupKeep", "at most 365"),
        ("platform-local", lambda: platform("platform-local", "monitoring.retention", "0d"), "lfh:platform.monitoring.retention", "longer than zero"),
    ],
    "schedules": [
        (CLIENT, lambda: client("backups.drillSchedule", ""), "lfh:client.backups.drillSchedule", "must not be empty"),
        (CLIENT, lambda: client("backups.hourlySchedule", "0 * * *"), "lfh:client.backups.hourlySchedule", "has 4 fields"),
        (CLIENT, lambda: client("backups.dailySchedule", "0 0 3 * * *"), "lfh:client.backups.dailySchedule", "has 6 fields"),
        (CLIENT, lambda: client("backups.weeklySchedule", "0 3 * * 7"), "lfh:client.backups.weeklySchedule", "day of week must be 0–6"),
        (CLIENT, lambda: client("mongodb.backupSchedule", "61 2 * * *"), "lfh:client.mongodb.backupSchedule", "not a valid cron schedule"),
        (CLIENT, lambda: client("mongodb.backupSchedule", "0 2 L * *"), "lfh:client.mongodb.backupSchedule", "letters other than"),
        ("platform-local", lambda: platform("platform-local", "backups.schedule", "0 3 31 2 *"), "lfh:platform.backups.schedule", "a day that exists"),
        ("platform-local", lambda: platform("platform-local", "storage.snapshotCron", "every hour"), "lfh:platform.storage.snapshotCron", "fields"),
    ],
    "names": [
        ("b" * 40 + "-staging", lambda: _set(client("name", "b" * 40), "domain", "x.example.com"),
         "lfh:client.name", "at most 30 characters"),
        (CLIENT, lambda: client("name", "Demo"), "lfh:client.name", "use lower case"),
        (CLIENT, lambda: client("domain", f"{'a' * 64}.example.com"), "lfh:client.domain", "at most 63"),
        (CLIENT, lambda: client("domain", ("a" * 60 + ".") * 4 + "com"), "lfh:client.domain", "at most 253"),
        (CLIENT, lambda: client("apps.hapihub.hostname", "api..example.com"), "lfh:client.apps.hapihub.hostname", "empty label"),
        (CLIENT, lambda: client("apps.hapihub.env", {"1BAD": "x"}), "lfh:client.apps.hapihub.env.1BAD", "the key must not start with a digit"),
        (CLIENT, lambda: client("apps.hapihub.env", {"MY VAR": "x"}), "lfh:client.apps.hapihub.env.MY VAR", "the key may only contain"),
        (CLIENT, lambda: client("platformStack", ""), "lfh:client.platformStack", "<org>/lfh/platform-<name>"),
        (CLIENT, lambda: client("gitops.sourceRepos", [""]), "lfh:client.gitops.sourceRepos[0]", "must not be empty"),
        ("platform-aws", lambda: platform("platform-aws", "cluster.nodePools", {"apps": {"labels": {"bad key!": "x"}}}),
         "lfh:platform.cluster.nodePools.apps.labels.bad key!", "the key may only contain"),
        ("platform-aws", lambda: platform("platform-aws", "cluster.nodePools", {"apps": {"labels": {"team": "x" * 64}}}),
         "lfh:platform.cluster.nodePools.apps.labels.team", "at most 63"),
        ("platform-aws", lambda: platform("platform-aws", "cluster.nodePools", {"apps": {"taints": [{"key": ""}]}}),
         "lfh:platform.cluster.nodePools.apps.taints[0].key", "must not be empty"),
        ("platform-local", lambda: platform("platform-local", "tags", {"aws:owner": "x"}), "lfh:platform.tags.aws:owner", "reserved"),
    ],
    "images": [
        (CLIENT, lambda: client("apps.hapihub.image", "ghcr.io/mycurelabs/hapihub:5000"), "lfh:client.apps.hapihub.image", "'5000' is a tag"),
        (CLIENT, lambda: client("apps.hapihub.image", "GHCR.io/Org/App"), "lfh:client.apps.hapihub.image", "not an image repository"),
        (CLIENT, lambda: client("apps.hapihub.tag", "latest"), "lfh:client.apps.hapihub.tag", "never `latest`"),
        (CLIENT, lambda: client("apps.hapihub.tag", "sha256:abc"), "lfh:client.apps.hapihub.tag", "64 lower-case hex"),
        (CLIENT, lambda: client("mongodb.imageTag", "7.0 beta"), "lfh:client.mongodb.imageTag", "must be an image tag"),
        (CLIENT, lambda: client("backups.drillImage", "registry.local:5000/kubectl"), "lfh:client.backups.drillImage", "a registry port is not a tag"),
        (CLIENT, lambda: client("backups.drillImage", "registry.k8s.io/kubectl:latest"), "lfh:client.backups.drillImage", "never `latest`"),
    ],
    "duplicates": [
        ("platform-aws", lambda: platform("platform-aws", "monitoring.receivers", _raw("platform-aws")["lfh:platform"]["monitoring"]["receivers"][:1] * 2),
         "lfh:platform.monitoring.receivers[1].name", "repeats the receiver name 'ops-slack' of entry [0]"),
        ("platform-aws", lambda: platform("platform-aws", "cluster.adminRoleArns", ["arn:aws:iam::123456789012:role/a"] * 2),
         "lfh:platform.cluster.adminRoleArns[1]", "repeats the role ARN"),
        ("platform-local", lambda: platform("platform-local", "gateway.extraDomains", ["a.example.org", "b.example.org", "a.example.org"]),
         "lfh:platform.gateway.extraDomains[2]", "repeats the domain 'a.example.org' of entry [0]"),
        (CLIENT, lambda: client("mongodb.databases", ["hapihub", "hapihub"]), "lfh:client.mongodb.databases[1]", "repeats the database 'hapihub'"),
        ("platform-aws", lambda: platform("platform-aws", "cluster.nodePools", {"db": {"taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "value": "x"}]}}),
         "lfh:platform.cluster.nodePools.db.taints[1]", "repeats the taint 'k:NoSchedule'"),
    ],
    "overrides": [
        ("platform-local", lambda: platform("platform-local", "chartVersions", {"cert-manager": "^1.21"}), "lfh:platform.chartVersions.cert-manager", "exact chart version"),
        ("platform-local", lambda: platform("platform-local", "chartVersions", {"cert-manager": "latest"}), "lfh:platform.chartVersions.cert-manager", "exact chart version"),
        ("platform-local", lambda: platform("platform-local", "chartVersions", {"certmanager": "v1.21.2"}), "lfh:platform.chartVersions.certmanager", "not a pinned chart"),
        (CLIENT, lambda: client("chartVersions", {"psmdb-db": "1.22"}), "lfh:client.chartVersions.psmdb-db", "exact chart version"),
    ],
    "messages": [
        ("platform-local", lambda: platform("platform-local", "cluster.provider", "azurre"), "lfh:platform.cluster.provider", "must be one of aws, azure, gcp, existing"),
        ("platform-local", lambda: platform("platform-local", "cluster", {"storageClass": "standard"}), "lfh:platform.cluster.provider", "required key is missing (one of aws, azure, gcp, existing)"),
        (CLIENT, lambda: client("environment", "prod"), "lfh:client.environment", "must be one of production, staging, development"),
        (CLIENT, lambda: client("cluster", {"provider": "aws"}), "lfh:client.cluster", "cluster is a platform stack key (lfh:platform.cluster), and this is a client stack"),
        ("platform-local", lambda: platform("platform-local", "apps", {}), "lfh:platform.apps", "apps is a client stack key (lfh:client.apps), and this is a platform stack"),
        ("platform-local", lambda: _raw(CLIENT), "lfh:client", "platform-local is a platform stack (named `platform-<name>`), so its file sets lfh:platform"),
        (CLIENT, lambda: _raw("platform-local"), "lfh:platform", "demo-staging is a client stack"),
    ],
}


@pytest.mark.parametrize("stack, make, key, says", [c for cases in CASES.values() for c in cases],
                         ids=[f"{k}-{i}" for k, cases in CASES.items() for i in range(len(cases))])
def test_bad_value_is_refused_before_any_resource(tmp_path, capsys, registrations, stack, make, key, says):
    _refused(tmp_path, capsys, registrations, stack, key, says, config=make())


def test_a_platform_problem_seen_from_a_client_names_the_platform_file(tmp_path, capsys, registrations):
    broken = platform("platform-local", "backups.schedule", "0 25 * * *")
    (tmp_path / "Pulumi.platform-local.yaml").write_text(yaml.safe_dump({"config": broken}))
    err = _refused(tmp_path, capsys, registrations, CLIENT, "lfh:platform.backups.schedule", "not a valid cron schedule",
                   config=_raw(CLIENT))
    assert f"{tmp_path / 'Pulumi.platform-local.yaml'} (platform stack 'platform-local'" in err
    assert "demo-staging" in err


# ---------------------------------------------------------------- the stack file itself

def test_duplicate_keys_are_refused_naming_the_key_and_lines(tmp_path, capsys, registrations):
    text = (STACKS_DIR / f"Pulumi.{CLIENT}.yaml").read_text().replace(
        "    environment: staging\n", "    environment: staging\n    environment: production\n")
    err = _refused(tmp_path, capsys, registrations, CLIENT, "lfh:client.environment", "given twice", text=text)
    assert "lines 4 and 5" in err and "Pulumi refuses duplicate keys" in err


def test_duplicate_keys_deep_in_the_file_are_refused(tmp_path, capsys, registrations):
    text = (STACKS_DIR / f"Pulumi.{CLIENT}.yaml").read_text().replace(
        '        tag: "5.215.2"\n', '        tag: "5.215.2"\n        tag: "5.215.3"\n')
    _refused(tmp_path, capsys, registrations, CLIENT, "lfh:client.apps.hapihub.tag", "given twice", text=text)


def test_a_merge_key_override_is_not_a_duplicate(tmp_path):
    text = (STACKS_DIR / f"Pulumi.{CLIENT}.yaml").read_text() + (
        "    quota: &q\n      pods: 50\n    limitRange:\n      maxCpu: '4'\n")
    path = tmp_path / f"Pulumi.{CLIENT}.yaml"
    path.write_text(text)
    cfg, _, _ = load_stack_file(path)
    assert cfg.client.quota.pods == 50


BILLION_LAUGHS = """config:
  lfh:client:
    a: &a [x, x, x, x, x, x, x, x, x, x]
    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
    f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
    g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
    h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
    i: [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_alias_expansion_is_bounded(tmp_path, capsys, registrations):
    err = _refused(tmp_path, capsys, registrations, CLIENT, "lfh:client.e", "aliases expand it to more than 100,000 values",
                   text=BILLION_LAUGHS)
    assert len(err.splitlines()) == 1


def test_recursive_alias_is_refused(tmp_path, capsys, registrations):
    _refused(tmp_path, capsys, registrations, CLIENT, "lfh:client.a.b", "refers to the mapping or list that contains it",
             text="config:\n  lfh:client:\n    a: &a\n      b: *a\n")


# ---------------------------------------------------------------- what is valid stays valid

def test_digests_render_as_repo_at_sha256_everywhere(tmp_path, registrations):
    cfg = _raw(CLIENT)
    _set(cfg, "apps.hapihub.tag", DIGEST)
    _set(cfg, "mongodb.imageTag", DIGEST)
    _set(cfg, "search", {"enabled": True, "imageTag": DIGEST})
    _set(cfg, "objectStorage", {"mode": "minio", "minio": {"imageTag": DIGEST, "mcImageTag": DIGEST}})
    _set(cfg, "backups.drillImage", f"registry.local:5000/kubectl@{DIGEST}")
    assert _plan(tmp_path, CLIENT, config=cfg) in (0, 1)
    images = (tmp_path / "out" / "resources.json").read_text() + "".join(
        p.read_text() for p in (tmp_path / "out").rglob("*.yaml"))
    for repo in ("ghcr.io/mycurelabs/hapihub", "percona/percona-server-mongodb", "typesense/typesense",
                 "quay.io/minio/minio", "quay.io/minio/mc", "registry.local:5000/kubectl"):
        assert f"{repo}@{DIGEST}" in images, repo
    assert f":{DIGEST}" not in images.replace(f"@{DIGEST}", "")


def test_a_registry_port_in_a_repository_is_not_a_tag():
    cfg = client("apps.hapihub.image", "registry.example.com:5000/team/hapihub")
    assert parse_stack_config(CLIENT, load_stack_file(STACKS_DIR / f"Pulumi.{CLIENT}.yaml")[1] | cfg).client.apps.hapihub.image \
        == "registry.example.com:5000/team/hapihub"


def test_a_pinned_chart_override_is_accepted():
    cfg = platform("platform-local", "chartVersions", {"cert-manager": "v1.21.2", "velero": "12.1.1"})
    config = load_stack_file(STACKS_DIR / "Pulumi.platform-local.yaml")[1]
    config["lfh:platform"]["chartVersions"] = cfg["lfh:platform"]["chartVersions"]
    assert parse_stack_config("platform-local", config).platform.chart_versions == {"cert-manager": "v1.21.2", "velero": "12.1.1"}


@pytest.mark.parametrize("stack", sorted(p.name[len("Pulumi."):-len(".yaml")] for p in STACKS_DIR.glob("Pulumi.*.yaml")))
def test_every_example_stack_still_loads(stack):
    load_stack_file(STACKS_DIR / f"Pulumi.{stack}.yaml")


# ---------------------------------------------------------------- every message an operator can read

#: What a message must never show: regular-expression syntax or validator jargon.
REGEX = re.compile(r"\^\[|\[a-z|\\[sdwS]|\(\?|\{\d+,\d*\}|\$'|\]\+|\]\*|pattern")
JARGON = ("Input should", "Value error", "discriminator", "union", "model_type", "dict_type", "Field required",
          "pydantic", "validation error", "instance of")
#: Values that break some rule of almost any field: wrong types, empty, out of range, malformed text.
BAD_VALUES: list[Any] = ["Bad Value!", "", -1, 10 ** 9, True, ["x"], {"Bad Key!": "Bad Value!"}]


def _fields(model: type, path: list[str], data: Any) -> list[tuple[list[str], Any]]:
    """(path, FieldInfo) of every leaf field below ``model``, following the concrete data for unions/lists."""
    from pydantic import BaseModel, SecretStr

    from lfh.config.base import models_in

    out = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        sub = data.get(key) if isinstance(data, dict) else None
        members = models_in(info.annotation)
        if info.annotation is SecretStr or "SecretStr" in str(info.annotation):
            continue
        if members and len(members) > 1:  # the cluster union: the member the data selects
            chosen = [m for m in members if isinstance(sub, dict) and sub.get("provider") in str(m.model_fields.get("provider").annotation)]
            if chosen:
                out += _fields(chosen[0], path + [key], sub)
        elif members and "list" in str(info.annotation):
            if isinstance(sub, list) and sub and isinstance(sub[0], dict):
                out += _fields(members[0], path + [key, "0"], sub[0])
        elif members and "dict[" not in str(info.annotation):
            out += _fields(members[0], path + [key], sub if isinstance(sub, dict) else {})
        elif isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            out += _fields(info.annotation, path + [key], sub if isinstance(sub, dict) else {})
        else:
            out.append((path + [key], info))
    return out


def _put(config: dict, section: str, path: list[str], value: Any) -> dict:
    node = config[section]
    for part in path[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    node[path[-1]] = value
    return config


@pytest.mark.parametrize("stack", ["platform-aws", "platform-azure", "platform-gcp", "platform-local", "acme-prod", CLIENT])
def test_every_message_names_its_key_and_reads_as_a_sentence(stack):
    from lfh.config.loader import LFH_KEYS

    base = load_stack_file(STACKS_DIR / f"Pulumi.{stack}.yaml")[1]
    section = next(k for k in base if k.startswith("lfh:"))
    model = LFH_KEYS[section.removeprefix("lfh:")]
    refused_fields = 0
    fields = _fields(model, [], base[section])
    assert len(fields) > 60
    for path, info in fields:
        dotted = ".".join(path).replace(".0.", "[0].")
        key = f"{section}.{dotted}"
        refused = False
        for bad in BAD_VALUES:
            config = _put(copy.deepcopy(base), section, path, copy.deepcopy(bad))
            try:
                parse_stack_config(stack, config)
            except ConfigError as exc:
                for line in exc.lines:
                    assert line.split(": ", 1)[0].startswith(f"{section}"), line
                    message = line.split(": ", 1)[1]
                    shown = message.rsplit(" (got ", 1)[0]
                    assert not REGEX.search(shown), line
                    assert not any(j in shown for j in JARGON), line
                    assert shown[:1].islower() or shown.startswith(("'", "`", "/")), line
                refused = refused or any(line.startswith(key) for line in exc.lines)
        refused_fields += refused
        # A field with a rule of its own must have shown that rule's message for one of the bad values.
        from lfh.config.docs import _rules_in

        if _rules_in(info.annotation, list(info.metadata)):
            assert refused, f"{key}: no bad value was refused"
    assert refused_fields >= len(fields) * 0.8
