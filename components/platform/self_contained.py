"""What a cluster with nothing outside it (`cluster.selfContained`, a kind/k3d trial) gets from the platform
instead of a cloud: a secret store and a backup object store, both inside the cluster.

- **Secret store**: the namespace `lfh-platform-secrets`, locked (Pod Security `restricted` and a quota of
  zero pods: nothing runs there), holds the platform's secrets as Kubernetes Secrets named as the
  platform store names its paths (`<platform>.platform.<name>`). The stack generates them (pulumi_random;
  encrypted in Pulumi state) — so a fresh cluster needs nothing created by hand. External Secrets reads
  them through its `kubernetes` provider as the ServiceAccount `platform-secret-reader`, which may only
  get/list/watch Secrets of that namespace (ESO docs, "Kubernetes provider": a Role on `secrets`).
- **Backup store**: MinIO from the pinned community chart 5.4.0 (image RELEASE.2024-12-18T13-15-44Z),
  standalone, on the cluster's own StorageClass, with one bucket and one user per writer (Velero;
  Longhorn when it runs) whose policy covers that bucket (Longhorn: its prefix). MinIO's community edition
  is now source-only and its repository unmaintained (../shared/upstream/README.md), so this is for trials
  only: a production cluster backs up to a cloud bucket or an S3 service it does not host itself.
"""
from __future__ import annotations

from typing import Any, Mapping

import pulumi

from lfh.config.platform import PlatformConfig

from ..cluster.contract import ClusterContract, InClusterServices
from ..k8s import KubeObject, child_opts, labels, meta
from ._helpers import namespace, release, restricted_container, restricted_pod
from .network import CLIENTS, PlatformNetwork, PodSet, Port, To
from .secrets import remote_name

#: MinIO's Helm chart version is `lfh.charts.CHARTS["minio"]`; its image and `mc` image (the chart's defaults).
MINIO_IMAGE = ("quay.io/minio/minio", "RELEASE.2024-12-18T13-15-44Z")
MC_IMAGE = ("quay.io/minio/mc", "RELEASE.2024-11-21T17-21-54Z")
#: Fixed: Argo CD only uses it to end sessions issued before a password change.
ADMIN_PASSWORD_MTIME = "2026-01-01T00:00:00Z"
S3_OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                     "s3:ListMultipartUploadParts"]


def network_pods(svc: InClusterServices) -> list[PodSet]:
    """The pods of the in-cluster backup store (labels and ports as the minio chart 5.4.0 renders them with
    `fullnameOverride`): the S3 API admits the platform's backup writers (Velero, Longhorn: their
    OBJECT_STORE egress is linked here) and the clients' backup agents (Percona's pbm-agent)."""
    ns, release_label = svc.store_namespace, {"release": svc.store_name}
    return [
        PodSet("backup-store", ns, {"app": "minio", **release_label},
               ports=(Port("api", svc.store_port, (CLIENTS,)),),
               closed={9001: "MinIO's console: nothing routes to it; an operator uses `kubectl port-forward`"}),
        # The chart's post-install Job creates the bucket, users and policies through the S3 API.
        PodSet("backup-store-setup", ns, {"app": "minio-job", **release_label}, connects_to=(To("backup-store", ("api",)),)),
    ]


class SelfContained(pulumi.ComponentResource):
    """`lfh:platform:SelfContained`: the locked secret namespace with generated secrets, and MinIO for backups."""

    def __init__(self, name: str, platform: PlatformConfig, cluster: ClusterContract, *, network: PlatformNetwork,
                 chart_versions: Mapping[str, str] | None = None, opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:platform:SelfContained", name, None, opts)
        import pulumi_random as random  # only self-contained platforms pay for importing it

        self.chart_versions = dict(chart_versions or {})
        svc: InClusterServices = cluster.in_cluster  # type: ignore[assignment]
        p = cluster.provider
        deps = list(cluster.ready)
        longhorn = not platform.storage.use_cluster_storage_class

        def password(key: str, **kw: Any) -> Any:
            return random.RandomPassword(f"{name}-{key}", length=40, special=False, **kw,
                                         opts=pulumi.ResourceOptions(parent=self))

        # ---- the secret store
        self.secrets_namespace = namespace(self, p, svc.secrets_namespace, level="restricted", component="secrets",
                                           depends_on=deps)
        network.create(self, p, svc.secrets_namespace, depends_on=[self.secrets_namespace], prefix="secrets")
        lbl = lambda n: labels(n, component="secrets")  # noqa: E731
        KubeObject(f"{name}-locked", "v1", "ResourceQuota", metadata=meta("no-pods", svc.secrets_namespace, labels=lbl("no-pods")),
                   spec={"hard": {"pods": "0"}}, opts=child_opts(self, p, depends_on=[self.secrets_namespace]))
        reader = KubeObject(f"{name}-reader", "v1", "ServiceAccount", metadata=meta(svc.reader, svc.secrets_namespace, labels=lbl(svc.reader)),
                            automountServiceAccountToken=False, opts=child_opts(self, p, depends_on=[self.secrets_namespace]))
        role = KubeObject(f"{name}-reader-role", "rbac.authorization.k8s.io/v1", "Role",
                          metadata=meta(svc.reader, svc.secrets_namespace, labels=lbl(svc.reader)),
                          rules=[{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}],
                          opts=child_opts(self, p, depends_on=[self.secrets_namespace]))
        binding = KubeObject(f"{name}-reader-binding", "rbac.authorization.k8s.io/v1", "RoleBinding",
                             metadata=meta(svc.reader, svc.secrets_namespace, labels=lbl(svc.reader)),
                             roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": svc.reader},
                             subjects=[{"kind": "ServiceAccount", "name": svc.reader, "namespace": svc.secrets_namespace}],
                             opts=child_opts(self, p, depends_on=[reader, role]))

        velero_key, root = password("velero-secret-key"), password("store-root-password")
        admin = password("argocd-admin-password")
        generated: dict[str, dict[str, Any]] = {
            "velero": {"accessKeyId": "velero", "secretAccessKey": velero_key.result},
            "argocd-admin": {"password": admin.result, "passwordBcrypt": admin.bcrypt_hash,
                             "passwordMtime": ADMIN_PASSWORD_MTIME},
        }
        users = [("velero", velero_key, [f"arn:aws:s3:::{svc.bucket}/*"], [f"arn:aws:s3:::{svc.bucket}"])]
        if not cluster.log_agent:
            # The platform's log collector (components/platform/logging.py) ships container logs under
            # `logs/` of the same bucket: its own user, that prefix only.
            logs_key = password("logs-secret-key")
            generated["logs"] = {"accessKeyId": "logs", "secretAccessKey": logs_key.result}
            users.append(("logs", logs_key, [f"arn:aws:s3:::{svc.bucket}/logs/*"], [f"arn:aws:s3:::{svc.bucket}"]))
        if longhorn:
            longhorn_key = password("longhorn-secret-key")
            prefix = cluster.backup.longhorn_prefix
            generated["longhorn-backup"] = {"accessKeyId": "longhorn", "secretAccessKey": longhorn_key.result}
            generated["longhorn-crypto"] = {"passphrase": password("longhorn-passphrase").result}
            users.append(("longhorn", longhorn_key, [f"arn:aws:s3:::{svc.bucket}/{prefix}/*"], [f"arn:aws:s3:::{svc.bucket}"]))
        self.secrets = [
            KubeObject(f"{name}-secret-{path}", "v1", "Secret",
                       metadata=meta(remote_name(platform.name, f"platform/{path}", svc.store_provider()), svc.secrets_namespace,
                                     labels=lbl(path), annotations={"lfh.io/secret-path": f"{platform.name}/platform/{path}"}),
                       type="Opaque", stringData={k: pulumi.Output.secret(v) for k, v in data.items()},
                       opts=child_opts(self, p, depends_on=[self.secrets_namespace], additional_secret_outputs=["stringData", "data"]))
            for path, data in generated.items()]

        # ---- the backup store
        store_ns = namespace(self, p, svc.store_namespace, level="restricted", component="backups", depends_on=deps)
        store_secrets = [KubeObject(
            f"{name}-store-root", "v1", "Secret", metadata=meta(f"{svc.store_name}-root", svc.store_namespace, labels=lbl("root")),
            type="Opaque", stringData={"rootUser": "lfh-root", "rootPassword": root.result},
            opts=child_opts(self, p, depends_on=[store_ns], additional_secret_outputs=["stringData", "data"]))]
        for user, key, _objects, _bucket in users:
            store_secrets.append(KubeObject(
                f"{name}-store-user-{user}", "v1", "Secret", metadata=meta(f"{svc.store_name}-{user}", svc.store_namespace, labels=lbl(user)),
                type="Opaque", stringData={"secretKey": key.result},
                opts=child_opts(self, p, depends_on=[store_ns], additional_secret_outputs=["stringData", "data"])))
        job = {"securityContext": {"enabled": True, "runAsUser": 1000, "runAsGroup": 1000},
               "containerSecurityContext": restricted_container(),
               "resources": {"requests": {"memory": "128Mi", "cpu": "50m"}, "limits": {"memory": "256Mi"}}}
        values: dict[str, Any] = {
            "fullnameOverride": svc.store_name,
            "image": {"repository": MINIO_IMAGE[0], "tag": MINIO_IMAGE[1], "pullPolicy": "IfNotPresent"},
            "mcImage": {"repository": MC_IMAGE[0], "tag": MC_IMAGE[1], "pullPolicy": "IfNotPresent"},
            "mode": "standalone", "replicas": 1,
            "existingSecret": f"{svc.store_name}-root",
            "persistence": {"enabled": True, "storageClass": cluster.storage_class, "size": svc.store_size,
                            "accessMode": "ReadWriteOnce"},
            "service": {"type": "ClusterIP", "port": str(svc.store_port)},
            "ingress": {"enabled": False}, "consoleIngress": {"enabled": False},
            "securityContext": {"enabled": True, **restricted_pod(1000), "fsGroupChangePolicy": "OnRootMismatch"},
            "containerSecurityContext": restricted_container(read_only_root=False),
            "resources": {"requests": {"memory": "512Mi", "cpu": "100m"}, "limits": {"memory": "1Gi"}},
            "policies": [{"name": f"{user}-backups", "statements": [
                {"resources": objects, "actions": S3_OBJECT_ACTIONS},
                {"resources": bucket, "actions": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]},
            ]} for user, _, objects, bucket in users],
            "users": [{"accessKey": user, "existingSecret": f"{svc.store_name}-{user}", "existingSecretKey": "secretKey",
                       "policy": f"{user}-backups"} for user, *_ in users],
            "svcaccts": [],
            "buckets": [{"name": svc.bucket, "policy": "none", "purge": False, "versioning": True, "objectlocking": False}],
            **{f"make{kind}Job": job for kind in ("Policy", "User", "Bucket", "ServiceAccount")},
            "customCommandJob": job,
            "postJob": {"securityContext": {"enabled": True, **restricted_pod(1000)}},
            "environment": {"MINIO_BROWSER": "off"},
            "networkPolicy": {"enabled": False},
            "podDisruptionBudget": {"enabled": False},
            "serviceAccount": {"create": True, "name": svc.store_name},
        }
        store_policies = network.create(self, p, svc.store_namespace, depends_on=[store_ns], prefix="store")
        # Its NetworkPolicies are derived like every platform namespace's (network_pods above): in, the S3
        # port from Velero, Longhorn, the clients' database backups and the chart's setup job.
        self.store = release(self, p, "minio", name=svc.store_name, namespace=store_ns, values=values,
                             depends_on=[*store_secrets, *store_policies])
        self.ready: list[pulumi.Resource] = [binding, *self.secrets, self.store]
        self.register_outputs({"secretsNamespace": svc.secrets_namespace, "backupEndpoint": svc.endpoint})
