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


#: Argo CD single sign-on for production platforms written by tests (production refuses to plan without it).
SSO = {"oidc": {"issuer": "https://sso.example.com/realms/platform", "clientId": "argocd", "pkce": True,
                "adminGroups": ["platform-admins"]}}
#: The same as stack-file YAML under `lfh:platform:` (4-space indent).
SSO_YAML = ("    gitops:\n      oidc:\n        issuer: https://sso.example.com/realms/platform\n        clientId: argocd\n"
            "        pkce: true\n        adminGroups: [platform-admins]\n")
