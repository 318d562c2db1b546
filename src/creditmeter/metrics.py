"""Prometheus metrics of one app: requests, latency, events and store errors.

Under `creditmeter serve --workers N` every worker writes its samples to files in
`PROMETHEUS_MULTIPROC_DIR` (prometheus-client's multi-process mode, chosen when the module
is first imported); any worker's `/metrics` then answers for all of them together.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from .ingest import IngestResult


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

    def events(self, result: IngestResult) -> None:
        self.accepted.inc(result.accepted)
        self.duplicates.inc(result.duplicates)

    def batch(self, size: int) -> None:
        if size:
            self.batch_size.observe(size)

    def rejected(self, size: int, reason: str) -> None:
        self.rejected_events.labels(reason).inc(size)

    def store_error(self, error: str) -> None:
        self.store_errors.labels(error).inc()

    def render(self) -> bytes:
        if self.multiprocess_dir:  # every worker's samples, from their files
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
