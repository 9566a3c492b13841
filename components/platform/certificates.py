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
from .gateway import Gateway

CM_API = "cert-manager.io/v1"
NAMESPACE = "cert-manager"
ACME = {"letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
        "letsencrypt-prod": "https://acme-v02.api.letsencrypt.org/directory"}
SELF_SIGNED = "selfsigned"
INTERNAL_CA = "internal-ca"
CA_SECRET = "lfh-internal-ca"


class Certificates(pulumi.ComponentResource):
    """cert-manager, ClusterIssuers `letsencrypt-staging`/`letsencrypt-prod`/`internal-ca`, gateway certificates."""

    def __init__(self, name: str, cfg: CertificatesConfig, cluster: ClusterContract, gateway: Gateway, *,
                 dns01_solver: Optional[dict[str, Any]], http01_hosts: Sequence[str],
                 chart_versions: Mapping[str, str] | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:platform:Certificates", name, None, opts)
        self.chart_versions = dict(chart_versions or {})  # stack-level pin overrides (warned)
        p = cluster.provider
        self.public_issuer = cfg.public_issuer
        self.internal_issuer = INTERNAL_CA
        solver_kind = cfg.solver or ("dns01" if dns01_solver else "http01")
        self.solver = solver_kind
        # Controller, webhook, cainjector and the ACME solver pods are all restricted-compliant.
        self.namespace = namespace(self, p, NAMESPACE, level="restricted", component="certificates",
                                   depends_on=cluster.ready)
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
                               depends_on=[gateway.release])
        crd = [self.release]

        self.issuers: dict[str, k8s.apiextensions.CustomResource] = {}
        for issuer, server in ACME.items():
            if solver_kind == "dns01" and dns01_solver:
                # The contract may bring a whole solver entry ({selector, dns01}) or just the dns01 block.
                solver: dict[str, Any] = dict(dns01_solver) if "dns01" in dns01_solver else {"dns01": dns01_solver}
                if cfg.dns_zones:
                    solver["selector"] = {"dnsZones": list(cfg.dns_zones)}
            else:
                # HTTP-01 through the shared Gateway's plain-HTTP listener (its own name: merged
                # listeners broke HTTP-01 before).
                solver = {"http01": {"gatewayHTTPRoute": {"parentRefs": [{
                    "group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway.ref.name,
                    "namespace": gateway.ref.namespace, "sectionName": "http"}]}}}
            self.issuers[issuer] = custom_resource(
                self, p, issuer, api_version=CM_API, kind="ClusterIssuer", name=issuer, component="certificates",
                depends_on=crd, spec={"acme": {
                    "server": server, "email": cfg.acme_email,
                    "privateKeySecretRef": {"name": f"{issuer}-account-key"},
                    "solvers": [solver]}})

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
