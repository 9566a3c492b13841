"""The client's Argo CD AppProject: its own extra workloads, confined to its namespace."""
from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from ..k8s import child_opts, meta
from .contract import ClientContext

IN_CLUSTER = "https://kubernetes.default.svc"
#: Namespaced kinds the client's own apps may not manage: they would weaken the baseline
#: (quota, limits, network isolation) or grant themselves rights.
BASELINE_KINDS = [
    ("", "ResourceQuota"), ("", "LimitRange"), ("networking.k8s.io", "NetworkPolicy"),
    ("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "RoleBinding"),
    ("external-secrets.io", "SecretStore"),
]


class GitOpsProject(pulumi.ComponentResource):
    def __init__(self, name: str, ctx: ClientContext, opts: pulumi.ResourceOptions | None = None):
        super().__init__("lfh:client:GitOpsProject", name, None, opts)
        argocd_ns = (ctx.platform.gitops or {}).get("namespace") or "argocd"
        self.project = ctx.namespace
        k8s.apiextensions.CustomResource(
            f"{name}-appproject",
            api_version="argoproj.io/v1alpha1",
            kind="AppProject",
            metadata=meta(ctx.namespace, argocd_ns, labels={**ctx.labels, "app.kubernetes.io/component": "gitops"}),
            spec={
                "description": f"{ctx.config.name} {ctx.environment}: the client's own workloads",
                "sourceRepos": list(ctx.config.gitops.source_repos),
                # Only the client's namespace on this cluster.
                "destinations": [{"server": IN_CLUSTER, "namespace": ctx.namespace}],
                # No cluster-scoped resources at all.
                "clusterResourceWhitelist": [],
                "namespaceResourceBlacklist": [{"group": g, "kind": k} for g, k in BASELINE_KINDS],
                "orphanedResources": {"warn": True},
            },
            opts=child_opts(self, ctx.provider, depends_on=[ctx.namespace_resource]),
        )
        self.register_outputs({"project": self.project})
