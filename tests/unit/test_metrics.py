"""The operator's Prometheus metrics as the registry exposes them."""

from __future__ import annotations

from hwcloud_access import metrics


def sample(name: str, **labels: str) -> float | None:
    return metrics.REGISTRY.get_sample_value(name, labels)


def test_a_cloud_call_is_counted_and_timed_by_operation_and_status() -> None:
    metrics.observe_call("test.slow_call", "503", 2.0)
    metrics.observe_call("test.slow_call", "200", 0.02)
    assert sample("hwcloud_access_cloud_calls_total",
                  operation="test.slow_call", status="503") == 1
    failed = {"operation": "test.slow_call", "status": "503"}
    assert sample("hwcloud_access_cloud_call_seconds_count", **failed) == 1
    assert sample("hwcloud_access_cloud_call_seconds_bucket", **failed, le="1.0") == 0
    assert sample("hwcloud_access_cloud_call_seconds_bucket", **failed, le="2.5") == 1
    answered = {"operation": "test.slow_call", "status": "200"}
    assert sample("hwcloud_access_cloud_call_seconds_bucket", **answered, le="0.025") == 1
