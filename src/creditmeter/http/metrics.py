"""Prometheus metrics of one app: requests, latency, events and store errors."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from ..ingest import IngestResult


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

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def events(self, result: IngestResult) -> None:
        self.accepted.inc(result.accepted)
        self.duplicates.inc(result.duplicates)

    def render(self) -> bytes:
        return generate_latest(self.registry)
