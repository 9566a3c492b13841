"""The restore-drill script, run for real with bash and jq against a fake kubectl: it restores the newest
completed daily backup, reads the canaries back in the copy, records RPO/RTO, and (when due) restores
MongoDB to a point in time; the canary's object half runs against a fake rclone."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest
import yaml

from client_apps_helpers import crd_schemas

from components.client.backups import COPY_BINDING, DRILL_EXCLUDED, DRILL_SCRIPT, base_modifiers
from components.client.canary import CANARY_SH

pytestmark = pytest.mark.skipif(not (shutil.which("bash") and shutil.which("jq")), reason="needs bash and jq")

FAKE_KUBECTL = r"""#!/bin/bash
echo "$*" >> "$LOG/calls.log"
args="$*"
case "$args" in
  *"patch configmap"*) echo "${@: -1}" > "$LOG/patch.json" ;;
  *"get backups.velero.io"*) cat "$LOG/backups.json" ;;
  *"get namespace"*) exit 1 ;;
  *"create -f -"*)
    body=$(cat); kind=$(echo "$body" | jq -r .kind); name=$(echo "$body" | jq -r .metadata.name)
    echo "$body" > "$LOG/created-$kind-$name.json" ;;
  *"get restores.velero.io"*) printf Completed ;;
  *" wait "*) exit "${WAIT_RC:-0}" ;;
  *"get perconaservermongodbs"*) echo '{"items":[{"status":{"state":"ready"}}]}' ;;
  *"get perconaservermongodbbackups"*) cat "$LOG/psmdb-backups.json" ;;
  *"get perconaservermongodbrestores"*) printf "${PITR_STATE:-ready}" ;;
  *"patch perconaservermongodbs"*) echo patched >> "$LOG/psmdb-patched" ;;
  *"get job "*)
    job=$(echo "$args" | sed 's/.*get job \([^ ]*\).*/\1/')
    if [ "$job" = "${FAIL_JOB:-none}" ]; then echo '{"status":{"failed":1}}'; else echo '{"status":{"succeeded":1}}'; fi ;;
  *"logs job/restore-drill-verify-pitr"*) echo "$VERIFY_PITR_OUT" ;;
  *"logs job/restore-drill-verify"*) echo "$VERIFY_OUT" ;;
  *"logs job/"*) echo '{"event":"canary-pbm-off"}' ;;
  *"get configmap"*) echo "{\"data\": {\"lastResult\": \"passed\"${LAST_PITR:+, \"lastPitrPassed\": \"$LAST_PITR\"}}}" ;;
  *"delete namespace"*) echo deleted >> "$LOG/deleted" ;;
  *) echo "unexpected kubectl $args" >&2; exit 3 ;;
esac
"""

BACKUPS = {"items": [
    {"metadata": {"name": "demo-production-daily-1"}, "status": {"phase": "Completed", "completionTimestamp": "2026-11-20T02:40:00Z"}},
    {"metadata": {"name": "demo-production-daily-2"}, "status": {"phase": "Completed", "completionTimestamp": "2026-11-21T02:40:00Z"}},
    {"metadata": {"name": "demo-production-daily-3"}, "status": {"phase": "Failed", "completionTimestamp": "2026-11-22T02:40:00Z"}},
]}


def _iso(seconds_ago: float, millis: bool = False) -> str:
    t = datetime.fromtimestamp(time.time() - seconds_ago, tz=timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (".123Z" if millis else "Z")


def _psmdb_backups(restorable_ago: float) -> dict:
    return {"items": [
        {"metadata": {"name": "cron-old"}, "status": {"state": "ready", "completed": _iso(90000),
                                                     "destination": "s3://b/demo/production/mongodb/old"}},
        {"metadata": {"name": "cron-new"}, "status": {"state": "ready", "completed": _iso(9000),
                                                     "destination": "s3://b/demo/production/mongodb/2026-11-21T02:30:21Z",
                                                     "latestRestorableTime": _iso(restorable_ago)}},
    ]}


def _run(tmp_path: Path, backups: dict, *, wait_rc: int = 0, canary: bool = True, verify: dict | None = None,
         verify_pitr: dict | None = None, last_pitr: str = "", fail_job: str = "", pitr_state: str = "ready",
         restorable_ago: float = 600, **extra: str) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(FAKE_KUBECTL)
    (bin_dir / "sleep").write_text("#!/bin/sh\nexit 0\n")  # no waiting in tests
    for tool in ("kubectl", "sleep"):
        (bin_dir / tool).chmod(0o755)
    (tmp_path / "backups.json").write_text(json.dumps(backups))
    (tmp_path / "psmdb-backups.json").write_text(json.dumps(_psmdb_backups(restorable_ago)))
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    for mode in ("verify", "pbm-off"):
        (jobs / f"{mode}.json").write_text(json.dumps({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x"},
                                                       "spec": {"template": {"spec": {"containers": []}}}}))
    script = tmp_path / "drill.sh"
    script.write_text(DRILL_SCRIPT)
    verify = verify if verify is not None else {"event": "canary-verify", "mongoNewest": _iso(7200, True),
                                                "mongoCount": 42, "objectOk": True}
    verify_pitr = verify_pitr if verify_pitr is not None else {"event": "canary-verify", "mongoNewest": _iso(2400, True),
                                                               "mongoCount": 40, "objectOk": True}
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}", "LOG": str(tmp_path), "WAIT_RC": str(wait_rc),
        "SOURCE_NS": "demo-production", "DRILL_NS": "demo-production-drill", "VELERO_NS": "velero",
        "RESULT_CM": "restore-drill-demo-production", "SCHEDULE": "demo-production-daily",
        "TIMEOUT_SECONDS": "3600", "EXCLUDED_RESOURCES": json.dumps(DRILL_EXCLUDED),
        "MODIFIERS_CM": "restore-drill-demo-production-modifiers", "HOME": str(tmp_path),
        "MONGODB_IN_CLUSTER": "true", "COVERS": "MongoDB volumes", "NOT_COVERED": "secret values",
        "JOBS_DIR": str(jobs), "CANARY": "true" if canary else "false", "PITR_DAYS": "28",
        "MONGO_CLUSTER": "mongodb", "STORAGE_NAME": "platform",
        "VERIFY_OUT": json.dumps(verify), "VERIFY_PITR_OUT": json.dumps(verify_pitr),
        "LAST_PITR": last_pitr, "FAIL_JOB": fail_job or "none", "PITR_STATE": pitr_state,
        **extra,
    }
    return subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)


def _patch(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "patch.json").read_text())


def test_drill_restores_newest_completed_daily_and_records_rpo_and_rto(tmp_path):
    proc = _run(tmp_path, BACKUPS, last_pitr=_iso(86400))   # point-in-time restore not due
    assert proc.returncode == 0, proc.stderr
    (restore_file,) = [p for p in tmp_path.iterdir() if p.name.startswith("created-Restore-")]
    restore = json.loads(restore_file.read_text())
    jsonschema.validate(restore, crd_schemas()[("velero.io/v1", "Restore")])
    assert restore["spec"]["backupName"] == "demo-production-daily-2"     # newest *completed*
    assert restore["spec"]["namespaceMapping"] == {"demo-production": "demo-production-drill"}
    assert "httproutes.gateway.networking.k8s.io" in restore["spec"]["excludedResources"]
    assert restore["spec"]["resourceModifier"]["name"] == "restore-drill-demo-production-modifiers"
    # the canary pod ran as a Job in the copy, from the rendered template
    job = json.loads((tmp_path / "created-Job-restore-drill-verify.json").read_text())
    assert job["metadata"]["namespace"] == "demo-production-drill"
    patch = _patch(tmp_path)
    data, notes = patch["data"], patch["metadata"]["annotations"]
    assert data["lastResult"] == "passed" and data["lastBackup"] == "demo-production-daily-2"
    assert 7100 < int(data["lastRpoSeconds"]) < 7400          # the newest restored canary is ~2 h old
    assert 0 <= int(data["lastRtoSeconds"]) < 60
    assert data["lastObjectCanary"] == "true" and data["lastCanary"].endswith(".123Z")
    assert notes["lfh.io/drill-result"] == "passed" and notes["lfh.io/drill-rpo-seconds"] == data["lastRpoSeconds"]
    assert "lastPitrRun" not in data and "lfh.io/drill-pitr-result" not in notes
    assert not any(p.name.startswith("created-PerconaServerMongoDBRestore") for p in tmp_path.iterdir())
    log_line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert log_line["event"] == "restore-drill" and log_line["result"] == "passed" and log_line["rpoSeconds"] > 7000
    assert (tmp_path / "deleted").exists()


def test_drill_states_what_it_covers_and_skips_an_external_database(tmp_path):
    (tmp_path / "in").mkdir()
    covered = _run(tmp_path / "in", BACKUPS)
    assert covered.returncode == 0, covered.stderr
    assert "get perconaservermongodbs" in (tmp_path / "in" / "calls.log").read_text()
    (tmp_path / "ext").mkdir()
    # No canary with an external database (components/client/canary.py canary_enabled): nothing to read back.
    proc = _run(tmp_path / "ext", BACKUPS, canary=False, MONGODB_IN_CLUSTER="false",
                NOT_COVERED="MongoDB data: the external database (db.example.com) is backed up by its provider")
    assert proc.returncode == 0, proc.stderr
    # Nothing of an external database is in the backup, so the drill doesn't wait for one...
    assert "perconaservermongodbs" not in (tmp_path / "ext" / "calls.log").read_text()
    # ...and says so where its result is read.
    patch = json.loads((tmp_path / "ext" / "patch.json").read_text())["data"]
    assert patch["lastResult"] == "passed" and "external database" in patch["notCovered"]
    assert "not covered: MongoDB data" in patch["lastDetail"] and patch["covers"] == "MongoDB volumes"
def test_drill_restores_mongodb_to_a_point_in_time_when_due(tmp_path):
    proc = _run(tmp_path, BACKUPS, last_pitr="")          # never passed: due
    assert proc.returncode == 0, proc.stderr
    # slicing off in the copy first, then the agents, then the restore from the newest backup
    calls = (tmp_path / "calls.log").read_text()
    assert calls.index("get job restore-drill-pbm-off") < calls.index("patch perconaservermongodbs")
    restore = json.loads((tmp_path / "created-PerconaServerMongoDBRestore-restore-drill-pitr.json").read_text())
    assert restore["spec"]["backupSource"] == {"type": "logical",
                                               "destination": "s3://b/demo/production/mongodb/2026-11-21T02:30:21Z"}
    assert restore["spec"]["storageName"] == "platform" and restore["spec"]["pitr"]["type"] == "date"
    target = datetime.strptime(restore["spec"]["pitr"]["date"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    assert 600 < time.time() - target.timestamp() < 720     # latest restorable time (10 min ago) minus a minute
    data = _patch(tmp_path)["data"]
    assert data["lastPitrResult"] == "passed" and data["lastPitrPassed"] == data["lastPitrRun"]
    assert 1600 < int(data["lastPitrRpoSeconds"]) < 1800   # target - newest canary (40 min ago)


def test_point_in_time_restore_holding_newer_data_fails(tmp_path):
    proc = _run(tmp_path, BACKUPS, verify_pitr={"mongoNewest": _iso(60, True), "objectOk": True})
    assert proc.returncode != 0
    data = _patch(tmp_path)["data"]
    assert data["lastResult"] == "failed" and data["lastPitrResult"] == "failed"
    assert "written after it" in data["lastDetail"] and "lastPitrPassed" not in data


def test_failed_point_in_time_restore_fails_the_drill(tmp_path):
    proc = _run(tmp_path, BACKUPS, pitr_state="error")
    assert proc.returncode != 0
    assert "ended error" in _patch(tmp_path)["data"]["lastDetail"]


def test_drill_without_backup_fails_and_still_cleans_up(tmp_path):
    proc = _run(tmp_path, {"items": []})
    assert proc.returncode != 0
    patch = _patch(tmp_path)
    assert patch["data"]["lastResult"] == "failed" and "no completed backup" in patch["data"]["lastDetail"]
    assert patch["metadata"]["annotations"]["lfh.io/drill-result"] == "failed"
    assert not any(p.name.startswith("created-Restore") for p in tmp_path.iterdir())
    assert (tmp_path / "deleted").exists()


def test_drill_with_unready_pods_fails(tmp_path):
    proc = _run(tmp_path, BACKUPS, wait_rc=1)
    assert proc.returncode != 0
    assert _patch(tmp_path)["data"]["lastResult"] == "failed"


def test_drill_fails_when_the_copy_has_no_canary_or_its_object_is_gone(tmp_path):
    (tmp_path / "a").mkdir()
    proc = _run(tmp_path / "a", BACKUPS, verify={"event": "canary-verify", "mongoNewest": "", "objectOk": False})
    assert proc.returncode != 0
    assert "no canary document" in _patch(tmp_path / "a")["data"]["lastDetail"]
    (tmp_path / "b").mkdir()
    proc = _run(tmp_path / "b", BACKUPS, verify={"mongoNewest": _iso(3600, True), "objectOk": False}, last_pitr=_iso(60))
    assert proc.returncode != 0
    assert "not readable" in _patch(tmp_path / "b")["data"]["lastDetail"]
    (tmp_path / "c").mkdir()
    proc = _run(tmp_path / "c", BACKUPS, fail_job="restore-drill-verify")
    assert proc.returncode != 0 and "canary check failed" in _patch(tmp_path / "c")["data"]["lastDetail"]


def test_without_canary_the_drill_still_records_rto(tmp_path):
    proc = _run(tmp_path, BACKUPS, canary=False)
    assert proc.returncode == 0, proc.stderr
    data = _patch(tmp_path)["data"]
    assert data["lastRpoSeconds"] == "" and int(data["lastRtoSeconds"]) >= 0


def test_modifiers_are_valid_velero_rules():
    doc = yaml.safe_load(base_modifiers("restore-drill-acme-copy"))
    assert doc["version"] == "v1"
    # Apps and workers start at 0 replicas in the copy (a worker would otherwise act on restored data).
    scaled = {r["conditions"]["labelSelector"]["matchLabels"]["app.kubernetes.io/component"]
              for r in doc["resourceModifierRules"] if r["conditions"]["groupResource"] == "deployments.apps"}
    assert scaled == {"app", "worker"}
    patches = {}
    for rule in doc["resourceModifierRules"]:
        for patch in rule["patches"]:
            json.loads(patch["value"])          # Velero inserts the value as raw JSON
            assert patch["path"].startswith("/spec/") or patch["path"] == "/roleRef/name"
            patches[(rule["conditions"]["groupResource"], patch["path"])] = json.loads(patch["value"])
    assert patches[("perconaservermongodbs.psmdb.percona.com", "/spec/backup/enabled")] is False
    assert patches[("perconaservermongodbs.psmdb.percona.com", "/spec/backup/pitr")] == {"enabled": False}
    assert patches[("perconaservermongodbs.psmdb.percona.com", "/spec/backup/tasks")] == []
    assert patches[("rolebindings.rbac.authorization.k8s.io", "/roleRef/name")] == "restore-drill-acme-copy"
    binding_rule = next(r for r in doc["resourceModifierRules"] if "rolebindings" in r["conditions"]["groupResource"])
    assert binding_rule["conditions"]["resourceNameRegex"] == f"^{COPY_BINDING}$"


FAKE_RCLONE = r"""#!/bin/sh
echo "$*" >> "$LOG/rclone.log"
echo "endpoint=$RCLONE_CONFIG_CANARY_ENDPOINT user=$RCLONE_CONFIG_CANARY_ACCESS_KEY_ID" >> "$LOG/rclone.env"
case "$1" in
  rcat) cat > "$LOG/object.json" ;;
  cat) [ -f "$LOG/present" ] && echo '{}' || exit 1 ;;
esac
"""


def _canary(tmp_path: Path, mode: str, *, present: bool = True) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "rclone").write_text(FAKE_RCLONE)
    (bin_dir / "rclone").chmod(0o755)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    (work / "canary-ts").write_text("2026-11-21T02:05:00.000Z")
    (work / "canary-count").write_text("17")
    if present:
        (tmp_path / "present").write_text("")
    script = (tmp_path / "canary.sh")
    script.write_text(CANARY_SH.replace("/work/", f"{work}/"))
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "LOG": str(tmp_path), "MODE": mode, "BUCKET": "acme-files",
           "PREFIX": "lfh-canary", "POD_NAMESPACE": "acme-production-drill",
           "ENDPOINT_TEMPLATE": "http://minio.__NAMESPACE__.svc.cluster.local:9000", "MINIO_USER": "hapihub"}
    return subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=30)


def test_canary_writes_its_object_and_verifies_it(tmp_path):
    proc = _canary(tmp_path, "write")
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "rclone.log").read_text()
    assert "rcat canary:acme-files/lfh-canary/2026-11-21T02:05:00.000Z.json" in calls
    assert "delete --min-age 14d canary:acme-files/lfh-canary" in calls      # kept as long as the documents
    assert json.loads((tmp_path / "object.json").read_text())["at"] == "2026-11-21T02:05:00.000Z"
    # MinIO of the pod's own namespace (the copy's, in the drill), as the app's MinIO user
    assert "endpoint=http://minio.acme-production-drill.svc.cluster.local:9000 user=hapihub" in \
        (tmp_path / "rclone.env").read_text()
    out = _canary(tmp_path, "verify")
    line = json.loads(out.stdout.strip().splitlines()[-1])
    assert line == {"event": "canary-verify", "mongoNewest": "2026-11-21T02:05:00.000Z", "mongoCount": 17, "objectOk": True}
    (tmp_path / "present").unlink()
    line = json.loads(_canary(tmp_path, "verify", present=False).stdout.strip().splitlines()[-1])
    assert line["objectOk"] is False
