"""The shared Envoy Gateway: controller, GatewayClass, one shared Gateway and the traffic policies
that make its limits explicit (LESSONS.md: 413s from a silent 1 MB body limit, 431s from header size,
merged HTTP listeners breaking HTTP-01, fields that did not exist in the CRDs).

Gateway API CRDs — one source only: the envoy-gateway chart (`crds.enabled: true`, its default)
installs Gateway API v1.6.1 *experimental*-channel CRDs. The standard-channel bundle
(`gateway-api/crds.yaml` upstream) has no chart, we cannot fetch release URLs at deploy time and we do
not vendor upstream files, so installing it separately would mean a second, clashing owner of the same
CRDs. The chart is therefore the single owner. Our Gateway/HTTPRoute/BackendTLSPolicy objects use only
standard-channel fields (the conformance check validates them against the standard CRDs), so moving to
the standard bundle later (gateway-crds-helm with `crds.gatewayAPI.channel: standard`) changes nothing
in them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pulumi

from lfh.config.platform import GatewayConfig

from ..cluster.contract import ClusterContract
from ._helpers import custom_resource, namespace, place, placement, release, resources, restricted_container, restricted_pod
from .contract import CLIENT_NAMESPACE_LABEL, GatewayRef
from .network import ANYONE, CONTROL_PLANE, GATEWAY, KUBE_API, PROMETHEUS, PlatformNetwork, PodSet, Port, To

GATEWAY_API = "gateway.networking.k8s.io/v1"
EG_API = "gateway.envoyproxy.io/v1alpha1"
GATEWAY_CLASS = "envoy-gateway"
ENVOY_PROXY = "shared-proxy"
CONTROLLER_NAME = "gateway.envoyproxy.io/gatewayclass-controller"


#: Envoy Gateway binds a listener on a privileged port (< 1024) to port + 10000 inside the proxy pod,
#: so it needs no NET_BIND_SERVICE (envoyproxy/gateway, gatewayapi `servicePortToContainerPort`).
WELL_KNOWN_PORT_SHIFT = 10000
#: The proxies' Prometheus stats port (Envoy Gateway's proxy container port `metrics`).
PROXY_METRICS_PORT = 19001
#: Port of cert-manager's ACME HTTP-01 solver pods (cert-manager `acmesolver` listens on 8089).
ACME_SOLVER_PORT = 8089


#: The proxies' access log (HIPAA 164.312(b)): one JSON line per request on stdout, which the cluster's
#: log agent ships to the platform's log store. Envoy command operators
#: (https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage#command-operators):
#: `%REQ_WITHOUT_QUERY(...)%` is the path *without* its query string, which may carry PHI (search terms,
#: patient ids); no body, Referer or query operator is logged. The client is the route's namespace: Envoy
#: Gateway names xDS routes `httproute/<namespace>/<name>/rule/<n>/…` (%ROUTE_NAME%) and puts the route's
#: kind/namespace/name in its metadata `envoy-gateway.resources` (docs, "Gateway API Metadata"). Envoy Gateway
#: adds the `req_without_query` and `metadata` formatter extensions itself when a format uses them
#: (internal/xds/translator/accesslog.go: reqWithoutQueryCommandOperator, metadataCommandOperator).
#: Without this, Envoy Gateway's default format logs `%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%`, query included.
ACCESS_LOG_FIELDS: dict[str, str] = {
    "start_time": "%START_TIME%",
    "route_name": "%ROUTE_NAME%",
    "route": "%METADATA(ROUTE:envoy-gateway:resources)%",
    "authority": "%REQ(:AUTHORITY)%",
    "method": "%REQ(:METHOD)%",
    "path": "%REQ_WITHOUT_QUERY(X-ENVOY-ORIGINAL-PATH?:PATH)%",
    "protocol": "%PROTOCOL%",
    "response_code": "%RESPONSE_CODE%",
    "response_flags": "%RESPONSE_FLAGS%",
    "duration_ms": "%DURATION%",
    "upstream_service_time_ms": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
    "bytes_received": "%BYTES_RECEIVED%",
    "bytes_sent": "%BYTES_SENT%",
    "client_address": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
    "upstream_host": "%UPSTREAM_HOST%",
    "request_id": "%REQ(X-REQUEST-ID)%",
}


def access_log() -> dict[str, Any]:
    """EnvoyProxy `spec.telemetry.accessLog` (gateway.envoyproxy.io/v1alpha1, v1.9.0 CRD): JSON to stdout."""
    return {"settings": [{"format": {"type": "JSON", "json": dict(ACCESS_LOG_FIELDS)},
                          "sinks": [{"type": "File", "file": {"path": "/dev/stdout"}}]}]}


def proxy_container_port(listener_port: int) -> int:
    return listener_port + WELL_KNOWN_PORT_SHIFT if listener_port < 1024 else listener_port


def proxy_pod_labels(ref: GatewayRef) -> dict[str, str]:
    """Labels Envoy Gateway puts on the shared Gateway's proxy pods (envoyproxy/gateway
    internal/infrastructure/kubernetes/proxy `EnvoyAppLabel` + the owning-gateway labels)."""
    return {"app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy",
            "app.kubernetes.io/managed-by": "envoy-gateway",
            "gateway.envoyproxy.io/owning-gateway-name": ref.name,
            "gateway.envoyproxy.io/owning-gateway-namespace": ref.namespace}


def network_pods(ref: GatewayRef, *, http01: bool) -> list[PodSet]:
    """The pods of envoy-gateway-system (labels and ports as the gateway-helm chart v1.9.0 renders them)."""
    ns = ref.namespace
    controller = PodSet(
        "envoy-gateway", ns, {"control-plane": "envoy-gateway", "app.kubernetes.io/name": "gateway-helm",
                              "app.kubernetes.io/instance": "envoy-gateway"},
        ports=(Port("grpc", 18000), Port("metrics", 19001, (PROMETHEUS,)),
               # The topology-injector MutatingWebhookConfiguration calls this port.
               Port("webhook", 9443, (CONTROL_PLANE,))),
        connects_to=(KUBE_API,),
        closed={18001: "no rate-limit service is deployed (local rate limits only)",
                18002: "no Wasm extension is configured"})
    proxies = PodSet(
        "envoy", ns, proxy_pod_labels(ref), role=GATEWAY,
        # Listeners are public: any address (the load balancer keeps client IPs) and any pod.
        ports=(Port("http", proxy_container_port(80), (ANYONE,)), Port("https", proxy_container_port(443), (ANYONE,)),
               Port("metrics", PROXY_METRICS_PORT, (PROMETHEUS,))),
        # xDS from the controller; every routed backend is added from the backends' declarations.
        connects_to=(To("envoy-gateway", ("grpc",)),))
    certgen = PodSet("certgen", ns, {"app": "certgen"}, connects_to=(KUBE_API,))  # pre-install hook Job
    out = [controller, proxies, certgen]
    if http01:
        # cert-manager runs the HTTP-01 solver in the Certificate's namespace (here: the gateway
        # certificates') and routes /.well-known/acme-challenge to it through the Gateway.
        out.append(PodSet("acme-http01-solver", ns, {"acme.cert-manager.io/http01-solver": "true"},
                          ports=(Port("http", ACME_SOLVER_PORT, (GATEWAY,)),)))
    return out


def tls_secret_name(domain: str) -> str:
    """Secret holding the wildcard certificate of ``domain`` (in the gateway namespace)."""
    return "wildcard-" + domain.replace(".", "-") + "-tls"


@dataclass
class Listener:
    name: str
    hostname: str
    domain: str
    secret: str


@dataclass
class GatewayPlan:
    """Names decided before anything is created (other add-ons and the contract read them)."""

    namespace: str
    name: str
    listeners: list[Listener] = field(default_factory=list)

    @classmethod
    def of(cls, ref: GatewayRef, domains: Sequence[str]) -> "GatewayPlan":
        listeners = []
        for i, domain in enumerate(domains):
            # Distinct listener names and hostnames: merged listeners broke HTTP-01 (LESSONS.md).
            lname = ref.https_listener if i == 0 else f"{ref.https_listener}-{i}"
            listeners.append(Listener(lname, f"*.{domain}", domain, tls_secret_name(domain)))
        return cls(ref.namespace, ref.name, listeners)


class Gateway(pulumi.ComponentResource):
    """Envoy Gateway controller + GatewayClass + EnvoyProxy + the shared Gateway + its policies."""

    def __init__(self, name: str, cfg: GatewayConfig, cluster: ClusterContract, ref: GatewayRef,
                 domains: Sequence[str], *, network: PlatformNetwork,
                 chart_versions: Mapping[str, str] | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:platform:Gateway", name, None, opts)
        self.chart_versions = dict(chart_versions or {})  # stack-level pin overrides (warned)
        p = cluster.provider
        self.ref = ref
        self.plan = GatewayPlan.of(ref, domains)
        ns_name = ref.namespace

        # Envoy Gateway's controller and proxies run as uid 65532 with every capability dropped:
        # `restricted` fits.
        self.namespace = namespace(self, p, ns_name, level="restricted", component="gateway",
                                   depends_on=cluster.ready)
        self.network_policies = network.create(self, p, ns_name, depends_on=[self.namespace])

        values: dict[str, Any] = {
            # Single owner of the Gateway API CRDs (see module docstring).
            "crds": {"enabled": True},
            "deployment": {
                "replicas": cfg.controller_replicas,
                "envoyGateway": {
                    "resources": resources(cfg.controller_resources),
                },
                "pod": {
                    # Spread controller replicas over nodes: a node drain must not stop config pushes.
                    "topologySpreadConstraints": [{
                        "maxSkew": 1,
                        "topologyKey": "kubernetes.io/hostname",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": {"control-plane": "envoy-gateway"}},
                    }],
                },
            },
            # Keep one controller up during voluntary disruptions (the chart's default is 0).
            "podDisruptionBudget": {"minAvailable": 1 if cfg.controller_replicas > 1 else 0},
            "certgen": {"job": {"resources": {
                "requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}}},
            "config": {"envoyGateway": {
                "gateway": {"controllerName": CONTROLLER_NAME},
                "provider": {"type": "Kubernetes"},
                "logging": {"level": {"default": "info"}},
                # EnvoyPatchPolicy is the only way in v1.9.0 to raise max_request_headers_kb and to stop
                # Envoy from writing its own `Server` header (ClientTrafficPolicy lacks both fields).
                "extensionApis": {"enableEnvoyPatchPolicy": True},
            }},
        }
        system = placement(cluster)  # the controller and the proxies run on the system pool
        place(values, ["deployment.pod", "certgen.job"], system)
        self.release = release(self, p, "envoy-gateway", namespace=self.namespace, values=values,
                               depends_on=self.network_policies)
        crd_deps = [self.release]

        selector = {"matchLabels": proxy_pod_labels(ref)}
        service: dict[str, Any] = {
            "type": "LoadBalancer",
            # Local: the LB hands the proxy the real client IP (rate limit and blocklist are per client).
            "externalTrafficPolicy": "Local",
            "annotations": dict(cluster.load_balancer_annotations),
        }
        self.envoy_proxy = custom_resource(
            self, p, "envoyproxy", api_version=EG_API, kind="EnvoyProxy", name=ENVOY_PROXY, namespace=ns_name,
            component="gateway", depends_on=crd_deps,
            spec={
                "provider": {"type": "Kubernetes", "kubernetes": {
                    "envoyDeployment": {
                        "replicas": cfg.proxy_replicas,
                        # Replaces Envoy Gateway's default container securityContext; the root file
                        # system stays writable as in that default (Envoy writes to its working dir).
                        "container": {"resources": resources(cfg.proxy_resources),
                                      "securityContext": restricted_container(read_only_root=False)},
                        "pod": {
                            **system,
                            "securityContext": restricted_pod(),
                            # Required anti-affinity: two proxies never share a node, so one node loss
                            # never takes the whole ingress down.
                            "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                                "labelSelector": selector, "topologyKey": "kubernetes.io/hostname"}]}},
                        },
                    },
                    "envoyPDB": {"minAvailable": 1},
                    "envoyService": service,
                }},
                "telemetry": {"accessLog": access_log()},
            },
        )
        self.gateway_class = custom_resource(
            self, p, "gatewayclass", api_version=GATEWAY_API, kind="GatewayClass", name=GATEWAY_CLASS,
            component="gateway", depends_on=crd_deps + [self.envoy_proxy],
            spec={"controllerName": CONTROLLER_NAME,
                  "parametersRef": {"group": "gateway.envoyproxy.io", "kind": "EnvoyProxy",
                                    "name": ENVOY_PROXY, "namespace": ns_name}},
        )

        client_routes = {"namespaces": {"from": "Selector", "selector": {
            "matchLabels": {CLIENT_NAMESPACE_LABEL: "true"}}}}
        listeners: list[dict[str, Any]] = [{
            # Plain HTTP exists only to redirect to HTTPS and to answer ACME HTTP-01 challenges; only
            # routes in the gateway's own namespace (the redirect, cert-manager's solver) attach.
            "name": "http", "protocol": "HTTP", "port": 80,
            "allowedRoutes": {"namespaces": {"from": "Same"}, "kinds": [{"kind": "HTTPRoute"}]},
        }]
        for lst in self.plan.listeners:
            listeners.append({
                "name": lst.name, "protocol": "HTTPS", "port": 443, "hostname": lst.hostname,
                "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": lst.secret}]},
                "allowedRoutes": {**client_routes, "kinds": [{"kind": "HTTPRoute"}]},
            })
        self.gateway = custom_resource(
            self, p, "gateway", api_version=GATEWAY_API, kind="Gateway", name=ref.name, namespace=ns_name,
            component="gateway", depends_on=crd_deps + [self.gateway_class], spec={
                "gatewayClassName": GATEWAY_CLASS, "listeners": listeners,
                # Client hostnames outside the platform's domains get their HTTPS listeners from one
                # ListenerSet per client (Gateway API v1.6.1 standard channel; Envoy Gateway reconciles
                # ListenerSets unconditionally since v1.8.0, release-notes/v1.8.0.yaml), never from this
                # Gateway's own list: a Gateway holds at most 64 listeners (CRD maxItems), a ListenerSet
                # another 64, and a client's listener change edits only its own object. Only ListenerSets
                # in this namespace attach (`Same`): client stacks put theirs here next to the
                # Certificates, whose ACME HTTP-01 routes must land in this namespace too (see `http`).
                "allowedListeners": {"namespaces": {"from": "Same"}}})

        gw_target = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": ref.name}
        after_gateway = crd_deps + [self.gateway]
        self.redirect = custom_resource(
            self, p, "redirect", api_version=GATEWAY_API, kind="HTTPRoute", name="https-redirect",
            namespace=ns_name, component="gateway", depends_on=after_gateway, spec={
                "parentRefs": [{"name": ref.name, "sectionName": "http"}],
                # ACME solver routes match `/.well-known/acme-challenge/<token>` exactly and win over
                # this catch-all by Gateway API precedence (longest path match).
                "rules": [{"filters": [{"type": "RequestRedirect", "requestRedirect": {
                    "scheme": "https", "statusCode": 301}}]}],
            })

        hsts = f"max-age={cfg.hsts_max_age}" + ("; includeSubDomains" if cfg.hsts_include_subdomains else "")
        self.client_policy = custom_resource(
            self, p, "client-traffic", api_version=EG_API, kind="ClientTrafficPolicy", name="shared-client-traffic",
            namespace=ns_name, component="gateway", depends_on=after_gateway, spec={
                "targetRefs": [gw_target],
                # Client IP = the address the LB passes through, or the Nth X-Forwarded-For hop.
                "clientIPDetection": {"xForwardedFor": {"numTrustedHops": cfg.trusted_hops}},
                # Per-connection buffer ≥ the body limit, so a buffering filter never 413s a legal upload.
                "connection": {"bufferLimit": cfg.request_body_limit},
                "timeout": {"http": {
                    # WebSockets stay open while idle up to this long (Syncd).
                    "streamIdleTimeout": cfg.stream_idle_timeout,
                    "idleTimeout": cfg.stream_idle_timeout,
                }},
                "headers": {
                    # `X_Forwarded_For` must not pass as a second spelling of a trusted header.
                    "withUnderscoresAction": "DropHeader",
                    # Security headers on every response; upstream `Server` headers stripped.
                    "lateResponseHeaders": {
                        "set": [
                            {"name": "Strict-Transport-Security", "value": hsts},
                            {"name": "X-Content-Type-Options", "value": "nosniff"},
                            {"name": "X-Frame-Options", "value": "DENY"},
                            {"name": "Referrer-Policy", "value": cfg.referrer_policy},
                        ],
                        "remove": ["Server", "X-Powered-By"],
                    },
                },
                "path": {"escapedSlashesAction": "UnescapeAndRedirect"},
            })
        self.backend_policy = custom_resource(
            self, p, "backend-traffic", api_version=EG_API, kind="BackendTrafficPolicy", name="shared-backend-traffic",
            namespace=ns_name, component="gateway", depends_on=after_gateway, spec={
                "targetRefs": [gw_target],
                "timeout": {"http": {"requestTimeout": cfg.request_timeout}},
                # Local (per-proxy) rate limit per distinct client IP: needs no Redis rate-limit service.
                "rateLimit": {"local": {"rules": [{
                    "clientSelectors": [{"sourceCIDR": {"type": "Distinct", "value": "0.0.0.0/0"}}],
                    "limit": {"requests": cfg.rate_limit_per_client, "unit": cfg.rate_limit_unit},
                }]}},
            })
        authz: dict[str, Any] = {"defaultAction": "Allow"}
        if cfg.blocked_cidrs:
            authz["rules"] = [{"name": "blocked-cidrs", "action": "Deny",
                               "principal": {"clientCIDRs": list(cfg.blocked_cidrs)}}]
        self.security_policy = custom_resource(
            self, p, "security", api_version=EG_API, kind="SecurityPolicy", name="shared-security",
            namespace=ns_name, component="gateway", depends_on=after_gateway, spec={
                "targetRefs": [gw_target], "authorization": authz})

        hcm = "..filters[?(@.name=='envoy.filters.network.http_connection_manager')].typed_config"
        patches = []
        for listener in ["http"] + [lst.name for lst in self.plan.listeners[:1]]:
            # Listeners on one port share one xDS listener, named after its first Gateway listener.
            xds = f"{ns_name}/{ref.name}/{listener}"
            patches += [
                {"type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": xds,
                 "operation": {"op": "add", "jsonPath": hcm, "path": "max_request_headers_kb",
                               "value": cfg.max_request_headers_kb}},
                # Never add Envoy's own `Server: envoy` header (the upstream one is removed above).
                {"type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": xds,
                 "operation": {"op": "add", "jsonPath": hcm, "path": "server_header_transformation",
                               "value": "PASS_THROUGH"}},
            ]
        self.patch_policy = custom_resource(
            self, p, "envoy-patch", api_version=EG_API, kind="EnvoyPatchPolicy", name="shared-hcm-limits",
            namespace=ns_name, component="gateway", depends_on=after_gateway, spec={
                "targetRef": gw_target, "type": "JSONPatch", "jsonPatches": patches})

        self.register_outputs({"gateway": ref.name, "namespace": ns_name})
