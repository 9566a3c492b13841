"""The offline plan engine: run the program under mocks, record, check, write the output contract."""
from __future__ import annotations

import importlib
from typing import Callable

from .engine import Engine, PlanError, list_stacks
from .model import Finding, Plan, Resource
from .output import render_summary, write_plan

#: Analyzers run over every plan, in order. Each is "module:function" taking a Plan and adding
#: findings and/or report sections to it.
ANALYZERS = [
    "lfh.plan.render:analyze",
    "lfh.plan.conformance:analyze",
    "lfh.plan.images:analyze",
    "lfh.plan.network_policies:analyze",
    "lfh.plan.pod_security:analyze",
    "lfh.plan.containers:analyze",
    "lfh.plan.references:analyze",
    "lfh.plan.webhooks:analyze",
    "lfh.plan.gateways:analyze",
    "lfh.plan.certificates:analyze",
    "lfh.plan.mongodb_tls:analyze",
    "lfh.plan.backups:analyze",
    "lfh.plan.binary_authorization:analyze",
    "lfh.plan.cluster_warnings:analyze",
    "lfh.plan.cloud_names:analyze",
    "lfh.plan.node_setup:analyze",
    "lfh.plan.autoscaling:analyze",
    "lfh.plan.aks_key_vault:analyze",
    "lfh.plan.gitops_login:analyze",
    "lfh.plan.storage_classes:analyze",
    "lfh.plan.self_contained:analyze",
    "lfh.plan.platform_sizing:analyze",
    "lfh.plan.client_sizing:analyze",
    "lfh.plan.scheduling:analyze",
    "lfh.plan.secret_refs:analyze",
    "lfh.plan.backup_coverage:analyze",
    "lfh.policy_runner:analyze",
    "lfh.cost:analyze",
]


def _load(spec: str) -> Callable[[Plan], None]:
    module, _, fn = spec.partition(":")
    return getattr(importlib.import_module(module), fn)


def analyze(plan: Plan) -> Plan:
    if not getattr(plan, "_analyzed", False):
        for spec in ANALYZERS:
            _load(spec)(plan)
        plan._analyzed = True  # type: ignore[attr-defined]
    return plan


def plan_stack(stack: str, engine: Engine | None = None) -> Plan:
    """Plan one stack and run every analyzer over it."""
    return analyze((engine or Engine()).plan(stack))


__all__ = ["ANALYZERS", "Engine", "Finding", "Plan", "PlanError", "Resource", "analyze",
           "list_stacks", "plan_stack", "render_summary", "write_plan"]
