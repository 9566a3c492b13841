"""The config model: complete validation before any resource, errors that name the key, secrets."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lfh import PROJECT_ROOT, STACKS_DIR
from lfh.cli import main
from lfh.config import ConfigError, load_stack_file, parse_stack_config
from lfh.config.docs import render


def _write(tmp_path: Path, stack: str, config: dict) -> Path:
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def _platform_local(raw: bool = False) -> dict:
    """platform-local's config: as in the file (raw) or with secure values as placeholders."""
    if raw:
        return yaml.safe_load((STACKS_DIR / "Pulumi.platform-local.yaml").read_text())["config"]
    return load_stack_file(STACKS_DIR / "Pulumi.platform-local.yaml")[1]


def _plan_exit(tmp_path: Path, stack: str, capsys) -> tuple[int, str]:
    code = main(["plan", stack, "--stacks-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    return code, capsys.readouterr().err


def test_wrong_type_exits_2_naming_the_key(tmp_path, capsys):
    config = _platform_local(raw=True)
    config["lfh:platform"]["kubernetesVersion"] = 1.33
    _write(tmp_path, "platform-local", config)
    code, err = _plan_exit(tmp_path, "platform-local", capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == ["config error: lfh:platform.kubernetesVersion: must be text; put the value in quotes "
                     "(for `pulumi config set --path`, add `--type string`) (got 1.33)"]
    assert "Traceback" not in err


def test_unknown_key_exits_2_and_lists_allowed_keys(tmp_path, capsys):
    config = _platform_local(raw=True)
    config["lfh:platform"]["cluster"]["kubeconfigPth"] = "/tmp/x"
    _write(tmp_path, "platform-local", config)
    code, err = _plan_exit(tmp_path, "platform-local", capsys)
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("config error: lfh:platform.cluster.kubeconfigPth: unknown key; allowed: ")
    assert "kubeconfigPath" in err


def test_missing_required_key_exits_2(tmp_path, capsys):
    config = _platform_local(raw=True)
    del config["lfh:platform"]["domain"]
    _write(tmp_path, "platform-local", config)
    code, err = _plan_exit(tmp_path, "platform-local", capsys)
    assert code == 2
    assert err.strip() == "config error: lfh:platform.domain: required key is missing"


def test_unknown_lfh_namespace_key_is_refused():
    with pytest.raises(ConfigError) as exc:
        parse_stack_config("platform-local", {"lfh:platfrom": {}, **_platform_local()})
    assert exc.value.lines[0].startswith("lfh:platfrom: unknown key; allowed: lfh:platform, lfh:client")


def test_secret_fields_must_be_secure_and_stay_secret(tmp_path):
    config = _platform_local(raw=True)
    config["lfh:platform"]["cluster"]["kubeconfig"] = "apiVersion: v1\nkind: Config\n"
    path = _write(tmp_path, "platform-local", config)
    with pytest.raises(ConfigError) as exc:
        load_stack_file(path)
    assert exc.value.lines == [
        "lfh:platform.cluster.kubeconfig: holds a secret; set it with "
        "`pulumi config set --secret --path 'lfh:platform.cluster.kubeconfig' …` (plain text is not allowed)"
    ]
    cfg, placeholder_config, secret_paths = load_stack_file(STACKS_DIR / "Pulumi.platform-local.yaml")
    assert secret_paths == {"lfh:platform.cluster.kubeconfig"}
    assert "**" in repr(cfg.platform.cluster.kubeconfig)  # never printed
    assert placeholder_config["lfh:platform"]["cluster"]["kubeconfig"].startswith("[secret:")


def test_secure_value_on_a_plain_field_is_refused(tmp_path):
    config = _platform_local(raw=True)
    config["lfh:platform"]["domain"] = {"secure": "v1:abc"}
    path = _write(tmp_path, "platform-local", config)
    with pytest.raises(ConfigError) as exc:
        load_stack_file(path)
    assert "lfh:platform.domain: is not a secret field" in exc.value.lines[0]


@pytest.mark.parametrize(
    "stack, message",
    [
        ("platform-other", "lfh:platform.name: is 'local' but the stack is 'platform-other'"),
        ("local", "a platform stack is named `platform-<name>`"),
    ],
)
def test_stack_name_must_match_role_and_name(stack, message):
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(stack, _platform_local())
    assert message in exc.value.lines[0]


def test_client_stack_name_must_match_client_and_environment():
    config = yaml.safe_load((STACKS_DIR / "Pulumi.demo-staging.yaml").read_text())["config"]
    with pytest.raises(ConfigError) as exc:
        parse_stack_config("demo-prod", config)
    assert any("lfh:client.environment" in line for line in exc.value.lines)
    cfg = parse_stack_config("demo-staging", config)
    assert cfg.role == "client" and cfg.client.name == "demo"


def test_every_committed_stack_file_validates():
    stacks = sorted(STACKS_DIR.glob("Pulumi.*.yaml"))
    assert {"platform-local", "demo-staging"} <= {p.name[7:-5] for p in stacks}
    for path in stacks:
        load_stack_file(path)


def test_configuration_reference_is_generated_and_current():
    committed = (PROJECT_ROOT / "docs" / "configuration.md").read_text()
    assert committed == render(), "docs/configuration.md is stale: run `make docs`"
    assert "`lfh:platform.cluster.kubeconfig`" in committed and "**secret**" in committed


def test_cli_usage_error_exits_2():
    proc = subprocess.run([sys.executable, "-m", "lfh", "plan"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "give one STACK or --all" in proc.stderr and "Traceback" not in proc.stderr
