"""Conformance checks inside `plan`: the recorded graph against upstream truth.

Each check returns Findings; ``analyze`` runs them all over a Plan.
"""
from __future__ import annotations

from .model import Finding, Plan


def check_explicit_provider(plan: Plan) -> list[Finding]:
    """Every `kubernetes:*` resource names an explicit provider (never the ambient kubeconfig)."""
    findings = []
    for r in plan.resources:
        if r.is_kubernetes and r.custom and not r.provider:
            findings.append(Finding(
                "explicit-provider", "error", r.urn,
                f"{r.type} {r.name!r} has no explicit provider: it would use the ambient kubeconfig",
            ))
    return findings


def analyze(plan: Plan) -> None:
    plan.findings.extend(check_explicit_provider(plan))
