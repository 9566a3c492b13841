"""HTTPRoutes on the shared Gateway for the client's hostnames, and TLS where the platform's wildcard
listeners don't cover them.

A hostname under one of the platform's gateway domains attaches to that domain's wildcard listener.
Any other hostname (a client's own domain) gets an **exact-hostname HTTPS listener** on the shared
Gateway, added by this stack with a server-side-apply patch (`spec.listeners` is a list map keyed by
name, so each stack owns only its own entries), plus a cert-manager Certificate for those hosts. The
listener admits routes from this client's namespace only, and exact hostnames avoid the 421s that
HTTP/2 connection coalescing causes under one wildcard certificate (LESSONS.md). The Certificate and
its Secret live in the gateway's namespace, next to the platform's own listener certificates, so the
Gateway needs no cross-namespace grant and the issuer's HTTP-01 solver works as it does for them.
"""
from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from ..k8s import MANAGED_BY, PART_OF, child_opts, meta
from .contract import ClientContext, RouteSpec

GATEWAY_API = "gateway.networking.k8s.io/v1"
NS_NAME_LABEL = "kubernetes.io/metadata.name"


def covered_by_wildcard(host: str, wildcards: list[str]) -> bool:
    """`*.example.com` covers `api.example.com` (exactly one label deeper), not `a.b.example.com`."""
    return any(_covers(w, host) for w in wildcards)


def _covers(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        suffix = pattern[1:]
        return host.endswith(suffix) and "." not in host[: -len(suffix)] and len(host) > len(suffix)
    return host == pattern


def platform_listener(ctx: ClientContext, host: str) -> str | None:
    """The platform listener (sectionName) whose hostname covers ``host``, if any."""
    gw = ctx.platform.gateway
    listeners = dict(getattr(gw, "listeners", None) or {})
    for pattern, name in listeners.items():
        if _covers(pattern, host):
            return name
    if not listeners and covered_by_wildcard(host, list(gw.wildcard_domains)):
        return gw.https_listener       # contract without a listener table: one wildcard listener
    return None


def client_listener_name(ctx: ClientContext, route: RouteSpec) -> str:
    return f"{ctx.namespace}-{route.name}"


def route_spec(ctx: ClientContext, r: RouteSpec, section: str) -> dict:
    gw = ctx.platform.gateway
    timeouts = {"request": r.request_timeout}
    if r.backend_timeout:
        timeouts["backendRequest"] = r.backend_timeout
    return {
        "parentRefs": [{
            "group": "gateway.networking.k8s.io", "kind": "Gateway",
            "name": gw.name, "namespace": gw.namespace, "sectionName": section,
        }],
        "hostnames": [r.hostname],
        "rules": [{
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
            "backendRefs": [{"group": "", "kind": "Service", "name": r.service, "port": r.port, "weight": 1}],
            # Explicit, never the implementation's default (LESSONS.md); "0s" disables it (WebSockets,
            # whose idle connections the gateway's stream idle timeout ends).
            "timeouts": timeouts,
        }],
    }


class Routes(pulumi.ComponentResource):
    """One HTTPRoute per RouteSpec; own listeners + Certificate for hosts the platform doesn't cover."""

    def __init__(self, name: str, ctx: ClientContext, routes: list[RouteSpec],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:client:Routes", name, None, opts)
        ns = ctx.namespace
        gw = ctx.platform.gateway
        seen: dict[str, str] = {}
        for r in routes:
            if r.hostname in seen:
                raise ValueError(f"hostname {r.hostname!r} is used by both {seen[r.hostname]!r} and {r.name!r}")
            seen[r.hostname] = r.name
        deps = [ctx.namespace_resource]
        sections = {r.name: platform_listener(ctx, r.hostname) or client_listener_name(ctx, r) for r in routes}
        own = [r for r in routes if platform_listener(ctx, r.hostname) is None]
        self.uncovered = sorted(r.hostname for r in own)
        self.tls_secret = f"{ns}-tls" if own else None
        after_listeners: list[pulumi.Resource] = []

        if own:
            tls_labels = {**ctx.labels, "app.kubernetes.io/name": self.tls_secret, "app.kubernetes.io/component": "tls"}
            issuer = (ctx.platform.issuers or {}).get("public") or "letsencrypt"
            cert = k8s.apiextensions.CustomResource(
                f"{name}-certificate",
                api_version="cert-manager.io/v1",
                kind="Certificate",
                metadata=meta(self.tls_secret, gw.namespace, labels=tls_labels),
                spec={
                    "secretName": self.tls_secret,
                    "secretTemplate": {"labels": tls_labels},
                    "dnsNames": self.uncovered,
                    "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": issuer},
                    "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                    "duration": "2160h",
                    "renewBefore": "720h",
                },
                opts=child_opts(self, ctx.provider, depends_on=deps),
            )
            listeners = [{
                "name": sections[r.name], "protocol": "HTTPS", "port": 443, "hostname": r.hostname,
                "tls": {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret", "name": self.tls_secret}]},
                # This client's namespace only: no other tenant can attach a route to its hostname.
                "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {"matchLabels": {NS_NAME_LABEL: ns}}},
                                  "kinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}]},
            } for r in sorted(own, key=lambda r: r.name)]
            self.listener_patch = k8s.apiextensions.CustomResourcePatch(
                f"{name}-listeners",
                api_version=GATEWAY_API,
                kind="Gateway",
                # Server-side apply with this patch's own field manager: it owns exactly these listener
                # entries; the platform's apply of the Gateway leaves them alone, deleting the client
                # stack removes them.
                # Only the labels the platform sets with the same values (shared ownership, no conflict);
                # per-client labels would collide between the clients sharing the Gateway.
                metadata={"name": gw.name, "namespace": gw.namespace,
                          "labels": {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": MANAGED_BY}},
                spec={"gatewayClassName": getattr(gw, "gateway_class", None) or "envoy-gateway", "listeners": listeners},
                opts=child_opts(self, ctx.provider, depends_on=[*deps, cert]),
            )
            after_listeners.append(self.listener_patch)

        self.routes = []
        for r in routes:
            labels = {**ctx.labels, "app.kubernetes.io/name": r.name, "app.kubernetes.io/component": "route"}
            annotations = {"lfh.io/websocket": "true"} if r.websocket else None
            self.routes.append(k8s.apiextensions.CustomResource(
                f"{name}-{r.name}",
                api_version=GATEWAY_API,
                kind="HTTPRoute",
                metadata=meta(r.name, ns, labels=labels, annotations=annotations),
                spec=route_spec(ctx, r, sections[r.name]),
                opts=child_opts(self, ctx.provider, depends_on=[*deps, *after_listeners]),
            ))
        self.register_outputs({"hostnames": sorted(seen), "tlsSecret": self.tls_secret})
