"""Prometheus metrics of one app: requests, latency, events and store errors.

Under `creditmeter serve --workers N` every worker writes its samples to files in
`PROMETHEUS_MULTIPROC_DIR` (prometheus-client's multi-process mode, chosen when the module
is first imported); any worker's `/metrics` then answers for all of them together.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "creditmeter_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "creditmeter_http_request_duration_seconds",
            "Time to answer a request",
            ["route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.accepted = Counter(
            "creditmeter_events_accepted", "Usage events stored", registry=self.registry
        )
        self.duplicates = Counter(
            "creditmeter_events_duplicate", "Usage events already stored", registry=self.registry
        )
        self.rejected_events = Counter(
            "creditmeter_events_rejected",
            "Usage events in batches refused whole, by reason (invalid or conflict)",
            ["reason"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "creditmeter_ingest_batch_size",
            "Events per ingest batch received",
            registry=self.registry,
            buckets=(1, 10, 50, 100, 250, 500, 750, 1000),
        )
        self.store_errors = Counter(
            "creditmeter_store_errors",
            "Requests answered 503 because the store failed or stayed busy, by error",
            ["error"],
            registry=self.registry,
        )
        self.webhook_deliveries = Counter(
            "creditmeter_webhook_deliveries",
            "Webhook attempts by what became of the delivery: delivered, retried, failed",
            ["outcome"],
            registry=self.registry,
        )
        self.webhook_attempts = Counter(
            "creditmeter_webhook_attempts",
            "Webhook attempts by answer: 2xx, 3xx, 4xx, 5xx, or none (refused, timeout)",
            ["answer"],
            registry=self.registry,
        )
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        # The labelled children of each (method, route, status): labels() costs more than
        # the sample itself. It grows as the metrics themselves do, one per label set.
        self._per_request: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        children = self._per_request.get((method, route, status))
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(route),
            )
            self._per_request[(method, route, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def events(self, accepted: int, duplicates: int) -> None:
        self.accepted.inc(accepted)
        self.duplicates.inc(duplicates)

    def batch(self, size: int) -> None:
        if size:
            self.batch_size.observe(size)

    def rejected(self, size: int, reason: str) -> None:
        self.rejected_events.labels(reason).inc(size)

    def store_error(self, error: str) -> None:
        self.store_errors.labels(error).inc()

    def webhook_attempt(self, status: int | None) -> None:
        self.webhook_attempts.labels("none" if status is None else f"{status // 100}xx").inc()

    def webhook_delivery(self, outcome: str) -> None:
        self.webhook_deliveries.labels(outcome).inc()

    def render(self, webhook_queue: tuple[int, float] | None = None) -> bytes:
        """The samples; with `webhook_queue` (pending deliveries, age in seconds of the
        oldest), read from the store at each scrape, the gauges of the queue too."""
        if self.multiprocess_dir:  # every worker's samples, from their files
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
            text = generate_latest(registry)
        else:
            text = generate_latest(self.registry)
        if webhook_queue is None:
            return text
        return text + _queue_gauges(*webhook_queue)


def _queue_gauges(depth: int, oldest_age_s: float) -> bytes:
    """The store's queue as gauges of a registry of their own: the store holds the truth
    for every process, nothing to add up across workers (and no multi-process files)."""
    registry = CollectorRegistry()
    registry.register(_Queue(depth, oldest_age_s))
    return generate_latest(registry)


class _Queue(Collector):
    def __init__(self, depth: int, oldest_age_s: float):
        self.depth = depth
        self.oldest_age_s = oldest_age_s

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            "creditmeter_webhook_queue_depth",
            "Webhook deliveries pending (every process)",
            value=self.depth,
        )
        yield GaugeMetricFamily(
            "creditmeter_webhook_oldest_pending_age_seconds",
            "Age of the oldest pending webhook delivery; 0 when none is pending",
            value=self.oldest_age_s,
        )
