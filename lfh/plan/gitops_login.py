"""Somebody can log in to Argo CD (`argocd-login` errors).

Read from what the cluster will hold: the rendered `argocd-cm` and `argocd-rbac-cm`, and our
ExternalSecrets. A way in is one of:
- SSO: `oidc.config` with an issuer and client id, and either PKCE (`enablePKCEAuthentication`) or a
  `clientSecret: $<secret>:<key>` whose Secret an ExternalSecret of ours creates with the label
  `app.kubernetes.io/part-of: argocd` (Argo CD resolves `$` references only in Secrets labelled so —
  Argo CD "User management: Sensitive data and SSO client secrets") and that key; plus at least one
  `g, <group>, role:admin` line in `policy.csv`, or nobody can administer it;
- Dex (`dex.config`) — not used here, accepted as a way in;
- the admin user (`admin.enabled`), with `admin.password` set from the secret manager by an
  ExternalSecret into `argocd-secret` (otherwise the password is a random one in a Secret nobody
  manages).
"""
from __future__ import annotations

import re
from typing import Any, Optional

import yaml

from .model import Finding, Plan

CHECK = "argocd-login"
SECRET_REF = re.compile(r"^\$(?P<secret>[a-z0-9][-a-z0-9.]*):(?P<key>[-._a-zA-Z0-9]+)$")
PART_OF = "app.kubernetes.io/part-of"


def _rendered_config(plan: Plan, name: str) -> Optional[Any]:
    from .render import rendered

    for rel in rendered(plan):
        for o in rel.objects:
            if o.kind == "ConfigMap" and o.name == name:
                return o
    return None


def _external_secrets(plan: Plan) -> list[dict[str, Any]]:
    return [obj for _, obj in plan.manifests() if obj.get("kind") == "ExternalSecret"]


def _provides(es: dict[str, Any], secret: str, key: str, labels: dict[str, str]) -> bool:
    spec = es.get("spec") or {}
    target = spec.get("target") or {}
    if target.get("name") != secret:
        return False
    template = target.get("template") or {}
    have = {d.get("secretKey") for d in spec.get("data") or []} | set((template.get("data") or {}))
    tmpl_labels = (template.get("metadata") or {}).get("labels") or {}
    return key in have and all(tmpl_labels.get(k) == v for k, v in labels.items())


def _oidc_problems(oidc_text: str, rbac: dict[str, Any], secrets: list[dict[str, Any]]) -> list[str]:
    try:
        oidc = yaml.safe_load(oidc_text) or {}
    except yaml.YAMLError as exc:
        return [f"oidc.config is not valid YAML ({exc})"]
    out = []
    if not oidc.get("issuer") or not oidc.get("clientID"):
        out.append("oidc.config has no issuer or clientID")
    if not oidc.get("enablePKCEAuthentication"):
        ref = SECRET_REF.match(str(oidc.get("clientSecret") or ""))
        if ref is None:
            out.append("oidc.config has neither enablePKCEAuthentication nor a `clientSecret: $<secret>:<key>` reference "
                       "(a literal client secret would sit in Helm values and state)")
        elif not any(_provides(es, ref["secret"], ref["key"], {PART_OF: "argocd"}) for es in secrets):
            out.append(f"oidc.config reads the client secret from Secret {ref['secret']!r} key {ref['key']!r}, but no "
                       f"ExternalSecret creates it with that key and the label {PART_OF}: argocd (Argo CD ignores "
                       "unlabelled Secrets and then sends the literal string as the secret)")
    policy = str(rbac.get("policy.csv") or "")
    if not re.search(r"^\s*g\s*,\s*[^,]+,\s*role:admin\s*$", policy, re.M):
        out.append("argocd-rbac-cm policy.csv maps no SSO group to role:admin, so nobody can administer Argo CD")
    return out


def analyze(plan: Plan) -> None:
    cm = _rendered_config(plan, "argocd-cm")
    if cm is None:
        return
    data = cm.obj.get("data") or {}
    rbac = ((_rendered_config(plan, "argocd-rbac-cm") or cm).obj.get("data") or {})
    secrets = _external_secrets(plan)
    ways: list[str] = []
    problems: list[str] = []
    if data.get("oidc.config"):
        found = _oidc_problems(str(data["oidc.config"]), rbac, secrets)
        problems += found
        if not found:
            ways.append("SSO")
    if data.get("dex.config"):
        ways.append("Dex")
    if str(data.get("admin.enabled", "true")).lower() == "true":
        if any(_provides(es, "argocd-secret", "admin.password", {}) for es in secrets):
            ways.append("admin")
        else:
            problems.append("admin.enabled is true but nothing sets admin.password in argocd-secret from the secret "
                            "manager (an ExternalSecret into argocd-secret, lfh:platform.gitops.adminEnabled)")
    for problem in problems:
        plan.findings.append(Finding(CHECK, "error", cm.urn, f"Argo CD: {problem}"))
    if not ways:
        plan.findings.append(Finding(CHECK, "error", cm.urn,
            "Argo CD: nobody can log in — the admin user is off and no SSO is configured: set lfh:platform.gitops.oidc "
            "(issuer, clientId, clientSecretKey or pkce, adminGroups), or on a non-production platform "
            "lfh:platform.gitops.adminEnabled with the password hash in the secret manager"))


__all__ = ["CHECK", "analyze"]
