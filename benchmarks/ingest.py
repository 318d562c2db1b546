"""Ingestion benchmark: HTTP batches of 1000 from 4 concurrent clients, vs raw sqlite3.

    python -m benchmarks.ingest --events 2000000                       # SQLite, empty store
    python -m benchmarks.ingest --events 2000000 --prefilled /tmp/bench10m.db  # also vs 10M stored
    python -m benchmarks.ingest --events 2000000 --database-url postgresql://postgres@127.0.0.1/bench

The events are a platform's stream (make_events): a day of traffic in time order, 2% of it
late. Half the all-new batches go first, then as many events in batches of which a quarter
is already stored and the rest is the stream's next events, then the stream's rest: the
store grows all along, so the duplicates are compared with all-new batches sent on both
sides of them. The all-new events go in ten slices, each followed (on SQLite) by the raw
`sqlite3.executemany` baseline's insert of the same rows with the same durability (WAL,
synchronous=FULL, one transaction per 1000 rows), so that both sides of the ratio are
measured over the same minutes of a shared machine. Prints both rates and the ratio, the
server's peak RSS, bytes on disk per event, and with --prefilled the all-new rate into a
copy of a big store against the empty one's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import httpx

from creditmeter import accounts, keys
from creditmeter.categories import CATEGORIES
from creditmeter.clock import now_ms
from creditmeter.settings import Settings
from creditmeter.store import open_store

from .generate import ACCOUNTS, account_id, account_zone
from .servers import creditmeter

BATCH = 1000
CLIENTS = 4
SLICES = 10  # the all-new events are sent in turns with the raw baseline's inserts
DAY_MS = 86_400_000
LATE = 0.02


def make_events(
    count: int, prefix: str, seed: int, *, spread_days: float = 1.0
) -> list[dict[str, object]]:
    """A platform's stream: `count` events in time order over the last `spread_days` days,
    from 50 accounts of Pareto-skewed sizes and 20 bots each; 2% arrive late, stamped up
    to 30 days earlier. Credits are sent as decimal strings."""
    rng = random.Random(seed)
    end = now_ms()
    start = end - int(spread_days * DAY_MS)
    step = (end - start) / count
    events: list[dict[str, object]] = []
    for n in range(count):
        ts = start + int(n * step)
        if rng.random() < LATE:
            ts -= rng.randrange(30 * DAY_MS)
        events.append(
            {
                "id": f"{prefix}-{n:09d}",
                "account_id": account_id(min(int(rng.paretovariate(1.2)) - 1, ACCOUNTS - 1)),
                "bot_id": f"bot-{rng.randrange(20):03d}",
                "category": CATEGORIES[rng.randrange(len(CATEGORIES))],
                "credits": f"{rng.randrange(1, 5_000_000) / 1_000_000:.6f}",
                "timestamp": ts,
            }
        )
    return events


def with_duplicates(
    fresh: list[dict[str, object]], new: list[dict[str, object]], seed: int
) -> list[dict[str, object]]:
    """Batches of 750 events of `new` and 250 resent from the same place in `fresh` (a
    quarter of every batch already stored), laid end to end."""
    rng = random.Random(seed)
    events: list[dict[str, object]] = []
    new_part, old_part = BATCH * 3 // 4, BATCH // 4
    for i in range(min(len(new) // new_part, len(fresh) // BATCH)):
        batch = new[i * new_part : (i + 1) * new_part] + fresh[i * BATCH : i * BATCH + old_part]
        rng.shuffle(batch)
        events += batch
    return events


def _slices(events: list[dict[str, object]], count: int) -> list[list[dict[str, object]]]:
    """`events` cut into `count` parts of whole batches (the last takes the rest)."""
    size = len(events) // BATCH // count * BATCH
    return [events[i * size : (i + 1) * size] for i in range(count - 1)] + [
        events[(count - 1) * size :]
    ]


def batches(events: list[dict[str, object]]) -> list[bytes]:
    return [
        json.dumps({"events": events[i : i + BATCH]}).encode() for i in range(0, len(events), BATCH)
    ]


async def post_all(base_url: str, token: str, bodies: list[bytes]) -> tuple[float, int, int]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    accepted = duplicates = 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def client() -> None:
        nonlocal accepted, duplicates
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            while not queue.empty():
                body = queue.get_nowait()
                answer = await http.post("/v1/usage/events", content=body, headers=headers)
                answer.raise_for_status()
                accepted += answer.json()["accepted"]
                duplicates += answer.json()["duplicates"]

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return time.perf_counter() - started, accepted, duplicates


class RawSqlite:
    """The baseline: the same rows through sqlite3.executemany into a table with the same
    primary key and index, WAL and synchronous=FULL, one transaction per 1000 rows."""

    def __init__(self, path: Path):
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute(
            "CREATE TABLE usage_events (account_id TEXT, event_id TEXT, bot_id TEXT,"
            " category INTEGER, credits INTEGER, ts INTEGER, conversation_id TEXT,"
            " metadata TEXT, PRIMARY KEY (account_id, event_id)) WITHOUT ROWID"
        )
        self.conn.execute("CREATE INDEX ix_ts ON usage_events (account_id, ts)")
        self.rows, self.seconds = 0, 0.0

    def insert(self, events: list[dict[str, object]]) -> None:
        rows = [
            (
                e["account_id"],
                e["id"],
                e["bot_id"],
                CATEGORIES.index(str(e["category"])),
                round(float(str(e["credits"])) * 1_000_000),
                e["timestamp"],
                None,
                None,
            )
            for e in events
        ]
        started = time.perf_counter()
        for i in range(0, len(rows), BATCH):
            self.conn.execute("BEGIN")
            self.conn.executemany(
                "INSERT INTO usage_events VALUES (?,?,?,?,?,?,?,?)", rows[i : i + BATCH]
            )
            self.conn.execute("COMMIT")
        self.seconds += time.perf_counter() - started
        self.rows += len(rows)

    def rate(self) -> float:
        return self.rows / self.seconds


def prepare(url: str) -> str:
    """The benchmark's accounts in the store at `url` (unless there already); an ingest key."""
    store = open_store(Settings(database_url=url))
    existing = {a.id for a in accounts.list_accounts(store=store)}
    for i in range(ACCOUNTS):
        if account_id(i) not in existing:
            accounts.create_account(store=store, account_id=account_id(i), timezone=account_zone(i))
    token = keys.create_key(store=store, scope="ingest").token
    store.dispose()
    return token


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--database-url", help="default: a new SQLite file in a temporary folder")
    parser.add_argument(
        "--prefilled",
        type=Path,
        help="a SQLite store (benchmarks.generate) to copy: all-new events are also sent to the "
        "copy, and its rate compared with the empty store's",
    )
    parser.add_argument(
        "--spread-days",
        type=float,
        default=1.0,
        help="the days the stream's timestamps cover (30: every batch touches ~3,500 rollup rows)",
    )
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="cm-ingest-"))
    try:
        url = args.database_url or f"sqlite:///{folder / 'ledger.db'}"
        tag = f"b{os.getpid()}"
        spread = args.spread_days
        half = args.events // 2
        # One stream: its first half all new, then batches of which a quarter is already
        # stored (the rest taken from the stream), then the stream's rest all new. The
        # store grows as they go, so the all-new rate is taken on both sides; and the new
        # events of every phase come in the stream's order, so their ids and instants land
        # where the stream's next ones would (a second stream's ids would sort before the
        # first's in every account, and be inserted in the middle of its key range).
        extra = half * 3 // 4
        stream = make_events(args.events + extra, f"{tag}-new", 1, spread_days=spread)
        fresh = stream[:half] + stream[half + extra :]
        mixed = with_duplicates(stream[:half], stream[half : half + extra], 5)

        token = prepare(url)
        # The all-new events go in slices, each followed by the raw baseline's insert of the
        # same rows (on SQLite): the machine is shared and its speed drifts, so both sides
        # of the ratio are measured in turns over the same minutes.
        raw = RawSqlite(folder / "raw.db") if url.startswith("sqlite") else None
        new_seconds, accepted = 0.0, 0
        cpu = {"server": 0.0, "children": 0.0, "load generator": 0.0}
        mixed_cpu = dict.fromkeys(cpu, 0.0)
        with creditmeter(url, workers=args.workers) as server:
            for number, part in enumerate(_slices(fresh, SLICES)):
                if number == SLICES // 2:
                    bodies = batches(mixed)
                    before, ours = server.cpu_seconds(), time.process_time()
                    seconds, accepted2, dups = asyncio.run(post_all(server.base_url, token, bodies))
                    after = server.cpu_seconds()
                    for name in after:
                        mixed_cpu[name] += after[name] - before[name]
                    mixed_cpu["load generator"] += time.process_time() - ours
                bodies = batches(part)
                before, ours = server.cpu_seconds(), time.process_time()
                took, stored, _ = asyncio.run(post_all(server.base_url, token, bodies))
                after = server.cpu_seconds()
                for name in after:
                    cpu[name] += after[name] - before[name]
                cpu["load generator"] += time.process_time() - ours
                new_seconds += took
                accepted += stored
                if raw is not None:
                    raw.insert(part)
            rss = server.peak_rss_kb / 1024
        new_rate = accepted / new_seconds
        mixed_rate = (accepted2 + dups) / seconds
        print(f"{url}: {accepted:,} new events at {new_rate:,.0f} events/s")
        print(
            f"25% duplicates: {accepted2:,} new + {dups:,} duplicates at "
            f"{mixed_rate:,.0f} events/s ({mixed_rate / new_rate:.2f} x all-new, which was "
            f"sent half before and half after)"
        )
        print(f"server peak RSS {rss:.0f} MB")
        print(
            "CPU per 1000 all-new events: "
            + ", ".join(f"{name} {spent / accepted * 1e6:.2f} ms" for name, spent in cpu.items())
            + (" (server: the worker; children: its writer process)" if args.workers == 1 else "")
        )
        print(
            "CPU per 1000 events with 25% duplicates: "
            + ", ".join(
                f"{name} {spent / (accepted2 + dups) * 1e6:.2f} ms"
                for name, spent in mixed_cpu.items()
            )
        )
        if raw is not None:
            size = sum(p.stat().st_size for p in folder.glob("ledger.db*"))
            print(
                f"disk: {size / (accepted + accepted2):.0f} bytes per stored event, "
                "rollups included"
            )
            print(f"raw sqlite3.executemany: {raw.rate():,.0f} events/s")
            print(f"creditmeter = {new_rate / raw.rate():.2f} x raw sqlite3")
            raw.conn.close()
        if args.prefilled:
            shutil.copy(args.prefilled, folder / "prefilled.db")
            prefilled_url = f"sqlite:///{folder / 'prefilled.db'}"
            token = prepare(prefilled_url)
            seconds, accepted = 0.0, 0
            with creditmeter(prefilled_url, workers=args.workers) as server:
                # In the same slices as into the empty store, so that both rates pay the
                # same start and end of each slice.
                for part in _slices(fresh, SLICES):
                    took, stored, _ = asyncio.run(post_all(server.base_url, token, batches(part)))
                    seconds += took
                    accepted += stored
                rss = server.peak_rss_kb / 1024
            rate = accepted / seconds
            print(
                f"into a copy of {args.prefilled}: {accepted:,} new events at {rate:,.0f} "
                f"events/s = {rate / new_rate:.2f} x the empty store's; "
                f"server peak RSS {rss:.0f} MB"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
