"""Satellite apps (WebService configurations) and several hostnames per app, with CORS and the external address."""
from __future__ import annotations

import pytest

from lfh.config import ConfigError, parse_stack_config

from client_apps_helpers import by_kind, client, named, plan_with
from lfh.plan.fakes import ROTATION_BASE_UNIX

GEN = f"r{ROTATION_BASE_UNIX}"  # the fake rotation generation (secrets.py names rotated objects after it)

NS_LABEL = "kubernetes.io/metadata.name"



def _env(plan, deployment: str) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom"))
            for e in named(plan, "Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]["env"]}


def _peers(rules: list[dict]) -> list[dict]:
    return [peer for rule in rules for peer in rule.get("to", rule.get("from", []))]


def _pod_peer(policy: dict, name: str) -> bool:
    return any((p.get("podSelector") or {}).get("matchLabels", {}).get("app.kubernetes.io/name") == name
               for p in _peers(policy["spec"].get("egress", []) + policy["spec"].get("ingress", [])))


# ------------------------------------------------------------------ acme-prod's satellite


def test_satellite_gets_deployment_route_pdb_policy_and_sizing(plan_of):
    plan = plan_of("acme-prod")
    dep = named(plan, "Deployment", "myaccount")
    pod = dep["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "ghcr.io/mycurelabs/myaccount:1.0.1"
    assert pod["securityContext"]["runAsUser"] == 101 and pod["serviceAccountName"] == "myaccount"
    assert dep["spec"]["replicas"] == 2            # production default, like the apps
    pdb = named(plan, "PodDisruptionBudget", "myaccount")
    assert pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    route = named(plan, "HTTPRoute", "myaccount")
    assert route["spec"]["hostnames"] == ["account.acme-health.com"]
    assert route["spec"]["rules"][0]["backendRefs"][0] == {"group": "", "kind": "Service", "name": "myaccount",
                                                           "port": 8080, "weight": 1}
    # Its own NetworkPolicy: the gateway may reach its port; it reaches nothing (it declared nothing).
    policy = named(plan, "NetworkPolicy", "allow-myaccount")
    assert policy["spec"]["podSelector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    assert [r["from"] for r in policy["spec"]["ingress"]] == [[{"namespaceSelector": {"matchLabels": {NS_LABEL: "envoy-gateway-system"}}}]]
    assert "egress" not in policy["spec"]
    assert not _pod_peer(named(plan, "NetworkPolicy", "allow-mongodb"), "myaccount")
    # Sizing and cost count it.
    rows = {w["name"]: w for w in plan.sections["clientSizing"]["data"]["workloads"]}
    assert rows["myaccount"]["replicas"] == 2 and rows["myaccount"]["cpu"] == pytest.approx(0.1)
    assert not plan.errors


def test_second_hostname_is_routed_certified_and_a_cors_origin(plan_of):
    plan = plan_of("acme-prod")
    routes = {r["metadata"]["name"]: r for r in by_kind(plan, "HTTPRoute")}
    portal = routes["mycureapp-portal-acme-health-com"]
    assert portal["spec"]["hostnames"] == ["portal.acme-health.com"]
    assert portal["spec"]["rules"][0]["backendRefs"][0]["name"] == "mycureapp"
    assert routes["mycureapp"]["spec"]["hostnames"] == ["app.acme-health.com"]
    # Each own-domain hostname has its own listener, all served by the client's certificate.
    (listener_set,) = by_kind(plan, "ListenerSet")
    listeners = {lst["hostname"]: lst for lst in listener_set["spec"]["listeners"]}
    (cert,) = by_kind(plan, "Certificate")
    for host in ("portal.acme-health.com", "account.acme-health.com", "app.acme-health.com"):
        assert host in cert["spec"]["dnsNames"]
        assert listeners[host]["tls"]["certificateRefs"][0]["name"] == cert["spec"]["secretName"]
    section = portal["spec"]["parentRefs"][0]["sectionName"]
    assert listeners["portal.acme-health.com"]["name"] == section
    # HapiHub answers the browser origins of every frontend hostname, and knows its own address.
    env = _env(plan, "hapihub")
    assert env["CORS_ORIGINS"].split(",") == ["https://app.acme-health.com", "https://portal.acme-health.com",
                                              "https://account.acme-health.com"]
    assert env["EXTERNAL_ADDRESS"] == "https://api.acme-health.com"
    assert _env(plan, "mycureapp")["VUE_APP_API_URL"] == "https://api.acme-health.com"
    assert set(plan.outputs["hostnames"]) >= {"portal.acme-health.com", "account.acme-health.com"}


def test_extra_hostname_under_a_platform_wildcard_uses_the_platform_listener(tmp_path):
    apps = {"mycureapp": {"extraHostnames": ["portal-w.local.example.com"]}, "syncd": {"enabled": False},
            "hapihub": {"extraCorsOrigins": ["https://www.w.example.org"]}}
    plan = plan_with(tmp_path, {"w-staging": client("w", apps=apps)})("w-staging")
    route = named(plan, "HTTPRoute", "mycureapp-portal-w-local-example-com")
    assert route["spec"]["parentRefs"][0]["sectionName"] == "https"
    own = {lst["hostname"] for g in by_kind(plan, "Gateway") for lst in g["spec"]["listeners"]}
    assert "portal-w.local.example.com" not in own
    assert _env(plan, "hapihub")["CORS_ORIGINS"].split(",") == [
        "https://app.w.example.org", "https://portal-w.local.example.com", "https://www.w.example.org"]


# ------------------------------------------------------------------ what a satellite may reach


def test_a_satellite_reaches_what_it_declares_and_nothing_else(tmp_path):
    sats = {
        "reports": {"image": "ghcr.io/mycurelabs/reports", "tag": "1.0.0", "reaches": ["mongodb", "hapihub"],
                    "database": "reports", "expose": False},
        "docs": {"image": "ghcr.io/mycurelabs/hapihub-docs", "tag": "1.1.0"},
    }
    stack = client("sat", apps={"satellites": sats}, mongodb={"databases": ["hapihub", "reports"]})
    plan = plan_with(tmp_path, {"sat-staging": stack})("sat-staging")
    policies = {p["metadata"]["name"]: p for p in by_kind(plan, "NetworkPolicy")}
    reports, docs = policies["allow-reports"], policies["allow-docs"]
    # Declared: MongoDB (both sides name the peer) and HapiHub (HapiHub admits it on its port only).
    assert _pod_peer(reports, "hapihub")
    assert any(p.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/replset") == "rs0"
               for p in _peers(reports["spec"]["egress"]))
    assert _pod_peer(policies["allow-hapihub"], "reports")
    mongo_ingress = [r for r in policies["allow-mongodb"]["spec"]["ingress"]
                     if any((p.get("podSelector") or {}).get("matchLabels", {}).get("app.kubernetes.io/name") == "reports" for p in r["from"])]
    assert mongo_ingress and mongo_ingress[0]["ports"] == [{"protocol": "TCP", "port": 27017}]
    # Its own database user, never HapiHub's.
    uri = next(es for es in by_kind(plan, "ExternalSecret") if es["metadata"]["name"] == f"reports-env-{GEN}")
    assert f"mongodb://reports-{GEN}:" in uri["spec"]["target"]["template"]["data"]["MONGO_URI"]
    # Not exposed: no route, no gateway ingress.
    assert "reports" not in {r["metadata"]["name"] for r in by_kind(plan, "HTTPRoute")}
    assert not any("namespaceSelector" in p for p in _peers(reports["spec"].get("ingress", [])))
    # Undeclared: docs reaches no data service and no app, and none of them admits it.
    assert "egress" not in docs["spec"]
    for peer in ("allow-mongodb", "allow-hapihub", "allow-minio", "allow-reports"):
        assert not _pod_peer(policies[peer], "docs"), peer
    assert not plan.errors


@pytest.mark.parametrize("sat, extra, key, message", [
    ({"reaches": ["search"]}, {}, "apps.satellites.x1.reaches[0]", "'search' is not enabled"),
    ({"reaches": ["payments"]}, {}, "apps.satellites.x1.reaches[0]", "allowed: mongodb, objectStorage, hapihub, mycureapp, syncd"),
    ({"reaches": ["x1"]}, {}, "apps.satellites.x1.reaches[0]", "is not a data service or enabled app"),
    ({"database": "nope", "reaches": ["mongodb"]}, {}, "apps.satellites.x1.database", "is not in mongodb.databases"),
    ({"tag": "latest"}, {}, "apps.satellites.x1.tag", "never `latest`"),
    ({"runAsUser": 0}, {}, "apps.satellites.x1.runAsUser", "must be at least 1"),
    ({"hostname": "api.x.example.org"}, {}, "apps.satellites.x1.hostname", "already routed to apps.hapihub"),
])
def test_bad_satellite_config_names_the_key(sat, extra, key, message):
    cfg = client("x", apps={"satellites": {"x1": {"image": "ghcr.io/a/b", "tag": "1.0.0", **sat}}}, **extra)
    with pytest.raises(ConfigError) as exc:
        parse_stack_config("x-staging", {"lfh:client": cfg})
    (line,) = exc.value.lines
    assert line.startswith(f"lfh:client.{key}: ") and message in line, line


def test_satellite_names_and_hostnames_do_not_collide():
    for sats, key in (({"minio": {"image": "ghcr.io/a/b", "tag": "1"}}, "lfh:client.apps.satellites.minio"),
                      ({"hapihub": {"image": "ghcr.io/a/b", "tag": "1"}}, "lfh:client.apps.satellites.hapihub")):
        with pytest.raises(ConfigError) as exc:
            parse_stack_config("x-staging", {"lfh:client": client("x", apps={"satellites": sats})})
        assert exc.value.lines[0].startswith(f"{key}: is a name the stack uses")
    with pytest.raises(ConfigError) as exc:
        parse_stack_config("x-staging", {"lfh:client": client("x", apps={"mycureapp": {"extraHostnames": ["sync.x.example.org"]}})})
    assert exc.value.lines == ["lfh:client.apps.syncd.hostname: sync.x.example.org is already routed to apps.mycureapp"]


def test_production_satellites_are_ha():
    sat = {"image": "ghcr.io/a/b", "tag": "1.0.0", "replicas": 1}
    with pytest.raises(ConfigError) as exc:
        parse_stack_config("x-production", {"lfh:client": client("x", "production", apps={"satellites": {"s": sat}})})
    assert exc.value.lines == ["lfh:client.apps.satellites.s.replicas: production needs at least 2 replicas (got 1)"]


def test_a_satellite_that_reaches_the_cloud_bucket_gets_its_own_identity(tmp_path):
    import json

    sat = {"image": "ghcr.io/mycurelabs/reports", "tag": "1.0.0", "reaches": ["objectStorage"]}
    stack = client("b", "production", platformStack="organization/lfh/platform-aws",
                   apps={"syncd": {"enabled": False}, "satellites": {"reports": sat}}, objectStorage={"mode": "cloud"})
    plan = plan_with(tmp_path, {"b-prod": stack}, platform="platform-aws")("b-prod")
    def trusted(role) -> str:
        condition = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
        return next(v for k, v in condition.items() if k.endswith(":sub"))

    roles = {trusted(r) for r in plan.resources if r.type == "aws:iam/role:Role" and r.name.endswith("-files-role")}
    assert roles == {"system:serviceaccount:b-production:hapihub", "system:serviceaccount:b-production:reports"}
    sa = named(plan, "ServiceAccount", "reports")
    assert "eks.amazonaws.com/role-arn" in sa["metadata"]["annotations"]
    env = _env(plan, "reports")
    assert env["S3_BUCKET"] == _env(plan, "hapihub")["S3_BUCKET"] and "MONGO_URI" not in env
    # MyCureApp doesn't reach the bucket: no identity.
    assert not (named(plan, "ServiceAccount", "mycureapp")["metadata"].get("annotations") or {})
    assert not plan.errors, [f.message for f in plan.errors]


def test_the_quota_check_counts_satellites_and_workers(tmp_path):
    big = {"requests": {"cpu": "6", "memory": "8Gi"}, "limits": {"cpu": "6", "memory": "8Gi"}}
    stacks = {
        "q-staging": client("q", apps={"satellites": {"big": {"image": "ghcr.io/a/b", "tag": "1.0.0", "resources": big}}}),
        "r-staging": client("r", apps={"hapihub": {"workers": {"w": {"resources": big}}}}),
        "ok-staging": client("ok"),
    }
    plan_of = plan_with(tmp_path, stacks)
    for stack in ("q-staging", "r-staging"):
        # staging quota: 12 CPU requested; 6 CPU more (+ a surge pod of 6 during a rollout) no longer fit.
        assert [f for f in plan_of(stack).errors if f.check == "client-sizing" and "requests.cpu" in f.message], stack
    assert not plan_of("ok-staging").errors


def test_an_extra_hostname_cannot_take_minios_public_host():
    with pytest.raises(ConfigError) as exc:
        parse_stack_config("x-staging", {"lfh:client": client("x", objectStorage={"mode": "minio"},
                                                              apps={"mycureapp": {"extraHostnames": ["storage.x.example.org"]}})})
    assert exc.value.lines == ["lfh:client.apps.mycureapp.extraHostnames[0]: storage.x.example.org is already routed to objectStorage.hostname"]
