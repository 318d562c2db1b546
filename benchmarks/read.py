"""Read benchmark: bill/page under wrk vs a bare Starlette hello-world, in one run.

    python -m benchmarks.read --database-url sqlite:////tmp/bench10m.db [--also sqlite:////tmp/bench1m.db]

Prints, per store: the same 90-day report asked again and again (a dashboard polling), and a
different 90-day window on every request (1,000 windows over 10 accounts); throughput as a
ratio of the hello-world's, p99 at 32 connections, and the server's peak RSS.
"""

from __future__ import annotations

import argparse
import random
from datetime import date, timedelta

from creditmeter import keys
from creditmeter.days import day_start_ms, zone
from creditmeter.settings import Settings
from creditmeter.store import open_store

from . import wrk
from .generate import account_id, account_zone
from .servers import creditmeter, hello_world


def _window(i: int, first: date) -> tuple[int, int]:
    tz = zone(account_zone(i))
    start = day_start_ms(first, tz)
    return start, day_start_ms(first + timedelta(days=90), tz) - 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", action="append", required=True)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()

    with hello_world() as hello:
        baseline = wrk.run(hello.base_url + "/", connections=args.connections, seconds=args.seconds)
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
        same = f"/v1/account/bill/page?page=1&page_size=90&start_time={start}&end_time={end}"
        varied = []
        for _ in range(1000):
            i = rng.randrange(10)
            s, e = _window(i, last - timedelta(days=rng.randrange(90, 395)))
            s += rng.randrange(86_400_000)  # partial first day
            varied.append(
                (
                    f"/v1/account/bill/page?page=1&page_size=90&start_time={s}&end_time={e}",
                    tokens[i],
                )
            )
        with creditmeter(url) as server:
            polling = wrk.run(
                server.base_url + same,
                connections=args.connections,
                seconds=args.seconds,
                headers={"Authorization": f"Bearer {tokens[0]}"},
            )
            moving = wrk.run(
                server.base_url + "/",
                connections=args.connections,
                seconds=args.seconds,
                lua=wrk.rotating_requests(varied),
            )
            rss = server.peak_rss_kb / 1024
        for name, result in (("same report", polling), ("1,000 windows", moving)):
            ratio = result.requests_per_second / baseline.requests_per_second
            print(
                f"{url}  {name}: {result.requests_per_second:,.0f} req/s "
                f"= {ratio:.2f} x hello-world, "
                f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, non-2xx {result.non_2xx}"
            )
        print(f"{url}  peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
