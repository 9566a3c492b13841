"""cert-manager with Gateway API support, the ACME ClusterIssuers, an internal CA, and the shared
Gateway's certificates.

cert-manager installs no CRDs unless `crds.enabled=true`; we enable it (and `crds.keep`, so an
uninstall never deletes every Certificate). Gateway API support needs the Gateway API CRDs present
when the controller starts, so the release waits for the envoy-gateway release that installs them.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from lfh.config.platform import CertificatesConfig

from ..cluster.contract import ClusterContract
from ._helpers import custom_resource, identity as addon_identity, namespace, place_by_affinity, placement, release, resources
from .contract import ACME_CHALLENGE_LABEL, DNS01_CNAME
from .gateway import Gateway
from .network import (
    CONTROL_PLANE,
    KUBE_API,
    PROMETHEUS,
    CloudIdentity,
    Egress,
    Outside,
    PlatformNetwork,
    PodSet,
    Port,
    To,
)

CM_API = "cert-manager.io/v1"
NAMESPACE = "cert-manager"
ACME = {"letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
        "letsencrypt-prod": "https://acme-v02.api.letsencrypt.org/directory"}
SELF_SIGNED = "selfsigned"
INTERNAL_CA = "internal-ca"
CA_SECRET = "lfh-internal-ca"


def acme_solver(cfg: CertificatesConfig, dns01_solver: Optional[dict[str, Any]]) -> str:
    """`dns01` or `http01`: the config's choice, else DNS-01 where the cluster brings a solver."""
    return cfg.solver or ("dns01" if dns01_solver else "http01")


def network_pods(*, solver: str, gateway_namespace: str) -> list[PodSet]:
    """The pods of cert-manager (labels and ports as the cert-manager chart v1.21.1 renders them)."""
    def pods(component: str, name: str) -> dict[str, str]:
        return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": "cert-manager",
                "app.kubernetes.io/component": component}

    metrics = Port("http-metrics", 9402, (PROMETHEUS,))
    # ACME directory and the DNS provider's API over HTTPS; its cloud identity where it has one.
    controller_out: list[Egress] = [KUBE_API, Outside((443,)), CloudIdentity("cert-manager")]
    if solver == "dns01":
        # The DNS-01 self-check asks the zone's authoritative name servers directly, not the cluster
        # DNS (cert-manager docs, "DNS01": `--dns01-recursive-nameservers-only` is off by default).
        controller_out += [Outside((53,), "UDP"), Outside((53,))]
    # Every issuer ends with an HTTP-01 solver for names outside the platform's zones (clients on their
    # own domains; Certificates.solvers), so the HTTP-01 self-check always needs its way: it fetches
    # http://<host>/.well-known/... through the load balancer, whose address may be internal (private
    # range), or straight from the proxies when kube-proxy short-cuts the load balancer's IP.
    controller_out += [Outside((80,), include_private=True),
                       To(f"{gateway_namespace}/envoy", ("http",))]
    return [
        PodSet("controller", NAMESPACE, pods("controller", "cert-manager"), ports=(metrics,),
               connects_to=tuple(controller_out)),
        # Service cert-manager-webhook :443 -> `https` 10250; the API server calls it for every
        # cert-manager resource (ValidatingWebhookConfiguration and MutatingWebhookConfiguration).
        PodSet("webhook", NAMESPACE, pods("webhook", "webhook"),
               ports=(Port("https", 10250, (CONTROL_PLANE,)), metrics), connects_to=(KUBE_API,)),
        PodSet("cainjector", NAMESPACE, pods("cainjector", "cainjector"), ports=(metrics,), connects_to=(KUBE_API,)),
        # post-install hook Job: creates a Certificate dry-run through the API (the API server, not
        # the Job, then calls the webhook).
        PodSet("startupapicheck", NAMESPACE, pods("startupapicheck", "startupapicheck"), connects_to=(KUBE_API,)),
    ]


class Certificates(pulumi.ComponentResource):
    """cert-manager, ClusterIssuers `letsencrypt-staging`/`letsencrypt-prod`/`internal-ca`, gateway certificates."""

    def __init__(self, name: str, cfg: CertificatesConfig, cluster: ClusterContract, gateway: Gateway, *,
                 dns01_solver: Optional[dict[str, Any]], http01_hosts: Sequence[str], network: PlatformNetwork,
                 chart_versions: Mapping[str, str] | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:platform:Certificates", name, None, opts)
        self.chart_versions = dict(chart_versions or {})  # stack-level pin overrides (warned)
        p = cluster.provider
        self.public_issuer = cfg.public_issuer
        self.internal_issuer = INTERNAL_CA
        solver_kind = acme_solver(cfg, dns01_solver)
        self.solver = solver_kind
        # Controller, webhook, cainjector and the ACME solver pods are all restricted-compliant.
        self.namespace = namespace(self, p, NAMESPACE, level="restricted", component="certificates",
                                   depends_on=cluster.ready)
        self.network_policies = network.create(self, p, NAMESPACE, depends_on=[self.namespace])
        identity = addon_identity(cluster, "cert-manager", NAMESPACE, "cert-manager")
        res = resources(cfg.resources)
        # Enabled PDBs default to minAvailable 1 in this chart.
        pdb = {"enabled": cfg.replicas > 1}
        values: dict[str, Any] = {
            "crds": {"enabled": True, "keep": True},
            "replicaCount": cfg.replicas,
            "podDisruptionBudget": pdb,
            "resources": res,
            # Gateway API support: HTTP-01 answers through the shared Gateway.
            "config": {"apiVersion": "controller.config.cert-manager.io/v1alpha1", "kind": "ControllerConfiguration",
                       "enableGatewayAPI": True},
            "serviceAccount": {"create": True, **({"annotations": dict(identity.annotations)} if identity else {})},
            "podLabels": dict(identity.pod_labels) if identity else {},
            "webhook": {"replicaCount": cfg.replicas, "podDisruptionBudget": pdb, "resources": res},
            "cainjector": {"replicaCount": cfg.replicas, "podDisruptionBudget": pdb, "resources": res},
            "startupapicheck": {"resources": res},
            "prometheus": {"enabled": True},
        }
        # This chart's nodeSelector defaults to {kubernetes.io/os: linux}: pin the pool by node affinity.
        place_by_affinity(values, ["", "webhook", "cainjector", "startupapicheck"], placement(cluster))
        self.release = release(self, p, "cert-manager", namespace=self.namespace, values=values,
                               depends_on=[gateway.release, *self.network_policies])
        crd = [self.release]

        self.issuers: dict[str, k8s.apiextensions.CustomResource] = {}
        #: Zone that CNAME-delegated DNS-01 challenges of client domains land in ("" = not offered).
        self.delegation_zone = ""
        solvers = self._acme_solvers(cfg, gateway, dns01_solver if solver_kind == "dns01" else None)
        for issuer, server in ACME.items():
            self.issuers[issuer] = custom_resource(
                self, p, issuer, api_version=CM_API, kind="ClusterIssuer", name=issuer, component="certificates",
                depends_on=crd, spec={"acme": {
                    "server": server, "email": cfg.acme_email,
                    "privateKeySecretRef": {"name": f"{issuer}-account-key"},
                    "solvers": solvers}})

        # Internal TLS: a self-signed root that only signs our CA, and a CA issuer for in-cluster certs.
        self.issuers[SELF_SIGNED] = custom_resource(
            self, p, SELF_SIGNED, api_version=CM_API, kind="ClusterIssuer", name=SELF_SIGNED,
            component="certificates", depends_on=crd, spec={"selfSigned": {}})
        self.ca_certificate = custom_resource(
            self, p, "internal-ca-cert", api_version=CM_API, kind="Certificate", name=CA_SECRET, namespace=NAMESPACE,
            component="certificates", depends_on=crd + [self.issuers[SELF_SIGNED]], spec={
                "isCA": True, "commonName": "lfh internal CA", "secretName": CA_SECRET,
                "duration": "87600h", "renewBefore": "720h",
                "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": SELF_SIGNED}})
        self.issuers[INTERNAL_CA] = custom_resource(
            self, p, INTERNAL_CA, api_version=CM_API, kind="ClusterIssuer", name=INTERNAL_CA,
            component="certificates", depends_on=crd + [self.ca_certificate], spec={"ca": {"secretName": CA_SECRET}})

        # The shared Gateway's certificates. From ACME a wildcard needs DNS-01; with HTTP-01 the
        # certificate names the platform's own hosts (clients then bring exact-hostname certificates).
        # The internal CA signs wildcards without any challenge.
        wildcard = cfg.public_issuer == INTERNAL_CA or (solver_kind == "dns01" and bool(dns01_solver))
        if not wildcard:
            pulumi.log.warn(
                "lfh:platform.certificates.solver: http01 cannot issue wildcard certificates; the gateway's "
                f"certificates name only {', '.join(http01_hosts)} (use dns01 for client hosts under the domains)", self)
        self.gateway_certificates = []
        for lst in gateway.plan.listeners:
            names = [f"*.{lst.domain}", lst.domain] if wildcard else [
                h for h in http01_hosts if h.endswith("." + lst.domain)] or [lst.domain]
            self.gateway_certificates.append(custom_resource(
                self, p, f"cert-{lst.name}", api_version=CM_API, kind="Certificate", name=lst.secret,
                namespace=gateway.ref.namespace, component="certificates",
                depends_on=crd + [self.issuers[cfg.public_issuer], gateway.gateway], spec={
                    "secretName": lst.secret, "dnsNames": names,
                    "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                    "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": cfg.public_issuer}}))
        self.register_outputs({"public": cfg.public_issuer, "internal": INTERNAL_CA})

    def _acme_solvers(self, cfg: CertificatesConfig, gateway: Gateway,
                      dns01_solver: Optional[dict[str, Any]]) -> list[dict[str, Any]]:
        """The ACME solvers, in cert-manager's selection order (cert-manager v1.21.1
        pkg/util/solverpicker/solverpicker.go: a `dnsNames` match beats a `dnsZones` match, the longest
        zone wins, then the most `matchLabels`; a solver without selector is the lowest-priority default;
        a wildcard name is offered DNS-01 only, so HTTP-01 solvers never see it):

        1. DNS-01 through the cloud DNS, for the platform's zones (its wildcard certificates);
        2. DNS-01 following a CNAME (`cnameStrategy: Follow`) for Certificates labelled
           `lfh.io/acme-challenge: dns01-cname`: a client on its own domain delegates
           `_acme-challenge.<host>` to a name in the platform's zone and can issue before its traffic
           moves (or for a wildcard);
        3. HTTP-01 through the shared Gateway's plain-HTTP listener for every other name (a client's
           own domain whose hosts point at the Gateway). The challenge route is created in the
           Certificate's namespace, so client Certificates live in the gateway namespace, which is the
           only namespace that listener admits routes from.
        """
        http01 = {"http01": {"gatewayHTTPRoute": {"parentRefs": [{
            "group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway.ref.name,
            "namespace": gateway.ref.namespace, "sectionName": gateway.ref.http_listener}]}}}
        if not dns01_solver:
            return [http01]
        # The contract may bring a whole solver entry ({selector, dns01}) or just the dns01 block.
        zone_solver: dict[str, Any] = dict(dns01_solver) if "dns01" in dns01_solver else {"dns01": dns01_solver}
        zones = list(cfg.dns_zones) or list((zone_solver.get("selector") or {}).get("dnsZones") or []) \
            or [lst.domain for lst in gateway.plan.listeners]
        # Always zone-scoped: a DNS-01 solver without selector would take every name, HTTP-01 none.
        zone_solver["selector"] = {"dnsZones": zones}
        self.delegation_zone = zones[0]
        delegated = {"selector": {"matchLabels": {ACME_CHALLENGE_LABEL: DNS01_CNAME}},
                     "dns01": {**zone_solver["dns01"], "cnameStrategy": "Follow"}}
        return [zone_solver, delegated, http01]

    def internal_certificate(self, parent: pulumi.Resource, provider: pulumi.ProviderResource, suffix: str, *,
                             name: str, namespace: str, dns_names: list[str],
                             depends_on: Sequence[pulumi.Resource] = ()) -> k8s.apiextensions.CustomResource:
        """A certificate from the internal CA (in-cluster TLS, e.g. gateway → backend)."""
        return custom_resource(
            parent, provider, suffix, api_version=CM_API, kind="Certificate", name=name, namespace=namespace,
            component="certificates", depends_on=[self.release, self.issuers[INTERNAL_CA], *depends_on], spec={
                "secretName": name, "dnsNames": dns_names,
                "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": INTERNAL_CA}})
