"""The pack as the Pulumi CLI loads it, its metadata, the constants it duplicates, its docs, and the
offline runner's presentation of resources (what `python -m lfh plan` does with it)."""
from __future__ import annotations

import runpy
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

import pulumi_policy
from lfh import PROJECT_ROOT
from lfh.charts import CHARTS
from lfh.plan.model import Plan, Resource
from lfh.policy_runner import cross_stack_findings, pack, policies, render_docs, run

POLICY_DIR = PROJECT_ROOT / "policy"
pack()  # imports `lfh_policies` from policy/ (as the CLI does), so tests can import its modules
UPSTREAM = PROJECT_ROOT.parent / "shared" / "upstream"


# ----------------------------------------------------------------------------- loadable by the CLI


def test_pulumipolicy_yaml_declares_python_runtime():
    doc = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    runtime = doc["runtime"]
    assert (runtime if isinstance(runtime, str) else runtime["name"]) == "python"
    assert doc.get("description") and doc.get("version")


def test_policy_requirements_pinned_like_the_project():
    def pins(path: Path) -> dict[str, str]:
        out = {}
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if "==" in line:
                name, version = line.split("==")
                out[name.strip().lower().replace("_", "-")] = version.strip()
        return out

    mine, root = pins(POLICY_DIR / "requirements.txt"), pins(PROJECT_ROOT / "requirements.txt")
    assert set(mine) == {"pulumi", "pulumi-policy"}
    assert all(root[k] == v for k, v in mine.items())
    assert pulumi_policy.__name__ and mine["pulumi-policy"] == "1.21.0"


def test_main_constructs_the_pack_with_every_policy(monkeypatch):
    """Run the pack as the CLI does (`python -m pulumi.policy <engine> <pack dir>` does
    `runpy.run_path(<pack dir>)` from inside it), with PolicyPack captured instead of starting a server."""
    captured = {}

    class FakePack:
        def __init__(self, **kwargs):
            captured.update(kwargs)

    monkeypatch.setattr(pulumi_policy, "PolicyPack", FakePack)
    monkeypatch.chdir(POLICY_DIR)
    runpy.run_path(str(POLICY_DIR), run_name="__main__")
    assert captured["name"] == pack().PACK_NAME
    assert [p.name for p in captured["policies"]] == [p.name for p in policies()]
    assert captured["enforcement_level"] == pulumi_policy.EnforcementLevel.MANDATORY


def test_pack_imports_only_pulumi_and_itself():
    """The pack runs in its own venv (pulumi + pulumi-policy only): no project or cloud SDK imports."""
    code = (
        "import sys; sys.path.insert(0, 'policy'); import lfh_policies; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('lfh', 'components', 'pulumi_aws', 'pulumi_kubernetes', "
        "'pulumi_azure_native', 'pulumi_gcp', 'pydantic')]; print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# ----------------------------------------------------------------------------- metadata


def test_at_least_forty_policies_with_full_metadata():
    ps = policies()
    assert len(ps) >= 40
    assert len({p.name for p in ps}) == len(ps)
    for p in ps:
        assert p.description and p.remediation_steps, p.name
        assert isinstance(p.severity, pulumi_policy.Severity), p.name
        assert p.framework is not None and p.framework.name == "HIPAA Security Rule", p.name
        assert p.framework.reference in pack().HIPAA_SAFEGUARDS and p.framework.specification, p.name
        assert pack().DOMAINS[p.name] in ("kubernetes", "aws", "azure", "gcp", "stack"), p.name


def test_mandatory_unless_a_reason_is_written():
    for p in policies():
        if p.enforcement_level != pulumi_policy.EnforcementLevel.MANDATORY:
            assert p.enforcement_level == pulumi_policy.EnforcementLevel.ADVISORY
            assert pack().ADVISORY_REASONS.get(p.name), p.name
        else:
            assert p.name not in pack().ADVISORY_REASONS


def test_every_domain_is_covered():
    counts = Counter(pack().DOMAINS[p.name] for p in policies())
    assert all(counts[d] >= 5 for d in ("kubernetes", "aws", "azure", "gcp", "stack")), counts


def test_config_schemas_have_defaults():
    configured = {p.name: p.config_schema.properties for p in policies() if p.config_schema}
    assert {"aws-log-group-retention", "azure-log-analytics-retention", "k8s-image-registry-allowed",
            "helm-release-allowed-repository"} <= set(configured)
    for name, props in configured.items():
        assert all("default" in spec and spec.get("description") for spec in props.values()), name
    assert configured["aws-log-group-retention"]["minRetentionDays"]["default"] == 90


# ----------------------------------------------------------------------------- duplicated constants


def test_allowed_repositories_equal_the_pinned_charts():
    from lfh_policies.common import CHART_REPOSITORIES

    assert sorted(CHART_REPOSITORIES) == sorted({c.repository for c in CHARTS.values()})


def test_privileged_namespaces_match_the_platform_components():
    """The documented exceptions are the namespaces the core platform really makes privileged."""
    import ast

    from lfh_policies.common import DEFAULT_PRIVILEGED_NAMESPACES

    platform_dir = PROJECT_ROOT / "components" / "platform"
    privileged = set()
    for path in platform_dir.glob("*.py"):
        tree = ast.parse(path.read_text())
        consts = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                  for t in n.targets if isinstance(t, ast.Name) and isinstance(n.value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and any(k.arg == "level" and isinstance(k.value, ast.Constant)
                                                  and k.value.value == "privileged" for k in node.keywords):
                privileged.add(consts.get("NAMESPACE"))
    if not privileged:
        pytest.skip("the core platform components are not merged yet")
    assert privileged <= set(DEFAULT_PRIVILEGED_NAMESPACES)


def test_label_and_gateway_constants_equal_the_project():
    from components import k8s
    from components.platform.contract import CLIENT_NAMESPACE_LABEL, GatewayRef
    from lfh_policies import common

    assert common.PART_OF == k8s.PART_OF
    labels = k8s.labels("x", client="c", environment="e")
    assert labels[common.PART_OF_LABEL] == common.PART_OF
    assert labels[common.CLIENT_LABEL] == "c" and labels[common.ENVIRONMENT_LABEL] == "e"
    assert common.CLIENT_NAMESPACE_LABEL == CLIENT_NAMESPACE_LABEL
    assert (common.GATEWAY_NAME, common.GATEWAY_NAMESPACE) == (GatewayRef().name, GatewayRef().namespace)


def test_pod_spec_paths_equal_the_plans():
    """Where each workload kind keeps its pod spec: the pack's copy and the plan's (image inventory) agree."""
    from lfh.plan.images import POD_SPEC_PATHS
    from lfh_policies import common

    assert common.POD_SPEC_PATHS == POD_SPEC_PATHS


def _crd_groups() -> dict[str, set[str]]:
    """chart key -> CRD groups its pinned crds.yaml defines."""
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))
    index = yaml.safe_load((UPSTREAM / "charts.yaml").read_text())
    out: dict[str, set[str]] = {}
    for key, entry in {**index["charts"], **index.get("crd_bundles", {})}.items():
        # psmdb-db points at the operator's CRD file: it renders the PerconaServerMongoDB CR, the
        # psmdb-operator chart installs the CRD.
        if "crds" not in entry or key == "psmdb-db":
            continue
        docs = yaml.load_all((UPSTREAM / entry["crds"]).read_text(), Loader=Loader)
        out[key] = {d["spec"]["group"] for d in docs if d and d.get("kind") == "CustomResourceDefinition"}
    return out


@pytest.mark.skipif(not (UPSTREAM / "charts.yaml").exists(), reason="upstream files not present")
def test_crd_installers_match_upstream_crds():
    from lfh_policies.stack import CRD_INSTALLERS

    groups = _crd_groups()
    for key, defined in groups.items():
        for group in defined:
            assert group in CRD_INSTALLERS, (key, group)
            if key in CHARTS:
                assert CHARTS[key].chart in CRD_INSTALLERS[group], (key, group)
            # a CRD bundle (no chart) is found by its CRD objects; the group must still be mapped


# ----------------------------------------------------------------------------- docs


def test_policy_docs_are_current():
    path = PROJECT_ROOT / "docs" / "policies.md"
    assert path.read_text() == render_docs(), "regenerate: python -m lfh policy-docs > docs/policies.md"


def test_policy_docs_list_every_policy():
    text = render_docs()
    for p in policies():
        assert f"`{p.name}`" in text


def test_policy_docs_check_command(tmp_path):
    from lfh.cli import main

    stale = tmp_path / "policies.md"
    stale.write_text("old\n")
    assert main(["policy-docs", "--check", str(stale)]) == 1
    stale.write_text(render_docs())
    assert main(["policy-docs", "--check", str(stale)]) == 0


def test_policy_docs_command_prints_the_reference(capsys):
    from lfh.cli import main

    assert main(["policy-docs"]) == 0
    assert capsys.readouterr().out == render_docs()


# ----------------------------------------------------------------------------- the runner


def _ns(name: str = "demo-prod") -> Resource:
    return Resource(urn=f"urn:pulumi:s::lfh::kubernetes:core/v1:Namespace::{name}", type="kubernetes:core/v1:Namespace",
                    name=name, parent="", provider="urn:pulumi:s::lfh::pulumi:providers:kubernetes::k8s::id",
                    dependencies=[], inputs={"metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "lfh"}}},
                    protect=True)


def test_runner_presents_props_as_the_engine_does():
    """Proxies (Mapping/Sequence, not dict/list), numbers as floats, options and a default provider."""
    seen = {}

    def spy(args, report):
        if args.resource_type == "aws:cloudwatch/logGroup:LogGroup":
            seen.update(props=args.props, provider=args.provider, opts=args.opts)

    policy = pulumi_policy.ResourceValidationPolicy(name="spy", description="spy", validate=spy)
    r = Resource(urn="urn:pulumi:s::lfh::aws:cloudwatch/logGroup:LogGroup::lg", type="aws:cloudwatch/logGroup:LogGroup",
                 name="lg", parent="", provider="", dependencies=[], inputs={"retentionInDays": 365, "tags": {"a": "b"},
                                                                          "list": [1]}, protect=True)
    import lfh.policy_runner as runner

    original = runner.policies
    runner.policies = lambda: [policy]
    try:
        run([r])
    finally:
        runner.policies = original
    props = seen["props"]
    assert not isinstance(props, dict) and not isinstance(props["tags"], dict) and not isinstance(props["list"], list)
    assert isinstance(props["retentionInDays"], float)
    assert seen["opts"].protect is True
    assert seen["provider"].resource_type == "pulumi:providers:aws" and seen["provider"].name.startswith("default")


def test_stack_policies_get_parents_and_dependencies():
    seen = {}

    def spy(args, report):
        seen.update({r.name: r for r in args.resources})

    policy = pulumi_policy.StackValidationPolicy(name="spy", description="spy", validate=spy)
    parent = Resource(urn="urn:pulumi:s::lfh::lfh:x:C::c", type="lfh:x:C", name="c", parent="", provider="",
                      dependencies=[], inputs={}, custom=False)
    dep = _ns("a")
    child = Resource(urn="urn:pulumi:s::lfh::lfh:x:C$kubernetes:core/v1:Namespace::b", type="kubernetes:core/v1:Namespace",
                     name="b", parent=parent.urn, provider="", dependencies=[dep.urn], inputs={},
                     property_dependencies={"metadata": [dep.urn]})
    import lfh.policy_runner as runner

    original = runner.policies
    runner.policies = lambda: [policy]
    try:
        run([parent, dep, child])
    finally:
        runner.policies = original
    assert seen["b"].parent is seen["c"]
    assert seen["b"].dependencies == [seen["a"]]
    assert seen["b"].property_dependencies["metadata"] == [seen["a"]]


def test_analyze_turns_violations_into_findings():
    from lfh.policy_runner import analyze

    ns = _ns()
    ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "privileged"
    plan = Plan(stack="s", role="platform", resources=[ns], outputs={}, secret_outputs=[])
    analyze(plan)
    checks = {f.check: f.severity for f in plan.findings}
    assert checks["policy:k8s-namespace-pod-security"] == "error"
    assert plan.sections["policy"]["data"]["violations"]["mandatory"] >= 1


def test_advisory_violation_is_a_warning():
    from lfh.policy_runner import Violation

    assert Violation("p", "advisory", "low", "u", "m").finding().severity == "warning"
    assert Violation("p", "mandatory", "low", "u", "m").finding().severity == "error"


def _client_plan(stack: str, prefix: str) -> Plan:
    ns = _ns(stack)
    ns.inputs["metadata"]["labels"].update({"lfh.io/client-namespace": "true", "lfh.io/client": stack.split("-")[0],
                                            "lfh.io/environment": stack.split("-")[1]})
    store = Resource(urn=f"urn:pulumi:{stack}::lfh::kubernetes:external-secrets.io/v1:SecretStore::store",
                     type="kubernetes:external-secrets.io/v1:SecretStore", name="store", parent="", provider="",
                     dependencies=[], inputs={"metadata": {"name": "s", "namespace": stack},
                                              "spec": {"provider": {"aws": {"prefix": prefix}}}})
    return Plan(stack=stack, role="client", resources=[ns, store], outputs={}, secret_outputs=[])


def test_cross_stack_secret_paths_must_not_overlap():
    clean = [_client_plan("demo-staging", "local/demo/staging/"), _client_plan("demo-prod", "local/demo/prod/")]
    assert cross_stack_findings(clean) == []
    shared = [_client_plan("demo-staging", "local/demo/"), _client_plan("demo-prod", "local/demo/prod/")]
    found = cross_stack_findings(shared)
    assert {p.stack for p, _ in found} == {"demo-staging", "demo-prod"}
    assert all(f.severity == "error" and f.check == "policy:stack-secret-paths-disjoint" for _, f in found)


# ----------------------------------------------------------------------------- `python -m lfh plan` wiring


def _always(enforcement):
    def validate(args, report):
        report("synthetic violation", args.resources[0].urn if args.resources else None)

    return pulumi_policy.StackValidationPolicy(name=f"always-{enforcement.value}", description="synthetic",
                                               validate=validate, enforcement_level=enforcement)


@pytest.fixture
def two_stacks(tmp_path):
    """A stacks folder with platform-local and demo-staging only (quick to plan)."""
    import shutil

    from lfh import STACKS_DIR

    d = tmp_path / "stacks"
    d.mkdir()
    for name in ("platform-local", "demo-staging"):
        shutil.copy(STACKS_DIR / f"Pulumi.{name}.yaml", d)
    return d


@pytest.mark.parametrize("level, code", [("mandatory", 1), ("advisory", 0)])
def test_plan_exit_code_follows_enforcement(level, code, tmp_path, two_stacks, monkeypatch):
    import json

    import lfh.policy_runner as runner
    from lfh.cli import main

    monkeypatch.setattr(runner, "policies", lambda: [_always(pulumi_policy.EnforcementLevel(level))])
    out = tmp_path / "out"
    assert main(["plan", "platform-local", "--stacks-dir", str(two_stacks), "--out", str(out), "-q"]) == code
    report = json.loads((out / "report.json").read_text())
    (finding,) = [f for f in report["findings"] if f["check"].startswith("policy:")]
    assert finding["severity"] == ("error" if level == "mandatory" else "warning")
    assert report["policy"]["violations"][level] == 1


def test_plan_all_reports_cross_stack_findings(tmp_path, two_stacks, monkeypatch):
    import json

    import lfh.policy_runner as runner
    from lfh.cli import main
    from lfh.plan.model import Finding

    monkeypatch.setattr(runner, "policies", lambda: [])

    def overlap(plans):
        client = next(p for p in plans if p.role == "client")
        return [(client, Finding("policy:stack-secret-paths-disjoint", "error", "", "overlap"))]

    monkeypatch.setattr(runner, "cross_stack_findings", overlap)
    out = tmp_path / "out"
    assert main(["plan", "--all", "--stacks-dir", str(two_stacks), "--out-root", str(out), "-q"]) == 1
    report = json.loads((out / "demo-staging" / "report.json").read_text())
    assert any(f["check"] == "policy:stack-secret-paths-disjoint" for f in report["findings"])
