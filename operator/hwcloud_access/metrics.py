"""Prometheus metrics of the operator (served on --metrics-port)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry()

RECONCILES = Counter("hwcloud_access_reconciles", "Reconcile passes by kind and result.",
                     ["kind", "result"], registry=REGISTRY)
CLOUD_CALLS = Counter("hwcloud_access_cloud_calls", "Cloud API calls by operation and status.",
                      ["operation", "status"], registry=REGISTRY)
CLOUD_LATENCY = Histogram("hwcloud_access_cloud_call_seconds", "Cloud API call latency.",
                          ["operation"], registry=REGISTRY,
                          buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
OBJECTS = Gauge("hwcloud_access_objects", "Managed objects by kind and Ready state.",
                ["kind", "ready"], registry=REGISTRY)

_ready: dict[tuple[str, str, str], bool] = {}


def observe_call(operation: str, status: str, seconds: float) -> None:
    CLOUD_CALLS.labels(operation, status).inc()
    CLOUD_LATENCY.labels(operation).observe(seconds)


def set_ready(kind: str, namespace: str, name: str, ready: bool | None) -> None:
    """Records an object's Ready state (None: the object is gone)."""
    key = (kind, namespace, name)
    old = _ready.pop(key, None)
    if old is not None:
        OBJECTS.labels(kind, str(old).lower()).dec()
    if ready is not None:
        _ready[key] = ready
        OBJECTS.labels(kind, str(ready).lower()).inc()


def serve(port: int) -> None:
    start_http_server(port, addr="0.0.0.0", registry=REGISTRY)
