"""MongoDB metrics and alerts: a pinned percona/mongodb_exporter sidecar on every replica-set member, a
PodMonitor the platform's Prometheus picks up, and the data-layer alert rules (replica-set health,
replication lag, connections, disk) that Alertmanager routes to the platform's receivers.

The Percona operator's own monitoring (`pmm`) needs a PMM server, which the platform does not run; the
exporter is the same one PMM's client runs, added through the CR's `replsets[].sidecars` (operator 1.22
appends them to the replset StatefulSet's pods). It reads the local `mongod` as the operator's
`clusterMonitor` system user (clusterMonitor + read on `local`: the exporter's README "Permissions").
"""
from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..k8s import child_opts, labels, meta
from .contract import ClientContext

EXPORTER_PORT = 9216
METRICS_PORT_NAME = "mongodb-metrics"
MON_API = "monitoring.coreos.com/v1"


def exporter_sidecar(image: str, users_secret: str, *, tls: bool) -> dict[str, Any]:
    """The exporter container (restricted, read-only root, small requests) for `replsets[].sidecars`."""
    # Compatible mode adds the v1 names the alert rules use (exporter/v1_compatibility.go:
    # mongodb_mongod_replset_my_state, …_member_replication_lag, mongodb_connections{state}).
    uri = "mongodb://localhost:27017/admin?directConnection=true"
    mounts: list[dict[str, Any]] = []
    if tls:
        # The operator mounts its TLS Secret as the pod volume `ssl`; its certificates name localhost.
        uri += "&tls=true&tlsCAFile=/etc/mongodb-ssl/ca.crt"
        mounts.append({"name": "ssl", "mountPath": "/etc/mongodb-ssl", "readOnly": True})
    env = [{"name": var, "valueFrom": {"secretKeyRef": {"name": users_secret, "key": f"MONGODB_CLUSTER_MONITOR_{part}"}}}
           for var, part in (("MONGODB_USER", "USER"), ("MONGODB_PASSWORD", "PASSWORD"))]
    probe = {"httpGet": {"path": "/", "port": EXPORTER_PORT}, "periodSeconds": 30, "timeoutSeconds": 5}
    return {
        "name": "mongodb-exporter",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        # Credentials from MONGODB_USER/MONGODB_PASSWORD, never on the command line (README "MongoDB Authentication").
        "args": [f"--mongodb.uri={uri}", "--compatible-mode", "--collector.diagnosticdata",
                 "--collector.replicasetstatus", f"--web.listen-address=:{EXPORTER_PORT}", "--log.level=warn"],
        "env": env,
        "ports": [{"name": METRICS_PORT_NAME, "containerPort": EXPORTER_PORT, "protocol": "TCP"}],
        "livenessProbe": {**probe, "initialDelaySeconds": 30},
        "readinessProbe": {**probe, "initialDelaySeconds": 5},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        **({"volumeMounts": mounts} if mounts else {}),
    }


def alert_rules(namespace: str, *, members: int, lag_seconds: int, connections_percent: int,
                disk_percent: int, pvc_prefix: str) -> list[dict[str, Any]]:
    """The MongoDB alert rules of one client namespace (every expression is scoped to it)."""
    ns = f'namespace="{namespace}"'
    state = f"mongodb_mongod_replset_my_state{{{ns}}}"
    volume = f'{ns}, persistentvolumeclaim=~"{pvc_prefix}.*"'

    def rule(alert: str, expr: str, for_: str, severity: str, summary: str) -> dict[str, Any]:
        return {"alert": alert, "expr": expr, "for": for_, "labels": {"severity": severity, "namespace": namespace},
                "annotations": {"summary": summary}}

    return [
        rule("MongoDBDown", f"mongodb_up{{{ns}}} == 0", "2m", "critical",
             "The exporter on {{ $labels.pod }} cannot reach its mongod."),
        rule("MongoDBMetricsMissing", f'absent(mongodb_up{{{ns}}})', "10m", "warning",
             f"No MongoDB metrics from {namespace}: the exporter sidecars are not scraped."),
        # One member reports PRIMARY (state 1) in a healthy replica set.
        rule("MongoDBReplicaSetNoPrimary", f"sum({state} == bool 1) < 1", "1m", "critical",
             f"The replica set in {namespace} has no primary: writes fail."),
        # Any state but PRIMARY (1), SECONDARY (2), ARBITER (7): STARTUP, RECOVERING, DOWN, ROLLBACK, REMOVED …
        rule("MongoDBMemberUnhealthy", f"{state} != 1 and {state} != 2 and {state} != 7", "5m", "warning",
             "Member {{ $labels.pod }} is in replica-set state {{ $value }} (not PRIMARY or SECONDARY)."),
        rule("MongoDBReplicaSetDegraded", f"count({state} == 1 or {state} == 2) < {members}", "10m", "warning",
             f"Fewer than {members} healthy members in the replica set of {namespace}."),
        rule("MongoDBReplicationLag",
             f"max by (name) (mongodb_mongod_replset_member_replication_lag{{{ns}}}) > {lag_seconds}", "5m", "warning",
             "Member {{ $labels.name }} is {{ $value }} s behind the primary."),
        rule("MongoDBConnectionsHigh",
             f'sum by (pod) (mongodb_connections{{{ns}, state="current"}}) / '
             f'sum by (pod) (mongodb_connections{{{ns}, state=~"current|available"}}) > {connections_percent / 100}',
             "10m", "warning", "{{ $labels.pod }} uses more than " + str(connections_percent) + "% of its connections."),
        rule("MongoDBDiskAlmostFull",
             f"kubelet_volume_stats_used_bytes{{{volume}}} / kubelet_volume_stats_capacity_bytes{{{volume}}} > {disk_percent / 100}",
             "5m", "critical", "Data volume {{ $labels.persistentvolumeclaim }} is more than " + str(disk_percent) + "% full."),
        rule("MongoDBDiskFullIn24h",
             f"predict_linear(kubelet_volume_stats_available_bytes{{{volume}}}[6h], 24 * 3600) < 0", "30m", "warning",
             "Data volume {{ $labels.persistentvolumeclaim }} fills up within a day at the current rate."),
    ]


class MongoDBMonitoring(pulumi.ComponentResource):
    """PodMonitor for the exporter sidecars and the MongoDB PrometheusRule of one client namespace."""

    def __init__(self, name: str, ctx: ClientContext, *, pod_labels: dict[str, str], pvc_prefix: str,
                 depends_on: list[pulumi.Resource], opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:client:MongoDBMonitoring", name, None, opts)
        cfg = ctx.config.mongodb
        mon = ctx.platform.monitoring or {}
        ns = ctx.namespace
        lbl = {**labels("mongodb", client=ctx.config.name, environment=ctx.environment, component="mongodb"),
               **(mon.get("serviceMonitorLabels") or {})}
        kopts = child_opts(self, ctx.provider, depends_on=[ctx.namespace_resource, *depends_on])
        self.pod_monitor = k8s.apiextensions.CustomResource(
            f"{name}-podmonitor", api_version=MON_API, kind="PodMonitor",
            metadata=meta("mongodb", ns, labels=lbl),
            spec={"selector": {"matchLabels": dict(pod_labels)}, "namespaceSelector": {"matchNames": [ns]},
                  "podMetricsEndpoints": [{"port": METRICS_PORT_NAME, "path": "/metrics", "interval": "30s"}]},
            opts=kopts)
        rules = alert_rules(ns, members=cfg.members, lag_seconds=cfg.replication_lag_alert_seconds,
                            connections_percent=cfg.connections_alert_percent, disk_percent=cfg.disk_alert_percent,
                            pvc_prefix=pvc_prefix)
        self.rules = k8s.apiextensions.CustomResource(
            f"{name}-rules", api_version=MON_API, kind="PrometheusRule",
            metadata=meta("mongodb-alerts", ns, labels=lbl),
            spec={"groups": [{"name": f"lfh-mongodb-{ns}", "rules": rules}]},
            opts=kopts)
        self.register_outputs({"rules": [r["alert"] for r in rules]})
