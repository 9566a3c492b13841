"""The one table of pinned Helm charts (mirrors ../shared/upstream/charts.yaml; a test keeps them equal).

Components take chart, repository and version from here and nowhere else.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    key: str
    chart: str
    repository: str
    version: str

    @property
    def is_oci(self) -> bool:
        return self.repository.startswith("oci://")


CHARTS: dict[str, Chart] = {
    c.key: c
    for c in [
        Chart("envoy-gateway", "gateway-helm", "oci://docker.io/envoyproxy/gateway-helm", "v1.9.0"),
        Chart("longhorn", "longhorn", "https://charts.longhorn.io", "1.12.1"),
        Chart("argo-cd", "argo-cd", "https://argoproj.github.io/argo-helm", "10.1.1"),
        Chart("external-secrets", "external-secrets", "https://charts.external-secrets.io", "2.9.0"),
        Chart("cert-manager", "cert-manager", "https://charts.jetstack.io", "v1.21.1"),
        Chart("velero", "velero", "https://vmware-tanzu.github.io/helm-charts", "12.1.0"),
        Chart("kube-prometheus-stack", "kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts", "88.5.3"),
        Chart("psmdb-operator", "psmdb-operator", "https://percona.github.io/percona-helm-charts/", "1.22.0"),
        Chart("psmdb-db", "psmdb-db", "https://percona.github.io/percona-helm-charts/", "1.22.2"),
        Chart("minio", "minio", "https://charts.min.io/", "5.4.0"),
        Chart("minio-tenant", "tenant", "https://operator.min.io/", "7.1.1"),
        Chart("typesense-operator", "typesense-operator", "https://akyriako.github.io/typesense-operator/", "0.4.1"),
    ]
}

#: Gateway API CRDs come from this one bundle (standard channel), not from the envoy-gateway chart.
GATEWAY_API_VERSION = "v1.6.1"
GATEWAY_API_CHANNEL = "standard"


def chart_for(chart: str, repository: str) -> Chart | None:
    """The pinned entry for a chart name + repository (as a release records them)."""
    for c in CHARTS.values():
        if c.chart == chart and c.repository.rstrip("/") == repository.rstrip("/"):
            return c
    return None
