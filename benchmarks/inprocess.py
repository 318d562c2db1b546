"""The app called in-process, as ASGI, with no server and no sockets: the time per call of a
cached bill page, an uncached one (a new window each time), and a POST of 1000 new events
(SQLite, written by this process's group commit), in CPU microseconds of the process.

    python benchmarks/inprocess.py            # prints one line of figures, in CPU microseconds

It uses only the app's public API (create_app, accounts, keys), so the same file times
another checkout too: run it with that checkout's python, in turns with this one's, and
compare the ratios (docs/benchmarks.md)."""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from creditmeter import accounts, keys
from creditmeter.http import create_app
from creditmeter.settings import Settings
from creditmeter.store import open_store

DAY = 86_400_000
START = (int(time.time() * 1000) // DAY - 91) * DAY  # 91 days ago, midnight UTC


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


def _batch(prefix: str, n: int, days: int = 90) -> bytes:
    events = [
        {
            "id": f"{prefix}-{i}",
            "account_id": "acme",
            "bot_id": f"bot-{i % 7}",
            "category": "chat",
            "credits": "0.125",
            "timestamp": START + (i * 7919 % (days * DAY)),
        }
        for i in range(n)
    ]
    return json.dumps({"events": events}).encode()


def _per_call(repeat: int, one: Callable[[], int]) -> float:
    assert one() == 200
    started = time.process_time()  # CPU of every thread: steadier than wall on a shared machine
    for _ in range(repeat):
        one()
    return (time.process_time() - started) / repeat * 1e6


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="cm-inprocess-"))
    settings = Settings(
        database_url=f"sqlite:///{folder / 'ledger.db'}",
        read_rate_limit=0,
        platform_rate_limit=0,
        log_level="WARNING",
    )
    setup = open_store(settings)
    accounts.create_account(store=setup, account_id="acme", timezone="Asia/Shanghai")
    reader = keys.create_key(store=setup, scope="read", account_id="acme").token
    writer = keys.create_key(store=setup, scope="ingest").token
    setup.dispose()
    app = create_app(settings)
    loop = asyncio.new_event_loop()
    post = _scope("POST", "/v1/usage/events", b"", writer)
    for n in range(30):  # 30,000 events over 90 days
        assert _call(app, post, _batch(f"s{n}", 1000), loop) == 200
    bodies = iter([_batch(f"n{n}", 1000, days=1) for n in range(41)])
    ingest_us = _per_call(40, lambda: _call(app, post, next(bodies), loop))
    end = START + 89 * DAY - 1  # within 90 local days in any zone
    query = f"page=1&page_size=90&start_time={START}&end_time={end}".encode()
    page = _scope("GET", "/v1/account/bill/page", query, reader)
    cached_us = statistics.median(
        _per_call(500, lambda: _call(app, page, b"", loop)) for _ in range(3)
    )
    moving = iter(range(10**9))

    def uncached() -> int:
        shifted = f"page=1&page_size=90&start_time={START + next(moving)}&end_time={end}"
        return _call(
            app, _scope("GET", "/v1/account/bill/page", shifted.encode(), reader), b"", loop
        )

    uncached_us = _per_call(40, uncached)
    print(
        json.dumps(
            {
                "page_cached_us": round(cached_us, 1),
                "page_uncached_us": round(uncached_us, 1),
                "post_1000_new_us": round(ingest_us),
            }
        )
    )


if __name__ == "__main__":
    main()
