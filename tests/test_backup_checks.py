"""Backups that hold the data: the example stacks' VolumeSnapshotClasses, snapshot controllers, keys and
identities, and the plan checks (backup-snapshots, backup-credentials, backup-retention) failing on
broken configurations."""
from __future__ import annotations

import copy
import dataclasses
from typing import Any, Callable, Optional

import pytest
import yaml

from client_apps_helpers import by_kind, client, plan_with
from lfh import STACKS_DIR
from lfh.plan import Engine, analyze
from lfh.plan import backups as checks
from lfh.plan.conformance import check_crd_schema
from lfh.plan.model import Plan, Resource

VSC = "kubernetes:snapshot.storage.k8s.io/v1:VolumeSnapshotClass"


def variant(plan: Plan, *, drop: Callable[[Resource], bool] = lambda r: False,
            change: Optional[Callable[[Resource], Optional[dict[str, Any]]]] = None,
            platform: Optional[Plan] = None, rerender: bool = False) -> Plan:
    """A copy of ``plan`` without the dropped resources and with ``change(r)``'s inputs where it returns some."""
    resources = []
    for r in plan.resources:
        if drop(r):
            continue
        inputs = change(copy.deepcopy(r.inputs)) if change else None
        resources.append(dataclasses.replace(r, inputs=inputs) if inputs is not None else r)
    out = dataclasses.replace(plan, resources=resources, findings=[], sections={},
                              platform=platform if platform is not None else plan.platform)
    if not rerender and "_rendered" in plan.__dict__:
        out.__dict__["_rendered"] = plan.__dict__["_rendered"]
    return out


def errors(findings, check: str) -> list[str]:
    return [f.message for f in findings if f.check == check and f.severity == "error"]


def kind_of(plan: Plan, kind: str) -> list[dict[str, Any]]:
    return [m for _, m in plan.manifests() if m.get("kind") == kind]


# ---------------------------------------------------------------- the example platforms


@pytest.mark.parametrize("stack,drivers,controller", [
    ("platform-aws", {"driver.longhorn.io", "ebs.csi.aws.com"}, "eks-addon"),
    ("platform-azure", {"driver.longhorn.io", "disk.csi.azure.com"}, "aks"),
    ("platform-gcp", {"driver.longhorn.io", "pd.csi.storage.gke.io"}, "gke"),
])
def test_one_velero_class_per_driver_and_the_snapshot_controller(plan_of, stack, drivers, controller):
    plan = plan_of(stack)
    classes = kind_of(plan, "VolumeSnapshotClass")
    assert {c["driver"] for c in classes} == drivers and len(classes) == len(drivers)
    for c in classes:
        assert c["metadata"]["labels"]["velero.io/csi-volumesnapshot-class"] == "true"
        assert c["deletionPolicy"] == "Delete"
    params = {c["driver"]: c["parameters"] for c in classes}
    assert params["driver.longhorn.io"] == {"type": "snap"}       # Velero moves the data itself
    backups = plan.outputs["backups"]["volumeBackup"]
    assert backups["mode"] == "csi" and backups["controller"] == controller
    if controller == "eks-addon":
        assert [a for a in plan.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == "snapshot-controller"]
    elif controller == "aks":
        (aks,) = plan.of_type("azure-native:containerservice:ManagedCluster")
        assert aks.inputs["storageProfile"]["snapshotController"] == {"enabled": True}
        assert params["disk.csi.azure.com"] == {"incremental": "true"}
    else:
        assert params["pd.csi.storage.gke.io"] == {"storage-locations": "us-central1"}
    assert not [f for f in plan.findings if f.check.startswith("backup-") and f.severity != "info"]


def test_missing_volume_snapshot_class_is_an_error(plan_of):
    broken = variant(plan_of("platform-aws"), drop=lambda r: r.type == VSC)
    found = errors(checks.check_snapshots(broken), "backup-snapshots")
    assert any("StorageClass gp3-encrypted (driver ebs.csi.aws.com)" in m for m in found)
    assert any("StorageClass longhorn-encrypted (driver driver.longhorn.io)" in m for m in found)
    assert all("velero.io/csi-volumesnapshot-class" in m for m in found)


def test_a_client_volume_on_a_driver_without_velero_class_is_an_error(plan_of):
    client_plan = plan_of("acme-prod")
    platform = variant(client_plan.platform, drop=lambda r: r.type == VSC and "longhorn" in r.name)
    found = errors(checks.check_snapshots(variant(client_plan, platform=platform)), "backup-snapshots")
    assert found and all("driver.longhorn.io" in m for m in found)
    assert any("StorageClass longhorn-encrypted" in m for m in found)


def test_two_velero_classes_for_one_driver_is_an_error(plan_of):
    plan = plan_of("platform-aws")
    (ebs,) = [r for r in plan.of_type(VSC) if r.inputs["driver"] == "ebs.csi.aws.com"]
    twin = dataclasses.replace(ebs, urn=ebs.urn + "-twin", inputs={**ebs.inputs, "metadata": {
        **ebs.inputs["metadata"], "name": "velero-ebs-2"}})
    broken = variant(plan)
    broken.resources.append(twin)
    assert any("2 Velero-labelled VolumeSnapshotClasses" in m for m in errors(checks.check_snapshots(broken), "backup-snapshots"))


def test_missing_snapshot_controller_is_an_error(plan_of):
    eks = variant(plan_of("platform-aws"), drop=lambda r: r.inputs.get("addonName") == "snapshot-controller")
    assert any("snapshot-controller" in m for m in errors(checks.check_snapshots(eks), "backup-snapshots"))

    def disable(inputs):
        if "storageProfile" in inputs:
            inputs["storageProfile"]["snapshotController"] = {"enabled": False}
            return inputs
        return None
    aks = variant(plan_of("platform-azure"), change=disable)
    assert any("AKS storage profile" in m for m in errors(checks.check_snapshots(aks), "backup-snapshots"))


def test_without_csi_snapshots_schedules_use_file_system_backup(plan_of):
    local = plan_of("platform-local")
    assert local.outputs["backups"]["volumeBackup"]["mode"] == "fs"
    assert not kind_of(local, "VolumeSnapshotClass")
    staging = plan_of("demo-staging")
    for s in kind_of(staging, "Schedule"):
        assert s["spec"]["template"]["defaultVolumesToFsBackup"] is True
    assert not errors(staging.findings, "backup-snapshots")

    def snapshot(inputs):
        if inputs.get("kind") == "Schedule" and inputs["metadata"]["name"].endswith("-daily"):
            inputs["spec"]["template"].update({"snapshotVolumes": True, "defaultVolumesToFsBackup": False})
            return inputs
        return None
    found = errors(checks.check_snapshots(variant(staging, change=snapshot)), "backup-snapshots")
    assert found == [m for m in found if "demo-staging-daily asks for volume snapshots" in m] and found

    def nothing(inputs):
        if inputs.get("kind") == "Schedule" and inputs["metadata"]["name"].endswith("-weekly"):
            inputs["spec"]["template"].update({"snapshotVolumes": False, "defaultVolumesToFsBackup": False})
            return inputs
        return None
    found = errors(checks.check_snapshots(variant(plan_of("demo-prod"), change=nothing)), "backup-snapshots")
    assert found and "demo-production-weekly backs up no volume data" in found[0]


# ---------------------------------------------------------------- credentials


def test_shared_key_off_with_a_key_based_tool_is_an_error(plan_of):
    plan = plan_of("platform-azure")
    (es,) = [m for m in kind_of(plan, "ExternalSecret") if m["metadata"]["name"] == "longhorn-backup-credentials"]
    account_name = es["metadata"]["annotations"]["lfh.io/backup-storage-account"]

    def keys_off(inputs):
        if inputs.get("accountName") == account_name:
            inputs["allowSharedKeyAccess"] = False
            return inputs
        return None
    found = errors(checks.check_credentials(variant(plan, change=keys_off)), "backup-credentials")
    assert len(found) == 1 and f"storage account {account_name}, which refuses shared-key access" in found[0]
    # … and pointing Longhorn at the main (Entra ID only) account is refused the same way
    (main,) = [r for r in plan.of_type("azure-native:storage:StorageAccount") if r.name.endswith("cluster-backups")]

    def to_main(inputs):
        if inputs.get("kind") == "ExternalSecret" and inputs["metadata"]["name"] == "longhorn-backup-credentials":
            inputs["metadata"]["annotations"]["lfh.io/backup-storage-account"] = main.inputs["accountName"]
            return inputs
        return None
    found = errors(checks.check_credentials(variant(variant(plan, change=to_main), drop=lambda r: r.name.endswith(
        "longhorn-backups"))), "backup-credentials")
    assert any(main.inputs["accountName"] in m and "refuses shared-key access" in m for m in found)


def _cloud_client(tmp_path, cloud: str) -> Plan:
    tmp_path.mkdir(parents=True, exist_ok=True)
    plan_of = plan_with(tmp_path, {f"k{cloud}-production": client(f"k{cloud}", "production",
                                                                  platformStack=f"organization/lfh/platform-{cloud}")},
                        platform=f"platform-{cloud}")
    return plan_of(f"k{cloud}-production")


def test_client_backups_on_azure_and_gcp_pass_and_break(tmp_path):
    azure = _cloud_client(tmp_path / "az", "azure")
    gcp = _cloud_client(tmp_path / "gcp", "gcp")
    for plan in (azure, gcp):
        assert not errors(plan.findings, "backup-credentials"), plan.stack
    keys_off = variant(azure, change=lambda i: {**i, "allowSharedKeyAccess": False} if "allowSharedKeyAccess" in i else None)
    assert any("MongoDB backups of kazure-production" in m and "refuses shared-key access" in m
               for m in errors(checks.check_credentials(keys_off), "backup-credentials"))
    no_hmac = variant(gcp, drop=lambda r: r.type == "gcp:storage/hmacKey:HmacKey")
    found = errors(checks.check_credentials(no_hmac), "backup-credentials")
    assert found and "missing HMAC key" in found[0] and "MongoDB backups of kgcp-production" in found[0]


def test_missing_hmac_key_is_an_error(plan_of):
    plan = plan_of("platform-gcp")
    (key,) = plan.of_type("gcp:storage/hmacKey:HmacKey")
    assert key.inputs["serviceAccountEmail"].startswith("lfh-gcp-longhorn@")   # Longhorn's prefix-scoped account
    found = errors(checks.check_credentials(variant(plan, drop=lambda r: r.type == "gcp:storage/hmacKey:HmacKey")),
                   "backup-credentials")
    assert len(found) == 1 and found[0].startswith("Longhorn writes to GCS with an HMAC key") and "missing HMAC key" in found[0]


def test_identity_must_reach_velero_node_agent_on_azure(plan_of):
    plan = plan_of("platform-azure")
    (agent,) = [m for _, m in [(None, o.obj) for o in checks._objects(plan)] if m.get("kind") == "DaemonSet"
                and m["metadata"]["name"] == "node-agent"]
    assert agent["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"

    def unlabel(inputs):
        if inputs.get("chart") == "velero":
            inputs["values"]["nodeAgent"]["podLabels"] = {}
            return inputs
        return None
    found = errors(checks.check_credentials(variant(plan, change=unlabel, rerender=True)), "backup-credentials")
    assert len(found) == 1 and "DaemonSet velero/node-agent uploads backups without the pod label" in found[0]


def test_velero_repository_password_comes_from_the_secret_store(plan_of):
    plan = plan_of("platform-aws")
    (es,) = [m for m in kind_of(plan, "ExternalSecret") if m["metadata"]["name"] == "velero-repo-credentials"]
    assert es["spec"]["data"] == [{"secretKey": "repository-password",
                                   "remoteRef": {"key": "aws/platform/velero-repo", "property": "password"}}]
    assert [r for r in plan.of_type("aws:secretsmanager/secret:Secret") if r.inputs["name"] == "aws/platform/velero-repo"]
    found = errors(checks.check_credentials(variant(plan, drop=lambda r: r.name.endswith("repository-password")
                                                    and r.type.startswith("kubernetes:"))), "backup-credentials")
    assert len(found) == 1 and "static-passw0rd" in found[0]


# ---------------------------------------------------------------- retention


def test_schedule_outliving_the_bucket_lifecycle_is_an_error(plan_of):
    def longer(inputs):
        if inputs.get("kind") == "Schedule" and inputs["metadata"]["name"].endswith("-daily"):
            inputs["spec"]["template"]["ttl"] = "1000h0m0s"
            return inputs
        return None
    for stack in ("acme-prod", "platform-gcp"):
        plan = plan_of(stack)
        assert not errors(plan.findings, "backup-retention")
        found = errors(checks.check_retention(variant(plan, change=longer)), "backup-retention")
        assert len(found) == 1 and "1000h0m0s" in found[0] and "after 30 days" in found[0], stack


# ---------------------------------------------------------------- the VolumeSnapshotClass schema


def test_volume_snapshot_class_schema_catches_broken_objects(plan_of):
    plan = plan_of("platform-aws")

    def breaks(inputs):
        if inputs.get("kind") == "VolumeSnapshotClass" and inputs["driver"] == "ebs.csi.aws.com":
            inputs["deletionPolicy"] = "Keep"
            inputs["parameters"] = {"tagSpecification_1": 1}
            del inputs["driver"]
            return inputs
        if inputs.get("kind") == "VolumeSnapshotClass":
            inputs["apiVersion"] = "snapshot.storage.k8s.io/v1beta1"
            return inputs
        return None
    found = [f.message for f in check_crd_schema(variant(plan, change=breaks)) if f.severity == "error"]
    assert any("velero-ebs" in m and "deletionPolicy" in m and "Keep" in m for m in found)
    assert any("velero-ebs" in m and "required field 'driver' is missing" in m for m in found)
    assert any("velero-ebs" in m and "parameters" in m for m in found)
    assert any("velero-longhorn" in m and "v1beta1 is not served" in m and "external-snapshotter v8.6.0" in m for m in found)
    assert not [f for f in check_crd_schema(plan) if "VolumeSnapshotClass" in f.message]


# ---------------------------------------------------------------- existing clusters


#: platform-local as an existing cluster with outside services (not self-contained): a Vault store and an
#: S3-compatible backup endpoint.
OUTSIDE = {"cluster": {"selfContained": False, "backupEndpoint": "https://s3.local.example.com",
                       "backupBucket": "lfh-local-backups"},
           "secrets": {"provider": {"vault": {
               "server": "https://vault.local.example.com", "path": "secret", "version": "v2",
               "auth": {"kubernetes": {"mountPath": "kubernetes", "role": "external-secrets",
                                       "serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets"}}}}}}}


def _existing(tmp_path, changes: dict) -> Engine:
    doc = yaml.safe_load((STACKS_DIR / "Pulumi.platform-local.yaml").read_text())
    platform = doc["config"]["lfh:platform"]
    platform["cluster"].update(OUTSIDE["cluster"])
    platform["secrets"] = dict(OUTSIDE["secrets"])
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(platform.get(key), dict):
            platform[key].update(value)
        else:
            platform[key] = value
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "Pulumi.platform-local.yaml").write_text(yaml.safe_dump(doc))
    (tmp_path / "Pulumi.demo-staging.yaml").write_text((STACKS_DIR / "Pulumi.demo-staging.yaml").read_text())
    return Engine(stacks_dir=tmp_path)


K8S_STORE = {"kubernetes": {"remoteNamespace": "lfh-platform-secrets", "server": {
    "caProvider": {"type": "ConfigMap", "name": "kube-root-ca.crt", "key": "ca.crt"}},
    "auth": {"serviceAccount": {"name": "external-secrets", "namespace": "external-secrets"}}}}


def test_existing_cluster_generates_stores_and_syncs_every_backup_key(tmp_path):
    """backupCredentials: generated with a Kubernetes-backed store (what an in-cluster object store
    provisions users from): Velero's and MongoDB's key pairs and Velero's repository password are
    generated, stored and synced; nothing is left for an operator to seed."""
    engine = _existing(tmp_path, {"cluster": {"backupCredentials": "generated"}, "secrets": {"provider": K8S_STORE}})
    platform = analyze(engine.plan("platform-local"))
    stored = {m["metadata"]["name"]: m for m in kind_of(platform, "Secret") if m["metadata"].get("namespace") == "lfh-platform-secrets"}
    assert {"local.platform.velero", "local.platform.velero-repo"} <= set(stored)
    (velero_es,) = [m for m in kind_of(platform, "ExternalSecret") if m["metadata"]["name"] == "velero-credentials"]
    assert {(d["remoteRef"]["key"], d["remoteRef"]["property"]) for d in velero_es["spec"]["data"]} == {
        ("local.platform.velero", "accessKeyId"), ("local.platform.velero", "secretAccessKey")}
    assert not [f for f in platform.findings if f.check == "backup-credentials"]
    assert not [f for f in platform.findings if "seed" in f.message or "operator provides" in f.message]
    staging = analyze(engine.plan("demo-staging"))
    users = [m for m in kind_of(staging, "Secret") if (m["metadata"].get("labels") or {}).get("lfh.io/backup-user") == "true"]
    assert sorted(m["metadata"]["name"] for m in users) == ["mongodb-backup-aws-access-key-id",
                                                             "mongodb-backup-aws-secret-access-key"]
    assert all(m["metadata"]["annotations"]["lfh.io/backup-prefix"] == "demo/staging/mongodb/" for m in users)
    assert not errors(staging.findings, "backup-credentials")


def test_existing_cluster_with_longhorn_and_snapshot_controller_takes_csi_snapshots(tmp_path):
    csi = analyze(_existing(tmp_path / "csi", {"cluster": {"snapshotController": True},
                                               "storage": {"useClusterStorageClass": False}}).plan("platform-local"))
    assert csi.outputs["backups"]["volumeBackup"]["mode"] == "csi"
    assert [c["driver"] for c in kind_of(csi, "VolumeSnapshotClass")] == ["driver.longhorn.io"]
    (warning,) = [f for f in csi.findings if f.check == "backup-snapshots"]
    assert warning.severity == "warning" and "external-snapshotter" in warning.message   # a precondition
    fs = analyze(_existing(tmp_path / "fs", {"storage": {"useClusterStorageClass": False}}).plan("platform-local"))
    assert fs.outputs["backups"]["volumeBackup"]["mode"] == "fs" and not kind_of(fs, "VolumeSnapshotClass")


# ---------------------------------------------------------------- alerts


def test_backup_alerts_and_the_dead_mans_switch(tmp_path):
    doc = yaml.safe_load((STACKS_DIR / "Pulumi.platform-aws.yaml").read_text())
    doc["config"]["lfh:platform"]["monitoring"]["receivers"].append(
        {"name": "deadman", "kind": "heartbeat", "url": {"secure": "v1:placeholder-heartbeat"}})
    (tmp_path / "Pulumi.platform-aws.yaml").write_text(yaml.safe_dump(doc))
    plan = analyze(Engine(stacks_dir=tmp_path).plan("platform-aws"))
    assert not plan.errors
    (values,) = [h["values"] for _, h in plan.helm_releases() if h["chart"] == "kube-prometheus-stack"]
    config = values["alertmanager"]["config"]
    routes = config["route"]["routes"]
    assert routes[0]["receiver"] == "deadman" and routes[0]["matchers"] == ['alertname = "Watchdog"']
    assert routes[1] == {"receiver": "null", "matchers": ['alertname = "Watchdog"']}  # nobody else gets it
    (deadman,) = [r for r in config["receivers"] if r["name"] == "deadman"]
    assert deadman["webhook_configs"][0]["url_file"].endswith("/deadman")       # the URL stays a secret
    rules = {r["alert"]: r for g in by_kind(plan, "PrometheusRule")[0]["spec"]["groups"] for r in g["rules"]}
    for alert in ("VeleroBackupMissingHourly", "VeleroBackupMissingDaily", "VeleroBackupMissingWeekly",
                  "VeleroBackupNotCompleted", "VeleroBackupPartiallyFailed", "LonghornBackupFailed",
                  "PerconaBackupFailed", "PerconaBackupTooOld", "PerconaPitrLagging", "RestoreDrillFailed",
                  "RestoreDrillMissing"):
        assert rules[alert]["labels"]["severity"] == "critical", alert   # reaches the critical receivers too
    assert "> 15 * 60" in rules["PerconaPitrLagging"]["expr"] and "8 * 86400" in rules["RestoreDrillMissing"]["expr"]
    ksm = values["kube-state-metrics"]
    assert ksm["metricAnnotationsAllowList"] == [
        "configmaps=[lfh.io/drill-result,lfh.io/drill-rpo-seconds,lfh.io/drill-rto-seconds,lfh.io/drill-pitr-result]"]
    assert ksm["customResourceState"]["config"]["spec"]["resources"][0]["metricNamePrefix"] == "lfh_psmdb_backup"
