"""NetworkPolicy building blocks shared by the client baseline and the platform namespaces.

Peers always name what they mean: a namespace by its immutable name label, pods by their labels, an
address range by an ipBlock. Nothing here decides who may talk to whom; `components/client/network.py`
and `components/platform/network.py` derive that from what workloads declare.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: A namespace is selected by its immutable name label (set by the API server; can't be spoofed by
#: labelling another namespace, unlike custom labels).
NS_NAME_LABEL = "kubernetes.io/metadata.name"
#: CoreDNS/kube-dns pods carry this label on EKS, AKS, GKE and kubeadm clusters alike.
DNS_POD_LABELS = {"k8s-app": "kube-dns"}
DNS_NAMESPACE = "kube-system"
ANYWHERE = "0.0.0.0/0"
#: Private ranges cut out of "the internet" (the cluster's own and neighbouring networks).
PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
#: GKE Workload Identity hands out tokens through the node's metadata server: 169.254.169.254:80 with
#: Dataplane V2, 169.254.169.252:988 with the legacy network-policy implementation (GKE docs,
#: "Workload Identity Federation for GKE": restricting metadata server traffic with NetworkPolicy).
CLOUD_METADATA_ENDPOINTS = [("169.254.169.254/32", 80), ("169.254.169.252/32", 988)]
#: Ports of the Kubernetes API as pods see it after the `kubernetes` Service is translated (443 on
#: EKS/AKS/GKE, 6443 on kubeadm clusters). NetworkPolicy matches the translated destination.
KUBE_API_PORTS = [443, 6443]


def ports(numbers: Iterable[int], protocol: str = "TCP") -> list[dict[str, Any]]:
    """`ports` entries for single port numbers (sorted, deduplicated)."""
    return [{"protocol": protocol, "port": int(p)} for p in sorted({int(p) for p in numbers})]


def port_range(first: int, last: int | None = None, protocol: str = "TCP") -> dict[str, Any]:
    """One `ports` entry: a port, or the range first..last (`endPort`, GA since Kubernetes 1.25)."""
    entry: dict[str, Any] = {"protocol": protocol, "port": int(first)}
    if last is not None and last != first:
        entry["endPort"] = int(last)
    return entry


def ns_peer(name: str) -> dict[str, Any]:
    """Every pod of the namespace ``name``."""
    return {"namespaceSelector": {"matchLabels": {NS_NAME_LABEL: name}}}


def pods_peer(namespace: str | None, selector: dict[str, Any]) -> dict[str, Any]:
    """Pods matching ``selector`` (a LabelSelector); in the policy's own namespace when ``namespace`` is None."""
    peer: dict[str, Any] = {"podSelector": selector}
    if namespace is not None:
        peer.update(ns_peer(namespace))
    return peer


def cidr_peer(cidr: str, except_cidrs: Iterable[str] = ()) -> dict[str, Any]:
    block: dict[str, Any] = {"cidr": cidr}
    cut = [c for c in except_cidrs if c != cidr]
    if cut:
        block["except"] = cut
    return {"ipBlock": block}


def dns_egress_rule() -> dict[str, Any]:
    """Egress to the cluster DNS pods only (UDP and TCP 53)."""
    return {"to": [pods_peer(DNS_NAMESPACE, {"matchLabels": dict(DNS_POD_LABELS)})],
            "ports": ports([53], "UDP") + ports([53], "TCP")}


def default_deny() -> dict[str, Any]:
    """Selects every pod of the namespace for ingress and egress: nothing flows unless another policy says so."""
    return {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def allow_dns() -> dict[str, Any]:
    """Every pod of the namespace may resolve names, only against the cluster DNS pods."""
    return {"podSelector": {}, "policyTypes": ["Egress"], "egress": [dns_egress_rule()]}
