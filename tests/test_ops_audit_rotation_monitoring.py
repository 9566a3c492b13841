"""Issue 15, operations side: workload and gateway logs, secret rotation, data-layer monitoring."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from lfh import STACKS_DIR
from lfh.config import ConfigError, parse_stack_config
from lfh.plan import Engine, analyze
from lfh.plan.fakes import ROTATION_BASE_UNIX

from client_apps_helpers import by_kind, client, named, plan_with

GEN = f"r{ROTATION_BASE_UNIX}"


def resources_of(plan, type_: str) -> list:
    return [r for r in plan.resources if r.type == type_]


def platform_plan(tmp_path: Path, stack: str, change) -> object:
    """Plan a copy of a real platform stack with ``change(platform config)`` applied."""
    doc = yaml.safe_load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text())
    change(doc["config"]["lfh:platform"])
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(doc))
    return analyze(Engine(stacks_dir=tmp_path).plan(stack))


# ----------------------------------------------------------------------------- gateway access log


def test_access_log_has_route_status_duration_and_no_query_string(plan_of):
    proxy = named(plan_of("platform-aws"), "EnvoyProxy", "shared-proxy")
    (setting,) = proxy["spec"]["telemetry"]["accessLog"]["settings"]
    fields = setting["format"]["json"]
    assert setting["sinks"] == [{"type": "File", "file": {"path": "/dev/stdout"}}]
    assert fields["path"] == "%REQ_WITHOUT_QUERY(X-ENVOY-ORIGINAL-PATH?:PATH)%"
    assert {fields["response_code"], fields["duration_ms"], fields["route_name"]} == {"%RESPONSE_CODE%", "%DURATION%", "%ROUTE_NAME%"}
    text = json.dumps(fields)
    assert not re.search(r"%REQ\([^)]*PATH", text) and "REFERER" not in text.upper()


# ----------------------------------------------------------------------------- workload logs


def test_each_cloud_ships_container_logs_with_its_agent(plan_of):
    aws = plan_of("platform-aws")
    (addon,) = [r for r in resources_of(aws, "aws:eks/addon:Addon") if r.inputs["addonName"] == "amazon-cloudwatch-observability"]
    assert json.loads(addon.inputs["configurationValues"]) == {"containerLogs": {"enabled": True}}
    groups = {r.inputs["name"]: r for r in resources_of(aws, "aws:cloudwatch/logGroup:LogGroup")}
    app = next(g for n, g in groups.items() if n.endswith("/application") and "/aws/containerinsights/" in n)
    assert app.inputs["retentionInDays"] == 365 and app.inputs["kmsKeyId"] and app.protect
    # The add-on waits for its log groups (it would create them without retention or CMK).
    assert app.urn in addon.dependencies
    azure = plan_of("platform-azure")
    (aks,) = resources_of(azure, "azure-native:containerservice:ManagedCluster")
    assert aks.inputs["addonProfiles"]["omsagent"]["enabled"] is True
    assert aks.inputs["addonProfiles"]["omsagent"]["config"]["useAADAuth"] == "true"
    (table,) = resources_of(azure, "azure-native:operationalinsights:Table")
    assert (table.inputs["tableName"], table.inputs["totalRetentionInDays"]) == ("ContainerLogV2", 365)
    (dcr,) = resources_of(azure, "azure-native:monitor:DataCollectionRule")
    assert dcr.inputs["dataSources"]["extensions"][0]["extensionName"] == "ContainerInsights"
    gcp = plan_of("platform-gcp")
    (gke,) = resources_of(gcp, "gcp:container/cluster:Cluster")
    assert "WORKLOADS" in gke.inputs["loggingConfig"]["enableComponents"]
    # Clouds bring their agent: no in-cluster collector there.
    for plan in (aws, azure, gcp):
        assert not [m for m in by_kind(plan, "DaemonSet") if m["metadata"]["name"] == "fluent-bit"]


def test_existing_cluster_runs_the_pinned_collector_read_only(plan_of):
    plan = plan_of("platform-local")
    ds = named(plan, "DaemonSet", "fluent-bit")
    spec = ds["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    assert re.fullmatch(r"docker\.io/fluent/fluent-bit:\d+\.\d+\.\d+", c["image"])
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]} and c["securityContext"]["readOnlyRootFilesystem"]
    host = [v["name"] for v in spec["volumes"] if "hostPath" in v]
    assert host == ["varlog"] and all(m["readOnly"] for m in c["volumeMounts"] if m["name"] in host)
    conf = named(plan, "ConfigMap", "fluent-bit")["data"]["fluent-bit.conf"]
    # platform-local is self-contained: the in-cluster backup store
    assert "Name s3" in conf and "bucket lfh-backups" in conf
    assert "endpoint http://backup-store.lfh-backup-store.svc.cluster.local:9000" in conf
    assert "/logs/%Y/%m/%d/%H/" in conf and "K8S-Logging.Exclude Off" in conf
    ns = named(plan, "Namespace", "logging")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert "hostPath" in ns["metadata"]["annotations"]["lfh.io/pod-security-exception"]
    # Credentials come from the platform store; the collector may read through it.
    es = named(plan, "ExternalSecret", "log-collector-credentials")
    assert {d["remoteRef"]["property"] for d in es["spec"]["data"]} == {"accessKeyId", "secretAccessKey"}


def test_log_retention_is_config_and_bounded(tmp_path):
    plan = platform_plan(tmp_path, "platform-aws", lambda p: p.update(logging={"retentionDays": 2192}))
    days = {r.inputs["name"]: r.inputs["retentionInDays"] for r in resources_of(plan, "aws:cloudwatch/logGroup:LogGroup")
            if "/aws/containerinsights/" in str(r.inputs["name"])}
    assert set(days.values()) == {2192} and len(days) == 4
    with pytest.raises(ConfigError) as err:
        doc = yaml.safe_load((STACKS_DIR / "Pulumi.platform-aws.yaml").read_text())["config"]
        doc["lfh:platform"]["logging"] = {"retentionDays": 90}
        parse_stack_config("platform-aws", doc)
    assert "lfh:platform.logging.retentionDays" in str(err.value)


# ----------------------------------------------------------------------------- secret rotation


def test_rotated_secrets_are_kept_by_the_rotation_schedule(tmp_path):
    plan = plan_with(tmp_path, {"r-staging": client("r", secrets={"rotationDays": 30})})("r-staging")
    (rotation,) = resources_of(plan, "time:index/rotating:Rotating")
    assert rotation.inputs["rotationDays"] == 30
    passwords = {r.name.removeprefix("r-staging-secrets-"): r for r in resources_of(plan, "random:index/randomPassword:RandomPassword")}
    for key in ("jwt-secret", "mongodb-app-hapihub-password", "minio-app-secret-key"):
        assert rotation.urn in passwords[key].property_dependencies["keepers"], key
    for key in ("mongodb-useradmin-password", "minio-root-password"):
        assert "keepers" not in passwords[key].inputs, key


def test_apps_roll_onto_secrets_named_after_the_rotation(plan_of):
    plan = plan_of("demo-prod")
    env = named(plan, "ExternalSecret", f"hapihub-env-{GEN}")
    uri = env["spec"]["target"]["template"]["data"]["MONGO_URI"]
    assert uri.startswith(f"mongodb://hapihub-{GEN}:")
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in named(plan, "Deployment", "hapihub")["spec"]["template"]["spec"]["containers"][0]["env"]
            if "valueFrom" in e}
    assert refs == {f"hapihub-env-{GEN}"}
    (db,) = by_kind(plan, "PerconaServerMongoDB")
    # hapihub's user and the backup canary's, both of the current rotation
    assert [(u["name"], u["passwordSecretRef"]["name"]) for u in db["spec"]["users"]] == [
        (f"hapihub-{GEN}", f"mongodb-app-users-{GEN}"), (f"lfhcanary-{GEN}", f"mongodb-app-users-{GEN}")]


def test_old_mongodb_users_are_dropped_only_after_the_apps_rolled(plan_of):
    plan = plan_of("demo-prod")
    job = named(plan, "Job", f"mongodb-drop-old-users-{GEN}")
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert f'"hapihub": "hapihub-{GEN}"' in script and "dropUser" in script and "process.env.ADMIN_PASSWORD" in script
    (job_r,) = [r for r in resources_of(plan, "kubernetes:batch/v1:Job") if r.name.endswith("drop-old-users")]
    # Pulumi waits for every app's rollout first (depends_on the Apps component = on each of its resources).
    deployments = {r.urn for r in resources_of(plan, "kubernetes:apps/v1:Deployment") if "lfh:client:WebService" in r.urn}
    assert len(deployments) >= 3 and deployments <= set(job_r.dependencies)
    # Its own identity, no API token, and a NetworkPolicy to MongoDB only.
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "mongodb-drop-old-users"
    policy = named(plan, "NetworkPolicy", "allow-mongodb-drop-old-users")["spec"]
    assert [p["podSelector"]["matchLabels"]["app.kubernetes.io/replset"] for rule in policy["egress"] for p in rule["to"]] == ["rs0"]


# ----------------------------------------------------------------------------- data-layer monitoring


def test_mongodb_runs_the_exporter_and_has_alerts_when_monitored(plan_of):
    plan = plan_of("demo-prod")
    (db,) = by_kind(plan, "PerconaServerMongoDB")
    (sidecar,) = db["spec"]["replsets"][0]["sidecars"]
    assert sidecar["image"].startswith("docker.io/percona/mongodb_exporter:")
    assert sidecar["securityContext"]["readOnlyRootFilesystem"] and sidecar["resources"]["requests"]
    assert {e["valueFrom"]["secretKeyRef"]["key"] for e in sidecar["env"]} == {
        "MONGODB_CLUSTER_MONITOR_USER", "MONGODB_CLUSTER_MONITOR_PASSWORD"}
    assert not any("@" in a for a in sidecar["args"])  # no credentials on the command line
    monitor = named(plan, "PodMonitor", "mongodb")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    alerts = {r["alert"] for g in named(plan, "PrometheusRule", "mongodb-alerts")["spec"]["groups"] for r in g["rules"]}
    assert {"MongoDBReplicaSetNoPrimary", "MongoDBReplicationLag", "MongoDBConnectionsHigh", "MongoDBDiskAlmostFull"} <= alerts
    # Prometheus may reach the exporter port through the derived NetworkPolicy.
    ingress = named(plan, "NetworkPolicy", "allow-mongodb")["spec"]["ingress"]
    assert any({"protocol": "TCP", "port": 9216} in rule["ports"] for rule in ingress)
    # HapiHub and Syncd expose /metrics (the template's charts scrape it): ServiceMonitors by default.
    assert named(plan, "ServiceMonitor", "hapihub")["spec"]["endpoints"][0]["path"] == "/metrics"


def test_no_exporter_where_the_platform_runs_no_monitoring(plan_of):
    plan = plan_of("demo-staging")
    (db,) = by_kind(plan, "PerconaServerMongoDB")
    assert "sidecars" not in db["spec"]["replsets"][0]
    assert not by_kind(plan, "PodMonitor") and not by_kind(plan, "PrometheusRule")


def test_mongodb_alert_thresholds_come_from_config(tmp_path):
    plan = plan_with(tmp_path, {"t-production": client("t", env="production", platformStack="organization/lfh/platform-aws",
                                                                mongodb={"replicationLagAlertSeconds": 120})},
                     platform="platform-aws")("t-production")
    rules = {r["alert"]: r for g in named(plan, "PrometheusRule", "mongodb-alerts")["spec"]["groups"] for r in g["rules"]}
    assert rules["MongoDBReplicationLag"]["expr"].endswith("> 120")
    assert all('namespace="t-production"' in r["expr"] for r in rules.values())


def test_gateway_route_alerts_and_dashboards(plan_of):
    plan = plan_of("platform-aws")
    rules = {r["alert"]: r for g in named(plan, "PrometheusRule", "lfh-gateway-alerts")["spec"]["groups"] for r in g["rules"]}
    err = rules["GatewayRouteErrorRateHigh"]["expr"]
    assert 'envoy_response_code_class="5"' in err and '"namespace", "$1", "envoy_cluster_name", "httproute/([^/]+)/.*"' in err
    assert err.count("> 0.05") == 1 and "GatewayRouteLatencyHigh" in rules
    monitor = named(plan, "PodMonitor", "envoy-proxies")
    assert monitor["spec"]["podMetricsEndpoints"][0]["path"] == "/stats/prometheus"
    boards = {m["metadata"]["name"]: m for m in by_kind(plan, "ConfigMap") if m["metadata"].get("labels", {}).get("grafana_dashboard") == "1"}
    assert set(boards) == {"lfh-dashboard-platform", "lfh-dashboard-client", "lfh-dashboard-mongodb"}
    for name, cm in boards.items():
        board = json.loads(cm["data"][f"{name}.json"])
        assert board["panels"] and all(t["expr"] for p in board["panels"] for t in p["targets"])


def test_plan_report_says_where_container_logs_go(plan_of):
    aws = plan_of("platform-aws").sections["cluster"]
    assert aws["data"]["workloadLogs"]["retentionDays"] == 365 and "containerinsights" in aws["data"]["workloadLogs"]["store"]
    local = plan_of("platform-local").sections["cluster"]
    assert any("keep `logs/` ≥ 365 d" in line for line in local["text"])


def test_minio_app_key_rotates_as_a_new_user_and_the_old_ones_are_dropped_after_the_apps(plan_of):
    plan = plan_of("demo-staging")  # minio mode (existing cluster)
    (release,) = [r for r in resources_of(plan, "kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "minio"]
    (user,) = release.inputs["values"]["users"]
    assert (user["accessKey"], user["existingSecret"]) == (f"hapihub-{GEN}", f"minio-app-user-{GEN}")
    env = named(plan, "ExternalSecret", f"hapihub-env-{GEN}")["spec"]["target"]["template"]["data"]
    assert env["S3_ACCESS_KEY_ID"] == f"hapihub-{GEN}"
    hapihub = next(r for r in resources_of(plan, "kubernetes:apps/v1:Deployment") if r.name.endswith("-hapihub-deployment"))
    assert release.urn in hapihub.dependencies  # the new user exists before the pods roll onto it
    job = named(plan, "Job", f"minio-drop-old-keys-{GEN}")
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert f'KEEP="hapihub-{GEN}"' in script and "admin user rm" in script and "hapihub|hapihub-r[0-9]*)" in script
    (job_r,) = [r for r in resources_of(plan, "kubernetes:batch/v1:Job") if r.name.endswith("drop-old-keys")]
    assert hapihub.urn in job_r.dependencies
