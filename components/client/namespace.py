"""The namespace baseline: the client's namespace, its Pod Security level, quota and limits."""
from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from lfh.config import ClientConfig

from ..k8s import KubeObject, child_opts, labels, meta
from ..platform.contract import CLIENT_NAMESPACE_LABEL, PlatformContract

#: Pod Security Standard every client namespace enforces.
POD_SECURITY_LEVEL = "restricted"


def namespace_name(client: ClientConfig) -> str:
    from lfh.config import names

    return names.namespace(client.name, client.environment.value)


class NamespaceBaseline(pulumi.ComponentResource):
    """`<client>-<environment>` with Pod Security `restricted`, a ResourceQuota and a LimitRange."""

    def __init__(self, name: str, client: ClientConfig, platform: PlatformContract,
                 provider: k8s.Provider, opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:client:NamespaceBaseline", name, None, opts)
        self.name = namespace_name(client)
        env = client.environment.value
        self.labels = labels(self.name, client=client.name, environment=env)
        gateway_label = platform.gateway.client_namespace_label or CLIENT_NAMESPACE_LABEL
        ns_labels = {
            **self.labels,
            # The shared Gateway's allowedRoutes selects namespaces by this label.
            gateway_label: "true",
            # "restricted" on all three modes: reject, audit and warn, so nothing privileged runs here.
            "pod-security.kubernetes.io/enforce": POD_SECURITY_LEVEL,
            "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/audit": POD_SECURITY_LEVEL,
            "pod-security.kubernetes.io/warn": POD_SECURITY_LEVEL,
        }
        if gateway_label != CLIENT_NAMESPACE_LABEL:
            ns_labels[CLIENT_NAMESPACE_LABEL] = "true"
        self.namespace = KubeObject(
            f"{name}-namespace", "v1", "Namespace",
            metadata=meta(self.name, labels=ns_labels),
            # Deleting the namespace deletes every PVC in it: never by accident.
            opts=child_opts(self, provider, protect=True, retain_on_delete=True),
        )
        after = [self.namespace]

        q = client.quota
        if q.enabled:
            KubeObject(
                f"{name}-quota", "v1", "ResourceQuota",
                metadata=meta(f"{self.name}-quota", self.name, labels=self.labels),
                spec={"hard": {
                    "requests.cpu": q.requests_cpu,
                    "requests.memory": q.requests_memory,
                    "limits.cpu": q.limits_cpu,
                    "limits.memory": q.limits_memory,
                    "requests.storage": q.requests_storage,
                    "pods": str(q.pods),
                    "persistentvolumeclaims": str(q.persistent_volume_claims),
                    # Traffic enters through the shared Gateway only, never a per-client LB/NodePort.
                    "services.loadbalancers": str(q.services_load_balancers),
                    "services.nodeports": str(q.services_node_ports),
                }},
                opts=child_opts(self, provider, depends_on=after),
            )
        lr = client.limit_range
        KubeObject(
            f"{name}-limits", "v1", "LimitRange",
            metadata=meta(f"{self.name}-limits", self.name, labels=self.labels),
            spec={"limits": [{
                "type": "Container",
                # A container without requests would otherwise escape the quota's accounting.
                "defaultRequest": {"cpu": lr.default_request_cpu, "memory": lr.default_request_memory},
                "default": {"cpu": lr.default_limit_cpu, "memory": lr.default_limit_memory},
                "max": {"cpu": lr.max_cpu, "memory": lr.max_memory},
            }]},
            opts=child_opts(self, provider, depends_on=after),
        )
        # Pods that don't name a ServiceAccount get no API token (every workload has its own SA).
        KubeObject(
            f"{name}-default-sa", "v1", "ServiceAccount", patch=True,
            metadata=meta("default", self.name, labels=self.labels),
            automountServiceAccountToken=False,
            opts=child_opts(self, provider, depends_on=after),
        )
        self.register_outputs({"namespace": self.name})
