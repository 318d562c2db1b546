"""Ingestion benchmark: HTTP batches of 1000 from 4 concurrent clients, vs raw sqlite3.

    python -m benchmarks.ingest --events 2000000                       # SQLite, empty store
    python -m benchmarks.ingest --events 2000000 --prefilled /tmp/bench10m.db  # also vs 10M stored
    python -m benchmarks.ingest --events 2000000 --database-url postgresql://postgres@127.0.0.1/bench

The events are a platform's stream (make_events): a day of traffic in time order, 2% of it
late. They are sent in ten turns (in_turns), each an all-new part and then half as many
events in batches of which a quarter is already stored (the oldest events not resent yet)
and the rest is the stream's next events. On SQLite each all-new part is followed by the
raw `sqlite3.executemany` baseline's insert of the same rows with the same durability (WAL,
synchronous=FULL, one transaction per 1000 rows). So both sides of each ratio are measured
in turns over the same minutes of a shared machine, and meet the store at every size as it
grows. Prints the rates and ratios, each process's CPU time per 1000 events, the server's
peak RSS, bytes on disk per event, and with --prefilled the all-new rate into a copy of a
big store against the empty one's.
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
from creditmeter.credits.grants import GrantRequest, create_grant
from creditmeter.settings import Settings
from creditmeter.store import open_store

from .generate import ACCOUNTS, account_id, account_zone
from .servers import creditmeter

BATCH = 1000
CLIENTS = 4
TURNS = 10  # the phases are sent in turns with each other and with the raw baseline's inserts
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


def in_turns(
    stream: list[dict[str, object]], all_new: int, seed: int
) -> list[tuple[list[dict[str, object]], list[dict[str, object]]]]:
    """`all_new` events of the stream, and half as many again in batches of which a quarter
    is already stored, cut into TURNS turns: each an all-new part, then a part of batches
    of 750 new events and 250 resent, shuffled. Every part takes the stream's next events,
    so new ids and instants land where the stream's next ones would (appended to each
    account's key range); the resent events are the oldest sent and not yet resent."""
    rng = random.Random(seed)
    per_turn = all_new // TURNS // BATCH * BATCH
    new_part, old_part = BATCH * 3 // 4, BATCH // 4
    turns = []
    taken = resent = 0
    for _ in range(TURNS):
        fresh = stream[taken : taken + per_turn]
        taken += per_turn
        mixed: list[dict[str, object]] = []
        for _ in range(per_turn // 2 // BATCH):
            batch = stream[taken : taken + new_part] + stream[resent : resent + old_part]
            taken += new_part
            resent += old_part
            rng.shuffle(batch)
            mixed += batch
        turns.append((fresh, mixed))
    return turns


def batches(events: list[dict[str, object]]) -> list[bytes]:
    return [
        json.dumps({"events": events[i : i + BATCH]}).encode() for i in range(0, len(events), BATCH)
    ]


async def post_all(base_url: str, token: str, bodies: list[bytes]) -> tuple[float, int, int]:
    """Posts the bodies from CLIENTS concurrent clients; the seconds it took from the first
    send to the last answer, the events accepted and the duplicates."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    accepted = duplicates = 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal accepted, duplicates
        while not queue.empty():
            body = queue.get_nowait()
            answer = await http.post("/v1/usage/events", content=body, headers=headers)
            answer.raise_for_status()
            accepted += answer.json()["accepted"]
            duplicates += answer.json()["duplicates"]

    clients = [httpx.AsyncClient(base_url=base_url, timeout=60) for _ in range(CLIENTS)]
    try:
        started = time.perf_counter()
        await asyncio.gather(*map(client, clients))
        return time.perf_counter() - started, accepted, duplicates
    finally:
        for http in clients:
            await http.aclose()


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


def prepare(url: str, grants: int = 0) -> str:
    """The benchmark's accounts in the store at `url` (unless there already), each holding
    `grants` grants that outlast the run (so every batch is drawn down); an ingest key."""
    store = open_store(Settings(database_url=url))
    existing = {a.id for a in accounts.list_accounts(store=store)}
    for i in range(ACCOUNTS):
        if account_id(i) not in existing:
            accounts.create_account(store=store, account_id=account_id(i), timezone=account_zone(i))
        for g in range(grants):
            body = {
                "id": f"bench-{g}",
                "credits": "1000000000",
                "kind": "plan",
                "priority": 10 + 40 * g,
                "expires_at": int(time.time() * 1000) + 86_400_000 * (30 + g),
            }
            create_grant(store=store, account_id=account_id(i), request=GrantRequest.parse(body))
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
    parser.add_argument(
        "--grants", type=int, default=0, help="grants per account (issue 18 compares 0 and 3)"
    )
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="cm-ingest-"))
    try:
        url = args.database_url or f"sqlite:///{folder / 'ledger.db'}"
        tag = f"b{os.getpid()}"
        spread = args.spread_days
        # One stream, sent in turns: an all-new part (then, on SQLite, the raw baseline's
        # insert of the same rows), then a part of batches of which a quarter is already
        # stored. The machine is shared and its speed drifts, so every ratio's two sides
        # are measured in turns over the same minutes; and as the store grows, both sides
        # meet it at every size.
        turns = in_turns(
            make_events(args.events * 3 // 2, f"{tag}-new", 1, spread_days=spread),
            args.events,
            5,
        )
        token = prepare(url, args.grants)
        raw = RawSqlite(folder / "raw.db") if url.startswith("sqlite") else None
        new_seconds = mixed_seconds = 0.0
        accepted = accepted2 = dups = 0
        cpu = {"server": 0.0, "children": 0.0, "load generator": 0.0}
        mixed_cpu = dict.fromkeys(cpu, 0.0)
        with creditmeter(url, workers=args.workers) as server:

            def send(
                events: list[dict[str, object]], spent: dict[str, float]
            ) -> tuple[float, int, int]:
                bodies = batches(events)
                before, ours = server.cpu_seconds(), time.process_time()
                outcome = asyncio.run(post_all(server.base_url, token, bodies))
                after = server.cpu_seconds()
                for name in after:
                    spent[name] += after[name] - before[name]
                spent["load generator"] += time.process_time() - ours
                return outcome

            for fresh, mixed in turns:
                took, stored, _ = send(fresh, cpu)
                new_seconds += took
                accepted += stored
                if raw is not None:
                    raw.insert(fresh)
                took, stored, resent = send(mixed, mixed_cpu)
                mixed_seconds += took
                accepted2 += stored
                dups += resent
            rss = server.peak_rss_kb / 1024
        new_rate = accepted / new_seconds
        mixed_rate = (accepted2 + dups) / mixed_seconds
        print(f"{url}: {accepted:,} new events at {new_rate:,.0f} events/s")
        print(
            f"25% duplicates: {accepted2:,} new + {dups:,} duplicates at "
            f"{mixed_rate:,.0f} events/s ({mixed_rate / new_rate:.2f} x all-new, in turns)"
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
                # In the same all-new parts as into the empty store, so that both rates
                # pay the same start and end of each part.
                for fresh, _ in turns:
                    took, stored, _ = asyncio.run(post_all(server.base_url, token, batches(fresh)))
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
