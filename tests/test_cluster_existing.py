"""Existing cluster target and the cluster contract's laziness (import time matters)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.graph import SSO_YAML

ROOT = Path(__file__).resolve().parents[1]


def test_existing_creates_no_cloud_resources(plan_of):
    plan = plan_of("platform-local")
    assert plan.errors == []
    assert [r.type for r in plan.resources if r.type.split(":")[0] in ("aws", "azure-native", "gcp")] == []
    assert len(plan.of_type("lfh:cluster:ExistingCluster")) == 1
    (provider,) = plan.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == "[secret]"
    assert "kubeconfig" in plan.secret_outputs


def test_existing_cloud_output_shape(plan_of):
    cloud = plan_of("platform-local").outputs["cloud"]
    assert cloud == {"kind": "existing", "region": "us-east-1", "kmsKeyId": "", "secretsPrefix": "local",
                     "backupEndpoint": "http://backup-store.lfh-backup-store.svc.cluster.local:9000",
                     # The self-contained platform creates and stores the store's keys itself.
                     "backupCredentials": "stored",
                     # Clients' backup agents are let out to the in-cluster store's pods.
                     "backupStorePods": {"namespace": "lfh-backup-store", "port": 9000,
                                         "labels": {"app": "minio", "release": "backup-store"}},
                     # Where the API server and the nodes are is unknown on an existing cluster.
                     "apiServerCidrs": [], "apiServerTunnelPods": [], "nodeCidrs": []}


def test_cloud_sdks_are_imported_lazily():
    code = (
        "import sys, components.cluster\n"
        "from components.cluster import TARGETS\n"
        "assert set(TARGETS) == {'aws', 'azure', 'gcp', 'existing'}\n"
        "print(sorted(m for m in ('pulumi_aws', 'pulumi_azure_native', 'pulumi_gcp') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_kubeconfig_path_names_the_key(tmp_path):
    from lfh.plan import Engine

    (tmp_path / "Pulumi.platform-kc.yaml").write_text(
        "config:\n  lfh:platform:\n    name: kc\n    domain: kc.example.com\n    cluster:\n      provider: existing\n"
        f"      kubeconfigPath: {tmp_path}/missing\n" + SSO_YAML)
    import pytest

    with pytest.raises(Exception, match=r"lfh:platform\.cluster\.kubeconfigPath: .*missing does not exist"):
        Engine(stacks_dir=tmp_path).plan("platform-kc")
