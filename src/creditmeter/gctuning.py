"""Python's garbage collector, set for the long-running processes: serving workers and
the SQLite writer.

A batch of 1000 events or a report makes thousands of short-lived containers that hold
no cycles, and reference counting frees them; the default thresholds still ran young
collections every 700 of them and, now and then, a full one over every object built at
start-up. The counts and the CPU per batch, with and without settle(), are in
docs/benchmarks.md (Ingestion).
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 100)


def settle() -> None:
    """Collects what starting up left, then moves every object left out of the collector's
    sight, so that no collection walks them again (reference counting still frees them;
    only a cycle among them would stay), and collects the young objects less often (see
    THRESHOLDS). For a process's entry point, once its app or store is built."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
