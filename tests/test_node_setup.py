"""Longhorn's host prerequisites: every pool it runs on provides open-iscsi/iscsid (and cryptsetup for
encrypted volumes), and the plan reports a pool that does not."""
from __future__ import annotations

import base64
import re

import pytest

from lfh import STACKS_DIR
from lfh.node_setup import CRYPTSETUP, ISCSI, al2023_capabilities, shell_scripts
from lfh.plan import Engine, analyze
from tests.graph import one

CHECK = "node-setup"


def platform_stack(tmp_path, cloud: str, extra: str = "", name: str = "ns") -> Engine:
    """The example platform of ``cloud`` renamed, with ``extra`` YAML appended under `cluster:`."""
    text = (STACKS_DIR / f"Pulumi.platform-{cloud}.yaml").read_text()
    text = re.sub(r"(\n    name: )\S+", rf"\g<1>{name}", text, count=1)
    if extra:
        text = text.replace("\n    cluster:\n", "\n    cluster:\n" + extra, 1)
    (tmp_path / f"Pulumi.platform-{name}.yaml").write_text(text)
    return Engine(stacks_dir=tmp_path)


def node_setup_errors(plan) -> list[str]:
    return [f.message for f in plan.errors if f.check == CHECK]


@pytest.mark.parametrize("stack", ["platform-aws", "platform-azure", "platform-gcp"])
def test_example_platforms_set_every_pool_up_for_longhorn(plan_of, stack):
    plan = plan_of(stack)
    pools = plan.outputs["clusterFacts"]["nodePools"]
    assert [p["name"] for p in pools] == ["system", "apps", "db"]
    assert all({ISCSI, CRYPTSETUP} <= set(p["provides"]) for p in pools)
    assert node_setup_errors(plan) == []


def test_eks_launch_templates_install_iscsi_and_cryptsetup_in_a_mime_shell_part(plan_of):
    plan = plan_of("platform-aws")
    for lt in plan.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        document = base64.b64decode(lt.inputs["userData"]).decode()
        assert 'Content-Type: multipart/mixed; boundary="==LFH-NODE-SETUP=="' in document
        (script,) = shell_scripts(lt.inputs["userData"])
        assert script.startswith("#!/bin/bash") and "systemctl enable --now iscsid" in script
        assert al2023_capabilities(lt.inputs["userData"]) == {ISCSI, CRYPTSETUP}


def test_eks_user_data_without_the_iscsi_part_is_an_error(tmp_path, monkeypatch):
    import components.cluster.aws as eks

    # Rebuild the broken launch templates: user data that installs cryptsetup only.
    real = eks.al2023_user_data
    monkeypatch.setattr(eks, "al2023_user_data", lambda caps: real([c for c in caps if c != ISCSI]))
    plan = analyze(platform_stack(tmp_path, "aws").plan("platform-ns"))
    errors = node_setup_errors(plan)
    assert len(errors) == 3, errors
    assert all("does not set it up" in e and "`iscsi`" in e and "aws:ec2/launchTemplate:LaunchTemplate" in e for e in errors)


@pytest.mark.parametrize("cloud, pool_key, broken", [
    ("gcp", "imageType", "COS_CONTAINERD"),
    ("azure", "osSku", "AzureLinux"),
])
def test_a_pool_on_an_image_without_iscsi_is_an_error(tmp_path, cloud, pool_key, broken):
    engine = platform_stack(tmp_path, cloud, f"      nodePools:\n        db:\n          {pool_key}: {broken}\n")
    plan = analyze(engine.plan("platform-ns"))
    errors = node_setup_errors(plan)
    assert len(errors) == 2, errors  # iscsi and cryptsetup, on the db pool only
    assert all(e.startswith("node pool 'db': Longhorn runs there") for e in errors)
    assert pool_key in errors[0]
    facts = {p["name"]: p for p in plan.outputs["clusterFacts"]["nodePools"]}
    assert facts["db"]["provides"] == {} and set(facts["apps"]["provides"]) == {ISCSI, CRYPTSETUP}


def test_without_longhorn_the_image_is_free(tmp_path):
    text = ("      nodePools:\n        db:\n          imageType: COS_CONTAINERD\n")
    engine = platform_stack(tmp_path, "gcp", text)
    path = tmp_path / "Pulumi.platform-ns.yaml"
    path.write_text(path.read_text() + "    storage:\n      useClusterStorageClass: true\n")
    plan = analyze(engine.plan("platform-ns"))
    assert node_setup_errors(plan) == []
    one(plan, "gcp:container/nodePool:NodePool", "-pool-db")  # the pool is still there


def test_existing_cluster_with_longhorn_must_declare_its_nodes(tmp_path):
    base = (STACKS_DIR / "Pulumi.platform-local.yaml").read_text()
    text = base.replace("      useClusterStorageClass: true\n", "      useClusterStorageClass: false\n")
    (tmp_path / "Pulumi.platform-local.yaml").write_text(text)
    plan = analyze(Engine(stacks_dir=tmp_path).plan("platform-local"))
    errors = node_setup_errors(plan)
    assert errors and all("nodeCapabilities" in e for e in errors)
    (tmp_path / "Pulumi.platform-local.yaml").write_text(
        text.replace("      storageClass: local-path\n", "      storageClass: local-path\n      nodeCapabilities: [iscsi, cryptsetup]\n"))
    assert node_setup_errors(analyze(Engine(stacks_dir=tmp_path).plan("platform-local"))) == []
