"""demo-prod on a managed MongoDB: no replica set here, TLS required, egress to its addresses only, backups say so."""
from __future__ import annotations

import shutil

import pytest
import yaml

from lfh import STACKS_DIR
from lfh.config import ConfigError, parse_stack_config
from lfh.plan import Engine, analyze

from client_apps_helpers import by_kind, client, named
from lfh.plan.fakes import ROTATION_BASE_UNIX

GEN = f"r{ROTATION_BASE_UNIX}"  # the fake rotation generation (secrets.py names rotated objects after it)

EXTERNAL = {"hosts": ["db-0.demo.example.net", "db-1.demo.example.net", "db-2.demo.example.net"],
            "addresses": ["10.60.12.0/24"], "replicaSet": "atlas-demo", "options": {"retryWrites": "false"}}


@pytest.fixture(scope="module")
def external(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("external")
    shutil.copy(STACKS_DIR / "Pulumi.platform-aws.yaml", tmp)
    doc = yaml.safe_load((STACKS_DIR / "Pulumi.demo-prod.yaml").read_text())
    doc["config"]["lfh:client"]["mongodb"] = {"external": EXTERNAL}
    (tmp / "Pulumi.demo-prod.yaml").write_text(yaml.safe_dump(doc))
    return analyze(Engine(stacks_dir=tmp).plan("demo-prod"))



def test_no_database_runs_in_the_cluster(external):
    assert not by_kind(external, "PerconaServerMongoDB")
    assert not [h for _, h in external.helm_releases() if h["chart"] == "psmdb-operator"]
    assert not [r for r in external.resources if "mongodb-app-" in r.name or "mongodb-encryption-key" in r.name]
    assert not external.errors, [f.message for f in external.errors]


def test_apps_connect_over_verified_tls_with_the_managed_user(external):
    for app in ("hapihub", "syncd"):
        es = named(external, "ExternalSecret", f"{app}-env-{GEN}")
        uri = es["spec"]["target"]["template"]["data"]["MONGO_URI"]
        assert uri == ("mongodb://{{ .mongoUsername | urlquery }}:{{ .mongoPassword | urlquery }}@db-0.demo.example.net:27017,"
                       "db-1.demo.example.net:27017,db-2.demo.example.net:27017/hapihub"
                       "?tls=true&authSource=admin&replicaSet=atlas-demo&retryWrites=false")
        data = {d["secretKey"]: d["remoteRef"] for d in es["spec"]["data"]}
        assert data["mongoUsername"] == {"key": "aws/demo/production/mongodb-external", "property": "username"}
        assert data["mongoPassword"] == {"key": "aws/demo/production/mongodb-external", "property": "password"}
    # The stack creates the credentials' holder under the client's own path, never a value.
    (holder,) = [r for r in external.resources if r.type == "aws:secretsmanager/secret:Secret"
                 and r.inputs["name"] == "aws/demo/production/mongodb-external"]
    assert holder.protect


def test_egress_goes_to_the_databases_addresses_and_port_only(external):
    policies = {p["metadata"]["name"]: p for p in by_kind(external, "NetworkPolicy")}
    rule = {"to": [{"ipBlock": {"cidr": "10.60.12.0/24"}}], "ports": [{"protocol": "TCP", "port": 27017}]}
    for app in ("hapihub", "syncd"):
        assert rule in policies[f"allow-{app}"]["spec"]["egress"]
    # Nobody else may reach it, and nothing may reach 27017 anywhere else.
    reach = [name for name, p in policies.items() if rule in p["spec"].get("egress", [])]
    assert sorted(reach) == ["allow-hapihub", "allow-syncd"]
    for name, p in policies.items():
        for r in p["spec"].get("egress", []):
            if {"protocol": "TCP", "port": 27017} in r.get("ports", []):
                assert r == rule, name
    assert "allow-mongodb" not in policies and "allow-mongodb-operator" not in policies


def test_backups_and_the_drill_say_what_they_cover(external, plan_of):
    coverage = external.outputs["backupCoverage"]
    assert any("external database (db-0.demo.example.net" in c for c in coverage["notCovered"])
    assert not any("MongoDB" in c for c in coverage["covers"])
    # The plan shows it to whoever reviews the stack.
    assert any(line.startswith("NOT covered: MongoDB data: the external database") for line in external.sections["backupCoverage"]["text"])
    (schedule, *_) = by_kind(external, "Schedule")
    assert "external database" in schedule["metadata"]["annotations"]["lfh.io/backup-does-not-cover"]
    drill = named(external, "CronJob", "restore-drill-demo-production")
    env = {e["name"]: e["value"] for e in drill["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MONGODB_IN_CLUSTER"] == "false" and "external database" in env["NOT_COVERED"]
    # The in-cluster replica set is covered, point-in-time recovery included.
    in_cluster = plan_of("demo-prod").outputs["backupCoverage"]
    assert any("point-in-time" in c for c in in_cluster["covers"])
    assert any("MongoDB volumes" in c for c in in_cluster["covers"])


@pytest.mark.parametrize("ext, key, message", [
    ({**EXTERNAL, "options": {"tls": "false"}}, "mongodb.external.options.tls", "TLS is always required"),
    ({**EXTERNAL, "options": {"tlsAllowInvalidCertificates": "true"}}, "mongodb.external.options.tlsAllowInvalidCertificates", "TLS"),
    ({**EXTERNAL, "addresses": ["0.0.0.0/0"]}, "mongodb.external.addresses[0]", "wider than /16"),
    ({**EXTERNAL, "addresses": []}, "mongodb.external.addresses", "must have at least 1 entry"),
    ({**EXTERNAL, "hosts": ["db_0.example.net"]}, "mongodb.external.hosts[0]", "may only contain lower-case letters"),
    ({**EXTERNAL, "credentialsSecret": "db/password"}, "mongodb.external.credentialsSecret", "without `/`"),
    ({**EXTERNAL, "port": 0}, "mongodb.external.port", "must be at least 1"),
])
def test_bad_external_database_config_names_the_key(ext, key, message):
    with pytest.raises(ConfigError) as exc:
        parse_stack_config("x-staging", {"lfh:client": client("x", mongodb={"external": ext})})
    (line,) = exc.value.lines
    assert line.startswith(f"lfh:client.{key}: ") and message in line, line
