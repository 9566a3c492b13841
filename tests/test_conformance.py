"""Conformance checks: each one catches a deliberately broken object, and passes a correct one.

Synthetic plans (Plan/Resource built by hand) exercise each check; the real platform-local plan
must come out clean.
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from lfh import STACKS_DIR
from lfh.config import ConfigError, load_stack_file
from lfh.plan import conformance
from lfh.plan.conformance import (
    EXTRA_VALUE_KEYS,
    analyze,
    check_crd_schema,
    check_explicit_provider,
    check_helm_values,
    check_k8s_schema,
    unknown_value_keys,
)
from lfh.plan.model import HELM_RELEASE_TYPE, SECRET, Plan, Resource
from lfh.plan.schemas import Validator, unknown_keywords
from lfh.plan.upstream_index import CrdIndex, k8s_validator, k8s_versions, nearest_k8s_version
from lfh.upstream import charts_index, upstream_dir

UPSTREAM = upstream_dir()
needs_upstream = pytest.mark.skipif(UPSTREAM is None, reason="../shared/upstream is absent")
PROVIDER = "urn:pulumi:t::lfh::pulumi:providers:kubernetes::k8s::id"


# ---------------------------------------------------------------- builders


def _resource(obj: dict, provider: str = PROVIDER, type_: str | None = None) -> Resource:
    group, _, version = obj["apiVersion"].rpartition("/")
    type_ = type_ or f"kubernetes:{group or 'core'}/{version}:{obj['kind']}"
    name = obj["metadata"]["name"]
    return Resource(urn=f"urn:pulumi:t::lfh::{type_}::{name}", type=type_, name=name, parent="",
                    provider=provider, dependencies=[], inputs=obj)


def _release(chart: str, repo: str, version: str, values: dict, name: str = "rel") -> Resource:
    inputs = {"name": name, "namespace": "ns", "chart": chart, "version": version,
              "repositoryOpts": {"repo": repo}, "values": values}
    return Resource(urn=f"urn:pulumi:t::lfh::{HELM_RELEASE_TYPE}::{name}", type=HELM_RELEASE_TYPE, name=name,
                    parent="", provider=PROVIDER, dependencies=[], inputs=inputs)


def _plan(*resources: Resource, k8s: str = "1.33", config=None, role: str = "platform") -> Plan:
    return Plan(stack="t", role=role, resources=list(resources), outputs={}, secret_outputs=[],
                config=config, kubernetes_version=k8s)


def deployment() -> dict:
    labels = {"app.kubernetes.io/name": "web"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "demo", "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "web", "image": "nginx:1.27.0",
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}},
                    }],
                },
            },
        },
    }


def httproute() -> dict:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "api", "namespace": "demo", "labels": {"app.kubernetes.io/name": "api"}},
        "spec": {
            "parentRefs": [{"name": "gateway", "namespace": "gateway", "sectionName": "https"}],
            "hostnames": ["api.demo.example.com"],
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [{"name": "api", "port": 8080}],
            }],
        },
    }


def _only(findings, check: str, severity: str | None = None):
    return [f for f in findings if f.check == check and (severity is None or f.severity == severity)]


# ---------------------------------------------------------------- k8s-schema


def test_correct_deployment_has_no_findings():
    assert check_k8s_schema(_plan(_resource(deployment()))) == []


def test_unknown_field_in_deployment_is_an_error_naming_the_path():
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "IfNotPresent"
    findings = check_k8s_schema(_plan(_resource(obj)))
    assert [f.severity for f in findings] == ["error"]
    msg = findings[0].message
    assert findings[0].check == "k8s-schema"
    assert "Deployment/web" in msg and "spec.template.spec.containers[0].imagePullPolicyy" in msg
    assert "unknown field" in msg and "imagePullPolicy'?" in msg
    assert findings[0].urn.endswith("::web")


def test_wrong_type_and_missing_required_field_in_builtin_object():
    obj = deployment()
    obj["spec"]["replicas"] = "two"
    del obj["spec"]["selector"]
    messages = [f.message for f in check_k8s_schema(_plan(_resource(obj)))]
    assert any("spec.replicas: expected integer, got string" in m for m in messages)
    assert any("spec.selector: required field 'selector' is missing" in m for m in messages)


def test_masked_secrets_are_not_judged():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": SECRET,
              "stringData": {"password": SECRET}}
    assert check_k8s_schema(_plan(_resource(secret))) == []
    secret["data"] = "plain"
    assert check_k8s_schema(_plan(_resource(secret)))


def test_removed_api_version_is_an_error():
    obj = {"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget",
           "metadata": {"name": "web"}, "spec": {"minAvailable": 1}}
    findings = check_k8s_schema(_plan(_resource(obj)))
    assert len(findings) == 1 and "has no PodDisruptionBudget in policy/v1beta1" in findings[0].message


def test_patch_resources_may_omit_required_fields():
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 3}}
    patch = _resource(obj, type_="kubernetes:apps/v1:DeploymentPatch")
    assert check_k8s_schema(_plan(patch)) == []
    assert check_k8s_schema(_plan(_resource(obj)))  # the full object must have its selector/template


def test_kubernetes_version_picks_the_nearest_supported_schema():
    versions = k8s_versions()
    assert "1.33" in versions
    assert nearest_k8s_version("1.33") == "1.33"
    assert nearest_k8s_version("1.99") == versions[-1]
    assert nearest_k8s_version("1.10") == versions[0]
    findings = check_k8s_schema(_plan(_resource(deployment()), k8s="1.99"))
    assert [(f.check, f.severity) for f in findings] == [("k8s-schema", "info")]
    assert versions[-1] in findings[0].message


def _k8s_samples() -> list[dict]:
    good = [
        deployment(),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
         "spec": {"selector": {"a": "b"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo", "labels": {"a": "b"}}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny"},
         "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}},
    ]
    bad = []
    for mutate in (
        lambda o: o["spec"]["template"]["spec"]["containers"][0].update(imagePullPolicyy="Always"),
        lambda o: o["spec"].update(replicas="2"),
        lambda o: o["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(containerPort="80"),
        lambda o: o["metadata"].update(labels={"a": 1}),
        lambda o: o["spec"]["template"]["spec"].update(containers=[{"image": "x:1"}]),
        lambda o: o["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"].update(port=[80]),
    ):
        obj = deployment()
        mutate(obj)
        bad.append(obj)
    bad.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": 1}})
    bad.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "d"}, "spek": {}})
    return [(o, True) for o in good] + [(o, False) for o in bad]


@pytest.mark.parametrize("obj,valid", _k8s_samples())
def test_fast_validator_agrees_with_kubernetes_validate(obj, valid):
    """Our validator reads kubernetes-validate's schemas; the package itself is the oracle."""
    import kubernetes_validate

    try:
        kubernetes_validate.validate(copy.deepcopy(obj), "1.33", strict=True)
        oracle = True
    except kubernetes_validate.ValidationError:
        oracle = False
    ours = k8s_validator("1.33", obj["apiVersion"], obj["kind"]).is_valid(obj)
    assert (ours, oracle) == (valid, valid)


def test_bundled_kubernetes_schemas_use_only_keywords_the_validator_evaluates():
    from lfh.plan.upstream_index import k8s_definitions

    for version in (k8s_versions()[0], "1.33", k8s_versions()[-1]):
        assert unknown_keywords({"$defs": k8s_definitions(version)}) == set()


# ---------------------------------------------------------------- crd-schema


@needs_upstream
def test_correct_httproute_has_no_findings():
    assert check_crd_schema(_plan(_resource(httproute()))) == []


@needs_upstream
def test_wrong_field_in_custom_resource_is_an_error():
    obj = httproute()
    rule = obj["spec"]["rules"][0]
    rule["backendRef"] = rule.pop("backendRefs")
    findings = check_crd_schema(_plan(_resource(obj)))
    assert [(f.check, f.severity) for f in findings] == [("crd-schema", "error")]
    msg = findings[0].message
    assert "HTTPRoute/api" in msg and "spec.rules[0].backendRef: unknown field" in msg
    assert "backendRefs'?" in msg and "gateway-api/crds.yaml" in msg


@needs_upstream
def test_wrong_type_in_custom_resource_is_an_error():
    obj = httproute()
    obj["spec"]["rules"][0]["backendRefs"][0]["port"] = "8080"
    obj["spec"]["hostnames"] = "api.demo.example.com"
    messages = [f.message for f in check_crd_schema(_plan(_resource(obj)))]
    assert any("spec.rules[0].backendRefs[0].port: expected integer, got string" in m for m in messages)
    assert any("spec.hostnames: expected array, got string" in m for m in messages)


@needs_upstream
def test_custom_resource_without_upstream_crd_is_an_error():
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    # An experimental-channel Gateway API kind: the standard bundle does not have it.
    listener = {"apiVersion": "gateway.networking.x-k8s.io/v1alpha1", "kind": "XListenerSet",
                "metadata": {"name": "l"}, "spec": {}}
    findings = check_crd_schema(_plan(_resource(widget), _resource(listener)))
    assert [f.severity for f in findings] == ["error", "error"]
    assert "no upstream CRD for Widget in example.com" in findings[0].message
    assert "standard-channel Gateway API bundle" in findings[1].message


@needs_upstream
def test_experimental_gateway_api_fields_are_rejected():
    """`retry` and `sessionPersistence` exist only in the experimental channel: we must not rely on them."""
    obj = httproute()
    obj["spec"]["rules"][0]["retry"] = {"attempts": 2}
    obj["spec"]["rules"][0]["sessionPersistence"] = {"type": "Cookie"}
    messages = sorted(f.message for f in check_crd_schema(_plan(_resource(obj))))
    assert len(messages) == 2
    assert "spec.rules[0].retry: unknown field" in messages[0]
    assert "spec.rules[0].sessionPersistence: unknown field" in messages[1]


@needs_upstream
def test_custom_resource_patches_may_omit_required_fields_but_not_invent_fields():
    patch = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
             "metadata": {"name": "shared-gateway", "namespace": "gateway"},
             "spec": {"listeners": [{"name": "a", "protocol": "HTTPS", "port": 443, "hostname": "a.example.com"}]}}
    as_patch = _resource(patch, type_="kubernetes:gateway.networking.k8s.io/v1:GatewayPatch")
    assert check_crd_schema(_plan(as_patch)) == []
    assert any("gatewayClassName" in f.message for f in check_crd_schema(_plan(_resource(patch))))
    patch["spec"]["listeners"][0]["hostnames"] = ["b.example.com"]
    assert [f.severity for f in check_crd_schema(_plan(as_patch))] == ["error"]


@needs_upstream
def test_misspelled_kind_gets_a_suggestion():
    obj = httproute()
    obj["kind"] = "HttpRoute"
    findings = check_crd_schema(_plan(_resource(obj)))
    assert len(findings) == 1 and "no upstream CRD for HttpRoute" in findings[0].message
    assert "did you mean HTTPRoute?" in findings[0].message


@needs_upstream
def test_gateway_api_kinds_come_only_from_the_standard_bundle():
    index = CrdIndex.from_charts_yaml(UPSTREAM)
    bundle = charts_index(str(UPSTREAM))["crd_bundles"]["gateway-api"]["crds"]
    assert index._candidate_files("gateway.networking.k8s.io") == [bundle]
    assert index.find("gateway.networking.k8s.io", "HTTPRoute").source == bundle


@needs_upstream
def test_unserved_crd_version_is_an_error():
    es = {"apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret",
          "metadata": {"name": "db", "namespace": "demo"}, "spec": {}}
    findings = check_crd_schema(_plan(_resource(es)))
    assert len(findings) == 1 and "external-secrets.io/v1beta1 is not served" in findings[0].message


@needs_upstream
def test_every_upstream_crd_schema_uses_only_keywords_the_validator_evaluates():
    index = CrdIndex.from_charts_yaml(UPSTREAM)
    seen = 0
    for rel in index.files:
        entry = index._file_entry(rel)
        for i in range(len(entry["docs"])):
            rec = index._doc(rel, entry, i)
            if rec is None:
                continue
            for version in index._crd(rec, rel).versions.values():
                seen += 1
                assert unknown_keywords(version.schema) == set(), (rel, rec["kind"], version.name)
    index.save()
    assert seen > 30


def test_structural_schema_semantics():
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["port"],
                "properties": {
                    "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "note": {"type": "string", "nullable": True},
                    "size": {"type": "string", "maxLength": 3},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                                 "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                    "mode": {"type": "string", "enum": ["A", "B"]},
                },
                "anyOf": [{"required": ["port"]}, {"required": ["note"]}],
            },
        },
    }
    v = Validator(schema, crd=True)
    ok = {"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n", "anything": {"goes": 1}},
          "spec": {"port": "http", "note": None, "free": {"x": {"y": 1}}, "labels": {"a": "b"},
                   "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"a": "b"}},
                   "mode": "A"}}
    assert v.errors(ok) == []
    assert v.is_valid({**ok, "spec": {**ok["spec"], "port": 8080}})
    bad = copy.deepcopy(ok)
    bad["spec"].update(port=1.5, size="toolong", mode="C", extra=1, labels={"a": 2})
    bad["spec"]["template"]["spec"]["b"] = 1
    del bad["spec"]["template"]["kind"]
    bad["status"] = {}
    where = {e.where: e.message for e in v.errors(bad)}
    assert "integer or a string" in where["spec.port"]
    assert "longer than 3" in where["spec.size"]
    assert "not one of" in where["spec.mode"]
    assert "unknown field" in where["spec.extra"] and "unknown field" in where["status"]
    assert "expected string" in where["spec.labels.a"]
    assert "unknown field" in where["spec.template.spec.b"]
    assert "embedded resource" in where["spec.template.kind"]
    assert "not nullable" in Validator(schema, crd=True).errors(
        {**ok, "spec": {**ok["spec"], "size": None}})[0].message


# ---------------------------------------------------------------- helm-values

CERT_MANAGER = ("cert-manager", "https://charts.jetstack.io", "v1.21.1")


def _cert_manager_values() -> dict:
    return {
        "crds": {"enabled": True},
        "replicaCount": 2,
        "podAnnotations": {"example.com/anything": "x"},  # open map (declared in values.schema.json)
        "resources": {"requests": {"cpu": "50m"}},  # `resources: {}` upstream: open
        "extraArgs": ["--enable-certificate-owner-ref"],  # list items are free-form
        "prometheus": {"enabled": True, "servicemonitor": {"enabled": True}},
        "global": {"leaderElection": {"namespace": "cert-manager"}},
        # A label map with a default entry upstream (kubernetes.io/os: linux) takes any label.
        "nodeSelector": {"kubernetes.io/os": "linux", "lfh.io/pool": "system"},
        "webhook": {"nodeSelector": {"lfh.io/pool": "system"}},
    }


@needs_upstream
def test_correct_helm_values_have_no_findings():
    assert check_helm_values(_plan(_release(*CERT_MANAGER, _cert_manager_values()))) == []


@needs_upstream
def test_unknown_helm_value_key_is_an_error_naming_path_and_parent():
    values = _cert_manager_values()
    values["prometheus"]["servicemonitor"]["enabledd"] = True
    values["webhook"].update({"replicaCount": 2, "hostNetwork": False, "nosuchKey": {"deep": 1}})
    findings = _only(check_helm_values(_plan(_release(*CERT_MANAGER, values))), "helm-values")
    key_findings = [f.message for f in findings if "does not exist" in f.message]
    assert any("'prometheus.servicemonitor.enabledd'" in m and "nearest existing parent: prometheus.servicemonitor" in m
               and "did you mean 'prometheus.servicemonitor.enabled'" in m for m in key_findings)
    assert any("'webhook.nosuchKey'" in m and "nearest existing parent: webhook" in m for m in key_findings)
    assert all(f.severity == "error" for f in findings)


@needs_upstream
def test_subchart_value_keys_are_checked_against_the_subcharts_own_values():
    """`grafana.resources` is the grafana subchart's key (Helm coalesces its values.yaml under
    `grafana`); a misspelt one is still unknown."""
    chart = ("kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts", "88.5.3")
    ok = {"grafana": {"resources": {"requests": {"cpu": "100m"}}, "sidecar": {"resources": {}}},
          "kube-state-metrics": {"resources": {}}, "prometheus-node-exporter": {"resources": {}}}
    assert _only(check_helm_values(_plan(_release(*chart, ok))), "helm-values") == []
    bad = {"grafana": {"resourcez": {}}, "kube-state-metrics": {"nosuch": 1}}
    messages = [f.message for f in _only(check_helm_values(_plan(_release(*chart, bad))), "helm-values")]
    assert any("'grafana.resourcez'" in m and "did you mean 'grafana.resources'" in m for m in messages)
    assert any("'kube-state-metrics.nosuch'" in m for m in messages)


def test_unknown_value_keys_walk():
    upstream = {"a": {"b": 1, "open": {}, "null": None, "list": [{"x": 1}],
                      "nodeSelector": {"kubernetes.io/os": "linux"}}, "s": "text"}
    values = {"a": {"b": 2, "open": {"any": {"thing": 1}}, "null": {"k": 1}, "list": [{"free": 1}], "c": 3,
                    "nodeSelector": {"lfh.io/pool": "system"}},
              "s": {"k": 1}, "top": 1}
    found = {p: parent for p, parent, _ in unknown_value_keys(values, upstream)}
    assert found == {"a.c": "a", "s.k": "s", "top": "(top level)"}
    assert {p for p, _, _ in unknown_value_keys(values, upstream, {"a.c": "why", "top": "why", "s": "why"})} == set()


@needs_upstream
def test_values_violating_values_schema_json_are_errors_but_secrets_are_not_judged():
    values = _cert_manager_values()
    values["replicaCount"] = "two"  # the schema wants a number
    values["webhook"]["timeoutSeconds"] = SECRET  # a secret where a number is wanted: not judged
    findings = check_helm_values(_plan(_release(*CERT_MANAGER, values)))
    assert len(findings) == 1, findings
    assert findings[0].severity == "error" and "values violate cert-manager/values.schema.json" in findings[0].message
    assert "replicaCount" in findings[0].message


@needs_upstream
def test_values_schema_sees_our_values_merged_over_the_chart_defaults():
    """velero's schema requires top-level keys only its values.yaml sets: Helm validates the merge."""
    velero = ("velero", "https://vmware-tanzu.github.io/helm-charts", "12.1.0")
    assert check_helm_values(_plan(_release(*velero, {"snapshotsEnabled": False}))) == []
    findings = check_helm_values(_plan(_release(*velero, {"snapshotsEnabled": "no"})))
    assert len(findings) == 1 and "snapshotsEnabled" in findings[0].message


def test_helm_merge_coalesces_like_helm():
    defaults = {"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": {"f": 1}}
    ours = {"a": {"c": [3]}, "d": None, "e": "scalar"}
    assert conformance.helm_merge(defaults, ours) == {"a": {"b": 1, "c": [3]}, "e": "scalar"}


@needs_upstream
def test_values_that_are_secret_as_a_whole_are_reported_not_passed():
    findings = check_helm_values(_plan(_release(*CERT_MANAGER, SECRET)))
    assert [(f.check, f.severity) for f in findings] == [("helm-values", "warning")]
    assert "NOT checked" in findings[0].message


@needs_upstream
def test_wrong_chart_version_is_an_error():
    findings = check_helm_values(_plan(_release("cert-manager", CERT_MANAGER[1], "v1.20.0", _cert_manager_values())))
    assert [(f.check, f.severity) for f in findings] == [("helm-values", "error")]
    assert "v1.20.0 is not the pinned v1.21.1" in findings[0].message
    assert "lfh:platform.chartVersions.cert-manager" in findings[0].message


def _platform_config_with(tmp_path: Path, chart_versions: dict):
    raw = yaml.safe_load((STACKS_DIR / "Pulumi.platform-local.yaml").read_text())
    raw["config"]["lfh:platform"]["chartVersions"] = chart_versions
    path = tmp_path / "Pulumi.platform-local.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_stack_file(path)[0]


@needs_upstream
def test_overridden_chart_version_is_a_warning(tmp_path):
    cfg = _platform_config_with(tmp_path, {"cert-manager": "v1.20.0"})
    assert cfg.platform.chart_versions == {"cert-manager": "v1.20.0"}
    plan = _plan(_release("cert-manager", CERT_MANAGER[1], "v1.20.0", _cert_manager_values()), config=cfg)
    findings = check_helm_values(plan)
    assert [(f.check, f.severity) for f in findings] == [("helm-values", "warning")]
    assert "overrides the pinned v1.21.1" in findings[0].message
    # An override that does not match what is installed does not excuse it.
    other = _plan(_release("cert-manager", CERT_MANAGER[1], "v1.19.0", _cert_manager_values()), config=cfg)
    assert [f.severity for f in check_helm_values(other)] == ["error"]


@needs_upstream
def test_override_of_an_unknown_chart_is_an_error(tmp_path):
    # The loader refuses it first (exit 2, naming the key) …
    with pytest.raises(ConfigError) as exc:
        _platform_config_with(tmp_path, {"cert-manger": "v1.20.0"})
    assert exc.value.lines[0].startswith("lfh:platform.chartVersions.cert-manger: the key is not a pinned chart")
    # … and the plan check still catches a config built past the loader.
    cfg = _platform_config_with(tmp_path, {})
    cfg.platform.chart_versions = {"cert-manger": "v1.20.0"}
    findings = check_helm_values(_plan(config=cfg))
    assert [f.severity for f in findings] == ["error"]
    assert "lfh:platform.chartVersions.cert-manger: no pinned chart" in findings[0].message


@needs_upstream
def test_chart_from_an_unpinned_repository_is_an_error():
    oci = _release("cert-manager", "oci://quay.io/jetstack/charts", "v1.21.1", {})
    unknown = _release("nginx", "https://charts.bitnami.com/bitnami", "1.0.0", {}, name="nginx")
    findings = check_helm_values(_plan(oci, unknown))
    assert [f.severity for f in findings] == ["error", "error"]
    assert all("is not pinned" in f.message for f in findings)


def test_extra_value_keys_are_justified_and_needed():
    for chart_key, entries in EXTRA_VALUE_KEYS.items():
        assert chart_key in conformance.CHARTS
        for path, reason in entries.items():
            assert len(reason) > 20, (chart_key, path)
            if UPSTREAM is not None:
                entry = charts_index(str(UPSTREAM))["charts"][chart_key]
                from lfh.plan.upstream_index import load_values

                found = list(unknown_value_keys(_nested(path), load_values(UPSTREAM, entry["values"])))
                assert found, f"{chart_key}: {path} exists in values.yaml; the allow-list entry is redundant"


def _nested(dotted: str) -> dict:
    out: dict = {}
    node = out
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = {"x": 1}
    return out


# ---------------------------------------------------------------- explicit-provider


def test_missing_provider_is_an_error():
    findings = check_explicit_provider(_plan(_resource(deployment(), provider="")))
    assert [(f.check, f.severity) for f in findings] == [("explicit-provider", "error")]
    assert check_explicit_provider(_plan(_resource(deployment()))) == []


# ---------------------------------------------------------------- upstream-missing


def test_missing_upstream_folder_is_reported_loudly_not_passed(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LFH_UPSTREAM_DIR", str(tmp_path))
    obj = httproute()
    obj["spec"]["bogus"] = 1
    plan = _plan(_resource(deployment()), _resource(obj), _release(*CERT_MANAGER, {"nosuch": 1}))
    analyze(plan)
    missing = _only(plan.findings, "upstream-missing")
    assert len(missing) == 2 and all(f.severity == "warning" for f in missing)
    assert any("crd-schema" in f.message for f in missing) and any("helm-values" in f.message for f in missing)
    assert all("SKIPPED" in f.message and "LFH_UPSTREAM_DIR" in f.message for f in missing)
    assert not _only(plan.findings, "crd-schema") and not plan.errors
    assert capsys.readouterr().err.count("SKIPPED") == 2
    # Nothing to check still says it skipped (never a silent pass).
    empty = _plan()
    analyze(empty)
    assert len(_only(empty.findings, "upstream-missing")) == 2


def test_a_crd_file_missing_from_the_upstream_folder_is_reported(tmp_path, monkeypatch, capsys):
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    (upstream / "charts.yaml").write_text(yaml.safe_dump({"charts": {}, "crd_bundles": {"w": {"crds": "gone.yaml"}}}))
    monkeypatch.setenv("LFH_UPSTREAM_DIR", str(upstream))
    monkeypatch.setenv("LFH_CACHE_DIR", str(tmp_path / "cache"))
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    findings = check_crd_schema(_plan(_resource(widget)), upstream)
    assert ("crd-schema", "error") in [(f.check, f.severity) for f in findings]
    missing = _only(findings, "upstream-missing", "warning")
    assert len(missing) == 1 and "gone.yaml" in missing[0].message
    assert "gone.yaml" in capsys.readouterr().err


# ---------------------------------------------------------------- the CRD index cache


def test_crd_index_parses_only_needed_documents_and_caches_them(tmp_path, monkeypatch):
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Namespaced",
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object", "properties": {"spec": {"type": "object", "properties": {
                         "size": {"type": "integer", "description": "how big"}}}}}}}]},
    }
    gadget = copy.deepcopy(crd)
    gadget["spec"]["names"]["kind"] = "Gadget"
    (upstream / "crds.yaml").write_text("---\n" + yaml.safe_dump(crd) + "---\n" + yaml.safe_dump(gadget))
    (upstream / "charts.yaml").write_text(yaml.safe_dump({"charts": {}, "crd_bundles": {"w": {"crds": "crds.yaml"}}}))
    monkeypatch.setenv("LFH_CACHE_DIR", str(tmp_path / "cache"))

    cold = CrdIndex(upstream, ["crds.yaml"], {"w": "crds.yaml"})
    found = cold.find("example.com", "Widget")
    cold.save()
    assert found is not None and found.versions["v1"].schema["properties"]["spec"]["properties"]["size"] == {"type": "integer"}
    assert cold.parsed_documents == 1  # the Gadget document was never parsed

    warm = CrdIndex(upstream, ["crds.yaml"], {"w": "crds.yaml"})
    assert warm.find("example.com", "Widget") is not None
    assert warm.parsed_documents == 0  # served from build/cache
    assert warm.find("example.com", "Nothing") is None  # exhaustive fallback before saying "missing"

    # A changed file invalidates the cache.
    crd["spec"]["versions"][0]["name"] = "v2"
    (upstream / "crds.yaml").write_text("---\n" + yaml.safe_dump(crd) + "\n# changed\n")
    changed = CrdIndex(upstream, ["crds.yaml"], {"w": "crds.yaml"})
    assert set(changed.find("example.com", "Widget").versions) == {"v2"}
    assert changed.parsed_documents == 1


def test_crd_check_against_a_synthetic_upstream(tmp_path, monkeypatch):
    """The whole crd-schema path with an upstream folder we control (LFH_UPSTREAM_DIR)."""
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "names": {"kind": "Widget"}, "scope": "Namespaced",
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                        "type": "object", "properties": {"spec": {"type": "object", "properties": {
                            "size": {"type": "integer"}}}}}}}]}}
    (upstream / "crds.yaml").write_text("---\n" + yaml.safe_dump(crd))
    (upstream / "charts.yaml").write_text(yaml.safe_dump({"charts": {}, "crd_bundles": {"w": {"crds": "crds.yaml"}}}))
    monkeypatch.setenv("LFH_UPSTREAM_DIR", str(upstream))
    monkeypatch.setenv("LFH_CACHE_DIR", str(tmp_path / "cache"))
    good = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}}
    bad = copy.deepcopy(good)
    bad["metadata"]["name"] = "b"
    bad["spec"]["size"] = "big"
    plan = _plan(_resource(good), _resource(bad))
    analyze(plan)
    crd_findings = _only(plan.findings, "crd-schema")
    assert len(crd_findings) == 1 and "Widget/b" in crd_findings[0].message
    assert "spec.size: expected integer" in crd_findings[0].message
    assert not _only(plan.findings, "upstream-missing")


# ---------------------------------------------------------------- real plans


@needs_upstream
@pytest.mark.parametrize("stack", ["platform-local", "demo-staging"])
def test_real_stacks_are_conformant(plan_of, stack):
    plan = plan_of(stack)
    assert plan.manifests(), "the stack creates Kubernetes objects"
    ours = {"k8s-schema", "crd-schema", "helm-values", "explicit-provider", "upstream-missing"}
    bad = [f for f in plan.findings if f.check in ours and (f.severity == "error" or f.check == "upstream-missing")]
    assert bad == []
