"""Audit trail, secret rotation and data-layer monitoring (issue 15, operations side).

- `k8s-gateway-access-log`: the shared gateway's proxies write an access log with route, status and
  duration, and never the query string (Envoy Gateway's default format logs the full `:path`).
- `stack-generated-secrets-rotate`: every generated client password is kept by a rotation schedule.
- `stack-mongodb-monitored`: a monitored stack's MongoDB has its exporter, PodMonitor and alert rules.
- `aws-/azure-/gcp-workload-logs-retained`: container logs reach the cloud's log store, kept ≥ a year.
"""
from __future__ import annotations

import re
from typing import Any

from .common import (
    HIGH,
    MEDIUM,
    config_value,
    get,
    is_map,
    name_of,
    namespace_of,
    number,
    resource_policy,
    seq,
    stack_policy,
    truthy,
)
from .links import depends_on, linked, of_types

ENVOY_PROXY = "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy"

# ----------------------------------------------------------------------------- gateway access log

#: Envoy command operators that log the request path *with* its query string, or other request parts that
#: may carry PHI (the Referer repeats another page's full URL).
_QUERY_OPERATORS = re.compile(r"%(REQ|RESP|TRAILER)\((?![^)]*WITHOUT_QUERY)[^)]*(:?PATH|REFERER)[^)]*\)%", re.IGNORECASE)
_PATH_WITH_QUERY = re.compile(r"%REQ\([^)]*PATH[^)]*\)%", re.IGNORECASE)
#: What an access-log line must name: the response status, the duration and the route (its client).
_REQUIRED_OPERATORS = {"status": ("%RESPONSE_CODE%",), "duration": ("%DURATION%",),
                       "route": ("%ROUTE_NAME%", "%METADATA(ROUTE:envoy-gateway:resources)%")}


def _formats(setting: Any) -> list[str]:
    fmt = get(setting, "format", default={})
    out = [str(v) for v in (get(fmt, "json", default={}) or {}).values()] if is_map(get(fmt, "json")) else []
    if get(fmt, "text"):
        out.append(str(get(fmt, "text")))
    return out


@resource_policy(
    "k8s-gateway-access-log",
    "Envoy proxies write an access log (route, status, duration) that never contains query strings.",
    domain="kubernetes", types={ENVOY_PROXY}, severity=HIGH, safeguard="164.312(b)",
    remediation="Set spec.telemetry.accessLog.settings[].format with %ROUTE_NAME%, %RESPONSE_CODE%, %DURATION% and the path "
                "as %REQ_WITHOUT_QUERY(X-ENVOY-ORIGINAL-PATH?:PATH)% (components/platform/gateway.py ACCESS_LOG_FIELDS).",
)
def gateway_access_log(args, report):
    where = f"EnvoyProxy {namespace_of(args.props)}/{name_of(args.props, args.name)}"
    log = get(args.props, "spec", "telemetry", "accessLog", default={})
    settings = seq(get(log, "settings"))
    if truthy(get(log, "disable")):
        report(f"{where}: the access log is disabled")
        return
    if not settings:
        report(f"{where}: no access-log settings: Envoy Gateway's default format logs the full path with its query string")
        return
    for i, setting in enumerate(settings):
        formats = _formats(setting)
        text = " ".join(formats)
        if not formats:
            report(f"{where}: accessLog.settings[{i}] has no format (the default logs query strings)")
            continue
        leaks = sorted({m.group(0) for m in _QUERY_OPERATORS.finditer(text)} |
                       {m.group(0) for m in _PATH_WITH_QUERY.finditer(text) if "WITHOUT_QUERY" not in m.group(0).upper()})
        if leaks:
            report(f"{where}: accessLog.settings[{i}] logs {leaks}, which carry the query string or Referer (may hold PHI)")
        missing = [what for what, ops in _REQUIRED_OPERATORS.items() if not any(op in text for op in ops)]
        if missing:
            report(f"{where}: accessLog.settings[{i}] does not log the {', '.join(missing)}")


# ----------------------------------------------------------------------------- secret rotation

RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
ROTATING = "time:index/rotating:Rotating"
#: components/client/secrets.py NOT_ROTATED (a test keeps them equal): generated keys that never rotate.
NOT_ROTATED_KEYS = ("mongodb-encryption-key", "minio-root-password", "typesense-api-key", "mongodb-backup-password",
                    "mongodb-databaseadmin-password", "mongodb-clusteradmin-password", "mongodb-clustermonitor-password",
                    "mongodb-useradmin-password")
ROTATION_CONFIG = {"maxRotationDays": {"type": "integer", "default": 90, "minimum": 1,
                                       "description": "Longest rotation period a generated secret may have."}}


def _rotation_days(r: Any) -> float | None:
    """A Rotating's period in days (rotationDays/Months/Years; hours and minutes count in fractions)."""
    p = r.props
    parts = [(get(p, "rotationYears"), 365), (get(p, "rotationMonths"), 31), (get(p, "rotationDays"), 1),
             (get(p, "rotationHours"), 1 / 24), (get(p, "rotationMinutes"), 1 / 1440)]
    total = sum((number(v) or 0) * f for v, f in parts)
    return total or None


@stack_policy(
    "stack-generated-secrets-rotate",
    "Generated client passwords (database users, JWT secret, object-store keys) are kept by a rotation schedule of at "
    "most the configured days (default 90).",
    domain="stack", severity=HIGH, safeguard="164.308(a)(5)(ii)(D)", config=ROTATION_CONFIG,
    remediation="Give the RandomPassword `keepers` from a time.Rotating (components/client/secrets.py) with rotationDays ≤ maxRotationDays.",
)
def generated_secrets_rotate(args, report):
    limit = number(config_value(args, ROTATION_CONFIG, "maxRotationDays")) or 90
    rotations = of_types(args.resources, {ROTATING})
    for pw in of_types(args.resources, {RANDOM_PASSWORD}):
        if "lfh:client:ClientSecrets" not in pw.urn or pw.name.endswith(NOT_ROTATED_KEYS):
            continue
        keepers = get(pw.props, "keepers", default={})
        keeper = [r for r in rotations if depends_on(pw, r, "keepers")
                  or (is_map(keepers) and get(r.props, "rfc3339") in {str(v) for v in keepers.values()})]
        if not keeper:
            report(f"generated secret {pw.name} has no rotation: its keepers come from no time.Rotating", pw.urn)
            continue
        days = _rotation_days(keeper[0])
        if days is None or days > limit:
            every = f"every {days:g} days" if days else "never"
            report(f"generated secret {pw.name} rotates {every}, more than {int(limit)} days apart", pw.urn)


# ----------------------------------------------------------------------------- MongoDB monitoring

PSMDB = "kubernetes:psmdb.percona.com/v1:PerconaServerMongoDB"
MONITORS = {"kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "kubernetes:monitoring.coreos.com/v1:PodMonitor"}
POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
#: What the MongoDB rules must watch: replica-set health, replication lag, connections, disk.
MONGODB_SIGNALS = {"replica-set health": "mongodb_mongod_replset_my_state", "replication lag": "replication_lag",
                   "connections": "mongodb_connections", "disk": "kubelet_volume_stats"}


@stack_policy(
    "stack-mongodb-monitored",
    "In a monitored stack, every MongoDB replica set runs the metrics exporter, is scraped, and has alert rules for "
    "replica-set health, replication lag, connections and disk.",
    domain="stack", severity=MEDIUM, safeguard="164.308(a)(1)(ii)(D)",
    remediation="Turn platform monitoring on for the client (components/client/mongodb_monitoring.py adds the exporter "
                "sidecar, its PodMonitor and the mongodb-alerts PrometheusRule).",
)
def mongodb_monitored(args, report):
    if not of_types(args.resources, MONITORS):
        return  # no monitoring in this stack (the platform runs none): nothing to scrape into
    for db in of_types(args.resources, {PSMDB}):
        ns = namespace_of(db.props)
        where = f"PerconaServerMongoDB {ns}/{name_of(db.props, db.name)}"
        for rs in seq(get(db.props, "spec", "replsets")):
            if not any("mongodb_exporter" in str(get(c, "image", default="")) for c in seq(get(rs, "sidecars"))):
                report(f"{where}: replset {get(rs, 'name')} has no mongodb_exporter sidecar", db.urn)
        if not [m for m in of_types(args.resources, {POD_MONITOR}) if namespace_of(m.props) == ns]:
            report(f"{where}: no PodMonitor in {ns} scrapes the replica set", db.urn)
        exprs = " ".join(str(get(r, "expr", default="")) for rule in of_types(args.resources, {RULE})
                         if namespace_of(rule.props) == ns
                         for g in seq(get(rule.props, "spec", "groups")) for r in seq(get(g, "rules")) if get(r, "alert"))
        missing = [what for what, metric in MONGODB_SIGNALS.items() if metric not in exprs]
        if missing:
            report(f"{where}: no alert rule in {ns} watches {', '.join(missing)}", db.urn)


# ----------------------------------------------------------------------------- workload logs per cloud

LOGS_CONFIG = {"minRetentionDays": {"type": "integer", "default": 365, "minimum": 1,
                                    "description": "Minimum days container and gateway access logs are kept."}}


def _min_days(args: Any) -> float:
    return number(config_value(args, LOGS_CONFIG, "minRetentionDays")) or 365


@stack_policy(
    "aws-workload-logs-retained",
    "Each EKS cluster ships container logs with the CloudWatch Observability add-on into a pre-created application log "
    "group kept at least the configured days (default 365).",
    domain="aws", severity=HIGH, safeguard="164.312(b)", config=LOGS_CONFIG,
    remediation="Add the `amazon-cloudwatch-observability` aws.eks.Addon and create /aws/containerinsights/<cluster>/application "
                "with retention_in_days ≥ minRetentionDays and the platform CMK (components/cluster/aws.py _workload_logs).",
)
def aws_workload_logs(args, report):
    groups = of_types(args.resources, {"aws:cloudwatch/logGroup:LogGroup"})
    addons = of_types(args.resources, {"aws:eks/addon:Addon"})
    for c in of_types(args.resources, {"aws:eks/cluster:Cluster"}):
        name = get(c.props, "name")
        if not any(get(a.props, "addonName") == "amazon-cloudwatch-observability" and linked(a, c, "clusterName", [name, c.name])
                   for a in addons):
            report(f"EKS cluster {name or c.name}: no amazon-cloudwatch-observability add-on ships container logs", c.urn)
        wanted = f"/aws/containerinsights/{name}/application"
        group = [g for g in groups if get(g.props, "name") == wanted]
        if not group:
            report(f"EKS cluster {name or c.name}: no log group {wanted} (the add-on would create one that never expires)", c.urn)
        elif (number(get(group[0].props, "retentionInDays")) or 0) < _min_days(args):
            report(f"log group {wanted} keeps container logs {get(group[0].props, 'retentionInDays')} days, < {int(_min_days(args))}",
                   group[0].urn)


@stack_policy(
    "azure-workload-logs-retained",
    "Each AKS cluster runs Container Insights (monitoring agent, data collection rule association) and its ContainerLogV2 "
    "table keeps logs at least the configured days (default 365).",
    domain="azure", severity=HIGH, safeguard="164.312(b)", config=LOGS_CONFIG,
    remediation="Enable addonProfiles.omsagent with the workspace, associate the Container Insights DCR with the cluster and set "
                "the ContainerLogV2 table's totalRetentionInDays (components/cluster/azure.py _workload_logs).",
)
def azure_workload_logs(args, report):
    tables = [t for t in of_types(args.resources, {"azure-native:operationalinsights:Table"})
              if get(t.props, "tableName") == "ContainerLogV2"]
    assocs = of_types(args.resources, {"azure-native:monitor:DataCollectionRuleAssociation"})
    for c in of_types(args.resources, {"azure-native:containerservice:ManagedCluster"}):
        agent = get(c.props, "addonProfiles", "omsagent", default={})
        if not truthy(get(agent, "enabled")) or not get(agent, "config", "logAnalyticsWorkspaceResourceID"):
            report(f"AKS cluster {c.name}: Container Insights (addonProfiles.omsagent) is off", c.urn)
        if not any(depends_on(a, c, "resourceUri") for a in assocs):
            report(f"AKS cluster {c.name}: no data collection rule is associated with it (the agent collects nothing)", c.urn)
        kept = max([number(get(t.props, "totalRetentionInDays")) or number(get(t.props, "retentionInDays")) or 0 for t in tables],
                   default=0)
        if kept < _min_days(args):
            report(f"AKS cluster {c.name}: ContainerLogV2 is kept {int(kept) or 'the workspace default of'} days, "
                   f"< {int(_min_days(args))}", c.urn)


@stack_policy(
    "gcp-workload-logs-retained",
    "Each GKE cluster logs its workloads and routes its logs to a log bucket kept at least the configured days (default 365).",
    domain="gcp", severity=HIGH, safeguard="164.312(b)", config=LOGS_CONFIG,
    remediation="Add WORKLOADS to loggingConfig.enableComponents and route the cluster's logs (a ProjectSink on its "
                "cluster_name) to a ProjectBucketConfig with retentionDays ≥ minRetentionDays (components/cluster/gcp.py _logs).",
)
def gcp_workload_logs(args, report):
    buckets = of_types(args.resources, {"gcp:logging/projectBucketConfig:ProjectBucketConfig"})
    sinks = of_types(args.resources, {"gcp:logging/projectSink:ProjectSink"})
    for c in of_types(args.resources, {"gcp:container/cluster:Cluster"}):
        components = {str(x) for x in seq(get(c.props, "loggingConfig", "enableComponents"))}
        if "WORKLOADS" not in components:
            report(f"GKE cluster {c.name}: loggingConfig.enableComponents lacks WORKLOADS (container logs are not collected)", c.urn)
        mine = [s for s in sinks if depends_on(s, c, "filter") or str(get(c.props, "name")) in str(get(s.props, "filter", default=""))]
        kept = [b for b in buckets if any(depends_on(s, b, "destination") for s in mine)]
        if not mine or not kept:
            report(f"GKE cluster {c.name}: no log sink routes its logs to a log bucket of the stack", c.urn)
        elif max(number(get(b.props, "retentionDays")) or 0 for b in kept) < _min_days(args):
            report(f"GKE cluster {c.name}: its log bucket keeps logs fewer than {int(_min_days(args))} days", c.urn)


POLICIES = [gateway_access_log, generated_secrets_rotate, mongodb_monitored, aws_workload_logs, azure_workload_logs,
            gcp_workload_logs]

__all__ = ["NOT_ROTATED_KEYS", "POLICIES"]
