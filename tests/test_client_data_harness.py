"""Harness for the client-data tests: plans the data components (ClientSecrets, MongoDB,
ObjectStorage, Search) under the real plan engine, against a platform contract of each cloud kind.

Run as a program (`__main__`) by `lfh.plan.engine.run_program`; imported by the tests for
`plan_scenario`. No tests live here.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

#: The fake RandomPassword result for the default length (lfh/plan/fakes.py): must never appear.
FAKE_PASSWORD = "x" * 32

CLOUDS: dict[str, dict[str, Any]] = {
    "aws": {"kind": "aws", "region": "us-east-1", "kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/1111-2222",
            "secretsPrefix": "lfh-aws", "accountId": "123456789012", "partition": "aws",
            "oidcProviderArn": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC",
            "oidcIssuer": "oidc.eks.us-east-1.amazonaws.com/id/ABC",
            "accessLogs": {"kind": "cloudtrail", "trail": "lfh-aws-data-access", "bucket": "lfh-aws-audit",
                           "retentionDays": 2190, "bucketPrefix": "lfh-aws-"},
            "replication": {"region": "us-west-2", "kmsKeyId": "arn:aws:kms:us-west-2:123456789012:key/3333-4444"}},
    "azure": {"kind": "azure", "region": "eastus2", "location": "eastus2",
              "kmsKeyId": "https://lfh-kv.vault.azure.net/keys/platform",
              "secretsPrefix": "lfh-az", "subscriptionId": "00000000-0000-0000-0000-000000000000",
              "tenantId": "11111111-1111-1111-1111-111111111111", "resourceGroup": "lfh-az",
              "oidcIssuer": "https://eastus2.oic.prod-aks.azure.com/tenant/guid/", "keyVaultName": "lfh-kv",
              "keyVaultUri": "https://lfh-kv.vault.azure.net/", "storageAccountName": "lfhazdata",
              "nodeSubnetId": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/lfh-az/providers/"
                              "Microsoft.Network/virtualNetworks/vnet-az/subnets/nodes",
              "accessLogs": {"kind": "diagnostic-settings", "storageAccount": "lfhazaudit", "retentionDays": 365},
              "replication": {"kind": "geo-redundant-account", "sku": "Standard_GZRS"}},
    "gcp": {"kind": "gcp", "region": "us-central1", "secretsPrefix": "lfh-gcp", "project": "lfh-example",
            "kmsKeyId": "projects/lfh-example/locations/us-central1/keyRings/lfh/cryptoKeys/platform",
            "workloadIdentityPool": "lfh-example.svc.id.goog",
            "accessLogs": {"kind": "cloud-audit-logs", "logBucket": "projects/lfh-example/locations/us-central1/buckets/access",
                           "retentionDays": 365, "bucketPrefix": "lfh-gcp-"}},
    "existing": {"kind": "existing", "region": "us-east-1", "kmsKeyId": "", "secretsPrefix": "local",
                 "backupEndpoint": "https://s3.example.internal"},
}


def platform_outputs(kind: str) -> dict[str, Any]:
    cloud = CLOUDS[kind]
    return {
        "platform": cloud["secretsPrefix"], "environment": "production", "domain": "example.com",
        "kubernetesVersion": "1.33", "clusterName": cloud["secretsPrefix"], "region": cloud["region"],
        "cloud": cloud,
        "gateway": {"name": "shared-gateway", "namespace": "envoy-gateway-system"},
        "storageClasses": {"default": "longhorn", "encrypted": "longhorn-encrypted", "cloud": "cloud-encrypted"},
        "secrets": {"prefix": cloud["secretsPrefix"]},
        "backups": {"namespace": "velero", "bucket": f"{cloud['secretsPrefix']}-backups", "region": cloud["region"],
                    **({"endpoint": cloud["backupEndpoint"]} if kind == "existing" else {})},
        "issuers": {"public": "letsencrypt", "internal": "lfh-internal-ca"},
        "monitoring": {"enabled": False},
        "gitops": {"namespace": "argocd"},
        # What the cloud cluster contracts export (components/cluster/_common.py `scheduling`); none on existing.
        "scheduling": {} if kind == "existing" else {
            pool: {"nodeSelector": {"lfh.io/pool": pool},
                   "tolerations": [{"key": "lfh.io/pool", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]
                   if pool == "db" else []} for pool in ("system", "apps", "db")},
    }


@lru_cache(maxsize=None)
def _plan(kind: str, client_json: str):
    from lfh.config.loader import dumps_placeholder_config
    from lfh.plan.engine import run_program

    client = json.loads(client_json)
    stack = f"{client['name']}-{client['environment']}"
    os.environ["LFH_TEST_PLATFORM"] = json.dumps(platform_outputs(kind))
    try:
        return run_program(Path(__file__), stack, dumps_placeholder_config({"lfh:client": client}), [])
    finally:
        os.environ.pop("LFH_TEST_PLATFORM", None)


def plan_scenario(kind: str = "aws", environment: str = "production", name: str = "acme", **client: Any):
    """The Plan of the data components for one client on a platform of ``kind``."""
    cfg = {"name": name, "environment": environment, "platformStack": "organization/lfh/platform-test",
           "domain": f"{name}-{environment}.example.com", "apps": {"mycureapp": {"tag": "10.0.0"}}, **client}
    return _plan(kind, json.dumps(cfg, sort_keys=True))


def _program() -> None:
    import pulumi
    import pulumi_kubernetes as k8s

    from components.client.contract import ClientContext
    from components.client.mongodb import MongoDB
    from components.client.objectstore import ObjectStorage
    from components.client.search import Search
    from components.client.secrets import ClientSecrets
    from components.k8s import child_opts, labels, meta
    from components.platform.contract import PlatformContract
    from lfh.config import from_pulumi

    cfg = from_pulumi().client
    platform = PlatformContract.from_outputs(json.loads(os.environ["LFH_TEST_PLATFORM"]))
    ns = f"{cfg.name}-{cfg.environment.value}"

    class Harness(pulumi.ComponentResource):
        def __init__(self, name: str):
            super().__init__("lfh:test:Harness", name, None, None)
            provider = k8s.Provider(f"{name}-k8s", kubeconfig="fake", opts=pulumi.ResourceOptions(parent=self))
            namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata=meta(ns, labels=labels(ns)),
                                              opts=child_opts(self, provider))
            ctx = ClientContext(config=cfg, platform=platform, provider=provider, namespace=ns,
                                namespace_resource=namespace, labels=labels(ns))
            opts = pulumi.ResourceOptions(parent=self)
            self.secrets = ClientSecrets(f"{name}-secrets", ctx, opts)
            self.mongodb = MongoDB(f"{name}-mongodb", ctx, self.secrets, opts)
            self.storage = ObjectStorage(f"{name}-storage", ctx, self.secrets, opts)
            self.search = Search(f"{name}-search", ctx, self.secrets, opts) if cfg.search.enabled else None
            self.register_outputs({})

    h = Harness(ns)
    parts = [h.secrets, h.mongodb, h.storage] + ([h.search] if h.search else [])
    pulumi.export("wiring", [{"env": p.wiring.env, "secretEnv": p.wiring.secret_env,
                              "secretData": p.wiring.secret_data, "egressTo": p.wiring.egress_to} for p in parts])
    pulumi.export("workloads", [w.__dict__ for p in parts[1:] for w in p.workloads])
    pulumi.export("routes", [r.__dict__ for r in h.storage.routes])
    b = h.storage.app_service_account_binding
    pulumi.export("appBinding", None if b is None else {"serviceAccount": b.service_account,
                                                        "annotations": b.annotations, "podLabels": b.pod_labels})


if __name__ == "__main__":
    _program()


# ------------------------------------------------------------------ helpers for the tests


def of_type(plan, type_: str) -> list:
    return [r for r in plan.resources if r.type == type_]


def one(plan, type_: str, suffix: str = ""):
    found = [r for r in of_type(plan, type_) if r.name.endswith(suffix)]
    assert len(found) == 1, f"expected one {type_} named *{suffix}, found {[r.name for r in found]}"
    return found[0]


def kind(plan, k8s_kind: str) -> list:
    return [r for r in plan.resources if r.is_kubernetes and r.inputs.get("kind") == k8s_kind]


def everything_recorded(plan) -> str:
    """What `resources.json` and the stack outputs would contain, as one string."""
    return json.dumps([r.contract_dict() for r in plan.resources]) + json.dumps(plan.outputs)


@lru_cache(maxsize=None)
def crd_schema(path: str, kind_: str, version: str) -> dict:
    import yaml

    from lfh.upstream import upstream_dir

    root = upstream_dir()
    assert root is not None, "../shared/upstream is missing"

    class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml: these files are megabytes
        pass

    Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))
    for doc in yaml.load_all((root / path).read_text(), Loader=Loader):
        if not doc:
            continue
        if doc.get("kind") == "CustomResourceDefinition" and doc["spec"]["names"]["kind"] == kind_:
            for v in doc["spec"]["versions"]:
                if v["name"] == version:
                    return v["schema"]["openAPIV3Schema"]
    raise AssertionError(f"{kind_} {version} not in {path}")


def schema_errors(obj: Any, schema: dict, path: str = "") -> list[str]:
    """Type/enum/required errors (jsonschema) plus unknown fields, which the API server would
    silently prune (CRD schemas rarely say additionalProperties: false)."""
    import jsonschema

    errors = [f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
              for e in jsonschema.Draft7Validator(schema).iter_errors(obj)]
    errors += _unknown_fields(obj, schema, path)
    return errors


def _unknown_fields(obj: Any, schema: dict, path: str) -> list[str]:
    out: list[str] = []
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return out
    if isinstance(obj, dict):
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        for k, v in obj.items():
            if props is not None and k in props:
                out += _unknown_fields(v, props[k], f"{path}.{k}")
            elif isinstance(addl, dict):
                out += _unknown_fields(v, addl, f"{path}.{k}")
            elif props is not None and k not in ("apiVersion", "kind", "metadata"):
                out.append(f"{path}.{k}: unknown field")
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(obj):
            out += _unknown_fields(v, schema["items"], f"{path}[{i}]")
    return out
