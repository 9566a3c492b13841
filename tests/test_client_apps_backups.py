"""Velero schedules and the restore drill."""
from __future__ import annotations

import jsonschema
import pytest

from client_apps_helpers import CLIENT_STACKS, by_kind, client, crd_schemas, plan_with

from components.client.backups import DRILL_SCRIPT


@pytest.mark.parametrize("stack", CLIENT_STACKS)
def test_three_schedules_with_their_ttls(plan_of, stack):
    plan = plan_of(stack)
    ns = plan.outputs["namespace"]
    schedules = {s["metadata"]["name"]: s for s in by_kind(plan, "Schedule")}
    assert set(schedules) == {f"{ns}-hourly", f"{ns}-daily", f"{ns}-weekly"}
    hourly, daily, weekly = (schedules[f"{ns}-{k}"]["spec"]["template"] for k in ("hourly", "daily", "weekly"))
    assert (hourly["ttl"], daily["ttl"], weekly["ttl"]) == ("72h0m0s", "720h0m0s", "2160h0m0s")
    if plan.platform.outputs["backups"]["volumeBackup"]["mode"] == "csi":
        assert hourly["snapshotVolumes"] is True and "snapshotMoveData" not in hourly
        assert daily["snapshotMoveData"] is True
    else:  # a cluster without CSI snapshots (platform-local): Velero's file-system backup, every tier
        for t in (hourly, daily, weekly):
            assert t["snapshotVolumes"] is False and t["defaultVolumesToFsBackup"] is True
    assert daily["storageLocation"] == "default"
    assert weekly["storageLocation"] == "archive"
    for s in schedules.values():
        assert s["metadata"]["namespace"] == "velero"
        assert s["spec"]["template"]["includedNamespaces"] == [ns]
        schema = crd_schemas()[("velero.io/v1", "Schedule")]
        jsonschema.validate(s, schema)


def test_restore_drill_cronjob(plan_of):
    plan = plan_of("demo-prod")
    ns = plan.outputs["namespace"]
    cron = {c["metadata"]["name"]: c for c in by_kind(plan, "CronJob")}[f"restore-drill-{ns}"]
    assert cron["metadata"]["namespace"] == "velero"
    spec = cron["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["SOURCE_NS"] == ns and env["DRILL_NS"] == f"{ns}-drill" and env["SCHEDULE"] == f"{ns}-daily"
    assert pod["containers"][0]["image"].startswith("registry.k8s.io/kubectl:v1.")
    # the script restores, checks pods + MongoDB, records, and always deletes the throwaway namespace
    for needle in ("namespaceMapping", "--for=condition=Ready", "perconaservermongodbs", "patch configmap",
                   "delete namespace", "trap record EXIT"):
        assert needle in DRILL_SCRIPT
    scripts = [c for c in by_kind(plan, "ConfigMap") if c["metadata"]["name"] == f"restore-drill-{ns}-script"]
    assert scripts[0]["data"]["drill.sh"] == DRILL_SCRIPT


def test_drill_rbac_is_minimal(plan_of):
    plan = plan_of("demo-prod")
    ns = plan.outputs["namespace"]
    cr = {c["metadata"]["name"]: c for c in by_kind(plan, "ClusterRole")}
    ns_rules = cr[f"restore-drill-{ns}"]["rules"]
    assert ns_rules == [{"apiGroups": [""], "resources": ["namespaces"], "resourceNames": [f"{ns}-drill"],
                         "verbs": ["get", "delete"]}]
    reader = cr[f"restore-drill-{ns}-reader"]["rules"]
    assert all(set(r["verbs"]) <= {"get", "list", "watch"} for r in reader)
    assert not any("secrets" in r["resources"] or "*" in r["resources"] for r in reader)
    role = next(r for r in by_kind(plan, "Role") if r["metadata"]["name"] == f"restore-drill-{ns}")
    assert not any("delete" in r["verbs"] for r in role["rules"])
    cms = [r for r in role["rules"] if r["resources"] == ["configmaps"]]
    assert cms[0]["resourceNames"] == [f"restore-drill-{ns}"]


def test_backups_off_removes_schedules_and_drill(tmp_path):
    plan_of = plan_with(tmp_path, {"nob-staging": client("nob", backups={"enabled": False})})
    plan = plan_of("nob-staging")
    assert by_kind(plan, "Schedule") == [] and by_kind(plan, "CronJob") == []


def test_drill_pod_is_isolated_by_its_own_policy(plan_of):
    plan = plan_of("demo-prod")
    ns = plan.outputs["namespace"]
    cron = next(c for c in by_kind(plan, "CronJob") if c["metadata"]["name"] == f"restore-drill-{ns}")
    pod_labels = cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    (policy,) = [p for p in by_kind(plan, "NetworkPolicy") if p["metadata"]["namespace"] == "velero"]
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"] and policy["spec"]["ingress"] == []
    ports = {(p["protocol"], p["port"]) for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert ports == {("UDP", 53), ("TCP", 53), ("TCP", 443), ("TCP", 6443)}
