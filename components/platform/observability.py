"""What the monitoring add-on watches beyond its chart: the gateway's proxies (a PodMonitor and per-route
5xx/latency alerts) and the Grafana dashboards as code (platform, client, MongoDB).

Envoy Gateway names each route's upstream cluster `httproute/<namespace>/<name>/rule/<n>` (xDS
translator; the cluster is the route rule's backend), and Envoy's Prometheus stats carry it as the
`envoy_cluster_name` label (`/stats/prometheus` on the proxy's `metrics` port 19001). The rules below
cut it into `namespace` (the client) and `route`, so an alert names the client and its route.
Dashboards are ConfigMaps with the label kube-prometheus-stack's Grafana sidecar loads
(`grafana.sidecar.dashboards.label: grafana_dashboard`, `labelValue: "1"`, all namespaces; chart 88.5.3).
"""
from __future__ import annotations

import json
from typing import Any

import pulumi

from lfh.config.platform import MonitoringConfig

from ..k8s import KubeObject, child_opts, labels, meta
from ._helpers import custom_resource
from .contract import GatewayRef
from .gateway import PROXY_METRICS_PORT, proxy_pod_labels

MON_API = "monitoring.coreos.com/v1"
DASHBOARD_LABEL = {"grafana_dashboard": "1"}


def by_route(expr: str) -> str:
    """``expr`` with `namespace` and `route` cut out of Envoy Gateway's `httproute/<ns>/<name>/rule/<n>` cluster name."""
    inner = f'label_replace({expr}, "namespace", "$1", "envoy_cluster_name", "httproute/([^/]+)/.*")'
    return f'label_replace({inner}, "route", "$1", "envoy_cluster_name", "httproute/[^/]+/([^/]+)/.*")'


ROUTE = 'envoy_cluster_name=~"httproute/.*"'
#: Routes that upgraded connections (WebSockets): their request time is the connection's life.
WEBSOCKET_ROUTES = f'sum by (envoy_cluster_name) (rate(envoy_cluster_upstream_rq{{{ROUTE}, envoy_response_code="101"}}[1h])) > 0'


def gateway_rules(cfg: MonitoringConfig) -> list[dict[str, Any]]:
    """Per client route: 5xx share and p95 upstream time (both alerts name `namespace` and `route`)."""
    errors = by_route(f'sum by (envoy_cluster_name) (rate(envoy_cluster_upstream_rq_xx{{{ROUTE}, envoy_response_code_class="5"}}[5m]))')
    total = by_route(f"sum by (envoy_cluster_name) (rate(envoy_cluster_upstream_rq_xx{{{ROUTE}}}[5m]))")
    buckets = (f"sum by (envoy_cluster_name, le) (rate(envoy_cluster_upstream_rq_time_bucket{{{ROUTE}}}[5m]) "
               f"unless on (envoy_cluster_name) ({WEBSOCKET_ROUTES}))")
    return [
        {"alert": "GatewayRouteErrorRateHigh",
         # Only routes with traffic (> 0.1 req/s): a lone failed request is no outage.
         "expr": f"({errors} / {total} > {cfg.gateway_error_percent / 100}) and on (namespace, route) ({total} > 0.1)",
         "for": "10m", "labels": {"severity": "critical"},
         "annotations": {"summary": "Route {{ $labels.namespace }}/{{ $labels.route }}: {{ $value | humanizePercentage }} "
                                    f"of responses are 5xx (threshold {cfg.gateway_error_percent}%)."}},
        {"alert": "GatewayRouteLatencyHigh",
         "expr": f"histogram_quantile(0.95, {by_route(buckets)}) > {cfg.gateway_latency_p95_ms}",
         "for": "15m", "labels": {"severity": "warning"},
         "annotations": {"summary": "Route {{ $labels.namespace }}/{{ $labels.route }}: p95 upstream time {{ $value }} ms "
                                    f"(threshold {cfg.gateway_latency_p95_ms} ms)."}},
        {"alert": "GatewayProxyMetricsMissing", "expr": 'absent(envoy_server_live{job=~".*envoy.*"} == 1)', "for": "15m",
         "labels": {"severity": "warning"},
         "annotations": {"summary": "No live Envoy proxy reports metrics: gateway alerts are blind."}},
    ]


# ------------------------------------------------------------------ dashboards


def _panel(title: str, exprs: list[tuple[str, str]], *, x: int, y: int, w: int = 12, h: int = 8,
           unit: str = "short", kind: str = "timeseries") -> dict[str, Any]:
    return {
        "type": kind, "title": title, "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": chr(65 + i), "expr": e, "legendFormat": legend} for i, (e, legend) in enumerate(exprs)],
    }


def _dashboard(uid: str, title: str, panels: list[dict[str, Any]], variables: list[dict[str, Any]]) -> dict[str, Any]:
    datasource = {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"}
    for i, p in enumerate(panels):
        p["id"] = i + 1
    return {"uid": uid, "title": title, "tags": ["lfh"], "timezone": "utc", "schemaVersion": 39, "editable": False,
            "time": {"from": "now-6h", "to": "now"}, "refresh": "1m", "panels": panels,
            "templating": {"list": [datasource, *variables]}}


def _variable(name: str, query: str) -> dict[str, Any]:
    return {"name": name, "type": "query", "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "query": {"query": query, "refId": name}, "refresh": 2, "includeAll": False, "multi": False}


def dashboards() -> dict[str, dict[str, Any]]:
    """The three dashboards, by ConfigMap name."""
    rq = f"sum by (envoy_cluster_name) (rate(envoy_cluster_upstream_rq_xx{{{ROUTE}}}[5m]))"
    rq5 = f'sum by (envoy_cluster_name) (rate(envoy_cluster_upstream_rq_xx{{{ROUTE}, envoy_response_code_class="5"}}[5m]))'
    p95 = f"histogram_quantile(0.95, sum by (envoy_cluster_name, le) (rate(envoy_cluster_upstream_rq_time_bucket{{{ROUTE}}}[5m])))"
    platform = _dashboard("lfh-platform", "LFH / Platform", [
        _panel("Requests per second by client", [(f"sum by (namespace) ({by_route(rq)})", "{{namespace}}")], x=0, y=0, unit="reqps"),
        _panel("5xx share by route", [(f"{by_route(rq5)} / {by_route(rq)}", "{{namespace}}/{{route}}")], x=12, y=0, unit="percentunit"),
        _panel("p95 upstream time by route", [(by_route(p95), "{{namespace}}/{{route}}")], x=0, y=8, unit="ms"),
        _panel("Nodes not ready", [('sum(kube_node_status_condition{condition="Ready",status="true"} == 0) or vector(0)', "not ready")],
               x=12, y=8, kind="stat"),
        _panel("Volumes by fill level", [("max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_used_bytes / "
                                           "kubelet_volume_stats_capacity_bytes)", "{{namespace}}/{{persistentvolumeclaim}}")],
               x=0, y=16, unit="percentunit"),
        _panel("Hours since last successful Velero backup", [
            ('(time() - max by (schedule) (velero_backup_last_successful_timestamp{schedule!=""})) / 3600', "{{schedule}}")],
               x=12, y=16, unit="h"),
        _panel("Days until certificates expire", [
            ("(certmanager_certificate_expiration_timestamp_seconds - time()) / 86400", "{{namespace}}/{{name}}")],
               x=0, y=24, unit="d"),
        _panel("Firing alerts", [('sum by (alertname, severity) (ALERTS{alertstate="firing"})', "{{alertname}} ({{severity}})")],
               x=12, y=24),
    ], [])
    ns = 'namespace="$namespace"'
    mine = 'envoy_cluster_name=~"httproute/$namespace/.*"'
    c_rq = f"sum by (envoy_cluster_name) (rate(envoy_cluster_upstream_rq_xx{{{mine}}}[5m]))"
    c_rq5 = f'sum by (envoy_cluster_name) (rate(envoy_cluster_upstream_rq_xx{{{mine}, envoy_response_code_class="5"}}[5m]))'
    c_p95 = f"histogram_quantile(0.95, sum by (envoy_cluster_name, le) (rate(envoy_cluster_upstream_rq_time_bucket{{{mine}}}[5m])))"
    client = _dashboard("lfh-client", "LFH / Client", [
        _panel("Requests per second by route", [(by_route(c_rq), "{{route}}")], x=0, y=0, unit="reqps"),
        _panel("5xx share by route", [(f"{by_route(c_rq5)} / {by_route(c_rq)}", "{{route}}")], x=12, y=0, unit="percentunit"),
        _panel("p95 upstream time by route", [(by_route(c_p95), "{{route}}")], x=0, y=8, unit="ms"),
        _panel("CPU by pod", [(f'sum by (pod) (rate(container_cpu_usage_seconds_total{{{ns}, container!=""}}[5m]))', "{{pod}}")],
               x=12, y=8, unit="cores"),
        _panel("Memory by pod", [(f'sum by (pod) (container_memory_working_set_bytes{{{ns}, container!=""}})', "{{pod}}")],
               x=0, y=16, unit="bytes"),
        _panel("Container restarts (1h)", [(f"sum by (pod) (increase(kube_pod_container_status_restarts_total{{{ns}}}[1h]))", "{{pod}}")],
               x=12, y=16),
        _panel("Replicas available by Deployment", [(f"kube_deployment_status_replicas_available{{{ns}}}", "{{deployment}}")],
               x=0, y=24),
        _panel("Volumes by fill level", [(f"kubelet_volume_stats_used_bytes{{{ns}}} / kubelet_volume_stats_capacity_bytes{{{ns}}}",
                                          "{{persistentvolumeclaim}}")], x=12, y=24, unit="percentunit"),
    ], [_variable("namespace", 'label_values(kube_namespace_labels{label_lfh_io_client!=""}, namespace)')])
    mongo = _dashboard("lfh-mongodb", "LFH / MongoDB", [
        _panel("Members up", [(f"mongodb_up{{{ns}}}", "{{pod}}")], x=0, y=0, w=8, kind="stat"),
        _panel("Replica-set state (1 primary, 2 secondary)", [(f"mongodb_mongod_replset_my_state{{{ns}}}", "{{pod}}")],
               x=8, y=0, w=8),
        _panel("Replication lag", [(f"max by (name) (mongodb_mongod_replset_member_replication_lag{{{ns}}})", "{{name}}")],
               x=16, y=0, w=8, unit="s"),
        _panel("Connections", [(f'mongodb_connections{{{ns}, state="current"}}', "{{pod}} current"),
                               (f'mongodb_connections{{{ns}, state="available"}}', "{{pod}} available")], x=0, y=8),
        _panel("Operations per second", [(f"sum by (type) (rate(mongodb_op_counters_total{{{ns}}}[5m]))", "{{type}}")],
               x=12, y=8, unit="ops"),
        _panel("Data volumes by fill level", [
            (f'kubelet_volume_stats_used_bytes{{{ns}, persistentvolumeclaim=~"mongod-data-.*"}} / '
             f'kubelet_volume_stats_capacity_bytes{{{ns}, persistentvolumeclaim=~"mongod-data-.*"}}', "{{persistentvolumeclaim}}")],
               x=0, y=16, unit="percentunit"),
        _panel("Memory by member", [(f'container_memory_working_set_bytes{{{ns}, container="mongod"}}', "{{pod}}")],
               x=12, y=16, unit="bytes"),
    ], [_variable("namespace", "label_values(mongodb_up, namespace)")])
    return {"lfh-dashboard-platform": platform, "lfh-dashboard-client": client, "lfh-dashboard-mongodb": mongo}


class MonitoringContent(pulumi.ComponentResource):
    """Gateway PodMonitor and alert rules, and the dashboards, in the monitoring namespace."""

    def __init__(self, name: str, cfg: MonitoringConfig, provider: pulumi.ProviderResource, *, namespace: str,
                 gateway: GatewayRef, selector_labels: dict[str, str], depends_on: list[pulumi.Resource],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:platform:MonitoringContent", name, None, opts)
        self.pod_monitor = custom_resource(
            self, provider, "gateway-podmonitor", api_version=MON_API, kind="PodMonitor", name="envoy-proxies",
            namespace=namespace, component="monitoring", obj_labels=selector_labels, depends_on=depends_on, spec={
                "namespaceSelector": {"matchNames": [gateway.namespace]},
                "selector": {"matchLabels": proxy_pod_labels(gateway)},
                # Envoy's admin stats in Prometheus format on the proxy's `metrics` port.
                "podMetricsEndpoints": [{"port": "metrics", "path": "/stats/prometheus", "interval": "30s"}]})
        self.rules = custom_resource(
            self, provider, "gateway-rules", api_version=MON_API, kind="PrometheusRule", name="lfh-gateway-alerts",
            namespace=namespace, component="monitoring", obj_labels=selector_labels, depends_on=depends_on,
            spec={"groups": [{"name": "lfh-gateway", "rules": gateway_rules(cfg)}]})
        self.dashboards = [
            KubeObject(f"{name}-{cm}", "v1", "ConfigMap",
                       metadata=meta(cm, namespace, labels={**labels(cm, component="monitoring"), **DASHBOARD_LABEL}),
                       data={f"{cm}.json": json.dumps(board, sort_keys=True)},
                       opts=child_opts(self, provider, depends_on=depends_on))
            for cm, board in dashboards().items()]
        self.register_outputs({"dashboards": sorted(dashboards()), "proxyMetricsPort": PROXY_METRICS_PORT})
