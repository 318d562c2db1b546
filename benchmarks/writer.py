"""The SQLite writer alone: the ingest benchmark's stream, made ready, written in groups.

    python -m benchmarks.writer --events 800000 --group 2
    python -m benchmarks.writer --events 800000 --group 2 --pragma wal_autocheckpoint=1000
    python -m benchmarks.writer --events 200000 --group 4 --spread-days 400   # a backfill

No HTTP, no pipe, no other process: batches of 1000 are validated and made ready first
(ingest.Prepared, as a serving worker does), then written by ingest.turn.write_group in
groups of --group batches on a connection set up as the writer process sets up its own,
with --pragma statements after. Prints the rate, the wall and CPU time per batch, the time
spent in the event INSERT and in the rollups, and the rate over each fifth of the run (the
store grows as it goes). One process on one core: it measures a change to the write path
with less noise than the whole server, where the load generator and the worker share the
machine's two cores with the writer.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import event

from creditmeter import events, gctuning
from creditmeter.ingest import Prepared
from creditmeter.ingest.batch import PendingBatch
from creditmeter.ingest.turn import write_group
from creditmeter.ingest.writer_process import writer_pragmas
from creditmeter.settings import Settings
from creditmeter.store import open_store, writes

from .ingest import BATCH, make_events, prepare


def _timed(spent: dict[str, float], name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args)
        finally:
            spent[name] += time.perf_counter() - started

    return timed


def _run(sql: str) -> Callable[[Any, Any], None]:
    """A connect listener that runs `sql` on each new connection."""

    def run(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute(sql)

    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=800_000)
    parser.add_argument("--group", type=int, default=2, help="batches per transaction")
    parser.add_argument(
        "--pragma", action="append", default=[], help="run on the writer's connection after its own"
    )
    parser.add_argument(
        "--spread-days", type=float, default=1.0, help="the days the stream's timestamps cover"
    )
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="cm-writer-"))
    try:
        url = f"sqlite:///{folder / 'writes.db'}"
        prepare(url)
        stream = make_events(args.events, "w", 1, spread_days=args.spread_days)
        ready = [
            Prepared.of(events.parse_batch({"events": stream[i : i + BATCH]}), {})
            for i in range(0, len(stream), BATCH)
        ]
        store = open_store(Settings(database_url=url), upgrade=False)
        event.listen(store.engine, "connect", writer_pragmas)
        for pragma in args.pragma:
            event.listen(store.engine, "connect", _run(f"PRAGMA {pragma}"))
        spent = {"insert": 0.0, "rollups": 0.0}
        insert_new, add_to_rollups = writes.insert_new, writes.add_to_rollups
        writes.insert_new = _timed(spent, "insert", insert_new)
        writes.add_to_rollups = _timed(spent, "rollups", add_to_rollups)
        gctuning.settle()

        groups = [ready[i : i + args.group] for i in range(0, len(ready), args.group)]
        fifths: list[tuple[int, float]] = []
        try:
            started, cpu = time.perf_counter(), time.process_time()
            for number, group in enumerate(groups):
                if number % max(len(groups) // 5, 1) == 0:
                    fifths.append((number * args.group, time.perf_counter()))
                waiting = [PendingBatch(prepared) for prepared in group]
                write_group(store, partial(list, waiting))
                failed = [w.error for w in waiting if w.error is not None]
                if failed:
                    raise failed[0]
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            fifths.append((len(ready), time.perf_counter()))
        finally:
            writes.insert_new, writes.add_to_rollups = insert_new, add_to_rollups
            store.dispose()

        per_batch = 1000 / len(ready)
        print(
            f"groups of {args.group}: {len(stream) / seconds:,.0f} events/s, "
            f"{seconds * per_batch:.2f} ms wall and {cpu * per_batch:.2f} ms CPU per batch; "
            f"INSERT {spent['insert'] * per_batch:.2f} ms, rollups "
            f"{spent['rollups'] * per_batch:.2f} ms per batch"
        )
        for (first, at), (last, then) in itertools.pairwise(fifths):
            print(f"  batches {first}-{last}: {(last - first) * BATCH / (then - at):,.0f} events/s")
        size = sum(p.stat().st_size for p in folder.glob("writes.db*"))
        print(f"disk: {size / len(stream):.0f} bytes per event, rollups included")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
