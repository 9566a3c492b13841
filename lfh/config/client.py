"""`lfh:client`: one client+environment on a platform."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, field_validator

from .base import DnsLabel, DnsName, EnvAwareModel, Environment, Quantity, StrictModel, field


# ============================================================================================
# Data services (client-data block: mongodb, objectStorage, search, secrets). Owned by the
# data half of issue 5; the apps/network/routes/backups blocks live in their own section.
# ============================================================================================



def _pinned_tag(value: str) -> str:
    import re

    if value == "latest" or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[a-f0-9]{64}", value):
        raise ValueError("must be a pinned image tag or sha256 digest, never `latest`")
    return value


# base.ImageTag uses a look-ahead, which pydantic-core's regex engine rejects; same rule, in Python.
PinnedTag = Annotated[str, AfterValidator(_pinned_tag)]
"""A pinned image tag (never `latest`) or a `sha256:` digest."""


class MongoDBConfig(EnvAwareModel):
    """`lfh:client.mongodb`: the client's MongoDB replica set (Percona Operator for MongoDB)."""

    ENV_DEFAULTS = {
        # Three voting members survive one node/zone loss; staging trades that for cost.
        "members": {"production": 3, "staging": 1, "development": 1},
        "storageSize": {"production": "100Gi", "staging": "20Gi", "development": "10Gi"},
        "cpuRequest": {"production": "1", "staging": "250m", "development": "250m"},
        "memory": {"production": "4Gi", "staging": "1Gi", "development": "1Gi"},
    }

    members: int = field(3, "Replica-set members (odd; production needs at least 3).", ge=1, le=7)
    storage_size: Quantity = field("100Gi", "Volume size per member (on the platform's encrypted StorageClass).")
    cpu_request: Quantity = field("1", "CPU request per member (limit is twice this).")
    memory: Quantity = field("4Gi", "Memory request and limit per member (equal: the WiredTiger cache is sized from it).")
    image_tag: PinnedTag = field("7.0.28-15", "percona/percona-server-mongodb image tag (MongoDB 7.x, pinned; tested with operator 1.22).")
    databases: list[str] = field(["hapihub"], "Databases; each gets its own app user with readWrite on it only (apps never use root).", min_length=1)
    pitr_oplog_span_minutes: float = field(5, "Point-in-time recovery: oplog chunks are uploaded at least this often (minutes, ≤ 5).", gt=0, le=5)
    backup_schedule: str = field("0 2 * * *", "Cron schedule of the daily full (logical) backup to the platform bucket.")
    backup_keep: int = field(7, "Daily backups kept in the bucket (PITR covers the time between them).", ge=1)
    tls_mode: Literal["preferTLS", "requireTLS"] = field(
        "preferTLS", "Members always use TLS among themselves; `requireTLS` also forces it for app connections (apps then need the CA).")

    @field_validator("members")
    @classmethod
    def _odd_members(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("must be odd (an even replica set cannot always elect a primary after a split)")
        return value


class MinioConfig(EnvAwareModel):
    """`lfh:client.objectStorage.minio`: self-hosted MinIO (community chart 5.4.0; see the docs' note)."""

    ENV_DEFAULTS = {
        # 6 nodes × 1 drive with EC:2 tolerate two lost nodes (seed sizing: 6 × 250Gi ≈ 1 TB usable).
        "replicas": {"production": 6, "staging": 1, "development": 1},
        "volumeSize": {"production": "250Gi", "staging": "50Gi", "development": "20Gi"},
        "memory": {"production": "4Gi", "staging": "1Gi", "development": "1Gi"},
    }

    replicas: int = field(6, "MinIO server pods (1 = single node; distributed needs at least 4).", ge=1, le=32)
    volume_size: Quantity = field("250Gi", "Volume per MinIO pod (one drive per pod).")
    memory: Quantity = field("4Gi", "Memory request per pod.")
    parity: int = field(2, "Erasure-coding parity (EC:N) in distributed mode.", ge=1, le=8)
    image_tag: PinnedTag = field("RELEASE.2024-12-18T13-15-44Z", "quay.io/minio/minio image tag (the chart 5.4.0 default, pinned).")
    mc_image_tag: PinnedTag = field("RELEASE.2024-11-21T17-21-54Z", "quay.io/minio/mc image tag for the chart's setup jobs.")
    rate_limit_per_second: int = field(50, "Requests per second on the public `storage.` route (local rate limit, per gateway proxy).", ge=1)

    @field_validator("replicas")
    @classmethod
    def _distributed_size(cls, value: int) -> int:
        if 1 < value < 4:
            raise ValueError("must be 1 (standalone) or at least 4 (distributed erasure coding)")
        return value


class CloudBucketConfig(StrictModel):
    """`lfh:client.objectStorage.cloud`: a per-client bucket on S3 / Blob / GCS."""

    noncurrent_version_days: int = field(30, "Days a replaced/deleted object version is kept (versioning is always on).", ge=1)


class ObjectStorageConfig(StrictModel):
    """`lfh:client.objectStorage`: where HapiHub stores files. `mode` selects the backend."""

    mode: Optional[Literal["cloud", "minio"]] = field(
        None, "`cloud` (per-client bucket; default on cloud platforms) or `minio` (default on existing clusters). "
              "MinIO's community edition is now source-only and its repository unmaintained: prefer `cloud` where a cloud exists.")
    bucket: str = field("hapihub-files", "Bucket name (MinIO) or bucket name suffix (cloud: `<platform>-<client>-<env>-<bucket>`).",
                        pattern=r"^[a-z0-9][a-z0-9-]{1,40}[a-z0-9]$")
    minio: MinioConfig = field({}, "Settings of `minio` mode.")
    cloud: CloudBucketConfig = field({}, "Settings of `cloud` mode.")
    hostname: Optional[str] = field(None, "Public hostname for presigned downloads in `minio` mode (default `storage.<domain>`).")


class SearchConfig(EnvAwareModel):
    """`lfh:client.search`: Typesense (optional), as our own StatefulSet."""

    ENV_DEFAULTS = {
        # Raft needs 3 nodes to keep a quorum through one loss.
        "replicas": {"production": 3, "staging": 1, "development": 1},
        "volumeSize": {"production": "20Gi", "staging": "5Gi", "development": "5Gi"},
        "memory": {"production": "2Gi", "staging": "512Mi", "development": "512Mi"},
    }

    enabled: bool = field(False, "Deploy Typesense for HapiHub's search.")
    replicas: int = field(3, "Typesense nodes (1, or an odd number ≥ 3 for a Raft quorum).", ge=1, le=7)
    volume_size: Quantity = field("20Gi", "Data volume per node.")
    memory: Quantity = field("2Gi", "Memory request and limit per node (Typesense keeps its index in memory).")
    cpu_request: Quantity = field("500m", "CPU request per node.")
    image_tag: PinnedTag = field("30.1", "typesense/typesense image tag (pinned; no `v` prefix).")

    @field_validator("replicas")
    @classmethod
    def _quorum(cls, value: int) -> int:
        if value != 1 and value % 2 == 0:
            raise ValueError("must be 1 or odd (Raft quorum)")
        return value


class SecretsConfig(StrictModel):
    """`lfh:client.secrets`: generated secrets and how External Secrets syncs them."""

    refresh_interval: str = field("1h", "How often External Secrets re-reads the secret manager.", pattern=r"^[0-9]+[smh]$")
    password_length: int = field(32, "Length of generated passwords and keys.", ge=24, le=128)
# ======================================== end of the data-services block


class ClientConfig(StrictModel):
    """Everything a client stack file may say under `lfh:client`."""

    name: DnsLabel = field(..., "Client name (DNS label); the stack must be called `<name>-<environment>`.")
    environment: Environment = field(..., "Environment tier: production, staging or development.")
    platform_stack: str = field(..., "Platform stack to deploy onto, as `<org>/lfh/<stack>`.", pattern=r"^[A-Za-z0-9_.-]+/lfh/platform-[a-z0-9-]+$")
    domain: DnsName = field(..., "The client's DNS domain; apps get `api.`, `app.`, `sync.` … under it.")
    chart_versions: dict[str, str] = field({}, "Override a pinned chart version (e.g. while testing an upgrade); reported as a warning.")

    # -- data services (client-data block) --
    mongodb: MongoDBConfig = field({}, "MongoDB replica set (Percona Operator).")
    object_storage: ObjectStorageConfig = field({}, "Object storage for HapiHub files: `cloud` bucket or `minio`.")
    search: SearchConfig = field({}, "Typesense search (optional).")
    secrets: SecretsConfig = field({}, "Generated secrets and how External Secrets syncs them.")
    # -- end of data services --
