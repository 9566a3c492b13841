"""HTTPRoutes, hostnames, timeouts, TLS and the custom resources' schemas."""
from __future__ import annotations

import jsonschema
import pytest

from client_apps_helpers import CLIENT_STACKS, by_kind, client, crd_schemas, plan_with

from components.client.routes import covered_by_wildcard


def _routes(plan):
    return {r["metadata"]["name"]: r for r in by_kind(plan, "HTTPRoute")}


def test_routes_on_the_shared_gateway(plan_of):
    plan = plan_of("demo-prod")
    routes = _routes(plan)
    hosts = {n: r["spec"]["hostnames"] for n, r in routes.items()}
    assert {"hapihub": ["api.demo.example.com"], "mycureapp": ["app.demo.example.com"],
            "syncd": ["sync.demo.example.com"]}.items() <= hosts.items()
    assert set(hosts) <= {"hapihub", "mycureapp", "syncd", "storage"}   # + MinIO's presigned downloads
    # demo.example.com is not a platform gateway domain: each host gets its own exact-hostname listener,
    # in the client's own ListenerSet on the shared Gateway (never the Gateway's own 64-listener list)
    assert by_kind(plan, "Gateway") == []
    (ls,) = by_kind(plan, "ListenerSet")
    assert ls["metadata"] == {**ls["metadata"], "name": "demo-production", "namespace": "envoy-gateway-system"}
    assert ls["spec"]["parentRef"] == {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "shared-gateway"}
    listeners = {lst["name"]: lst for lst in ls["spec"]["listeners"]}
    for r in routes.values():
        (parent,) = r["spec"]["parentRefs"]
        assert parent["kind"] == "ListenerSet" and parent["name"] == "demo-production"
        assert parent["namespace"] == "envoy-gateway-system"
        lst = listeners[parent["sectionName"]]
        assert lst["hostname"] == r["spec"]["hostnames"][0] and lst["protocol"] == "HTTPS" and lst["port"] == 443
        assert lst["allowedRoutes"]["namespaces"]["selector"]["matchLabels"] == {"kubernetes.io/metadata.name": "demo-production"}
    (cert,) = by_kind(plan, "Certificate")
    assert cert["metadata"]["namespace"] == "envoy-gateway-system"
    assert sorted(cert["spec"]["dnsNames"]) == sorted(lst["hostname"] for lst in listeners.values())
    assert {lst["tls"]["certificateRefs"][0]["name"] for lst in listeners.values()} == {cert["spec"]["secretName"]}
    assert routes["hapihub"]["spec"]["rules"][0]["backendRefs"][0]["port"] == 7500
    assert routes["mycureapp"]["spec"]["rules"][0]["backendRefs"][0]["port"] == 80
    assert routes["hapihub"]["spec"]["rules"][0]["timeouts"] == {"request": "60s"}
    # WebSockets: no request or backend timeout; idle connections end at the gateway's stream idle timeout
    assert routes["syncd"]["spec"]["rules"][0]["timeouts"] == {"request": "0s", "backendRequest": "0s"}


@pytest.mark.parametrize("stack", CLIENT_STACKS)
def test_custom_resources_match_their_crds(plan_of, stack):
    plan = plan_of(stack)
    schemas = crd_schemas()
    checked = 0
    for _, m in plan.manifests():
        key = (m["apiVersion"], m["kind"])
        if key in schemas:
            # Not `jsonschema.validate`: it first checks the schema itself, and prometheus-operator's CRDs hold
            # Go-only regexes (PrometheusRule `partial_response_strategy: ^(?i)(abort|warn)?$`) Python rejects.
            jsonschema.validators.validator_for(schemas[key])(schemas[key]).validate(m)
            checked += 1
    assert checked >= 6


def test_hostname_override_and_certificate(tmp_path):
    plan_of = plan_with(tmp_path, {"h-staging": client("h", apps={"hapihub": {"hostname": "api.h-health.com"},
                                                                    "syncd": {"enabled": False}})})
    plan = plan_of("h-staging")
    assert _routes(plan)["hapihub"]["spec"]["hostnames"] == ["api.h-health.com"]
    (cert,) = by_kind(plan, "Certificate")
    assert {"api.h-health.com", "app.h.example.org"} <= set(cert["spec"]["dnsNames"])
    assert "sync.h.example.org" not in cert["spec"]["dnsNames"]


def test_wildcard_cover():
    assert covered_by_wildcard("api.local.example.com", ["*.local.example.com"])
    assert not covered_by_wildcard("api.demo.local.example.com", ["*.local.example.com"])
    assert not covered_by_wildcard("api.other.com", ["*.local.example.com"])


def test_appproject_confined_to_namespace(plan_of):
    plan = plan_of("demo-prod")
    (proj,) = by_kind(plan, "AppProject")
    assert proj["metadata"]["namespace"] == "argocd"
    assert proj["spec"]["destinations"] == [{"server": "https://kubernetes.default.svc", "namespace": "demo-production"}]
    assert proj["spec"]["clusterResourceWhitelist"] == []
    assert {"group": "networking.k8s.io", "kind": "NetworkPolicy"} in proj["spec"]["namespaceResourceBlacklist"]


def test_wildcard_covered_hosts_use_the_platform_listener(tmp_path):
    covered = {"hapihub": {"hostname": "api-w.local.example.com"}, "mycureapp": {"hostname": "app-w.local.example.com"},
               "syncd": {"hostname": "sync-w.local.example.com"}}
    plan_of = plan_with(tmp_path, {"w-staging": client("w", apps=covered)})
    w = plan_of("w-staging")
    apps = [r for r in by_kind(w, "HTTPRoute") if r["metadata"]["name"] in covered]
    assert len(apps) == 3 and {r["spec"]["parentRefs"][0]["sectionName"] for r in apps} == {"https"}
    certified = {h for c in by_kind(w, "Certificate") for h in c["spec"]["dnsNames"]}
    own = {lst["hostname"] for g in by_kind(w, "ListenerSet") for lst in g["spec"]["listeners"]}
    assert not (certified | own) & {h["hostname"] for h in covered.values()}
    assert {r["spec"]["parentRefs"][0]["kind"] for r in apps} == {"Gateway"}
