"""Everything the data components hand Kubernetes validates against upstream truth:
built-in kinds against the Kubernetes schemas (kubernetes-validate, strict), custom resources
against the pinned CRDs (unknown fields included), Helm values against the pinned charts' values."""
from __future__ import annotations

import pytest
import yaml

from test_client_data_harness import crd_schema, plan_scenario, schema_errors

SCENARIOS = [
    ("aws", "production", {"search": {"enabled": True}}),
    ("azure", "staging", {}),
    ("gcp", "production", {}),
    ("existing", "production", {"search": {"enabled": True}}),
    ("existing", "staging", {}),
    ("aws", "staging", {"objectStorage": {"mode": "minio"}}),
]
CRDS = {
    ("external-secrets.io/v1", "SecretStore"): "external-secrets/crds.yaml",
    ("external-secrets.io/v1", "ExternalSecret"): "external-secrets/crds.yaml",
    ("psmdb.percona.com/v1", "PerconaServerMongoDB"): "percona-mongodb/crds.yaml",
    ("gateway.envoyproxy.io/v1alpha1", "BackendTrafficPolicy"): "envoy-gateway/crds.yaml",
}
VALUES = {"minio": "minio/values.published-5.4.0.yaml", "psmdb-operator": "percona-mongodb/psmdb-operator/values.yaml"}
#: Values maps that are free-form in the chart (passed through toYaml/omit), so keys are ours to pick.
FREE_FORM = {"podLabels", "environment", "resources", "securityContext", "containerSecurityContext",
             "podSecurityContext", "labels", "annotations", "env"}


def ids(s):
    return f"{s[0]}-{s[1]}-{'+'.join(sorted(s[2])) or 'default'}"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=ids)
def test_custom_resources_match_their_crds(scenario):
    cloud, env, extra = scenario
    plan = plan_scenario(cloud, env, **extra)
    checked = 0
    for r in plan.resources:
        key = (r.inputs.get("apiVersion"), r.inputs.get("kind"))
        if not r.is_kubernetes or key not in CRDS:
            continue
        group_version, k = key
        schema = crd_schema(CRDS[key], k, group_version.rsplit("/", 1)[1])
        obj = {kk: v for kk, v in r.inputs.items() if kk not in ("apiVersion", "kind", "metadata")}
        assert schema_errors(obj, {"type": "object", "properties": {
            kk: v for kk, v in schema["properties"].items() if kk not in ("apiVersion", "kind", "metadata")}}) == [], r.name
        checked += 1
    assert checked >= 3


def test_the_schema_check_catches_unknown_fields():
    schema = crd_schema("percona-mongodb/crds.yaml", "PerconaServerMongoDB", "v1")
    assert schema_errors({"spec": {"image": "x", "backup": {"pitr": {"oplogSpanMinutes": 5}}}}, schema)
    assert schema_errors({"spec": {"image": "x", "replsets": [{"size": "3"}]}}, schema)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=ids)
def test_builtin_objects_validate_strictly(scenario):
    import kubernetes_validate

    cloud, env, extra = scenario
    plan = plan_scenario(cloud, env, **extra)
    checked = 0
    for r in plan.resources:
        obj = r.manifest()
        if obj is None or (obj["apiVersion"], obj["kind"]) in CRDS:
            continue
        # Secret payloads are masked in the recording (the whole map is one secret input).
        for field in ("data", "stringData"):
            if obj.get(field) == "[secret]":
                obj = {**obj, field: {"masked": "x"}}
        kubernetes_validate.validate(obj, "1.33.0", strict=True)
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize("scenario", SCENARIOS, ids=ids)
def test_helm_values_exist_in_the_pinned_charts(scenario):
    from lfh.upstream import upstream_dir

    cloud, env, extra = scenario
    plan = plan_scenario(cloud, env, **extra)
    releases = [r.helm_release() for r in plan.resources if r.helm_release()]
    assert releases
    for rel in releases:
        upstream = yaml.safe_load((upstream_dir() / VALUES[rel["chart"]]).read_text())
        assert _unknown_keys(rel["values"], upstream) == [], rel["chart"]


#: Keys the pinned chart's templates read although its values.yaml does not list them
#: (minio 5.4.0 templates/post-job.yaml: `make*Job.containerSecurityContext`).
TEMPLATE_ONLY = {f"{job}.containerSecurityContext" for job in (
    "makePolicyJob", "makeUserJob", "makeBucketJob", "makeServiceAccountJob", "customCommandJob")}


def _unknown_keys(values: dict, upstream: dict, path: str = "") -> list[str]:
    out = []
    for k, v in values.items():
        if f"{path}{k}" in TEMPLATE_ONLY:
            continue
        if k not in upstream:
            out.append(f"{path}{k}")
        elif isinstance(v, dict) and isinstance(upstream[k], dict) and upstream[k] and k not in FREE_FORM:
            out += _unknown_keys(v, upstream[k], f"{path}{k}.")
    return out
