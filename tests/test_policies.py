"""Every policy in the pack: at least one graph where it reports a violation and one where it passes.

Graphs are small lists of `lfh.plan.model.Resource`, run through the offline runner exactly as a plan is
(props as the engine presents them: proxies, floats, PolicyResource parents/dependencies, options).
"""
from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest

from lfh.plan.model import Resource
from lfh.policy_runner import policies, run

STACK = "test"
K8S_PROVIDER_URN = f"urn:pulumi:{STACK}::lfh::pulumi:providers:kubernetes::k8s"


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::lfh::{type_}::{name}"


def res(type_: str, name: str, inputs: dict[str, Any] | None = None, *, provider: str = "", deps: list[Resource] = (),
        pdeps: dict[str, list[Resource]] | None = None, parent: Resource | None = None, protect: bool = False,
        custom: bool = True) -> Resource:
    if not provider and type_.startswith("kubernetes:"):
        provider = f"{K8S_PROVIDER_URN}::00000000"
    return Resource(
        urn=urn(type_, name), type=type_, name=name, parent=parent.urn if parent else "", provider=provider,
        dependencies=[d.urn for d in deps], inputs=copy.deepcopy(inputs or {}), custom=custom,
        property_dependencies={k: [d.urn for d in v] for k, v in (pdeps or {}).items()}, protect=protect,
    )


def k8s_provider() -> Resource:
    return Resource(urn=K8S_PROVIDER_URN, type="pulumi:providers:kubernetes", name="k8s", parent="", provider="",
                    dependencies=[], inputs={"kubeconfig": "[secret]"})


def set_path(obj: dict, path: str, value: Any) -> dict:
    """set_path(d, "spec.template.spec.containers.0.image", "x"); value DELETE removes the key."""
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    cur = obj
    for k in keys[:-1]:
        if isinstance(k, str) and k not in cur:
            cur[k] = {}
        cur = cur[k]
    if value is DELETE:
        del cur[keys[-1]]
    else:
        cur[keys[-1]] = value
    return obj


DELETE = object()

LABELS = {"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "lfh", "app.kubernetes.io/managed-by": "pulumi",
          "lfh.io/client": "demo", "lfh.io/environment": "production"}


def container(name: str = "web") -> dict[str, Any]:
    return {
        "name": name,
        "image": "ghcr.io/mycurelabs/hapihub:11.2.3",
        "ports": [{"containerPort": 7500}],
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 7500}},
        "livenessProbe": {"httpGet": {"path": "/health", "port": 7500}},
        "env": [{"name": "NODE_ENV", "value": "production"},
                {"name": "JWT_SECRET", "valueFrom": {"secretKeyRef": {"name": "web", "key": "jwt"}}}],
    }


def pod_spec() -> dict[str, Any]:
    return {
        "serviceAccountName": "web",
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "fsGroup": 1000,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container()],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }


def deployment(name: str = "web", ns: str = "demo-prod", replicas: int = 2, **label_over: str) -> dict[str, Any]:
    lab = {**LABELS, "app.kubernetes.io/name": name, **label_over}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": lab},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                 "template": {"metadata": {"labels": lab}, "spec": pod_spec()}},
    }


def workload(mutate: Callable[[dict], Any] | None = None, kind: str = "Deployment") -> list[Resource]:
    obj = deployment()
    if kind == "CronJob":
        obj = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": obj["metadata"],
               "spec": {"schedule": "0 3 * * 0", "jobTemplate": {"spec": {"template": obj["spec"]["template"]}}}}
    if mutate:
        mutate(obj)
    group = {"Deployment": "apps/v1", "CronJob": "batch/v1", "StatefulSet": "apps/v1", "Pod": "core/v1"}[kind]
    return [k8s_provider(), res(f"kubernetes:{group}:{kind}", "web", obj)]


def spec_of(obj: dict) -> dict:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def c0(obj: dict) -> dict:
    return spec_of(obj)["containers"][0]


def namespace(name: str = "demo-prod", client: bool = True, level: str = "restricted", protect: bool = True,
              **extra: str) -> Resource:
    lab = {**LABELS, "app.kubernetes.io/name": name}
    if client:
        lab[ "lfh.io/client-namespace"] = "true"
    for mode in ("enforce", "audit", "warn"):
        lab[f"pod-security.kubernetes.io/{mode}"] = level
    lab.update(extra)
    return res("kubernetes:core/v1:Namespace", f"ns-{name}", {"apiVersion": "v1", "kind": "Namespace",
                                                              "metadata": {"name": name, "labels": lab}}, protect=protect)


def netpol(name: str, ns: str = "demo-prod", selector: dict | None = None, types=("Ingress", "Egress"),
           ingress: list | None = None, egress: list | None = None) -> Resource:
    spec: dict[str, Any] = {"podSelector": selector or {}, "policyTypes": list(types)}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return res("kubernetes:networking.k8s.io/v1:NetworkPolicy", name, {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns, "labels": LABELS}, "spec": spec})


def schedule(name: str, ttl: str, ns: str = "demo-prod") -> Resource:
    return res("kubernetes:velero.io/v1:Schedule", name, {
        "apiVersion": "velero.io/v1", "kind": "Schedule",
        "metadata": {"name": name, "namespace": "velero", "labels": LABELS},
        "spec": {"schedule": "0 * * * *", "template": {"includedNamespaces": [ns], "ttl": ttl}}})


def release(chart: str = "velero", version: str = "12.1.0", repo: str = "https://vmware-tanzu.github.io/helm-charts",
            name: str = "velero") -> Resource:
    inputs = {"chart": chart, "version": version, "namespace": "velero", "name": name}
    if repo:
        inputs["repositoryOpts"] = {"repo": repo}
    return res("kubernetes:helm.sh/v3:Release", name, inputs)


def aws_tags() -> dict[str, str]:
    return {"lfh:platform": "aws", "lfh:environment": "production", "managed-by": "pulumi"}


# ----------------------------------------------------------------------------- cloud builders


def eks(**over: Any) -> dict[str, Any]:
    base = {
        "name": "aws-eks",
        "vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": False, "subnetIds": ["s1", "s2"]},
        "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:key/1"}},
        "enabledClusterLogTypes": ["api", "audit", "authenticator"],
        "accessConfig": {"authenticationMode": "API"},
        "tags": aws_tags(),
    }
    base.update(over)
    return base


def launch_template(**over: Any) -> dict[str, Any]:
    base = {
        "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1, "httpEndpoint": "enabled"},
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "kmsKeyId": "arn:kms", "volumeSize": 50}}],
        "tags": aws_tags(),
    }
    base.update(over)
    return base


def s3_graph(sse: bool = True, versioning: bool = True, pab: bool = True, tls: bool = True, lock: bool = False,
             kms: str = "aws:kms") -> list[Resource]:
    b = res("aws:s3/bucket:Bucket", "backups", {"bucket": "lfh-aws-backups", "tags": aws_tags(),
                                                 **({"objectLockEnabled": True} if lock else {})}, protect=True)
    out = [b]
    if sse:
        out.append(res("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "backups-sse",
                       {"bucket": "backups_id", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": kms, "kmsMasterKeyId": "arn:kms"}}]},
                       pdeps={"bucket": [b]}))
    if versioning:
        out.append(res("aws:s3/bucketVersioning:BucketVersioning", "backups-versioning",
                       {"bucket": "lfh-aws-backups", "versioningConfiguration": {"status": "Enabled"}}))
    if pab:
        out.append(res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "backups-pab",
                       {"bucket": "backups_id", "blockPublicAcls": True, "blockPublicPolicy": True,
                        "ignorePublicAcls": True, "restrictPublicBuckets": True}, pdeps={"bucket": [b]}))
    if tls:
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
               "Resource": ["arn:aws:s3:::lfh-aws-backups/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
        out.append(res("aws:s3/bucketPolicy:BucketPolicy", "backups-policy", {"bucket": "backups_id", "policy": json.dumps(doc)},
                       pdeps={"bucket": [b]}))
    return out


def aks(**over: Any) -> dict[str, Any]:
    base = {
        "apiServerAccessProfile": {"enablePrivateCluster": True},
        "securityProfile": {"azureKeyVaultKms": {"enabled": True, "keyId": "https://kv/keys/etcd/1"},
                            "workloadIdentity": {"enabled": True}},
        "oidcIssuerProfile": {"enabled": True},
        "disableLocalAccounts": True,
        "aadProfile": {"managed": True, "enableAzureRBAC": True},
        "agentPoolProfiles": [{"name": "system", "enableEncryptionAtHost": True}],
        "tags": aws_tags(),
    }
    base.update(over)
    return base


def storage_account(**over: Any) -> dict[str, Any]:
    base = {
        "accountName": "lfhbackups", "enableHttpsTrafficOnly": True, "minimumTlsVersion": "TLS1_2",
        "allowBlobPublicAccess": False,
        "encryption": {"keySource": "Microsoft.Keyvault", "keyVaultProperties": {"keyName": "storage", "keyVaultUri": "https://kv"}},
        "tags": aws_tags(),
    }
    base.update(over)
    return base


def gke(**over: Any) -> dict[str, Any]:
    base = {
        "privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": True},
        "databaseEncryption": {"state": "ENCRYPTED", "keyName": "projects/p/locations/l/keyRings/r/cryptoKeys/etcd"},
        "workloadIdentityConfig": {"workloadPool": "p.svc.id.goog"},
        "removeDefaultNodePool": True,
        "resourceLabels": {"lfh_platform": "gcp", "lfh_environment": "production", "managed-by": "pulumi"},
    }
    base.update(over)
    return base


def node_pool(**over: Any) -> dict[str, Any]:
    cfg = {"bootDiskKmsKey": "projects/p/.../cryptoKeys/disk", "workloadMetadataConfig": {"mode": "GKE_METADATA"},
           "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True}}
    cfg.update(over)
    return {"nodeConfig": cfg}


def gcs(**over: Any) -> dict[str, Any]:
    base = {"name": "lfh-gcp-backups", "encryption": {"defaultKmsKeyName": "projects/p/.../cryptoKeys/b"},
            "versioning": {"enabled": True}, "publicAccessPrevention": "enforced", "uniformBucketLevelAccess": True,
            "labels": {"lfh_platform": "gcp", "lfh_environment": "production", "managed-by": "pulumi"}}
    base.update(over)
    return base


def with_hpa(min_replicas: int) -> list[Resource]:
    return [*workload(lambda o: set_path(o, "spec.replicas", DELETE)), res(
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "web-hpa", {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "demo-prod", "labels": LABELS},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": min_replicas, "maxReplicas": 10}})]


def pdb(selector: dict) -> Resource:
    return res("kubernetes:policy/v1:PodDisruptionBudget", "web-pdb", {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "demo-prod", "labels": LABELS},
        "spec": {"minAvailable": 1, "selector": selector}})


def route(parent: dict) -> list[Resource]:
    return [k8s_provider(), res("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "web-route", {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": "demo-prod", "labels": LABELS},
        "spec": {"parentRefs": [parent], "hostnames": ["api.demo.example.com"],
                 "rules": [{"backendRefs": [{"name": "web", "port": 7500}]}]}})]


def listener_set(ns: str, parent: dict) -> Resource:
    return res("kubernetes:gateway.networking.k8s.io/v1:ListenerSet", "ls", {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "ListenerSet",
        "metadata": {"name": "demo-prod", "namespace": ns, "labels": LABELS},
        "spec": {"parentRef": parent, "listeners": [{"name": "web", "protocol": "HTTPS", "port": 443,
                                                     "hostname": "api.demo.example.com"}]}})


def service(type_: str, ns: str = "demo-prod") -> list[Resource]:
    return [k8s_provider(), res("kubernetes:core/v1:Service", "web-svc", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns, "labels": LABELS},
        "spec": {"type": type_, "ports": [{"port": 80}], "selector": {"app.kubernetes.io/name": "web"}}})]


def crd_graph(depends: bool, via_parent: bool = False) -> list[Resource]:
    rel = release()
    comp = res("lfh:client:Backups", "backups", custom=False, deps=[rel] if via_parent else [])
    sched = schedule("hourly", "72h0m0s")
    sched.parent = comp.urn
    if depends:
        sched.dependencies = [rel.urn]
    return [k8s_provider(), rel, comp, sched]


def secret_store(prefix: str, ns: str = "demo-prod") -> Resource:
    return res("kubernetes:external-secrets.io/v1:SecretStore", "store", {
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
        "metadata": {"name": "demo", "namespace": ns, "labels": {**LABELS}},
        "spec": {"provider": {"aws": {"service": "SecretsManager", "region": "us-east-1", "prefix": prefix}}}})


def velero_bsl_graph(lock: bool) -> list[Resource]:
    bsl = res("kubernetes:velero.io/v1:BackupStorageLocation", "bsl", {
        "apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
        "metadata": {"name": "default", "namespace": "velero", "labels": LABELS},
        "spec": {"provider": "aws", "objectStorage": {"bucket": "lfh-aws-backups", "prefix": "daily"}}})
    return [k8s_provider(), *s3_graph(lock=lock), bsl]


# ----------------------------------------------------------------------------- the cases

# ----------------------------------------------------------------------------- issue 15: logs, rotation, MongoDB monitoring

ACCESS_LOG = {"route_name": "%ROUTE_NAME%", "response_code": "%RESPONSE_CODE%", "duration_ms": "%DURATION%",
              "path": "%REQ_WITHOUT_QUERY(X-ENVOY-ORIGINAL-PATH?:PATH)%"}


def envoy_proxy(fields: dict[str, str] | None = None, telemetry: bool = True) -> list[Resource]:
    spec: dict[str, Any] = {"provider": {"type": "Kubernetes"}}
    if telemetry:
        spec["telemetry"] = {"accessLog": {"settings": [{"format": {"type": "JSON", "json": dict(fields or ACCESS_LOG)},
                                                         "sinks": [{"type": "File", "file": {"path": "/dev/stdout"}}]}]}}
    return [k8s_provider(), res("kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy", "proxy", {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "EnvoyProxy",
        "metadata": {"name": "shared-proxy", "namespace": "envoy-gateway-system", "labels": LABELS}, "spec": spec})]


def rotated_secret(days: int = 90, keepers: bool = True, name: str = "demo-production-secrets-jwt-secret") -> list[Resource]:
    secrets_type = "lfh:client:ClientEnvironment$lfh:client:ClientSecrets"
    rotation = res("time:index/rotating:Rotating", "demo-production-secrets-rotation",
                   {"rotationDays": days, "rfc3339": "2026-01-01T00:00:00Z"})
    pw = res("random:index/randomPassword:RandomPassword", name,
             {"length": 32, **({"keepers": {"rotation": "2026-01-01T00:00:00Z"}} if keepers else {})},
             pdeps={"keepers": [rotation]} if keepers else None)
    pw.urn = urn(f"{secrets_type}$random:index/randomPassword:RandomPassword", name)
    return [rotation, pw]


MONGODB_RULES = ("mongodb_mongod_replset_my_state == 1", "mongodb_mongod_replset_member_replication_lag > 30",
                 "mongodb_connections > 1", "kubelet_volume_stats_used_bytes > 1")


def mongodb_graph(sidecar: bool = True, rules: tuple[str, ...] = MONGODB_RULES) -> list[Resource]:
    meta_ = {"namespace": "demo-prod", "labels": LABELS}
    rs: dict[str, Any] = {"name": "rs0", "size": 3}
    if sidecar:
        rs["sidecars"] = [{"name": "mongodb-exporter", "image": "docker.io/percona/mongodb_exporter:0.53.0"}]
    return [k8s_provider(),
            res("kubernetes:psmdb.percona.com/v1:PerconaServerMongoDB", "db", {"metadata": {"name": "mongodb", **meta_},
                                                                               "spec": {"replsets": [rs]}}),
            res("kubernetes:monitoring.coreos.com/v1:PodMonitor", "pm", {"metadata": {"name": "mongodb", **meta_}, "spec": {}}),
            res("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "rules", {"metadata": {"name": "mongodb-alerts", **meta_}, "spec": {
                "groups": [{"name": "g", "rules": [{"alert": f"A{i}", "expr": e} for i, e in enumerate(rules)]}]}})]


def eks_logs(days: int = 365, addon: bool = True) -> list[Resource]:
    cluster = res("aws:eks/cluster:Cluster", "c", eks(name="aws-abc"))
    out = [cluster, res("aws:cloudwatch/logGroup:LogGroup", "lg",
                        {"name": "/aws/containerinsights/aws-abc/application", "retentionInDays": days})]
    if addon:
        out.append(res("aws:eks/addon:Addon", "cw", {"clusterName": "aws-abc", "addonName": "amazon-cloudwatch-observability"},
                       pdeps={"clusterName": [cluster]}))
    return out


def aks_logs(days: int = 365, agent: bool = True) -> list[Resource]:
    aks = res("azure-native:containerservice:ManagedCluster", "aks", {"addonProfiles": {"omsagent": {
        "enabled": agent, "config": {"logAnalyticsWorkspaceResourceID": "/subscriptions/x/workspaces/log"}}}})
    return [aks, res("azure-native:monitor:DataCollectionRuleAssociation", "dcra", {"associationName": "ContainerInsightsExtension"},
                     pdeps={"resourceUri": [aks]}),
            res("azure-native:operationalinsights:Table", "t", {"tableName": "ContainerLogV2", "retentionInDays": min(days, 730),
                                                                "totalRetentionInDays": days})]


def gke_logs(components: tuple[str, ...] = ("SYSTEM_COMPONENTS", "WORKLOADS"), days: int = 365) -> list[Resource]:
    cluster = res("gcp:container/cluster:Cluster", "gke", {"name": "gcp-abc", "loggingConfig": {"enableComponents": list(components)}})
    bucket = res("gcp:logging/projectBucketConfig:ProjectBucketConfig", "lb", {"bucketId": "lfh-gcp", "retentionDays": days})
    sink = res("gcp:logging/projectSink:ProjectSink", "sink", {"filter": 'resource.labels.cluster_name="gcp-abc"',
                                                               "destination": "logging.googleapis.com/lfh-gcp"},
               pdeps={"filter": [cluster], "destination": [bucket]})
    return [cluster, bucket, sink]


def collector(read_only: bool = True, ns: str = "logging", uid: int = 0) -> list[Resource]:
    """The existing-cluster log collector's shape: uid 0 without capabilities, /var/log read-only."""
    def mutate(o: dict) -> None:
        o["metadata"]["namespace"] = ns
        spec_of(o)["securityContext"].update(runAsUser=uid, runAsNonRoot=False)
        c0(o)["securityContext"].update(runAsUser=uid, runAsNonRoot=False)
        spec_of(o)["volumes"].append({"name": "varlog", "hostPath": {"path": "/var/log"}})
        c0(o).setdefault("volumeMounts", []).append({"name": "varlog", "mountPath": "/var/log", "readOnly": read_only})
    return workload(mutate)


# policy -> (graph where it passes, graph where it reports). Lambdas so every case builds fresh objects.


# ----------------------------------------------------------------------------- issue 15: access logs and hardening

PHI_TAGS = {**aws_tags(), "data-classification": "phi"}


def trail_graph(*, prefix: str = "arn:aws:s3:::lfh-aws-backups/", kms: bool = True, validation: bool = True,
                expire_days: int = 365) -> list[Resource]:
    bucket = res("aws:s3/bucket:Bucket", "backups", {"bucket": "lfh-aws-backups", "tags": PHI_TAGS}, protect=True)
    audit = res("aws:s3/bucket:Bucket", "audit", {"bucket": "lfh-aws-audit", "tags": aws_tags()}, protect=True)
    life = res("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "audit-life", {
        "bucket": "lfh-aws-audit", "rules": [{"id": "r", "status": "Enabled", "filter": {}, "expiration": {"days": expire_days}}]},
        pdeps={"bucket": [audit]})
    trail = {"name": "lfh-data-access", "s3BucketName": "lfh-aws-audit", "enableLogFileValidation": validation,
             "tags": aws_tags(), "advancedEventSelectors": [{"name": "s3", "fieldSelectors": [
                 {"field": "eventCategory", "equals": ["Data"]}, {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                 {"field": "resources.ARN", "startsWiths": [prefix]}]}]}
    if kms:
        trail["kmsKeyId"] = "arn:aws:kms:us-east-1:123456789012:key/1"
    return [bucket, audit, life, res("aws:cloudtrail/trail:Trail", "trail", trail)]


def gcs_audit_graph(*, data_read: bool = True, cmek: bool = True, retention: int = 365) -> list[Resource]:
    labels = {"lfh_platform": "gcp", "lfh_environment": "production", "managed-by": "pulumi", "data-classification": "phi"}
    logs = [{"logType": "DATA_WRITE"}] + ([{"logType": "DATA_READ"}] if data_read else [])
    bucket_cfg = {"bucketId": "access", "location": "us-central1", "retentionDays": retention}
    if cmek:
        bucket_cfg["cmekSettings"] = {"kmsKeyName": "projects/p/locations/us-central1/keyRings/r/cryptoKeys/data"}
    lb = res("gcp:logging/projectBucketConfig:ProjectBucketConfig", "access", bucket_cfg)
    return [res("gcp:storage/bucket:Bucket", "b", gcs(labels=labels)),
            res("gcp:projects/iAMAuditConfig:IAMAuditConfig", "audit", {"service": "storage.googleapis.com", "auditLogConfigs": logs}),
            lb,
            res("gcp:logging/projectSink:ProjectSink", "sink", {
                "destination": "logging.googleapis.com/projects/p/locations/us-central1/buckets/access",
                "filter": 'logName:"cloudaudit.googleapis.com%2Fdata_access"'}, pdeps={"destination": [lb]})]


def blob_logs_graph(*, categories=("StorageRead", "StorageWrite", "StorageDelete"), cmk: bool = True, delete_days: int = 365) -> list[Resource]:
    account = res("azure-native:storage:StorageAccount", "sa", storage_account(tags={**aws_tags(), "data-classification": "phi"}), protect=True)
    archive_enc = storage_account()["encryption"] if cmk else {"keySource": "Microsoft.Storage"}
    archive = res("azure-native:storage:StorageAccount", "audit", storage_account(accountName="lfhaudit", encryption=archive_enc), protect=True)
    policy = res("azure-native:storage:ManagementPolicy", "audit-life", {"accountName": "lfhaudit", "policy": {"rules": [
        {"name": "r", "enabled": True, "type": "Lifecycle", "definition": {
            "actions": {"baseBlob": {"delete": {"daysAfterModificationGreaterThan": delete_days}}}}}]}}, pdeps={"accountName": [archive]})
    diag = res("azure-native:monitor:DiagnosticSetting", "blob-logs", {
        "resourceUri": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/lfhbackups/blobServices/default",
        "storageAccountId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/lfhaudit",
        "logs": [{"category": c, "enabled": True} for c in categories]}, pdeps={"storageAccountId": [archive]})
    return [account, archive, policy, diag]


def replicated_bucket_graph(*, second_region: bool = True) -> list[Resource]:
    tags = {**PHI_TAGS, "lfh:client": "acme"}
    src = res("aws:s3/bucket:Bucket", "files", {"bucket": "aws-acme-files", "tags": tags}, protect=True)
    dst = res("aws:s3/bucket:Bucket", "files-replica", {"bucket": "aws-acme-files-replica", "tags": tags,
                                                         **({"region": "us-west-2"} if second_region else {})}, protect=True)
    repl = res("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "repl", {
        "bucket": "aws-acme-files", "role": "arn:aws:iam::1:role/r",
        "rules": [{"id": "r", "status": "Enabled", "destination": {"bucket": "arn:aws:s3:::aws-acme-files-replica"}}]},
        pdeps={"bucket": [src]})
    return [src, dst, repl]


def addon_role_graph(*, managed: bool = True, inline_ec2: bool = False) -> list[Resource]:
    trust = {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                            "Condition": {"StringEquals": {"oidc.example/id/X:sub": "system:serviceaccount:kube-system:aws-node"}}}]}
    role = res("aws:iam/role:Role", "vpc-cni", {"assumeRolePolicy": json.dumps(trust), "tags": aws_tags()})
    out = [role]
    if managed:
        out.append(res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "cni-managed", {
            "role": "vpc-cni-1", "policyArn": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"}, pdeps={"role": [role]}))
    if inline_ec2:
        out.append(res("aws:iam/rolePolicy:RolePolicy", "cni-inline", {"role": "vpc-cni-1", "policy": json.dumps(
            {"Statement": [{"Effect": "Allow", "Action": ["ec2:AssignPrivateIpAddresses"], "Resource": "*"}]})}, pdeps={"role": [role]}))
    return out


def rotation_graph(*, keepers: bool = True, days: int = 90, name: str = "aws/acme/production/jwt-secret") -> list[Resource]:
    clock = res("time:index/rotating:Rotating", "rotation", {"rotationDays": days}, custom=True)
    pw = res("random:index/randomPassword:RandomPassword", "jwt", {"length": 32, **({"keepers": {"rotation": "2026-01-01T00:00:00Z"}} if keepers else {})},
             pdeps={"keepers": [clock]} if keepers else None)
    secret = res("aws:secretsmanager/secret:Secret", "jwt-secret", {"name": name, "kmsKeyId": "arn:kms", "tags": aws_tags()}, protect=True)
    version = res("aws:secretsmanager/secretVersion:SecretVersion", "jwt-value", {"secretId": "arn:sm:jwt", "secretString": "[secret]"},
                  pdeps={"secretId": [secret], "secretString": [pw]})
    return [clock, pw, secret, version]


def binauthz_graph(*, cluster_mode: str = "PROJECT_SINGLETON_POLICY_ENFORCE", enforcement: str = "ENFORCED_BLOCK_AND_AUDIT_LOG",
                   evaluation: str = "ALWAYS_DENY") -> list[Resource]:
    cluster = res("gcp:container/cluster:Cluster", "gke", gke(name="gcp-1", binaryAuthorization={"evaluationMode": cluster_mode}))
    policy = res("gcp:binaryauthorization/policy:Policy", "binauthz", {
        "defaultAdmissionRule": {"evaluationMode": "ALWAYS_ALLOW", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG"},
        "clusterAdmissionRules": [{"cluster": "us-central1.gcp-1", "evaluationMode": evaluation, "enforcementMode": enforcement}],
        "admissionWhitelistPatterns": [{"namePattern": "quay.io/jetstack/**"}]})
    return [cluster, policy]


CASES: dict[str, tuple[Callable[[], list[Resource]], Callable[[], list[Resource]]]] = {
    # -- Kubernetes workloads
    "k8s-run-as-non-root": (workload, lambda: workload(lambda o: set_path(c0(o), "securityContext.runAsUser", 0))),
    "k8s-no-privilege-escalation": (workload, lambda: workload(lambda o: set_path(c0(o), "securityContext.allowPrivilegeEscalation", True), "CronJob")),
    "k8s-drop-all-capabilities": (workload, lambda: workload(lambda o: set_path(c0(o), "securityContext.capabilities", {"add": ["SYS_ADMIN"]}))),
    "k8s-seccomp-runtime-default": (workload, lambda: workload(lambda o: (set_path(spec_of(o), "securityContext.seccompProfile", DELETE), set_path(c0(o), "securityContext.seccompProfile.type", "Unconfined")))),
    "k8s-no-privileged-containers": (workload, lambda: workload(lambda o: set_path(c0(o), "securityContext.privileged", True))),
    "k8s-no-host-namespaces": (workload, lambda: workload(lambda o: set_path(spec_of(o), "hostPID", True))),
    "k8s-no-host-path": (workload, lambda: workload(lambda o: spec_of(o)["volumes"].append({"name": "h", "hostPath": {"path": "/var"}}))),
    "k8s-no-host-ports": (workload, lambda: workload(lambda o: set_path(c0(o), "ports.0.hostPort", 8080))),
    "k8s-resources-requests-limits": (workload, lambda: workload(lambda o: set_path(c0(o), "resources.limits", {"cpu": "1"}))),
    "k8s-image-pinned": (lambda: workload(lambda o: set_path(c0(o), "image", "ghcr.io/x/y@sha256:" + "a" * 64)),
                         lambda: workload(lambda o: set_path(c0(o), "image", "ghcr.io/mycurelabs/hapihub:latest"))),
    "k8s-image-registry-allowed": (workload, lambda: workload(lambda o: set_path(c0(o), "image", "evil.example.com/x:1.0"))),
    "k8s-probes": (lambda: workload(lambda o: set_path(c0(o), "livenessProbe", DELETE), "CronJob"),
                   lambda: workload(lambda o: set_path(c0(o), "livenessProbe", DELETE))),
    "k8s-dedicated-service-account": (workload, lambda: workload(lambda o: set_path(spec_of(o), "serviceAccountName", DELETE))),
    "k8s-read-only-root-filesystem": (workload, lambda: workload(lambda o: set_path(c0(o), "securityContext.readOnlyRootFilesystem", False))),
    "k8s-no-plaintext-secret-env": (workload, lambda: workload(lambda o: c0(o)["env"].append({"name": "MONGO_URI", "value": "mongodb://u:p@h"}))),
    "k8s-production-replicas": (lambda: with_hpa(2), lambda: workload(lambda o: set_path(o, "spec.replicas", 1))),
    "k8s-production-pdb": (lambda: [*workload(), pdb({"matchLabels": {"app.kubernetes.io/name": "web"}})],
                           lambda: [*workload(), pdb({"matchLabels": {"app.kubernetes.io/name": "other"}})]),
    # -- Kubernetes exposure, namespaces, routes, releases
    "k8s-service-not-exposed": (lambda: service("LoadBalancer", "envoy-gateway-system"), lambda: service("NodePort")),
    "k8s-namespace-pod-security": (lambda: [k8s_provider(), namespace("longhorn-system", client=False, level="privileged")],
                                   lambda: [k8s_provider(), namespace("argocd", client=False, level="privileged")]),
    "k8s-client-namespace-restricted": (lambda: [k8s_provider(), namespace()],
                                        lambda: [k8s_provider(), namespace(**{"pod-security.kubernetes.io/warn": "baseline"})]),
    "k8s-route-shared-gateway": (lambda: route({"name": "shared-gateway", "namespace": "envoy-gateway-system", "sectionName": "https"}),
                                 lambda: route({"name": "my-gateway", "namespace": "demo-prod"})),
    "k8s-listenerset-shared-gateway": (
        lambda: [k8s_provider(), listener_set("envoy-gateway-system", {"name": "shared-gateway"})],
        lambda: [k8s_provider(), listener_set("demo-prod", {"name": "shared-gateway", "namespace": "envoy-gateway-system"})]),
    "k8s-gateway-in-gateway-namespace": (
        lambda: [k8s_provider(), res("kubernetes:gateway.networking.k8s.io/v1:Gateway", "gw", {"metadata": {"name": "shared-gateway", "namespace": "envoy-gateway-system", "labels": LABELS}})],
        lambda: [k8s_provider(), res("kubernetes:gateway.networking.k8s.io/v1:Gateway", "gw", {"metadata": {"name": "mine", "namespace": "demo-prod", "labels": LABELS}})]),
    "k8s-networkpolicy-rules-name-peer": (
        lambda: [k8s_provider(), netpol("allow-mongo", selector={"matchLabels": {"app": "web"}}, types=("Egress",),
                                        egress=[{"to": [{"podSelector": {"matchLabels": {"app": "mongo"}}}], "ports": [{"port": 27017}]}])],
        lambda: [k8s_provider(), netpol("allow-mongo", selector={"matchLabels": {"app": "web"}}, types=("Egress",),
                                        egress=[{"ports": [{"port": 27017}]}])]),
    "k8s-no-default-namespace": (workload, lambda: workload(lambda o: set_path(o, "metadata.namespace", DELETE))),
    "helm-release-exact-version": (lambda: [k8s_provider(), release()], lambda: [k8s_provider(), release(version="12.x")]),
    "helm-release-allowed-repository": (lambda: [k8s_provider(), release(chart="oci://docker.io/envoyproxy/gateway-helm", repo="", version="v1.9.0")],
                                        lambda: [k8s_provider(), release(repo="https://charts.bitnami.com/bitnami")]),
    # -- AWS
    "aws-kms-key-rotation": (lambda: [res("aws:kms/key:Key", "k", {"enableKeyRotation": True, "tags": aws_tags()}, protect=True)],
                             lambda: [res("aws:kms/key:Key", "k", {"tags": aws_tags()}, protect=True)]),
    "aws-eks-private-endpoint": (lambda: [res("aws:eks/cluster:Cluster", "c", eks(vpcConfig={"endpointPrivateAccess": True, "endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}))],
                                 lambda: [res("aws:eks/cluster:Cluster", "c", eks(vpcConfig={"endpointPrivateAccess": True}))]),
    "aws-eks-secrets-encryption": (lambda: [res("aws:eks/cluster:Cluster", "c", eks())],
                                   lambda: [res("aws:eks/cluster:Cluster", "c", eks(encryptionConfig={"resources": ["secrets"], "provider": {}}))]),
    "aws-eks-control-plane-logs": (lambda: [res("aws:eks/cluster:Cluster", "c", eks())],
                                   lambda: [res("aws:eks/cluster:Cluster", "c", eks(enabledClusterLogTypes=["api"]))]),
    "aws-eks-access-entries": (lambda: [res("aws:eks/cluster:Cluster", "c", eks())],
                               lambda: [res("aws:eks/cluster:Cluster", "c", eks(accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"}))]),
    "aws-log-group-retention": (lambda: [res("aws:cloudwatch/logGroup:LogGroup", "lg", {"name": "/aws/eks/aws-eks/cluster", "retentionInDays": 365, "tags": aws_tags()})],
                                lambda: [res("aws:cloudwatch/logGroup:LogGroup", "lg", {"name": "/aws/eks/aws-eks/cluster", "retentionInDays": 30, "tags": aws_tags()})]),
    "aws-eks-log-group-managed": (
        lambda: (lambda lg: [lg, res("aws:eks/cluster:Cluster", "c", eks(), deps=[lg])])(res("aws:cloudwatch/logGroup:LogGroup", "lg", {"name": "/aws/eks/aws-eks/cluster"})),
        lambda: [res("aws:cloudwatch/logGroup:LogGroup", "lg", {"name": "/aws/eks/other/cluster"}), res("aws:eks/cluster:Cluster", "c", eks())]),
    "aws-eks-workload-identity": (
        lambda: (lambda c: [c, res("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "oidc", {"url": "https://oidc"}, pdeps={"url": [c]})])(res("aws:eks/cluster:Cluster", "c", eks())),
        lambda: [res("aws:eks/cluster:Cluster", "c", eks())]),
    "aws-launch-template-imdsv2": (lambda: [res("aws:ec2/launchTemplate:LaunchTemplate", "lt", launch_template())],
                                   lambda: [res("aws:ec2/launchTemplate:LaunchTemplate", "lt", launch_template(metadataOptions={"httpTokens": "required", "httpPutResponseHopLimit": 2}))]),
    "aws-launch-template-ebs-encrypted": (lambda: [res("aws:ec2/launchTemplate:LaunchTemplate", "lt", launch_template())],
                                         lambda: [res("aws:ec2/launchTemplate:LaunchTemplate", "lt", launch_template(blockDeviceMappings=[{"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}]))]),
    "aws-eks-node-group-launch-template": (lambda: [res("aws:eks/nodeGroup:NodeGroup", "ng", {"launchTemplate": {"id": "lt-1", "version": "1"}, "tags": aws_tags()})],
                                           lambda: [res("aws:eks/nodeGroup:NodeGroup", "ng", {"diskSize": 50, "tags": aws_tags()})]),
    "aws-s3-bucket-cmk-encryption": (s3_graph, lambda: s3_graph(kms="AES256")),
    "aws-s3-bucket-versioning": (s3_graph, lambda: s3_graph(versioning=False)),
    "aws-s3-bucket-public-access-block": (s3_graph, lambda: s3_graph(pab=False)),
    "aws-s3-bucket-tls-only": (s3_graph, lambda: s3_graph(tls=False)),
    "aws-vpc-flow-logs": (
        lambda: (lambda v: [v, res("aws:ec2/flowLog:FlowLog", "fl", {"vpcId": "vpc-1", "trafficType": "ALL"}, pdeps={"vpcId": [v]})])(res("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"})),
        lambda: [res("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"})]),
    # -- Azure
    "azure-keyvault-key-rotation": (
        lambda: [res("azure-native:keyvault:Key", "k", {"keyName": "etcd", "properties": {"kty": "RSA", "rotationPolicy": {"lifetimeActions": [{"action": {"type": "rotate"}, "trigger": {"timeAfterCreate": "P90D"}}]}}})],
        lambda: [res("azure-native:keyvault:Key", "k", {"keyName": "etcd", "properties": {"kty": "RSA", "rotationPolicy": {"lifetimeActions": [{"action": {"type": "notify"}}]}}})]),
    "azure-keyvault-purge-protection": (lambda: [res("azure-native:keyvault:Vault", "v", {"properties": {"enablePurgeProtection": True, "enableSoftDelete": True}})],
                                        lambda: [res("azure-native:keyvault:Vault", "v", {"properties": {"enableSoftDelete": True}})]),
    "azure-aks-private-api": (lambda: [res("azure-native:containerservice:ManagedCluster", "aks", aks(apiServerAccessProfile={"authorizedIPRanges": ["203.0.113.0/24"]}))],
                              lambda: [res("azure-native:containerservice:ManagedCluster", "aks", aks(apiServerAccessProfile={"authorizedIPRanges": ["0.0.0.0/0"]}))]),
    "azure-aks-kms-etcd-encryption": (lambda: [res("azure-native:containerservice:ManagedCluster", "aks", aks())],
                                      lambda: [res("azure-native:containerservice:ManagedCluster", "aks", aks(securityProfile={"workloadIdentity": {"enabled": True}}))]),
    "azure-aks-workload-identity": (lambda: [res("azure-native:containerservice:ManagedCluster", "aks", aks())],
                                    lambda: [res("azure-native:containerservice:ManagedCluster", "aks", aks(oidcIssuerProfile={"enabled": False}))]),
    "azure-aks-local-accounts-disabled": (lambda: [res("azure-native:containerservice:ManagedCluster", "aks", aks())],
                                          lambda: [res("azure-native:containerservice:ManagedCluster", "aks", aks(disableLocalAccounts=False))]),
    "azure-aks-encryption-at-host": (lambda: [res("azure-native:containerservice:AgentPool", "apps", {"agentPoolName": "apps", "enableEncryptionAtHost": True})],
                                     lambda: [res("azure-native:containerservice:ManagedCluster", "aks", aks(agentPoolProfiles=[{"name": "system"}]))]),
    "azure-storage-tls-only": (lambda: [res("azure-native:storage:StorageAccount", "sa", storage_account())],
                               lambda: [res("azure-native:storage:StorageAccount", "sa", storage_account(minimumTlsVersion="TLS1_0"))]),
    "azure-storage-no-public-access": (lambda: [res("azure-native:storage:StorageAccount", "sa", storage_account())],
                                       lambda: [res("azure-native:storage:StorageAccount", "sa", storage_account(allowBlobPublicAccess=True))]),
    "azure-storage-cmk-encryption": (lambda: [res("azure-native:storage:StorageAccount", "sa", storage_account())],
                                     lambda: [res("azure-native:storage:StorageAccount", "sa", storage_account(encryption={"keySource": "Microsoft.Storage"}))]),
    "azure-storage-blob-versioning": (
        lambda: (lambda a: [a, res("azure-native:storage:BlobServiceProperties", "bsp", {"accountName": "lfhbackups", "isVersioningEnabled": True}, pdeps={"accountName": [a]})])(res("azure-native:storage:StorageAccount", "sa", storage_account())),
        lambda: (lambda a: [a, res("azure-native:storage:BlobServiceProperties", "bsp", {"accountName": "lfhbackups", "isVersioningEnabled": False}, pdeps={"accountName": [a]})])(res("azure-native:storage:StorageAccount", "sa", storage_account()))),
    "azure-log-analytics-retention": (lambda: [res("azure-native:operationalinsights:Workspace", "ws", {"retentionInDays": 365})],
                                      lambda: [res("azure-native:operationalinsights:Workspace", "ws", {})]),
    "azure-aks-audit-logs": (
        lambda: (lambda c: [c, res("azure-native:monitor:DiagnosticSetting", "diag", {"resourceUri": "id", "logs": [{"category": "kube-audit-admin", "enabled": True}]}, pdeps={"resourceUri": [c]})])(res("azure-native:containerservice:ManagedCluster", "aks", aks())),
        lambda: (lambda c: [c, res("azure-native:monitor:DiagnosticSetting", "diag", {"resourceUri": "id", "logs": [{"category": "kube-apiserver", "enabled": True}]}, pdeps={"resourceUri": [c]})])(res("azure-native:containerservice:ManagedCluster", "aks", aks()))),
    # -- GCP
    "gcp-kms-key-rotation": (lambda: [res("gcp:kms/cryptoKey:CryptoKey", "k", {"rotationPeriod": "7776000s"})],
                             lambda: [res("gcp:kms/cryptoKey:CryptoKey", "k", {"rotationPeriod": "63072000s"})]),
    "gcp-gke-private-cluster": (lambda: [res("gcp:container/cluster:Cluster", "gke", gke(privateClusterConfig={"enablePrivateNodes": True}, masterAuthorizedNetworksConfig={"cidrBlocks": [{"cidrBlock": "203.0.113.0/24"}]}))],
                                lambda: [res("gcp:container/cluster:Cluster", "gke", gke(privateClusterConfig={"enablePrivateNodes": True}))]),
    "gcp-gke-secrets-encryption": (lambda: [res("gcp:container/cluster:Cluster", "gke", gke())],
                                   lambda: [res("gcp:container/cluster:Cluster", "gke", gke(databaseEncryption={"state": "DECRYPTED"}))]),
    "gcp-gke-workload-identity": (lambda: [res("gcp:container/cluster:Cluster", "gke", gke()), res("gcp:container/nodePool:NodePool", "np", node_pool())],
                                  lambda: [res("gcp:container/nodePool:NodePool", "np", node_pool(workloadMetadataConfig={"mode": "GCE_METADATA"}))]),
    "gcp-gke-node-cmek": (lambda: [res("gcp:container/nodePool:NodePool", "np", node_pool())],
                          lambda: [res("gcp:container/cluster:Cluster", "gke", gke(removeDefaultNodePool=False))]),
    "gcp-gke-shielded-nodes": (lambda: [res("gcp:container/nodePool:NodePool", "np", node_pool())],
                               lambda: [res("gcp:container/nodePool:NodePool", "np", node_pool(shieldedInstanceConfig={"enableSecureBoot": False}))]),
    "gcp-bucket-cmk-encryption": (lambda: [res("gcp:storage/bucket:Bucket", "b", gcs())], lambda: [res("gcp:storage/bucket:Bucket", "b", gcs(encryption={}))]),
    "gcp-bucket-versioning": (lambda: [res("gcp:storage/bucket:Bucket", "b", gcs())], lambda: [res("gcp:storage/bucket:Bucket", "b", gcs(versioning={"enabled": False}))]),
    "gcp-bucket-no-public-access": (lambda: [res("gcp:storage/bucket:Bucket", "b", gcs())], lambda: [res("gcp:storage/bucket:Bucket", "b", gcs(publicAccessPrevention="inherited"))]),
    "gcp-log-bucket-retention": (lambda: [res("gcp:logging/projectBucketConfig:ProjectBucketConfig", "lb", {"bucketId": "b", "retentionDays": 365})],
                                 lambda: [res("gcp:logging/projectBucketConfig:ProjectBucketConfig", "lb", {"bucketId": "b", "retentionDays": 30})]),
    # -- stack
    "stack-client-namespace-default-deny": (
        lambda: [k8s_provider(), namespace(), netpol("default-deny")],
        lambda: [k8s_provider(), namespace(), netpol("default-deny", types=("Ingress",))]),
    "stack-pods-selected-by-networkpolicy": (
        lambda: [*workload(), netpol("web", selector={"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["web", "x"]}]}, types=("Ingress",), ingress=[{"from": [{"namespaceSelector": {}}]}])],
        lambda: [*workload(), netpol("web", ns="other", selector={})]),
    "stack-crd-installed-first": (lambda: crd_graph(depends=False, via_parent=True), lambda: crd_graph(depends=False)),
    "k8s-explicit-provider": (workload, lambda: [res("kubernetes:core/v1:ConfigMap", "cm", {"metadata": {"name": "x", "namespace": "demo-prod", "labels": LABELS}}, provider="urn:pulumi:test::lfh::pulumi:providers:kubernetes::default_4_34_2::id")]),
    "data-resources-protected": (lambda: [k8s_provider(), namespace()], lambda: [k8s_provider(), namespace(protect=False)]),
    "cloud-required-tags": (
        lambda: [res("aws:kms/key:Key", "k", {"enableKeyRotation": True}, provider="urn:pulumi:test::lfh::pulumi:providers:aws::aws::id"),
                 Resource(urn="urn:pulumi:test::lfh::pulumi:providers:aws::aws", type="pulumi:providers:aws", name="aws", parent="", provider="", dependencies=[],
                          inputs={"region": "us-east-1", "defaultTags": json.dumps({"tags": aws_tags()})})],
        lambda: [res("aws:kms/key:Key", "k", {"enableKeyRotation": True, "tags": {"lfh:platform": "aws"}})]),
    "k8s-part-of-label": (workload, lambda: workload(lambda o: set_path(o, "metadata.labels", {"app": "web"}))),
    "stack-client-backups": (
        lambda: [k8s_provider(), namespace(), schedule("hourly", "72h0m0s"), schedule("daily", "720h"), schedule("weekly", "2160h0m0s")],
        lambda: [k8s_provider(), namespace(), schedule("hourly", "72h0m0s"), schedule("daily", "720h"), schedule("weekly", "720h")]),
    "backup-bucket-no-object-lock": (lambda: velero_bsl_graph(lock=False), lambda: velero_bsl_graph(lock=True)),
    # -- issue 15: access logs
    "aws-s3-data-access-logged": (trail_graph, lambda: trail_graph(prefix="arn:aws:s3:::other-bucket/")),
    "gcp-gcs-data-access-logged": (gcs_audit_graph, lambda: gcs_audit_graph(data_read=False)),
    "azure-storage-blob-access-logged": (blob_logs_graph, lambda: blob_logs_graph(categories=("StorageWrite",))),
    # -- issue 15: hardening
    "aws-secretsmanager-rotation": (rotation_graph, lambda: rotation_graph(days=365)),
    "aws-s3-phi-bucket-replicated": (replicated_bucket_graph, lambda: replicated_bucket_graph(second_region=False)),
    "aws-eks-addon-managed-policies": (addon_role_graph, lambda: addon_role_graph(managed=False)),
    "gcp-gke-intranode-visibility": (lambda: [res("gcp:container/cluster:Cluster", "gke", gke(enableIntranodeVisibility=True))],
                                     lambda: [res("gcp:container/cluster:Cluster", "gke", gke())]),
    "gcp-gke-binary-authorization": (binauthz_graph, lambda: binauthz_graph(enforcement="DRYRUN_AUDIT_LOG_ONLY")),
    "azure-keyvault-no-public-network": (
        lambda: [res("azure-native:keyvault:Vault", "v", {"properties": {"publicNetworkAccess": "Disabled"}})],
        lambda: [res("azure-native:keyvault:Vault", "v", {"properties": {"networkAcls": {"defaultAction": "Deny"}}})]),
    "azure-storage-geo-redundant": (
        lambda: [res("azure-native:storage:StorageAccount", "sa", storage_account(sku={"name": "Standard_GZRS"}, tags=PHI_TAGS))],
        lambda: [res("azure-native:storage:StorageAccount", "sa", storage_account(sku={"name": "Standard_ZRS"}, tags=PHI_TAGS))]),
    "azure-aks-os-disk-type": (
        lambda: [res("azure-native:containerservice:AgentPool", "apps", {"agentPoolName": "apps", "osDiskType": "Managed"})],
        lambda: [res("azure-native:containerservice:ManagedCluster", "aks", aks(agentPoolProfiles=[{"name": "system"}]))]),
    "stack-secret-paths-scoped": (
        lambda: [k8s_provider(), namespace(), secret_store("local/demo/production/")],
        lambda: [k8s_provider(), namespace(), secret_store("local/demo/")]),
    # -- issue 15
    "k8s-gateway-access-log": (envoy_proxy, lambda: envoy_proxy({**ACCESS_LOG, "path": "%REQ(:PATH)%"})),
    "stack-generated-secrets-rotate": (rotated_secret, lambda: rotated_secret(keepers=False)),
    "stack-mongodb-monitored": (mongodb_graph, lambda: mongodb_graph(sidecar=False)),
    "aws-workload-logs-retained": (eks_logs, lambda: eks_logs(days=180)),
    "azure-workload-logs-retained": (aks_logs, lambda: aks_logs(agent=False)),
    "gcp-workload-logs-retained": (gke_logs, lambda: gke_logs(("SYSTEM_COMPONENTS",))),
}


def names_of(violations) -> set[str]:
    return {v.policy for v in violations}


def test_every_policy_has_a_case():
    assert sorted(p.name for p in policies()) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_policy_passes(name):
    good, _ = CASES[name]
    found = run(good(), stack=STACK, only=[name])
    assert found == [], [v.message for v in found]


@pytest.mark.parametrize("name", sorted(CASES))
def test_policy_reports(name):
    _, bad = CASES[name]
    found = run(bad(), stack=STACK, only=[name])
    assert found and names_of(found) == {name}
    assert all(v.message for v in found)


def test_compliant_workload_passes_every_kubernetes_policy():
    """The reference workload above is clean against the whole pack, except the NetworkPolicy/PDB checks
    that need more of the graph."""
    found = run(workload(), stack=STACK)
    assert names_of(found) <= {"stack-pods-selected-by-networkpolicy", "k8s-production-pdb"}, [v.message for v in found]


def test_resource_violation_reports_against_the_resource():
    graph = workload(lambda o: set_path(c0(o), "securityContext.privileged", True))
    (v,) = run(graph, stack=STACK, only=["k8s-no-privileged-containers"])
    assert v.urn == graph[1].urn and v.enforcement == "mandatory" and v.severity == "critical"


def test_config_overrides_defaults():
    graph = [res("aws:cloudwatch/logGroup:LogGroup", "lg", {"name": "g", "retentionInDays": 180})]
    assert run(graph, only=["aws-log-group-retention"]) == []
    assert run(graph, only=["aws-log-group-retention"], config={"aws-log-group-retention": {"minRetentionDays": 365}})


def test_cpu_limits_only_when_configured():
    graph = workload(lambda o: set_path(c0(o), "resources.limits", {"memory": "1Gi"}))
    assert run(graph, only=["k8s-resources-requests-limits"]) == []
    assert run(graph, only=["k8s-resources-requests-limits"], config={"k8s-resources-requests-limits": {"requireCpuLimits": True}})


def test_image_without_tag_is_not_pinned():
    graph = workload(lambda o: set_path(c0(o), "image", "ghcr.io/mycurelabs/hapihub"))
    assert names_of(run(graph, only=["k8s-image-pinned"])) == {"k8s-image-pinned"}
    graph = workload(lambda o: set_path(c0(o), "image", "localhost:5000/app"))  # a port is not a tag
    assert names_of(run(graph, only=["k8s-image-pinned"])) == {"k8s-image-pinned"}


def test_staging_allows_one_replica():
    graph = workload(lambda o: set_path(o, "spec.replicas", 1))
    graph[1].inputs["metadata"]["labels"]["lfh.io/environment"] = "staging"
    graph[1].inputs["spec"]["template"]["metadata"]["labels"]["lfh.io/environment"] = "staging"
    assert run(graph, only=["k8s-production-replicas"]) == []


def test_hpa_with_one_min_replica_is_reported():
    assert run(with_hpa(1), only=["k8s-production-replicas"])


def test_platform_namespace_with_gateway_label_is_not_a_client_namespace():
    """argocd carries the gateway's route label but belongs to no client: no client-only rules apply."""
    ns = namespace("argocd", protect=False)
    del ns.inputs["metadata"]["labels"]["lfh.io/client"]
    found = run([k8s_provider(), ns], only=["stack-client-namespace-default-deny", "stack-client-backups",
                                            "data-resources-protected", "k8s-client-namespace-restricted"])
    assert found == []


def test_patches_of_objects_created_elsewhere_need_no_labels():
    patch = res("kubernetes:gateway.networking.k8s.io/v1:GatewayPatch", "gw-patch",
                {"metadata": {"name": "shared-gateway", "namespace": "envoy-gateway-system"}, "spec": {"listeners": []}})
    assert run([k8s_provider(), patch], only=["k8s-part-of-label"]) == []


def test_crd_dependency_through_component_dependency():
    graph = crd_graph(depends=True)
    assert run(graph, only=["stack-crd-installed-first"]) == []


def test_gateway_api_resources_wait_for_the_gateway_chart():
    rel = release(chart="oci://docker.io/envoyproxy/gateway-helm", repo="", version="v1.9.0", name="envoy-gateway")
    gw = res("kubernetes:gateway.networking.k8s.io/v1:Gateway", "gw", {"metadata": {"name": "shared-gateway", "namespace": "envoy-gateway-system", "labels": LABELS}})
    assert run([k8s_provider(), rel, gw], only=["stack-crd-installed-first"])
    gw.dependencies = [rel.urn]
    assert run([k8s_provider(), rel, gw], only=["stack-crd-installed-first"]) == []


def test_crd_from_another_stack_is_not_required():
    graph = [k8s_provider(), schedule("hourly", "72h")]
    assert run(graph, only=["stack-crd-installed-first"]) == []


def test_secret_store_of_another_environment_is_reported():
    graph = [k8s_provider(), namespace(), secret_store("local/demo/staging/")]
    (v,) = run(graph, only=["stack-secret-paths-scoped"])
    assert "staging" in v.message or "production" in v.message


def external_secret(key: str, store: str = "demo") -> Resource:
    return res("kubernetes:external-secrets.io/v1:ExternalSecret", f"es-{key}", {
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": "web", "namespace": "demo-prod", "labels": LABELS},
        "spec": {"secretStoreRef": {"name": store, "kind": "SecretStore"}, "target": {"name": "web"},
                 "data": [{"secretKey": "jwt", "remoteRef": {"key": key}}]}})


def test_external_secret_keys_carry_client_and_environment():
    store = secret_store("")
    store.inputs["spec"]["provider"] = {"gcpsm": {"projectID": "p"}}  # no path: the keys must be scoped
    ok = [k8s_provider(), namespace(), store, external_secret("gcp-demo-production-jwt-secret")]
    assert run(ok, only=["stack-secret-paths-scoped"]) == []
    bad = [k8s_provider(), namespace(), store, external_secret("jwt-secret")]
    assert run(bad, only=["stack-secret-paths-scoped"])


def test_kubernetes_store_namespace_scopes_its_keys():
    store = secret_store("")
    store.inputs["spec"]["provider"] = {"kubernetes": {"remoteNamespace": "lfh-secrets-demo-production"}}
    graph = [k8s_provider(), namespace(), store, external_secret("jwt-secret#value")]
    assert run(graph, only=["stack-secret-paths-scoped"]) == []
    from lfh.policy_runner import secret_paths
    from lfh.plan.model import Plan

    plan = Plan(stack="demo-prod", role="client", resources=graph, outputs={}, secret_outputs=[])
    assert secret_paths(plan) == ["lfh-secrets-demo-production", "lfh-secrets-demo-production/jwt-secret"]


def test_created_cloud_secret_names_are_scoped():
    ok = [k8s_provider(), namespace(), res("aws:secretsmanager/secret:Secret", "s", {"name": "aws/demo/production/jwt"}, protect=True)]
    assert run(ok, only=["stack-secret-paths-scoped"]) == []
    bad = [k8s_provider(), namespace(), res("aws:secretsmanager/secret:Secret", "s", {"name": "aws/demo/jwt"}, protect=True)]
    assert run(bad, only=["stack-secret-paths-scoped"])


def test_eks_public_endpoint_default_is_reported():
    graph = [res("aws:eks/cluster:Cluster", "c", eks(vpcConfig={"endpointPrivateAccess": True, "endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}))]
    assert run(graph, only=["aws-eks-private-endpoint"])


def test_velero_bucket_found_through_property_dependency():
    """The BSL names the bucket by an output (a generated name): its property dependency links them."""
    graph = velero_bsl_graph(lock=True)
    bucket, bsl = graph[1], graph[-1]
    bsl.inputs["spec"]["objectStorage"]["bucket"] = "generated-name"
    assert run(graph, only=["backup-bucket-no-object-lock"]) == []
    bsl.property_dependencies = {"spec": [bucket.urn]}
    assert run(graph, only=["backup-bucket-no-object-lock"])


def test_locked_replica_bucket_is_allowed():
    graph = velero_bsl_graph(lock=False)
    graph.append(res("aws:s3/bucket:Bucket", "replica", {"bucket": "lfh-aws-backups-worm", "objectLockEnabled": True}, protect=True))
    assert run(graph, only=["backup-bucket-no-object-lock"]) == []


def test_velero_bucket_lock_via_separate_resource():
    graph = velero_bsl_graph(lock=False)
    bucket = graph[1]
    graph.append(res("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", "lock",
                     {"bucket": "lfh-aws-backups", "rule": {"defaultRetention": {"mode": "COMPLIANCE", "days": 90}}},
                     pdeps={"bucket": [bucket]}))
    assert names_of(run(graph, only=["backup-bucket-no-object-lock"])) == {"backup-bucket-no-object-lock"}


def test_preview_unknowns_count_as_set_references():
    """During `pulumi preview` a key ARN from another resource is unknown: it is set, not missing."""
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

    graph = [res("aws:eks/cluster:Cluster", "c", eks(encryptionConfig={"resources": ["secrets"], "provider": {"keyArn": UNKNOWN_STRING_VALUE}}))]
    assert run(graph, only=["aws-eks-secrets-encryption"]) == []
    lt = launch_template(metadataOptions={"httpTokens": UNKNOWN_STRING_VALUE, "httpPutResponseHopLimit": 1})
    assert run([res("aws:ec2/launchTemplate:LaunchTemplate", "lt", lt)], only=["aws-launch-template-imdsv2"])


# ----------------------------------------------------------------------------- issue 15 details


def test_access_log_needs_explicit_settings_status_duration_and_route():
    only = ["k8s-gateway-access-log"]
    assert "query string" in run(envoy_proxy(telemetry=False), only=only)[0].message
    missing = run(envoy_proxy({"path": "%REQ_WITHOUT_QUERY(:PATH)%", "response_code": "%RESPONSE_CODE%"}), only=only)
    assert missing and "duration, route" in missing[0].message
    assert run(envoy_proxy({**ACCESS_LOG, "referer": "%REQ(REFERER)%"}), only=only)
    assert run(envoy_proxy({**ACCESS_LOG, "original": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"}), only=only)


def test_rotation_longer_than_the_limit_is_reported_and_exclusions_are_not():
    only = ["stack-generated-secrets-rotate"]
    assert "365 days" in run(rotated_secret(days=365), only=only)[0].message
    assert run(rotated_secret(days=365), only=only, config={"stack-generated-secrets-rotate": {"maxRotationDays": 400}}) == []
    # The data-at-rest key's and the system users' passwords never rotate (documented in secrets.py).
    assert run(rotated_secret(keepers=False, name="demo-production-secrets-mongodb-useradmin-password"), only=only) == []


def test_not_rotated_keys_match_the_client_secrets():
    from lfh_policies.observability import NOT_ROTATED_KEYS

    from components.client.secrets import NOT_ROTATED

    assert set(NOT_ROTATED_KEYS) == set(NOT_ROTATED)


def test_mongodb_rules_must_cover_every_signal():
    only = ["stack-mongodb-monitored"]
    found = run(mongodb_graph(rules=("mongodb_mongod_replset_my_state == 1",)), only=only)
    assert found and "replication lag, connections, disk" in found[0].message
    # A stack without monitoring (no monitors at all) is not asked for any of it.
    assert run([r for r in mongodb_graph(sidecar=False) if "monitoring.coreos.com" not in r.type], only=only) == []


def test_workload_log_policies_each_need_the_agent_and_the_retention():
    assert run(eks_logs(addon=False), only=["aws-workload-logs-retained"])
    assert run(aks_logs(days=180), only=["azure-workload-logs-retained"])
    assert run(gke_logs(days=30), only=["gcp-workload-logs-retained"])
    assert run(eks_logs(days=180), only=["aws-workload-logs-retained"],
               config={"aws-workload-logs-retained": {"minRetentionDays": 90}}) == []


def test_log_collector_exception_is_narrow():
    """A documented exception namespace may read hostPath read-only as a powerless uid 0 — nothing more."""
    only = ["k8s-no-host-path", "k8s-run-as-non-root"]
    assert run(collector(), only=only) == []
    assert names_of(run(collector(read_only=False), only=only)) == {"k8s-no-host-path"}
    assert names_of(run(collector(ns="demo-prod"), only=only)) == {"k8s-no-host-path", "k8s-run-as-non-root"}
    powerful = collector()
    c0(powerful[1].inputs)["securityContext"]["capabilities"] = {"drop": ["ALL"], "add": ["DAC_OVERRIDE"]}
    assert names_of(run(powerful, only=only)) == {"k8s-run-as-non-root"}
# ----------------------------------------------------------------------------- issue 15: the checks behind each case


@pytest.mark.parametrize("graph", [
    lambda: trail_graph(kms=False), lambda: trail_graph(validation=False), lambda: trail_graph(expire_days=90)])
def test_data_access_trail_must_be_encrypted_validated_and_kept(graph):
    assert names_of(run(graph(), only=["aws-s3-data-access-logged"])) == {"aws-s3-data-access-logged"}


def test_client_bucket_recorded_by_the_platform_trail_is_tagged():
    """A client stack holds no trail: the adapter's `lfh:access-logs` tag names the platform's."""
    tags = {**PHI_TAGS, "lfh:client": "acme"}
    bucket = res("aws:s3/bucket:Bucket", "files", {"bucket": "aws-acme-files", "tags": tags})
    assert run([bucket], only=["aws-s3-data-access-logged"])
    bucket.inputs["tags"]["lfh:access-logs"] = "cloudtrail/lfh-aws-data-access"
    assert run([bucket], only=["aws-s3-data-access-logged"]) == []
    assert run(trail_graph(prefix="arn:aws:s3:::lfh-aws-"), only=["aws-s3-data-access-logged"]) == []


def test_access_log_retention_is_user_config():
    graph = trail_graph(expire_days=400)
    assert run(graph, only=["aws-s3-data-access-logged"]) == []
    assert run(graph, only=["aws-s3-data-access-logged"], config={"aws-s3-data-access-logged": {"minRetentionDays": 2190}})


@pytest.mark.parametrize("graph", [lambda: gcs_audit_graph(cmek=False), lambda: gcs_audit_graph(retention=30)])
def test_gcs_data_access_log_bucket_needs_cmek_and_retention(graph):
    assert run(graph(), only=["gcp-gcs-data-access-logged"])


@pytest.mark.parametrize("graph", [lambda: blob_logs_graph(cmk=False), lambda: blob_logs_graph(delete_days=90)])
def test_blob_access_log_archive_needs_cmk_and_retention(graph):
    assert run(graph(), only=["azure-storage-blob-access-logged"])


def test_replication_and_geo_redundancy_only_where_configured():
    staging = replicated_bucket_graph(second_region=False)
    for r in staging:
        if "tags" in r.inputs:
            r.inputs["tags"]["lfh:environment"] = "staging"
    assert run(staging, only=["aws-s3-phi-bucket-replicated"]) == []
    zrs = [res("azure-native:storage:StorageAccount", "sa", storage_account(sku={"name": "Standard_ZRS"}, tags=PHI_TAGS))]
    assert run(zrs, only=["azure-storage-geo-redundant"], config={"azure-storage-geo-redundant": {"environments": []}}) == []


def test_hand_copied_ec2_permissions_are_reported_beside_the_managed_policy():
    assert names_of(run(addon_role_graph(inline_ec2=True), only=["aws-eks-addon-managed-policies"])) == {"aws-eks-addon-managed-policies"}


@pytest.mark.parametrize("graph", [lambda: binauthz_graph(cluster_mode="DISABLED"), lambda: binauthz_graph(evaluation="ALWAYS_ALLOW")])
def test_binary_authorization_off_or_allow_all_is_reported(graph):
    assert run(graph(), only=["gcp-gke-binary-authorization"])


def test_secrets_manager_rotation_equivalents():
    """Secrets Manager's own rotation, or the generator's keepers following a time.Rotating: both count."""
    static = rotation_graph()
    static[1].property_dependencies = {}  # keepers set, but by nothing that ticks
    assert run(static, only=["aws-secretsmanager-rotation"])
    graph = rotation_graph(keepers=False)
    assert run(graph, only=["aws-secretsmanager-rotation"]) == []  # not rotating: stack-generated-secrets-rotate's call
    secret = graph[2]
    rotation = res("aws:secretsmanager/secretRotation:SecretRotation", "native", {
        "secretId": "arn:sm:jwt", "rotationLambdaArn": "arn:lambda", "rotationRules": {"automaticallyAfterDays": 30}},
        pdeps={"secretId": [secret]})
    assert run([*graph, rotation], only=["aws-secretsmanager-rotation"]) == []
    rotation.inputs["rotationRules"]["automaticallyAfterDays"] = 180
    (v,) = run([*graph, rotation], only=["aws-secretsmanager-rotation"])
    assert v.enforcement == "mandatory" and "180 d" in v.message
