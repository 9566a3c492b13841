"""The restore-drill script, run for real with bash and jq against a fake kubectl."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from client_apps_helpers import crd_schemas

from components.client.backups import DRILL_EXCLUDED, DRILL_MODIFIERS, DRILL_SCRIPT

pytestmark = pytest.mark.skipif(not (shutil.which("bash") and shutil.which("jq")), reason="needs bash and jq")

FAKE_KUBECTL = r"""#!/bin/bash
echo "$*" >> "$LOG/calls.log"
args="$*"
case "$args" in
  *"get backups.velero.io"*) cat "$LOG/backups.json" ;;
  *"get namespace"*) exit 1 ;;
  *"create -f -"*) cat > "$LOG/restore.json" ;;
  *"get restores.velero.io"*) printf Completed ;;
  *" wait "*) exit "${WAIT_RC:-0}" ;;
  *"get perconaservermongodbs"*) echo '{"items":[{"status":{"state":"ready"}}]}' ;;
  *"patch configmap"*) echo "${@: -1}" > "$LOG/patch.json" ;;
  *"delete namespace"*) echo deleted >> "$LOG/deleted" ;;
  *) echo "unexpected kubectl $args" >&2; exit 3 ;;
esac
"""

BACKUPS = {"items": [
    {"metadata": {"name": "demo-production-daily-1"}, "status": {"phase": "Completed", "completionTimestamp": "2026-11-20T02:40:00Z"}},
    {"metadata": {"name": "demo-production-daily-2"}, "status": {"phase": "Completed", "completionTimestamp": "2026-11-21T02:40:00Z"}},
    {"metadata": {"name": "demo-production-daily-3"}, "status": {"phase": "Failed", "completionTimestamp": "2026-11-22T02:40:00Z"}},
]}


def _run(tmp_path: Path, backups: dict, wait_rc: int = 0, **extra: str) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(FAKE_KUBECTL)
    (bin_dir / "kubectl").chmod(0o755)
    (tmp_path / "backups.json").write_text(json.dumps(backups))
    script = tmp_path / "drill.sh"
    script.write_text(DRILL_SCRIPT)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}", "LOG": str(tmp_path), "WAIT_RC": str(wait_rc),
        "SOURCE_NS": "demo-production", "DRILL_NS": "demo-production-drill", "VELERO_NS": "velero",
        "RESULT_CM": "restore-drill-demo-production", "SCHEDULE": "demo-production-daily",
        "TIMEOUT_SECONDS": "3600", "EXCLUDED_RESOURCES": json.dumps(DRILL_EXCLUDED),
        "MODIFIERS_CM": "restore-drill-demo-production-modifiers", "HOME": str(tmp_path),
        "MONGODB_IN_CLUSTER": "true", "COVERS": "MongoDB volumes", "NOT_COVERED": "secret values",
        **extra,
    }
    return subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)


def test_drill_restores_newest_completed_daily_and_records_success(tmp_path):
    proc = _run(tmp_path, BACKUPS)
    assert proc.returncode == 0, proc.stderr
    restore = json.loads((tmp_path / "restore.json").read_text())
    jsonschema.validate(restore, crd_schemas()[("velero.io/v1", "Restore")])
    assert restore["spec"]["backupName"] == "demo-production-daily-2"     # newest *completed*
    assert restore["spec"]["namespaceMapping"] == {"demo-production": "demo-production-drill"}
    assert "httproutes.gateway.networking.k8s.io" in restore["spec"]["excludedResources"]
    assert restore["spec"]["resourceModifier"]["name"] == "restore-drill-demo-production-modifiers"
    patch = json.loads((tmp_path / "patch.json").read_text())["data"]
    assert patch["lastResult"] == "passed" and patch["lastBackup"] == "demo-production-daily-2"
    assert int(patch["lastDurationSeconds"]) >= 0
    log_line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert log_line["event"] == "restore-drill" and log_line["result"] == "passed"
    assert (tmp_path / "deleted").exists()


def test_drill_states_what_it_covers_and_skips_an_external_database(tmp_path):
    (tmp_path / "in").mkdir()
    covered = _run(tmp_path / "in", BACKUPS)
    assert covered.returncode == 0, covered.stderr
    assert "get perconaservermongodbs" in (tmp_path / "in" / "calls.log").read_text()
    (tmp_path / "ext").mkdir()
    proc = _run(tmp_path / "ext", BACKUPS, MONGODB_IN_CLUSTER="false",
                NOT_COVERED="MongoDB data: the external database (db.example.com) is backed up by its provider")
    assert proc.returncode == 0, proc.stderr
    # Nothing of an external database is in the backup, so the drill doesn't wait for one...
    assert "perconaservermongodbs" not in (tmp_path / "ext" / "calls.log").read_text()
    # ...and says so where its result is read.
    patch = json.loads((tmp_path / "ext" / "patch.json").read_text())["data"]
    assert patch["lastResult"] == "passed" and "external database" in patch["notCovered"]
    assert "not covered: MongoDB data" in patch["lastDetail"] and patch["covers"] == "MongoDB volumes"


def test_drill_without_backup_fails_and_still_cleans_up(tmp_path):
    proc = _run(tmp_path, {"items": []})
    assert proc.returncode != 0
    patch = json.loads((tmp_path / "patch.json").read_text())["data"]
    assert patch["lastResult"] == "failed" and "no completed backup" in patch["lastDetail"]
    assert not (tmp_path / "restore.json").exists()
    assert (tmp_path / "deleted").exists()


def test_drill_with_unready_pods_fails(tmp_path):
    proc = _run(tmp_path, BACKUPS, wait_rc=1)
    assert proc.returncode != 0
    assert json.loads((tmp_path / "patch.json").read_text())["data"]["lastResult"] == "failed"


def test_modifiers_are_valid_velero_rules():
    doc = yaml.safe_load(DRILL_MODIFIERS)
    assert doc["version"] == "v1"
    # Apps and workers start at 0 replicas in the copy (a worker would otherwise act on restored data).
    scaled = {r["conditions"]["labelSelector"]["matchLabels"]["app.kubernetes.io/component"]
              for r in doc["resourceModifierRules"] if r["conditions"]["groupResource"] == "deployments.apps"}
    assert scaled == {"app", "worker"}
    for rule in doc["resourceModifierRules"]:
        for patch in rule["patches"]:
            json.loads(patch["value"])          # Velero inserts the value as raw JSON
            assert patch["path"].startswith("/spec/")
