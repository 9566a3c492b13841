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
from .secrets import Secrets

NAMESPACE = "argocd"
SERVER_TLS = "argocd-server-tls"
#: Secret holding the OIDC client secret; Argo CD resolves `$argocd-oidc:clientSecret` in `oidc.config`
#: only from Secrets labelled `app.kubernetes.io/part-of: argocd` (Argo CD "User management: Sensitive
#: data and SSO client secrets").
OIDC_SECRET = "argocd-oidc"
#: The chart's Secret Argo CD reads `admin.password` (bcrypt) and `admin.passwordMtime` from.
ARGOCD_SECRET = "argocd-secret"


class GitOps(pulumi.ComponentResource):
    """Argo CD HA (controller/server/repo-server ≥ 2, redis-ha), read-only RBAC by default."""

    def __init__(self, name: str, cfg: GitOpsConfig, cluster: ClusterContract, *, hostname: str,
                 gateway: Gateway, certificates: Certificates, secrets: Secrets,
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
        # The server certificate exists before the server starts, so it never serves its self-signed one.
        self.server_cert = certificates.internal_certificate(
            self, p, "server-cert", name=SERVER_TLS, namespace=NAMESPACE,
            dns_names=["argocd-server", f"argocd-server.{NAMESPACE}.svc", f"argocd-server.{NAMESPACE}.svc.cluster.local"],
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
            "global": {"domain": hostname},
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
            "redis-ha": {"enabled": True},
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
            values["redis-ha"]["haproxy"] = {"tolerations": system["tolerations"]}
        self.release = release(self, p, "argo-cd", namespace=self.namespace, values=values,
                               depends_on=[self.server_cert, *[s for s in login_secrets if s is not None]])
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
                "targetRefs": [{"group": "", "kind": "Service", "name": "argocd-server"}],
                "validation": {"caCertificateRefs": [{"group": "", "kind": "Secret", "name": SERVER_TLS}],
                               "hostname": f"argocd-server.{NAMESPACE}.svc"}})
        self.route = custom_resource(
            self, p, "route", api_version=GATEWAY_API, kind="HTTPRoute", name="argocd", namespace=NAMESPACE,
            component="gitops", depends_on=route_deps, spec={
                "parentRefs": [{"name": gateway.ref.name, "namespace": gateway.ref.namespace,
                                "sectionName": gateway.ref.https_listener}],
                "hostnames": [hostname],
                "rules": [{"backendRefs": [{"name": "argocd-server", "port": 443}]}]})
        self.register_outputs({"namespace": NAMESPACE, "hostname": hostname})
