"""HapiHub, MyCureApp, Syncd and the client's satellite apps: configurations of WebService (facts from APPS.md).

Each app's environment is derived here from the stack: the data services it uses (their AppWiring), its
own `secretEnv` mapped to the secret manager, its public hostnames (HapiHub's EXTERNAL_ADDRESS and
CORS_ORIGINS come from them), and its scheduled jobs and workers.
"""
from __future__ import annotations

from typing import Any, Optional

import pulumi

from lfh.config.client import AppConfig, SatelliteConfig
from lfh.config.names import APP_HOST_PREFIXES, app_hostname

from .contract import TO_INTERNET_HTTPS, TO_SMTP, AppWiring, ClientContext, RouteSpec, Workload
from .network import TO_CLOUD_METADATA
from .webservice import Autoscaling, Probe, Route, WebService, WebServiceArgs

HAPIHUB_PORT = 7500
MYCUREAPP_PORT = 8080
SYNCD_PORT = 8080
#: Apps whose pages run in a browser and call HapiHub: their hostnames are HapiHub's CORS origins.
#: (Satellites count too, unless they are not exposed.)
BROWSER_APPS = ("mycureapp",)


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
        jobs=dict(app.jobs), workers=dict(app.workers),
    )


def node_env(ctx: ClientContext) -> str:
    """NODE_ENV: `production` on every deployed tier — Node libraries (Express …) switch to verbose
    errors with stack traces and dev behaviour otherwise; the tier goes in APP_ENVIRONMENT."""
    return "development" if ctx.environment == "development" else "production"


def _probe(default: Probe, override: Optional[str]) -> Probe:
    if override:
        default.path = override
    return default


def _route(ctx: ClientContext, app: str, **kwargs: Any) -> Optional[Route]:
    hosts = ctx.config.hostnames(app)
    return Route(hosts[0], extra_hostnames=hosts[1:], **kwargs) if hosts else None


def cors_origins(ctx: ClientContext) -> list[str]:
    """The browser origins HapiHub allows: every hostname of MyCureApp and the exposed satellites, plus
    `apps.hapihub.extraCorsOrigins` (HapiHub's CORS_ORIGINS is a comma-separated list of origins)."""
    cfg = ctx.config
    apps = [*BROWSER_APPS, *cfg.apps.satellites]
    origins = [f"https://{h}" for a in apps for h in cfg.hostnames(a)]
    return list(dict.fromkeys([*origins, *cfg.apps.hapihub.extra_cors_origins]))


class Apps(pulumi.ComponentResource):
    """The client's web apps; exposes their Workloads and RouteSpecs.

    ``services``: the data services by name (`mongodb`, `objectStorage`, `search` when on), each with
    `.wiring` (and MongoDB `.wiring_for(database)`, object storage `.bindings` per ServiceAccount).
    ``secrets``: the ClientSecrets (SecretStore name, app secret holders, the shared JWT wiring).
    """

    def __init__(self, name: str, ctx: ClientContext, *, secrets: Any, services: dict[str, Any],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:client:Apps", name, None, opts)
        cfg = ctx.config.apps
        env_name = ctx.environment
        self.ctx = ctx
        self.secrets = secrets
        self.services_by_name = services
        self.services: dict[str, WebService] = {}
        # Secrets HapiHub and Syncd share (the JWT secret: Syncd verifies HapiHub's tokens).
        jwt = secrets.wiring
        api_url = f"https://{app_hostname(cfg.hapihub.hostname, APP_HOST_PREFIXES['hapihub'], ctx.config.domain)}"
        child = pulumi.ResourceOptions(parent=self)

        if cfg.hapihub.enabled:
            h = cfg.hapihub
            port = h.port or HAPIHUB_PORT
            common = _common(h)
            if ctx.config.network.smtp_port:
                common["egress_to"].append(TO_SMTP)
            wiring = [*(s.wiring for s in services.values()), jwt]
            self._add("hapihub", WebServiceArgs(
                app="hapihub", port=port, service_port=port,
                liveness=_probe(Probe("/health", 30, 10, 5, 3), h.liveness_path),
                readiness=_probe(Probe("/ready", 10, 5, 3, 2), h.readiness_path),
                env={"NODE_ENV": node_env(ctx), "APP_ENVIRONMENT": env_name,
                     "LOG_LEVEL": h.log_level, "PORT": str(port), "HOME": "/tmp",
                     # Its public address (OAuth callbacks, e-mail links) and the browser origins it
                     # answers, both derived from the routed hostnames.
                     "EXTERNAL_ADDRESS": api_url, "CORS_ORIGINS": ",".join(cors_origins(ctx)), **h.env},
                wiring=wiring, route=_route(ctx, "hapihub", request_timeout=h.request_timeout),
                migration_command=list(h.migration_command) if h.run_migrations else None,
                **common,
            ), h, child)

        if cfg.mycureapp.enabled:
            m = cfg.mycureapp
            port = m.port or MYCUREAPP_PORT
            self._add("mycureapp", WebServiceArgs(
                app="mycureapp", port=port, service_port=80,
                liveness=_probe(Probe("/", 10, 10, 3, 3), m.liveness_path),
                readiness=_probe(Probe("/", 5, 5, 3, 3), m.readiness_path),
                env={"VUE_APP_API_URL": api_url, "VUE_APP_ENVIRONMENT": env_name, **m.env},
                route=_route(ctx, "mycureapp", request_timeout=m.request_timeout),
                # nginx runs as uid 101 and writes only its cache, pid and temp files.
                run_as_user=101, run_as_group=101, fs_group=101,
                scratch_dirs=["/tmp", "/var/cache/nginx", "/var/run"],
                **_common(m),
            ), m, child)

        if cfg.syncd.enabled:
            s = cfg.syncd
            port = s.port or SYNCD_PORT
            # Syncd needs the database and the JWT secret, nothing else of the data services.
            self._add("syncd", WebServiceArgs(
                app="syncd", port=port, service_port=port,
                liveness=_probe(Probe("/health", 15, 10, 5, 3), s.liveness_path),
                readiness=_probe(Probe("/ready", 5, 5, 3, 2), s.readiness_path),
                env={"NODE_ENV": node_env(ctx), "APP_ENVIRONMENT": env_name, "PORT": str(port),
                     "HOME": "/tmp", **s.env},
                wiring=[self._database(None), jwt],
                # WebSockets: no request timeout; the gateway's stream idle timeout closes dead ones.
                route=_route(ctx, "syncd", request_timeout=s.request_timeout,
                             backend_timeout=s.request_timeout if s.request_timeout == "0s" else None,
                             websocket=True),
                **_common(s),
            ), s, child)

        for sat_name, sat in cfg.satellites.items():
            if sat.enabled:
                self._satellite(sat_name, sat, api_url, child)

        self.workloads: list[Workload] = [w for svc in self.services.values() for w in svc.workloads]
        self.routes: list[RouteSpec] = [r for svc in self.services.values() for r in svc.routes]
        self.register_outputs({"apps": sorted(self.services)})

    # ------------------------------------------------------------------ helpers
    def _add(self, app: str, args: WebServiceArgs, cfg: AppConfig, opts: pulumi.ResourceOptions) -> None:
        """Finish an app's args with what every app gets (its secret env, its cloud identity) and create it."""
        args.secret_store = self.secrets.store_name
        if cfg.secret_env:
            args.wiring = [*args.wiring, self.secrets.app_wiring(app, dict(cfg.secret_env))]
        # Cloud object storage: the apps that use the bucket run under its identity (objectstore.bucket_users).
        binding = (getattr(self.services_by_name.get("objectStorage"), "bindings", None) or {}).get(app)
        if binding is not None:
            args.sa_annotations = dict(binding.annotations or {})
            args.pod_labels = dict(binding.pod_labels or {})
            if (self.ctx.platform.cloud or {}).get("kind") == "gcp":
                # GKE Workload Identity hands out tokens through the node's metadata server.
                args.egress_to = [*args.egress_to, TO_CLOUD_METADATA]
        self.services[app] = WebService(f"{self._name}-{app}", self.ctx, args, opts=opts)

    def _database(self, database: Optional[str]) -> AppWiring:
        mongo = self.services_by_name["mongodb"]
        return mongo.wiring_for(database) if database else mongo.wiring

    def _satellite(self, name: str, sat: SatelliteConfig, api_url: str, opts: pulumi.ResourceOptions) -> None:
        wiring: list[AppWiring] = []
        egress: list[str] = []
        for target in sat.reaches:
            if target == "mongodb":
                wiring.append(self._database(sat.database))
            elif target in self.services_by_name:
                wiring.append(self.services_by_name[target].wiring)
            else:
                egress.append(target)  # another app: a workload-to-workload rule on both sides
        common = _common(sat)
        common["egress_to"] += egress
        lv, rd = sat.liveness, sat.readiness
        self._add(name, WebServiceArgs(
            app=name, port=sat.port, service_port=sat.port,
            liveness=Probe(lv.path, lv.initial_delay_seconds, lv.period_seconds, lv.timeout_seconds, lv.failure_threshold),
            readiness=Probe(rd.path, rd.initial_delay_seconds, rd.period_seconds, rd.timeout_seconds, rd.failure_threshold),
            env={"API_URL": api_url, "APP_ENVIRONMENT": self.ctx.environment, "HOME": "/tmp", **sat.env},
            wiring=wiring,
            route=_route(self.ctx, name, request_timeout=sat.request_timeout) if sat.expose else None,
            run_as_user=sat.run_as_user, run_as_group=sat.run_as_group, fs_group=sat.run_as_group,
            scratch_dirs=list(sat.scratch_dirs), component="app",
            **common,
        ), sat, opts)

