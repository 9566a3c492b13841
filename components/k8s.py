"""Small helpers every Kubernetes-facing component shares: labels, metadata, resource options."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import pulumi

PART_OF = "lfh"
MANAGED_BY = "pulumi"
#: Marks a cluster's default StorageClass (the one PVCs without `storageClassName` get).
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


def labels(name: str, *, client: str | None = None, environment: str | None = None,
           component: str | None = None, **extra: str) -> dict[str, str]:
    """The standard label set of every object we create."""
    out = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    if component:
        out["app.kubernetes.io/component"] = component
    if client:
        out["lfh.io/client"] = client
    if environment:
        out["lfh.io/environment"] = environment
    out.update(extra)
    return out


def meta(name: str, namespace: Optional[str] = None, *, labels: dict[str, str] | None = None,
         annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """ObjectMeta with an explicit name (never auto-named: names are part of the contract)."""
    out: dict[str, Any] = {"name": name}
    if namespace:
        out["namespace"] = namespace
    if labels:
        out["labels"] = labels
    if annotations:
        out["annotations"] = annotations
    return out


def child_opts(parent: pulumi.Resource, provider: pulumi.ProviderResource, *,
               depends_on: Sequence[pulumi.Resource] | None = None, **kwargs: Any) -> pulumi.ResourceOptions:
    """Options for a Kubernetes child: parented, explicit provider, explicit dependencies."""
    return pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on or []), **kwargs)


# --- Registering Kubernetes objects -------------------------------------------------------------
# Built-in kinds and Helm releases are registered through components/sdk.py (the request the typed
# `k8s.core.v1.Namespace`/`k8s.helm.v3.Release` classes send, without importing them: see there why).
from .sdk import RELEASE_TYPE, sdk_registration  # noqa: E402


def kube_type(api_version: str, kind: str) -> str:
    """The Pulumi type token of a built-in kind: `v1`/Namespace -> `kubernetes:core/v1:Namespace`."""
    group, _, version = api_version.rpartition("/")
    return f"kubernetes:{group or 'core'}/{version}:{kind}"


class KubeObject(pulumi.CustomResource):
    """A built-in Kubernetes object (`apiVersion`/`kind` + top-level fields, named as in a manifest).

    ``KubeObject("x", "apps/v1", "Deployment", metadata=..., spec=...)`` registers exactly what
    ``k8s.apps.v1.Deployment("x", metadata=..., spec=...)`` does. ``patch=True`` is the typed
    SDK's `<Kind>Patch` (server-side apply of only the given fields). Outputs are the object's
    top-level fields as plain dicts: ``obj.metadata["name"]``.
    """

    def __init__(self, resource_name: str, api_version: str, kind: str, *, metadata: Any = None,
                 opts: Optional[pulumi.ResourceOptions] = None, patch: bool = False, **fields: Any):
        token = kube_type(api_version, kind) + ("Patch" if patch else "")
        props, opts = sdk_registration(
            token, resource_name, {"apiVersion": api_version, "kind": kind, "metadata": metadata, **fields}, opts)
        super().__init__(token, resource_name, props, opts)


class HelmRelease(pulumi.CustomResource):
    """A Helm release, registered as ``k8s.helm.v3.Release`` registers it. ``props`` are the
    release's inputs under their Pulumi names (`chart`, `repositoryOpts`, `createNamespace`, …);
    a pinned chart's `chart`/`version`/`repositoryOpts` come from `pinned_chart`. Output: `status`."""

    def __init__(self, resource_name: str, props: dict[str, Any], opts: Optional[pulumi.ResourceOptions] = None):
        # The typed class always sends `compat: "true"` (Helm-3-compatible field names).
        props, opts = sdk_registration(RELEASE_TYPE, resource_name, {**props, "compat": "true"}, opts)
        super().__init__(RELEASE_TYPE, resource_name, props, opts)


def pinned_chart(chart_key: str, overrides: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """`chart`, `version` and `repositoryOpts` of a release of a chart pinned in `lfh.charts.CHARTS`
    (an OCI chart is referenced by its URL, without repository options). ``overrides`` are a stack's
    `chartVersions` (e.g. while testing an upgrade; the plan warns about them)."""
    from lfh.charts import CHARTS

    chart = CHARTS[chart_key]
    version = (overrides or {}).get(chart_key, chart.version)
    if chart.is_oci:
        return {"chart": chart.repository, "version": version}
    return {"chart": chart.chart, "version": version, "repositoryOpts": {"repo": chart.repository}}
