"""Prometheus metrics of the operator (served on --metrics-port)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .reconcile.registry import ObjectKey

REGISTRY = CollectorRegistry()

RECONCILES = Counter("hwcloud_access_reconciles", "Reconcile passes by kind and result.",
                     ["kind", "result"], registry=REGISTRY)
CLOUD_CALLS = Counter("hwcloud_access_cloud_calls", "Cloud API calls by operation and status.",
                      ["operation", "status"], registry=REGISTRY)
# By status too: a timeout or a 5xx takes far longer than an answer, and would otherwise hide
# in the successful calls' quantiles.
CLOUD_LATENCY = Histogram("hwcloud_access_cloud_call_seconds",
                          "Cloud API call latency by operation and status.",
                          ["operation", "status"], registry=REGISTRY,
                          buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
OBJECTS = Gauge("hwcloud_access_objects", "Managed objects by kind and Ready state.",
                ["kind", "ready"], registry=REGISTRY)

# (account, pacer key such as vpn:<server id>, the pacer's snapshot) of every live pacer
PacerSnapshots = Callable[[], Iterable[tuple[str, str, Mapping[str, float]]]]


class PacerCollector(Collector):
    """The per-server pacers, read at scrape time: how fast creates may go and why."""

    def __init__(self) -> None:
        self.source: PacerSnapshots | None = None

    def collect(self) -> Iterator[Metric]:
        labels = ["account", "pacer"]
        rate = GaugeMetricFamily("hwcloud_access_pacer_write_rate",
                                 "Writes per second the per-server pacer lets start.",
                                 labels=labels)
        waiting = GaugeMetricFamily("hwcloud_access_pacer_waiting",
                                    "Calls waiting for the per-server pacer.", labels=labels)
        in_flight = GaugeMetricFamily("hwcloud_access_pacer_in_flight",
                                      "Calls in flight to the server.", labels=labels)
        busy = CounterMetricFamily("hwcloud_access_pacer_congestion_signals",
                                   "Busy or throttled answers the pacer slowed down for.",
                                   labels=labels)
        for account, key, snapshot in self.source() if self.source else ():
            rate.add_metric([account, key], snapshot["rate"])
            waiting.add_metric([account, key], snapshot["waiting"])
            in_flight.add_metric([account, key], snapshot["in_flight"])
            busy.add_metric([account, key], snapshot["congestion_signals"])
        yield from (rate, waiting, in_flight, busy)


PACERS = PacerCollector()
REGISTRY.register(PACERS)


def observe_call(operation: str, status: str, seconds: float) -> None:
    CLOUD_CALLS.labels(operation, status).inc()
    CLOUD_LATENCY.labels(operation, status).observe(seconds)


class ReadyStates:
    """Each object's last Ready state, behind the hwcloud_access_objects gauge."""

    def __init__(self) -> None:
        self._ready: dict[ObjectKey, bool] = {}

    def set(self, key: ObjectKey, ready: bool) -> None:
        self.forget(key)
        self._ready[key] = ready
        OBJECTS.labels(key.kind, str(ready).lower()).inc()

    def forget(self, key: ObjectKey) -> None:
        old = self._ready.pop(key, None)
        if old is not None:
            OBJECTS.labels(key.kind, str(old).lower()).dec()


READY = ReadyStates()


def serve(port: int) -> None:
    start_http_server(port, addr="0.0.0.0", registry=REGISTRY)
