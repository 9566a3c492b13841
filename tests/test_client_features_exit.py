"""Every new client key refuses a bad value at load: exit 2, one line naming the full key and what is
allowed, and nothing planned (the CLI stops before the program registers any resource)."""
from __future__ import annotations

import shutil

import pytest
import yaml

from lfh import STACKS_DIR
from lfh.cli import main

from client_apps_helpers import client

SAT = {"image": "ghcr.io/mycurelabs/myaccount", "tag": "1.0.1"}
CASES = [
    ({"apps": {"hapihub": {"secretEnv": {"SMTP_PASSWORD": "../production/smtp"}}}},
     "lfh:client.apps.hapihub.secretEnv.SMTP_PASSWORD", "cannot reach another client's or environment's secrets"),
    ({"apps": {"hapihub": {"secretEnv": {"SMTP PASSWORD": "smtp"}}}},
     "lfh:client.apps.hapihub.secretEnv.SMTP PASSWORD", "may only contain letters, digits"),
    ({"apps": {"mycureapp": {"env": {"SMTP_PASSWORD": "hunter2"}}}},
     "lfh:client.apps.mycureapp.env.SMTP_PASSWORD", "map it under `secretEnv`"),
    ({"apps": {"mycureapp": {"extraHostnames": ["Portal_example"]}}},
     "lfh:client.apps.mycureapp.extraHostnames[0]", "must be a fully qualified domain name"),
    ({"apps": {"satellites": {"myaccount": {**SAT, "reaches": ["search"]}}}},
     "lfh:client.apps.satellites.myaccount.reaches[0]", "'search' is not enabled"),
    ({"apps": {"satellites": {"myaccount": {**SAT, "colour": "blue"}}}},
     "lfh:client.apps.satellites.myaccount.colour", "unknown key; allowed:"),
    ({"apps": {"hapihub": {"jobs": {"prune": {"schedule": "0 3 * *", "command": ["x"]}}}}},
     "lfh:client.apps.hapihub.jobs.prune.schedule", "has 4 fields"),
    ({"apps": {"hapihub": {"workers": {"w": {"replicas": 0}}}}},
     "lfh:client.apps.hapihub.workers.w.replicas", "must be at least 1"),
    ({"mongodb": {"external": {"hosts": ["db.example.net"], "addresses": ["10.0.0.0/8"]}}},
     "lfh:client.mongodb.external.addresses[0]", "wider than /16"),
    ({"chartVersions": {"cert-manager": "v1.21.2"}},
     "lfh:client.chartVersions.cert-manager", "allowed: psmdb-operator, minio"),
]


@pytest.mark.parametrize("extra, key, allowed", CASES, ids=[c[1].removeprefix("lfh:client.") for c in CASES])
def test_bad_value_exits_2_naming_the_key_before_anything_is_planned(tmp_path, capsys, extra, key, allowed):
    shutil.copy(STACKS_DIR / "Pulumi.platform-local.yaml", tmp_path)
    (tmp_path / "Pulumi.x-staging.yaml").write_text(yaml.safe_dump({"config": {"lfh:client": client("x", **extra)}}))
    code = main(["plan", "x-staging", "--stacks-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith(f"config error: {key}: ") and allowed in err[0], err
    assert not (tmp_path / "out").exists()
