"""The ClusterContract each target returns, resolved under the mock runtime and checked against the
upstream CRDs (External Secrets ClusterSecretStore provider, cert-manager ACME DNS-01 solver)."""
from __future__ import annotations

import textwrap
from functools import lru_cache

import jsonschema
import pytest

from lfh.config.loader import dumps_placeholder_config, load_stack_file
from lfh.plan.engine import run_program, stack_file
from lfh.upstream import load_yaml_all, upstream_dir

PROGRAM = textwrap.dedent('''
    import pulumi
    from lfh.config import from_pulumi
    from components.cluster import create_cluster

    c = create_cluster(from_pulumi().platform)
    pulumi.export("secretStoreProvider", c.secret_store_provider)
    pulumi.export("dns01Solver", c.dns01_solver)
    pulumi.export("addonIdentities", {k: {"namespace": v.namespace, "serviceAccount": v.service_account,
                                          "annotations": v.annotations, "podLabels": v.pod_labels}
                                      for k, v in c.addon_identities.items()})
    pulumi.export("backup", {"flavour": c.backup.flavour, "bucket": c.backup.bucket, "region": c.backup.region,
                             "endpoint": c.backup.endpoint, "kmsKeyId": c.backup.kms_key_id, "extra": c.backup.extra,
                             "dailyPrefix": c.backup.daily_prefix, "archivePrefix": c.backup.archive_prefix})
    pulumi.export("storageClass", c.storage_class)
    pulumi.export("scheduling", c.scheduling)
    pulumi.export("lb", c.load_balancer_annotations)
    pulumi.export("ready", len(c.ready))
    pulumi.export("name", c.name)
''')

SA = {"external-secrets": ("external-secrets", "external-secrets"), "velero": ("velero", "velero"),
      "cert-manager": ("cert-manager", "cert-manager"), "longhorn": ("longhorn-system", "longhorn-service-account")}


@pytest.fixture(scope="module")
def contract(tmp_path_factory):
    program = tmp_path_factory.mktemp("contract") / "__main__.py"
    program.write_text(PROGRAM)
    cache = {}

    def get(stack):
        if stack not in cache:
            _, config, secret_paths = load_stack_file(stack_file(stack), stack)
            keys = sorted({p.split(".", 1)[0] for p in secret_paths})
            cache[stack] = run_program(program, stack, dumps_placeholder_config(config), keys).outputs
        return cache[stack]

    return get


@lru_cache(maxsize=None)
def crd_schema(folder: str, kind: str) -> dict:
    root = upstream_dir()
    if root is None:
        pytest.skip("upstream CRDs not present")
    for doc in load_yaml_all(root / folder / "crds.yaml"):
        if doc.get("kind") == "CustomResourceDefinition" and doc["spec"]["names"]["kind"] == kind:
            version = next(v for v in doc["spec"]["versions"] if v.get("storage"))
            return version["schema"]["openAPIV3Schema"]
    raise AssertionError(f"{kind} not in {folder}/crds.yaml")


def strict(schema):
    """Upstream schema with additionalProperties=false on every object, so a misspelt field fails."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


CLOUDS = {"platform-aws": "aws", "platform-azure": "azurekv", "platform-gcp": "gcpsm"}


@pytest.mark.parametrize("stack", sorted(CLOUDS))
def test_secret_store_provider_matches_the_crd(contract, stack):
    provider = contract(stack)["secretStoreProvider"]
    assert list(provider) == [CLOUDS[stack]]
    schema = strict(crd_schema("external-secrets", "ClusterSecretStore")["properties"]["spec"]["properties"]["provider"])
    jsonschema.validate(provider, schema)
    body = provider[CLOUDS[stack]]
    ref = (body.get("auth", {}).get("jwt") or body.get("auth", {}).get("workloadIdentity") or body)["serviceAccountRef"]
    # A ClusterSecretStore must name the namespace of the service account it authenticates as.
    assert ref == {"name": "external-secrets", "namespace": "external-secrets"}


@pytest.mark.parametrize("stack,kind", [("platform-aws", "route53"), ("platform-azure", "azureDNS"), ("platform-gcp", "cloudDNS")])
def test_dns01_solver_matches_the_crd(contract, stack, kind):
    solver = contract(stack)["dns01Solver"]
    schema = crd_schema("cert-manager", "ClusterIssuer")["properties"]["spec"]["properties"]["acme"]["properties"]["solvers"]["items"]
    jsonschema.validate(solver, strict(schema))
    assert list(solver["dns01"]) == [kind]
    assert solver["selector"]["dnsZones"] == [f"{stack.removeprefix('platform-')}.example.com"]


def test_no_dns01_solver_without_zones(contract):
    assert contract("platform-local")["dns01Solver"] is None


@pytest.mark.parametrize("stack,annotation", [
    ("platform-aws", "eks.amazonaws.com/role-arn"),
    ("platform-azure", "azure.workload.identity/client-id"),
    ("platform-gcp", "iam.gke.io/gcp-service-account"),
])
def test_addon_identities_use_fixed_service_accounts(contract, stack, annotation):
    identities = contract(stack)["addonIdentities"]
    # Longhorn's Azure Blob store takes only the account key: no identity for it on Azure.
    expected = {a: v for a, v in SA.items() if not (stack == "platform-azure" and a == "longhorn")}
    assert set(identities) == set(expected)
    for addon, (ns, sa) in expected.items():
        binding = identities[addon]
        assert (binding["namespace"], binding["serviceAccount"]) == (ns, sa)
        assert binding["annotations"][annotation]
    if stack == "platform-azure":
        assert all(b["podLabels"] == {"azure.workload.identity/use": "true"} for b in identities.values())


@pytest.mark.parametrize("stack,flavour,sc", [
    ("platform-aws", "s3", "gp3-encrypted"), ("platform-azure", "azure-blob", "managed-csi-encrypted"),
    ("platform-gcp", "gcs", "pd-balanced-cmek"), ("platform-local", "s3-compatible", "local-path"),
])
def test_backup_and_storage_class(contract, stack, flavour, sc):
    out = contract(stack)
    assert out["backup"]["flavour"] == flavour and out["backup"]["bucket"]
    assert out["backup"]["dailyPrefix"] == "daily" and out["backup"]["archivePrefix"] == "archive"
    assert out["storageClass"] == sc
    if flavour != "s3-compatible":
        assert out["backup"]["kmsKeyId"] and out["ready"] >= 3
        assert out["scheduling"]["system"]["tolerations"] == [
            {"key": "CriticalAddonsOnly", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
        assert out["scheduling"]["db"]["nodeSelector"] == {"lfh.io/pool": "db"}
    if flavour == "azure-blob":
        assert set(out["backup"]["extra"]) >= {"resourceGroup", "storageAccount", "subscriptionId"}
    if flavour == "gcs":
        assert out["backup"]["extra"]["project"] == "lfh-example"
        assert out["backup"]["extra"]["serviceAccount"] == out["addonIdentities"]["velero"]["annotations"]["iam.gke.io/gcp-service-account"]


@pytest.mark.parametrize("stack,command,arg", [
    ("platform-aws", "aws", "get-token"),
    ("platform-azure", "kubelogin", "--server-id"),
    ("platform-gcp", "gke-gcloud-auth-plugin", None),
])
def test_kubeconfig_is_exec_only(plan_of, stack, command, arg):
    import yaml

    plan = plan_of(stack)
    assert "kubeconfig" in plan.secret_outputs
    doc = yaml.safe_load(plan.outputs["kubeconfig"])
    (user,) = doc["users"]
    assert set(user["user"]) == {"exec"}  # no token, client key or password inside
    assert user["user"]["exec"]["command"] == command
    if arg:
        assert arg in user["user"]["exec"]["args"]
    assert doc["clusters"][0]["cluster"]["server"].startswith("https://")
