"""Entry point the Pulumi CLI runs: construct the pack (this starts the analyzer server and never returns).

The policies live in the importable package `lfh_policies` so tests and `python -m lfh plan` can run them
offline without starting anything.
"""
from pulumi_policy import EnforcementLevel, PolicyPack

from lfh_policies import PACK_NAME, all_policies

PolicyPack(
    name=PACK_NAME,
    policies=all_policies(),
    enforcement_level=EnforcementLevel.MANDATORY,
    description="HIPAA-mapped guardrails for lfh-infra platform and client stacks.",
)
