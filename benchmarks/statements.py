"""Statement-building A/B: the ledger's cached SQL text on the driver's cursor against the
same statements as SQLAlchemy Core, in one run, on a throwaway store.

    python -m benchmarks.statements --database-url sqlite:////tmp/statements.db
    python -m benchmarks.statements --database-url postgresql://postgres@127.0.0.1:5432/cmbench

Times, per call (the median of --rounds rounds, text and Core in turns): writing a batch
of 1,000 new events, and reading 90 days of daily rollups. The database must be empty (the
benchmark fills it).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Callable

from sqlalchemy import Connection, select

from creditmeter.categories import CATEGORIES
from creditmeter.events import Event
from creditmeter.settings import Settings
from creditmeter.store import open_store, sums, writes
from creditmeter.store.tables import usage_days, usage_events

BATCH = 1000
DAY_0 = 739_000


def _batch(n: int) -> list[Event]:
    return [
        Event("acme", f"e{n}-{i}", f"b{i % 4}", i % 8, i, 1_700_000_000_000 + i, None, None)
        for i in range(BATCH)
    ]


def _core_insert(conn: Connection, events: list[Event]) -> None:
    conn.execute(usage_events.insert(), [e._asdict() for e in events])


def _core_day_sums(
    conn: Connection, account_id: str, first: int, last: int
) -> dict[int, list[int]]:
    d = usage_days.c
    query = select(d.day, *(d[c] for c in CATEGORIES)).where(
        d.account_id == account_id, d.bot_id == "", d.day >= first, d.day <= last
    )
    return {row[0]: list(row[1:]) for row in conn.execute(query)}


def _median_us(rounds: int, calls: int, run: Callable[[int], object]) -> float:
    times = []
    for r in range(rounds):
        start = time.perf_counter()
        for c in range(calls):
            run(r * calls + c)
        times.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    store = open_store(Settings(database_url=args.database_url))
    with store.write() as conn:
        rows = [("acme", "", DAY_0 + i, *[i] * len(CATEGORIES)) for i in range(400)]
        writes.add_rollup_rows(conn, "usage_days", rows)

    batches = itertools.count()  # every batch all new

    def write(insert: Callable[[Connection, list[Event]], object]) -> Callable[[int], object]:
        def one(_: int) -> None:
            batch = _batch(next(batches))
            with store.write() as conn:
                insert(conn, batch)

        return one

    text_write = write(writes.insert_new)
    core_write = write(_core_insert)

    def read(query: Callable[..., object]) -> Callable[[int], object]:
        def one(n: int) -> None:
            with store.read() as conn:
                query(conn, "acme", DAY_0 + n % 300, DAY_0 + n % 300 + 89)

        return one

    text_read = read(lambda conn, a, f, last: sums.day_sums(conn, a, None, f, last))
    core_read = read(_core_day_sums)
    figures = {}
    for name, a, b, calls in (
        ("write 1,000 events", text_write, core_write, 20),
        ("read 90 daily rows", text_read, core_read, 500),
    ):
        a(0)  # warm both: prepared statements, compiled cache
        b(0)
        pairs = [(_median_us(1, calls, a), _median_us(1, calls, b)) for _ in range(args.rounds)]
        text_us = statistics.median(p[0] for p in pairs)
        core_us = statistics.median(p[1] for p in pairs)
        figures[name] = (text_us, core_us)
    backend = store.engine.dialect.name
    store.dispose()
    for name, (text_us, core_us) in figures.items():
        print(
            f"{backend:10} {name:20} cached text {text_us:9.1f} us   Core {core_us:9.1f} us"
            f"   Core/text {core_us / text_us:5.2f}"
        )


if __name__ == "__main__":
    main()
