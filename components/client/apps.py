"""HapiHub, MyCureApp and Syncd: thin configurations of WebService (facts from APPS.md)."""
from __future__ import annotations

from typing import Any, Optional

import pulumi

from lfh.config.client import AppConfig
from lfh.config.names import APP_HOST_PREFIXES

from .contract import TO_INTERNET_HTTPS, TO_SMTP, AppWiring, ClientContext, RouteSpec, Workload
from .webservice import Autoscaling, Probe, Route, WebService, WebServiceArgs

HAPIHUB_PORT = 7500
MYCUREAPP_PORT = 8080
SYNCD_PORT = 8080


def hostname(ctx: ClientContext, app: AppConfig, prefix: str) -> str:
    from lfh.config import names

    return names.app_hostname(app.hostname, prefix, ctx.config.domain)


def _autoscaling(app: AppConfig) -> Optional[Autoscaling]:
    if not app.hpa.enabled:
        return None
    h = app.hpa
    return Autoscaling(min_replicas=h.min_replicas or app.replicas, max_replicas=h.max_replicas,
                       cpu_utilization=h.cpu_utilization, memory_utilization=h.memory_utilization,
                       scale_down_stabilization_seconds=h.scale_down_stabilization_seconds)


def _common(app: AppConfig) -> dict[str, Any]:
    return dict(
        image=app.image, tag=app.tag or "", replicas=app.replicas, autoscaling=_autoscaling(app),
        requests=app.resources.requests.model_dump(), limits=app.resources.limits.model_dump(),
        read_only_root_filesystem=app.read_only_root_filesystem,
        metrics_path=app.metrics_path,
        egress_to=[TO_INTERNET_HTTPS] if app.internet_https else [],
    )


def node_env(ctx: ClientContext) -> str:
    """NODE_ENV: `production` on every deployed tier — Node libraries (Express …) switch to verbose
    errors with stack traces and dev behaviour otherwise; the tier goes in APP_ENVIRONMENT."""
    return "development" if ctx.environment == "development" else "production"


def _probe(default: Probe, override: Optional[str]) -> Probe:
    if override:
        default.path = override
    return default


class Apps(pulumi.ComponentResource):
    """The client's web apps; exposes their Workloads and RouteSpecs."""

    def __init__(self, name: str, ctx: ClientContext, *, secret_store: Optional[str],
                 wiring: list[AppWiring], shared_wiring: Optional[AppWiring] = None,
                 hapihub_sa_annotations: Optional[dict[str, Any]] = None,
                 hapihub_pod_labels: Optional[dict[str, str]] = None,
                 hapihub_egress: Optional[list[str]] = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:client:Apps", name, None, opts)
        cfg = ctx.config.apps
        env_name = ctx.environment
        self.services: dict[str, WebService] = {}
        # Secrets HapiHub and Syncd share (the JWT secret: Syncd verifies HapiHub's tokens).
        jwt = shared_wiring
        api_host = hostname(ctx, cfg.hapihub, APP_HOST_PREFIXES["hapihub"])

        if cfg.hapihub.enabled:
            h = cfg.hapihub
            port = h.port or HAPIHUB_PORT
            common = _common(h)
            if ctx.config.network.smtp_port:
                common["egress_to"].append(TO_SMTP)
            common["egress_to"] += [t for t in (hapihub_egress or []) if t not in common["egress_to"]]
            self.services["hapihub"] = WebService(
                f"{name}-hapihub", ctx,
                WebServiceArgs(
                    app="hapihub", port=port, service_port=port,
                    liveness=_probe(Probe("/health", 30, 10, 5, 3), h.liveness_path),
                    readiness=_probe(Probe("/ready", 10, 5, 3, 2), h.readiness_path),
                    env={"NODE_ENV": node_env(ctx), "APP_ENVIRONMENT": env_name,
                         "LOG_LEVEL": h.log_level, "PORT": str(port), "HOME": "/tmp", **h.env},
                    wiring=[*wiring, *([jwt] if jwt else [])],
                    secret_store=secret_store,
                    route=Route(api_host, request_timeout=h.request_timeout),
                    sa_annotations=dict(hapihub_sa_annotations or {}),
                    migration_command=list(h.migration_command) if h.run_migrations else None,
                    pod_labels=dict(hapihub_pod_labels or {}),
                    **common,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        if cfg.mycureapp.enabled:
            m = cfg.mycureapp
            port = m.port or MYCUREAPP_PORT
            self.services["mycureapp"] = WebService(
                f"{name}-mycureapp", ctx,
                WebServiceArgs(
                    app="mycureapp", port=port, service_port=80,
                    liveness=_probe(Probe("/", 10, 10, 3, 3), m.liveness_path),
                    readiness=_probe(Probe("/", 5, 5, 3, 3), m.readiness_path),
                    env={"VUE_APP_API_URL": f"https://{api_host}", "VUE_APP_ENVIRONMENT": env_name, **m.env},
                    route=Route(hostname(ctx, m, APP_HOST_PREFIXES["mycureapp"]), request_timeout=m.request_timeout),
                    # nginx runs as uid 101 and writes only its cache, pid and temp files.
                    run_as_user=101, run_as_group=101, fs_group=101,
                    scratch_dirs=["/tmp", "/var/cache/nginx", "/var/run"],
                    **_common(m),
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        if cfg.syncd.enabled:
            s = cfg.syncd
            port = s.port or SYNCD_PORT
            # Syncd needs the database and the JWT secret, nothing else of the data services.
            mongo = [w for w in wiring if any(k.startswith("MONGO") for k in w.secret_env)]
            self.services["syncd"] = WebService(
                f"{name}-syncd", ctx,
                WebServiceArgs(
                    app="syncd", port=port, service_port=port,
                    liveness=_probe(Probe("/health", 15, 10, 5, 3), s.liveness_path),
                    readiness=_probe(Probe("/ready", 5, 5, 3, 2), s.readiness_path),
                    env={"NODE_ENV": node_env(ctx), "APP_ENVIRONMENT": env_name, "PORT": str(port),
                         "HOME": "/tmp", **s.env},
                    wiring=[*mongo, *([jwt] if jwt else [])],
                    secret_store=secret_store,
                    # WebSockets: no request timeout; the gateway's stream idle timeout closes dead ones.
                    route=Route(hostname(ctx, s, APP_HOST_PREFIXES["syncd"]), request_timeout=s.request_timeout,
                                backend_timeout=s.request_timeout if s.request_timeout == "0s" else None,
                                websocket=True),
                    **_common(s),
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.workloads: list[Workload] = [w for svc in self.services.values() for w in svc.workloads]
        self.routes: list[RouteSpec] = [svc.route for svc in self.services.values() if svc.route]
        self.register_outputs({"apps": sorted(self.services)})
