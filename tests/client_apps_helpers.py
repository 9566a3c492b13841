"""Helpers for the client tests: temporary stack dirs, manifests by kind, CRD schemas."""
from __future__ import annotations

import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from lfh import STACKS_DIR
from lfh.plan import Engine, analyze
from lfh.upstream import load_yaml_all, upstream_dir

CLIENT_STACKS = ["demo-staging", "demo-prod", "acme-prod"]


def by_kind(plan, kind: str) -> list[dict[str, Any]]:
    return [m for _, m in plan.manifests() if m.get("kind") == kind]


def named(plan, kind: str, name: str) -> dict[str, Any]:
    """The one manifest of ``kind`` called ``name``."""
    found = [m for m in by_kind(plan, kind) if m["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name, [m["metadata"]["name"] for m in by_kind(plan, kind)])
    return found[0]


def pod_specs(plan) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(kind/name, pod template metadata, pod spec) of every pod-making object."""
    out = []
    for _, m in plan.manifests():
        kind, spec = m.get("kind"), m.get("spec") or {}
        name = f"{kind}/{m['metadata']['name']}"
        if kind in ("Deployment", "StatefulSet", "Job"):
            t = spec["template"]
        elif kind == "CronJob":
            t = spec["jobTemplate"]["spec"]["template"]
        else:
            continue
        out.append((name, t.get("metadata") or {}, t["spec"]))
    return out


def namespace_of(m: dict[str, Any]) -> str | None:
    return (m.get("metadata") or {}).get("namespace")


def plan_with(tmp_path: Path, stacks: dict[str, dict[str, Any]], platform: str = "platform-local"):
    """An Engine over a temp stacks dir holding the real platform stack plus the given client stacks."""
    shutil.copy(STACKS_DIR / f"Pulumi.{platform}.yaml", tmp_path / f"Pulumi.{platform}.yaml")
    for name, client in stacks.items():
        (tmp_path / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": {"lfh:client": client}}))
    engine = Engine(stacks_dir=tmp_path)
    return lambda stack: analyze(engine.plan(stack))


def client(name: str, env: str = "staging", **extra: Any) -> dict[str, Any]:
    base = {
        "name": name, "environment": env, "platformStack": "organization/lfh/platform-local",
        "domain": f"{name}.example.org",
        "apps": {"hapihub": {"tag": "5.215.2"}, "mycureapp": {"tag": "10.18.0"}, "syncd": {"enabled": True, "tag": "1.2.0"}},
    }
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            merged = dict(base[k])
            for kk, vv in v.items():
                merged[kk] = {**merged.get(kk, {}), **vv} if isinstance(vv, dict) and isinstance(merged.get(kk), dict) else vv
            base[k] = merged
        else:
            base[k] = v
    return base


@lru_cache(maxsize=None)
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema from the upstream CRD bundles."""
    root = upstream_dir()
    out: dict[tuple[str, str], dict[str, Any]] = {}
    if root is None:
        return out
    for rel in ["gateway-api/crds.yaml", "velero/crds.yaml", "cert-manager/crds.yaml",
                "external-secrets/crds.yaml", "kube-prometheus-stack/crds.yaml"]:
        for doc in load_yaml_all(root / rel):
            if doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for v in spec.get("versions") or []:
                schema = (v.get("schema") or {}).get("openAPIV3Schema")
                if schema and v.get("served", True):
                    out[(f"{spec['group']}/{v['name']}", spec["names"]["kind"])] = schema
    return out
