"""`chartVersions` in a client stack reaches the client's own releases (MongoDB operator, MinIO), like the platform's."""
from __future__ import annotations

import pytest

from lfh.charts import CHARTS
from lfh.config import ConfigError, parse_stack_config
from lfh.config.client import CLIENT_CHARTS

from client_apps_helpers import client, plan_with

#: Versions neither the chart cache nor ../shared/upstream holds: the release can't be rendered offline.
OVERRIDES = {"psmdb-operator": "1.22.1", "minio": "5.4.1"}


def test_chart_versions_change_the_client_releases(tmp_path):
    plan_of = plan_with(tmp_path, {"cv-staging": client("cv", chartVersions=OVERRIDES), "pin-staging": client("pin")})
    plan, pinned = plan_of("cv-staging"), plan_of("pin-staging")
    versions = {h["chart"]: h["version"] for _, h in plan.helm_releases()}
    assert versions == {"psmdb-operator": "1.22.1", "minio": "5.4.1"}
    assert {h["chart"]: h["version"] for _, h in pinned.helm_releases()} == {
        "psmdb-operator": CHARTS["psmdb-operator"].version, "minio": CHARTS["minio"].version}
    # As designed for the platform: the override warns, and a version no local chart source holds
    # cannot be rendered, which is an error — never a silent skip.
    for key, version in OVERRIDES.items():
        found = sorted((f.check, f.severity) for f in plan.findings if version in f.message and key in f.message)
        assert found == [("helm-render", "error"), ("helm-values", "warning")], (key, found)
    assert not pinned.errors


def test_only_client_charts_can_be_overridden():
    assert set(CLIENT_CHARTS) <= set(CHARTS)
    with pytest.raises(ConfigError) as exc:
        parse_stack_config("x-staging", {"lfh:client": client("x", chartVersions={"velero": "12.1.1"})})
    (line,) = exc.value.lines
    assert line.startswith("lfh:client.chartVersions.velero: is not a chart a client stack installs; allowed: psmdb-operator, minio")
