"""Python's garbage collector, set for the long-running processes: serving workers and
the SQLite writer.

A batch of 1000 events or a report makes thousands of short-lived containers (dicts,
tuples, lists) that hold no cycles, and reference counting frees them. With the default
thresholds the collector still ran a young collection every 700 of them and, now and
then, a full one over every object the process had built to start up: measured in a
serving worker under ingestion (benchmarks/ingest.py), 1,143 young, 104 middle and 9 full
collections over 400 batches, 0.70 s in all, and the worker spent 7.97 ms of CPU per batch
with them against 5.39 ms with settle() (docs/benchmarks.md).
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
