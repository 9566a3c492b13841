"""Scheduled jobs (CronJobs) and background workers (Deployments) of an app.

They are the app's own image run differently, so they share what makes the app's pods the app's:
the image, the ServiceAccount (and with it the cloud identity, e.g. the bucket's), the environment and
the `<app>-env` Secret the ExternalSecret builds, the scratch volumes and the Pod Security `restricted`
baseline. Each has its own command, env overrides and resources, its own pod labels, and its own
Workload — so its NetworkPolicy is derived like the app's (same egress, never any ingress).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import pulumi

from ..k8s import KubeObject, meta
from .contract import ClientContext, Workload
from .webservice import (
    APP_LABEL,
    INSTANCE_LABEL,
    config_checksum,
    container_security_context,
    disruption_budget,
    instance_label,
    rolling_deployment_spec,
)

#: `app.kubernetes.io/component` of workers: the restore drill scales them to 0 in its copy like the apps.
WORKER_COMPONENT = "worker"
JOB_COMPONENT = "job"


@dataclass
class PodRecipe:
    """What every pod of one app shares (built by WebService)."""

    app: str
    image: str
    service_account: str
    plain_env: dict[str, Any]
    secret_name: str
    secret_keys: list[str]
    volumes: list[dict[str, Any]]
    mounts: list[dict[str, Any]]
    pod_security: dict[str, Any]
    read_only_root: bool
    requests: dict[str, str]
    limits: dict[str, str]
    port: int
    liveness: dict[str, Any]
    readiness: dict[str, Any]
    labels: dict[str, str]
    pod_labels: dict[str, str] = field(default_factory=dict)
    egress: list[str] = field(default_factory=list)
    needs_api_token: bool = False
    secret_data: dict[str, str] = field(default_factory=dict)

    def env(self, overrides: dict[str, str]) -> list[dict[str, Any]]:
        plain = {**self.plain_env, **overrides}
        out: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(plain.items())]
        out += [{"name": k, "valueFrom": {"secretKeyRef": {"name": self.secret_name, "key": k}}} for k in self.secret_keys]
        return out

    def resources(self, own: Any) -> dict[str, Any]:
        if own is None:
            return {"requests": dict(self.requests), "limits": dict(self.limits)}
        return {"requests": own.requests.model_dump(), "limits": own.limits.model_dump()}

    def pod_spec(self, container: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {
            "serviceAccountName": self.service_account,
            "automountServiceAccountToken": self.needs_api_token,
            "securityContext": self.pod_security,
            "enableServiceLinks": False,
            "containers": [{
                "imagePullPolicy": "IfNotPresent",
                "securityContext": container_security_context(self.read_only_root),
                "volumeMounts": self.mounts,
                **container,
            }],
            "volumes": self.volumes,
            **extra,
        }


def app_jobs(parent: pulumi.Resource, name: str, ctx: ClientContext, recipe: PodRecipe, jobs: dict[str, Any],
             workers: dict[str, Any], opts: Callable[..., pulumi.ResourceOptions]) -> list[Workload]:
    """The app's CronJobs and worker Deployments; returns their Workloads."""
    workloads: list[Workload] = []
    for job, cfg in jobs.items():
        workloads.append(_cronjob(f"{name}-job-{job}", ctx, recipe, f"{recipe.app}-{job}", cfg, opts))
    for worker, cfg in workers.items():
        workloads.append(_worker(f"{name}-worker-{worker}", ctx, recipe, f"{recipe.app}-{worker}", cfg, opts))
    return workloads


def _selector(ctx: ClientContext, full: str) -> dict[str, str]:
    return {APP_LABEL: full, INSTANCE_LABEL: instance_label(full, ctx.namespace)}


def _cronjob(resource: str, ctx: ClientContext, r: PodRecipe, full: str, cfg: Any,
             opts: Callable[..., pulumi.ResourceOptions]) -> Workload:
    selector = _selector(ctx, full)
    lbl = {**r.labels, **selector, "app.kubernetes.io/component": JOB_COMPONENT}
    container = {"name": full, "image": r.image, "command": list(cfg.command), "env": r.env(dict(cfg.env)),
                 "resources": r.resources(cfg.resources), **({"args": list(cfg.args)} if cfg.args else {})}
    KubeObject(
        resource, "batch/v1", "CronJob",
        metadata=meta(full, ctx.namespace, labels=lbl),
        spec={
            "schedule": cfg.schedule,
            "timeZone": cfg.time_zone,
            # Forbid by default: a slow run is never joined by a second one working on the same data.
            "concurrencyPolicy": cfg.concurrency_policy,
            "suspend": cfg.suspend,
            "startingDeadlineSeconds": cfg.starting_deadline_seconds,
            "successfulJobsHistoryLimit": cfg.successful_jobs_history_limit,
            "failedJobsHistoryLimit": cfg.failed_jobs_history_limit,
            "jobTemplate": {
                "metadata": {"labels": lbl},
                "spec": {
                    "backoffLimit": cfg.backoff_limit,
                    "activeDeadlineSeconds": cfg.active_deadline_seconds,
                    "ttlSecondsAfterFinished": cfg.ttl_seconds_after_finished,
                    "template": {
                        "metadata": {"labels": {**lbl, **r.pod_labels}},
                        "spec": r.pod_spec(container, restartPolicy="Never"),
                    },
                },
            },
        },
        opts=opts(),
    )
    # Reaches what the app reaches; serves nothing.
    return Workload(name=full, pod_labels=selector, egress_to=list(r.egress))


def _worker(resource: str, ctx: ClientContext, r: PodRecipe, full: str, cfg: Any,
            opts: Callable[..., pulumi.ResourceOptions]) -> Workload:
    selector = _selector(ctx, full)
    lbl = {**r.labels, **selector, "app.kubernetes.io/component": WORKER_COMPONENT}
    if cfg.probe_command:
        probe = {"exec": {"command": list(cfg.probe_command)}, "periodSeconds": 30, "timeoutSeconds": 10,
                 "failureThreshold": 3}
        liveness, readiness = probe, probe
    else:
        liveness = _with_path(r.liveness, cfg.liveness_path)
        readiness = _with_path(r.readiness, cfg.readiness_path)
    container: dict[str, Any] = {"name": full, "image": r.image, "env": r.env(dict(cfg.env)),
                                 "resources": r.resources(cfg.resources),
                                 "livenessProbe": liveness, "readinessProbe": readiness}
    if cfg.command:
        container["command"] = list(cfg.command)
    if cfg.args:
        container["args"] = list(cfg.args)
    if not cfg.probe_command:
        container["ports"] = [{"name": "http", "containerPort": r.port, "protocol": "TCP"}]
    # Rolls when the app's config or its own changes, like the app.
    checksum = pulumi.Output.from_input({
        "env": {**r.plain_env, **cfg.env}, "image": r.image, "secretKeys": r.secret_keys, "secretData": r.secret_data,
        "command": cfg.command, "args": cfg.args,
    }).apply(config_checksum)
    KubeObject(
        resource, "apps/v1", "Deployment",
        metadata=meta(full, ctx.namespace, labels=lbl),
        # Jobs in flight get a longer grace period to finish or hand back their work.
        spec=rolling_deployment_spec(cfg.replicas, selector, {**lbl, **r.pod_labels}, checksum,
                                     r.pod_spec(container, terminationGracePeriodSeconds=60)),
        opts=opts(),
    )
    disruption_budget(f"{resource}-pdb", meta(full, ctx.namespace, labels=lbl), selector, cfg.replicas, opts())
    return Workload(name=full, pod_labels=selector, egress_to=list(r.egress))


def _with_path(probe: dict[str, Any], path: str | None) -> dict[str, Any]:
    if not path:
        return probe
    return {**probe, "httpGet": {**probe["httpGet"], "path": path}}
