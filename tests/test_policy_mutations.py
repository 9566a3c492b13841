"""Mutation suite: take a real stack's recorded graph, break one thing, and show that exactly the
expected policy starts firing (and no other policy gains a violation).

Also: every stack in stacks/ plans with 0 mandatory violations, except the known exceptions listed
below with who must fix them.
"""
from __future__ import annotations

import copy
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Optional

import pytest

from lfh import STACKS_DIR
from lfh.plan import list_stacks
from lfh.plan.model import Resource
from lfh.policy_runner import run

CLIENT_STACKS = ("demo-prod", "acme-prod", "demo-staging")
PLATFORM_STACKS = ("platform-local", "platform-aws", "platform-azure", "platform-gcp")


def exists(stack: str) -> bool:
    return (STACKS_DIR / f"Pulumi.{stack}.yaml").exists()


# ----------------------------------------------------------------------------- target helpers


def of_type(*types: str, where: Callable[[Resource], bool] = lambda r: True) -> Callable[[Resource], bool]:
    return lambda r: r.type in types and where(r)


def kind(r: Resource) -> str:
    return r.type.rsplit(":", 1)[-1]


def pod_spec(r: Resource) -> dict:
    spec = r.inputs["spec"]
    if kind(r) == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]["spec"]
    return spec["template"]["spec"]


def first_container(r: Resource) -> dict:
    return pod_spec(r)["containers"][0]


def labels(r: Resource) -> dict:
    return (r.inputs.get("metadata") or {}).get("labels") or {}


def is_client_ns(r: Resource) -> bool:
    lab = labels(r)
    return r.type == "kubernetes:core/v1:Namespace" and lab.get("lfh.io/client-namespace") == "true" and "lfh.io/client" in lab


def is_default_deny(r: Resource) -> bool:
    spec = r.inputs.get("spec") or {}
    return (r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy" and spec.get("podSelector") in ({}, None)
            and not spec.get("ingress") and not spec.get("egress"))


def remove(*preds: Callable[[Resource], bool]) -> Callable[[Resource, list[Resource]], None]:
    """Change: drop the target and every other resource matching one of `preds`."""
    def change(target: Resource, graph: list[Resource]) -> None:
        graph[:] = [r for r in graph if r is not target and not any(p(r) for p in preds)]
    return change


def edit(fn: Callable[[Resource], Any]) -> Callable[[Resource, list[Resource]], None]:
    return lambda target, graph: fn(target)


def set_in(path: str, value: Any) -> Callable[[Resource], None]:
    def fn(r: Resource) -> None:
        cur = r.inputs
        keys = path.split(".")
        for k in keys[:-1]:
            cur = cur.setdefault(k, {})
        if value is _DELETE:
            cur.pop(keys[-1], None)
        else:
            cur[keys[-1]] = value
    return fn


_DELETE = object()


def hpa_for(graph: list[Resource], deployment: Resource) -> Optional[Resource]:
    name = deployment.inputs["metadata"]["name"]
    for r in graph:
        if kind(r) == "HorizontalPodAutoscaler" and r.inputs["spec"]["scaleTargetRef"].get("name") == name:
            return r
    return None


def single_replica(target: Resource, graph: list[Resource]) -> None:
    hpa = hpa_for(graph, target)
    if hpa is not None:
        hpa.inputs["spec"]["minReplicas"] = 1
    target.inputs["spec"]["replicas"] = 1


def uncouple(target: Resource, graph: list[Resource]) -> None:
    """Drop every dependency of a custom resource and of its parent chain."""
    by_urn = {r.urn: r for r in graph}
    cur: Optional[Resource] = target
    while cur is not None:
        cur.dependencies = []
        cur.property_dependencies = {}
        cur = by_urn.get(cur.parent)


def is_velero_bucket(graph_names: set[str]) -> Callable[[Resource], bool]:
    return lambda r: r.type == "aws:s3/bucket:Bucket" and r.inputs.get("bucket") in graph_names


def drop_oidc_and_pod_identity(target: Resource, graph: list[Resource]) -> None:
    graph[:] = [r for r in graph if r.type != "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
                and not (r.type == "aws:eks/addon:Addon" and r.inputs.get("addonName") == "eks-pod-identity-agent")]


def secret_store_without_env(target: Resource) -> None:
    aws = target.inputs["spec"]["provider"].get("aws")
    env = labels(target).get("lfh.io/environment") or "production"
    if aws is not None and aws.get("prefix"):
        aws["prefix"] = aws["prefix"].replace(env, "shared").replace("prod", "shared")
    else:
        target.inputs["spec"]["provider"] = {"vault": {"path": "secret/all-clients", "server": "https://vault"}}


# ----------------------------------------------------------------------------- the mutations


@dataclass
class Mutation:
    id: str
    policy: str
    stacks: tuple[str, ...]
    target: Callable[[Resource], bool]
    change: Callable[[Resource, list[Resource]], None]
    #: Other policies the same change rightly trips (a control two policies guard from two sides).
    also: tuple[str, ...] = ()


WORKLOAD = of_type("kubernetes:apps/v1:Deployment")
EKS = of_type("aws:eks/cluster:Cluster")
RELEASE = of_type("kubernetes:helm.sh/v3:Release")

MUTATIONS = [
    # -- client workloads (demo-prod / acme-prod / demo-staging)
    Mutation("privileged-container", "k8s-no-privileged-containers", CLIENT_STACKS, WORKLOAD,
             edit(lambda r: first_container(r).setdefault("securityContext", {}).update(privileged=True))),
    Mutation("image-latest", "k8s-image-pinned", CLIENT_STACKS, WORKLOAD,
             edit(lambda r: first_container(r).update(image=first_container(r)["image"].rsplit(":", 1)[0].split("@")[0] + ":latest"))),
    Mutation("run-as-root", "k8s-run-as-non-root", CLIENT_STACKS, WORKLOAD,
             edit(lambda r: first_container(r).setdefault("securityContext", {}).update(runAsUser=0))),
    Mutation("privilege-escalation", "k8s-no-privilege-escalation", CLIENT_STACKS, WORKLOAD,
             edit(lambda r: first_container(r)["securityContext"].update(allowPrivilegeEscalation=True))),
    Mutation("host-path", "k8s-no-host-path", CLIENT_STACKS, WORKLOAD,
             edit(lambda r: pod_spec(r).setdefault("volumes", []).append({"name": "host", "hostPath": {"path": "/var/run"}}))),
    Mutation("host-network", "k8s-no-host-namespaces", CLIENT_STACKS, WORKLOAD,
             edit(lambda r: pod_spec(r).update(hostNetwork=True))),
    Mutation("no-resources", "k8s-resources-requests-limits", CLIENT_STACKS, WORKLOAD,
             edit(lambda r: first_container(r).pop("resources"))),
    Mutation("no-readiness-probe", "k8s-probes", CLIENT_STACKS, WORKLOAD,
             edit(lambda r: first_container(r).pop("readinessProbe"))),
    Mutation("production-single-replica", "k8s-production-replicas", ("demo-prod", "acme-prod"),
             of_type("kubernetes:apps/v1:Deployment", where=lambda r: labels(r).get("lfh.io/environment") == "production"),
             single_replica),
    Mutation("literal-secret-env", "k8s-no-plaintext-secret-env", CLIENT_STACKS, WORKLOAD,
             edit(lambda r: first_container(r).setdefault("env", []).append({"name": "JWT_SECRET", "value": "hunter2"}))),
    Mutation("implicit-provider", "k8s-explicit-provider", CLIENT_STACKS, WORKLOAD,
             edit(lambda r: setattr(r, "provider", ""))),
    Mutation("load-balancer-service", "k8s-service-not-exposed", CLIENT_STACKS, of_type("kubernetes:core/v1:Service"),
             edit(set_in("spec.type", "LoadBalancer"))),
    Mutation("route-own-gateway", "k8s-route-shared-gateway", CLIENT_STACKS,
             of_type("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"),
             edit(lambda r: r.inputs["spec"]["parentRefs"][0].update(name="my-own-gateway"))),
    Mutation("egress-to-anywhere", "k8s-networkpolicy-rules-name-peer", CLIENT_STACKS,
             of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy", where=lambda r: bool((r.inputs.get("spec") or {}).get("egress"))),
             edit(lambda r: r.inputs["spec"]["egress"][0].pop("to"))),
    # -- client namespace baseline
    Mutation("no-default-deny", "stack-client-namespace-default-deny", CLIENT_STACKS, is_default_deny, remove()),
    Mutation("client-namespace-baseline", "k8s-client-namespace-restricted", CLIENT_STACKS, is_client_ns,
             edit(lambda r: labels(r).update({"pod-security.kubernetes.io/enforce": "baseline"}))),
    Mutation("unprotected-namespace", "data-resources-protected", CLIENT_STACKS, is_client_ns,
             edit(lambda r: setattr(r, "protect", False))),
    Mutation("no-weekly-backup", "stack-client-backups", CLIENT_STACKS,
             of_type("kubernetes:velero.io/v1:Schedule", where=lambda r: str(r.inputs["spec"]["template"].get("ttl", "")).startswith("2160h")),
             remove()),
    Mutation("secret-store-shared-path", "stack-secret-paths-scoped", CLIENT_STACKS,
             of_type("kubernetes:external-secrets.io/v1:SecretStore"), edit(secret_store_without_env)),
    Mutation("missing-part-of-label", "k8s-part-of-label", CLIENT_STACKS, of_type("kubernetes:core/v1:ConfigMap"),
             edit(lambda r: labels(r).pop("app.kubernetes.io/part-of"))),
    # -- core platform (Helm releases and their custom resources)
    Mutation("floating-chart-version", "helm-release-exact-version", PLATFORM_STACKS, RELEASE,
             edit(set_in("version", "~1"))),
    Mutation("unlisted-repository", "helm-release-allowed-repository", PLATFORM_STACKS,
             of_type("kubernetes:helm.sh/v3:Release", where=lambda r: "repositoryOpts" in r.inputs),
             edit(set_in("repositoryOpts.repo", "https://charts.bitnami.com/bitnami"))),
    Mutation("cr-before-crd", "stack-crd-installed-first", PLATFORM_STACKS,
             of_type("kubernetes:velero.io/v1:BackupStorageLocation", "kubernetes:cert-manager.io/v1:ClusterIssuer"), uncouple),
    Mutation("privileged-namespace", "k8s-namespace-pod-security", PLATFORM_STACKS,
             of_type("kubernetes:core/v1:Namespace", where=lambda r: r.inputs["metadata"]["name"] == "envoy-gateway-system"),
             edit(lambda r: labels(r).update({"pod-security.kubernetes.io/enforce": "privileged"}))),
    # -- AWS
    Mutation("eks-no-kms", "aws-eks-secrets-encryption", ("platform-aws",), EKS, edit(set_in("encryptionConfig", _DELETE))),
    Mutation("eks-public-endpoint", "aws-eks-private-endpoint", ("platform-aws",), EKS,
             edit(lambda r: r.inputs["vpcConfig"].update(endpointPublicAccess=True, publicAccessCidrs=["0.0.0.0/0"]))),
    Mutation("eks-no-audit-log", "aws-eks-control-plane-logs", ("platform-aws",), EKS,
             edit(lambda r: r.inputs.update(enabledClusterLogTypes=[t for t in r.inputs["enabledClusterLogTypes"] if t != "audit"]))),
    Mutation("eks-unprotected", "data-resources-protected", ("platform-aws",), EKS, edit(lambda r: setattr(r, "protect", False))),
    Mutation("eks-no-workload-identity", "aws-eks-workload-identity", ("platform-aws",), EKS, drop_oidc_and_pod_identity),
    Mutation("kms-no-rotation", "aws-kms-key-rotation", ("platform-aws",), of_type("aws:kms/key:Key"),
             edit(set_in("enableKeyRotation", False))),
    Mutation("imds-v1", "aws-launch-template-imdsv2", ("platform-aws",), of_type("aws:ec2/launchTemplate:LaunchTemplate"),
             edit(lambda r: r.inputs["metadataOptions"].update(httpTokens="optional"))),
    Mutation("ebs-without-cmk", "aws-launch-template-ebs-encrypted", ("platform-aws",), of_type("aws:ec2/launchTemplate:LaunchTemplate"),
             edit(lambda r: r.inputs["blockDeviceMappings"][0]["ebs"].pop("kmsKeyId"))),
    Mutation("short-log-retention", "aws-log-group-retention", ("platform-aws",), of_type("aws:cloudwatch/logGroup:LogGroup"),
             edit(set_in("retentionInDays", 7))),
    Mutation("bucket-public-access", "aws-s3-bucket-public-access-block", ("platform-aws",),
             of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"), remove()),
    Mutation("bucket-plain-http", "aws-s3-bucket-tls-only", ("platform-aws",), of_type("aws:s3/bucketPolicy:BucketPolicy"), remove()),
    Mutation("bucket-sse-s3", "aws-s3-bucket-cmk-encryption", ("platform-aws",),
             of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"),
             edit(lambda r: r.inputs["rules"][0]["applyServerSideEncryptionByDefault"].update(sseAlgorithm="AES256"))),
    Mutation("velero-bucket-object-lock", "backup-bucket-no-object-lock", ("platform-aws",),
             of_type("aws:s3/bucket:Bucket", where=lambda r: not r.inputs.get("objectLockEnabled")),
             edit(set_in("objectLockEnabled", True))),
    # -- Azure
    Mutation("aks-no-kms", "azure-aks-kms-etcd-encryption", ("platform-azure",),
             of_type("azure-native:containerservice:ManagedCluster"), edit(lambda r: r.inputs["securityProfile"].pop("azureKeyVaultKms"))),
    Mutation("vault-no-purge-protection", "azure-keyvault-purge-protection", ("platform-azure",),
             of_type("azure-native:keyvault:Vault"), edit(lambda r: r.inputs["properties"].update(enablePurgeProtection=False))),
    Mutation("storage-public-blobs", "azure-storage-no-public-access", ("platform-azure",),
             of_type("azure-native:storage:StorageAccount"), edit(set_in("allowBlobPublicAccess", True))),
    # -- issue 15: access logs and hardening
    Mutation("trail-without-kms", "aws-s3-data-access-logged", ("platform-aws",), of_type("aws:cloudtrail/trail:Trail"),
             edit(set_in("kmsKeyId", _DELETE))),
    Mutation("trail-misses-backups", "aws-s3-data-access-logged", ("platform-aws",), of_type("aws:cloudtrail/trail:Trail"),
             edit(lambda r: r.inputs["advancedEventSelectors"][0]["fieldSelectors"][2].update(startsWiths=["arn:aws:s3:::nothing-"]))),
    Mutation("client-bucket-untracked", "aws-s3-data-access-logged", ("acme-prod", "demo-prod"),
             of_type("aws:s3/bucket:Bucket"), edit(lambda r: r.inputs["tags"].pop("lfh:access-logs"))),
    Mutation("client-bucket-single-copy", "aws-s3-phi-bucket-replicated", ("acme-prod", "demo-prod"),
             of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig"), remove()),
    Mutation("cni-without-managed-policy", "aws-eks-addon-managed-policies", ("platform-aws",),
             of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment", where=lambda r: r.inputs["policyArn"].endswith("AmazonEKS_CNI_Policy")),
             remove()),
    Mutation("gcs-data-access-off", "gcp-gcs-data-access-logged", ("platform-gcp",),
             of_type("gcp:projects/iAMAuditConfig:IAMAuditConfig"), remove()),
    Mutation("gke-no-intranode-visibility", "gcp-gke-intranode-visibility", ("platform-gcp",),
             of_type("gcp:container/cluster:Cluster"), edit(set_in("enableIntranodeVisibility", False))),
    Mutation("binauthz-dry-run-in-production", "gcp-gke-binary-authorization", ("platform-gcp",),
             of_type("gcp:binaryauthorization/policy:Policy"),
             edit(lambda r: r.inputs["clusterAdmissionRules"][0].update(enforcementMode="DRYRUN_AUDIT_LOG_ONLY"))),
    Mutation("blob-access-logs-off", "azure-storage-blob-access-logged", ("platform-azure",),
             of_type("azure-native:monitor:DiagnosticSetting", where=lambda r: "blobServices" in r.inputs["resourceUri"]), remove()),
    Mutation("vault-public-endpoint", "azure-keyvault-no-public-network", ("platform-azure",),
             of_type("azure-native:keyvault:Vault"), edit(lambda r: r.inputs["properties"].update(publicNetworkAccess="Enabled"))),
    Mutation("backup-account-zone-only", "azure-storage-geo-redundant", ("platform-azure",),
             of_type("azure-native:storage:StorageAccount", where=lambda r: r.name.endswith("-backups")),
             edit(set_in("sku", {"name": "Standard_ZRS"}))),
    Mutation("aks-os-disk-implicit", "azure-aks-os-disk-type", ("platform-azure",),
             of_type("azure-native:containerservice:AgentPool"), edit(set_in("osDiskType", _DELETE))),
    # -- GCP
    Mutation("gke-no-etcd-encryption", "gcp-gke-secrets-encryption", ("platform-gcp",), of_type("gcp:container/cluster:Cluster"),
             edit(set_in("databaseEncryption", {"state": "DECRYPTED"}))),
    Mutation("gcs-unversioned", "gcp-bucket-versioning", ("platform-gcp",), of_type("gcp:storage/bucket:Bucket"),
             edit(set_in("versioning", {"enabled": False}))),
    # -- audit trail, secret rotation, data-layer monitoring (issue 15)
    Mutation("access-log-with-query", "k8s-gateway-access-log", PLATFORM_STACKS,
             of_type("kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy"),
             edit(lambda r: r.inputs["spec"]["telemetry"]["accessLog"]["settings"][0]["format"]["json"].update(
                 path="%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"))),
    Mutation("access-log-default-format", "k8s-gateway-access-log", PLATFORM_STACKS,
             of_type("kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy"), edit(lambda r: r.inputs["spec"].pop("telemetry"))),
    Mutation("password-without-rotation", "stack-generated-secrets-rotate", CLIENT_STACKS,
             of_type("random:index/randomPassword:RandomPassword", where=lambda r: r.name.endswith("jwt-secret")),
             edit(lambda r: (r.inputs.pop("keepers"), r.property_dependencies.pop("keepers", None)))),
    # (On an existing-cluster platform: on AWS `aws-secretsmanager-rotation` rightly fires too.)
    Mutation("yearly-rotation", "stack-generated-secrets-rotate", ("demo-staging",), of_type("time:index/rotating:Rotating"),
             edit(set_in("rotationDays", 365))),
    Mutation("yearly-rotation-aws", "aws-secretsmanager-rotation", ("demo-prod",), of_type("time:index/rotating:Rotating"),
             edit(set_in("rotationDays", 365)), also=("stack-generated-secrets-rotate",)),
    Mutation("mongodb-without-exporter", "stack-mongodb-monitored", ("demo-prod", "acme-prod"),
             of_type("kubernetes:psmdb.percona.com/v1:PerconaServerMongoDB"),
             edit(lambda r: r.inputs["spec"]["replsets"][0].pop("sidecars"))),
    Mutation("mongodb-without-lag-alert", "stack-mongodb-monitored", ("demo-prod", "acme-prod"),
             of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule"),
             edit(lambda r: r.inputs["spec"]["groups"][0].update(rules=[x for x in r.inputs["spec"]["groups"][0]["rules"]
                                                                          if "replication_lag" not in x["expr"]]))),
    Mutation("eks-no-cloudwatch-addon", "aws-workload-logs-retained", ("platform-aws",),
             of_type("aws:eks/addon:Addon", where=lambda r: r.inputs.get("addonName") == "amazon-cloudwatch-observability"), remove()),
    Mutation("eks-container-logs-short", "aws-workload-logs-retained", ("platform-aws",),
             of_type("aws:cloudwatch/logGroup:LogGroup", where=lambda r: str(r.inputs.get("name", "")).endswith("/application")),
             edit(set_in("retentionInDays", 180))),
    Mutation("aks-no-container-insights", "azure-workload-logs-retained", ("platform-azure",),
             of_type("azure-native:containerservice:ManagedCluster"), edit(lambda r: r.inputs.pop("addonProfiles"))),
    Mutation("aks-container-logs-short", "azure-workload-logs-retained", ("platform-azure",),
             of_type("azure-native:operationalinsights:Table"), edit(lambda r: r.inputs.update(retentionInDays=90, totalRetentionInDays=90))),
    Mutation("gke-no-workload-logs", "gcp-workload-logs-retained", ("platform-gcp",), of_type("gcp:container/cluster:Cluster"),
             edit(lambda r: r.inputs["loggingConfig"].update(enableComponents=["SYSTEM_COMPONENTS"]))),
]


def _stack_for(m: Mutation, plan_of) -> tuple[str, list[Resource]] | None:
    for stack in m.stacks:
        if not exists(stack):
            continue
        graph = plan_of(stack).resources
        if any(m.target(r) for r in graph):
            return stack, graph
    return None


def apply(m: Mutation, graph: list[Resource]) -> list[Resource]:
    mutated = copy.deepcopy(graph)
    target = next(r for r in mutated if m.target(r))
    m.change(target, mutated)
    return mutated


def gained(before: list, after: list) -> set[str]:
    b, a = Counter(v.policy for v in before), Counter(v.policy for v in after)
    return {p for p in a if a[p] > b[p]}


_BASELINES: dict[str, list] = {}


def baseline(stack: str, graph: list[Resource]) -> list:
    if stack not in _BASELINES:
        _BASELINES[stack] = run(graph, stack=stack)
    return _BASELINES[stack]


@pytest.mark.parametrize("m", MUTATIONS, ids=[m.id for m in MUTATIONS])
def test_mutation_fires_exactly_its_policy(m, plan_of):
    found = _stack_for(m, plan_of)
    if found is None:
        pytest.skip(f"no stack among {m.stacks} has a target for {m.id}")
    stack, graph = found
    after = run(apply(m, graph), stack=stack)
    assert gained(baseline(stack, graph), after) == {m.policy, *m.also}, [v.message for v in after if v.policy != m.policy][:5]


def test_mutations_do_not_touch_the_recorded_plan(plan_of):
    """apply() works on a deep copy: the cached plan other tests use is unchanged."""
    m = MUTATIONS[0]
    found = _stack_for(m, plan_of)
    if found is None:
        pytest.skip("no client stack")
    stack, graph = found
    before = json.dumps([r.inputs for r in graph], sort_keys=True, default=str)
    apply(m, graph)
    assert json.dumps([r.inputs for r in graph], sort_keys=True, default=str) == before


def test_at_least_twenty_policies_are_mutation_tested(plan_of):
    covered = {m.policy for m in MUTATIONS if _stack_for(m, plan_of) is not None}
    assert len(covered) >= 20, sorted(covered)


# ----------------------------------------------------------------------------- real stacks are clean

#: (stack, policy, message fragment) -> why it still fires and who fixes it. Each entry is a defect in a
#: component, not in the policy; remove it when the component is fixed (the test fails when it is stale).
#: (stack, policy, message fragment) -> why a real stack may still violate a mandatory policy.
#: Empty: every stack is clean. An entry is refused once the violation is gone.
KNOWN_EXCEPTIONS: dict[tuple[str, str, str], str] = {}


def _excused(stack: str, v) -> bool:
    return any(s == stack and p == v.policy and frag in v.message for (s, p, frag) in KNOWN_EXCEPTIONS)


@pytest.mark.parametrize("stack", list_stacks(STACKS_DIR))
def test_stack_has_no_mandatory_violations(stack, plan_of):
    plan = plan_of(stack)
    mandatory = [v for v in run(plan.resources, stack=stack) if v.enforcement == "mandatory"]
    assert [f"{v.policy}: {v.message}" for v in mandatory if not _excused(stack, v)] == []
    stale = [key for key in KNOWN_EXCEPTIONS if key[0] == stack
             and not any(v.policy == key[1] and key[2] in v.message for v in mandatory)]
    assert stale == [], f"fixed, remove from KNOWN_EXCEPTIONS: {stale}"


def test_plan_report_carries_the_policy_section(plan_of):
    stack = list_stacks(STACKS_DIR)[0]
    plan = plan_of(stack)
    assert plan.sections["policy"]["data"]["policies"] >= 40
    assert any(f.check.startswith("policy:") for f in plan.findings) == bool(plan.sections["policy"]["data"]["byPolicy"])


def test_two_client_stacks_sharing_a_secret_path_are_reported(plan_of):
    """Across plans (`plan --all`): point one client's SecretStore at another's path."""
    from lfh.plan.model import Plan
    from lfh.policy_runner import cross_stack_findings, secret_paths

    clients = [s for s in CLIENT_STACKS if exists(s)]
    if len(clients) < 2:
        pytest.skip("needs two client stacks")
    a, b = plan_of(clients[0]), plan_of(clients[1])
    assert cross_stack_findings([a, b]) == []
    resources = copy.deepcopy(b.resources)
    store = next(r for r in resources if r.type == "kubernetes:external-secrets.io/v1:SecretStore")
    provider = store.inputs["spec"]["provider"]
    (kind_,) = provider.keys()
    a_store = next(r for r in a.resources if r.type == "kubernetes:external-secrets.io/v1:SecretStore")
    provider[kind_] = copy.deepcopy(a_store.inputs["spec"]["provider"][kind_])
    broken = Plan(stack=b.stack, role="client", resources=resources, outputs={}, secret_outputs=[])
    if not set(secret_paths(a)) & set(secret_paths(broken)):
        pytest.skip("the stores of this platform carry no path (the keys do)")
    found = cross_stack_findings([a, broken])
    assert {p.stack for p, _ in found} == {a.stack, b.stack}
