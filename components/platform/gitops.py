"""Argo CD, highly available, published at `argocd.<domain>` through the shared Gateway.

TLS: the Gateway terminates the public certificate and re-encrypts to argocd-server, which keeps
its own TLS (no `server.insecure`) with a certificate from the internal CA; a BackendTLSPolicy tells
Envoy to verify it against that CA (Envoy Gateway accepts a Secret with `ca.crt` as CA reference).
"""
from __future__ import annotations

from typing import Any, Mapping

import pulumi
import yaml

from lfh.config.platform import GitOpsConfig

from ..cluster.contract import ClusterContract
from ._helpers import custom_resource, namespace, node_affinity_terms, place, placement, release, resources
from .certificates import Certificates
from .contract import CLIENT_NAMESPACE_LABEL
from .gateway import GATEWAY_API, Gateway
from .network import GATEWAY, KUBE_API, PROMETHEUS, SELF, Egress, Outside, PlatformNetwork, PodSet, Port, To
from .secrets import Secrets

NAMESPACE = "argocd"
RELEASE = "argo-cd"
#: The Service the chart names for argocd-server: `argo-cd.fullname` is `<release>-<nameOverride>`
#: (values.yaml `nameOverride: argocd`; the release name "argo-cd" does not contain "argocd"), plus
#: `-server` (templates/_common.tpl, _helpers.tpl `argo-cd.server.fullname`). We route to the chart's
#: name rather than setting `fullnameOverride: argocd`: that would rename every Argo CD object
#: (Deployments, Services, RBAC, redis-ha) on installed platforms, which Helm does by delete + create.
SERVER_SERVICE = f"{RELEASE}-argocd-server"
#: Argo CD's server reads its TLS certificate from this Secret (a fixed name in Argo CD).
SERVER_TLS = "argocd-server-tls"
#: Secret holding the OIDC client secret; Argo CD resolves `$argocd-oidc:clientSecret` in `oidc.config`
#: only from Secrets labelled `app.kubernetes.io/part-of: argocd` (Argo CD "User management: Sensitive
#: data and SSO client secrets").
OIDC_SECRET = "argocd-oidc"
#: The chart's Secret Argo CD reads `admin.password` (bcrypt) and `admin.passwordMtime` from.
ARGOCD_SECRET = "argocd-secret"
#: Requests of the redis-ha subchart's containers (its values leave them all empty). Argo CD uses Redis
#: as a cache only (no persistence: the chart sets `redis-ha.persistentVolume.enabled: false`):
#: - redis, sentinel: the redis-ha chart's commented example (100m / 200Mi) scaled down to a cache's
#:   share of the seed's ~3 CPU / 7 GiB platform base — three replicas of each run;
#: - haproxy: proxies to the master only; split-brain-fix and the init containers run a shell loop/script.
REDIS_HA_RESOURCES = {
    "redis": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
    "sentinel": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
    "splitBrainDetection": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}},
    "init": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}},
    "haproxy": {"requests": {"cpu": "25m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
}


def network_pods(cfg: GitOpsConfig) -> list[PodSet]:
    """The pods of argocd (labels and ports as the argo-cd chart 10.1.1 and its redis-ha subchart render
    them with release name `argo-cd`). Every Argo CD component reaches Redis through HAProxy."""
    ns = NAMESPACE

    def argocd(name: str) -> dict[str, str]:
        return {"app.kubernetes.io/name": f"argocd-{name}", "app.kubernetes.io/instance": RELEASE}

    repo_server, redis = To("repo-server", ("repo-server",)), To("redis-haproxy", ("redis",))
    server_out: list[Egress] = [KUBE_API, repo_server, redis]
    if cfg.oidc is not None:
        server_out.append(Outside((443,)))  # SSO: the OIDC issuer's discovery, keys and token endpoints
    return [
        PodSet("server", ns, argocd("server"),
               ports=(Port("server", 8080, (GATEWAY,)), Port("metrics", 8083, (PROMETHEUS,))),
               connects_to=tuple(server_out)),
        # Git over HTTPS and SSH, Helm and OCI registries over HTTPS; no Kubernetes API (its role is empty).
        PodSet("repo-server", ns, argocd("repo-server"),
               ports=(Port("repo-server", 8081), Port("metrics", 8084, (PROMETHEUS,))),
               connects_to=(redis, Outside((443, 22)))),
        PodSet("application-controller", ns, argocd("application-controller"),
               ports=(Port("metrics", 8082, (PROMETHEUS,)),), connects_to=(KUBE_API, repo_server, redis)),
        # SCM provider and pull-request generators call the Git hosts' APIs over HTTPS.
        PodSet("applicationset-controller", ns, argocd("applicationset-controller"),
               ports=(Port("metrics", 8080, (PROMETHEUS,)),), connects_to=(KUBE_API, repo_server, Outside((443,))),
               closed={7000: "no route publishes the ApplicationSet Git webhook: generators poll"}),
        # Notification services (Slack, webhooks, e-mail APIs) over HTTPS.
        PodSet("notifications-controller", ns, argocd("notifications-controller"),
               ports=(Port("metrics", 9001, (PROMETHEUS,)),), connects_to=(KUBE_API, repo_server, Outside((443,)))),
        # redis-ha: Redis and Sentinel replicas talk among themselves; HAProxy checks both.
        PodSet("redis-ha", ns, {"app": "redis-ha", "release": RELEASE},
               ports=(Port("redis", 6379, (SELF,)), Port("sentinel", 26379, (SELF,)))),
        PodSet("redis-haproxy", ns, {"app": "redis-ha-haproxy", "release": RELEASE},
               ports=(Port("redis", 6379), Port("metrics-port", 9101, (PROMETHEUS,))),
               connects_to=(To("redis-ha", ("redis", "sentinel")),)),
        # pre-install hook Job writing the Redis password Secret.
        PodSet("redis-secret-init", ns, argocd("redis-secret-init"), connects_to=(KUBE_API,)),
    ]


class GitOps(pulumi.ComponentResource):
    """Argo CD HA (controller/server/repo-server ≥ 2, redis-ha), read-only RBAC by default."""

    def __init__(self, name: str, cfg: GitOpsConfig, cluster: ClusterContract, *, hostname: str,
                 gateway: Gateway, certificates: Certificates, secrets: Secrets, network: PlatformNetwork,
                 chart_versions: Mapping[str, str] | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:platform:GitOps", name, None, opts)
        self.chart_versions = dict(chart_versions or {})  # stack-level pin overrides (warned)
        p = cluster.provider
        self.hostname = hostname
        # Argo CD's components and redis-ha run non-root with dropped capabilities: restricted.
        # The client-namespace label lets its HTTPRoute attach to the shared Gateway.
        self.namespace = namespace(self, p, NAMESPACE, level="restricted", component="gitops",
                                   depends_on=cluster.ready, extra_labels={CLIENT_NAMESPACE_LABEL: "true"})
        self.network_policies = network.create(self, p, NAMESPACE, depends_on=[self.namespace])
        # The server certificate exists before the server starts, so it never serves its self-signed one.
        self.server_cert = certificates.internal_certificate(
            self, p, "server-cert", name=SERVER_TLS, namespace=NAMESPACE,
            dns_names=[SERVER_SERVICE, f"{SERVER_SERVICE}.{NAMESPACE}.svc", f"{SERVER_SERVICE}.{NAMESPACE}.svc.cluster.local"],
            depends_on=[self.namespace])
        res = resources(cfg.resources)
        pdb = {"enabled": True, "minAvailable": 1}
        rbac: dict[str, Any] = {"policy.default": f"role:{cfg.default_role}" if cfg.default_role else ""}
        cm: dict[str, Any] = {"admin.enabled": cfg.admin_enabled, "exec.enabled": False, "statusbadge.enabled": False}
        login_secrets = []
        if cfg.oidc is not None:
            # SSO straight against the provider (Argo CD "User management: existing OIDC provider"); the
            # provider's `groups` claim maps to roles (`scopes: [groups]`, the chart default).
            oidc: dict[str, Any] = {"name": "SSO", "issuer": cfg.oidc.issuer, "clientID": cfg.oidc.client_id,
                                    "requestedScopes": list(cfg.oidc.requested_scopes)}
            if cfg.oidc.pkce:
                oidc["enablePKCEAuthentication"] = True
            else:
                oidc["clientSecret"] = f"${OIDC_SECRET}:clientSecret"
                login_secrets.append(secrets.external_secret(
                    self, p, "oidc-secret", name=OIDC_SECRET, namespace=NAMESPACE, target=OIDC_SECRET,
                    data={"clientSecret": (f"platform/{cfg.oidc.client_secret_key}", "clientSecret")},
                    template={"engineVersion": "v2", "mergePolicy": "Merge",
                              "metadata": {"labels": {"app.kubernetes.io/part-of": "argocd"}}},
                    depends_on=[self.namespace]))
            cm["oidc.config"] = yaml.safe_dump(oidc, sort_keys=False)
            rbac["policy.csv"] = "".join(f"g, {group}, role:admin\n" for group in cfg.oidc.admin_groups)
        values: dict[str, Any] = {
            # The chart's own policies (on by default) admit every source to argocd-server and metrics
            # from any namespace; NetworkPolicies add up, so they would widen the derived ones.
            "global": {"domain": hostname, "networkPolicy": {"create": False}},
            "crds": {"install": True, "keep": True},
            "configs": {"cm": cm, "rbac": rbac},
            "controller": {"replicas": cfg.replicas, "pdb": pdb, "resources": resources(cfg.controller_resources)},
            "server": {"replicas": cfg.replicas, "pdb": pdb, "resources": res},
            "repoServer": {"replicas": cfg.replicas, "pdb": pdb, "resources": res},
            "applicationSet": {"replicas": cfg.replicas, "pdb": pdb, "resources": res},
            # SSO goes straight to the OIDC provider; no Dex to run and patch.
            "dex": {"enabled": False},
            "notifications": {"resources": res},
            # HA Redis (sentinel + haproxy) instead of the single redis pod.
            "redis": {"enabled": False},
            "redis-ha": {"enabled": True, **{k: {"resources": v} for k, v in REDIS_HA_RESOURCES.items() if k != "haproxy"},
                         "haproxy": {"resources": REDIS_HA_RESOURCES["haproxy"], "init": {"resources": REDIS_HA_RESOURCES["init"]}}},
            "redisSecretInit": {"resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}},
        }
        system = placement(cluster)
        # Argo CD's own affinity preset: required node affinity to the system pool (its nodeSelector
        # default is not empty), pod anti-affinity kept `soft`.
        if node_affinity_terms(system):
            values["global"]["affinity"] = {"podAntiAffinity": "soft", "nodeAffinity": {
                "type": "hard", "matchExpressions": node_affinity_terms(system)}}
        if system.get("tolerations"):
            values["global"]["tolerations"] = system["tolerations"]
        place(values, ["redisSecretInit"], system)
        if system.get("tolerations"):  # redis-ha exposes tolerations only (no nodeSelector value)
            values["redis-ha"]["tolerations"] = system["tolerations"]
            values["redis-ha"]["haproxy"]["tolerations"] = system["tolerations"]
        self.release = release(self, p, "argo-cd", name=RELEASE, namespace=self.namespace, values=values,
                               depends_on=[self.server_cert, *self.network_policies,
                                           *[s for s in login_secrets if s is not None]])
        if cfg.admin_enabled:
            # The admin password's bcrypt hash from the secret manager, merged into the chart's
            # `argocd-secret` (never in Helm values or state).
            secrets.external_secret(
                self, p, "admin-password", name="argocd-admin-password", namespace=NAMESPACE, target=ARGOCD_SECRET,
                data={"admin.password": ("platform/argocd-admin", "passwordBcrypt"),
                      "admin.passwordMtime": ("platform/argocd-admin", "passwordMtime")},
                creation_policy="Merge", depends_on=[self.release])
        route_deps = [gateway.release, gateway.gateway, self.release]
        self.backend_tls = custom_resource(
            self, p, "backend-tls", api_version=GATEWAY_API, kind="BackendTLSPolicy", name="argocd-server",
            namespace=NAMESPACE, component="gitops", depends_on=route_deps + [self.server_cert], spec={
                "targetRefs": [{"group": "", "kind": "Service", "name": SERVER_SERVICE}],
                "validation": {"caCertificateRefs": [{"group": "", "kind": "Secret", "name": SERVER_TLS}],
                               "hostname": f"{SERVER_SERVICE}.{NAMESPACE}.svc"}})
        self.route = custom_resource(
            self, p, "route", api_version=GATEWAY_API, kind="HTTPRoute", name="argocd", namespace=NAMESPACE,
            component="gitops", depends_on=route_deps, spec={
                "parentRefs": [{"name": gateway.ref.name, "namespace": gateway.ref.namespace,
                                "sectionName": gateway.ref.https_listener}],
                "hostnames": [hostname],
                "rules": [{"backendRefs": [{"name": SERVER_SERVICE, "port": 443}]}]})
        self.register_outputs({"namespace": NAMESPACE, "hostname": hostname})
