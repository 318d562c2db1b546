"""Read benchmark: bill/page under wrk vs a bare Starlette hello-world, in one run.

    python -m benchmarks.read --database-url sqlite:////tmp/bench1m.db --database-url sqlite:////tmp/bench10m.db

Prints, per store: the same 90-day report asked again and again (a dashboard polling); 1,000
different 90-day windows over 10 accounts asked in turn, on a new server (its first pass)
and after a warm-up; and a window that moves on every request, so that no two requests are
alike; the same on a new server without warm-up (truly cold: no request repeated, no day
cached); and every window new on a server of `--workers` workers, as a ratio of one
worker's. Each figure is throughput as a ratio of the hello-world's, with p50 and p99 at 32
connections; then the server's peak RSS. Every figure but the first pass follows
`--warmup` seconds of the same load, not counted.
"""

from __future__ import annotations

import argparse
import random
from datetime import date, timedelta
from typing import Any

from creditmeter import keys
from creditmeter.days import day_start_ms, zone
from creditmeter.settings import Settings
from creditmeter.store import open_store

from . import wrk
from .generate import account_id, account_zone
from .servers import creditmeter, hello_world

PAGE = "/v1/account/bill/page?page=1&page_size=90"


def _window(i: int, first: date) -> tuple[int, int]:
    tz = zone(account_zone(i))
    start = day_start_ms(first, tz)
    return start, day_start_ms(first + timedelta(days=90), tz) - 1


def _measure(args: argparse.Namespace, warmup: int, url: str, **load: Any) -> wrk.WrkResult:
    """wrk's figures for `seconds` of this load, after `warmup` seconds of it not counted."""
    if warmup:
        wrk.run(url, connections=args.connections, seconds=warmup, **load)
    return wrk.run(url, connections=args.connections, seconds=args.seconds, **load)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", action="append", required=True)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--warmup", type=int, default=3, help="seconds of the same load, not counted, before each"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="also every window new on a server of this many workers (1: not)",
    )
    args = parser.parse_args()

    with hello_world() as hello:
        baseline = _measure(args, args.warmup, hello.base_url + "/")
    print(f"hello-world: {baseline.requests_per_second:,.0f} req/s, p99 {baseline.p99_ms:.2f} ms")

    rng = random.Random(3)
    last = date.today() - timedelta(days=1)
    for url in args.database_url:
        store = open_store(Settings(database_url=url))
        tokens = {
            i: keys.create_key(store=store, scope="read", account_id=account_id(i)).token
            for i in range(10)
        }
        store.dispose()
        start, end = _window(0, last - timedelta(days=89))
        same = f"{PAGE}&start_time={start}&end_time={end}"
        windows = []
        for _ in range(1000):
            i = rng.randrange(10)
            s, e = _window(i, last - timedelta(days=rng.randrange(90, 395)))
            windows.append((s + rng.randrange(86_400_000), e, tokens[i]))  # partial first day
        rotating = [(f"{PAGE}&start_time={s}&end_time={e}", key) for s, e, key in windows]

        with creditmeter(url) as server:
            base = server.base_url
            bearer = {"Authorization": f"Bearer {tokens[0]}"}
            # The first pass through the 1,000 windows, on a server that has not seen them.
            cold = _measure(args, 0, base + "/", lua=wrk.rotating_requests(rotating))
            figures = {
                "same report": _measure(args, args.warmup, base + same, headers=bearer),
                "1,000 windows": _measure(
                    args, args.warmup, base + "/", lua=wrk.rotating_requests(rotating)
                ),
                "every window new": _measure(
                    args, args.warmup, base + "/", lua=wrk.moving_windows(windows, PAGE)
                ),
            }
            rss = server.peak_rss_kb / 1024
        figures["1,000 windows, first pass (no warm-up)"] = cold
        moving = wrk.moving_windows(windows, PAGE)
        with creditmeter(url) as server:
            # Truly cold: a new server, no warm-up, no request ever repeated.
            figures["truly cold (new server, every window new)"] = _measure(
                args, 0, server.base_url + "/", lua=moving
            )
        if args.workers > 1:
            with creditmeter(url, workers=args.workers) as server:
                figures[f"every window new, {args.workers} workers"] = _measure(
                    args, args.warmup, server.base_url + "/", lua=moving
                )
        for name, result in figures.items():
            ratio = result.requests_per_second / baseline.requests_per_second
            print(
                f"{url}  {name}: {result.requests_per_second:,.0f} req/s "
                f"= {ratio:.2f} x hello-world, "
                f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, non-2xx {result.non_2xx}"
            )
        print(f"{url}  peak RSS {rss:.0f} MB")
        if args.workers > 1:
            many = figures[f"every window new, {args.workers} workers"].requests_per_second
            one = figures["every window new"].requests_per_second
            print(f"{url}  {args.workers} workers vs 1, every window new: {many / one:.2f} x")


if __name__ == "__main__":
    main()
