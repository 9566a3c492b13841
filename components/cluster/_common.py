"""Pieces the cloud cluster components share (no cloud SDK imports here: this module is cheap)."""
from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

import pulumi

from lfh.config import PlatformConfig
from lfh.config.cluster import POOL_LABEL, Taint

#: Fixed add-on service accounts (namespace, name) the cloud identities are bound to. The core
#: platform installs the add-ons with exactly these names.
ADDON_SERVICE_ACCOUNTS: dict[str, tuple[str, str]] = {
    "external-secrets": ("external-secrets", "external-secrets"),
    "velero": ("velero", "velero"),
    "cert-manager": ("cert-manager", "cert-manager"),
    "longhorn": ("longhorn-system", "longhorn-service-account"),
}


def service_account_ref(addon: str) -> dict[str, str]:
    """An External Secrets/cert-manager `serviceAccountRef` to the add-on's own service account."""
    namespace, name = ADDON_SERVICE_ACCOUNTS[addon]
    return {"name": name, "namespace": namespace}

#: Object prefixes in the backup bucket; lifecycle rules key on them.
DAILY_PREFIX = "daily"
ARCHIVE_PREFIX = "archive"
LONGHORN_PREFIX = "longhorn"


def tags(platform: PlatformConfig, *, phi: bool = False) -> dict[str, str]:
    """Tags on every taggable cloud resource (AWS/Azure spelling)."""
    out = dict(platform.tags)
    out.update({"lfh:platform": platform.name, "lfh:environment": platform.environment.value, "managed-by": "pulumi"})
    if phi:
        out["data-classification"] = "phi"
    return out


def gcp_labels(platform: PlatformConfig, *, phi: bool = False) -> dict[str, str]:
    """GCP labels: keys/values lowercase, only letters, digits, `_` and `-` (so `lfh:platform` → `lfh_platform`)."""
    def clean(s: str) -> str:
        return re.sub(r"[^a-z0-9_-]", "_", s.lower())[:63]

    return {clean(k): clean(v) for k, v in tags(platform, phi=phi).items()}


def data_opts(parent: pulumi.Resource, **kw: Any) -> pulumi.ResourceOptions:
    """Options for anything holding data or keys: never deleted by an accidental `pulumi destroy`."""
    return pulumi.ResourceOptions(parent=parent, protect=True, retain_on_delete=True, **kw)


def split_cidr(cidr: str, count: int, extra_bits: int) -> list[str]:
    """The first ``count`` subnets of ``cidr`` that are ``extra_bits`` longer."""
    net = ipaddress.ip_network(cidr, strict=False)
    return [str(s) for s in list(net.subnets(prefixlen_diff=extra_bits))[:count]]


def node_labels(pool_name: str, pool: Any) -> dict[str, str]:
    """The pool's node labels; `lfh.io/pool=<pool>` is always set (the contract's nodeSelector uses it)."""
    return {**pool.labels, POOL_LABEL: pool_name}


def scheduling(pools: Any) -> dict[str, dict[str, Any]]:
    """nodeSelector + tolerations per pool, for the contract (`system`, `apps`, `db`)."""
    out: dict[str, dict[str, Any]] = {}
    for pool_name in ("system", "apps", "db"):
        pool = getattr(pools, pool_name)
        out[pool_name] = {
            "nodeSelector": {POOL_LABEL: pool_name},
            "tolerations": [
                {"key": t.key, "operator": "Equal", "value": t.value, "effect": t.effect} for t in pool.taints
            ],
        }
    return out


def kubeconfig_yaml(name: Any, endpoint: Any, ca_data: Any, user: Any) -> pulumi.Output[str]:
    """A one-context kubeconfig (JSON is valid YAML) with the given user block (or a function of the
    cluster name returning it), as a secret Output."""
    def render(args: list[Any]) -> str:
        n, ep, ca = args
        server = ep if str(ep).startswith("https://") else f"https://{ep}"
        return json.dumps({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": n, "cluster": {"server": server, "certificate-authority-data": ca}}],
            "contexts": [{"name": n, "context": {"cluster": n, "user": n}}],
            "current-context": n,
            "users": [{"name": n, "user": user(n) if callable(user) else user}],
        }, indent=2)

    return pulumi.Output.secret(pulumi.Output.all(name, endpoint, ca_data).apply(render))


def taint_effect_upper(t: Taint) -> str:
    """`NoSchedule` → `NO_SCHEDULE` (EKS and GKE spelling)."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", t.effect).upper()
