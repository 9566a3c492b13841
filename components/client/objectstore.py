"""`lfh:client:ObjectStorage`: where HapiHub keeps files.

- `cloud` mode (default on cloud platforms): a per-client bucket via the cloud adapter (platform
  CMK, versioning, no public access, TLS only) and a workload identity that only HapiHub's service
  account can assume. No access keys exist.
- `minio` mode (default on existing clusters, or by choice): MinIO from the pinned community chart
  5.4.0. Note: the MinIO community edition is now distributed as source only and its repository
  says it is no longer maintained (see ../shared/upstream/README.md); prefer `cloud` where a cloud
  exists, and plan a migration for long-lived MinIO installs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from lfh.config import names
from lfh.config.base import chart_image, image_reference


from ..cloud.base import BucketInfo
from ..cluster.contract import ServiceAccountBinding
from ..k8s import HelmRelease, KubeObject, child_opts, labels, meta, pinned_chart
from .contract import FROM_GATEWAY, FROM_SELF, TO_INTERNET_HTTPS, AppWiring, ClientContext, RouteSpec, Workload
from .secrets import MINIO_APP_SECRET_KEY, MINIO_ROOT_PASSWORD, ClientSecrets, generation_name

if TYPE_CHECKING:
    from lfh.config import ClientConfig

    from ..platform.contract import PlatformContract

#: HapiHub's Kubernetes ServiceAccount: the only one the bucket identity trusts. The apps half
#: names HapiHub's ServiceAccount `app_service_account_binding.service_account`.
HAPIHUB_SERVICE_ACCOUNT = "hapihub"
MINIO_RELEASE = "minio"
MINIO_PORT = 9000
MINIO_ROOT_USER = "lfh-root"
#: MinIO user HapiHub uses (policy: its bucket only).
MINIO_APP_USER = "hapihub"
STORAGE_ROUTE = "storage"
MODE_KEY = "lfh:client.objectStorage.mode"


def resolve_mode(config: "ClientConfig", platform: "PlatformContract") -> str:
    """`cloud` or `minio`: the configured mode, else the platform's default.

    The platform kind is only known from the contract, so this check cannot live in the config
    model: `deploy_client` calls it right after reading the contract, before any resource exists
    (ObjectStorage and ClientSecrets call it again, so a component used alone fails the same way).
    """
    kind = (platform.cloud or {}).get("kind")
    mode = config.object_storage.mode or ("minio" if kind == "existing" else "cloud")
    if mode == "cloud" and kind == "existing":
        raise pulumi.RunError(
            f"{MODE_KEY}: `cloud` needs a cloud platform, but platform {platform.platform!r} is an existing "
            "cluster without cloud object storage; allowed here: `minio` (or leave it unset)")
    return mode


CLOUD_KEY = "lfh:client.objectStorage.cloud"


def check_cloud_bucket(config: "ClientConfig", platform: "PlatformContract", *,
                       resource: Optional[pulumi.Resource] = None) -> bool:
    """What a cloud bucket needs from its platform, refused before any resource exists (as `resolve_mode`):
    its access logs kept as long as the client's policy asks, and a second copy where it asks for one.
    Returns whether the bucket replicates (warns, with ``resource``, when production goes without)."""
    if resolve_mode(config, platform) != "cloud":
        return False
    cfg = config.object_storage.cloud
    cloud = platform.cloud or {}
    logs = cloud.get("accessLogs") or {}
    stack = config.platform_stack
    if not logs:
        raise pulumi.RunError(
            f"{CLOUD_KEY}.accessLogRetentionDays: platform {platform.platform!r} exports no `cloud.accessLogs` (where "
            f"its buckets' access logs go); update the platform stack {stack!r} first")
    kept = int(logs.get("retentionDays") or 0)
    if kept < cfg.access_log_retention_days:
        raise pulumi.RunError(
            f"{CLOUD_KEY}.accessLogRetentionDays: this client's policy asks for {cfg.access_log_retention_days} days, but "
            f"platform {platform.platform!r} keeps access logs {kept} days; raise the platform's "
            f"`lfh:platform.cluster.accessLogs.retentionDays` to at least {cfg.access_log_retention_days}, or lower this key")
    offered = bool(cloud.get("replication"))
    if cfg.replicate and not offered:
        raise pulumi.RunError(
            f"{CLOUD_KEY}.replicate: platform {platform.platform!r} offers no second region for a copy of the bucket; set "
            f"the platform's `lfh:platform.cluster.backup.replication` (enabled, with a region; Azure production platforms "
            f"are geo-redundant), or `replicate: false` to keep one copy")
    if cfg.replicate is None and config.environment.is_production and not offered:
        if resource is not None:
            pulumi.log.warn(f"{CLOUD_KEY}.replicate: platform {platform.platform!r} offers no second region, so this "
                            "production bucket has one copy; give the platform one, or say `replicate: false`", resource=resource)
        return False
    return bool(cfg.replicate) or (cfg.replicate is None and config.environment.is_production)


def bucket_users(config: "ClientConfig") -> list[str]:
    """ServiceAccounts that reach the bucket: HapiHub's, and each enabled satellite's that declares `objectStorage`."""
    sats = [n for n, s in config.apps.satellites.items() if s.enabled and "objectStorage" in s.reaches]
    return [HAPIHUB_SERVICE_ACCOUNT, *sats]


def object_storage_mode(ctx: ClientContext) -> str:
    return resolve_mode(ctx.config, ctx.platform)


class ObjectStorage(pulumi.ComponentResource):
    """Object storage for HapiHub files.

    Attributes: mode ("cloud"|"minio"), bucket_name, workloads, wiring, routes,
    bindings (cloud mode: ServiceAccount name -> the identity that reaches the bucket, for HapiHub and
    each satellite that reaches object storage; empty in minio mode), app_service_account_binding
    (HapiHub's), bucket (BucketInfo, cloud mode), release (minio mode), rate_limit (minio mode).
    """

    def __init__(self, name: str, ctx: ClientContext, secrets: ClientSecrets,
                 opts: Optional[pulumi.ResourceOptions] = None):
        mode = object_storage_mode(ctx)  # fails before anything is registered
        check_cloud_bucket(ctx.config, ctx.platform)
        super().__init__("lfh:client:ObjectStorage", name, None, opts)
        self.replicate = check_cloud_bucket(ctx.config, ctx.platform, resource=self)
        self.ctx = ctx
        self.mode = mode
        self.workloads: list[Workload] = []
        self.routes: list[RouteSpec] = []
        self.app_service_account_binding: Optional[ServiceAccountBinding] = None
        self.bindings: dict[str, ServiceAccountBinding] = {}
        self.bucket: Optional[BucketInfo] = None
        self.release: Optional[HelmRelease] = None
        self.rate_limit: Optional[pulumi.Resource] = None
        if mode == "cloud":
            self._cloud(name, ctx, secrets)
        else:
            self._minio(name, ctx, secrets)
        self.register_outputs({"mode": mode, "bucket": self.bucket_name})

    # ------------------------------------------------------------------ cloud
    def _cloud(self, name: str, ctx: ClientContext, secrets: ClientSecrets) -> None:
        from ..cloud import adapter_for

        cfg = ctx.config.object_storage
        if cfg.hostname:
            pulumi.log.warn("lfh:client.objectStorage.hostname only applies to `minio` mode (cloud buckets are not "
                            "routed through the Gateway); ignored", resource=self)
        adapter = adapter_for(ctx, self)
        self.bucket = adapter.bucket(cfg.bucket, noncurrent_version_days=cfg.cloud.noncurrent_version_days,
                                     replicate=self.replicate)
        self.bucket_name = self.bucket.name
        # Only the ServiceAccounts of the apps that use the bucket (HapiHub, satellites that declare
        # `objectStorage`) may assume its identities, and each reaches this bucket only.
        self.bindings = {app: adapter.workload_identity(f"{app}-files", app, bucket=self.bucket)
                         for app in bucket_users(ctx.config)}
        self.app_service_account_binding = self.bindings[HAPIHUB_SERVICE_ACCOUNT]
        env: dict[str, pulumi.Input[str]] = {
            "S3_BUCKET": self.bucket.name,
            "S3_REGION": self.bucket.region,
            "S3_ENDPOINT": self.bucket.endpoint,
            "S3_PUBLIC_URL": self.bucket.public_url,
        }
        # `s3` | `azure-blob` | `gcs`: HapiHub's S3 client works on `s3` only; elsewhere it needs the
        # native SDK (which picks up the workload identity) or `minio` mode.
        env["STORAGE_API"] = self.bucket.api
        env.update(self.bucket.app_env)
        self.wiring = AppWiring(env=env, egress_to=[TO_INTERNET_HTTPS])

    # ------------------------------------------------------------------ minio
    def _minio(self, name: str, ctx: ClientContext, secrets: ClientSecrets) -> None:
        cfg = ctx.config.object_storage
        m = cfg.minio
        ns = ctx.namespace
        common = dict(client=ctx.config.name, environment=ctx.environment, component="object-storage")
        self.bucket_name = cfg.bucket
        storage_class = ctx.platform.storage_classes.get("encrypted") or ctx.platform.storage_classes.get("default", "")
        distributed = m.replicas > 1
        hostname = names.app_hostname(cfg.hostname, names.STORAGE_HOST_PREFIX, ctx.config.domain)

        root_secret = f"{MINIO_RELEASE}-root"
        es_root = secrets.external_secret(
            f"{name}-root", parent=self, target=root_secret,
            data={"rootPassword": secrets.remote_key(MINIO_ROOT_PASSWORD)},
            template={"rootUser": MINIO_ROOT_USER, "rootPassword": "{{ .rootPassword }}"},
            component="object-storage")
        # The app key rotates (secrets.py) like MongoDB's users: each rotation is a new MinIO user
        # `hapihub-r<n>` (the chart's make-user job adds it on the release upgrade; it only ever adds or
        # re-keys users, so a new name never breaks the running pods), the apps switch to it, and
        # `drop_old_keys` removes the earlier ones after the rollout.
        self.generation = secrets.generation
        self.app_user = generation_name(MINIO_APP_USER, self.generation)
        app_secret = self.app_secret = generation_name(f"{MINIO_RELEASE}-app-user", self.generation)
        es_app = secrets.external_secret(
            f"{name}-app-user", parent=self, target=app_secret,
            data={"secretKey": secrets.remote_key(MINIO_APP_SECRET_KEY)}, component="object-storage")

        # Pod Security "restricted" applies to the chart's setup job too: chart 5.4.0 passes
        # `postJob.securityContext` (minus `enabled`) to the pod and `make*Job.containerSecurityContext`
        # to each container when `make*Job.securityContext.enabled` (templates/post-job.yaml).
        restricted_container = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
        job_security = {"securityContext": {"enabled": True, "runAsUser": 1000, "runAsGroup": 1000},
                        "containerSecurityContext": restricted_container,
                        "resources": {"requests": {"memory": "128Mi", "cpu": "50m"}, "limits": {"memory": "256Mi"}}}
        policy_name = f"{cfg.bucket}-readwrite"
        values: dict[str, Any] = {
            "fullnameOverride": MINIO_RELEASE,
            "image": {**chart_image("quay.io/minio/minio", m.image_tag), "pullPolicy": "IfNotPresent"},
            "mcImage": {**chart_image("quay.io/minio/mc", m.mc_image_tag), "pullPolicy": "IfNotPresent"},
            "mode": "distributed" if distributed else "standalone",
            "replicas": m.replicas,
            "drivesPerNode": 1,
            "pools": 1,
            # Root credentials come from the ExternalSecret, never from values.
            "existingSecret": root_secret,
            "persistence": {"enabled": True, "storageClass": storage_class, "size": m.volume_size,
                            "accessMode": "ReadWriteOnce"},
            "service": {"type": "ClusterIP", "port": str(MINIO_PORT)},
            "ingress": {"enabled": False},
            "consoleIngress": {"enabled": False},
            "securityContext": {"enabled": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
                                "fsGroupChangePolicy": "OnRootMismatch", "runAsNonRoot": True,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containerSecurityContext": {"readOnlyRootFilesystem": False, "allowPrivilegeEscalation": False,
                                         "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
                                         "seccompProfile": {"type": "RuntimeDefault"}},
            "resources": {"requests": {"memory": m.memory, "cpu": "500m"}, "limits": {"memory": m.memory}},
            # Only our own label keys next to the chart's `app`/`release` selector labels.
            "podLabels": {k: v for k, v in labels(MINIO_RELEASE, **common).items() if k.startswith("lfh.io/")},
            # HapiHub gets a user whose policy covers its bucket only (not root, not `readwrite` on all).
            "policies": [{"name": policy_name, "statements": [
                {"resources": [f"arn:aws:s3:::{cfg.bucket}/*"],
                 "actions": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:DeleteObject", "s3:PutObject",
                             "s3:ListMultipartUploadParts"]},
                {"resources": [f"arn:aws:s3:::{cfg.bucket}"],
                 "actions": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]},
            ]}],
            "users": [{"accessKey": self.app_user, "existingSecret": app_secret, "existingSecretKey": "secretKey",
                       "policy": policy_name}],
            "svcaccts": [],
            "buckets": [{"name": cfg.bucket, "policy": "none", "purge": False, "versioning": True,
                         "objectlocking": False}],
            "makePolicyJob": job_security,
            "makeUserJob": job_security,
            "makeBucketJob": job_security,
            "makeServiceAccountJob": job_security,
            "customCommandJob": job_security,
            "postJob": {"securityContext": {"enabled": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
                                            "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}},
            "environment": {
                # The web console stays off: administration goes through `mc` from inside the cluster.
                "MINIO_BROWSER": "off",
                **({"MINIO_STORAGE_CLASS_STANDARD": f"EC:{m.parity}"} if distributed else {}),
            },
            # NetworkPolicies are derived by the namespace baseline from `workloads`.
            "networkPolicy": {"enabled": False},
            "podDisruptionBudget": {"enabled": distributed, "maxUnavailable": 1},
            "serviceAccount": {"create": True, "name": MINIO_RELEASE},
            # MinIO servers are a data service: on the db pool (chart 5.4.0 statefulset.yaml/deployment.yaml
            # render `.Values.nodeSelector` and `.Values.tolerations` into the server pods only).
            **ctx.placement("db"),
        }
        self.release = HelmRelease(f"{name}-minio", {
            "name": MINIO_RELEASE,
            **pinned_chart("minio", ctx.config.chart_versions),  # `chartVersions` overrides warn in the plan
            "namespace": ns,
            "createNamespace": False,
            "values": values,
        },
            # Objects live on the release's PVCs: keep them through a mistaken destroy.
            child_opts(self, ctx.provider, depends_on=[ctx.namespace_resource, es_root, es_app],
                       protect=True, retain_on_delete=True))

        # The apps roll onto a rotated key only once the release upgrade (its make-user job) created it.
        ctx.extra.setdefault("rollout_after", []).append(self.release)
        self.routes = [RouteSpec(name=STORAGE_ROUTE, hostname=hostname, service=MINIO_RELEASE, port=MINIO_PORT,
                                 # Presigned uploads/downloads up to 50 MB on slow links.
                                 request_timeout="300s")]
        # Its own rate limit: presigned URLs are public, so the route is an abuse target.
        policy = f"{STORAGE_ROUTE}-rate-limit"
        self.rate_limit = k8s.apiextensions.CustomResource(
            f"{name}-rate-limit",
            api_version="gateway.envoyproxy.io/v1alpha1",
            kind="BackendTrafficPolicy",
            metadata=meta(policy, ns, labels=labels(policy, **common)),
            spec={
                "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": STORAGE_ROUTE}],
                # Local (per-proxy) limits need no rate-limit service (LESSONS.md).
                "rateLimit": {"type": "Local", "local": {"rules": [
                    {"limit": {"requests": m.rate_limit_per_second, "unit": "Second"}},
                ]}},
            },
            opts=child_opts(self, ctx.provider, depends_on=[ctx.namespace_resource]),
        )
        pod_labels = {"app": MINIO_RELEASE, "release": MINIO_RELEASE}
        self.workloads = [
            Workload(name="minio", pod_labels=pod_labels, ports=[MINIO_PORT], routed_ports=[MINIO_PORT],
                     peer_ports=[MINIO_PORT] if distributed else [],
                     ingress_from=[FROM_GATEWAY] + ([FROM_SELF] if distributed else []), tier="data"),
            # The chart's post-install job creates the bucket, policy and user through the S3 API.
            Workload(name="minio-setup", pod_labels={"app": f"{MINIO_RELEASE}-job", "release": MINIO_RELEASE},
                     egress_to=["minio"], tier="data"),
        ]
        self.wiring = AppWiring(
            env={
                "S3_ENDPOINT": f"http://{MINIO_RELEASE}.{ns}.svc.cluster.local:{MINIO_PORT}",
                "S3_BUCKET": cfg.bucket,
                "S3_REGION": "us-east-1",
                "S3_PUBLIC_URL": f"https://{hostname}",
            },
            secret_env={"S3_ACCESS_KEY_ID": self.app_user, "S3_SECRET_ACCESS_KEY": "{{ .minioSecretKey }}"},
            secret_data={"minioSecretKey": secrets.remote_key(MINIO_APP_SECRET_KEY)},
            egress_to=["minio"],
        )

    # ------------------------------------------------------------------ rotation: drop old
    def drop_old_keys(self, after: list[pulumi.Resource]) -> list[Workload]:
        """"Drop old" for MinIO (minio mode): a Job, named after the rotation, that removes every earlier app
        user (`hapihub`, `hapihub-r<m>`) once ``after`` (the apps, rolled onto the new key) is done. It runs
        the chart's own pinned `mc` image as MinIO's root (the chart's jobs run `/bin/sh` scripts in it)."""
        if self.mode != "minio":
            return []
        ctx, m = self.ctx, self.ctx.config.object_storage.minio
        ns = ctx.namespace
        job = "minio-drop-old-keys"
        selector = {"app.kubernetes.io/name": job, "app.kubernetes.io/instance": f"{job}-{ns}"[:63].rstrip("-")}
        lbl = {**labels(job, client=ctx.config.name, environment=ctx.environment, component="object-storage"), **selector}
        mc = "mc --config-dir /tmp/mc"
        script = pulumi.Output.concat(
            "set -eu\n",
            f'{mc} alias set local "http://{MINIO_RELEASE}.{ns}.svc.cluster.local:{MINIO_PORT}" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null\n',
            'KEEP="', self.app_user, '"\n',
            f"for u in $({mc} admin user ls local --json | sed -n 's/.*\"accessKey\":\"\\([^\"]*\\)\".*/\\1/p'); do\n",
            f'  case "$u" in "$KEEP") ;; {MINIO_APP_USER}|{MINIO_APP_USER}-r[0-9]*) {mc} admin user rm local "$u"; '
            'echo "dropped $u, kept $KEEP" ;; esac\n',
            "done\n")
        sa = KubeObject(f"{self._name}-drop-old-keys-sa", "v1", "ServiceAccount", metadata=meta(job, ns, labels=lbl),
                        automountServiceAccountToken=False, opts=child_opts(self, ctx.provider, depends_on=[ctx.namespace_resource]))
        root = f"{MINIO_RELEASE}-root"
        KubeObject(
            f"{self._name}-drop-old-keys", "batch/v1", "Job",
            metadata=meta(generation_name(job, self.generation), ns, labels=lbl),
            spec={"backoffLimit": 6, "activeDeadlineSeconds": 1800, "template": {"metadata": {"labels": lbl}, "spec": {
                "restartPolicy": "Never", "serviceAccountName": job, "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "drop-old-keys", "image": image_reference("quay.io/minio/mc", m.mc_image_tag),
                    "imagePullPolicy": "IfNotPresent", "command": ["/bin/sh", "-c", script],
                    "env": [{"name": var, "valueFrom": {"secretKeyRef": {"name": root, "key": key}}}
                            for var, key in (("MINIO_ROOT_USER", "rootUser"), ("MINIO_ROOT_PASSWORD", "rootPassword"))],
                    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                        "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }],
                "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
            }}},
            opts=child_opts(self, ctx.provider, depends_on=[*([self.release] if self.release else []), sa, *after]))
        return [Workload(name=job, pod_labels=selector, egress_to=["minio"], tier="data")]
