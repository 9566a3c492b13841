"""The pinned chart table in code equals the upstream index it mirrors."""
from __future__ import annotations

import pytest

from lfh.charts import CHARTS, chart_for
from lfh.upstream import charts_index, upstream_dir


def test_chart_table_mirrors_upstream_charts_yaml():
    root = upstream_dir()
    if root is None:
        pytest.skip("../shared/upstream is absent")
    index = charts_index(str(root))["charts"]
    assert set(CHARTS) == set(index)
    for key, entry in index.items():
        pinned = CHARTS[key]
        assert (pinned.chart, pinned.repository, pinned.version) == (entry["chart"], entry["repository"], entry["version"]), key


def test_chart_lookup_by_name_and_repository():
    assert chart_for("velero", "https://vmware-tanzu.github.io/helm-charts/").version == "12.1.0"
    assert chart_for("velero", "https://example.com/charts") is None
