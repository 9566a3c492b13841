"""Existing clusters: no cloud, so no cloud secret manager, no workload identity, no buckets.

Secrets: each client environment gets a dedicated *source* namespace `lfh-secrets-<client>-<env>`
that holds the generated secrets as Kubernetes Secrets and runs no pods. The namespace SecretStore
uses External Secrets' `kubernetes` provider with its own ServiceAccount, which a Role in the source
namespace allows to read Secrets there and nowhere else. Apps in the client namespace never get
that Role, so they can read their synced Secrets but not the source. Encryption at rest of these
Secrets is the cluster's etcd encryption (EncryptionConfiguration), which the cluster owner runs.
"""
from __future__ import annotations

from typing import Any, Optional

import pulumi

from ..client.contract import ClientContext
from ..cluster.contract import ServiceAccountBinding
from ..k8s import KubeObject, child_opts, labels, meta
from ..cluster.backup_keys import s3_key_pair
from .base import BackupTarget, BucketInfo, CloudAdapter, credential_key

#: Data key of every source Secret.
VALUE_KEY = "value"
#: ctx.extra key of the generated backup keys (secret key -> bucket, prefix, user) and the label on their Secrets.
BACKUP_USERS = "existing-backup-users"
BACKUP_USER_LABEL = "lfh.io/backup-user"


def source_namespace(ctx: ClientContext) -> str:
    return f"lfh-secrets-{ctx.config.name}-{ctx.environment}"


class ExistingAdapter(CloudAdapter):
    kind = "existing"

    @property
    def source_namespace(self) -> str:
        return source_namespace(self.ctx)

    def _labels(self, name: str) -> dict[str, str]:
        return labels(name, client=self.ctx.config.name, environment=self.ctx.environment, component="secrets")

    def _namespace(self) -> KubeObject:
        """The source namespace (created once per client stack)."""
        key = "existing-secrets-namespace"
        if key not in self.ctx.extra:
            self.ctx.extra[key] = KubeObject(
                f"{self.prefix}-source-namespace", "v1", "Namespace",
                metadata=meta(self.source_namespace, labels={
                    **self._labels(self.source_namespace),
                    # Holds no pods: the strictest admission is free.
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                }),
                opts=child_opts(self.parent, self.ctx.provider, protect=True, retain_on_delete=True),
            )
        return self.ctx.extra[key]

    # ------------------------------------------------------------------ identity
    def workload_identity(self, name: str, service_account: str, *, read_secret_prefix: Optional[str] = None,
                          bucket: Optional[BucketInfo] = None, drill_copy: bool = False) -> ServiceAccountBinding:
        if bucket is not None:
            raise pulumi.RunError("existing platforms have no cloud object storage: lfh:client.objectStorage.mode must be `minio`")
        binding = ServiceAccountBinding(namespace=self.ctx.namespace, service_account=service_account)
        if read_secret_prefix:
            ns = self._namespace()
            role_name = f"{self.ctx.namespace}-{name}-read"
            role = KubeObject(
                f"{self.prefix}-{name}-source-reader", "rbac.authorization.k8s.io/v1", "Role",
                metadata=meta(role_name, self.source_namespace, labels=self._labels(role_name)),
                # Read-only, Secrets only, this namespace only.
                rules=[{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}],
                opts=child_opts(self.parent, self.ctx.provider, depends_on=[ns]),
            )
            KubeObject(
                f"{self.prefix}-{name}-source-reader", "rbac.authorization.k8s.io/v1", "RoleBinding",
                metadata=meta(role_name, self.source_namespace, labels=self._labels(role_name)),
                roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
                subjects=[{"kind": "ServiceAccount", "name": service_account, "namespace": self.ctx.namespace}],
                opts=child_opts(self.parent, self.ctx.provider, depends_on=[role]),
            )
        return binding

    # ------------------------------------------------------------------ buckets
    def bucket(self, name: str, *, noncurrent_version_days: int = 30, replicate: bool = False) -> BucketInfo:
        raise pulumi.RunError(
            "lfh:client.objectStorage.mode: `cloud` needs a cloud platform; this platform is an existing cluster "
            "(no cloud object storage). Use `minio` or leave the mode unset."
        )

    # ------------------------------------------------------------------ secrets
    def remote_key(self, key: str) -> str:
        return f"{key}#{VALUE_KEY}"

    def write_secret(self, key: str, value: pulumi.Input[str]) -> pulumi.Resource:
        ns = self._namespace()
        user = (self.ctx.extra.get(BACKUP_USERS) or {}).get(key)
        annotations = {"lfh.io/secret-path": self.secret_path(key)}
        obj_labels = self._labels(key)
        if user:
            # A backup key the endpoint must provision a user for (an in-cluster store watches this label).
            obj_labels[BACKUP_USER_LABEL] = "true"
            annotations.update({f"lfh.io/backup-{k}": v for k, v in user.items()})
        return KubeObject(
            f"{self.prefix}-{key}", "v1", "Secret",
            metadata=meta(key, self.source_namespace, labels=obj_labels, annotations=annotations),
            type="Opaque",
            immutable=False,
            stringData={VALUE_KEY: pulumi.Output.secret(value)},
            opts=child_opts(self.parent, self.ctx.provider, depends_on=[ns], protect=True,
                            additional_secret_outputs=["stringData", "data"]),
        )

    def declare_secret(self, key: str, description: str) -> pulumi.Resource:
        ns = self._namespace()
        return KubeObject(
            f"{self.prefix}-{key}", "v1", "Secret",
            metadata=meta(key, self.source_namespace, labels=self._labels(key),
                          annotations={"lfh.io/secret-path": self.secret_path(key), "lfh.io/description": description}),
            type="Opaque",
            # Filled by an operator (`kubectl -n <source> edit secret`); the stack never overwrites it.
            opts=child_opts(self.parent, self.ctx.provider, depends_on=[ns], protect=True,
                            ignore_changes=["data", "stringData"]),
        )

    def secret_store_provider(self, binding: ServiceAccountBinding) -> dict[str, Any]:
        return {"kubernetes": {
            "remoteNamespace": self.source_namespace,
            "server": {
                "url": "https://kubernetes.default.svc",
                # Every namespace gets the cluster CA in this ConfigMap.
                "caProvider": {"type": "ConfigMap", "name": "kube-root-ca.crt", "key": "ca.crt"},
            },
            "auth": {"serviceAccount": {"name": binding.service_account}},
        }}

    # ------------------------------------------------------------------ backups
    def backup_target(self, service: str, binding: Optional[ServiceAccountBinding]) -> Optional[BackupTarget]:
        backups = self.platform_backups()
        bucket = backups.get("bucket")
        endpoint = backups.get("endpoint") or self.cloud.get("backupEndpoint")
        if not bucket or not endpoint:
            return None
        prefix = self.backup_prefix(service)
        target = BackupTarget(
            storage={"type": "s3", "s3": {
                "bucket": bucket,
                "prefix": prefix,
                "region": backups.get("region") or self.cloud.get("region") or "us-east-1",
                "endpointUrl": endpoint,
                "forcePathStyle": True,
                "credentialsSecret": f"{service}-backup-credentials",
            }},
            key_kind="s3-compatible",
        )
        if self.cloud.get("backupCredentials") == "generated":
            # Generated like every other secret of this environment, stored in its source namespace, and
            # provisioned by the endpoint: the stored Secrets say which user may write where (labels
            # below; docs/backup-restore.md "Existing clusters").
            key = s3_key_pair(self.parent, f"{self.prefix}-{service}-backup")
            target.credentials = {"AWS_ACCESS_KEY_ID": key["accessKeyId"], "AWS_SECRET_ACCESS_KEY": key["secretAccessKey"]}
            self.ctx.extra.setdefault(BACKUP_USERS, {}).update(
                {credential_key(service, k): {"bucket": bucket, "prefix": f"{prefix}/", "user": f"{self.ctx.namespace}-{service}"}
                 for k in target.credentials})
        else:
            # Provided by an operator: the holder exists, the operator fills it (JSON properties).
            target.credentials_remote_key = f"{service}-backup-credentials"
            target.credentials_keys = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        return target
