"""A token bucket per API key, in this process."""

from __future__ import annotations

import math
import threading
import time

from .errors import RateLimited


class RateLimiter:
    """`rate` requests per second per key, with bursts of up to max(rate, 1)."""

    def __init__(self, rate: float):
        self.rate = rate
        self.burst = max(rate, 1.0)
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                wait = math.ceil((1 - tokens) / self.rate)
                raise RateLimited(
                    f"rate limit of {self.rate:g} requests per second for this key reached; "
                    f"retry after {wait} s",
                    headers={"Retry-After": str(wait)},
                )
            self._buckets[key] = (tokens - 1, now)
            if len(self._buckets) > 100_000:  # forget idle keys rather than grow without bound
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
