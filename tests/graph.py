"""Helpers the graph tests share: find one recorded resource, read a computed output."""
from __future__ import annotations

from typing import Any

from lfh.plan import fakes


def one(plan, type_: str, suffix: str = ""):
    """The single recorded resource of ``type_`` whose name ends with ``suffix``."""
    found = [r for r in plan.of_type(type_) if r.name.endswith(suffix)]
    assert len(found) == 1, (type_, suffix, [r.name for r in plan.of_type(type_)])
    return found[0]


def out(r, key: str) -> Any:
    """A computed output of a recorded resource (its recorded state, else what the fakes compute)."""
    return r.state.get(key) or fakes.computed_state(r.type, r.name, r.inputs)[key]


def mutable_copy(engine, stack: str):
    """A copy of ``stack``'s plan that a test may break: its own resources and rendered releases (deep
    copies), no findings, no memoised analysis. The engine's cached plan is never touched."""
    import copy
    import dataclasses

    from lfh.plan.render import rendered

    original = engine.plan(stack)
    plan = dataclasses.replace(original, findings=[], sections={}, resources=copy.deepcopy(original.resources))
    plan.__dict__["_rendered"] = copy.deepcopy(rendered(original))
    return plan


def rendered_object(plan, kind: str, name: str, namespace: str = ""):
    """The one rendered object of ``kind``/``name`` in a (copied) plan, to change in place."""
    from lfh.plan.render import rendered

    found = [o for r in rendered(plan) for o in r.everything()
             if o.kind == kind and o.name == name and (not namespace or o.namespace == namespace)]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def manifest(plan, kind: str, name: str):
    """The inputs of our one recorded object of ``kind``/``name`` (a copied plan's: safe to change)."""
    found = [r for r in plan.resources if r.inputs.get("kind") == kind and (r.inputs.get("metadata") or {}).get("name") == name]
    assert len(found) == 1, (kind, name, len(found))
    return found[0].inputs


def errors_after(check, plan) -> list[str]:
    """Run one analyzer module's ``analyze`` over ``plan``; the messages of its error findings."""
    check.analyze(plan)
    return [f.message for f in plan.findings if f.severity == "error"]
#: Argo CD single sign-on for production platforms written by tests (production refuses to plan without it).
SSO = {"oidc": {"issuer": "https://sso.example.com/realms/platform", "clientId": "argocd", "pkce": True,
                "adminGroups": ["platform-admins"]}}
#: The same as stack-file YAML under `lfh:platform:` (4-space indent).
SSO_YAML = ("    gitops:\n      oidc:\n        issuer: https://sso.example.com/realms/platform\n        clientId: argocd\n"
            "        pkce: true\n        adminGroups: [platform-admins]\n")
