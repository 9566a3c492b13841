"""Client stacks on cloud platforms: acme-prod's shape, isolation of identities, paths and buckets."""
from __future__ import annotations

import json


from client_apps_helpers import by_kind, client, plan_with


def _policies(plan):
    return {p["metadata"]["name"]: p["spec"] for p in by_kind(plan, "NetworkPolicy")}


def test_acme_prod_cloud_storage_search_on_syncd_off(plan_of):
    plan = plan_of("acme-prod")
    names = {(m["kind"], m["metadata"]["name"]) for _, m in plan.manifests()}
    assert not [n for n in names if "syncd" in n[1] or "minio" in n[1]]
    assert ("StatefulSet", "typesense") in names
    policies = _policies(plan)
    assert "allow-syncd" not in policies and "allow-minio" not in policies
    typesense_pods = policies["allow-typesense"]["podSelector"]
    hapihub = policies["allow-hapihub"]
    assert {"to": [{"podSelector": typesense_pods}], "ports": [{"protocol": "TCP", "port": 8108}]} in hapihub["egress"]
    assert {"from": [{"podSelector": hapihub["podSelector"]}], "ports": [{"protocol": "TCP", "port": 8108}]} in \
        policies["allow-typesense"]["ingress"]
    # the bucket role is HapiHub's alone
    sas = {s["metadata"]["name"]: s for s in by_kind(plan, "ServiceAccount")}
    assert "eks.amazonaws.com/role-arn" in sas["hapihub"]["metadata"].get("annotations", {})
    assert not sas["mycureapp"]["metadata"].get("annotations")
    env = {e["name"] for d in by_kind(plan, "Deployment") if d["metadata"]["name"] == "hapihub"
           for e in d["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert {"S3_BUCKET", "TYPESENSE_URL", "MONGO_URI", "JWT_SECRET", "TYPESENSE_API_KEY"} <= env
    assert not [r for r in by_kind(plan, "HTTPRoute") if r["metadata"]["name"] == "storage"]


def _secret_paths(plan) -> set[str]:
    paths = {d["remoteRef"]["key"] for es in by_kind(plan, "ExternalSecret") for d in es["spec"].get("data", [])}
    paths |= {r.inputs["name"] for r in plan.resources if r.type == "aws:secretsmanager/secret:Secret"}
    return paths


def _identities(plan) -> set[str]:
    return {v for sa in by_kind(plan, "ServiceAccount") for v in (sa["metadata"].get("annotations") or {}).values()}


def _buckets(plan) -> set[str]:
    return {r.inputs["bucket"] for r in plan.resources if r.type == "aws:s3/bucket:Bucket"}


def test_clients_and_environments_share_no_secret_path_identity_or_bucket(tmp_path):
    cloud = {"objectStorage": {"mode": "cloud"}}
    plan_of = plan_with(tmp_path, {
        "alpha-production": client("alpha", "production", platformStack="organization/lfh/platform-aws", **cloud),
        "beta-production": client("beta", "production", platformStack="organization/lfh/platform-aws", **cloud),
        "alpha-staging": client("alpha", "staging", platformStack="organization/lfh/platform-aws", **cloud),
    }, platform="platform-aws")
    plans = {s: plan_of(s) for s in ("alpha-production", "beta-production", "alpha-staging")}
    for getter in (_secret_paths, _identities, _buckets):
        found = {s: getter(p) for s, p in plans.items()}
        for s, values in found.items():
            assert values, f"{getter.__name__}: nothing found for {s}"
        stacks = sorted(found)
        for i, a in enumerate(stacks):
            for b in stacks[i + 1:]:
                assert not found[a] & found[b], f"{getter.__name__}: {a} and {b} share {found[a] & found[b]}"
    for s, p in plans.items():
        client_name, env = s.split("-")
        assert all(f"/{client_name}/{env}/" in path for path in _secret_paths(p)), s


def test_service_monitor_when_the_platform_monitors(tmp_path):
    plan_of = plan_with(tmp_path, {
        "mon-production": client("mon", "production", platformStack="organization/lfh/platform-aws",
                                 apps={"hapihub": {"metricsPath": "/metrics"}}),
    }, platform="platform-aws")
    plan = plan_of("mon-production")
    monitors = {m["metadata"]["name"]: m for m in by_kind(plan, "ServiceMonitor")}
    # HapiHub and Syncd scrape `/metrics` by default (the template's charts); MyCureApp serves static files.
    assert set(monitors) == {"hapihub", "syncd"}
    sm = monitors["hapihub"]
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert sm["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
    ingress = _policies(plan)["allow-hapihub"]["ingress"]
    assert {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
            "ports": [{"protocol": "TCP", "port": 7500}]} in ingress
    # MyCureApp has no metrics path: no ServiceMonitor, no monitoring rule
    assert not [r for r in _policies(plan)["allow-mycureapp"]["ingress"] if "monitoring" in json.dumps(r)]


def test_gke_workload_identity_reaches_the_metadata_server(tmp_path):
    plan_of = plan_with(tmp_path, {
        "g-production": client("g", "production", platformStack="organization/lfh/platform-gcp",
                               objectStorage={"mode": "cloud"}),
    }, platform="platform-gcp")
    egress = _policies(plan_of("g-production"))["allow-hapihub"]["egress"]
    assert {"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}], "ports": [{"protocol": "TCP", "port": 80}]} in egress
