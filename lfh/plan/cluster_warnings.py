"""Cluster findings: warn about every weaker cluster setting a platform stack turns on (explicit
config keys only), and summarise the cluster's security posture as a report section.

The config model lists the weaker settings (`weakened()` on each cluster model); each becomes a
`cluster-weakened` warning on the cluster component, so the plan report shows it next to the graph.
"""
from __future__ import annotations

from .model import Finding, Plan

CLUSTER_TYPES = ("lfh:cluster:EksCluster", "lfh:cluster:AksCluster", "lfh:cluster:GkeCluster", "lfh:cluster:ExistingCluster")
KEY_PREFIX = "lfh:platform.cluster."


def analyze(plan: Plan) -> None:
    platform = getattr(getattr(plan, "config", None), "platform", None)
    if platform is None:
        return
    cluster = platform.cluster
    urn = next((r.urn for r in plan.resources if r.type in CLUSTER_TYPES), "")
    weakened = cluster.weakened() if hasattr(cluster, "weakened") else []
    for key, why in weakened:
        plan.findings.append(Finding("cluster-weakened", "warning", urn, f"{KEY_PREFIX}{key} is set: {why}"))
    plan.sections["cluster"] = _section(cluster, weakened)
    _workload_logs(plan.sections["cluster"], cluster, platform)


#: Where each target's container and gateway access logs go (components/cluster/*.py `log_agent`,
#: components/platform/logging.py for existing clusters).
LOG_STORES = {"aws": "CloudWatch Logs /aws/containerinsights/<cluster>/application (amazon-cloudwatch-observability add-on)",
              "azure": "Log Analytics workspace, table ContainerLogV2 (Container Insights)",
              "gcp": "Cloud Logging bucket lfh-<platform>-<suffix> (GKE workload logging)",
              "existing": "Fluent Bit (namespace logging) to the backup bucket under <prefix>/"}


def _workload_logs(section: dict, cluster, platform) -> None:
    """The report says where container logs go and how long they stay (evidence for 164.312(b))."""
    days = platform.logging.retention_days
    store = LOG_STORES[cluster.provider].replace("<prefix>", platform.logging.collector.prefix)
    kept = (f"kept as the bucket's lifecycle says: keep `{platform.logging.collector.prefix}/` ≥ {days} d"
            if cluster.provider == "existing" else f"kept {days} d")
    section["data"]["workloadLogs"] = {"store": store, "retentionDays": days}
    section["text"].append(f"container and gateway access logs: {store}, {kept}")


def _section(cluster, weakened: list[tuple[str, str]]) -> dict:
    data: dict = {"provider": cluster.provider, "weakened": [k for k, _ in weakened]}
    lines = [f"target: {cluster.provider}"]
    if cluster.provider != "existing":
        api = cluster.api
        data.update({
            "region": getattr(cluster, "region", None) or getattr(cluster, "location", ""),
            "apiEndpoint": "public (" + ", ".join(api.public_access_cidrs) + ")" if api.public else "private",
            "secretsEncryption": cluster.secrets_encryption,
            "logRetentionDays": cluster.log_retention_days,
            "backup": {"dailyExpireDays": cluster.backup.daily_expire_days,
                       "archiveTransitionDays": cluster.backup.archive_transition_days,
                       "archiveExpireDays": cluster.backup.archive_expire_days,
                       "wormReplica": cluster.backup.replication.enabled},
            "nodePools": {name: {"taints": [f"{t.key}={t.value}:{t.effect}" for t in getattr(cluster.node_pools, name).taints]}
                          for name in ("system", "apps", "db")},
        })
        lines += [
            f"API endpoint: {data['apiEndpoint']}; Secrets envelope encryption: {'on' if cluster.secrets_encryption else 'OFF'}",
            f"logs kept {cluster.log_retention_days} d; backups: daily {cluster.backup.daily_expire_days} d, "
            f"archive {cluster.backup.archive_expire_days} d, WORM replica {'on' if cluster.backup.replication.enabled else 'off'}",
        ]
    elif getattr(cluster, "self_contained", False):
        data["backupEndpoint"] = "in-cluster object store"
        lines.append(f"self-contained: platform secrets generated into the cluster, backups to the in-cluster object "
                     f"store; StorageClass {cluster.storage_class}")
    else:
        data["backupEndpoint"] = cluster.backup_endpoint
        lines.append(f"backups to {cluster.backup_endpoint} (bucket {cluster.backup_bucket}); StorageClass {cluster.storage_class}")
    if weakened:
        lines += [f"WEAKENED: {k} ({why})" for k, why in weakened]
    return {"title": "Cluster", "text": lines, "data": data}
