"""HTTPRoutes on the shared Gateway for the client's hostnames, and their TLS certificate."""
from __future__ import annotations


import pulumi
import pulumi_kubernetes as k8s

from ..k8s import child_opts, meta
from .contract import FROM_GATEWAY, ClientContext, RouteSpec, Workload

#: cert-manager's HTTP-01 solver pods (created in the Certificate's namespace) and their port.
ACME_SOLVER_LABELS = {"acme.cert-manager.io/http01-solver": "true"}
ACME_SOLVER_PORT = 8089


def covered_by_wildcard(host: str, wildcards: list[str]) -> bool:
    """`*.example.com` covers `api.example.com` (exactly one label deeper), not `a.b.example.com`."""
    for w in wildcards:
        if w.startswith("*.") and host.endswith(w[1:]) and "." not in host[: -len(w) + 1]:
            return True
        if not w.startswith("*") and host == w:
            return True
    return False


def route_spec(ctx: ClientContext, r: RouteSpec) -> dict:
    gw = ctx.platform.gateway
    timeouts = {"request": r.request_timeout}
    if r.backend_timeout:
        timeouts["backendRequest"] = r.backend_timeout
    return {
        "parentRefs": [{
            "group": "gateway.networking.k8s.io", "kind": "Gateway",
            "name": gw.name, "namespace": gw.namespace, "sectionName": gw.https_listener,
        }],
        "hostnames": [r.hostname],
        "rules": [{
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
            "backendRefs": [{"group": "", "kind": "Service", "name": r.service, "port": r.port, "weight": 1}],
            # Explicit, never the implementation's default (LESSONS.md); "0s" disables it (WebSockets).
            "timeouts": timeouts,
        }],
    }


class Routes(pulumi.ComponentResource):
    """One HTTPRoute per RouteSpec; a Certificate when the platform's wildcard doesn't cover a host."""

    def __init__(self, name: str, ctx: ClientContext, routes: list[RouteSpec],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:client:Routes", name, None, opts)
        ns = ctx.namespace
        seen: dict[str, str] = {}
        for r in routes:
            if r.hostname in seen:
                raise ValueError(f"hostname {r.hostname!r} is used by both {seen[r.hostname]!r} and {r.name!r}")
            seen[r.hostname] = r.name
        deps = [ctx.namespace_resource]
        self.routes = []
        for r in routes:
            labels = {**ctx.labels, "app.kubernetes.io/component": "route", "lfh.io/route": r.name}
            annotations = {"lfh.io/websocket": "true"} if r.websocket else None
            self.routes.append(k8s.apiextensions.CustomResource(
                f"{name}-{r.name}",
                api_version="gateway.networking.k8s.io/v1",
                kind="HTTPRoute",
                metadata=meta(r.name, ns, labels=labels, annotations=annotations),
                spec=route_spec(ctx, r),
                opts=child_opts(self, ctx.provider, depends_on=deps),
            ))
        self.uncovered = sorted(h for h in seen if not covered_by_wildcard(h, list(ctx.platform.gateway.wildcard_domains)))
        self.tls_secret = None
        #: Pods the routes bring into the namespace (cert-manager's HTTP-01 solver), for the policies.
        self.workloads: list[Workload] = []
        if self.uncovered:
            # An HTTP-01 challenge is answered by a solver pod here, reached through the Gateway; the
            # default-deny policy would otherwise block it (DNS-01 issuers simply never start one).
            self.workloads.append(Workload(name="acme-http01-solver", pod_labels=dict(ACME_SOLVER_LABELS),
                                           ports=[ACME_SOLVER_PORT], routed_ports=[ACME_SOLVER_PORT],
                                           ingress_from=[FROM_GATEWAY]))
            # The Gateway serves these hosts from this Secret; a ReferenceGrant lets it read it across namespaces.
            self.tls_secret = f"{ns}-tls"
            issuer = (ctx.platform.issuers or {}).get("public") or "letsencrypt"
            k8s.apiextensions.CustomResource(
                f"{name}-certificate",
                api_version="cert-manager.io/v1",
                kind="Certificate",
                metadata=meta(self.tls_secret, ns, labels={**ctx.labels, "app.kubernetes.io/component": "tls"}),
                spec={
                    "secretName": self.tls_secret,
                    "dnsNames": self.uncovered,
                    "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": issuer},
                    "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                    "duration": "2160h",
                    "renewBefore": "720h",
                },
                opts=child_opts(self, ctx.provider, depends_on=deps),
            )
            k8s.apiextensions.CustomResource(
                f"{name}-tls-grant",
                api_version="gateway.networking.k8s.io/v1beta1",
                kind="ReferenceGrant",
                metadata=meta(f"{ns}-tls-gateway", ns, labels={**ctx.labels, "app.kubernetes.io/component": "tls"}),
                spec={
                    "from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                              "namespace": ctx.platform.gateway.namespace}],
                    "to": [{"group": "", "kind": "Secret", "name": self.tls_secret}],
                },
                opts=child_opts(self, ctx.provider, depends_on=deps),
            )
        self.register_outputs({"hostnames": sorted(seen), "tlsSecret": self.tls_secret})
