"""The lfh-infra policy pack, importable without starting anything.

`policy/__main__.py` hands `all_policies()` to `PolicyPack` (which starts the analyzer server);
`lfh/policy_runner.py` runs the same policy objects offline over a recorded plan.
"""
from __future__ import annotations

from . import audit, aws, azure, gcp, hardening, kubernetes, observability, stack
from .common import ADVISORY_REASONS, DOMAINS, HIPAA_SAFEGUARDS
from .stack import overlapping_paths, secret_references

PACK_NAME = "lfh-hipaa-guardrails"


def all_policies() -> list:
    """Every policy, grouped by domain (kubernetes, aws, azure, gcp, stack)."""
    return [*kubernetes.POLICIES, *aws.POLICIES, *azure.POLICIES, *gcp.POLICIES, *stack.POLICIES, *observability.POLICIES,
            *audit.POLICIES, *hardening.POLICIES]


__all__ = ["ADVISORY_REASONS", "DOMAINS", "HIPAA_SAFEGUARDS", "PACK_NAME", "all_policies", "overlapping_paths",
           "secret_references"]
