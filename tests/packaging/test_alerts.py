"""The chart's PrometheusRule: promtool checks the rendered rules and runs their unit tests
(alerts-test.yaml); every alert links to its runbook in the README; the values reach the
rules; bad values are refused."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.packaging.chart import FULLNAME, NAMESPACE, ROOT, render, render_error
from tests.packaging.monitoring import (
    RUNBOOKS,
    VALUES,
    alerts,
    promtool,
    rule_spec,
    write_rules,
)

HERE = Path(__file__).parent
UNIT_TESTS = HERE / "alerts-test.yaml"


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else len(text)]


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_rules_pass_promtool_check(tmp_path: Path) -> None:
    result = promtool("check", "rules", str(write_rules(rule_spec(), tmp_path / "rules.yaml")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout


def test_the_alerts_fire_and_stay_quiet_as_their_unit_tests_say(tmp_path: Path) -> None:
    write_rules(rule_spec(), tmp_path / "rules.yaml")
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    result = promtool("test", "rules", UNIT_TESTS.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    cases: dict[str, set[bool]] = {}
    for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"]:
        for case in test["alert_rule_test"]:
            cases.setdefault(case["alertname"], set()).add(bool(case["exp_alerts"]))
    assert {name: {True, False} for name in alerts(rule_spec())} == cases


def test_every_alert_explains_itself_and_links_to_its_runbook() -> None:
    monitoring = readme_section("Monitoring")
    headings = {github_anchor(line.lstrip("#")) for line in monitoring.splitlines()
                if line.startswith("#### ")}
    for name, rule in alerts(rule_spec()).items():
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], name
        base, anchor = annotations["runbook_url"].split("#")
        assert base == RUNBOOKS
        assert anchor in headings, f"{name}: no README heading '#### {name}' under Monitoring"
        assert rule["labels"]["severity"] in ("critical", "warning")
        assert rule["labels"]["team"] == "platform"  # prometheusRule.alertLabels


def test_the_rule_object_and_its_knobs() -> None:
    rendered = render({"prometheusRule": {
        **VALUES["prometheusRule"],
        "additionalLabels": {"release": "kube-prometheus-stack"},
        "alertLabels": {"severity": "ignored", "team": "platform"},
        "selector": 'job="hwcloud", cluster="eu-1"',
        "objectsNotReady": {"threshold": 20, "for": "1h"},
        "notReconciling": {"window": "2h"},
        "cloudBusy": {"for": "45m"},
        "cloudErrors": {"threshold": 0.25, "for": "20m"}}})
    rule = rendered.one("PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["name"] == FULLNAME
    assert rule["metadata"]["namespace"] == NAMESPACE
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    found = alerts(rule["spec"])
    assert found["HwcloudAccessObjectsNotReady"]["for"] == "1h"
    assert found["HwcloudAccessObjectsNotReady"]["expr"].endswith("> 20")
    assert found["HwcloudAccessNotReconciling"]["expr"].count("[2h]") == 2
    assert "2h" in found["HwcloudAccessNotReconciling"]["annotations"]["description"]
    assert found["HwcloudAccessCloudBusy"]["for"] == "45m"
    assert found["HwcloudAccessCloudErrors"]["for"] == "20m"
    assert found["HwcloudAccessCloudErrors"]["expr"].endswith("> 0.25")
    assert "More than 25% of" in found["HwcloudAccessCloudErrors"]["annotations"]["description"]
    for name, alert in found.items():
        assert alert["labels"]["severity"] != "ignored", name  # each alert keeps its own
        assert alert["expr"].count("{") == alert["expr"].count('job="hwcloud", cluster="eu-1"')


def test_off_by_default() -> None:
    rendered = render()
    assert rendered.of("PrometheusRule") == []
    assert rendered.of("ConfigMap") == []


@pytest.mark.parametrize("values, message", [
    ({"prometheusRule": {"enabled": True}}, "prometheusRule.runbookBaseUrl is required"),
    ({"prometheusRule": {**VALUES["prometheusRule"]}, "metrics": {"enabled": False}},
     "prometheusRule.enabled needs metrics.enabled"),
    ({"prometheusRule": {"runbookBaseUrl": "README.md#monitoring"}}, "runbookBaseUrl"),
    ({"prometheusRule": {"objectsNotReady": {"for": "half an hour"}}}, "for"),
    ({"prometheusRule": {"notReconciling": {"window": 30}}}, "window"),
    ({"prometheusRule": {"cloudErrors": {"threshold": 10}}}, "threshold"),
    ({"prometheusRule": {"cloudBusy": {"share": 0.2}}}, "share"),
])
def test_bad_values_are_refused(values: dict[str, Any], message: str) -> None:
    assert message in render_error(values)
