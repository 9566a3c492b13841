"""`lfh:client:WebService`: the one reusable web workload HapiHub, MyCureApp, Syncd and the satellite apps
are configurations of.

Deployment + Service + ServiceAccount + PDB + optional HPA + ExternalSecret + ServiceMonitor, the app's
CronJobs and workers (jobs.py), and the `RouteSpec`s (one per hostname)/`Workload`s the environment turns
into HTTPRoutes and NetworkPolicies.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from ..k8s import KubeObject, child_opts, meta
from .contract import FROM_GATEWAY, TO_SMTP, AppWiring, ClientContext, RouteSpec, Workload

#: Pod label the Service, PDB, anti-affinity and NetworkPolicies select on.
APP_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"


@dataclass
class Probe:
    path: str
    initial_delay_seconds: int = 0
    period_seconds: int = 10
    timeout_seconds: int = 3
    failure_threshold: int = 3


@dataclass
class Autoscaling:
    min_replicas: int
    max_replicas: int
    cpu_utilization: int = 70
    memory_utilization: Optional[int] = 80
    scale_down_stabilization_seconds: int = 300


@dataclass
class Route:
    hostname: str
    request_timeout: str = "60s"
    backend_timeout: Optional[str] = None
    websocket: bool = False
    #: More hostnames served the same way; each becomes its own HTTPRoute (and listener/certificate
    #: where the platform's wildcards don't cover it) through the same Routes machinery.
    extra_hostnames: list[str] = field(default_factory=list)


@dataclass
class WebServiceArgs:
    """Plain typed data describing one web app."""

    app: str                          # `hapihub`: object names, labels, Workload name
    image: str                        # repository without tag
    tag: str                          # pinned tag or `sha256:` digest
    port: int                         # container port
    service_port: int                 # Service port (→ port)
    liveness: Probe
    readiness: Probe
    requests: dict[str, str]
    limits: dict[str, str]
    replicas: int = 1
    autoscaling: Optional[Autoscaling] = None
    env: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    #: Data services' wiring merged into env / ExternalSecret / egress.
    wiring: list[AppWiring] = field(default_factory=list)
    secret_store: Optional[str] = None
    route: Optional[Route] = None
    run_as_user: int = 1000
    run_as_group: int = 1000
    fs_group: int = 1000
    read_only_root_filesystem: bool = True
    #: emptyDir mounts (paths) the app writes to; `/tmp` always.
    scratch_dirs: list[str] = field(default_factory=lambda: ["/tmp"])
    #: The app talks to the Kubernetes API (most don't: then no token is mounted).
    needs_api_token: bool = False
    sa_annotations: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    pod_labels: dict[str, str] = field(default_factory=dict)
    egress_to: list[str] = field(default_factory=list)
    metrics_path: Optional[str] = None
    component: str = "app"
    #: Run this command once per image as a Job before the Deployment rolls (schema migrations must
    #: not run in every replica at start-up and race — LESSONS.md). It gets the app's env and egress.
    migration_command: Optional[list[str]] = None
    #: Scheduled jobs and background workers in the app's image (`CronJobConfig` / `WorkerConfig` by name).
    jobs: dict[str, Any] = field(default_factory=dict)
    workers: dict[str, Any] = field(default_factory=dict)


def env_secret_name(app: str, ctx: ClientContext) -> pulumi.Input[str]:
    """The app's secret-env Secret (and its ExternalSecret): `<app>-env-<rotation generation>`."""
    from .secrets import ROTATION, generation_name

    generation = ctx.extra.get(ROTATION)
    return generation_name(f"{app}-env", generation) if generation is not None else f"{app}-env"


def image_ref(image: str, tag: str) -> str:
    """`repo:tag` or `repo@sha256:…` — never a floating reference."""
    from lfh.config.base import image_reference

    if not tag or tag == "latest":
        raise ValueError(f"image {image!r}: a pinned tag or digest is required, got {tag!r}")
    return image_reference(image, tag)


def config_checksum(data: Any) -> str:
    """Hash of the plain config, put on the pod template so a config change rolls the pods."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _probe(p: Probe, port: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": p.path, "port": port, "scheme": "HTTP"},
        "initialDelaySeconds": p.initial_delay_seconds,
        "periodSeconds": p.period_seconds,
        "timeoutSeconds": p.timeout_seconds,
        "failureThreshold": p.failure_threshold,
    }


def rolling_deployment_spec(replicas: int, selector: dict[str, str], pod_labels: dict[str, str],
                            checksum: pulumi.Input[str], pod_spec: dict[str, Any]) -> dict[str, Any]:
    """A Deployment spec that rolls one extra pod at a time and never has fewer ready pods than wanted
    (zero-downtime rollouts), and rolls again when ``checksum`` (its config) changes."""
    return {
        "replicas": replicas,
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": selector},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "template": {
            "metadata": {"labels": pod_labels, "annotations": {"lfh.io/config-checksum": checksum}},
            "spec": pod_spec,
        },
    }


def disruption_budget(resource: str, metadata: dict[str, Any], selector: dict[str, str], replicas: int,
                      opts: pulumi.ResourceOptions) -> Optional[KubeObject]:
    """`minAvailable: 1` for 2+ replicas; none for one (it would block every node drain forever)."""
    if replicas < 2:
        return None
    return KubeObject(resource, "policy/v1", "PodDisruptionBudget", metadata=metadata,
                      spec={"minAvailable": 1, "selector": {"matchLabels": selector}}, opts=opts)


def fit63(value: str) -> str:
    """``value`` when it fits the 63 characters of a label value or DNS label, else a prefix and a hash."""
    return value if len(value) <= 63 else f"{value[:54].rstrip('-')}-{hashlib.sha256(value.encode()).hexdigest()[:8]}"


def instance_label(name: str, namespace: str) -> str:
    """`<name>-<namespace>` as an `app.kubernetes.io/instance` value."""
    return fit63(f"{name}-{namespace}")


def route_name(app: str, hostname: str, primary: bool) -> str:
    """The HTTPRoute (and listener suffix) for one hostname: `<app>` for the primary one, else
    `<app>-<hostname with dashes>` — stable when the list is reordered."""
    return app if primary else fit63(f"{app}-{hostname.replace('.', '-')}")


def _remote_ref(ref: str) -> dict[str, str]:
    key, _, prop = ref.partition("#")
    return {"key": key, "property": prop} if prop else {"key": key}


def container_security_context(read_only_root: bool) -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,          # no setuid escalation
        "capabilities": {"drop": ["ALL"]},           # nothing a web app needs
        "readOnlyRootFilesystem": read_only_root,    # writes only to emptyDir scratch dirs
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context(uid: int, gid: int, fs_group: int) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,                        # Pod Security "restricted" requires it
        "runAsUser": uid,
        "runAsGroup": gid,
        "fsGroup": fs_group,
        "seccompProfile": {"type": "RuntimeDefault"},  # the runtime's syscall filter
    }


class WebService(pulumi.ComponentResource):
    """One web app in the client namespace."""

    workload: Workload
    route: Optional[RouteSpec]

    def __init__(self, name: str, ctx: ClientContext, args: WebServiceArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:client:WebService", name, None, opts)
        a = args
        ns = ctx.namespace
        app = a.app
        selector = {APP_LABEL: app, INSTANCE_LABEL: instance_label(app, ns)}
        obj_labels = {**ctx.labels, **selector, "app.kubernetes.io/component": a.component}
        pod_labels = {**obj_labels, **a.pod_labels}
        # ExternalSecrets need the SecretStore and the secrets written to the secret manager first.
        deps = [ctx.namespace_resource, *ctx.extra.get("secrets", [])]
        kopts = lambda depends_on=None, **kw: child_opts(  # noqa: E731
            self, ctx.provider, depends_on=depends_on or deps, **kw)

        # ------------------------------------------------------------ environment
        plain_env: dict[str, pulumi.Input[str]] = {}
        secret_env: dict[str, str] = {}
        secret_data: dict[str, str] = {}
        egress = list(a.egress_to)
        secret_files: dict[str, tuple[str, list[str]]] = {}
        for w in a.wiring:
            plain_env.update(w.env)
            secret_env.update(w.secret_env)
            secret_data.update(w.secret_data)
            egress += [t for t in w.egress_to if t not in egress]
            secret_files.update(w.secret_files)
        plain_env.update(a.env)
        clash = sorted(set(plain_env) & set(secret_env))
        if clash:
            raise ValueError(f"{app}: {clash} are both plain and secret env")

        # Named after the secret rotation (secrets.py): a rotation rolls the pods onto a Secret that
        # External Secrets creates with the new values — no pod starts with a stale one.
        secret_name = env_secret_name(app, ctx)
        if secret_env and not secret_data:
            raise ValueError(f"{app}: secret env {sorted(secret_env)} without secret data")
        if secret_data:
            if not a.secret_store:
                raise ValueError(f"{app}: secrets are wired but no SecretStore is given")
            target: dict[str, Any] = {"name": secret_name, "creationPolicy": "Owner", "deletionPolicy": "Retain"}
            if secret_env:
                # ESO renders the env values from the fetched keys (MONGO_URI from user + password …).
                target["template"] = {"engineVersion": "v2", "mergePolicy": "Replace", "data": dict(secret_env)}
            self.external_secret = k8s.apiextensions.CustomResource(
                f"{name}-externalsecret",
                api_version="external-secrets.io/v1",
                kind="ExternalSecret",
                metadata=meta(secret_name, ns, labels=obj_labels),
                spec={
                    "refreshInterval": "1h",
                    "secretStoreRef": {"kind": "SecretStore", "name": a.secret_store},
                    "target": target,
                    "data": [{"secretKey": k, "remoteRef": _remote_ref(v)} for k, v in sorted(secret_data.items())],
                },
                opts=kopts(),
            )
        secret_keys = sorted(secret_env) if secret_env else sorted(secret_data)

        # ------------------------------------------------------------ service account
        self.service_account = KubeObject(
            f"{name}-sa", "v1", "ServiceAccount",
            metadata=meta(app, ns, labels=obj_labels, annotations=dict(a.sa_annotations) or None),
            # No API token unless the app calls the Kubernetes API.
            automountServiceAccountToken=a.needs_api_token,
            opts=kopts(),
        )

        # ------------------------------------------------------------ deployment
        env_list: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(plain_env.items())]
        env_list += [{"name": k, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": k}}} for k in secret_keys]
        scratch = sorted(set(a.scratch_dirs) | {"/tmp"})
        volumes = [{"name": _vol(d), "emptyDir": {"sizeLimit": "1Gi"}} for d in scratch]
        mounts = [{"name": _vol(d), "mountPath": d} for d in scratch]
        for directory, (secret, keys) in sorted(secret_files.items()):
            # Only the named keys (e.g. a CA), read-only: never a Secret's private key.
            vol = "files" + directory.replace("/", "-").rstrip("-")
            volumes.append({"name": vol, "secret": {
                "secretName": secret, "items": [{"key": k, "path": k} for k in keys], "defaultMode": 0o444}})
            mounts.append({"name": vol, "mountPath": directory, "readOnly": True})
        ref = image_ref(a.image, a.tag)
        pod_security = pod_security_context(a.run_as_user, a.run_as_group, a.fs_group)
        self.extra_workloads: list[Workload] = []
        # What must be in place before pods roll (e.g. MinIO's release, which creates a rotated key's user).
        rollout_after: list[pulumi.Resource] = list(ctx.extra.get("rollout_after", []))
        if a.migration_command:
            rollout_after.append(self._migration(name, ctx, a, ref, env_list, volumes, mounts, pod_security,
                                                 egress, obj_labels, kopts))
        checksum = pulumi.Output.from_input(
            {"env": plain_env, "image": ref, "secretKeys": secret_keys, "secretData": secret_data}
        ).apply(config_checksum)
        replicas = a.autoscaling.min_replicas if a.autoscaling else a.replicas
        container = {
            "name": app,
            "image": ref,
            "imagePullPolicy": "IfNotPresent",
            "ports": [{"name": "http", "containerPort": a.port, "protocol": "TCP"}],
            "env": env_list,
            "livenessProbe": _probe(a.liveness, a.port),
            "readinessProbe": _probe(a.readiness, a.port),
            "resources": {"requests": dict(a.requests), "limits": dict(a.limits)},
            "securityContext": container_security_context(a.read_only_root_filesystem),
            "volumeMounts": mounts,
        }
        affinity_term = lambda key, weight: {  # noqa: E731
            "weight": weight,
            "podAffinityTerm": {"topologyKey": key, "labelSelector": {"matchLabels": selector}},
        }
        self.deployment = KubeObject(
            f"{name}-deployment", "apps/v1", "Deployment",
            metadata=meta(app, ns, labels=obj_labels),
            # Under an HPA the replica count is the HPA's; this is the starting point.
            spec=rolling_deployment_spec(replicas, selector, pod_labels, checksum, {
                "serviceAccountName": app,
                "automountServiceAccountToken": a.needs_api_token,
                "securityContext": pod_security,
                "enableServiceLinks": False,   # no env var per Service in the namespace
                "terminationGracePeriodSeconds": 30,
                # Spread replicas over nodes and zones so one failure takes out at most one.
                "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                    affinity_term("kubernetes.io/hostname", 100),
                    affinity_term("topology.kubernetes.io/zone", 50),
                ]}},
                "containers": [container],
                "volumes": volumes,
            }),
            # A new image rolls out only after its migrations completed (Pulumi awaits the Job).
            opts=kopts(depends_on=[*deps, *rollout_after]) if rollout_after else kopts(),
        )

        # ------------------------------------------------------------ service
        self.service = KubeObject(
            f"{name}-service", "v1", "Service",
            metadata=meta(app, ns, labels=obj_labels),
            spec={
                "type": "ClusterIP",
                "selector": selector,
                "ports": [{"name": "http", "port": a.service_port, "targetPort": "http", "protocol": "TCP"}],
            },
            opts=kopts(),
        )

        # ------------------------------------------------------------ availability
        disruption_budget(f"{name}-pdb", meta(app, ns, labels=obj_labels), selector, replicas, kopts())
        if a.autoscaling:
            hpa = a.autoscaling
            metrics = [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": hpa.cpu_utilization}}}]
            if hpa.memory_utilization:
                metrics.append({"type": "Resource", "resource": {"name": "memory", "target": {
                    "type": "Utilization", "averageUtilization": hpa.memory_utilization}}})
            KubeObject(
                f"{name}-hpa", "autoscaling/v2", "HorizontalPodAutoscaler",
                metadata=meta(app, ns, labels=obj_labels),
                spec={
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
                    "minReplicas": hpa.min_replicas,
                    "maxReplicas": hpa.max_replicas,
                    "metrics": metrics,
                    "behavior": {
                        # Scale down slowly (no flapping), up promptly.
                        "scaleDown": {"stabilizationWindowSeconds": hpa.scale_down_stabilization_seconds,
                                      "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
                        "scaleUp": {"stabilizationWindowSeconds": 0,
                                    "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]},
                    },
                },
                opts=kopts(),
            )

        # ------------------------------------------------------------ metrics
        mon = ctx.platform.monitoring or {}
        if a.metrics_path and mon.get("enabled"):
            k8s.apiextensions.CustomResource(
                f"{name}-servicemonitor",
                api_version="monitoring.coreos.com/v1",
                kind="ServiceMonitor",
                metadata=meta(app, ns, labels={**obj_labels, **(mon.get("serviceMonitorLabels") or {})}),
                spec={
                    "selector": {"matchLabels": selector},
                    "namespaceSelector": {"matchNames": [ns]},
                    "endpoints": [{"port": "http", "path": a.metrics_path, "interval": "30s"}],
                },
                opts=kopts(),
            )

        # ------------------------------------------------------------ scheduled jobs and workers
        if a.jobs or a.workers:
            from .jobs import PodRecipe, app_jobs

            recipe = PodRecipe(
                app=app, image=ref, service_account=app, plain_env=dict(plain_env), secret_name=secret_name,
                secret_keys=secret_keys, volumes=volumes, mounts=mounts, pod_security=pod_security,
                read_only_root=a.read_only_root_filesystem, requests=dict(a.requests), limits=dict(a.limits),
                port=a.port, liveness=_probe(a.liveness, a.port), readiness=_probe(a.readiness, a.port),
                labels=obj_labels, pod_labels=dict(a.pod_labels), egress=egress,
                needs_api_token=a.needs_api_token, secret_data=dict(secret_data),
            )
            after = [self.service_account, *([self.external_secret] if hasattr(self, "external_secret") else [])]
            self.extra_workloads += app_jobs(self, name, ctx, recipe, a.jobs, a.workers,
                                             lambda **kw: kopts(depends_on=[*deps, *after], **kw))

        self.routes: list[RouteSpec] = []
        if a.route:
            for host in [a.route.hostname, *a.route.extra_hostnames]:
                self.routes.append(RouteSpec(
                    name=route_name(app, host, host == a.route.hostname), hostname=host, service=app,
                    port=a.service_port, request_timeout=a.route.request_timeout,
                    backend_timeout=a.route.backend_timeout, websocket=a.route.websocket,
                ))
        self.route = self.routes[0] if self.routes else None
        self.workload = Workload(
            name=app,
            pod_labels=selector,
            ports=[a.port],
            routed_ports=[a.port] if a.route else [],
            ingress_from=[FROM_GATEWAY] if a.route else [],
            egress_to=egress,
            metrics_port=a.port if (a.metrics_path and mon.get("enabled")) else None,
        )
        self.workloads = [self.workload, *self.extra_workloads]
        self.register_outputs({"service": app, "image": ref})

    def _migration(self, name: str, ctx: ClientContext, a: WebServiceArgs, ref: str, env: list, volumes: list,
                   mounts: list, pod_security: dict, egress: list[str], obj_labels: dict, kopts) -> pulumi.Resource:
        """The migration Job: its own ServiceAccount, the app's env, named after the image so each
        release migrates exactly once (a Job's template is immutable: a new tag is a new Job)."""
        ns = ctx.namespace
        job_app = f"{a.app}-migrate"
        suffix = a.tag.replace("sha256:", "")[:12].replace(".", "-").replace("_", "-").lower()
        selector = {APP_LABEL: job_app, INSTANCE_LABEL: instance_label(job_app, ns)}
        lbl = {**obj_labels, **selector, "app.kubernetes.io/component": "migration"}
        sa = KubeObject(f"{name}-migrate-sa", "v1", "ServiceAccount", metadata=meta(job_app, ns, labels=lbl),
                                        automountServiceAccountToken=False, opts=kopts())
        job = KubeObject(
            f"{name}-migrate", "batch/v1", "Job",
            metadata=meta(f"{job_app}-{suffix}", ns, labels=lbl),
            spec={
                "backoffLimit": 2,
                "activeDeadlineSeconds": 1800,
                "template": {
                    "metadata": {"labels": lbl},
                    "spec": {
                        "restartPolicy": "Never",
                        "serviceAccountName": job_app,
                        "automountServiceAccountToken": False,
                        "securityContext": pod_security,
                        "enableServiceLinks": False,
                        "containers": [{
                            "name": "migrate", "image": ref, "imagePullPolicy": "IfNotPresent",
                            "command": list(a.migration_command or []), "env": env,
                            "resources": {"requests": dict(a.requests), "limits": dict(a.limits)},
                            "securityContext": container_security_context(a.read_only_root_filesystem),
                            "volumeMounts": mounts,
                        }],
                        "volumes": volumes,
                    },
                },
            },
            opts=kopts(depends_on=[*([ctx.namespace_resource]), sa, *([self.external_secret] if hasattr(self, "external_secret") else [])],
                       delete_before_replace=True),
        )
        # Same reach as the app (its database), nothing served.
        self.extra_workloads.append(Workload(name=job_app, pod_labels=selector,
                                             egress_to=[t for t in egress if t != TO_SMTP]))
        return job


def _vol(path: str) -> str:
    return "scratch" + path.replace("/", "-").rstrip("-")
