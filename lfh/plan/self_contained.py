"""A self-contained platform (`cluster.selfContained`, e.g. a fresh kind/k3d cluster) needs nothing
outside the cluster (`self-contained` errors):

- every secret the platform reads through a `kubernetes`-provider ClusterSecretStore is a Secret this
  stack creates in the store's namespace, with the property the ExternalSecret asks for — otherwise
  External Secrets fails and whatever waits for the Secret (Velero, Argo CD's admin) never starts;
- the store itself reads that namespace as a ServiceAccount this stack creates and allows to read it;
- backups (Velero locations) go to an address inside the cluster (`*.svc.cluster.local`), served by an
  object store this stack installs there.
"""
from __future__ import annotations

from typing import Any

from .model import Finding, Plan

CHECK = "self-contained"
CLUSTER_LOCAL = ".svc.cluster.local"


def _ours(plan: Plan, kind: str) -> list[tuple[Any, dict[str, Any]]]:
    return [(r, m) for r, m in plan.manifests() if m.get("kind") == kind]


def analyze(plan: Plan) -> None:
    cluster = getattr(getattr(getattr(plan, "config", None), "platform", None), "cluster", None)
    if plan.role != "platform" or not getattr(cluster, "self_contained", False):
        return
    stores = {m["metadata"]["name"]: (r, (m.get("spec") or {}).get("provider") or {})
              for r, m in _ours(plan, "ClusterSecretStore")}
    secrets = {((m.get("metadata") or {}).get("namespace"), (m.get("metadata") or {}).get("name")): (r, m)
               for r, m in _ours(plan, "Secret")}
    for res, store in stores.values():
        k8s = store.get("kubernetes")
        if k8s is None:
            plan.findings.append(Finding(CHECK, "error", res.urn,
                f"ClusterSecretStore {res.name}: a self-contained platform reads its secrets from the cluster "
                f"(External Secrets' `kubernetes` provider), not from {', '.join(store) or 'nothing'}"))
            continue
        ns = k8s.get("remoteNamespace")
        reader = ((k8s.get("auth") or {}).get("serviceAccount") or {})
        bindings = [m for _, m in _ours(plan, "RoleBinding") if (m.get("metadata") or {}).get("namespace") == ns
                    and {"kind": "ServiceAccount", "name": reader.get("name"), "namespace": reader.get("namespace")}
                    in (m.get("subjects") or [])]
        if not bindings:
            plan.findings.append(Finding(CHECK, "error", res.urn,
                f"ClusterSecretStore {res.name}: no RoleBinding in {ns} lets {reader.get('namespace')}/{reader.get('name')} "
                "read its Secrets"))
    for res, es in _ours(plan, "ExternalSecret"):
        spec = es.get("spec") or {}
        ref = spec.get("secretStoreRef") or {}
        store = stores.get(ref.get("name")) if ref.get("kind") == "ClusterSecretStore" else None
        if store is None or "kubernetes" not in store[1]:
            continue
        ns = store[1]["kubernetes"].get("remoteNamespace")
        for item in spec.get("data") or []:
            remote = item.get("remoteRef") or {}
            held = secrets.get((ns, remote.get("key")))
            where = f"ExternalSecret {es['metadata'].get('namespace')}/{es['metadata']['name']}"
            if held is None:
                plan.findings.append(Finding(CHECK, "error", res.urn,
                    f"{where} reads {remote.get('key')!r} from namespace {ns}, but nothing creates that Secret: "
                    "generate it in components/platform/self_contained.py"))
                continue
            data = held[1].get("stringData") or held[1].get("data") or {}
            if isinstance(data, dict) and remote.get("property") and remote["property"] not in data:
                plan.findings.append(Finding(CHECK, "error", res.urn,
                    f"{where} reads property {remote['property']!r} of Secret {ns}/{remote.get('key')}, which has only "
                    f"{', '.join(sorted(data))}"))
    for res, bsl in _ours(plan, "BackupStorageLocation"):
        url = str(((bsl.get("spec") or {}).get("config") or {}).get("s3Url") or "")
        host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
        if not host.endswith(CLUSTER_LOCAL):
            plan.findings.append(Finding(CHECK, "error", res.urn,
                f"BackupStorageLocation {bsl['metadata']['name']}: {url or 'no s3Url'} is outside the cluster; a "
                "self-contained platform backs up to its in-cluster object store"))
        elif not any(r.inputs.get("name") and host.startswith(f"{r.inputs['name']}.{r.inputs.get('namespace')}.")
                     for r, _ in plan.helm_releases()):
            plan.findings.append(Finding(CHECK, "error", res.urn,
                f"BackupStorageLocation {bsl['metadata']['name']}: nothing this stack installs serves {host}"))


__all__ = ["CHECK", "analyze"]
