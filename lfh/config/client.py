"""`lfh:client`: one client+environment on a platform."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, ConfigDict, field_validator, model_validator

from .base import (
    Cidr,
    DnsLabel,
    DnsName,
    EnvAwareModel,
    Environment,
    ImageTag,
    Quantity,
    StrictModel,
    field,
)


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

    path: str = field(..., "HTTP path probed on the app port.", pattern=r"^/[^\s]*$")
    initial_delay_seconds: int = field(0, "Seconds before the first probe.", ge=0, le=600)
    period_seconds: int = field(10, "Seconds between probes.", ge=1, le=300)
    timeout_seconds: int = field(3, "Seconds a probe may take.", ge=1, le=60)
    failure_threshold: int = field(3, "Failures in a row before the probe fails.", ge=1, le=30)


class HpaConfig(EnvAwareModel):
    """Horizontal Pod Autoscaler (autoscaling/v2)."""

    ENV_DEFAULTS = {"enabled": {"production": True, "staging": False, "development": False}}

    enabled: bool = field(False, "Scale the app on CPU/memory; production default on.")
    min_replicas: Optional[int] = field(None, "Lower bound; defaults to the app's `replicas`.", ge=1, le=100)
    max_replicas: int = field(10, "Upper bound.", ge=1, le=100)
    cpu_utilization: int = field(70, "Target average CPU utilisation in % of requests.", ge=10, le=100)
    memory_utilization: Optional[int] = field(80, "Target average memory utilisation in % of requests; null disables.", ge=10, le=100)
    scale_down_stabilization_seconds: int = field(300, "Window before scaling down (avoids flapping).", ge=0, le=3600)


class AppConfig(EnvAwareModel):
    """One web app (a WebService): image, size, probes, route, environment."""

    # `ImageTag` uses a look-ahead (never `latest`), which only Python's regex engine supports.
    model_config = ConfigDict(**EnvAwareModel.model_config, regex_engine="python-re")

    ENV_DEFAULTS = {"replicas": {"production": 2, "staging": 1, "development": 1}}

    enabled: bool = field(True, "Deploy this app.")
    image: str = field(..., "Image repository (no tag).", pattern=r"^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9._-]+)*$")
    tag: Optional[ImageTag] = field(None, "Pinned image tag or `sha256:` digest (never `latest`); required when enabled.")
    replicas: int = field(1, "Replicas (the HPA's minimum when autoscaling); production needs ≥ 2.", ge=1, le=100)
    resources: ContainerResources = field(..., "Container requests and limits.")
    hpa: HpaConfig = field({}, "Autoscaling.")
    hostname: Optional[DnsName] = field(None, "Public hostname; default `<prefix>.<client domain>`.")
    env: dict[str, str] = field({}, "Extra plain environment variables (merged over the app's defaults; no secrets here).")
    read_only_root_filesystem: bool = field(True, "Mount the root filesystem read-only (scratch dirs are emptyDirs).")
    request_timeout: str = field("60s", "Gateway request timeout for the route (`0s` disables).", pattern=r"^([0-9]{1,5}(h|m|s|ms)){1,4}$")
    liveness_path: Optional[str] = field(None, "Override the liveness probe path.", pattern=r"^/[^\s]*$")
    readiness_path: Optional[str] = field(None, "Override the readiness probe path (newer HapiHub answers on `/health`).", pattern=r"^/[^\s]*$")
    port: Optional[int] = field(None, "Override the container port.", ge=1024, le=65535)
    internet_https: bool = field(False, "Allow HTTPS (443) to addresses outside the cluster and private ranges.")
    metrics_path: Optional[str] = field(None, "HTTP path of Prometheus metrics on the app port; a ServiceMonitor is created when the platform runs monitoring.", pattern=r"^/[^\s]*$")

    @model_validator(mode="after")
    def _pinned_when_enabled(self) -> "AppConfig":
        if self.enabled and self.tag is None:
            raise ValueError("`tag` is required when the app is enabled: a pinned version or sha256 digest, never latest")
        if self.hpa.enabled and self.hpa.max_replicas < max(self.replicas, self.hpa.min_replicas or 0):
            raise ValueError("`hpa.maxReplicas` must be ≥ `replicas` and `hpa.minReplicas`")
        return self


def _res(rc: str, rm: str, lc: str, lm: str) -> dict:
    return {"requests": {"cpu": rc, "memory": rm}, "limits": {"cpu": lc, "memory": lm}}


class HapiHubConfig(AppConfig):
    """HapiHub, the healthcare API (`api.<domain>`, port 7500)."""

    image: str = field("ghcr.io/mycurelabs/hapihub", "Image repository (no tag).")
    tag: Optional[ImageTag] = field("5.215.2", "Pinned image tag or `sha256:` digest (never `latest`).")
    resources: ContainerResources = field(_res("500m", "1Gi", "2", "4Gi"), "Container requests and limits.")
    # Secure by default: read-only root with an emptyDir /tmp and HOME=/tmp. APPS.md: the original image
    # wrote outside /tmp; a client whose version still does sets this to false (the policy pack warns).
    read_only_root_filesystem: bool = field(True, "Mount the root filesystem read-only (writes go to the /tmp emptyDir, HOME=/tmp); set false only for HapiHub versions that write elsewhere — a policy warning then shows it.")
    run_migrations: bool = field(False, "Run database migrations once per release as a Job (never in every replica at start-up).")
    migration_command: list[str] = field(["npm", "run", "migrate"], "Command of the migration Job.")
    log_level: str = field("info", "LOG_LEVEL.", pattern=r"^(error|warn|info|debug|trace)$")
    # HapiHub calls cloud APIs and third parties (payments, SMS) over HTTPS.
    internet_https: bool = field(True, "Allow HTTPS (443) to addresses outside the cluster and private ranges (cloud APIs, payment/SMS providers).")


class MyCureAppConfig(AppConfig):
    """MyCureApp, the web frontend (`app.<domain>`, nginx on 8080)."""

    image: str = field("ghcr.io/mycurelabs/mycureapp", "Image repository (no tag).")
    # A release seen in the template's history (APPS.md: 10.x); pin the one you deploy.
    tag: Optional[ImageTag] = field("10.18.0", "Pinned image tag or `sha256:` digest (never `latest`).")
    resources: ContainerResources = field(_res("200m", "512Mi", "1", "1Gi"), "Container requests and limits.")


class SyncdConfig(AppConfig):
    """Syncd, real-time sync over WebSockets (`sync.<domain>`); optional."""

    image: str = field("ghcr.io/mycurelabs/syncd", "Image repository (no tag).")
    tag: Optional[ImageTag] = field("1.2.0", "Pinned image tag or `sha256:` digest (never `latest`).")
    resources: ContainerResources = field(_res("500m", "1Gi", "2", "2Gi"), "Container requests and limits.")
    request_timeout: str = field("0s", "Gateway request timeout; `0s` keeps WebSockets open (idle limit is the gateway's stream idle timeout).", pattern=r"^([0-9]{1,5}(h|m|s|ms)){1,4}$")


class AppsConfig(StrictModel):
    """The client's apps."""

    hapihub: HapiHubConfig = field({}, "HapiHub API.")
    mycureapp: MyCureAppConfig = field({}, "MyCureApp frontend.")
    syncd: SyncdConfig = field({"enabled": False}, "Syncd WebSocket sync (optional; off by default).")


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
    pods: int = field(100, "Maximum pods.", ge=1)
    persistent_volume_claims: int = field(40, "Maximum PVCs.", ge=0)
    services_load_balancers: int = field(0, "LoadBalancer Services (0: traffic enters through the shared Gateway only).", ge=0)
    services_node_ports: int = field(0, "NodePort Services (0: no node ports).", ge=0)


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

    egress_except_cidrs: list[Cidr] = field(
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
        "Ranges excluded from `internet-https`/SMTP egress (the cluster's and private networks).",
    )
    smtp_port: Optional[int] = field(None, "SMTP relay port HapiHub may reach outside the cluster (e.g. 587); unset: no SMTP egress.", ge=1, le=65535)
    kube_api_ports: list[int] = field([443, 6443], "Ports of the Kubernetes API (for operators and jobs that talk to it).")
    kube_api_cidrs: list[Cidr] = field([], "Addresses of the Kubernetes API server; empty: the platform's, else any address on the API ports.")


class BackupsConfig(StrictModel):
    """Velero schedules for the client namespace and the weekly restore drill."""

    model_config = ConfigDict(**StrictModel.model_config, regex_engine="python-re")

    enabled: bool = field(True, "Create the Velero schedules.")
    hourly_schedule: str = field("15 * * * *", "Cron of the hourly backup (volume snapshots).")
    hourly_ttl: str = field("72h0m0s", "How long hourly backups are kept.")
    daily_schedule: str = field("30 2 * * *", "Cron of the daily backup (data moved to the backup bucket).")
    daily_ttl: str = field("720h0m0s", "How long daily backups are kept.")
    weekly_schedule: str = field("0 3 * * 0", "Cron of the weekly backup (archive location).")
    weekly_ttl: str = field("2160h0m0s", "How long weekly backups are kept.")
    restore_drill: bool = field(True, "Weekly restore drill: restore the newest daily backup into a throwaway namespace and check it.")
    drill_schedule: str = field("0 5 * * 1", "Cron of the restore drill (after the weekly backup).")
    drill_image: str = field("registry.k8s.io/kubectl:v1.33.4", "Pinned image with kubectl, bash and jq for the drill.", pattern=r"^[^\s:@]+(:(?!latest$)[A-Za-z0-9_.-]+|@sha256:[a-f0-9]{64})$")
    drill_timeout_seconds: int = field(3600, "Give up on the drill after this long (then it records a failure).", ge=300, le=21600)
    canary_schedule: str = field("5 * * * *", "Cron of the backup canary (a timestamped MongoDB document and bucket object the drill reads back; its interval bounds how exactly the drill measures the RPO).")
    canary_object_image: str = field("rclone/rclone:1.75.0", "Pinned rclone image that writes and reads the canary object (S3, Azure Blob, GCS, MinIO).", pattern=r"^[^\s:@]+(:(?!latest$)[A-Za-z0-9_.-]+|@sha256:[a-f0-9]{64})$")
    pitr_drill_days: int = field(28, "The drill also restores MongoDB to a point in time from its own backups when the last such restore is older than this (at least monthly).", ge=1, le=31)


class GitOpsConfig(StrictModel):
    """The client's Argo CD AppProject (for its own extra workloads)."""

    enabled: bool = field(True, "Create the AppProject.")
    source_repos: list[str] = field([], "Git/Helm repositories the project may deploy from (empty: none yet).")


# ======================================================================= client-apps: end


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
    # ------------------------------------------------------------------- client-apps fields
    apps: AppsConfig = field({}, "HapiHub, MyCureApp and Syncd.")
    quota: QuotaConfig = field({}, "Namespace ResourceQuota.")
    limit_range: LimitRangeConfig = field({}, "Namespace LimitRange.")
    network: NetworkConfig = field({}, "NetworkPolicy knobs that are not derived from the components.")
    backups: BackupsConfig = field({}, "Velero schedules and the restore drill.")
    gitops: GitOpsConfig = field({}, "Argo CD AppProject.")
    # ------------------------------------------------------------------- client-apps fields end

    @model_validator(mode="after")
    def _production_is_ha(self) -> "ClientConfig":
        # Production apps run ≥ 2 replicas so a node drain or rollout never takes them down.
        if self.environment.is_production:
            for key in ("hapihub", "mycureapp", "syncd"):
                app = getattr(self.apps, key)
                low = app.hpa.min_replicas if app.hpa.enabled and app.hpa.min_replicas else app.replicas
                if app.enabled and low < 2:
                    raise ValueError(f"apps.{key}.replicas: production needs at least 2 replicas (got {low})")
        return self
