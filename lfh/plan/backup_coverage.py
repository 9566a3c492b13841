"""Report section: what a client stack's backups (and its restore drill) cover and what they don't.

The stack computes it (components/client/backups.py: `backup_coverage`) and exports it as
`backupCoverage`; the plan shows it next to sizing and cost, so a reviewer sees e.g. that an external
database's data is the provider's to back up before approving the stack.
"""
from __future__ import annotations

from .model import Plan


def analyze(plan: Plan) -> None:
    coverage = (plan.outputs or {}).get("backupCoverage") if plan.role == "client" else None
    if not coverage:
        return
    text = [f"covered:     {c}" for c in coverage.get("covers") or []]
    text += [f"NOT covered: {c}" for c in coverage.get("notCovered") or []]
    plan.sections["backupCoverage"] = {"title": "backups and the restore drill:", "text": text, "data": coverage}
