"""components/sdk.py registers resources without importing their typed SDK classes. These tests hold it
to its promise: for every resource of an `SDK_TYPES` type that any stack registers (the stacks in
stacks/ plus generated clients on every platform), registering the same inputs through the typed
class sends the same RegisterResource request — type, properties (secret markers included), plugin
version, download URL, aliases and secret outputs."""
from __future__ import annotations

import importlib
import json
import shutil
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict
from pulumi import _types
from pulumi.runtime import rpc

from components.sdk import SDK_TYPES, SdkResource
from lfh import STACKS_DIR
from lfh.cli import main as cli
from lfh.plan import engine as plan_engine
from lfh.plan.engine import Engine, list_stacks, run_program

#: Registration fields that must match (everything but the resource's name and source position).
COMPARED = ("type", "custom", "object", "aliases", "additionalSecretOutputs", "version", "pluginDownloadURL",
            "acceptSecrets", "acceptResources", "protect", "ignoreChanges", "replaceOnChanges", "deleteBeforeReplace")
MAX_CASES_PER_TYPE = 25
#: Types no stack in this repo registers today: checked with a representative body instead (none now:
#: every MongoDB client registers the secret rotation's drop-old-users Job).
EXTRA_CASES: dict[str, list[dict[str, Any]]] = {}


def typed_class(token: str) -> tuple[type, type]:
    """The typed SDK class of a token and its Args class (`aws:s3/bucket:Bucket` -> pulumi_aws.s3.Bucket)."""
    package, middle, kind = token.split(":")
    if package == "kubernetes":
        group, _, version = middle.rpartition("/")
        module = importlib.import_module(f"pulumi_kubernetes.{group.split('.')[0]}.{version}")
    else:
        group = middle.split("/")[0]  # `index` is the package root (random:index/randomPassword:…)
        root = f"pulumi_{package.replace('-', '_')}"
        module = importlib.import_module(root if group == "index" else f"{root}.{group}")
    cls = getattr(module, kind)
    # The Args class from the class's own module: a package may also export a nested input type
    # of the same name (pulumi_aws.s3.BucketVersioningArgs is the legacy Bucket's `versioning`).
    module = importlib.import_module(cls.__module__)
    # Pulumi names the resource args `<Kind>InitArgs` when `<Kind>Args` is taken by a nested type.
    return cls, getattr(module, f"{kind}InitArgs", None) or getattr(module, f"{kind}Args")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict[str, list[dict[str, Any]]]:
    """token -> distinct input sets registered through SdkResource/KubeObject/HelmRelease, all stacks."""
    stacks = tmp_path_factory.mktemp("stacks")
    for f in STACKS_DIR.glob("Pulumi.*.yaml"):
        shutil.copy(f, stacks / f.name)
    for platform, extra in (("gcp", []), ("azure", []), ("aws", ["--object-storage", "minio"])):
        assert cli(["new-client", f"sdk{platform}", "--env", "prod", "--platform", f"platform-{platform}",
                    "--search", "--syncd", "--stacks-dir", str(stacks), *extra]) == 0
    cases: dict[str, dict[str, dict[str, Any]]] = {}
    original = plan_engine._RecordingMonitor.RegisterResource

    def capture(self, request):
        if request.type in SDK_TYPES:
            inputs = plan_engine._unwrap_secrets(rpc.deserialize_properties(request.object))
            key = json.dumps(inputs, sort_keys=True, default=str)
            per_type = cases.setdefault(request.type, {})
            if len(per_type) < MAX_CASES_PER_TYPE:
                per_type.setdefault(key, inputs)
        return original(self, request)

    plan_engine._RecordingMonitor.RegisterResource = capture
    try:
        engine = Engine(stacks_dir=stacks)
        for stack in list_stacks(stacks):
            engine.plan(stack)
    finally:
        plan_engine._RecordingMonitor.RegisterResource = original
    out = {token: list(by_key.values()) for token, by_key in cases.items()}
    for token, extra in EXTRA_CASES.items():
        out.setdefault(token, []).extend(extra)
    return out


PROGRAM = '''
import json, pathlib
from tests.test_sdk_registration import register_both
register_both(json.loads((pathlib.Path(__file__).parent / "cases.json").read_text()))
'''


def register_both(cases: dict[str, list[dict[str, Any]]]) -> None:
    """(Inside a mocked program.) Each case twice: `typed-<i>` via the typed class, `sdk-<i>` via SdkResource."""
    i = 0
    for token, inputs_list in cases.items():
        cls, args_cls = typed_class(token)
        py_names = {pulumi: py for py, pulumi in _types.input_type_py_to_pulumi_names(args_cls).items()}
        # An input called `resourceName` takes a trailing underscore in the constructor (azure-native).
        py_names = {k: ("resource_name_" if py == "resource_name" else py) for k, py in py_names.items()}
        for inputs in inputs_list:
            unknown = sorted(set(inputs) - set(py_names))
            assert not unknown, f"{token}: {unknown} are not inputs of {cls.__name__} (typo or wrong case?)"
            cls(f"typed-{i}", **{py_names[k]: v for k, v in inputs.items()})
            SdkResource(token, f"sdk-{i}", inputs)
            i += 1


def test_every_sdk_type_is_checked(recorded):
    # A table entry nothing exercises is unchecked metadata: a stack must register it, or EXTRA_CASES.
    assert sorted(set(SDK_TYPES) - set(recorded)) == []
    assert not set(EXTRA_CASES) & {t for t, cases in recorded.items() if len(cases) > len(EXTRA_CASES.get(t, []))}


def test_sdk_resources_send_what_the_typed_classes_send(recorded, tmp_path):
    (tmp_path / "cases.json").write_text(json.dumps(recorded))
    program = tmp_path / "__main__.py"
    program.write_text(PROGRAM)
    requests: dict[str, dict[str, Any]] = {}
    original = plan_engine._RecordingMonitor.RegisterResource

    def capture(self, request):
        if request.custom:
            requests[request.name] = MessageToDict(request)
        return original(self, request)

    plan_engine._RecordingMonitor.RegisterResource = capture
    try:
        run_program(program, "sdk-check", {}, [])
    finally:
        plan_engine._RecordingMonitor.RegisterResource = original
    pairs = sorted(n.removeprefix("typed-") for n in requests if n.startswith("typed-"))
    assert len(pairs) == sum(len(v) for v in recorded.values()) > 100
    mismatches = []
    for i in pairs:
        typed, ours = requests[f"typed-{i}"], requests[f"sdk-{i}"]
        diff = {k: (typed.get(k), ours.get(k)) for k in COMPARED if typed.get(k) != ours.get(k)}
        if diff:
            mismatches.append((typed["type"], diff))
    assert mismatches == []


def test_an_unlisted_type_is_refused_with_a_clear_error():
    with pytest.raises(TypeError, match="aws:s3/bucketAcl:BucketAcl is not in components.sdk.SDK_TYPES"):
        SdkResource("aws:s3/bucketAcl:BucketAcl", "acl", {})
