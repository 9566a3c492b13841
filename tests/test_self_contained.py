"""platform-local is self-contained: a fresh kind/k3d cluster with nothing else running is enough."""
from __future__ import annotations

import json

import pytest

from lfh import STACKS_DIR
from lfh.config import ConfigError, load_stack_file
from lfh.plan import Engine, analyze

CHECK = "self-contained"


def manifests(plan, kind: str) -> list[dict]:
    return [m for _, m in plan.manifests() if m["kind"] == kind]


@pytest.fixture(scope="module")
def local(plan_of):
    return plan_of("platform-local")


def test_secrets_come_from_a_locked_namespace_the_stack_fills(local):
    (store,) = manifests(local, "ClusterSecretStore")
    k8s = store["spec"]["provider"]["kubernetes"]
    assert k8s["remoteNamespace"] == "lfh-platform-secrets"
    assert k8s["auth"]["serviceAccount"] == {"name": "platform-secret-reader", "namespace": "lfh-platform-secrets"}
    ns = next(m for m in manifests(local, "Namespace") if m["metadata"]["name"] == "lfh-platform-secrets")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    (quota,) = [m for m in manifests(local, "ResourceQuota") if m["metadata"]["namespace"] == "lfh-platform-secrets"]
    assert quota["spec"]["hard"] == {"pods": "0"}  # locked: nothing runs there
    (role,) = [m for m in manifests(local, "Role") if m["metadata"]["namespace"] == "lfh-platform-secrets"]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}]
    # Every secret a platform ExternalSecret reads is one the stack generates there.
    held = {m["metadata"]["name"] for m in manifests(local, "Secret") if m["metadata"]["namespace"] == "lfh-platform-secrets"}
    wanted = {d["remoteRef"]["key"] for es in manifests(local, "ExternalSecret") for d in es["spec"].get("data") or []}
    assert wanted and wanted <= held, wanted - held
    assert [f for f in local.findings if f.check == CHECK] == []


def test_backups_go_to_an_in_cluster_object_store(local):
    endpoint = "http://backup-store.lfh-backup-store.svc.cluster.local:9000"
    for bsl in manifests(local, "BackupStorageLocation"):
        assert bsl["spec"]["config"]["s3Url"] == endpoint and bsl["spec"]["objectStorage"]["bucket"] == "lfh-backups"
    store = next(h for _, h in local.helm_releases() if h["name"] == "backup-store")
    assert (store["chart"], store["namespace"]) == ("minio", "lfh-backup-store")
    values = store["values"]
    assert values["buckets"][0]["name"] == "lfh-backups"
    # Velero's user, and the log collector's (an existing cluster brings no log agent; it ships to `logs/`)
    assert [u["accessKey"] for u in values["users"]] == ["velero", "logs"]
    assert values["persistence"]["storageClass"] == "local-path"
    assert local.outputs["cloud"]["backupEndpoint"] == endpoint


def test_nothing_outside_the_cluster_is_named(local):
    text = json.dumps([r.inputs for r in local.resources])
    for outside in ("vault", "s3.local.example.com", "amazonaws.com"):
        assert outside not in text, outside


def test_certificates_come_from_the_internal_ca_and_argocd_admin_has_a_generated_password(local):
    certs = [m for m in manifests(local, "Certificate") if m["metadata"]["namespace"] == "envoy-gateway-system"]
    assert certs and all(c["spec"]["issuerRef"]["name"] == "internal-ca" for c in certs)
    assert "*.local.example.com" in certs[0]["spec"]["dnsNames"]
    (admin,) = [m for m in manifests(local, "ExternalSecret") if m["spec"]["target"]["name"] == "argocd-secret"]
    assert admin["spec"]["target"]["creationPolicy"] == "Merge"
    assert {d["secretKey"] for d in admin["spec"]["data"]} == {"admin.password", "admin.passwordMtime"}
    assert [f for f in local.findings if f.check == "argocd-login"] == []


def test_a_secret_the_stack_does_not_generate_is_an_error(tmp_path, monkeypatch):
    """The failure this mode fixes: a platform that reads a secret nothing in the cluster provides."""
    import components.platform.self_contained as sc

    (tmp_path / "Pulumi.platform-local.yaml").write_text((STACKS_DIR / "Pulumi.platform-local.yaml").read_text())
    real = sc.remote_name
    monkeypatch.setattr(sc, "remote_name", lambda prefix, path, block: real(prefix, path, block).replace("velero", "velero-old"))
    plan = analyze(Engine(stacks_dir=tmp_path).plan("platform-local"))
    found = [f.message for f in plan.errors if f.check == CHECK]
    assert any("reads 'local.platform.velero' from namespace lfh-platform-secrets, but nothing creates" in m for m in found), found


@pytest.mark.parametrize("extra, key", [
    ("      backupEndpoint: https://s3.example.com\n", "lfh:platform.cluster"),
    ("", "lfh:platform"),
])
def test_self_contained_refuses_outside_services(tmp_path, extra, key):
    text = (STACKS_DIR / "Pulumi.platform-local.yaml").read_text()
    text = text.replace("      selfContained: true\n", "      selfContained: true\n" + extra)
    if not extra:
        text += "    secrets:\n      provider:\n        vault:\n          server: https://vault.example.com\n"
    path = tmp_path / "Pulumi.platform-local.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_stack_file(path)
    assert any(line.startswith(key) and "selfContained" in line for line in exc.value.lines), exc.value.lines
