"""What a conversation-list request costs in one process: CPU time of this process and, on
PostgreSQL, of the server's backends of the database, per request; or what a batch of
ingestion costs with `conversation_id` on half its events.

    python -m benchmarks.conversation_cost --database-url sqlite:////tmp/conv.db --load moving
    python -m benchmarks.conversation_cost --ingest

The list loads read a store filled by `benchmarks.conversations` (its account): `same` asks
one window again and again (the cached page), `moving` the 200 windows of that benchmark
moved 1 ms a round (every request new), `random` a 30-day window ending anywhere in the
last 90 days (every page new). The app is driven through ASGI as `benchmarks.profile`
does: no sockets, so the figures are the application's and the database's own. Compare
two versions by running each on its own copy of the store, in turns.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from creditmeter import accounts, keys
from creditmeter.events import parse_batch
from creditmeter.http import create_app
from creditmeter.ingest import Ingestion
from creditmeter.settings import Settings
from creditmeter.store import open_store

from .conversations import ACCOUNT, DAY_MS, PAGE
from .generate import ACCOUNTS, account_id, account_zone
from .ingest import make_events
from .profile import _call, _scope


def _backend_cpu_s(url: str) -> float:
    """CPU time so far of the PostgreSQL backends of the URL's database (0 for SQLite)."""
    if url.startswith("sqlite"):
        return 0.0
    import psycopg

    database = url.rsplit("/", 1)[1]
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        pids = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )
        ]
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def lists(url: str, load: str, requests: int) -> None:
    app = create_app(Settings(database_url=url, read_rate_limit=0, log_level="WARNING"))
    store = app.state.services.store
    token = keys.create_key(store=store, scope="read", account_id=ACCOUNT).token
    with store.read() as conn:
        end = conn.execute(text("SELECT MAX(created_at) FROM conversation_credits")).scalar()
    rng = random.Random(4)
    windows = [
        (last - 30 * DAY_MS, last)
        for last in (end - rng.randrange(90 * DAY_MS) for _ in range(200))
    ]
    loop = asyncio.new_event_loop()
    path, page = PAGE.split("?")
    count = iter(range(10**9))

    def one() -> int:
        i = next(count)
        if load == "same":
            start, last = windows[0]
        elif load == "moving":
            start, last = windows[i % 200]
            start += i // 200 + 1
        else:
            last = end - rng.randrange(90 * DAY_MS)
            start = last - 30 * DAY_MS
        query = f"{page}&start_time={start}&end_time={last}".encode()
        return _call(app, _scope("GET", path, query, token), b"", loop)

    for _ in range(100):
        assert one() == 200
    backend, cpu, wall = _backend_cpu_s(url), time.process_time(), time.perf_counter()
    for _ in range(requests):
        one()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    backend = _backend_cpu_s(url) - backend
    print(
        f"{url} {load}: {cpu / requests * 1e6:,.0f} us CPU here"
        f" + {backend / requests * 1e6:,.0f} us in PostgreSQL per request,"
        f" wall {wall / requests * 1e6:,.0f} us ({requests} requests after 100)"
    )
    loop.run_until_complete(store.close_async())
    loop.close()


def ingest(batches: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="cm-conv-cost-"))
    try:
        store = open_store(Settings(database_url=f"sqlite:///{folder / 'i.db'}"))
        for i in range(ACCOUNTS):
            accounts.create_account(store=store, account_id=account_id(i), timezone=account_zone(i))
        events = make_events((batches + 10) * 1000, "t", 2)
        rng = random.Random(6)
        for event in events[::2]:  # as benchmarks.conversations' ingestion part
            if event["category"] == "knowledge_doc_storage":
                event["category"] = "chat"
            event["conversation_id"] = f"c-{rng.randrange(len(events) // 8)}"
        parsed = [
            parse_batch({"events": events[i : i + 1000]}) for i in range(0, len(events), 1000)
        ]
        ingestion = Ingestion.of(store)
        for batch in parsed[:10]:
            ingestion.ingest(batch)
        cpu, wall = time.process_time(), time.perf_counter()
        for batch in parsed[10:]:
            ingestion.ingest(batch)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(
            f"ingestion (SQLite): {cpu / batches * 1000:.2f} ms CPU, {wall / batches * 1000:.2f}"
            f" ms wall per batch of 1000, half with a conversation_id ({batches} after 10)"
        )
        store.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", help="a store filled by benchmarks.conversations")
    parser.add_argument("--load", choices=("same", "moving", "random"), default="moving")
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--ingest", action="store_true", help="the ingestion cost instead")
    parser.add_argument("--batches", type=int, default=50)
    args = parser.parse_args()
    if args.ingest:
        ingest(args.batches)
    else:
        lists(args.database_url, args.load, args.requests)


if __name__ == "__main__":
    main()
