"""HTTPRoutes on the shared Gateway for the client's hostnames, and TLS where the platform's wildcard
listeners don't cover them.

A hostname under one of the platform's gateway domains attaches to that domain's wildcard listener.
Every other hostname (a client's own domain) gets an **exact-hostname HTTPS listener in the client's
own ListenerSet** (Gateway API v1.6.1, standard channel; reconciled by Envoy Gateway since v1.8.0),
attached to the shared Gateway, plus one cert-manager Certificate for those hosts. Why a ListenerSet
and not listeners on the Gateway: a Gateway holds at most 64 listeners (CRD `maxItems`), i.e. 15–30
such clients; each ListenerSet holds its own 64, any number of them attach to one Gateway, and a
client's change edits only its own object (the platform's Gateway and other clients' listeners are
never rewritten). Exact hostnames avoid the 421s that HTTP/2 connection coalescing causes under one
wildcard certificate (LESSONS.md); each listener admits routes from this client's namespace only.

The ListenerSet, the Certificate and its Secret live in the gateway's namespace: the Gateway admits
ListenerSets from its own namespace only (`allowedListeners: Same`), a ListenerSet reads Secrets of
its own namespace without a ReferenceGrant, and cert-manager creates the ACME HTTP-01 solver route in
the Certificate's namespace, which must be the one namespace the Gateway's plain-HTTP listener admits
routes from (so no tenant can answer a challenge for another tenant's hostname).

Status to watch: Envoy Gateway v1.9.0 sets the ListenerSet's `Accepted`/`Programmed` conditions and each
listener's (`Conflicted` when another listener on the port has the hostname; internal/gatewayapi/
listenerset.go), and counts attached ListenerSets in the Gateway's `status.attachedListenerSets`. Gateway-
wide policies apply to ListenerSet listeners too unless a ListenerSet-targeted policy overrides them
(v1.9.0 internal/gatewayapi/clienttrafficpolicy.go iterates the Gateway's merged listeners; testdata
backendtrafficpolicy-listenerset / securitypolicy-listenerset), so the platform's security headers,
limits and blocklist cover client hostnames; client stacks attach no policy to their ListenerSet.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_kubernetes as k8s

from ..k8s import child_opts, meta
from ..platform.contract import ACME_CHALLENGE_LABEL, DELEGATION_LABEL, DNS01_CNAME
from .contract import ClientContext, RouteSpec

if TYPE_CHECKING:
    from lfh.config import ClientConfig

    from ..platform.contract import PlatformContract

GATEWAY_API = "gateway.networking.k8s.io/v1"
GATEWAY_GROUP = "gateway.networking.k8s.io"
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


def listener_set_name(ctx: ClientContext) -> str:
    """The client's ListenerSet (in the gateway namespace): one per client environment."""
    return ctx.namespace


def tls_secret_name(ctx: ClientContext) -> str:
    return f"{ctx.namespace}-tls"


def parent_ref(ctx: ClientContext, r: RouteSpec) -> dict[str, Any]:
    """The route's parent: the platform's wildcard listener, or this client's own listener."""
    gw = ctx.platform.gateway
    section = platform_listener(ctx, r.hostname)
    if section is not None:
        return {"group": GATEWAY_GROUP, "kind": "Gateway", "name": gw.name, "namespace": gw.namespace,
                "sectionName": section}
    return {"group": GATEWAY_GROUP, "kind": "ListenerSet", "name": listener_set_name(ctx), "namespace": gw.namespace,
            "sectionName": r.name}


def route_spec(ctx: ClientContext, r: RouteSpec) -> dict:
    timeouts = {"request": r.request_timeout}
    if r.backend_timeout:
        timeouts["backendRequest"] = r.backend_timeout
    return {
        "parentRefs": [parent_ref(ctx, r)],
        "hostnames": [r.hostname],
        "rules": [{
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
            "backendRefs": [{"group": "", "kind": "Service", "name": r.service, "port": r.port, "weight": 1}],
            # Explicit, never the implementation's default (LESSONS.md); "0s" disables it (WebSockets,
            # whose idle connections the gateway's stream idle timeout ends).
            "timeouts": timeouts,
        }],
    }


def own_routes(ctx: ClientContext, routes: list[RouteSpec]) -> list[RouteSpec]:
    """Routes whose hostname no platform listener covers (they need this client's listeners)."""
    return sorted((r for r in routes if platform_listener(ctx, r.hostname) is None), key=lambda r: r.name)


def listener_set_spec(ctx: ClientContext, own: list[RouteSpec]) -> dict[str, Any]:
    """One exact-hostname HTTPS listener per own route, terminating TLS with the client's Certificate."""
    gw = ctx.platform.gateway
    return {
        "parentRef": {"group": GATEWAY_GROUP, "kind": "Gateway", "name": gw.name},
        "listeners": [{
            "name": r.name, "protocol": "HTTPS", "port": 443, "hostname": r.hostname,
            "tls": {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret", "name": tls_secret_name(ctx)}]},
            # This client's namespace only: no other tenant can attach a route to its hostname.
            "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {"matchLabels": {NS_NAME_LABEL: ctx.namespace}}},
                              "kinds": [{"group": GATEWAY_GROUP, "kind": "HTTPRoute"}]},
        } for r in own],
    }


def certificate_spec(ctx: ClientContext, own: list[RouteSpec], labels: dict[str, str]) -> dict[str, Any]:
    issuer = (ctx.platform.issuers or {}).get("public") or "letsencrypt-prod"
    return {
        "secretName": tls_secret_name(ctx),
        "secretTemplate": {"labels": labels},
        "dnsNames": sorted(r.hostname for r in own),
        "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": issuer},
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        "duration": "2160h",
        "renewBefore": "720h",
    }


def dns_records(ctx: ClientContext, own: list[RouteSpec]) -> list[dict[str, str]]:
    """The DNS records the client creates for its own hostnames (the stack output `dnsRecords`)."""
    gw = ctx.platform.gateway
    address = f"the shared Gateway's address (kubectl -n {gw.namespace} get gateway {gw.name} -o jsonpath='{{.status.addresses[0].value}}')"
    records = [{"name": r.hostname, "type": "CNAME (A/AAAA for an IP address)", "value": address} for r in own]
    if ctx.config.certificates.challenge == DNS01_CNAME:
        zone = (ctx.platform.issuers or {}).get("dns01DelegationZone") or ""
        records += [{"name": f"_acme-challenge.{r.hostname}", "type": "CNAME",
                     "value": f"{r.hostname}.{DELEGATION_LABEL}.{zone}"} for r in own]
    return records


def check_challenge(config: "ClientConfig", platform: "PlatformContract") -> None:
    """`certificates.challenge: dns01-cname` needs a platform that offers delegated DNS-01 (this check needs
    the contract, so `deploy_client` runs it before any resource exists)."""
    if config.certificates.challenge == DNS01_CNAME and not (platform.issuers or {}).get("dns01DelegationZone"):
        raise pulumi.RunError(
            f"lfh:client.certificates.challenge: `{DNS01_CNAME}` needs a platform whose issuers offer DNS-01 "
            f"(platform {platform.platform!r} answers ACME challenges with HTTP-01 only); allowed here: `http01`")


class Routes(pulumi.ComponentResource):
    """One HTTPRoute per RouteSpec; own ListenerSet + Certificate for hosts the platform doesn't cover."""

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
        own = own_routes(ctx, routes)
        self.uncovered = sorted(r.hostname for r in own)
        self.tls_secret = tls_secret_name(ctx) if own else None
        self.dns_records = dns_records(ctx, own)
        after_listeners: list[pulumi.Resource] = []

        if own:
            check_challenge(ctx.config, ctx.platform)
            challenge = ctx.config.certificates.challenge
            tls_labels = {**ctx.labels, "app.kubernetes.io/name": self.tls_secret, "app.kubernetes.io/component": "tls"}
            cert_labels = {**tls_labels, **({ACME_CHALLENGE_LABEL: DNS01_CNAME} if challenge == DNS01_CNAME else {})}
            cert = k8s.apiextensions.CustomResource(
                f"{name}-certificate",
                api_version="cert-manager.io/v1",
                kind="Certificate",
                metadata=meta(self.tls_secret, gw.namespace, labels=cert_labels),
                spec=certificate_spec(ctx, own, tls_labels),
                opts=child_opts(self, ctx.provider, depends_on=deps),
            )
            self.listener_set = k8s.apiextensions.CustomResource(
                f"{name}-listenerset",
                api_version=GATEWAY_API,
                kind="ListenerSet",
                metadata=meta(listener_set_name(ctx), gw.namespace,
                              labels={**ctx.labels, "app.kubernetes.io/name": listener_set_name(ctx),
                                      "app.kubernetes.io/component": "listeners"}),
                spec=listener_set_spec(ctx, own),
                opts=child_opts(self, ctx.provider, depends_on=[*deps, cert]),
            )
            after_listeners.append(self.listener_set)

        self.routes = []
        for r in routes:
            labels = {**ctx.labels, "app.kubernetes.io/name": r.name, "app.kubernetes.io/component": "route"}
            annotations = {"lfh.io/websocket": "true"} if r.websocket else None
            self.routes.append(k8s.apiextensions.CustomResource(
                f"{name}-{r.name}",
                api_version=GATEWAY_API,
                kind="HTTPRoute",
                metadata=meta(r.name, ns, labels=labels, annotations=annotations),
                spec=route_spec(ctx, r),
                opts=child_opts(self, ctx.provider, depends_on=[*deps, *after_listeners]),
            ))
        self.register_outputs({"hostnames": sorted(seen), "tlsSecret": self.tls_secret})
