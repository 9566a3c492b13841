"""How the plan engine runs a program: monitor calls in the loop's thread, stock SDK state restored
afterwards, deterministic output, and a client plan that does not import the platform's components."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource

from lfh import PROJECT_ROOT
from lfh.plan import Engine, write_plan
from lfh.plan.engine import run_program

MANY = '''
from components.k8s import KubeObject
for i in range(1500):
    KubeObject(f"cm-{i}", "v1", "ConfigMap", metadata={"name": f"cm-{i}", "namespace": "default"},
               data={"i": str(i)})
'''


def test_many_independent_registrations_plan_without_deep_recursion(tmp_path):
    # Monitor calls run inline; a mock answer must never re-enter the event loop, or 1500 pending
    # registrations would nest 1500 frames deep.
    program = tmp_path / "__main__.py"
    program.write_text(MANY)
    plan = run_program(program, "many", {}, [])
    assert len([r for r in plan.resources if r.type == "kubernetes:core/v1:ConfigMap"]) == 1500


def test_sdk_globals_are_restored_after_a_run(tmp_path):
    before = (pulumi_mocks._sync_await, pulumi_resource._get_stack_trace)
    program = tmp_path / "__main__.py"
    program.write_text(MANY.replace("1500", "3"))
    run_program(program, "few", {}, [])
    assert (pulumi_mocks._sync_await, pulumi_resource._get_stack_trace) == before


def test_resources_json_is_identical_across_runs_and_ordered_by_urn(tmp_path):
    outs = []
    for i in range(2):
        plan = Engine().plan("demo-staging")
        write_plan(plan, tmp_path / str(i))
        outs.append((tmp_path / str(i) / "resources.json").read_text())
    assert outs[0] == outs[1]
    urns = [r["urn"] for r in json.loads(outs[0])]
    assert urns == sorted(urns)
    # Dependencies are collected in a set by the SDK: recorded sorted.
    assert all(r["dependencies"] == sorted(r["dependencies"]) for r in json.loads(outs[0]))


def test_a_client_plan_does_not_import_platform_components():
    # The platform add-ons and the cluster targets (and their cloud SDK modules) are the platform
    # stack's business; a client stack reads the platform through its contract only.
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "import components.client, lfh.config, lfh.plan\n"
        "heavy = [m for m in sys.modules if m.startswith(('components.platform.', 'components.cluster.'))"
        " and not m.endswith('.contract')]\n"
        # (`pulumi_kubernetes.core` itself is a lazy stub; its API modules are the heavy part.)
        "heavy += [m for m in sys.modules if m.startswith(('pulumi_kubernetes.core.', 'pulumi_kubernetes.apps.',"
        " 'pulumi_kubernetes.helm.', 'lfh.config.platform'))]\n"
        "print(sorted(heavy))\n" % str(PROJECT_ROOT)
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_python_m_lfh_tunes_the_garbage_collector():
    code = ("import gc, os, runpy, sys\n"
            "sys.argv = ['lfh', 'policy-docs']\n"
            "os._exit = lambda code: print('threshold', gc.get_threshold()[0])\n"
            "runpy.run_module('lfh', run_name='__main__')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT).stdout
    assert int(out.strip().splitlines()[-1].split()[-1]) >= 10_000


def test_python_m_lfh_exits_with_its_code_and_flushed_output(tmp_path):
    # `python -m lfh` leaves without interpreter teardown (os._exit): the exit code, stdout and the
    # written files must all be complete anyway.
    # Buffered stdout, as in a pipe on a normal machine (this environment may set PYTHONUNBUFFERED).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    ok = subprocess.run([sys.executable, "-m", "lfh", "plan", "demo-staging", "-q", "--out", str(tmp_path / "p")],
                        capture_output=True, text=True, cwd=PROJECT_ROOT, env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("demo-staging: ") and ok.stdout.endswith("\n")
    assert json.loads((tmp_path / "p" / "report.json").read_text())["stack"] == "demo-staging"
    bad = subprocess.run([sys.executable, "-m", "lfh", "plan", "no-such-stack", "-q"],
                         capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert bad.returncode == 2 and "no stack file" in bad.stderr


def test_a_cached_platform_plan_reads_its_config_only_when_asked(tmp_path):
    # Planning a cloud client from the cache must not build the platform config model (~40 classes);
    # an analyzer that does ask for it (an existing cluster's nodes) still gets the real config.
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from pathlib import Path\n"
        "from lfh.plan import Engine, analyze\n"
        "plan = analyze(Engine(cache_dir=Path(%r)).plan('acme-prod'))\n"
        "loaded = 'lfh.config.platform' in sys.modules\n"
        "print(loaded, plan.platform.config.platform.name, 'lfh.config.platform' in sys.modules)\n"
        % (str(PROJECT_ROOT), str(tmp_path))
    )
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == ["True", "aws", "True"]  # recorded now: the program built the model
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert again.stdout.split() == ["False", "aws", "True"]  # from the cache: only when asked
