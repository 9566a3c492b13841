"""Optional monitoring: kube-prometheus-stack (Prometheus 15 d / 50 Gi, Grafana, Alertmanager), the
ServiceMonitors for the platform add-ons and the platform's alert rules.

`monitoring` runs with Pod Security `privileged` (documented exception): the node exporter needs host
network, host PID and hostPath `/proc`, `/sys`, `/` to report node health.

Secrets: the Grafana admin password is generated (pulumi_random) and lives only in a Kubernetes
Secret the chart reads (`grafana.admin.existingSecret`); receiver webhook URLs live in a Secret that
Alertmanager mounts and reads through `*_file` settings. Neither appears in Helm values or outputs.
"""
from __future__ import annotations

from typing import Any, Mapping

import pulumi

from lfh.config import secret_value
from lfh.config.platform import MonitoringConfig

from ..cluster.contract import ClusterContract
from ..k8s import KubeObject, child_opts, labels, meta
from . import backup_alerts
from ._helpers import custom_resource, namespace, place, placement, release, resources
from .contract import CLIENT_NAMESPACE_LABEL
from .gateway import GATEWAY_API, Gateway
from .network import (
    CONTROL_PLANE,
    GATEWAY,
    KUBE_API,
    PROMETHEUS,
    SELF,
    Nodes,
    Outside,
    PlatformNetwork,
    PodSet,
    Pods,
    Port,
    To,
)
from .storage import Storage

NAMESPACE = "monitoring"
RELEASE = "kube-prometheus-stack"
MON_API = "monitoring.coreos.com/v1"
#: Labels a ServiceMonitor/PrometheusRule needs for this Prometheus to pick it up (the chart's
#: default selector: the Helm release label).
SELECTOR_LABELS = {"release": RELEASE}
GRAFANA_SECRET = "grafana-admin"
RECEIVERS_SECRET = "alertmanager-receivers"
SECRETS_DIR = f"/etc/alertmanager/secrets/{RECEIVERS_SECRET}"
#: How often the Watchdog reaches a heartbeat receiver (its outside service alerts when pings stop).
HEARTBEAT_INTERVAL = "5m"

#: The platform alert rules: (alert, expr, for, severity, summary).
RULES: list[tuple[str, str, str, str, str]] = [
    # Backup tiers, drills and database backups: components/platform/backup_alerts.py.
    ("VeleroBackupFailed", 'increase(velero_backup_failure_total{schedule!=""}[1h]) > 0',
     "0m", "critical", "A Velero backup of schedule {{ $labels.schedule }} failed."),
    ("CertificateExpiringSoon", "certmanager_certificate_expiration_timestamp_seconds - time() < 14 * 24 * 3600",
     "1h", "warning", "Certificate {{ $labels.namespace }}/{{ $labels.name }} expires in less than 14 days."),
    ("PersistentVolumeFillingUp", "kubelet_volume_stats_used_bytes / kubelet_volume_stats_capacity_bytes > 0.80",
     "10m", "warning", "Volume {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is more than 80% full."),
    ("PodCrashLooping", 'max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"}[5m]) >= 1',
     "15m", "warning", "Pod {{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) is crash-looping."),
    ("DeploymentReplicasUnavailable", "kube_deployment_status_replicas_unavailable > 0",
     "15m", "warning", "Deployment {{ $labels.namespace }}/{{ $labels.deployment }} has unavailable replicas."),
    ("LonghornVolumeDegraded", "longhorn_volume_robustness == 2",
     "10m", "warning", "Longhorn volume {{ $labels.volume }} is degraded (fewer healthy replicas than configured)."),
    ("LonghornVolumeFaulted", "longhorn_volume_robustness == 3",
     "2m", "critical", "Longhorn volume {{ $labels.volume }} is faulted."),
    ("NodeNotReady", 'kube_node_status_condition{condition="Ready",status="true"} == 0',
     "5m", "critical", "Node {{ $labels.node }} is not ready."),
]


#: Labels prometheus-operator reserves on the pods of a Prometheus / Alertmanager named by the chart
#: (the CRDs' `podMetadata` descriptions list them: `app.kubernetes.io/name`, `operator.prometheus.io/name`
#: resp. `alertmanager`, … set to the object's name).
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus", "operator.prometheus.io/name": f"{RELEASE}-prometheus"}
ALERTMANAGER_POD_LABELS = {"app.kubernetes.io/name": "alertmanager", "alertmanager": f"{RELEASE}-alertmanager"}
#: Ports Prometheus scrapes on the nodes: kubelet (cAdvisor, probes), node exporter (host network),
#: kube-proxy metrics.
NODE_SCRAPE_PORTS = (10250, 9100, 10249)


def network_pods() -> list[PodSet]:
    """The pods of monitoring (kube-prometheus-stack 88.5.3 with its grafana and kube-state-metrics
    subcharts, and the Prometheus/Alertmanager pods the operator starts). The node exporter runs on
    the host network, where NetworkPolicy does not apply; Prometheus reaches it on the nodes."""
    ns = NAMESPACE
    stack = {"app.kubernetes.io/instance": RELEASE}
    web = Port("http-web", 9090, (PROMETHEUS,))
    reloader = Port("reloader-web", 8080, (PROMETHEUS,))  # the config-reloader sidecar's metrics
    return [
        PodSet("prometheus", ns, dict(PROMETHEUS_POD_LABELS), role=PROMETHEUS, ports=(web, reloader),
               # Service discovery and the API server's metrics; kubelet/node exporter/kube-proxy on the
               # nodes; CoreDNS; alerts to Alertmanager. Every declared metrics port is added from its
               # owner's declaration (and client stacks add their namespaces' metrics ports).
               connects_to=(KUBE_API, Nodes(NODE_SCRAPE_PORTS), Pods("kube-system", (("k8s-app", "kube-dns"),), (9153,)),
                            To("alertmanager", ("http-web",)))),
        PodSet("alertmanager", ns, dict(ALERTMANAGER_POD_LABELS),
               ports=(Port("http-web", 9093, (PROMETHEUS,)), Port("reloader-web", 8080, (PROMETHEUS,)),
                      # Alertmanager cluster gossip between replicas (TCP and UDP 9094).
                      Port("mesh-tcp", 9094, (SELF,)), Port("mesh-udp", 9094, (SELF,), protocol="UDP")),
               connects_to=(Outside((443,)),)),  # receivers: Slack, PagerDuty, webhooks over HTTPS
        PodSet("grafana", ns, {"app.kubernetes.io/name": "grafana", **stack},
               ports=(Port("grafana", 3000, (GATEWAY, PROMETHEUS)),),
               # Its sidecars watch dashboard/datasource ConfigMaps; it queries Prometheus and Alertmanager.
               connects_to=(KUBE_API, To("prometheus", ("http-web",)), To("alertmanager", ("http-web",)))),
        PodSet("kube-state-metrics", ns, {"app.kubernetes.io/name": "kube-state-metrics", **stack},
               ports=(Port("http", 8080, (PROMETHEUS,)),), connects_to=(KUBE_API,)),
        # Service kube-prometheus-stack-operator :443 -> `https` 10250: admission webhooks for
        # PrometheusRules/AlertmanagerConfigs, and the operator's own metrics.
        PodSet("operator", ns, {"app": f"{RELEASE}-operator", "release": RELEASE},
               ports=(Port("https", 10250, (CONTROL_PLANE, PROMETHEUS)),), connects_to=(KUBE_API,)),
        # Hook Jobs that create and patch the admission webhook's certificate.
        *[PodSet(f"admission-{step}", ns, {"app": f"{RELEASE}-admission-{step}", "release": RELEASE},
                 connects_to=(KUBE_API,)) for step in ("create", "patch")],
    ]


def alertmanager_config(cfg: MonitoringConfig) -> dict[str, Any]:
    """Alertmanager routing: every receiver reads its URL from a mounted Secret file.

    The chart's always-firing `Watchdog` alert (kube-prometheus-stack general.rules) is the dead man's
    switch: it goes to the `heartbeat` receivers only, often enough for an outside service to notice
    when it stops (a dead Prometheus, Alertmanager or network pages nobody otherwise)."""
    receivers: list[dict[str, Any]] = [{"name": "null"}]
    heartbeats = [r for r in cfg.receivers if r.kind == "heartbeat"]
    watchdog = {"matchers": ['alertname = "Watchdog"']}
    routes: list[dict[str, Any]] = [
        {"receiver": r.name, **watchdog, "continue": True, "group_wait": "0s", "group_interval": "1m",
         "repeat_interval": HEARTBEAT_INTERVAL} for r in heartbeats]
    routes.append({"receiver": "null", **watchdog})
    for r in cfg.receivers:
        path = f"{SECRETS_DIR}/{r.name}"
        if r.kind == "heartbeat":
            receivers.append({"name": r.name, "webhook_configs": [{"url_file": path, "send_resolved": False}]})
            continue
        if r.kind == "slack":
            body: dict[str, Any] = {"slack_configs": [{"api_url_file": path, "send_resolved": True,
                                                       **({"channel": r.channel} if r.channel else {})}]}
        elif r.kind == "pagerduty":
            body = {"pagerduty_configs": [{"routing_key_file": path, "send_resolved": True}]}
        else:
            body = {"webhook_configs": [{"url_file": path, "send_resolved": True}]}
        receivers.append({"name": r.name, **body})
        route: dict[str, Any] = {"receiver": r.name, "continue": True}
        if r.severity != "all":
            route["matchers"] = [f'severity = "{r.severity}"']
        routes.append(route)
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {"group_by": ["namespace", "alertname"], "group_wait": "30s", "group_interval": "5m",
                  "repeat_interval": "12h", "receiver": "null", "routes": routes},
        "receivers": receivers,
        "inhibit_rules": [{"source_matchers": ['severity = "critical"'], "target_matchers": ['severity = "warning"'],
                           "equal": ["namespace", "alertname"]}],
        "templates": ["/etc/alertmanager/config/*.tmpl"],
    }


class Monitoring(pulumi.ComponentResource):
    """kube-prometheus-stack, platform ServiceMonitors, alert rules, Grafana route."""

    def __init__(self, name: str, cfg: MonitoringConfig, cluster: ClusterContract, *, hostname: str,
                 gateway: Gateway, storage: Storage, network: PlatformNetwork, chart_versions: Mapping[str, str] | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:platform:Monitoring", name, None, opts)
        self.chart_versions = dict(chart_versions or {})  # stack-level pin overrides (warned)
        p = cluster.provider
        self.hostname = hostname
        self.namespace = namespace(
            self, p, NAMESPACE, level="privileged", component="monitoring", depends_on=cluster.ready,
            why="prometheus-node-exporter needs hostNetwork, hostPID and hostPath to report node health",
            extra_labels={CLIENT_NAMESPACE_LABEL: "true"})  # its Grafana route attaches to the shared Gateway
        self.network_policies = network.create(self, p, NAMESPACE, depends_on=[self.namespace])

        import pulumi_random as random  # only platforms with monitoring pay for importing it

        password = random.RandomPassword(f"{name}-grafana-password", length=32, special=False,
                                         opts=pulumi.ResourceOptions(parent=self))
        self.grafana_secret = KubeObject(
            f"{name}-grafana-admin", "v1", "Secret",
            metadata=meta(GRAFANA_SECRET, NAMESPACE, labels=labels(GRAFANA_SECRET, component="monitoring")),
            type="Opaque",
            stringData={"admin-user": "admin", "admin-password": password.result},
            opts=child_opts(self, p, depends_on=[self.namespace], additional_secret_outputs=["stringData", "data"]),
        )
        receiver_data = {r.name: pulumi.Output.secret(secret_value(r.url)) for r in cfg.receivers}
        self.receivers_secret = KubeObject(
            f"{name}-receivers", "v1", "Secret",
            metadata=meta(RECEIVERS_SECRET, NAMESPACE, labels=labels(RECEIVERS_SECRET, component="monitoring")),
            type="Opaque",
            stringData=receiver_data,
            opts=child_opts(self, p, depends_on=[self.namespace], additional_secret_outputs=["stringData", "data"]),
        )
        small = resources(cfg.resources)
        # Requests of the subcharts' containers (their values leave them empty), from each chart's own
        # commented example in its values.yaml, except where noted; all small next to the seed's
        # ~3 CPU / 7 GiB platform base.
        sized = {
            # grafana/values.yaml `resources` example (100m/128Mi); the limit doubled: this chart loads
            # ~30 dashboards into the one Grafana.
            "grafana": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
            # grafana/values.yaml `sidecar.resources` example (50m/50Mi, limit 100Mi): the dashboard and
            # datasource watchers (k8s-sidecar).
            "sidecar": {"requests": {"cpu": "50m", "memory": "50Mi"}, "limits": {"memory": "100Mi"}},
            # kube-state-metrics/values.yaml example (10m/32Mi); limit 128Mi rather than its 64Mi: memory
            # grows with the number of objects it lists (all client namespaces).
            "kube-state-metrics": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
            # prometheus-node-exporter/values.yaml example (100m/30Mi, limit 50Mi), on every node.
            "prometheus-node-exporter": {"requests": {"cpu": "100m", "memory": "30Mi"}, "limits": {"memory": "50Mi"}},
            # prometheus-operator's own config-reloader default when no flag is given (cmd/operator/main.go:
            # 10m / 50Mi); the chart passes `--config-reloader-*-request=0` (no request) unless set here.
            "config-reloader": {"requests": {"cpu": "10m", "memory": "50Mi"}, "limits": {"memory": "50Mi"}},
        }
        volume = {"volumeClaimTemplate": {"spec": {
            "storageClassName": storage.classes["default"], "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": cfg.storage}}}}}
        values: dict[str, Any] = {
            "crds": {"enabled": True},
            "prometheus": {
                "podDisruptionBudget": {"enabled": cfg.prometheus_replicas > 1, "minAvailable": 1},
                "prometheusSpec": {
                    "replicas": cfg.prometheus_replicas,
                    "retention": cfg.retention,
                    # Stop before the volume fills (90 % of it), instead of crashing on a full disk.
                    "retentionSize": _retention_size(cfg.storage),
                    "resources": resources(cfg.prometheus_resources),
                    "storageSpec": volume,
                    "podAntiAffinity": "hard",
                },
            },
            "alertmanager": {
                "podDisruptionBudget": {"enabled": cfg.prometheus_replicas > 1, "minAvailable": 1},
                "config": alertmanager_config(cfg),
                "alertmanagerSpec": {
                    "replicas": cfg.prometheus_replicas,
                    "resources": small,
                    "secrets": [RECEIVERS_SECRET],
                    "storage": {"volumeClaimTemplate": {"spec": {
                        "storageClassName": storage.classes["default"], "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "2Gi"}}}}},
                },
            },
            "grafana": {
                "enabled": True,
                "admin": {"existingSecret": GRAFANA_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
                "defaultDashboardsTimezone": "utc",
                "resources": sized["grafana"],
                "sidecar": {"resources": sized["sidecar"]},
            },
            "prometheusOperator": {"resources": small, "admissionWebhooks": {"patch": {"resources": small}},
                                   "prometheusConfigReloader": {"resources": sized["config-reloader"]}},
            # The restore drill's results and Percona backup status as metrics (backup_alerts.py).
            "kube-state-metrics": {"resources": sized["kube-state-metrics"], **backup_alerts.kube_state_metrics_values()},
            "prometheus-node-exporter": {"resources": sized["prometheus-node-exporter"]},
        }
        place(values, ["prometheus.prometheusSpec", "alertmanager.alertmanagerSpec", "prometheusOperator",
                       "prometheusOperator.admissionWebhooks.patch"], placement(cluster))
        self.release = release(self, p, "kube-prometheus-stack", name=RELEASE, namespace=self.namespace,
                               values=values, depends_on=[self.grafana_secret, self.receivers_secret, *storage.ready,
                                                          *self.network_policies],
                               timeout=900)
        crd = [self.release]

        # Scrape the platform add-ons (their charts' own monitors would need this CRD before they install).
        self.service_monitors = {}
        for sm, ns, selector, port in (
            ("longhorn", "longhorn-system", {"app": "longhorn-manager"}, "manager"),
            ("velero", "velero", {"app.kubernetes.io/name": "velero"}, "http-monitoring"),
            # cert-manager v1.21.1 names the controller's metrics port `http-metrics` (templates/service.yaml).
            ("cert-manager", "cert-manager", {"app.kubernetes.io/name": "cert-manager", "app.kubernetes.io/component": "controller"},
             "http-metrics"),
        ):
            if sm == "longhorn" and storage.release is None:
                continue
            self.service_monitors[sm] = custom_resource(
                self, p, f"sm-{sm}", api_version=MON_API, kind="ServiceMonitor", name=sm, namespace=NAMESPACE,
                component="monitoring", obj_labels=SELECTOR_LABELS, depends_on=crd, spec={
                    "namespaceSelector": {"matchNames": [ns]},
                    "selector": {"matchLabels": selector},
                    "endpoints": [{"port": port, "interval": "60s"}]})
        self.rules = custom_resource(
            self, p, "rules", api_version=MON_API, kind="PrometheusRule", name="lfh-platform-alerts", namespace=NAMESPACE,
            component="monitoring", obj_labels=SELECTOR_LABELS, depends_on=crd, spec={"groups": [{
                "name": "lfh-platform", "rules": [
                    {"alert": a, "expr": e, "for": f, "labels": {"severity": s}, "annotations": {"summary": m}}
                    for a, e, f, s, m in RULES]}, backup_alerts.rule_group()]})
        # Gateway metrics and per-route alerts, and the dashboards as code (observability.py).
        from .observability import MonitoringContent

        self.observability = MonitoringContent(f"{name}-observability", cfg, p, namespace=NAMESPACE, gateway=gateway.ref,
                                           selector_labels=SELECTOR_LABELS, depends_on=[*crd, gateway.envoy_proxy],
                                           opts=pulumi.ResourceOptions(parent=self))
        self.route = custom_resource(
            self, p, "route", api_version=GATEWAY_API, kind="HTTPRoute", name="grafana", namespace=NAMESPACE,
            component="monitoring", depends_on=[gateway.release, gateway.gateway, self.release], spec={
                "parentRefs": [{"name": gateway.ref.name, "namespace": gateway.ref.namespace,
                                "sectionName": gateway.ref.https_listener}],
                "hostnames": [hostname],
                "rules": [{"backendRefs": [{"name": f"{RELEASE}-grafana", "port": 80}]}]})
        self.register_outputs({"namespace": NAMESPACE, "hostname": hostname})

    def contract(self) -> dict[str, Any]:
        return {"enabled": True, "namespace": NAMESPACE, "serviceMonitorLabels": dict(SELECTOR_LABELS),
                "grafanaHostname": self.hostname, "prometheusPodLabels": dict(PROMETHEUS_POD_LABELS)}


def _retention_size(storage: str) -> str:
    """90 % of the volume, in the units Prometheus takes (`45GB`)."""
    units = {"Gi": 1, "Ti": 1024, "Mi": 1 / 1024}
    for suffix, factor in units.items():
        if storage.endswith(suffix):
            gib = float(storage[: -len(suffix)]) * factor
            return f"{max(1, int(gib * 0.9))}GB"
    return "45GB"
