"""Alerts that page someone when backups stop holding data, and the metrics they need.

Sources (each metric from the version we pin):
- Velero v1.18.1 pkg/metrics/metrics.go: `velero_backup_last_status{schedule}` is 1 after a Completed
  backup and 0 after Failed *or PartiallyFailed* (pkg/controller/backup_finalizer_controller.go),
  `velero_backup_last_successful_timestamp{schedule}`, `velero_backup_partial_failure_total`,
  `velero_backup_failure_total`, `velero_backup_location_status_gauge` (1 available, 0 unavailable).
- Longhorn v1.12.1 metrics_collector/backup_collector.go: `longhorn_backup_state` (3 Completed, 4 Error,
  5 Unknown).
- Percona operator v1.22.0: no metrics of its own; it records each PerconaServerMongoDBBackup's
  `status.state` (waiting, requested, running, error, ready), `status.completed` and, for the newest
  backup, `status.latestRestorableTime` = the end of the PITR oplog timeline
  (pkg/controller/perconaservermongodb/backup.go updateLatestRestorableTime). kube-state-metrics turns
  them into metrics (custom resource state; RFC3339 strings become Unix times: kube-state-metrics
  docs/metrics/extend/customresourcestate-metrics.md, "Type conversion").
- The restore drill writes its result into annotations of its ConfigMap, which kube-state-metrics
  exports as `kube_configmap_annotations` once allow-listed; its CronJobs give
  `kube_cronjob_status_last_successful_time` / `kube_cronjob_created`.
"""
from __future__ import annotations

from typing import Any

#: How late each Velero tier may be (its interval plus slack), by the schedule-name suffix
#: (clients: `<namespace>-hourly|daily|weekly`, platform: `platform-daily|weekly`).
TIER_LIMITS = {"hourly": "2 * 3600", "daily": "26 * 3600", "weekly": "8 * 86400"}
#: The drill's result annotations (components/client/backups.py writes them).
DRILL_ANNOTATIONS = ["lfh.io/drill-result", "lfh.io/drill-rpo-seconds", "lfh.io/drill-rto-seconds",
                     "lfh.io/drill-pitr-result"]
PSMDB_METRICS = "lfh_psmdb_backup"

#: (alert, expr, for, severity, summary)
RULES: list[tuple[str, str, str, str, str]] = [
    *[(f"VeleroBackupMissing{tier.capitalize()}",
       f'time() - max by (schedule) (velero_backup_last_successful_timestamp{{schedule=~".*-{tier}"}}) > {limit}',
       "15m", "critical", f"Velero schedule {{{{ $labels.schedule }}}} has no successful {tier} backup within its interval.")
      for tier, limit in TIER_LIMITS.items()],
    ("VeleroBackupNotCompleted", 'velero_backup_last_status{schedule!=""} == 0', "0m", "critical",
     "The last backup of Velero schedule {{ $labels.schedule }} did not complete (Failed or PartiallyFailed): "
     "`velero backup describe --details` on it."),
    ("VeleroBackupPartiallyFailed", 'increase(velero_backup_partial_failure_total{schedule!=""}[2h]) > 0', "0m", "critical",
     "A backup of Velero schedule {{ $labels.schedule }} ended PartiallyFailed: some items or volumes are not in it."),
    ("VeleroBackupLocationUnavailable", "velero_backup_location_status_gauge == 0", "15m", "critical",
     "Velero cannot reach backup location {{ $labels.backup_location_name }}."),
    ("LonghornBackupFailed", "longhorn_backup_state >= 4", "10m", "critical",
     "Longhorn backup {{ $labels.backup }} of volume {{ $labels.volume }} is in state Error or Unknown."),
    ("PerconaBackupFailed", f'{PSMDB_METRICS}_state{{state="error"}} == 1', "0m", "critical",
     "MongoDB backup {{ $labels.namespace }}/{{ $labels.name }} failed."),
    ("PerconaBackupTooOld", f"time() - max by (namespace) ({PSMDB_METRICS}_completed_time) > 26 * 3600", "30m", "critical",
     "MongoDB in {{ $labels.namespace }} has no completed backup for more than 26 hours."),
    ("PerconaPitrLagging", f"time() - max by (namespace) ({PSMDB_METRICS}_latest_restorable_time) > 15 * 60", "5m",
     "critical", "MongoDB point-in-time recovery in {{ $labels.namespace }} is more than 15 minutes behind: oplog "
                 "chunks are not reaching the bucket."),
    ("RestoreDrillFailed", 'kube_configmap_annotations{namespace="velero", annotation_lfh_io_drill_result="failed"} == 1',
     "0m", "critical", "The last restore drill recorded in {{ $labels.configmap }} failed: read its lastDetail "
                       "(docs/backup-restore.md, \"Reading the drill results\")."),
    ("RestoreDrillMissing",
     '(time() - max by (namespace, cronjob) (kube_cronjob_status_last_successful_time{namespace="velero", cronjob=~"restore-drill-.*"}) > 8 * 86400)'
     ' or ((time() - max by (namespace, cronjob) (kube_cronjob_created{namespace="velero", cronjob=~"restore-drill-.*"}) > 8 * 86400)'
     ' unless on (namespace, cronjob) kube_cronjob_status_last_successful_time{namespace="velero", cronjob=~"restore-drill-.*"})',
     "1h", "critical", "Restore drill {{ $labels.cronjob }} has not passed in 8 days."),
    ("BackupCanaryStale",
     'time() - max by (namespace) (kube_cronjob_status_last_successful_time{cronjob="backup-canary"}) > 3 * 3600',
     "15m", "warning", "The backup canary in {{ $labels.namespace }} has not written for 3 hours: the drill's RPO "
                       "measurement is blind."),
]


def rule_group() -> dict[str, Any]:
    """The `lfh-backups` PrometheusRule group."""
    return {"name": "lfh-backups", "rules": [
        {"alert": a, "expr": e, "for": f, "labels": {"severity": s}, "annotations": {"summary": m}}
        for a, e, f, s, m in RULES]}


def kube_state_metrics_values() -> dict[str, Any]:
    """kube-state-metrics subchart values: the drill's annotations and Percona backup status as metrics."""
    return {
        "metricAnnotationsAllowList": [f"configmaps=[{','.join(DRILL_ANNOTATIONS)}]"],
        "customResourceState": {"enabled": True, "config": {
            "kind": "CustomResourceStateMetrics",
            "spec": {"resources": [{
                "groupVersionKind": {"group": "psmdb.percona.com", "version": "v1", "kind": "PerconaServerMongoDBBackup"},
                "metricNamePrefix": PSMDB_METRICS,
                "labelsFromPath": {"namespace": ["metadata", "namespace"], "name": ["metadata", "name"]},
                "metrics": [
                    {"name": "state", "help": "State of a Percona MongoDB backup.",
                     "each": {"type": "StateSet", "stateSet": {
                         "labelName": "state", "path": ["status", "state"],
                         "list": ["waiting", "requested", "running", "error", "ready"]}}},
                    {"name": "completed_time", "help": "When a Percona MongoDB backup completed (Unix time).",
                     "each": {"type": "Gauge", "gauge": {"path": ["status", "completed"]}}},
                    {"name": "latest_restorable_time",
                     "help": "End of the point-in-time recovery timeline recorded on the newest backup (Unix time).",
                     "each": {"type": "Gauge", "gauge": {"path": ["status", "latestRestorableTime"]}}},
                ],
            }]},
        }},
        # Custom resource state needs list/watch on the kind (chart: "Add permissions … to rbac.extraRules").
        "rbac": {"extraRules": [{"apiGroups": ["psmdb.percona.com"], "resources": ["perconaservermongodbbackups"],
                                 "verbs": ["list", "watch"]}]},
    }
