"""The chart's monitoring as the tests see it: the alert rules `helm template` renders, the
dashboard's PromQL, the metric names both read, and promtool (built from its Go module)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from tests.packaging.chart import CHART, VALUE_SETS, render
from tests.support.gotools import go_tool

VALUES = VALUE_SETS["monitoring"]
RUNBOOKS = VALUES["prometheusRule"]["runbookBaseUrl"]
DASHBOARD = CHART / "dashboards" / "hwcloud-access.json"
# What Grafana puts in place of its own variables; the dashboard's variables get a label value.
GRAFANA_INTERVALS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
PROMETHEUS_OWN = {"up"}  # series Prometheus makes itself, not the operator

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_LABELS = re.compile(r"\{[^}]*\}|\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"(?<![\w.])[A-Za-z_:][\w:]*(?![\w:])(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "Inf", "NaN"}
_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*\w+\s*\)\s*$", re.S)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: what is left once strings, label
    matchers, ranges, grouping clauses, function calls and keywords are taken out."""
    bare = _GROUPING.sub(" ", _LABELS.sub(" ", _STRING.sub('""', expr)))
    return {name for name in _NAME.findall(bare) if name not in _KEYWORDS}


def rule_spec(values: dict[str, Any] | None = None) -> dict[str, Any]:
    """The rendered PrometheusRule's spec: a Prometheus rules file as it stands."""
    return render(values or VALUES).one("PrometheusRule")["spec"]


def alerts(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in spec["groups"] for rule in group["rules"]
            if "alert" in rule}


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def dashboard_queries(board: dict[str, Any]) -> list[str]:
    """Every panel target's expression and every query variable's metric selector, with
    Grafana's variables replaced as Grafana would; a variable the dashboard does not
    declare is an error."""
    declared = {variable["name"] for variable in board["templating"]["list"]}
    raw = [target["expr"] for panel in board["panels"] for target in panel.get("targets", [])]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            match = _LABEL_VALUES.match(variable["query"]["query"])
            assert match, f"variable {variable['name']}: not label_values(selector, label)"
            raw.append(match.group(1))

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in GRAFANA_INTERVALS:
            return GRAFANA_INTERVALS[name]
        assert name in declared, f"the dashboard uses ${name}, which it does not declare"
        return "x"

    return [re.sub(r"\$\{(\w+)\}|\$(\w+)", replace, expr) for expr in raw]


def rule_expressions(spec: dict[str, Any]) -> list[str]:
    return [rule["expr"] for group in spec["groups"] for rule in group["rules"]]


def operator_metric_names() -> set[str]:
    """The names that the rendered alerts and the dashboard expect the operator to export."""
    exprs = rule_expressions(rule_spec()) + dashboard_queries(dashboard())
    return {name for expr in exprs for name in metric_names(expr)} - PROMETHEUS_OWN


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(go_tool("promtool")), *args], cwd=cwd, text=True,
                          capture_output=True, timeout=120)


def write_rules(spec: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path
