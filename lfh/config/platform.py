"""`lfh:platform`: one cluster and its core stack (gateway, storage, GitOps, secrets, certificates,
backups, monitoring)."""
from __future__ import annotations

from typing import Annotated, Literal, Optional
from urllib.parse import urlsplit

from pydantic import ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .base import (
    ChartVersions,
    Cidr,
    CronExpression,
    DnsLabel,
    DnsName,
    Duration,
    EnvAwareModel,
    Environment,
    EnvironmentTier,
    GoDuration,
    ImageReference,
    PositiveDuration,
    Quantity,
    Secret,
    StrictModel,
    Text,
    checked,
    dns_name_problem,
    field,
    go_duration_hours,
    max_chars,
    refuse,
    unique,
)
from .cluster import ClusterConfig

# ----------------------------------------------------------------- core add-ons (issue 4)


def _email_problem(value: str) -> Optional[str]:
    local, at, domain = value.rpartition("@")
    if not at or not local or any(c.isspace() for c in value) or dns_name_problem(domain, wildcard=False):
        return "must be an e-mail address such as ops@example.com"
    return None


def _https_url_problem(value: str) -> Optional[str]:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        return "must be an https:// URL such as https://login.example.com/realms/ops"
    return None


def _retention_problem(value: str) -> Optional[str]:
    # Prometheus --storage.tsdb.retention.time takes a duration; we allow whole hours, days or weeks.
    number, unit = value[:-1], value[-1:]
    if unit not in ("d", "h", "w") or not number.isdigit() or not number.isascii():
        return "must be a whole number of hours, days or weeks such as 36h, 15d or 4w"
    if int(number) == 0:
        return "must be longer than zero"
    return None


def _kubernetes_version_problem(value: str) -> Optional[str]:
    major, dot, minor = value.partition(".")
    if major != "1" or not dot or not minor.isdigit() or not minor.isascii() or len(minor) != 2:
        return "must be a Kubernetes minor version such as 1.33 (in quotes, so YAML keeps it text)"
    return None


def _tag_problem(key: str) -> Optional[str]:
    # The rules of all three clouds at once: AWS tag keys are ≤ 128 characters and never `aws:`; Azure
    # tag names exclude < > % & \ ? /; GCP labels (tags are cleaned into them) start with a letter.
    if not key or len(key) > 128:
        return "must be 1–128 characters"
    if key.lower().startswith("aws:") or key.startswith("lfh:"):
        return "must not start with `aws:` or `lfh:` (reserved)"
    if any(c in "<>%&\\?/" for c in key):
        return "must not contain < > % & \\ ? or /"
    if not key[0].isalpha():
        return "must start with a letter"
    return None


Email = checked(str, _email_problem, "e-mail address")
HttpsUrl = checked(str, _https_url_problem, "https:// URL")
Retention = checked(str, _retention_problem, "whole hours, days or weeks > 0 (`36h`, `15d`, `4w`)")
KubernetesVersion = checked(str, _kubernetes_version_problem, "minor version `1.NN`")
TagKey = checked(str, _tag_problem, "tag key: 1–128 characters, starting with a letter, no `aws:`/`lfh:` prefix, none of < > % & \\ ? /")
TagValue = checked(str, lambda v: None if len(v) <= 256 else "must be at most 256 characters", "tag value ≤ 256 characters")


class Resources(StrictModel):
    """CPU/memory requests and memory limit of one container (CPU is not limited: throttling hurts
    latency more than a noisy neighbour does; memory is, so a leak cannot take the node)."""

    cpu: Quantity = field("100m", "CPU request.")
    memory: Quantity = field("128Mi", "Memory request.")
    memory_limit: Quantity = field("256Mi", "Memory limit.")


def _res(cpu: str, memory: str, limit: str) -> dict:
    return {"cpu": cpu, "memory": memory, "memoryLimit": limit}


class GatewayConfig(EnvAwareModel):
    """The shared Envoy Gateway: one Gateway for every client route, with explicit limits (LESSONS.md)."""

    ENV_DEFAULTS = {
        "controllerReplicas": {"production": 2, "staging": 2, "development": 1},
        "proxyReplicas": {"production": 2, "staging": 2, "development": 1},
    }

    controller_replicas: int = field(2, "Envoy Gateway controller replicas (≥ 2 keeps config pushes alive during a node drain).", ge=1, le=5)
    proxy_replicas: int = field(2, "Envoy proxy replicas behind the load balancer (spread over nodes, PDB keeps one up).", ge=1, le=20)
    request_body_limit: Quantity = field("50Mi", "Largest request body the proxy buffers before answering 413 (uploads go up to 50 MB).")
    request_timeout: Duration = field("60s", "Time a backend may take to answer a fully received request.")
    stream_idle_timeout: PositiveDuration = field("3600s", "Idle time after which a stream (e.g. a WebSocket) is closed.")
    max_request_headers_kb: int = field(96, "Largest total request header size in KiB (431 above it).", ge=60, le=8192)
    rate_limit_per_client: int = field(300, "Requests per client IP per `rateLimitUnit` each proxy accepts (local rate limit; 429 above).", ge=1, le=1000000)
    rate_limit_unit: Literal["Second", "Minute", "Hour"] = field("Minute", "Unit of `rateLimitPerClient`.")
    trusted_hops: int = field(0, "Proxies in front of the gateway that append X-Forwarded-For (0: the LB passes the client IP through).", ge=0, le=5)
    hsts_max_age: int = field(31536000, "Strict-Transport-Security max-age in seconds (1 year).", ge=0, le=63072000)
    hsts_include_subdomains: bool = field(True, "Add `includeSubDomains` to HSTS.")
    referrer_policy: Literal["no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"] = field(
        "strict-origin-when-cross-origin", "Referrer-Policy response header.")
    blocked_cidrs: Annotated[list[Cidr], unique("network")] = field([], "Client CIDRs the SecurityPolicy refuses (403).")
    extra_domains: Annotated[list[DnsName], unique("domain")] = field([], "Further domains whose `*.` wildcard the HTTPS listeners serve (besides the platform domain).")
    controller_resources: Resources = field(_res("100m", "256Mi", "1Gi"), "Requests/limit of the Envoy Gateway controller.")
    proxy_resources: Resources = field(_res("250m", "512Mi", "1Gi"), "Requests/limit of each Envoy proxy (buffers up to `requestBodyLimit` per stream).")


class StorageConfig(EnvAwareModel):
    """Longhorn replicated block storage and its snapshot/backup schedule."""

    ENV_DEFAULTS = {
        "replicaCount": {"production": 3, "staging": 3, "development": 2},
    }

    use_cluster_storage_class: bool = field(False, "Skip Longhorn and hand out the cluster's own StorageClass (small/existing clusters only).")
    replica_count: int = field(3, "Longhorn replicas per volume (3: survives a zone loss).", ge=1, le=5)
    snapshot_cron: CronExpression = field("0 * * * *", "Schedule of the Longhorn snapshot job (tier 1: hourly).")
    snapshot_retain: int = field(72, "Snapshots kept per volume (72 hourly = 3 days).", ge=1, le=250)
    daily_backup_cron: CronExpression = field("30 2 * * *", "Schedule of the daily Longhorn backup to the platform bucket (tier 2).")
    daily_backup_retain: int = field(30, "Daily backups kept per volume.", ge=1, le=250)
    weekly_backup_cron: CronExpression = field("0 4 * * 0", "Schedule of the weekly Longhorn backup (tier 3).")
    weekly_backup_retain: int = field(12, "Weekly backups kept per volume.", ge=1, le=250)
    backup_concurrency: int = field(2, "Volumes a recurring job backs up at once.", ge=1, le=10)
    manager_resources: Resources = field(_res("250m", "512Mi", "1Gi"), "Requests/limit of longhorn-manager (one per node).")


class OidcConfig(StrictModel):
    """Single sign-on to Argo CD through your OIDC provider (Argo CD `oidc.config`, no Dex)."""

    issuer: HttpsUrl = field(..., "Issuer URL of the provider, e.g. `https://login.microsoftonline.com/<tenant>/v2.0`.")
    client_id: Text = field(..., "Client (application) id of Argo CD at the provider.")
    client_secret_key: Optional[DnsLabel] = field(None, "Secret-manager entry under `<platform>/platform/` whose JSON property `clientSecret` is the client secret, synced by External Secrets into the Secret `argocd-oidc`; leave unset with `pkce: true`.")
    pkce: bool = field(False, "Public client with PKCE: no client secret exists (the provider must allow PKCE for this client).")
    admin_groups: Annotated[list[Text], unique("group")] = field(..., "Groups (the ID token's `groups` claim) mapped to Argo CD `role:admin`.", min_length=1)
    requested_scopes: Annotated[list[Text], unique("scope")] = field(["openid", "profile", "email", "groups"], "Scopes Argo CD requests at login.", min_length=1)

    @model_validator(mode="after")
    def _one_client_kind(self) -> "OidcConfig":
        if bool(self.client_secret_key) == self.pkce:
            raise ValueError("set exactly one of clientSecretKey (confidential client; the secret comes from the secret manager) "
                             "and pkce: true (public client)")
        return self


class GitOpsConfig(StrictModel):
    """Argo CD, highly available, behind the shared gateway."""

    replicas: int = field(2, "Replicas of the application controller, server and repo server (≥ 2: HA).", ge=2, le=5)
    hostname: Optional[DnsName] = field(None, "Argo CD host name; `argocd.<domain>` when unset.")
    default_role: Literal["readonly", ""] = field("readonly", "Role every authenticated user gets (`readonly`; empty = none).")
    oidc: Optional[OidcConfig] = field(None, "Single sign-on (required on production platforms).")
    admin_enabled: bool = field(False, "Enable the built-in `admin` user (not on production): its bcrypt password hash comes from the secret-manager entry `argocd-admin` (properties `passwordBcrypt`, `passwordMtime`).")
    resources: Resources = field(_res("100m", "256Mi", "1Gi"), "Requests/limit of each Argo CD server, repo-server, ApplicationSet and notifications container.")
    controller_resources: Resources = field(_res("250m", "512Mi", "2Gi"), "Requests/limit of the application controller.")

    # Production platforms sign in to Argo CD through SSO only: no shared admin password.
    @field_validator("oidc")
    @classmethod
    def _sso_on_production(cls, value: Optional[OidcConfig], info: ValidationInfo) -> Optional[OidcConfig]:
        if value is None and _is_production(info):
            raise PydanticCustomError("argocd_sso", "required on production platforms (Argo CD single sign-on: issuer, "
                                      "clientId, clientSecretKey or pkce: true, adminGroups); without it nobody can log in")
        return value

    @field_validator("admin_enabled")
    @classmethod
    def _no_admin_on_production(cls, value: bool, info: ValidationInfo) -> bool:
        if value and _is_production(info):
            raise PydanticCustomError("argocd_admin", "not allowed on production platforms; sign in through gitops.oidc")
        return value


def _is_production(info: ValidationInfo) -> bool:
    """The stack's environment tier (the loader passes it in the validation context) is production."""
    env = (info.context or {}).get("environment")
    return env is not None and Environment(env).is_production


class SecretsConfig(StrictModel):
    """External Secrets Operator and the platform ClusterSecretStore."""

    replicas: int = field(2, "Operator replicas (leader election; one active).", ge=1, le=5)
    webhook_replicas: int = field(2, "Admission webhook replicas (a down webhook blocks every ExternalSecret change).", ge=1, le=5)
    store_name: DnsLabel = field("platform-secrets", "Name of the platform ClusterSecretStore.")
    provider: dict = field({}, "ESO `spec.provider` block for existing clusters (clouds derive it from the cluster); e.g. `{vault: {...}}`.")
    refresh_interval: PositiveDuration = field("1h", "How often ExternalSecrets re-read the secret manager.")
    resources: Resources = field(_res("50m", "128Mi", "256Mi"), "Requests/limit of each ESO container.")


class CertificatesConfig(StrictModel):
    """cert-manager and the platform's ClusterIssuers."""

    acme_email: Email = field("platform@example.com", "Contact e-mail for Let's Encrypt (expiry notices).")
    solver: Optional[Literal["http01", "dns01"]] = field(None, "ACME challenge: `dns01` (cloud DNS; needed for wildcard certificates) or `http01` (through the shared gateway); default: `dns01` where the cluster brings a DNS-01 solver, else `http01`.")
    dns_zones: Annotated[list[DnsName], unique("zone")] = field([], "DNS zones the DNS-01 solver may answer for (empty: every zone it can).")
    dns01_solver: dict = field({}, "cert-manager DNS-01 solver block for clusters whose contract brings none (existing clusters).")
    public_issuer: Literal["letsencrypt-prod", "letsencrypt-staging", "internal-ca"] = field("letsencrypt-prod", "Issuer for the gateway's public certificates (`internal-ca`: the platform's own CA, for clusters the internet cannot reach, e.g. a laptop trial).")
    replicas: int = field(2, "cert-manager controller and webhook replicas.", ge=1, le=5)
    resources: Resources = field(_res("50m", "128Mi", "256Mi"), "Requests/limit of each cert-manager container.")


class BackupsConfig(EnvAwareModel):
    """Velero: the platform-level schedule and the locations clients use."""

    ENV_DEFAULTS = {
        "defaultTtl": {"production": "720h", "staging": "336h", "development": "168h"},
    }

    schedule: CronExpression = field("0 1 * * *", "Cron of the platform Schedule (cluster-scoped resources).")
    default_ttl: GoDuration = field("720h", "How long backups in the `default` location live (30 d).")
    archive_ttl: GoDuration = field("2160h", "How long weekly backups in the `archive` location live (90 d, HIPAA).")
    archive_schedule: CronExpression = field("0 3 * * 0", "Cron of the weekly platform archive backup.")
    snapshot_move_data: bool = field(True, "Move CSI snapshot data to the bucket (data movement) so backups survive the cluster.")
    resources: Resources = field(_res("100m", "256Mi", "1Gi"), "Requests/limit of the Velero server.")
    node_agent_resources: Resources = field(_res("100m", "256Mi", "2Gi"), "Requests/limit of each node agent (data mover).")


class AlertReceiver(StrictModel):
    """One Alertmanager receiver (a webhook whose URL is a secret)."""

    name: DnsLabel = field(..., "Receiver name.")
    kind: Literal["slack", "pagerduty", "webhook", "heartbeat"] = field(..., "Receiver kind; `heartbeat`: a dead man's switch URL (e.g. a healthchecks or Dead Man's Snitch check) that gets only the always-firing Watchdog alert, every 5 minutes.")
    url: Secret = field(..., "Webhook URL / routing key (secret).")
    channel: Optional[Text] = field(None, "Slack channel (slack only).")
    severity: Literal["critical", "warning", "all"] = field("all", "Alerts of this severity go here.")


class MonitoringConfig(EnvAwareModel):
    """kube-prometheus-stack: Prometheus, Grafana, Alertmanager and the platform alert rules."""

    ENV_DEFAULTS = {
        "enabled": {"production": True, "staging": False, "development": False},
        "prometheusReplicas": {"production": 2, "staging": 1, "development": 1},
    }

    enabled: bool = field(True, "Install the monitoring stack (default: production only).")
    retention: Retention = field("15d", "Prometheus retention.")
    storage: Quantity = field("50Gi", "Prometheus volume size.")
    prometheus_replicas: int = field(2, "Prometheus replicas.", ge=1, le=3)
    grafana_hostname: Optional[DnsName] = field(None, "Grafana host name; `grafana.<domain>` when unset.")
    receivers: Annotated[list[AlertReceiver], unique("receiver name", lambda r: r.name, ".name")] = field([], "Alertmanager receivers (Slack, PagerDuty, webhooks).")
    prometheus_resources: Resources = field(_res("500m", "2Gi", "4Gi"), "Requests/limit of Prometheus.")
    resources: Resources = field(_res("100m", "256Mi", "512Mi"), "Requests/limit of Grafana, Alertmanager, operator, kube-state-metrics.")
    gateway_error_percent: int = field(5, "Alert when more than this share of a client route's responses are 5xx (10 minutes).", ge=1, le=100)
    gateway_latency_p95_ms: int = field(2000, "Alert when a client route's 95th-percentile upstream time exceeds this (ms, 15 minutes; WebSocket routes excepted).", ge=50, le=600000)


#: Retention periods every log store accepts: CloudWatch's fixed list (PutRetentionPolicy), from one
#: year up to Cloud Logging's 3650-day bucket maximum (Azure tables keep up to 4383 days).
LOG_RETENTION_DAYS = (365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288)
LogRetentionDays = checked(
    int, lambda v: None if v in LOG_RETENTION_DAYS else
    f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))} (CloudWatch's retention steps from one year up to ten)",
    "one of 365, 400, 545, 731, 1096, 1827, 2192 (6 years), 2557, 2922, 3288")


class LogCollectorConfig(StrictModel):
    """The in-cluster log collector on existing clusters (clouds use their own agent): Fluent Bit to the backup store."""

    image: ImageReference = field("docker.io/fluent/fluent-bit:5.1.1", "Pinned Fluent Bit image (fluent/helm-charts fluent-bit 0.58.1 appVersion).")
    prefix: DnsLabel = field("logs", "Object prefix in the platform's backup bucket the collector writes to (`<prefix>/<namespace>/…`).")
    resources: Resources = field(_res("100m", "128Mi", "256Mi"), "Requests/limit of the collector on every node.")


class LoggingConfig(StrictModel):
    """Container logs of every namespace (apps and the gateway's access log) kept `retentionDays` (HIPAA 164.312(b)).

    EKS: the amazon-cloudwatch-observability add-on into CMK-encrypted log groups; AKS: Container Insights
    into the platform's Log Analytics workspace; GKE: Cloud Logging (workloads) routed to the platform's
    log bucket; existing clusters: a pinned Fluent Bit DaemonSet writing to the backup bucket."""

    retention_days: LogRetentionDays = field(365, "Days container and gateway access logs are kept (at least a year; 2192 = six years where the client's policy asks).")
    collector: LogCollectorConfig = field({}, "The in-cluster collector of existing clusters.")


class PlatformNetworkConfig(StrictModel):
    """NetworkPolicies of the platform namespaces: the few knobs that are not derived from the add-ons."""

    egress_except_cidrs: list[Cidr] = field(
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
        "Ranges cut out of the platform controllers' egress to outside services (cloud APIs, ACME, Git, backups).",
    )
    private_endpoint_cidrs: list[Cidr] = field(
        [], "Private addresses outside the cluster the platform must reach (a Vault, S3-compatible store, Git "
            "server or OIDC issuer on a private network); added to that egress, on the same ports only.")


class PlatformConfig(StrictModel):
    """Everything a platform stack file may say under `lfh:platform`."""

    name: Annotated[DnsLabel, max_chars(20, "it is part of cloud resource names: GKE cluster, Key Vault, storage account")] = field(
        ..., "Platform name, at most 20 characters (it is part of cloud resource names); the stack must be called `platform-<name>`.")
    environment: EnvironmentTier = field(Environment.production, "Environment tier of the platform; selects defaults.")
    domain: DnsName = field(..., "Base DNS domain of the platform (routes such as `argocd.<domain>`).")
    kubernetes_version: KubernetesVersion = field("1.33", "Kubernetes minor version (`1.33`); also selects the OpenAPI schema used to check manifests.")
    cluster: ClusterConfig = field(..., "The cluster this platform owns or connects to.")
    tags: dict[TagKey, TagValue] = field({}, "Extra tags/labels put on every cloud resource (at most 40: clouds allow 50 per resource and the platform adds its own).", max_length=40)
    chart_versions: ChartVersions = field({}, "Override a pinned chart version (e.g. while testing an upgrade); reported as a warning.")
    gateway: GatewayConfig = field({}, "Shared Envoy Gateway (core add-on).")
    storage: StorageConfig = field({}, "Longhorn storage (core add-on).")
    gitops: GitOpsConfig = field({}, "Argo CD (core add-on).")
    secrets: SecretsConfig = field({}, "External Secrets Operator (core add-on).")
    certificates: CertificatesConfig = field({}, "cert-manager (core add-on).")
    backups: BackupsConfig = field({}, "Velero (core add-on).")
    monitoring: MonitoringConfig = field({}, "kube-prometheus-stack (optional add-on).")
    logging: LoggingConfig = field({}, "Container and gateway access logs and their retention (HIPAA audit controls).")
    network: PlatformNetworkConfig = field({}, "NetworkPolicies of the platform namespaces (derived; these are the inputs).")

    @model_validator(mode="after")
    def _ttls_within_bucket_lifecycle(self) -> "PlatformConfig":
        """A Velero backup must not outlive its objects: the bucket lifecycle deletes them on its own clock."""
        backup = getattr(self.cluster, "backup", None)
        for key, ttl, days_key in (("defaultTtl", self.backups.default_ttl, "daily_expire_days"),
                                   ("archiveTtl", self.backups.archive_ttl, "archive_expire_days")):
            days = getattr(backup, days_key, None)
            if days is not None and go_duration_hours(ttl) > days * 24:
                alias = "dailyExpireDays" if days_key == "daily_expire_days" else "archiveExpireDays"
                raise refuse(f"backups.{key}", f"{ttl} outlives the bucket lifecycle (cluster.backup.{alias}: {days} days); "
                             f"keep it at most {days * 24}h")
        return self

    @model_validator(mode="after")
    def _existing_cluster_needs(self) -> "PlatformConfig":
        """An existing cluster brings no cloud DNS: DNS-01 needs a solver from the stack file."""
        if getattr(self.cluster, "provider", "") != "existing":
            return self
        if getattr(self.cluster, "self_contained", False) and self.secrets.provider:
            raise PydanticCustomError("existing_cluster", "secrets.provider: not used with cluster.selfContained: true (the "
                                      "platform store is the cluster's own locked namespace); remove it")
        if self.certificates.solver == "dns01" and not self.certificates.dns01_solver:
            raise refuse("certificates.dns01Solver", "is required when certificates.solver is `dns01` on an existing "
                         "cluster (a cert-manager `dns01` solver block, e.g. {cloudflare: {...}})")
        return self

