"""The on-disk cache of recorded platform plans: hits skip the program, any edit misses."""
from __future__ import annotations

import shutil

import pytest

from lfh import STACKS_DIR
from lfh.plan import cache, engine as engine_mod
from lfh.plan.engine import Engine


@pytest.fixture()
def stacks(tmp_path):
    d = tmp_path / "stacks"
    d.mkdir()
    for p in STACKS_DIR.glob("Pulumi.*.yaml"):
        shutil.copy(p, d / p.name)
    return d


def _no_program(*args, **kwargs):
    raise AssertionError("the program ran although the cache should have answered")


def test_a_cached_platform_plan_answers_without_running_the_program(stacks, tmp_path, monkeypatch):
    cdir = tmp_path / "cache"
    first = Engine(stacks_dir=stacks, cache_dir=cdir).plan("platform-local")
    assert len(list(cdir.glob("platform-local-*.pickle"))) == 1
    monkeypatch.setattr(engine_mod, "run_program", _no_program)
    again = Engine(stacks_dir=stacks, cache_dir=cdir).plan("platform-local")
    assert [r.contract_dict() for r in again.resources] == [r.contract_dict() for r in first.resources]
    # Only the recording is cached: what the program itself logged, never analysis results.
    assert again.outputs == first.outputs
    assert again.findings == first.findings and all(f.check.startswith("program-") for f in again.findings)
    # Client stacks are never cached: their plan runs (here: the patched program refuses).
    with pytest.raises(AssertionError, match="the program ran"):
        Engine(stacks_dir=stacks, cache_dir=cdir).plan("demo-staging")


def test_editing_the_stack_file_misses_the_cache(stacks, tmp_path, monkeypatch):
    cdir = tmp_path / "cache"
    Engine(stacks_dir=stacks, cache_dir=cdir).plan("platform-local")
    f = stacks / "Pulumi.platform-local.yaml"
    f.write_text(f.read_text() + "\n# an edit\n")
    monkeypatch.setattr(engine_mod, "run_program", _no_program)
    with pytest.raises(AssertionError, match="the program ran"):
        Engine(stacks_dir=stacks, cache_dir=cdir).plan("platform-local")


def test_the_key_covers_source_files(tmp_path):
    program = tmp_path / "__main__.py"
    program.write_text("x = 1\n")
    (tmp_path / "components").mkdir()
    comp = tmp_path / "components" / "a.py"
    comp.write_text("a = 1\n")
    stack = tmp_path / "Pulumi.platform-x.yaml"
    stack.write_text("config: {}\n")
    k1 = cache.key(stack, program)
    comp.write_text("a = 2\n")
    assert cache.key(stack, program) != k1


def test_without_cache_dir_nothing_is_written(stacks, tmp_path):
    Engine(stacks_dir=stacks).plan("platform-local")
    assert not (tmp_path / "cache").exists()


def test_the_cache_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("LFH_PLAN_CACHE", "0")
    assert not cache.enabled()
    monkeypatch.setenv("LFH_PLAN_CACHE", "1")
    assert cache.enabled()


def test_manifest_yaml_is_the_same_text_as_the_pure_python_dumper():
    """output.dump_yaml uses libyaml when available (speed); the files must not change because of it."""
    import yaml

    from lfh.plan import output

    class Pure(yaml.SafeDumper):
        pass

    Pure.add_representer(str, output._str_presenter)
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": {"a": "b"}},
           "data": {"script.sh": "#!/bin/bash\necho 'hi'\n", "n": 3, "empty": "", "unicode": "café ≥ 5", "list": [1, "2", None]}}
    expected = yaml.dump(obj, Dumper=Pure, sort_keys=False, default_flow_style=False, width=120)
    assert output.dump_yaml(obj) == expected
    assert yaml.safe_load(output.dump_yaml(obj)) == obj
