"""Exactly one default StorageClass per cluster, chosen explicitly."""
from __future__ import annotations

import pytest

from lfh import STACKS_DIR
from lfh.plan import Engine, analyze
from lfh.plan.storage_classes import defaults
from tests.test_node_setup import platform_stack

CHECK = "default-storage-class"


def default_classes(plan) -> list[str]:
    return sorted(name for name, (is_default, _) in defaults(plan).items() if is_default)


@pytest.mark.parametrize("stack, default, patched", [
    ("platform-aws", "longhorn", []),            # EKS ≥ 1.30 marks no class default
    ("platform-azure", "longhorn", ["default"]),
    ("platform-gcp", "longhorn", ["standard-rwo"]),
    ("platform-local", "local-path", []),       # the cluster's own class; no Longhorn
])
def test_each_platform_has_exactly_one_default(plan_of, stack, default, patched):
    plan = plan_of(stack)
    assert default_classes(plan) == [default]
    patches = [m for r, m in plan.manifests() if r.type == "kubernetes:storage.k8s.io/v1:StorageClassPatch"]
    assert sorted(m["metadata"]["name"] for m in patches) == patched
    for m in patches:
        assert m["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "false",
                                                "pulumi.com/patchForce": "true"}
    assert [f for f in plan.findings if f.check == CHECK] == []


def test_without_patching_the_clouds_default_there_are_two(tmp_path, monkeypatch):
    from components.platform import storage

    monkeypatch.setattr(storage.Storage, "_only_default", lambda self, p, chosen, cluster: [])
    plan = analyze(platform_stack(tmp_path, "azure").plan("platform-ns"))
    (message,) = [f.message for f in plan.errors if f.check == CHECK]
    assert message.startswith("2 default StorageClasses: default (built into the cluster); longhorn")


def test_the_clouds_encrypted_class_is_the_default_without_longhorn(tmp_path):
    engine = platform_stack(tmp_path, "gcp", "")
    path = tmp_path / "Pulumi.platform-ns.yaml"
    path.write_text(path.read_text() + "    storage:\n      useClusterStorageClass: true\n")
    plan = analyze(engine.plan("platform-ns"))
    assert default_classes(plan) == ["pd-balanced-cmek"]
    assert defaults(plan)["standard-rwo"][0] is False
    assert [f for f in plan.errors if f.check == CHECK] == []


def test_longhorn_on_an_existing_cluster_takes_over_the_default(tmp_path):
    text = (STACKS_DIR / "Pulumi.platform-local.yaml").read_text()
    text = text.replace("      useClusterStorageClass: true\n", "      useClusterStorageClass: false\n")
    text = text.replace("      storageClass: local-path\n", "      storageClass: local-path\n      nodeCapabilities: [iscsi, cryptsetup]\n")
    (tmp_path / "Pulumi.platform-local.yaml").write_text(text)
    plan = analyze(Engine(stacks_dir=tmp_path).plan("platform-local"))
    assert default_classes(plan) == ["longhorn"]
    assert [f for f in plan.errors if f.check == CHECK] == []
