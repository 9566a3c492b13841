"""Small helpers every Kubernetes-facing component shares: labels, metadata, resource options."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import pulumi

PART_OF = "lfh"
MANAGED_BY = "pulumi"


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
from .sdk import sdk_registration  # noqa: E402

RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"


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


#: `helm.v3.Release` inputs: Python keyword -> Pulumi property (the typed class's names).
_RELEASE_FIELDS = (
    "allow_null_values", "atomic", "chart", "cleanup_on_fail", "create_namespace", "dependency_update",
    "description", "devel", "disable_crd_hooks", "disable_openapi_validation", "disable_webhooks",
    "force_update", "keyring", "lint", "manifest", "max_history", "name", "namespace", "postrender",
    "recreate_pods", "render_subchart_notes", "replace", "repository_opts", "reset_values",
    "resource_names", "reuse_values", "skip_await", "skip_crds", "take_ownership", "timeout",
    "value_yaml_files", "values", "verify", "version", "wait_for_jobs",
)


def _camel(name: str) -> str:
    if name == "disable_crd_hooks":  # the one property not named by the camelCase rule
        return "disableCRDHooks"
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class HelmRelease(pulumi.CustomResource):
    """A Helm release, registered as ``k8s.helm.v3.Release`` registers it (same keyword arguments;
    ``repository_opts`` is a plain dict such as ``{"repo": url}``). Output: ``release.status``."""

    def __init__(self, resource_name: str, *, opts: Optional[pulumi.ResourceOptions] = None, **inputs: Any):
        unknown = sorted(set(inputs) - set(_RELEASE_FIELDS))
        if unknown:
            raise TypeError(f"HelmRelease {resource_name}: unknown argument(s) {', '.join(unknown)}")
        if inputs.get("chart") is None:
            raise TypeError("Missing required property 'chart'")
        # The typed class always sends `compat: "true"` (Helm-3-compatible field names).
        props = {**{_camel(k): v for k, v in inputs.items()}, "compat": "true"}
        props, opts = sdk_registration(RELEASE_TYPE, resource_name, props, opts)
        super().__init__(RELEASE_TYPE, resource_name, props, opts)
