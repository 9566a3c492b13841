"""Shared fixtures: one plan engine per test session, so each stack is planned once."""
from __future__ import annotations

import pytest

from lfh.plan import Engine, analyze


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine()


@pytest.fixture(scope="session")
def plan_of(engine):
    """plan_of("demo-prod") -> the analysed Plan of that stack (cached)."""
    def _plan(stack: str):
        return analyze(engine.plan(stack))
    return _plan
