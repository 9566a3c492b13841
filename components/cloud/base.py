"""The client-side cloud adapter interface: what a client environment asks of its cloud.

One implementation per `cloud["kind"]` of the platform contract (aws, azure, gcp, existing); the
registry in `components.cloud.adapter_for` is the only place that looks at the kind. Components
call these methods and never branch on the cloud themselves.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi

from lfh.names import join

from ..client.contract import ClientContext
from ..cluster.contract import ServiceAccountBinding

#: Tag on everything that holds client data (buckets, secrets): drives audit and DLP scans.
DATA_CLASSIFICATION = {"data-classification": "phi"}


@dataclass
class BucketInfo:
    """A per-client bucket, as apps and backups need it."""

    #: Bucket (S3/GCS) or container (Azure Blob) name.
    name: pulumi.Input[str]
    region: str
    #: S3_ENDPOINT for the apps ('' = the SDK's default endpoint for the region).
    endpoint: str = ""
    #: Base URL for objects (presigned downloads are generated against it).
    public_url: pulumi.Input[str] = ""
    #: The cloud resource (bucket/container): components depend on it.
    resource: Optional[pulumi.Resource] = None
    #: Object API: `s3`, `azure-blob` or `gcs`. Only S3 works with S3 clients; on Azure/GCP the app
    #: must use the native SDK (which picks up the workload identity) — or choose `minio` mode.
    api: str = "s3"
    #: Extra environment the app's SDK reads (storage account, project, …).
    app_env: dict[str, Any] = field(default_factory=dict)


@dataclass
class BackupTarget:
    """Where a database operator writes its backups (PerconaServerMongoDB `spec.backup.storages.<x>`)."""

    #: The storage block, e.g. {"type": "s3", "s3": {...}}.
    storage: dict[str, Any]
    #: Remote key (in the namespace SecretStore) holding the storage credentials, when the operator
    #: cannot use the pod's workload identity; None when it can (AWS IRSA).
    credentials_remote_key: Optional[str] = None
    #: Keys the credentials secret must have (synced from the remote key's properties).
    credentials_keys: list[str] = field(default_factory=list)
    #: Credentials the stack created itself (HMAC key, storage account key, generated S3 key pair), by
    #: secret key: stored under this environment's path and synced (instead of a remote key an
    #: operator fills).
    credentials: dict[str, Any] = field(default_factory=dict)
    #: Where the key works (`gcs` HMAC key, `azure` account key, `s3-compatible` key pair) or '' for the
    #: pods' workload identity: what the plan's backup-credentials check verifies.
    key_kind: str = ""


def credential_key(service: str, secret_key: str) -> str:
    """The key a stack-made backup credential is stored under (`mongodb-backup-aws-access-key-id`)."""
    return f"{service}-backup-{secret_key.lower().replace('_', '-')}"


class CloudAdapter(ABC):
    """Client-side cloud operations; one instance per calling component (children are parented to it)."""

    kind: str = ""

    def __init__(self, ctx: ClientContext, parent: pulumi.Resource):
        self.ctx = ctx
        self.parent = parent
        self.cloud: dict[str, Any] = dict(ctx.platform.cloud or {})
        #: Child-name prefix: the calling component's name.
        self.prefix: str = getattr(parent, "_name", "") or f"{ctx.config.name}-{ctx.environment}"
        #: Bindings that must be able to read every secret this adapter writes (per-secret grants
        #: on clouds whose access control cannot scope to a name prefix).
        self.secret_readers: list[ServiceAccountBinding] = []

    # ------------------------------------------------------------------ common helpers
    @property
    def platform(self) -> str:
        return str(self.cloud.get("secretsPrefix") or self.ctx.platform.secrets.get("prefix") or self.ctx.platform.platform)

    @property
    def tags(self) -> dict[str, str]:
        """Tags every cloud resource of this client environment carries."""
        return {
            "lfh:platform": self.ctx.platform.platform,
            "lfh:client": self.ctx.config.name,
            "lfh:environment": self.ctx.environment,
            "managed-by": "pulumi",
        }

    def require(self, *keys: str) -> None:
        """Fail clearly when the platform's `cloud` output lacks a key this adapter needs."""
        missing = [k for k in keys if not self.cloud.get(k)]
        if missing:
            raise pulumi.RunError(
                f"platform output `cloud` (kind {self.kind!r}) lacks {', '.join(missing)}: "
                f"the platform stack {self.ctx.config.platform_stack!r} must export them"
            )

    def opts(self, *, protect: bool = False, retain: bool = False, depends_on: list | None = None,
             additional_secret_outputs: list[str] | None = None) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(
            parent=self.parent,
            provider=self.provider(),
            protect=protect,
            retain_on_delete=retain,
            depends_on=depends_on or [],
            additional_secret_outputs=additional_secret_outputs or [],
        )

    def provider(self) -> Optional[pulumi.ProviderResource]:
        """The explicit cloud provider (created once per client stack, from the contract's data)."""
        key = f"cloud-provider-{self.kind}"
        if key not in self.ctx.extra:
            self.ctx.extra[key] = self._make_provider()
        return self.ctx.extra[key]

    def _make_provider(self) -> Optional[pulumi.ProviderResource]:
        return None

    def short_name(self, *parts: str, limit: int, **kw: Any) -> str:
        """The parts joined by '-' within `limit` characters (`lfh.names.join`: readable prefix + hash)."""
        return join(*parts, limit=limit, **kw)

    # ------------------------------------------------------------------ the interface
    @abstractmethod
    def workload_identity(self, name: str, service_account: str, *, read_secret_prefix: Optional[str] = None,
                          bucket: Optional[BucketInfo] = None, drill_copy: bool = False) -> ServiceAccountBinding:
        """A cloud identity for `system:serviceaccount:<namespace>:<service_account>`.

        With ``read_secret_prefix`` it may read secrets under that path only; with ``bucket`` it may
        read/write objects in that bucket only. Nothing else. With ``drill_copy`` the same service account
        in the restore drill's copy of the namespace may use it too (the drill reads the copy's data with it).
        """

    @abstractmethod
    def bucket(self, name: str, *, noncurrent_version_days: int = 30, replicate: bool = False) -> BucketInfo:
        """A per-client bucket: platform CMK, versioning, no public access, TLS only; protected. Its access
        logs are the platform's (`cloud.accessLogs`); with ``replicate`` a copy lives in the platform's second
        region (`cloud.replication`; `check_cloud_bucket` made sure there is one)."""

    @abstractmethod
    def write_secret(self, key: str, value: pulumi.Input[str]) -> pulumi.Resource:
        """Store a generated secret under `<platform>/<client>/<env>/<key>` (platform KMS key)."""

    @abstractmethod
    def remote_key(self, key: str) -> str:
        """How the namespace SecretStore names the secret written for ``key`` ("name" or "name#property")."""

    @abstractmethod
    def declare_secret(self, key: str, description: str) -> pulumi.Resource:
        """A secret the stack cannot generate (credentials handed over by people): create its holder
        under `<platform>/<client>/<env>/<key>` (platform key, grants as for written secrets) without a
        value; an operator adds the value as JSON properties. The stack never overwrites it."""

    def remote_name(self, key: str) -> str:
        """The remote key without a property (for `dataFrom.extract`)."""
        return self.remote_key(key).partition("#")[0]

    @abstractmethod
    def secret_store_provider(self, binding: ServiceAccountBinding) -> dict[str, Any]:
        """External Secrets `SecretStore.spec.provider` for the namespace, authenticating as ``binding``."""

    @abstractmethod
    def backup_target(self, service: str, binding: Optional[ServiceAccountBinding]) -> Optional[BackupTarget]:
        """Where ``service`` (e.g. `mongodb`) writes backups in the platform bucket, or None if unknown."""

    def backup_identity(self, name: str, service_account: str, service: str) -> Optional[ServiceAccountBinding]:
        """A workload identity that may write ``service``'s backups only, or None where the backup
        agent cannot use workload identity (then ``backup_target`` names a credentials secret)."""
        return None

    # ------------------------------------------------------------------ shared by implementations
    def secret_path(self, key: str) -> str:
        """`<platform>/<client>/<env>/<key>`: the canonical path (cloud names derive from it)."""
        return f"{self.ctx.secret_prefix}/{key}"

    def backup_prefix(self, service: str) -> str:
        """`<client>/<env>/<service>`: each environment writes under its own prefix."""
        return f"{self.ctx.config.name}/{self.ctx.environment}/{service}"

    def platform_backups(self) -> dict[str, Any]:
        return dict(self.ctx.platform.backups or {})
