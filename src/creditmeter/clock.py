"""The one place that reads the wall clock, so tests can see what "now" was."""

from __future__ import annotations

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000
