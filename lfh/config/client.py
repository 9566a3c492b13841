"""`lfh:client`: one client+environment on a platform."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import field_validator, model_validator

from . import names
from .base import (
    ChartVersions,
    Cidr,
    CronExpression,
    DnsLabel,
    DnsName,
    Duration,
    EnvAwareModel,
    EnvironmentTier,
    EnvVarName,
    FieldError,
    GoDuration,
    ImageReference,
    ImageRepository,
    ImageTag,
    PlainEnv,
    Port,
    PositiveDuration,
    Quantity,
    SecretName,
    SecretRef,
    StrictModel,
    Text,
    TimeZone,
    checked,
    dns_label_problem,
    dns_name_problem,
    field,
    ipv4_network,
    max_chars,
    refuse,
    unique,
)


def _http_path_problem(value: str) -> Optional[str]:
    if not value.startswith("/") or any(c.isspace() for c in value):
        return "must be an HTTP path starting with '/' and without spaces, such as /health"
    return None


def _mongodb_name_problem(value: str) -> Optional[str]:
    # MongoDB database names: < 64 bytes, none of / \ . " $ * < > : | ? or spaces (MongoDB naming
    # restrictions); they also name the app users and secret keys, so we keep them to letters, digits, _ and -.
    if not value:
        return "must not be empty"
    if len(value) > 63:
        return f"is {len(value)} characters long; MongoDB allows at most 63"
    if not all(c.isascii() and (c.isalnum() or c in "_-") for c in value):
        return "may only contain letters, digits, '_' and '-'"
    if value in ("admin", "local", "config"):
        return f"must not be {value!r} (a MongoDB system database)"
    return None


def _bucket_suffix_problem(value: str) -> Optional[str]:
    if not 3 <= len(value) <= 42:
        return "must be 3–42 characters"
    return dns_label_problem(value)


def _platform_stack_problem(value: str) -> Optional[str]:
    org, sep1, rest = value.partition("/")
    project, sep2, stack = rest.partition("/")
    ok_org = bool(org) and all(c.isascii() and (c.isalnum() or c in "_.-") for c in org)
    if not (sep1 and sep2 and ok_org and project == "lfh" and stack.startswith("platform-")
            and not dns_label_problem(stack.removeprefix("platform-"))):
        return "must name a platform stack as <org>/lfh/platform-<name>, such as organization/lfh/platform-aws"
    return None


HttpPath = checked(str, _http_path_problem, "HTTP path starting with `/`")
DatabaseName = checked(str, _mongodb_name_problem, "1–63 letters, digits, '_' or '-'; not admin/local/config")
BucketSuffix = checked(str, _bucket_suffix_problem, "3–42 lower-case letters, digits or '-'")
PlatformStackRef = checked(str, _platform_stack_problem, "`<org>/lfh/platform-<name>`")
#: `except` entries of an ipBlock must lie strictly inside its `cidr` (Kubernetes NetworkPolicy
#: validation); ours is 0.0.0.0/0, so anything but a /0.
ExceptCidr = checked(Cidr, lambda v: "must be smaller than 0.0.0.0/0 (an exception must lie strictly inside the allowed range)"
                     if ipv4_network(v).prefixlen == 0 else None, "strictly inside 0.0.0.0/0")


# ============================================================================================
# Data services (client-data block: mongodb, objectStorage, search, secrets). Owned by the
# data half of issue 5; the apps/network/routes/backups blocks live in their own section.
# ============================================================================================



def _connection_word_problem(value: str) -> Optional[str]:
    if not 1 <= len(value) <= 64 or set(value) - set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"):
        return "must be 1–64 letters, digits, `_`, `.` or `-`"
    return None


ConnectionWord = checked(str, _connection_word_problem, "1–64 letters, digits, `_`, `.` or `-`")
"""A replica-set or database name as it appears in a MongoDB connection string."""

#: URI options that would weaken or switch off TLS to an external database (TLS is required and verified).
_TLS_WEAKENING_OPTIONS = {"tls", "ssl", "tlsinsecure", "tlsallowinvalidcertificates", "tlsallowinvalidhostnames",
                          "tlsdisableocspendpointcheck", "tlsdisablecertificaterevocationcheck"}


class ExternalMongoDBConfig(StrictModel):
    """`lfh:client.mongodb.external`: a managed MongoDB (Atlas, Cosmos DB, …) instead of the in-cluster replica set."""

    hosts: list[DnsName] = field(..., "Hostnames of the database's members, as the provider lists them (`mongodb+srv` is not used: "
                                      "its members come from DNS and could not be pinned in the egress rule).", min_length=1)
    port: int = field(27017, "TCP port of every member.", ge=1, le=65535)
    addresses: list[Cidr] = field(..., "Addresses the hosts resolve to (private endpoint or peered range, at most /16 wide): pods "
                                       "may reach these on `port` and nothing else of the database (NetworkPolicies cannot match names).",
                                  min_length=1)
    credentials_secret: SecretName = field("mongodb-external", "Secret under this environment's path with the properties "
                                          "`username` and `password` of the database user the apps use (the stack creates its holder).")
    replica_set: Optional[ConnectionWord] = field(None, "Replica-set name, if the provider's connection string has one.")
    auth_source: ConnectionWord = field("admin", "Database that holds the user (`authSource`).")
    options: dict[str, str] = field({}, "More connection-string options (e.g. `retryWrites: \"false\"`); TLS is always on and "
                                        "verified, so options that turn it off or skip verification are refused.")

    @field_validator("addresses")
    @classmethod
    def _narrow(cls, value: list[str]) -> list[str]:
        for i, cidr in enumerate(value):
            if int(cidr.rsplit("/", 1)[1]) < 16:
                raise FieldError((i,), f"{cidr} is wider than /16; name the database's own addresses "
                                       "(its private endpoint or subnet), not a whole network")
        return value

    @field_validator("options")
    @classmethod
    def _tls_stays_on(cls, value: dict[str, str]) -> dict[str, str]:
        import re

        for key in value:
            if key.lower() in _TLS_WEAKENING_OPTIONS or key in ("authSource", "replicaSet"):
                raise FieldError((key,), "is set by the stack (TLS is always required and verified; `authSource` and "
                                         "`replicaSet` have their own keys)")
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,63}", key) or not re.fullmatch(r"[A-Za-z0-9_.,:-]{1,128}", value[key]):
                raise FieldError((key,), "must be a connection-string option name with a plain value (letters, digits, `_.,:-`)")
        return value


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
    image_tag: ImageTag = field("7.0.28-15", "percona/percona-server-mongodb image tag (MongoDB 7.x, pinned; tested with operator 1.22).")
    databases: Annotated[list[DatabaseName], unique("database")] = field(["hapihub"], "Databases; each gets its own app user with readWrite on it only (apps never use root).", min_length=1, max_length=20)
    pitr_oplog_span_minutes: float = field(5, "Point-in-time recovery: oplog chunks are uploaded at least this often (minutes, ≤ 5).", gt=0, le=5)
    backup_schedule: CronExpression = field("0 2 * * *", "Cron schedule of the daily full (logical) backup to the platform bucket.")
    backup_keep: int = field(7, "Daily backups kept in the bucket (PITR covers the time between them).", ge=1, le=365)
    tls_mode: Literal["preferTLS", "requireTLS"] = field(
        "requireTLS", "`requireTLS`: every connection (members and apps) uses TLS; the apps mount the cluster's CA and name it in "
                      "their connection string. `preferTLS` (weaker, explicit) also admits plain TCP from other clients.")
    exporter_image: ImageReference = field(
        "docker.io/percona/mongodb_exporter:0.53.0",
        "Pinned percona/mongodb_exporter image of the metrics sidecar on every member (when the platform runs monitoring).")
    replication_lag_alert_seconds: int = field(30, "Alert when a secondary is this many seconds behind the primary for 5 minutes.", ge=5, le=3600)
    connections_alert_percent: int = field(80, "Alert when a member uses this share of its available connections.", ge=10, le=100)
    disk_alert_percent: int = field(85, "Alert (critical) when a member's data volume is this full.", ge=50, le=99)
    external: Optional[ExternalMongoDBConfig] = field(
        None, "Use a managed database instead of the in-cluster replica set (then the settings above do not apply; "
              "`databases[0]` is the apps' database and backups are the provider's).")

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
    image_tag: ImageTag = field("RELEASE.2024-12-18T13-15-44Z", "quay.io/minio/minio image tag (the chart 5.4.0 default, pinned).")
    mc_image_tag: ImageTag = field("RELEASE.2024-11-21T17-21-54Z", "quay.io/minio/mc image tag for the chart's setup jobs.")
    rate_limit_per_second: int = field(50, "Requests per second on the public `storage.` route (local rate limit, per gateway proxy).", ge=1, le=100000)

    @field_validator("replicas")
    @classmethod
    def _distributed_size(cls, value: int) -> int:
        if 1 < value < 4:
            raise ValueError("must be 1 (standalone) or at least 4 (distributed erasure coding)")
        return value


class CloudBucketConfig(StrictModel):
    """`lfh:client.objectStorage.cloud`: a per-client bucket on S3 / Blob / GCS."""

    noncurrent_version_days: int = field(30, "Days a replaced/deleted object version is kept (versioning is always on).", ge=1, le=3650)
    replicate: Optional[bool] = field(
        None, "Keep a copy of the bucket in the platform's second region. Unset: on in production when the platform offers "
              "one (a warning when it does not), off elsewhere; `true`: required (refused on a platform without one); `false`: "
              "one copy. AWS: replication into a bucket in `cluster.backup.replication.region`; Azure: the platform's "
              "geo-redundant storage account (production platforms).")
    access_log_retention_days: int = field(
        365, "Days this client's policy requires the bucket's access logs to be kept (≥ 1 year; HIPAA's 6 years is 2190). The "
             "platform keeps them (`cluster.accessLogs.retentionDays`); a platform that keeps them shorter is refused.",
        ge=365, le=3650)


class ObjectStorageConfig(StrictModel):
    """`lfh:client.objectStorage`: where HapiHub stores files. `mode` selects the backend."""

    mode: Optional[Literal["cloud", "minio"]] = field(
        None, "`cloud` (per-client bucket; default on cloud platforms) or `minio` (default on existing clusters). "
              "MinIO's community edition is now source-only and its repository unmaintained: prefer `cloud` where a cloud exists.")
    bucket: BucketSuffix = field("hapihub-files", "Bucket name (MinIO) or bucket name suffix (cloud: `<platform>-<client>-<env>-<bucket>`).")
    minio: MinioConfig = field({}, "Settings of `minio` mode.")
    cloud: CloudBucketConfig = field({}, "Settings of `cloud` mode.")
    hostname: Optional[DnsName] = field(None, "Public hostname for presigned downloads in `minio` mode (default `storage.<domain>`).")


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
    image_tag: ImageTag = field("30.1", "typesense/typesense image tag (pinned; no `v` prefix).")

    @field_validator("replicas")
    @classmethod
    def _quorum(cls, value: int) -> int:
        if value != 1 and value % 2 == 0:
            raise ValueError("must be 1 or odd (Raft quorum)")
        return value


class SecretsConfig(StrictModel):
    """`lfh:client.secrets`: generated secrets and how External Secrets syncs them."""

    refresh_interval: PositiveDuration = field("1h", "How often External Secrets re-reads the secret manager.")
    password_length: int = field(32, "Length of generated passwords and keys.", ge=24, le=128)
    rotation_days: int = field(90, "Generated secrets (MongoDB app users, JWT secret, MinIO app key) get new values on the first "
                                   "`pulumi up` this many days after the last rotation; the apps switch without downtime "
                                   "(docs/hipaa.md). The MongoDB encryption key is never rotated.", ge=7, le=365)
# ======================================== end of the data-services block

# ======================================================================= client-apps: begin
# Apps, namespace baseline, network, routes, backups and GitOps (the data services' sections —
# mongodb, objectStorage, search, secrets — live in their own block below).


class ResourceAmounts(StrictModel):
    """CPU and memory of one container (requests or limits)."""

    cpu: Quantity = field(..., "CPU, e.g. `500m` or `2`.")
    memory: Quantity = field(..., "Memory, e.g. `1Gi`.")


class ContainerResources(StrictModel):
    """Requests (what the scheduler reserves) and limits (the ceiling) of one container."""

    requests: ResourceAmounts = field(..., "Reserved CPU/memory per replica (summed into the client sizing).")
    limits: ResourceAmounts = field(..., "Maximum CPU/memory per replica.")


class ProbeConfig(StrictModel):
    """An HTTP GET probe."""

    path: HttpPath = field(..., "HTTP path probed on the app port.")
    initial_delay_seconds: int = field(0, "Seconds before the first probe.", ge=0, le=600)
    period_seconds: int = field(10, "Seconds between probes.", ge=1, le=300)
    timeout_seconds: int = field(3, "Seconds a probe may take.", ge=1, le=60)
    failure_threshold: int = field(3, "Failures in a row before the probe fails.", ge=1, le=30)


class HpaConfig(EnvAwareModel):
    """Horizontal Pod Autoscaler (autoscaling/v2)."""

    ENV_DEFAULTS = {"enabled": {"production": True, "staging": False, "development": False}}

    enabled: bool = field(False, "Scale the app on CPU/memory; production default on.")
    min_replicas: Optional[int] = field(None, "Lower bound; defaults to the app's `replicas`.", ge=1, le=100)
    max_replicas: int = field(10, "Upper bound.", ge=1, le=100, rule="≥ minReplicas and ≥ the app's replicas")
    cpu_utilization: int = field(70, "Target average CPU utilisation in % of requests.", ge=10, le=100)
    memory_utilization: Optional[int] = field(80, "Target average memory utilisation in % of requests; null disables.", ge=10, le=100)
    scale_down_stabilization_seconds: int = field(300, "Window before scaling down (avoids flapping).", ge=0, le=3600)


class CronJobConfig(StrictModel):
    """A scheduled job of an app (a CronJob): the app's image, ServiceAccount, environment and secrets, its own command."""

    schedule: CronExpression = field(..., "When it runs, in `timeZone`: five cron fields `minute hour day-of-month month day-of-week` "
                                        "(e.g. `0 3 * * *`) or `@daily`-style.")
    time_zone: TimeZone = field("Etc/UTC", "IANA time zone of the schedule.")
    command: list[str] = field(..., "Command run in the app's image, e.g. `[npm, run, prune-sessions]`.", min_length=1)
    args: list[str] = field([], "Arguments to the command.")
    env: PlainEnv = field({}, "Plain environment variables merged over the app's (no secrets: see the app's `secretEnv`).")
    resources: Optional[ContainerResources] = field(None, "Requests and limits of the job's container; default: the app's.")
    concurrency_policy: Literal["Forbid", "Replace", "Allow"] = field(
        "Forbid", "What happens when a run is due while the last one still runs: `Forbid` skips it (never two at once).")
    suspend: bool = field(False, "Pause the schedule (runs in progress finish).")
    starting_deadline_seconds: int = field(3600, "A run missed by more than this (controller down, `Forbid`) is skipped.", ge=10, le=86400)
    active_deadline_seconds: int = field(3600, "Stop a run that takes longer than this.", ge=30, le=86400)
    backoff_limit: int = field(1, "Retries of a failed run.", ge=0, le=10)
    ttl_seconds_after_finished: int = field(86400, "Delete a finished run's Job (and its logs) after this long.", ge=0, le=604800)
    successful_jobs_history_limit: int = field(3, "Finished runs kept.", ge=0, le=10)
    failed_jobs_history_limit: int = field(3, "Failed runs kept.", ge=0, le=10)


class WorkerConfig(EnvAwareModel):
    """A background worker of an app (a Deployment without Service or route): the app's image, identity and secrets."""

    ENV_DEFAULTS = {"replicas": {"production": 2, "staging": 1, "development": 1}}

    replicas: int = field(1, "Worker pods (production needs at least 2; a PodDisruptionBudget is added from 2).", ge=1, le=50)
    command: Optional[list[str]] = field(None, "Command; default: the image's entrypoint (tell the worker apart with `env`, "
                                               "e.g. `RUN_WORKERS: \"true\"`).", min_length=1)
    args: list[str] = field([], "Arguments to the command.")
    env: PlainEnv = field({}, "Plain environment variables merged over the app's (no secrets: see the app's `secretEnv`).")
    resources: Optional[ContainerResources] = field(None, "Requests and limits per worker pod; default: the app's.")
    liveness_path: Optional[HttpPath] = field(None, "HTTP liveness path on the app's port; default: the app's.")
    readiness_path: Optional[HttpPath] = field(None, "HTTP readiness path on the app's port; default: the app's.")
    probe_command: Optional[list[str]] = field(None, "Exec probe (liveness and readiness) for a worker that serves no HTTP; "
                                                     "replaces the HTTP probes.", min_length=1)


class AppConfig(EnvAwareModel):
    """One web app (a WebService): image, size, probes, route, environment."""

    ENV_DEFAULTS = {"replicas": {"production": 2, "staging": 1, "development": 1}}

    enabled: bool = field(True, "Deploy this app.")
    image: ImageRepository = field(..., "Image repository (no tag).")
    tag: Optional[ImageTag] = field(None, "Pinned image tag or `sha256:` digest (never `latest`); required when enabled.")
    replicas: int = field(1, "Replicas (the HPA's minimum when autoscaling); production needs ≥ 2.", ge=1, le=100)
    resources: ContainerResources = field(..., "Container requests and limits.")
    hpa: HpaConfig = field({}, "Autoscaling.")
    hostname: Optional[DnsName] = field(None, "Public hostname; default `<prefix>.<client domain>`.")
    env: PlainEnv = field({}, "Extra plain environment variables (merged over the app's defaults). Names that mark a secret "
                              "(containing PASSWORD, PASSWD, SECRET, TOKEN, API_KEY, PRIVATE_KEY, ACCESS_KEY, CREDENTIAL, or "
                              "MONGO_URI, DATABASE_URL) are refused here: they go in `secretEnv`.")
    read_only_root_filesystem: bool = field(True, "Mount the root filesystem read-only (scratch dirs are emptyDirs).")
    request_timeout: Duration = field("60s", "Gateway request timeout for the route (`0s` disables).")
    liveness_path: Optional[HttpPath] = field(None, "Override the liveness probe path.")
    readiness_path: Optional[HttpPath] = field(None, "Override the readiness probe path (newer HapiHub answers on `/health`).")
    port: Optional[int] = field(None, "Override the container port.", ge=1024, le=65535)
    internet_https: bool = field(False, "Allow HTTPS (443) to addresses outside the cluster and private ranges.")
    metrics_path: Optional[HttpPath] = field(None, "HTTP path of Prometheus metrics on the app port; a ServiceMonitor is created when the platform runs monitoring (null: none).")
    extra_hostnames: list[DnsName] = field([], "More public hostnames routed to this app, each with a certificate (a browser "
                                               "frontend's hostnames all become HapiHub CORS origins).")
    secret_env: dict[EnvVarName, SecretRef] = field(
        {}, "Environment variables from the secret manager: `VAR: <name>` or `VAR: <name>/<property>`, relative to this "
            "environment's own path `<platform>/<client>/<environment>/` (the stack creates each secret's holder; you set its "
            "value). Synced by an ExternalSecret; a change of this map rolls the pods.")
    jobs: dict[DnsLabel, CronJobConfig] = field({}, "Scheduled jobs (CronJobs `<app>-<name>`, name ≤ 52 characters) in this app's image.")
    workers: dict[DnsLabel, WorkerConfig] = field({}, "Background workers (Deployments `<app>-<name>`) in this app's image.")

    @model_validator(mode="after")
    def _secret_env_is_not_also_plain(self) -> "AppConfig":
        for var in sorted(set(self.secret_env) & set(self.env)):
            raise FieldError(("secretEnv", var), "is also set in `env`; keep it in one place (secrets in `secretEnv`)")
        for var in sorted(set(self.secret_env) & STACK_SECRET_ENV):
            raise FieldError(("secretEnv", var), "is set by the stack from its own generated secrets; choose another name")
        return self

    @model_validator(mode="after")
    def _pinned_when_enabled(self) -> "AppConfig":
        if self.enabled and self.tag is None:
            raise refuse("tag", "is required when the app is enabled: a pinned version or sha256 digest, never latest")
        if self.hpa.enabled and self.hpa.max_replicas < max(self.replicas, self.hpa.min_replicas or 0):
            raise refuse("hpa.maxReplicas", f"must be at least `replicas` ({self.replicas}) and `hpa.minReplicas` "
                                            f"({self.hpa.min_replicas or self.replicas}); got {self.hpa.max_replicas}")
        return self


def _https_origin_problem(value: str) -> Optional[str]:
    host, _, port = value.removeprefix("https://").partition(":")
    if not value.startswith("https://") or "/" in host:
        return "must be a browser origin `https://<host>` or `https://<host>:<port>` (no path)"
    problem = dns_name_problem(host, wildcard=False)
    if problem:
        return f"has a host that {problem}"
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        return "has a port that must be a number from 1 to 65535"
    return None


HttpsOrigin = checked(str, _https_origin_problem, "browser origin `https://<host>[:<port>]`")
"""A browser origin `https://<host>[:<port>]`."""


def _absolute_path_problem(value: str) -> Optional[str]:
    parts = value.split("/")
    if not value.startswith("/") or len(parts) < 2 or any(
            not p or p in (".", "..") or set(p) - set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
            for p in parts[1:]):
        return "must be an absolute path such as `/var/cache/nginx` (letters, digits, `.`, `_`, `-` between single `/`)"
    return None


AbsolutePath = checked(str, _absolute_path_problem, "absolute path such as `/var/cache/nginx`")
"""An absolute path inside the container, e.g. `/var/cache/nginx`."""

#: Secret env the stack wires from its own generated or data-service secrets (MONGO_URI, JWT_SECRET, …).
STACK_SECRET_ENV = {"MONGO_URI", "JWT_SECRET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "TYPESENSE_API_KEY"}


def _res(rc: str, rm: str, lc: str, lm: str) -> dict:
    return {"requests": {"cpu": rc, "memory": rm}, "limits": {"cpu": lc, "memory": lm}}


class HapiHubConfig(AppConfig):
    """HapiHub, the healthcare API (`api.<domain>`, port 7500)."""

    image: ImageRepository = field("ghcr.io/mycurelabs/hapihub", "Image repository (no tag).")
    tag: Optional[ImageTag] = field("5.215.2", "Pinned image tag or `sha256:` digest (never `latest`).")
    resources: ContainerResources = field(_res("500m", "1Gi", "2", "4Gi"), "Container requests and limits.")
    # Secure by default: read-only root with an emptyDir /tmp and HOME=/tmp. APPS.md: the original image
    # wrote outside /tmp; a client whose version still does sets this to false (the policy pack warns).
    read_only_root_filesystem: bool = field(True, "Mount the root filesystem read-only (writes go to the /tmp emptyDir, HOME=/tmp); set false only for HapiHub versions that write elsewhere — a policy warning then shows it.")
    run_migrations: bool = field(False, "Run database migrations once per release as a Job (never in every replica at start-up).")
    migration_command: list[Text] = field(["npm", "run", "migrate"], "Command of the migration Job.", min_length=1)
    log_level: Literal["error", "warn", "info", "debug", "trace"] = field("info", "LOG_LEVEL.")
    # The template's HapiHub chart scrapes `/metrics` on the app port (mycurelabs/monobase-infra
    # charts/hapihub/values.yaml `serviceMonitor.path`); null turns the ServiceMonitor off.
    metrics_path: Optional[HttpPath] = field("/metrics", "HTTP path of Prometheus metrics on the app port (ServiceMonitor when the platform runs monitoring; null: none).")
    # HapiHub calls cloud APIs and third parties (payments, SMS) over HTTPS.
    internet_https: bool = field(True, "Allow HTTPS (443) to addresses outside the cluster and private ranges (cloud APIs, payment/SMS providers).")
    extra_cors_origins: list[HttpsOrigin] = field(
        [], "Browser origins allowed besides the client's own frontends (MyCureApp's and the satellites' hostnames, which are "
            "added to CORS_ORIGINS automatically), e.g. `https://www.acme-health.com`.")


class MyCureAppConfig(AppConfig):
    """MyCureApp, the web frontend (`app.<domain>`, nginx on 8080)."""

    image: ImageRepository = field("ghcr.io/mycurelabs/mycureapp", "Image repository (no tag).")
    # A release seen in the template's history (APPS.md: 10.x); pin the one you deploy.
    tag: Optional[ImageTag] = field("10.18.0", "Pinned image tag or `sha256:` digest (never `latest`).")
    resources: ContainerResources = field(_res("200m", "512Mi", "1", "1Gi"), "Container requests and limits.")


class SyncdConfig(AppConfig):
    """Syncd, real-time sync over WebSockets (`sync.<domain>`); optional."""

    image: ImageRepository = field("ghcr.io/mycurelabs/syncd", "Image repository (no tag).")
    tag: Optional[ImageTag] = field("1.2.0", "Pinned image tag or `sha256:` digest (never `latest`).")
    resources: ContainerResources = field(_res("500m", "1Gi", "2", "2Gi"), "Container requests and limits.")
    request_timeout: Duration = field("0s", "Gateway request timeout; `0s` keeps WebSockets open (idle limit is the gateway's stream idle timeout).")
    # As HapiHub: the template's Syncd chart scrapes `/metrics` (mycurelabs/monobase-infra charts/syncd/values.yaml).
    metrics_path: Optional[HttpPath] = field("/metrics", "HTTP path of Prometheus metrics on the app port (ServiceMonitor when the platform runs monitoring; null: none).")


#: What a satellite may name in `reaches` besides other apps.
DATA_SERVICES = ("mongodb", "objectStorage", "search")
#: Names a satellite (or an app's job/worker) cannot take: the object and workload names the stack uses.
RESERVED_APP_NAMES = {"hapihub", "mycureapp", "syncd", "mongodb", "mongodb-operator", "psmdb-operator", "minio",
                      "minio-setup", "storage", "typesense", "lfh-secret-store", "default", "allow-dns", "default-deny"}


class SatelliteConfig(AppConfig):
    """An extra web service of the client (a WebService like the three apps): own image, port, probes and route."""

    ENV_DEFAULTS = {"replicas": {"production": 2, "staging": 1, "development": 1}}

    image: ImageRepository = field(..., "Image repository (no tag), e.g. `ghcr.io/mycurelabs/myaccount`.")
    tag: Optional[ImageTag] = field(None, "Pinned image tag or `sha256:` digest (never `latest`); required.")
    port: int = field(8080, "Container port (the Service serves the same port).", ge=1024, le=65535)
    resources: ContainerResources = field(_res("100m", "128Mi", "500m", "512Mi"), "Container requests and limits.")
    liveness: ProbeConfig = field({"path": "/", "initialDelaySeconds": 10}, "Liveness probe (HTTP GET on `port`).")
    readiness: ProbeConfig = field({"path": "/", "initialDelaySeconds": 5, "periodSeconds": 5}, "Readiness probe (HTTP GET on `port`).")
    liveness_path: Optional[HttpPath] = field(None, "Shorthand for `liveness.path`.")
    readiness_path: Optional[HttpPath] = field(None, "Shorthand for `readiness.path`.")
    hostname: Optional[DnsName] = field(None, "Public hostname; default `<name>.<client domain>`.")
    expose: bool = field(True, "Route `hostname` (and `extraHostnames`) through the shared Gateway; false: reachable only by apps that name it in `reaches`.")
    reaches: list[str] = field([], "What it may connect to: data services (`mongodb`, `objectStorage`, `search`) and apps "
                                   "(`hapihub`, `syncd`, another satellite). Each gets its env/secrets and a NetworkPolicy rule; "
                                   "nothing else is reachable.")
    database: Optional[str] = field(None, "With `mongodb` in `reaches`: the database (one of `mongodb.databases`; default the first).")
    run_as_user: int = field(1000, "uid the container runs as (never 0).", ge=1, le=2147483647)
    run_as_group: int = field(1000, "gid the container runs as.", ge=1, le=2147483647)
    scratch_dirs: list[AbsolutePath] = field(["/tmp"], "Writable emptyDir mounts (the root filesystem is read-only).")

    @model_validator(mode="after")
    def _probe_shorthands(self) -> "SatelliteConfig":
        if self.liveness_path:
            self.liveness.path = self.liveness_path
        if self.readiness_path:
            self.readiness.path = self.readiness_path
        return self


class AppsConfig(StrictModel):
    """The client's apps."""

    hapihub: HapiHubConfig = field({}, "HapiHub API.")
    mycureapp: MyCureAppConfig = field({}, "MyCureApp frontend.")
    syncd: SyncdConfig = field({"enabled": False}, "Syncd WebSocket sync (optional; off by default).")
    satellites: dict[DnsLabel, SatelliteConfig] = field({}, "Extra web services (`<name>: {image, tag, port, …}`), each "
                                                           "deployed like the apps with its own route, NetworkPolicy, PDB and sizing.")

    def enabled(self) -> dict[str, AppConfig]:
        """Every enabled app by name: the three apps, then the satellites."""
        apps: dict[str, AppConfig] = {k: getattr(self, k) for k in ("hapihub", "mycureapp", "syncd")}
        apps.update(self.satellites)
        return {k: a for k, a in apps.items() if a.enabled}

    @model_validator(mode="after")
    def _unique_names(self) -> "AppsConfig":
        for name in self.satellites:
            if name in RESERVED_APP_NAMES or name.startswith(("mongodb-", "minio-", "restore-drill")):
                raise FieldError(("satellites", name), "is a name the stack uses for its own objects; choose another")
        owners: dict[str, str] = {}
        for app, cfg in self.enabled().items():
            where = ("satellites", app) if app in self.satellites else (app,)
            for kind, entries, limit in (("jobs", cfg.jobs, 52), ("workers", cfg.workers, 63)):
                for name in entries:
                    full = f"{app}-{name}"
                    if len(full) > limit:
                        # A CronJob's name gets an 11-character suffix per run; Kubernetes caps it at 52.
                        raise FieldError((*where, kind, name), f"makes the name {full!r} ({len(full)} characters); at most {limit} are allowed")
                    if full in owners or full in self.enabled() or full in RESERVED_APP_NAMES:
                        raise FieldError((*where, kind, name), f"makes the name {full!r}, which is already used"
                                                                + (f" by {owners[full]}" if full in owners else ""))
                    owners[full] = ".".join(map(str, (*where, kind, name)))
        return self


class QuotaConfig(EnvAwareModel):
    """Namespace ResourceQuota (sized so the seed's per-client sizing fits, with rolling-update headroom)."""

    ENV_DEFAULTS = {
        # Full stack per client ≈ 22 CPU / 53 GiB / 1.15 TB requested; the rest is surge/HPA headroom.
        "requestsCpu": {"production": "32", "staging": "12", "development": "8"},
        "requestsMemory": {"production": "96Gi", "staging": "32Gi", "development": "24Gi"},
        "limitsCpu": {"production": "96", "staging": "32", "development": "24"},
        "limitsMemory": {"production": "192Gi", "staging": "64Gi", "development": "48Gi"},
        "requestsStorage": {"production": "2Ti", "staging": "1Ti", "development": "500Gi"},
    }

    enabled: bool = field(True, "Create the ResourceQuota.")
    requests_cpu: Quantity = field("32", "Sum of CPU requests.")
    requests_memory: Quantity = field("96Gi", "Sum of memory requests.")
    limits_cpu: Quantity = field("96", "Sum of CPU limits.")
    limits_memory: Quantity = field("192Gi", "Sum of memory limits.")
    requests_storage: Quantity = field("2Ti", "Sum of PVC storage requests.")
    pods: int = field(100, "Maximum pods.", ge=1, le=10000)
    persistent_volume_claims: int = field(40, "Maximum PVCs.", ge=0, le=1000)
    services_load_balancers: int = field(0, "LoadBalancer Services (0: traffic enters through the shared Gateway only).", ge=0, le=100)
    services_node_ports: int = field(0, "NodePort Services (0: no node ports).", ge=0, le=100)


class LimitRangeConfig(StrictModel):
    """Defaults and ceilings for containers that don't set their own."""

    default_request_cpu: Quantity = field("100m", "Default CPU request.")
    default_request_memory: Quantity = field("128Mi", "Default memory request.")
    default_limit_cpu: Quantity = field("500m", "Default CPU limit.")
    default_limit_memory: Quantity = field("512Mi", "Default memory limit.")
    max_cpu: Quantity = field("8", "Largest CPU limit one container may have.")
    max_memory: Quantity = field("32Gi", "Largest memory limit one container may have.")


class NetworkConfig(StrictModel):
    """Derived NetworkPolicies: the few knobs that are not derived."""

    egress_except_cidrs: Annotated[list[ExceptCidr], unique("network")] = field(
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
        "Ranges excluded from `internet-https`/SMTP egress (the cluster's and private networks).",
    )
    smtp_port: Optional[Port] = field(None, "SMTP relay port HapiHub may reach outside the cluster (e.g. 587); unset: no SMTP egress.")
    kube_api_ports: Annotated[list[Port], unique("port")] = field([443, 6443], "Ports of the Kubernetes API (for operators and jobs that talk to it).", min_length=1)
    kube_api_cidrs: Annotated[list[Cidr], unique("network")] = field([], "Addresses of the Kubernetes API server; empty: the platform's, else any address on the API ports.")


class ClientCertificatesConfig(StrictModel):
    """TLS certificates for the client's hostnames outside the platform's domains (cert-manager, ACME)."""

    challenge: Literal["http01", "dns01-cname"] = field(
        "http01", "`http01`: the hostnames' DNS points at the shared Gateway, which answers the challenge (no wildcards). "
                  "`dns01-cname`: each `_acme-challenge.<host>` is a CNAME into the platform's zone (issues before traffic "
                  "moves; needs a platform with DNS-01). The stack output `dnsRecords` lists the records to create.")


class BackupsConfig(StrictModel):
    """Velero schedules for the client namespace and the weekly restore drill."""

    enabled: bool = field(True, "Create the Velero schedules.")
    hourly_schedule: CronExpression = field("15 * * * *", "Cron of the hourly backup (volume snapshots).")
    hourly_ttl: GoDuration = field("72h0m0s", "How long hourly backups are kept.")
    daily_schedule: CronExpression = field("30 2 * * *", "Cron of the daily backup (data moved to the backup bucket).")
    daily_ttl: GoDuration = field("720h0m0s", "How long daily backups are kept.")
    weekly_schedule: CronExpression = field("0 3 * * 0", "Cron of the weekly backup (archive location).")
    weekly_ttl: GoDuration = field("2160h0m0s", "How long weekly backups are kept.")
    restore_drill: bool = field(True, "Weekly restore drill: restore the newest daily backup into a throwaway namespace and check it.")
    drill_schedule: CronExpression = field("0 5 * * 1", "Cron of the restore drill (after the weekly backup).")
    drill_image: ImageReference = field("registry.k8s.io/kubectl:v1.33.4", "Pinned image with kubectl, bash and jq for the drill.")
    drill_timeout_seconds: int = field(3600, "Give up on the drill after this long (then it records a failure).", ge=300, le=21600)
    canary_schedule: CronExpression = field("5 * * * *", "Cron of the backup canary (a timestamped MongoDB document and bucket object the drill reads back; its interval bounds how exactly the drill measures the RPO).")
    canary_object_image: ImageReference = field("rclone/rclone:1.75.0", "Pinned rclone image that writes and reads the canary object (S3, Azure Blob, GCS, MinIO).")
    pitr_drill_days: int = field(28, "The drill also restores MongoDB to a point in time from its own backups when the last such restore is older than this (at least monthly).", ge=1, le=31)


class GitOpsConfig(StrictModel):
    """The client's Argo CD AppProject (for its own extra workloads)."""

    enabled: bool = field(True, "Create the AppProject.")
    source_repos: Annotated[list[Text], unique("repository")] = field([], "Git/Helm repositories the project may deploy from (empty: none yet).")


# ======================================================================= client-apps: end


#: Charts a client stack installs (`chartVersions` keys): the MongoDB operator and MinIO.
CLIENT_CHARTS = ("psmdb-operator", "minio")
#: Longest client name: with the longest environment (`development`) and platform (20) every composed
#: cloud and Kubernetes name still fits its provider's limit (lfh/plan/cloud_names.py, tests/test_cloud_names.py).
CLIENT_NAME_MAX = 30


class ClientConfig(StrictModel):
    """Everything a client stack file may say under `lfh:client`."""

    name: Annotated[DnsLabel, max_chars(CLIENT_NAME_MAX, "it is part of cloud resource, namespace and secret names")] = field(
        ..., "Client name (DNS label), at most 30 characters (it is part of cloud, namespace and secret names); the stack must be called `<name>-<environment>`.",
        rule="at most 30 characters; every name composed from it is valid: namespace `<name>-<environment>` …")
    environment: EnvironmentTier = field(..., "Environment tier: production, staging or development.")
    platform_stack: PlatformStackRef = field(..., "Platform stack to deploy onto, as `<org>/lfh/<stack>`.")
    domain: DnsName = field(..., "The client's DNS domain; apps get `api.`, `app.`, `sync.` … under it.",
                            rule="`api.`, `app.`, `sync.`, `storage.` + domain ≤ 253 characters")
    chart_versions: ChartVersions = field({}, "Override the pinned version of a chart this stack installs (`psmdb-operator`, "
                                               "`minio`), e.g. while testing an upgrade; reported as a warning.")

    # -- data services (client-data block) --
    mongodb: MongoDBConfig = field({}, "MongoDB replica set (Percona Operator).")
    object_storage: ObjectStorageConfig = field({}, "Object storage for HapiHub files: `cloud` bucket or `minio`.")
    search: SearchConfig = field({}, "Typesense search (optional).")
    secrets: SecretsConfig = field({}, "Generated secrets and how External Secrets syncs them.")
    # -- end of data services --
    # ------------------------------------------------------------------- client-apps fields
    apps: AppsConfig = field({}, "HapiHub, MyCureApp, Syncd and extra (satellite) web services.")
    quota: QuotaConfig = field({}, "Namespace ResourceQuota.")
    limit_range: LimitRangeConfig = field({}, "Namespace LimitRange.")
    network: NetworkConfig = field({}, "NetworkPolicy knobs that are not derived from the components.")
    certificates: ClientCertificatesConfig = field({}, "How certificates for the client's own domain are issued.")
    backups: BackupsConfig = field({}, "Velero schedules and the restore drill.")
    gitops: GitOpsConfig = field({}, "Argo CD AppProject.")
    # ------------------------------------------------------------------- client-apps fields end

    @field_validator("chart_versions")
    @classmethod
    def _client_charts_only(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key not in CLIENT_CHARTS:
                raise FieldError((key,), f"is not a chart a client stack installs; allowed: {', '.join(CLIENT_CHARTS)} "
                                         "(platform charts are overridden in the platform stack's `chartVersions`)")
        return value

    @model_validator(mode="after")
    def _satellites_reach_what_exists(self) -> "ClientConfig":
        apps = self.apps.enabled()
        enabled = {"mongodb": True, "objectStorage": True, "search": self.search.enabled}
        for name, sat in self.apps.satellites.items():
            if not sat.enabled:
                continue
            for i, target in enumerate(sat.reaches):
                if target in enabled and not enabled[target]:
                    raise FieldError(("apps", "satellites", name, "reaches", i), f"{target!r} is not enabled in this stack")
                if target not in enabled and (target not in apps or target == name):
                    allowed = [t for t, on in enabled.items() if on] + [a for a in apps if a != name]
                    raise FieldError(("apps", "satellites", name, "reaches", i),
                                     f"{target!r} is not a data service or enabled app here; allowed: {', '.join(allowed)}")
            if len(set(sat.reaches)) != len(sat.reaches):
                raise FieldError(("apps", "satellites", name, "reaches"), "names a target twice")
            if sat.database is not None and sat.database not in self.mongodb.databases:
                raise FieldError(("apps", "satellites", name, "database"),
                                 f"{sat.database!r} is not in mongodb.databases ({', '.join(self.mongodb.databases)})")
            if sat.database is not None and "mongodb" not in sat.reaches:
                raise FieldError(("apps", "satellites", name, "database"), "needs `mongodb` in `reaches`")
        routed: dict[str, str] = {}
        if self.object_storage.mode != "cloud":
            # MinIO (chosen, or the default on an existing cluster) publishes presigned URLs on its own host.
            routed[names.app_hostname(self.object_storage.hostname, names.STORAGE_HOST_PREFIX, self.domain)] = "objectStorage.hostname"
        for name in apps:
            where = ("apps", "satellites", name) if name in self.apps.satellites else ("apps", name)
            for i, host in enumerate(self.hostnames(name)):
                if host in routed:
                    loc = (*where, "extraHostnames", i - 1) if i else (*where, "hostname")
                    raise FieldError(loc, f"{host} is already routed to {routed[host]}")
                routed[host] = ".".join(where)
        return self

    def hostnames(self, app: str) -> list[str]:
        """The public hostnames of an app, primary first (`api.`/`app.`/`sync.`/`<satellite>.` + domain by default)."""
        cfg = self.apps.enabled().get(app)
        if cfg is None or not getattr(cfg, "expose", True):
            return []
        return [names.app_hostname(cfg.hostname, names.APP_HOST_PREFIXES.get(app, app), self.domain), *cfg.extra_hostnames]

    @model_validator(mode="after")
    def _production_is_ha(self) -> "ClientConfig":
        # Production apps run ≥ 2 replicas so a node drain or rollout never takes them down.
        if self.environment.is_production:
            for key, app in self.apps.enabled().items():
                low = app.hpa.min_replicas if app.hpa.enabled and app.hpa.min_replicas else app.replicas
                where = ("satellites", key) if key in self.apps.satellites else (key,)
                if app.enabled and low < 2:
                    raise FieldError(("apps", *where, "replicas"), f"production needs at least 2 replicas (got {low})")
                for worker, w in app.workers.items():
                    if w.replicas < 2:
                        raise FieldError(("apps", *where, "workers", worker, "replicas"),
                                         f"production needs at least 2 replicas (got {w.replicas})")
        return self

    @model_validator(mode="after")
    def _composed_names_are_valid(self) -> "ClientConfig":
        """Names built from `name` and `environment` (lfh/config/names.py) must pass Kubernetes' rules."""
        for composed in names.client_names(self.name, self.environment.value):
            problem = composed.problem(composed.value)
            if problem:
                raise refuse("name", f"makes the {composed.what} {composed.value!r}, which {problem}; use a client "
                                     f"name of at most {names.longest_client_name(self.environment.value)} characters")
        hosts = []
        for key, app in self.apps.enabled().items():
            where = f"apps.satellites.{key}" if key in self.apps.satellites else f"apps.{key}"
            for i, host in enumerate(self.hostnames(key)):
                hosts.append((f"{where}.extraHostnames[{i - 1}]" if i else (f"{where}.hostname" if app.hostname else "domain"), host))
        hosts.append(("objectStorage.hostname" if self.object_storage.hostname else "domain",
                      names.app_hostname(self.object_storage.hostname, names.STORAGE_HOST_PREFIX, self.domain)))
        for key, host in hosts:
            problem = dns_name_problem(host)
            if problem:
                raise refuse(key, f"makes the hostname {host!r}, which {problem}")
        return self
