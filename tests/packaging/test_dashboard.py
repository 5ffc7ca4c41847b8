"""The chart's Grafana dashboard: the ConfigMap the sidecar loads, the dashboard's shape, and
PromQL that parses (promtool). tests/e2e/test_monitoring.py checks its metric names against
a running operator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.packaging.chart import FULLNAME, NAMESPACE, render, render_error
from tests.packaging.monitoring import (
    DASHBOARD,
    dashboard,
    dashboard_queries,
    metric_names,
    promtool,
    write_rules,
)

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def test_the_configmap_holds_the_dashboard_with_the_sidecars_label() -> None:
    config_map = render({"grafanaDashboard": {"enabled": True}}).one("ConfigMap")
    assert config_map["metadata"]["name"] == f"{FULLNAME}-dashboard"
    assert config_map["metadata"]["namespace"] == NAMESPACE
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["hwcloud-access.json"]) == dashboard()


def test_the_sidecars_label_namespace_and_folder_are_values() -> None:
    config_map = render({"grafanaDashboard": {
        "enabled": True, "label": "example.com/dashboard", "labelValue": "hwcloud",
        "namespace": "monitoring", "annotations": {"grafana_folder": "Operators"}}},
    ).one("ConfigMap")
    assert config_map["metadata"]["labels"]["example.com/dashboard"] == "hwcloud"
    assert "grafana_dashboard" not in config_map["metadata"]["labels"]
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "Operators"}


@pytest.mark.parametrize("values, message", [
    ({"grafanaDashboard": {"label": "grafana dashboard"}}, "label"),
    ({"grafanaDashboard": {"namespace": "Monitoring"}}, "namespace"),
])
def test_bad_values_are_refused(values: dict, message: str) -> None:
    assert message in render_error(values)


def test_every_panel_queries_the_chosen_prometheus() -> None:
    board = dashboard()
    assert board["uid"] and board["title"]
    panels = [panel for panel in board["panels"] if panel["type"] != "row"]
    assert len({panel["id"] for panel in board["panels"]}) == len(board["panels"])
    for panel in panels:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        assert all(target["datasource"] == DATASOURCE for target in panel["targets"])
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    assert {variable["name"] for variable in board["templating"]["list"]} == \
        {"datasource", "namespace", "job"}


def test_the_dashboard_shows_what_a_platform_team_looks_at() -> None:
    """Objects by Ready state, passes by result, calls, latency quantiles, busy share and
    each pacer gauge and counter."""
    exprs = dashboard_queries(dashboard())
    used = {name for expr in exprs for name in metric_names(expr)}
    assert {"hwcloud_access_objects", "hwcloud_access_reconciles_total",
            "hwcloud_access_cloud_calls_total", "hwcloud_access_cloud_call_seconds_bucket",
            "hwcloud_access_pacer_write_rate", "hwcloud_access_pacer_waiting",
            "hwcloud_access_pacer_in_flight",
            "hwcloud_access_pacer_congestion_signals_total"} <= used
    quantiles = [expr for expr in exprs if expr.startswith("histogram_quantile(")]
    assert {expr.split(",")[0] for expr in quantiles} == \
        {"histogram_quantile(0.5", "histogram_quantile(0.95"}
    assert all("by (operation, status, le)" in expr for expr in quantiles)


def test_every_expression_parses(tmp_path: Path) -> None:
    """promtool parses each query as a recording rule (it has no offline query parser)."""
    rules = [{"record": f"dashboard:query_{i}", "expr": expr}
             for i, expr in enumerate(dashboard_queries(dashboard()))]
    path = write_rules({"groups": [{"name": DASHBOARD.stem, "rules": rules}]},
                       tmp_path / "dashboard-rules.yaml")
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_an_undeclared_variable_is_caught() -> None:
    board = dashboard()
    board["panels"][1]["targets"][0]["expr"] = 'up{job="$cluster"}'
    with pytest.raises(AssertionError, match=r"\$cluster"):
        dashboard_queries(board)
