"""The Kubernetes Cluster Autoscaler for EKS managed node groups, as Kubernetes objects.

The objects follow the upstream auto-discovery manifest for AWS (kubernetes/autoscaler
cluster-autoscaler/cloudprovider/aws/examples/cluster-autoscaler-autodiscover.yaml): its ServiceAccount,
ClusterRole/Role and bindings, and a Deployment running `--cloud-provider=aws` with
`--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/<cluster>`
(EKS tags every managed node group's Auto Scaling group for it). Changes from the example, each on
purpose: the IRSA role annotation; the image at the newest patch of the cluster's own minor version
(upstream: "use the Cluster Autoscaler release that matches your Kubernetes minor version"); no hostPath
CA bundle (the image is `gcr.io/distroless/static:nonroot`, which carries /etc/ssl/certs — upstream
Dockerfile); the system pool; `AWS_REGION` set explicitly.

Why objects and not the upstream Helm chart: the plan renders every Helm release from the chart cache or
../shared/upstream/charts, and the cluster-autoscaler chart is in neither, so a release of it could not be
checked (or installed offline); the manifest is the project's own documented way to install it.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import pulumi

from ..k8s import KubeObject, child_opts, labels

NAMESPACE = "kube-system"
#: registry.k8s.io/autoscaling/cluster-autoscaler tag per Kubernetes minor: the newest patch release
#: (kubernetes/autoscaler tags `cluster-autoscaler-1.<minor>.<patch>`, as of 2026-08).
IMAGE_TAGS = {"1.30": "v1.30.7", "1.31": "v1.31.5", "1.32": "v1.32.7", "1.33": "v1.33.6", "1.34": "v1.34.5",
              "1.35": "v1.35.2"}
IMAGE_REPOSITORY = "registry.k8s.io/autoscaling/cluster-autoscaler"
LABELS = {"k8s-addon": "cluster-autoscaler.addons.k8s.io", "k8s-app": "cluster-autoscaler",
          **labels("cluster-autoscaler", component="node-autoscaler")}
#: Where the autoscaler serves /health-check and /metrics (its `--address` default).
HEALTH_PORT = 8085


def image_for(kubernetes_version: str, override: Optional[str] = None) -> str:
    if override:
        return override
    tag = IMAGE_TAGS.get(kubernetes_version)
    if tag is None:
        raise pulumi.RunError(
            f"lfh:platform.kubernetesVersion: no Cluster Autoscaler release is pinned for Kubernetes {kubernetes_version} "
            f"(pinned: {', '.join(sorted(IMAGE_TAGS))}); set lfh:platform.cluster.clusterAutoscalerImage to the "
            f"{IMAGE_REPOSITORY} tag of that minor version")
    return f"{IMAGE_REPOSITORY}:{tag}"


class ClusterAutoscaler(pulumi.ComponentResource):
    """Cluster Autoscaler (auto-discovery of the cluster's managed node groups) with its IRSA role."""

    SERVICE_ACCOUNT = "cluster-autoscaler"

    def __init__(self, name: str, *, cluster_name: pulumi.Input[str], region: str, kubernetes_version: str,
                 image: Optional[str], role_arn: pulumi.Input[str], placement: dict[str, Any],
                 provider: pulumi.ProviderResource, depends_on: Sequence[pulumi.Resource] = (),
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("lfh:cluster:ClusterAutoscaler", name, None, opts)
        sa_name = self.SERVICE_ACCOUNT
        o = lambda *deps: child_opts(self, provider, depends_on=[*depends_on, *deps])  # noqa: E731
        meta = lambda namespace=None, **extra: {"name": sa_name, **({"namespace": namespace} if namespace else {}),  # noqa: E731
                                                "labels": dict(LABELS), **extra}
        sa = KubeObject(f"{name}-sa", "v1", "ServiceAccount",
                        metadata=meta(NAMESPACE, annotations={"eks.amazonaws.com/role-arn": role_arn}), opts=o())
        rules = [
            {"apiGroups": [""], "resources": ["events", "endpoints"], "verbs": ["create", "patch"]},
            {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
            {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["update"]},
            {"apiGroups": [""], "resources": ["endpoints"], "resourceNames": ["cluster-autoscaler"], "verbs": ["get", "update"]},
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["watch", "list", "get", "update"]},
            {"apiGroups": [""], "resources": ["namespaces", "pods", "services", "replicationcontrollers",
                                             "persistentvolumeclaims", "persistentvolumes"], "verbs": ["watch", "list", "get"]},
            {"apiGroups": ["extensions"], "resources": ["replicasets", "daemonsets"], "verbs": ["watch", "list", "get"]},
            {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ["watch", "list"]},
            {"apiGroups": ["apps"], "resources": ["statefulsets", "replicasets", "daemonsets"], "verbs": ["watch", "list", "get"]},
            {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses", "csinodes", "csidrivers", "csistoragecapacities"],
             "verbs": ["watch", "list", "get"]},
            {"apiGroups": ["batch", "extensions"], "resources": ["jobs"], "verbs": ["get", "list", "watch", "patch"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
            {"apiGroups": ["coordination.k8s.io"], "resourceNames": ["cluster-autoscaler"], "resources": ["leases"],
             "verbs": ["get", "update"]},
        ]
        cluster_role = KubeObject(f"{name}-clusterrole", "rbac.authorization.k8s.io/v1", "ClusterRole",
                                  metadata=meta(), rules=rules, opts=o())
        role = KubeObject(f"{name}-role", "rbac.authorization.k8s.io/v1", "Role", metadata=meta(NAMESPACE), rules=[
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "list", "watch"]},
            {"apiGroups": [""], "resources": ["configmaps"],
             "resourceNames": ["cluster-autoscaler-status", "cluster-autoscaler-priority-expander"],
             "verbs": ["delete", "get", "update", "watch"]},
        ], opts=o())
        subject = [{"kind": "ServiceAccount", "name": sa_name, "namespace": NAMESPACE}]
        KubeObject(f"{name}-clusterrolebinding", "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", metadata=meta(),
                   roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": sa_name},
                   subjects=subject, opts=o(cluster_role))
        KubeObject(f"{name}-rolebinding", "rbac.authorization.k8s.io/v1", "RoleBinding", metadata=meta(NAMESPACE),
                   roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": sa_name},
                   subjects=subject, opts=o(role))
        discovery = pulumi.Output.from_input(cluster_name).apply(
            lambda c: f"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/{c}")
        pod_labels = {"app": "cluster-autoscaler"}
        # Egress only to DNS and HTTPS (the AWS regional APIs through the NAT gateways, the EKS API
        # endpoint in the VPC); in only Prometheus' scrape of the health/metrics port.
        KubeObject(f"{name}-netpol", "networking.k8s.io/v1", "NetworkPolicy", metadata=meta(NAMESPACE), spec={
            "podSelector": {"matchLabels": dict(pod_labels)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"ports": [{"protocol": "TCP", "port": HEALTH_PORT}],
                         "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]}],
            "egress": [{"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}},
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}]},
                       # AWS's public regional endpoints and the API server's ENIs in the VPC: any address.
                       {"ports": [{"protocol": "TCP", "port": 443}], "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}],
        }, opts=o())
        probe = {"httpGet": {"path": "/health-check", "port": HEALTH_PORT}, "periodSeconds": 10, "timeoutSeconds": 5}
        self.deployment = KubeObject(
            f"{name}-deployment", "apps/v1", "Deployment",
            metadata={"name": sa_name, "namespace": NAMESPACE, "labels": {**LABELS, **pod_labels}},
            spec={
                "replicas": 1,
                "selector": {"matchLabels": dict(pod_labels)},
                "template": {
                    "metadata": {"labels": dict(pod_labels),
                                 "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "8085"}},
                    "spec": {
                        "priorityClassName": "system-cluster-critical",
                        "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "fsGroup": 65534,
                                            "seccompProfile": {"type": "RuntimeDefault"}},
                        "serviceAccountName": sa_name,
                        **{k: v for k, v in placement.items() if k in ("nodeSelector", "tolerations") and v},
                        "containers": [{
                            "name": "cluster-autoscaler",
                            "image": image_for(kubernetes_version, image),
                            "imagePullPolicy": "IfNotPresent",
                            "resources": {"limits": {"cpu": "100m", "memory": "600Mi"},
                                          "requests": {"cpu": "100m", "memory": "600Mi"}},
                            "command": ["./cluster-autoscaler", "--v=4", "--stderrthreshold=info", "--cloud-provider=aws",
                                        "--skip-nodes-with-local-storage=false", "--expander=least-waste", discovery],
                            "env": [{"name": "AWS_REGION", "value": region}],
                            "ports": [{"name": "http", "containerPort": HEALTH_PORT, "protocol": "TCP"}],
                            "livenessProbe": {**probe, "initialDelaySeconds": 10},
                            "readinessProbe": probe,
                            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                                "readOnlyRootFilesystem": True},
                        }],
                    },
                },
            },
            opts=o(sa))
        self.register_outputs({"deployment": sa_name})
