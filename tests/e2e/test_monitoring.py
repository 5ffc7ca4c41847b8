"""The chart's alerts and dashboard read only metrics the running operator exports, by the
names Prometheus stores them under (counters with _total, histograms as _bucket, _sum and
_count)."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.test_operator import group, mq_user, user
from tests.packaging.monitoring import operator_metric_names
from tests.support.operator import wait_ready


def exported_names(text: str) -> set[str]:
    """The sample names of an exposition: what Prometheus ingests from it."""
    return {sample.name for family in text_string_to_metric_families(text)
            for sample in family.samples}


def test_the_alerts_and_the_dashboard_read_only_exported_metrics(stack) -> None:
    testbed, _, operator, ns = stack
    testbed.apply(group("watched", f"watched-{ns}"), ns)
    testbed.apply(user("watched", f"watched-{ns}", groupRef={"name": "watched"}), ns)
    testbed.apply(mq_user("watched", f"watched_{ns.replace('-', '_')}"), ns)
    for kind in ("VpnUserGroup", "VpnUser", "MqUser"):
        wait_ready(testbed, kind, "watched", ns)
    exported = exported_names(httpx.get(operator.metrics_url, timeout=5).text)
    used = operator_metric_names()
    assert "hwcloud_access_cloud_call_seconds_bucket" in used  # the suffixes are kept
    assert used - exported == set(), f"not exported by the operator: {used - exported}"
