"""What the fast paths cost in one process, without sockets: a cached balance and a cached
bill page through the app's ASGI callable, beside a bare Starlette JSON hello-world driven
the same way (the floor: the event loop's own cost of running a request as a task).

    python -m benchmarks.fast_path_cost --rounds 3

Compare two versions by running this with each one's `src` first on PYTHONPATH, in turns.
Each figure is the least of ten means of 2,000 requests (wall time in one process): other
work on the machine only ever adds to a mean, so the least is the steadiest to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from creditmeter import accounts, keys
from creditmeter.http import create_app
from creditmeter.settings import Settings

from .profile import _call, _scope


async def _hello(_request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


def _per_request_us(app: Any, scope: dict[str, Any], loop: asyncio.AbstractEventLoop) -> float:
    """The least of 10 means of 2,000 requests: the least disturbed by other work."""
    assert _call(app, scope, b"", loop) == 200
    means = []
    for _ in range(10):
        started = time.perf_counter()
        for _ in range(2_000):
            _call(app, scope, b"", loop)
        means.append((time.perf_counter() - started) / 2_000 * 1e6)
    return min(means)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cm-fast-path-") as folder:
        url = f"sqlite:///{Path(folder) / 'fast.db'}"
        app = create_app(Settings(database_url=url, read_rate_limit=0, log_level="WARNING"))
        store = app.state.services.store
        accounts.create_account(store=store, account_id="acct-0", timezone="Asia/Shanghai")
        token = keys.create_key(store=store, scope="read", account_id="acct-0").token
        end = int(time.time() * 1000)
        window = f"page=1&page_size=30&start_time={end - 30 * 86_400_000}&end_time={end}".encode()
        hello = Starlette(routes=[Route("/", _hello)])
        loop = asyncio.new_event_loop()
        loads = {
            "hello-world (bare Starlette)": (hello, _scope("GET", "/", b"", token)),
            "balance, cached": (app, _scope("GET", "/v1/account/credits/balance", b"", token)),
            "bill/page, cached": (
                app,
                _scope("GET", "/v1/account/bill/page", window, token),
            ),
        }
        for round_number in range(1, args.rounds + 1):
            figures = ", ".join(
                f"{name} {_per_request_us(load_app, scope, loop):.1f} us"
                for name, (load_app, scope) in loads.items()
            )
            print(f"round {round_number}: {figures}")
        store.dispose()


if __name__ == "__main__":
    main()
