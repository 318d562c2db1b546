"""Where the time goes: one bill/page request and one 1000-event batch, in-process.

    python -m benchmarks.profile --database-url sqlite:////tmp/bench10m.db

Drives the ASGI app directly (no sockets) so the figures are the application's own, and
prints the mean cost per request and per batch, then cProfile's heaviest functions.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from creditmeter import accounts, keys
from creditmeter.days import day_start_ms, zone
from creditmeter.events import parse_batch
from creditmeter.http import create_app
from creditmeter.ingest import Ingestion
from creditmeter.jsonbody import decode
from creditmeter.settings import Settings
from creditmeter.store import open_store

from .generate import ACCOUNTS, account_id, account_zone
from .ingest import make_events


def _scope(method: str, path: str, query: bytes, token: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "headers": [
            (b"host", b"bench"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
        ],
    }


def _call(app: Any, scope: dict[str, Any], body: bytes, loop: asyncio.AbstractEventLoop) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    loop.run_until_complete(app(dict(scope), receive, send))
    return status


def _measure(name: str, repeat: int, one: Callable[[], int], top: int) -> None:
    assert one() == 200
    started = time.perf_counter()
    for _ in range(repeat):
        one()
    mean = (time.perf_counter() - started) / repeat
    print(f"\n{name}: {mean * 1e6:,.0f} us per call (mean of {repeat})")
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(repeat):
        one()
    profile.disable()
    pstats.Stats(profile).sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True, help="a store made by benchmarks.generate")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()

    app = create_app(
        Settings(database_url=args.database_url, read_rate_limit=0, log_level="WARNING")
    )
    store = app.state.services.store
    token = keys.create_key(store=store, scope="read", account_id="acct-00").token
    tz = zone("Asia/Shanghai")
    first = date.today() - timedelta(days=95)
    start, end = (
        day_start_ms(first, tz) + 3_600_000,
        day_start_ms(first + timedelta(days=90), tz) - 1,
    )
    query = f"page=1&page_size=90&start_time={start}&end_time={end}".encode()
    page = _scope("GET", "/v1/account/bill/page", query, token)
    loop = asyncio.new_event_loop()
    _measure("bill/page, 90 days, cached", 2000, lambda: _call(app, page, b"", loop), args.top)
    moving = iter(range(10**9))

    def uncached() -> int:
        shifted = f"page=1&page_size=90&start_time={start + next(moving)}&end_time={end}"
        return _call(
            app, _scope("GET", "/v1/account/bill/page", shifted.encode(), token), b"", loop
        )

    _measure("bill/page, 90 days, a new window each time", 500, uncached, args.top)

    # The batch: what POST /v1/usage/events does in the event loop (decode, validate) and
    # in its worker thread (ingest), called directly so cProfile sees all of it.
    folder = Path(tempfile.mkdtemp(prefix="cm-profile-"))
    try:
        ingest_store = open_store(Settings(database_url=f"sqlite:///{folder / 'p.db'}"))
        for i in range(ACCOUNTS):
            accounts.create_account(
                store=ingest_store, account_id=account_id(i), timezone=account_zone(i)
            )
        ingestion = Ingestion.of(ingest_store)
        events = make_events(200_000, "p", 9)
        bodies = iter(
            json.dumps({"events": events[i : i + 1000]}).encode()
            for i in range(0, len(events), 1000)
        )

        def batch() -> int:
            ingestion.ingest(parse_batch(decode(next(bodies))))
            return 200

        _measure("POST /v1/usage/events, 1000 new events", 60, batch, args.top)
        ingest_store.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
