"""The offline plan engine: what it records, what it refuses, and the output contract it writes."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from lfh.cli import main
from lfh.plan import PlanError, list_stacks
from lfh.plan.engine import run_program


def _program(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "__main__.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_duplicate_urns_are_refused(tmp_path):
    program = _program(tmp_path, """
        import pulumi_random as random
        random.RandomPet("same")
        random.RandomPet("same")
    """)
    with pytest.raises(PlanError, match="duplicate URNs.*RandomPet::same"):
        run_program(program, "platform-x", {}, [])


def test_records_secrets_masked_whole_numbers_as_int_and_relations(tmp_path):
    program = _program(tmp_path, """
        import pulumi
        import pulumi_kubernetes as k8s
        class Box(pulumi.ComponentResource):
            def __init__(self, name):
                super().__init__("lfh:test:Box", name)
                self.provider = k8s.Provider("p", kubeconfig=pulumi.Output.secret("kc"), opts=pulumi.ResourceOptions(parent=self))
                self.cm = k8s.core.v1.Secret("s", metadata={"name": "s", "namespace": "ns"},
                    string_data={"password": pulumi.Output.secret("hunter2")},
                    opts=pulumi.ResourceOptions(parent=self, provider=self.provider, protect=True))
                self.dep = k8s.apps.v1.Deployment("d", metadata={"name": "d", "namespace": "ns"},
                    spec={"replicas": 3, "selector": {"matchLabels": {"a": "b"}},
                          "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x:1", "resources": {"requests": {"cpu": 0.5}}}]}}},
                    opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[self.cm]))
                self.register_outputs({})
        Box("box")
        pulumi.export("answer", 42)
        pulumi.export("token", pulumi.Output.secret("t"))
    """)
    plan = run_program(program, "platform-x", {}, [])
    by_name = {r.name: r for r in plan.resources}
    secret, dep, provider = by_name["s"], by_name["d"], by_name["p"]
    # The k8s SDK marks all of stringData secret; the keys are the program's and stay, each value masked.
    assert secret.inputs["stringData"] == {"password": "[secret]"}
    assert provider.inputs["kubeconfig"] == "[secret]"
    assert dep.inputs["spec"]["replicas"] == 3 and isinstance(dep.inputs["spec"]["replicas"], int)
    assert dep.inputs["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] == 0.5
    assert secret.protect and not dep.protect
    assert dep.parent == by_name["box"].urn
    assert dep.provider.startswith(provider.urn + "::")
    assert secret.urn in dep.dependencies
    assert plan.outputs == {"answer": 42, "token": "t"} and plan.secret_outputs == ["token"]
    assert "hunter2" not in json.dumps([r.contract_dict() for r in plan.resources])


def test_records_every_option_the_engine_acts_on_and_property_dependencies(tmp_path):
    """resources.json carries the options and propertyDependencies as the registration sent them;
    `dependsOn` is the explicit list only (dependencies also hold what inputs refer to)."""
    program = _program(tmp_path, """
        import pulumi
        import pulumi_random as random
        class Box(pulumi.ComponentResource):
            def __init__(self, name):
                super().__init__("lfh:test:Box", name)
                self.inner = random.RandomPet("inner", opts=pulumi.ResourceOptions(parent=self))
                self.register_outputs({})
        box = Box("box")
        first = random.RandomPet("first", opts=pulumi.ResourceOptions(
            protect=True, retain_on_delete=True, delete_before_replace=True, ignore_changes=["length"],
            custom_timeouts=pulumi.CustomTimeouts(create="10m", delete="20m"),
            aliases=[pulumi.Alias(name="old-first"), "urn:pulumi:platform-x::lfh::random:index/randomPet:RandomPet::older"]))
        random.RandomPet("second", prefix=first.id, opts=pulumi.ResourceOptions(depends_on=[box]))
    """)
    plan = run_program(program, "platform-x", {}, [])
    by_name = {r.name: r.contract_dict() for r in plan.resources}
    first, second, inner = by_name["first"], by_name["second"], by_name["inner"]
    assert first["options"] == {
        "protect": True, "retainOnDelete": True, "ignoreChanges": ["length"], "deleteBeforeReplace": True,
        "customTimeouts": {"create": "10m", "delete": "20m"}, "dependsOn": [],
        "aliases": [{"name": "old-first"}, {"urn": "urn:pulumi:platform-x::lfh::random:index/randomPet:RandomPet::older"}],
    }
    # depends_on a component is a dependency on its children; the input reference is a property dependency.
    assert second["options"]["dependsOn"] == [inner["urn"]]
    assert second["propertyDependencies"] == {"prefix": [first["urn"]]}
    assert second["dependencies"] == sorted([inner["urn"], first["urn"]])
    assert second["options"]["protect"] is False and second["options"]["customTimeouts"] == {}


def test_missing_invoke_fake_is_an_error_not_an_empty_answer(tmp_path):
    program = _program(tmp_path, """
        import pulumi_aws as aws
        aws.ec2.get_vpc(default=True)
    """)
    with pytest.raises(PlanError, match="aws:ec2/getVpc:getVpc.*no offline fake"):
        run_program(program, "platform-x", {}, [])


def test_client_stack_reads_its_platform_outputs_through_the_stack_reference(engine):
    client = engine.plan("demo-staging")
    ref = next(r for r in client.resources if r.type == "pulumi:pulumi:StackReference")
    assert ref.name == "organization/lfh/platform-local"
    platform = engine.plan("platform-local")
    assert "kubeconfig" in platform.secret_outputs
    assert client.kubernetes_version == platform.outputs["kubernetesVersion"]
    # The client's provider is built from the (secret) platform kubeconfig.
    providers = [r for r in client.resources if r.type == "pulumi:providers:kubernetes"]
    assert providers and all(p.inputs["kubeconfig"] == "[secret]" for p in providers)


def test_plan_writes_the_output_contract(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["plan", "demo-staging", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "resources by type:" in stdout and "demo-staging" in stdout
    resources = json.loads((out / "resources.json").read_text())
    assert resources and all(
        set(r) == {"urn", "type", "name", "parent", "provider", "dependencies", "propertyDependencies", "options",
                   "inputs"} for r in resources
    )
    assert all(set(r["options"]) == {"protect", "retainOnDelete", "ignoreChanges", "deleteBeforeReplace",
                                     "customTimeouts", "dependsOn", "aliases"} for r in resources)
    urns = [r["urn"] for r in resources]
    assert len(urns) == len(set(urns))
    # Ours; objects rendered from Helm releases sit beside them as helm.<release>__….yaml.
    manifests = sorted(p for p in (out / "manifests").glob("*.yaml") if not p.name.startswith("helm."))
    k8s_objects = [r for r in resources if r["type"].startswith("kubernetes:") and "kind" in r["inputs"]
                   and r["type"] != "kubernetes:helm.sh/v3:Release"]
    assert len(manifests) == len(k8s_objects)
    for path in manifests:
        obj = yaml.safe_load(path.read_text())
        assert list(obj)[:3] == ["apiVersion", "kind", "metadata"] and obj["metadata"]["name"]
    for path in (out / "helm").glob("*.yaml"):
        assert set(yaml.safe_load(path.read_text())) == {"name", "namespace", "chart", "version", "repository", "values"}
    report = json.loads((out / "report.json").read_text())
    assert report["stack"] == "demo-staging"
    assert all(set(f) == {"check", "severity", "urn", "message"} for f in report["findings"])


def test_plan_all_plans_every_stack_platforms_first():
    stacks = list_stacks()
    assert stacks == sorted(stacks, key=lambda n: (not n.startswith("platform-"), n))
    assert {"platform-local", "demo-staging"} <= set(stacks)


@pytest.mark.parametrize("stack", list_stacks())
def test_every_stack_plans_without_error_findings(plan_of, stack):
    plan = plan_of(stack)
    assert plan.resources
    errors = [f"{f.check}: {f.message}" for f in plan.errors]
    assert errors == []


def test_kubernetes_resources_all_use_an_explicit_provider(plan_of):
    for stack in list_stacks():
        for r in plan_of(stack).resources:
            if r.is_kubernetes and r.custom:
                assert r.provider, f"{stack}: {r.urn} has no explicit provider"


def test_program_refusal_is_a_config_error_not_a_traceback(tmp_path, capsys):
    import shutil

    from lfh import STACKS_DIR

    shutil.copy(STACKS_DIR / "Pulumi.platform-local.yaml", tmp_path)
    config = yaml.safe_load((STACKS_DIR / "Pulumi.demo-staging.yaml").read_text())
    # `cloud` object storage needs a cloud platform; platform-local is an existing cluster.
    config["config"]["lfh:client"]["objectStorage"] = {"mode": "cloud"}
    (tmp_path / "Pulumi.demo-staging.yaml").write_text(yaml.safe_dump(config))
    code = main(["plan", "demo-staging", "--stacks-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "config error: lfh:client.objectStorage.mode" in err and "Traceback" not in err


def test_program_warnings_become_findings(tmp_path):
    program = _program(tmp_path, """
        import pulumi
        pulumi.log.warn("lfh:platform.x: weaker than it should be")
    """)
    plan = run_program(program, "platform-x", {}, [])
    assert [(f.check, f.severity, f.message) for f in plan.findings] == [
        ("program-warning", "warning", "lfh:platform.x: weaker than it should be")]
