"""The core platform stack as the plan engine records it: dependency chain, gateway limits, storage
and backup schedules, chart pins, optional monitoring, Pod Security levels, sizing."""
from __future__ import annotations

import copy
from collections import deque
from pathlib import Path

import pytest
import yaml

from lfh import STACKS_DIR
from tests.graph import SSO
from lfh.charts import CHARTS, chart_for
from lfh.config import ConfigError
from lfh.config.loader import load_stack_file
from lfh.plan import Engine, analyze
from lfh.plan.model import Plan

#: API group -> the chart whose release installs that group's CRDs.
CRD_OWNER = {
    "gateway.networking.k8s.io": "envoy-gateway",  # Gateway API CRDs: from the envoy-gateway chart only
    "gateway.envoyproxy.io": "envoy-gateway",
    "cert-manager.io": "cert-manager",
    "external-secrets.io": "external-secrets",
    "longhorn.io": "longhorn",
    "velero.io": "velero",
    "monitoring.coreos.com": "kube-prometheus-stack",
    "argoproj.io": "argo-cd",
}
CORE = {"apiVersion", "kind"}


def _variant(tmp_dir: Path, changes: dict, stack: str = "platform-local") -> Engine:
    """An Engine over a copy of the stack file with ``changes`` deep-merged into `lfh:platform`."""
    doc = yaml.safe_load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text())

    def merge(dst: dict, src: dict) -> None:
        for k, v in src.items():
            if isinstance(v, dict) and isinstance(dst.get(k), dict):
                merge(dst[k], v)
            else:
                dst[k] = copy.deepcopy(v)

    merge(doc["config"]["lfh:platform"], changes)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    (tmp_dir / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(doc))
    return Engine(stacks_dir=tmp_dir)


FULL = {  # production: Longhorn, monitoring with receivers, an extra domain, a blocklist, SSO
    "environment": "production",
    "cluster": {"nodeCapabilities": ["iscsi", "cryptsetup"]},
    "gitops": {"adminEnabled": False, **SSO},
    "storage": {"useClusterStorageClass": False},
    "gateway": {"extraDomains": ["other.example.org"], "blockedCidrs": ["203.0.113.0/24"]},
    "monitoring": {"receivers": [
        {"name": "ops-slack", "kind": "slack", "url": {"secure": "v1:slack"}, "channel": "#ops"},
        {"name": "pager", "kind": "pagerduty", "url": {"secure": "v1:pd"}, "severity": "critical"}]},
}


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Plan:
    return analyze(_variant(tmp_path_factory.mktemp("full"), FULL).plan("platform-local"))


@pytest.fixture(scope="module")
def no_monitoring(tmp_path_factory) -> Plan:
    changes = copy.deepcopy(FULL)
    changes["monitoring"]["enabled"] = False
    return analyze(_variant(tmp_path_factory.mktemp("nomon"), changes).plan("platform-local"))


@pytest.fixture(scope="module")
def local(plan_of) -> Plan:
    return plan_of("platform-local")


def manifests(plan: Plan, kind: str) -> list[dict]:
    return [m for _, m in plan.manifests() if m["kind"] == kind]


def one(plan: Plan, kind: str, name: str) -> dict:
    found = [m for m in manifests(plan, kind) if m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def release_values(plan: Plan, key: str) -> dict:
    rel = [h for _, h in plan.helm_releases() if (c := chart_for(h["chart"], h["repository"])) and c.key == key]
    assert len(rel) == 1, f"release of {key}: {len(rel)} found"
    return rel[0]["values"]


# ------------------------------------------------------------------ dependency chain


def crs_without_path_to_crd(plan: Plan) -> list[str]:
    """Custom resources with no depends_on/parent path to the release that installs their CRD."""
    by_urn = plan.by_urn()
    releases = {}
    for r, h in plan.helm_releases():
        c = chart_for(h["chart"], h["repository"])
        if c is not None:
            releases[c.key] = r.urn
    bad = []
    for r, m in plan.manifests():
        group = m["apiVersion"].split("/")[0] if "/" in m["apiVersion"] else ""
        owner = CRD_OWNER.get(group)
        if owner is None:
            continue
        target = releases.get(owner)
        seen, queue, ok = {r.urn}, deque([r.urn]), False
        while queue and not ok:
            node = by_urn.get(queue.popleft())
            if node is None:
                continue
            for nxt in [*node.dependencies, node.parent]:
                if nxt == target:
                    ok = True
                    break
                if nxt and nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        if not ok:
            bad.append(f"{m['kind']}/{m['metadata']['name']} (needs {owner})")
    return bad


@pytest.mark.parametrize("which", ["local", "full"])
def test_every_custom_resource_depends_on_the_release_installing_its_crd(which, local, full):
    plan = {"local": local, "full": full}[which]
    assert crs_without_path_to_crd(plan) == []
    assert len([1 for _, m in plan.manifests() if m["apiVersion"].split("/")[0] in CRD_OWNER]) >= 15


def test_dependency_check_catches_a_missing_edge(full):
    broken = copy.deepcopy(full)
    gw = next(r for r in broken.resources if r.type.endswith(":Gateway") and r.custom)
    gw.dependencies, gw.parent = [], ""
    assert any(x.startswith("Gateway/shared-gateway") for x in crs_without_path_to_crd(broken))


def test_cert_manager_waits_for_the_gateway_api_crds(full):
    by_name = {r.name: r for r in full.resources}
    cm = by_name["core-certificates-cert-manager"]
    assert by_name["core-gateway-envoy-gateway"].urn in cm.dependencies  # Gateway API CRDs first


# ------------------------------------------------------------------ gateway


def test_gateway_limits_are_explicit(full):
    ctp = one(full, "ClientTrafficPolicy", "shared-client-traffic")["spec"]
    assert ctp["connection"]["bufferLimit"] == "50Mi"
    assert ctp["timeout"]["http"]["streamIdleTimeout"] == "3600s"
    assert ctp["clientIPDetection"]["xForwardedFor"]["numTrustedHops"] == 0
    headers = {h["name"]: h["value"] for h in ctp["headers"]["lateResponseHeaders"]["set"]}
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Server" in ctp["headers"]["lateResponseHeaders"]["remove"]
    btp = one(full, "BackendTrafficPolicy", "shared-backend-traffic")["spec"]
    assert btp["timeout"]["http"]["requestTimeout"] == "60s"
    rule = btp["rateLimit"]["local"]["rules"][0]
    assert rule["clientSelectors"][0]["sourceCIDR"]["type"] == "Distinct"  # per client IP
    assert rule["limit"] == {"requests": 300, "unit": "Minute"}
    patches = one(full, "EnvoyPatchPolicy", "shared-hcm-limits")["spec"]["jsonPatches"]
    header_kb = {p["operation"]["value"] for p in patches if p["operation"]["path"] == "max_request_headers_kb"}
    assert header_kb == {96}
    assert {p["name"] for p in patches} == {"envoy-gateway-system/shared-gateway/http", "envoy-gateway-system/shared-gateway/https"}
    assert release_values(full, "envoy-gateway")["config"]["envoyGateway"]["extensionApis"]["enableEnvoyPatchPolicy"] is True
    sp = one(full, "SecurityPolicy", "shared-security")["spec"]["authorization"]
    assert sp["rules"][0]["principal"]["clientCIDRs"] == ["203.0.113.0/24"]


def test_gateway_limits_follow_config(tmp_path):
    plan = _variant(tmp_path, {"gateway": {"requestBodyLimit": "10Mi", "maxRequestHeadersKb": 128,
                                           "trustedHops": 1, "rateLimitPerClient": 50}}).plan("platform-local")
    ctp = one(plan, "ClientTrafficPolicy", "shared-client-traffic")["spec"]
    assert ctp["connection"]["bufferLimit"] == "10Mi"
    assert ctp["clientIPDetection"]["xForwardedFor"]["numTrustedHops"] == 1
    assert one(plan, "BackendTrafficPolicy", "shared-backend-traffic")["spec"]["rateLimit"]["local"]["rules"][0]["limit"]["requests"] == 50
    assert {p["operation"]["value"] for p in one(plan, "EnvoyPatchPolicy", "shared-hcm-limits")["spec"]["jsonPatches"]
            if p["operation"]["path"] == "max_request_headers_kb"} == {128}


def test_shared_gateway_listeners_and_routes(full):
    gw = one(full, "Gateway", "shared-gateway")["spec"]
    names = [lst["name"] for lst in gw["listeners"]]
    assert len(names) == len(set(names))
    assert len({lst.get("hostname") for lst in gw["listeners"]}) == len(names)
    http = next(lst for lst in gw["listeners"] if lst["name"] == "http")
    assert http["port"] == 80 and http["allowedRoutes"]["namespaces"]["from"] == "Same"
    https = [lst for lst in gw["listeners"] if lst["protocol"] == "HTTPS"]
    assert [lst["hostname"] for lst in https] == ["*.local.example.com", "*.other.example.org"]
    for lst in https:
        sel = lst["allowedRoutes"]["namespaces"]
        assert sel["from"] == "Selector" and sel["selector"]["matchLabels"] == {"lfh.io/client-namespace": "true"}
    redirect = one(full, "HTTPRoute", "https-redirect")["spec"]
    assert redirect["parentRefs"][0]["sectionName"] == "http"
    assert redirect["rules"][0]["filters"][0]["requestRedirect"]["scheme"] == "https"
    proxy = one(full, "EnvoyProxy", "shared-proxy")["spec"]["provider"]["kubernetes"]
    assert proxy["envoyDeployment"]["replicas"] == 2
    assert proxy["envoyDeployment"]["pod"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert proxy["envoyPDB"]["minAvailable"] == 1
    assert release_values(full, "envoy-gateway")["deployment"]["replicas"] == 2
    assert release_values(full, "envoy-gateway")["podDisruptionBudget"]["minAvailable"] == 1
    assert full.outputs["gateway"]["listeners"] == {"*.local.example.com": "https", "*.other.example.org": "https-1"}
    assert full.outputs["gateway"]["httpListener"] == "http"
    hosts = {m["metadata"]["name"]: m["spec"]["hostnames"] for m in manifests(full, "HTTPRoute") if "hostnames" in m["spec"]}
    assert hosts == {"argocd": ["argocd.local.example.com"], "grafana": ["grafana.local.example.com"]}


# ------------------------------------------------------------------ storage and backups


def test_longhorn_recurring_jobs_and_classes(full):
    jobs = {m["metadata"]["name"]: m["spec"] for m in manifests(full, "RecurringJob")}
    assert {n: (j["task"], j["cron"], j["retain"]) for n, j in jobs.items()} == {
        "snapshot-hourly": ("snapshot", "0 * * * *", 72),
        "backup-daily": ("backup", "30 2 * * *", 30),
        "backup-weekly": ("backup", "0 4 * * 0", 12),
    }
    classes = {m["metadata"]["name"]: m for m in manifests(full, "StorageClass")}
    default = classes["longhorn"]
    assert default["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert default["reclaimPolicy"] == "Retain" and default["allowVolumeExpansion"] is True
    assert default["parameters"]["numberOfReplicas"] == "3"
    enc = classes["longhorn-encrypted"]
    assert enc["parameters"]["encrypted"] == "true"
    assert enc["parameters"]["csi.storage.k8s.io/node-stage-secret-name"] == "longhorn-crypto"
    es = one(full, "ExternalSecret", "longhorn-crypto")["spec"]
    assert es["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "platform-secrets"}
    bucket = full.config.platform.cluster.backup_bucket
    assert release_values(full, "longhorn")["defaultBackupStore"]["backupTarget"] == f"s3://{bucket}@us-east-1/longhorn/"
    assert full.outputs["storageClasses"] == {"default": "longhorn", "encrypted": "longhorn-encrypted", "cloud": "local-path"}


def test_local_platform_uses_the_cluster_storage_class(local):
    assert not manifests(local, "RecurringJob") and not manifests(local, "StorageClass")
    assert all(chart_for(h["chart"], h["repository"]).key != "longhorn" for _, h in local.helm_releases())
    assert local.outputs["storageClasses"] == {"default": "local-path", "encrypted": "local-path", "cloud": "local-path"}


def test_velero_locations_schedules_and_plugin(full):
    bsl = {m["metadata"]["name"]: m["spec"] for m in manifests(full, "BackupStorageLocation")}
    assert set(bsl) == {"default", "archive"}
    assert bsl["default"]["default"] is True and bsl["archive"]["default"] is False
    assert bsl["default"]["provider"] == "aws"  # s3-compatible store: the AWS (S3 API) plugin
    assert bsl["default"]["config"]["s3ForcePathStyle"] == "true"
    assert bsl["default"]["objectStorage"]["prefix"] == "daily/velero"  # the lifecycle's daily tier
    assert bsl["archive"]["objectStorage"]["prefix"] == "archive/velero"
    schedules = {m["metadata"]["name"]: m["spec"] for m in manifests(full, "Schedule")}
    assert schedules["platform-daily"]["template"]["storageLocation"] == "default"
    assert schedules["platform-daily"]["template"]["includeClusterResources"] is True
    assert schedules["platform-daily"]["template"]["ttl"] == "720h"
    assert schedules["platform-weekly"]["template"]["storageLocation"] == "archive"
    assert schedules["platform-weekly"]["template"]["ttl"] == "2160h"
    values = release_values(full, "velero")
    assert [c["image"] for c in values["initContainers"]] == ["velero/velero-plugin-for-aws:v1.14.2"]
    assert values["deployNodeAgent"] is True
    assert values["configuration"]["defaultSnapshotMoveData"] is True
    assert values["configuration"]["features"] == "EnableCSI"
    assert full.outputs["backups"]["locations"] == {"default": "default", "archive": "archive"}


# ------------------------------------------------------------------ releases


def test_a_chart_version_override_reaches_the_release_and_warns(tmp_path):
    plan = analyze(_variant(tmp_path, {"chartVersions": {"velero": "12.1.1"}}).plan("platform-local"))
    velero = next(r for r, h in plan.helm_releases() if h["chart"] == "velero")
    assert velero.inputs["version"] == "12.1.1"
    # The override warns; a version neither the chart cache nor ../shared/upstream holds cannot be
    # rendered, and that is an error, never a silent skip.
    assert sorted((f.check, f.severity) for f in plan.findings if "12.1.1" in f.message) == [
        ("helm-render", "error"), ("helm-values", "warning")]


@pytest.mark.parametrize("which", ["local", "full"])
def test_releases_are_pinned_atomic_and_explicit(which, local, full):
    plan = {"local": local, "full": full}[which]
    assert plan.helm_releases()
    for r, h in plan.helm_releases():
        c = chart_for(h["chart"], h["repository"])
        assert c is not None and h["version"] == CHARTS[c.key].version, r.name
        assert r.inputs["atomic"] is True and r.inputs.get("skipAwait") is not True, r.name
        assert r.provider, r.name
        assert r.inputs.get("createNamespace") is False


def test_cert_manager_installs_crds_and_issuers(full):
    values = release_values(full, "cert-manager")
    assert values["crds"]["enabled"] is True
    assert values["config"]["enableGatewayAPI"] is True
    issuers = {m["metadata"]["name"]: m["spec"] for m in manifests(full, "ClusterIssuer")}
    assert set(issuers) == {"letsencrypt-staging", "letsencrypt-prod", "selfsigned", "internal-ca"}
    solver = issuers["letsencrypt-prod"]["acme"]["solvers"][0]["http01"]["gatewayHTTPRoute"]["parentRefs"][0]
    assert solver["name"] == "shared-gateway" and solver["sectionName"] == "http"
    assert issuers["internal-ca"]["ca"]["secretName"] == "lfh-internal-ca"


def test_argocd_ha_readonly_and_tls_to_backend(full):
    values = release_values(full, "argo-cd")
    for part in ("controller", "server", "repoServer"):
        assert values[part]["replicas"] >= 2
    assert values["redis-ha"]["enabled"] is True and values["redis"]["enabled"] is False
    assert values["configs"]["rbac"]["policy.default"] == "role:readonly"
    assert "params" not in values["configs"]  # never server.insecure
    assert one(full, "BackendTLSPolicy", "argocd-server")["spec"]["validation"]["hostname"] == "argo-cd-argocd-server.argocd.svc"


# ------------------------------------------------------------------ monitoring


def test_monitoring_defaults_per_environment():
    cfg, _, _ = load_stack_file(STACKS_DIR / "Pulumi.platform-local.yaml")
    assert cfg.platform.environment.value == "staging" and cfg.platform.monitoring.enabled is False


def test_monitoring_stack(full):
    values = release_values(full, "kube-prometheus-stack")
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "15d"
    assert spec["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert values["grafana"]["admin"]["existingSecret"] == "grafana-admin"
    receivers = {r["name"] for r in values["alertmanager"]["config"]["receivers"]}
    assert receivers == {"null", "ops-slack", "pager"}
    assert "slack:" not in str(values) and "[secret]" not in str(values)  # URLs come from a mounted Secret
    alerts = {r["alert"] for g in one(full, "PrometheusRule", "lfh-platform-alerts")["spec"]["groups"] for r in g["rules"]}
    assert {"VeleroBackupMissingDaily", "VeleroBackupFailed", "CertificateExpiringSoon", "PersistentVolumeFillingUp",
            "PodCrashLooping", "DeploymentReplicasUnavailable", "LonghornVolumeDegraded", "NodeNotReady"} <= alerts
    assert full.outputs["monitoring"]["enabled"] is True
    assert full.outputs["monitoring"]["serviceMonitorLabels"] == {"release": "kube-prometheus-stack"}
    secret = one(full, "Secret", "grafana-admin")
    assert secret["stringData"] == {"admin-user": "[secret]", "admin-password": "[secret]"}


def test_disabling_monitoring_removes_it_cleanly(full, no_monitoring):
    def is_monitoring(r) -> bool:
        return ("monitoring" in r.urn.split("::")[-2].lower() or "Monitoring" in r.type)

    with_urns = {r.urn for r in full.resources}
    without_urns = {r.urn for r in no_monitoring.resources}
    removed = with_urns - without_urns
    assert removed and all(is_monitoring(r) for r in full.resources if r.urn in removed)
    assert without_urns <= with_urns  # nothing new appears
    assert not any(is_monitoring(r) for r in no_monitoring.resources)
    assert not [m for _, m in no_monitoring.manifests() if m["apiVersion"].startswith("monitoring.coreos.com")]
    assert not [m for _, m in no_monitoring.manifests() if m["metadata"].get("namespace") == "monitoring"]
    # Only Velero's repository password (and the self-contained store's own secrets) is generated
    # without monitoring (Grafana's goes with it).
    assert [r.name for r in no_monitoring.of_type("random:index/randomPassword:RandomPassword")
            if not r.name.startswith("core-self-contained-")] == ["core-backups-repository-password"]
    assert no_monitoring.outputs["monitoring"] == {"enabled": False}
    hosts = [h for m in manifests(no_monitoring, "HTTPRoute") for h in m["spec"].get("hostnames", [])]
    assert hosts == ["argocd.local.example.com"]


# ------------------------------------------------------------------ namespaces, config, sizing


def test_namespace_pod_security_levels(full):
    levels = {m["metadata"]["name"]: m["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
              for m in manifests(full, "Namespace")}
    assert levels == {"external-secrets": "restricted", "envoy-gateway-system": "restricted",
                      "cert-manager": "restricted", "longhorn-system": "privileged", "argocd": "restricted",
                      "velero": "privileged", "monitoring": "privileged",
                      # self-contained (platform-local): the locked secret store and the backup store
                      "lfh-platform-secrets": "restricted", "lfh-backup-store": "restricted",
                      # An existing cluster brings no log agent: the Fluent Bit collector reads /var/log.
                      "logging": "privileged"}
    for m in manifests(full, "Namespace"):
        labels = m["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/warn"] == "restricted"
        if labels["pod-security.kubernetes.io/enforce"] != "restricted":
            assert m["metadata"]["annotations"]["lfh.io/pod-security-exception"]


def test_dns01_on_existing_cluster_needs_a_solver(tmp_path):
    with pytest.raises(ConfigError) as err:
        _variant(tmp_path, {"certificates": {"solver": "dns01"}}).plan("platform-local")
    assert any("lfh:platform" in line and "dns01Solver" in line for line in err.value.lines)


def test_sizing_section_sums_rendered_requests(full, local):
    """The add-on sums are the rendered pods' requests (× replicas) and the operators' pods."""
    from lfh import cost

    data = full.sections["platformSizing"]["data"]
    # gateway: the rendered controller Deployment, 2 × 100m, + 2 Envoy pods × (250m + 10m shutdown-manager)
    assert data["byAddon"]["gateway"]["cpu"] == pytest.approx(0.72)
    # certificates: controller, webhook, cainjector, 2 replicas each, 50m (startupapicheck is a hook: transient)
    assert data["byAddon"]["certificates"]["cpu"] == pytest.approx(0.3)
    # monitoring: at least 2 Prometheus × 500m + 2 Alertmanager × 100m + the operator's 100m
    assert data["byAddon"]["monitoring"]["cpu"] >= 1.3 - 1e-9
    ws = {(w.kind, w.name): w for w in cost.sizing(full).workloads}
    prom = ws[("Prometheus", "kube-prometheus-stack-prometheus")]
    assert prom.replicas == 2 and prom.pod.cpu_requests >= 0.5 and prom.source == "Helm release monitoring/kube-prometheus-stack"
    assert data["cpu"] == pytest.approx(sum(a["cpu"] for a in data["byAddon"].values()))
    # DaemonSets per node: at least longhorn-manager 250m + velero node agent 100m + the log collector 100m
    # (existing cluster: no cloud agent)
    assert data["perNode"]["cpu"] >= 0.45 - 1e-9
    assert ws[("DaemonSet", "longhorn-manager")].per_node and ws[("DaemonSet", "node-agent")].per_node
    assert data["perNodeCpuShare"] == {"storage: longhorn instance-manager (guaranteedInstanceManagerCPU)": 0.12}
    assert data["seedBase"] == {"cpu": 3.0, "memoryGiB": 7.0} and "chartDefaults" not in data
    assert "vs seed shared base ~3 CPU / 7 GiB" in full.sections["platformSizing"]["text"][0]
    assert "monitoring" not in local.sections["platformSizing"]["data"]["byAddon"]
    # Every rendered container without requests is named (and nothing else).
    from lfh.plan.images import containers, pod_spec
    from lfh.plan.render import cluster_objects

    def requested(c) -> set:  # a limit without a request is the request (Kubernetes defaults it)
        res = c.get("resources") or {}
        return set(res.get("requests") or {}) | set(res.get("limits") or {})

    bare = {(o.name, c.get("name")) for o in cluster_objects(full) if o.rendered
            for _, c in containers(pod_spec(o.obj) or {}) if not requested(c) >= {"cpu", "memory"}}
    named = {(entry.split(") ")[0].split("/", 1)[1].split(" (")[0], entry.rsplit(" ", 1)[1])
             for entry in data["withoutRequests"] if " container " in entry}
    assert bare == named


def test_a_container_without_requests_is_named_and_counted_as_zero(tmp_path):
    """cert-manager's cainjector with no resources value: 0 in the sums, named in the section."""
    from lfh.charts import CHARTS
    from lfh.plan.model import HELM_RELEASE_TYPE, Resource
    from lfh.plan.platform_sizing import analyze as size

    c = CHARTS["cert-manager"]
    release = Resource(urn="urn:pulumi:platform-x::lfh::kubernetes:helm.sh/v3:Release::cert-manager", type=HELM_RELEASE_TYPE,
                       name="cert-manager", parent="", provider="p", dependencies=[], inputs={
                           "name": "cert-manager", "namespace": "cert-manager", "chart": c.chart, "version": c.version,
                           "repositoryOpts": {"repo": c.repository}, "values": {
                               "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                               "webhook": {"resources": {"requests": {"cpu": "20m", "memory": "32Mi"}}}}})
    plan = Plan(stack="platform-x", role="platform", resources=[release], outputs={}, secret_outputs=[])
    size(plan)
    data = plan.sections["platformSizing"]["data"]
    assert data["byAddon"]["certificates"]["cpu"] == pytest.approx(0.05 + 0.02)
    assert "certificates: Deployment/cert-manager-cainjector (cert-manager) container cert-manager-cainjector" in data["withoutRequests"]
    assert not [w for w in data["withoutRequests"] if "Deployment/cert-manager " in w]


def test_dns01_issues_wildcard_certificates(tmp_path):
    solver = {"cloudflare": {"apiTokenSecretRef": {"name": "cloudflare-token", "key": "token"}}}
    plan = analyze(_variant(tmp_path, {"certificates": {"solver": "dns01", "dns01Solver": solver, "publicIssuer": "letsencrypt-staging",
                                                        "dnsZones": ["local.example.com"]}}).plan("platform-local"))
    acme = one(plan, "ClusterIssuer", "letsencrypt-prod")["spec"]["acme"]["solvers"][0]
    assert acme == {"dns01": solver, "selector": {"dnsZones": ["local.example.com"]}}
    cert = one(plan, "Certificate", "wildcard-local-example-com-tls")["spec"]
    assert cert["dnsNames"] == ["*.local.example.com", "local.example.com"]
    assert cert["issuerRef"]["name"] == "letsencrypt-staging"  # platform-local asks for the staging issuer


def test_http01_certificates_name_the_platform_hosts(tmp_path, local):
    acme = _variant(tmp_path, {"certificates": {"publicIssuer": "letsencrypt-staging"}}).plan("platform-local")
    cert = one(acme, "Certificate", "wildcard-local-example-com-tls")["spec"]
    assert cert["dnsNames"] == ["argocd.local.example.com"]
    # The internal CA (platform-local's issuer) signs the wildcards without any challenge.
    assert one(local, "Certificate", "wildcard-local-example-com-tls")["spec"]["dnsNames"] == ["*.local.example.com", "local.example.com"]


def test_platform_store_is_closed_to_client_namespaces(local):
    store = one(local, "ClusterSecretStore", "platform-secrets")["spec"]
    assert "kubernetes" in store["provider"]
    allowed = store["conditions"][0]["namespaces"]
    assert "velero" in allowed and not any(ns.startswith("client") for ns in allowed)


def test_without_a_secret_store_nothing_reads_one(tmp_path):
    doc = yaml.safe_load((STACKS_DIR / "Pulumi.platform-local.yaml").read_text())
    # An existing cluster that is not self-contained and names no secret manager.
    doc["config"]["lfh:platform"]["cluster"]["selfContained"] = False
    doc["config"]["lfh:platform"]["storage"] = {"useClusterStorageClass": False}
    (tmp_path / "Pulumi.platform-local.yaml").write_text(yaml.safe_dump(doc))
    plan = Engine(stacks_dir=tmp_path).plan("platform-local")
    assert not manifests(plan, "ClusterSecretStore") and not manifests(plan, "ExternalSecret")
    # No dm-crypt key: the encrypted role falls back to the cluster's class instead of a class whose
    # volumes would never provision.
    assert [m["metadata"]["name"] for r, m in plan.manifests()
            if m["kind"] == "StorageClass" and not r.type.endswith("Patch")] == ["longhorn"]
    assert plan.outputs["storageClasses"]["encrypted"] == "local-path"
    # The operator provides the bucket credentials under the names the releases expect.
    assert release_values(plan, "velero")["credentials"]["existingSecret"] == "velero-credentials"
    assert release_values(plan, "longhorn")["defaultBackupStore"]["backupTargetCredentialSecret"] == "longhorn-backup-credentials"
    assert crs_without_path_to_crd(plan) == []


def test_backup_ttl_cannot_outlive_the_bucket_lifecycle(tmp_path):
    with pytest.raises(ConfigError) as err:
        _variant(tmp_path, {"backups": {"defaultTtl": "1000h"}}, stack="platform-aws").plan("platform-aws")
    assert err.value.lines == ["lfh:platform.backups.defaultTtl: 1000h outlives the bucket lifecycle "
                               "(cluster.backup.dailyExpireDays: 30 days); keep it at most 720h"]


@pytest.mark.parametrize("stack", ["platform-aws", "platform-azure", "platform-gcp"])
def test_cloud_platforms(stack, plan_of):
    plan = plan_of(stack)
    assert crs_without_path_to_crd(plan) == []
    conformance = {"explicit-provider", "k8s-schema", "crd-schema", "helm-values", "upstream-missing"}
    assert [f.message for f in plan.findings if f.check in conformance] == []
    # DNS-01 from the contract: wildcard certificates for the platform domain.
    domain = plan.config.platform.domain
    cert = one(plan, "Certificate", f"wildcard-{domain.replace('.', '-')}-tls")["spec"]
    assert cert["dnsNames"] == [f"*.{domain}", domain]
    assert "dns01" in one(plan, "ClusterIssuer", "letsencrypt-prod")["spec"]["acme"]["solvers"][0]
    # Cloud identities, not keys: no credential ExternalSecrets for Velero; the plugin follows the flavour.
    assert not [m for m in manifests(plan, "ExternalSecret") if m["metadata"]["name"] == "velero-credentials"]
    flavour = plan.outputs["backups"]["flavour"]
    plugin = release_values(plan, "velero")["initContainers"][0]["image"]
    assert {"s3": "aws", "azure-blob": "microsoft-azure", "gcs": "gcp"}[flavour] in plugin
    # Add-ons run on the system pool; node agents tolerate every pool.
    assert release_values(plan, "external-secrets")["nodeSelector"] == {"lfh.io/pool": "system"}
    assert plan.sections["platformSizing"]["data"]["byAddon"]["monitoring"]["cpu"] > 0


@pytest.mark.parametrize("stack", ["platform-aws", "platform-azure", "platform-gcp"])
def test_add_on_namespaces_wait_for_the_cluster_to_be_ready(stack, plan_of):
    plan = plan_of(stack)
    by_urn = plan.by_urn()
    namespaces = [r for r in plan.of_type("kubernetes:core/v1:Namespace") if r.name.startswith("core-")]
    assert len(namespaces) == 7
    for ns in namespaces:
        # node pools / managed add-ons of the cluster target, not just other Kubernetes objects
        cloud_deps = [d for d in ns.dependencies if d in by_urn and not by_urn[d].type.startswith("kubernetes:")]
        assert cloud_deps, f"{ns.name} does not wait for the cluster's node pools"


@pytest.mark.parametrize("stack, name", [("platform-aws", "aws/platform/longhorn-crypto"),
                                         ("platform-azure", "azure--platform--longhorn-crypto"),
                                         ("platform-gcp", "gcp__platform__longhorn-crypto")])
def test_platform_secret_names_follow_the_secret_manager(stack, name, plan_of):
    es = one(plan_of(stack), "ExternalSecret", "longhorn-crypto")["spec"]
    assert es["data"] == [{"secretKey": "CRYPTO_KEY_VALUE", "remoteRef": {"key": name, "property": "passphrase"}}]


def test_our_secrets_keep_their_keys_and_mask_each_value(full, tmp_path):
    """A Secret whose stringData is secret as a whole is still written as a Secret: its keys (the
    program's own) with "[secret]" per value — never `stringData: "[secret]"`, which is not one."""
    from lfh.plan.output import write_plan

    assert one(full, "Secret", "alertmanager-receivers")["stringData"] == {"ops-slack": "[secret]", "pager": "[secret]"}
    assert one(full, "Secret", "grafana-admin")["stringData"] == {"admin-user": "[secret]", "admin-password": "[secret]"}
    write_plan(full, tmp_path)
    written = yaml.safe_load((tmp_path / "manifests" / "monitoring__secret__grafana-admin.yaml").read_text())
    assert written["stringData"] == {"admin-user": "[secret]", "admin-password": "[secret]"}
    assert "v1:slack" not in (tmp_path / "resources.json").read_text()
