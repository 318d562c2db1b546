"""Build a realistic benchmark store: skewed accounts, bursts, late events.

    python -m benchmarks.generate --events 10000000 --database-url sqlite:////tmp/bench10m.db

50 accounts over 400 days: a few large accounts and many small ones (Zipf weights); the
largest, `acct-00`, has 100 bots (the one the read benchmarks ask about). Some days are
bursts (x5), and 2% of the events arrive late (ingested after later days). Events go through
creditmeter's own ingest service (rollups and all), in big batches, with
`synchronous=NORMAL` for the load itself.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Iterator
from datetime import date, timedelta

from creditmeter import accounts
from creditmeter.categories import CATEGORIES
from creditmeter.days import day_start_ms, zone
from creditmeter.events import Event
from creditmeter.ingest import Ingestion
from creditmeter.settings import Settings
from creditmeter.store import open_store

ACCOUNTS = 50
DAYS = 400
ZONES = ["Asia/Shanghai", "UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata"]
CATEGORY_WEIGHTS = [70, 3, 4, 8, 4, 6, 3, 2]
BATCH = 5000


def account_id(i: int) -> str:
    return f"acct-{i:02d}"


def account_zone(i: int) -> str:
    return "Asia/Shanghai" if i == 0 else ZONES[i % len(ZONES)]


def bots_of(i: int) -> int:
    return 100 if i == 0 else max(1, 20 // (i + 1))


def events(total: int, last_day: date, seed: int = 7) -> Iterator[Event]:
    rng = random.Random(seed)
    weights = [1 / (i + 1) ** 1.1 for i in range(ACCOUNTS)]
    scale = total / sum(weights)
    late: list[Event] = []
    first_day = last_day - timedelta(days=DAYS - 1)
    counter = 0
    for i in range(ACCOUNTS):
        per_account = round(weights[i] * scale)
        tz = zone(account_zone(i))
        burst = {rng.randrange(DAYS) for _ in range(8)}
        day_weights = [
            (5 if d in burst else 1) * (0.4 if (first_day + timedelta(d)).weekday() >= 5 else 1)
            for d in range(DAYS)
        ]
        per_day_scale = per_account / sum(day_weights)
        for d in range(DAYS):
            day = first_day + timedelta(days=d)
            start = day_start_ms(day, tz)
            length = day_start_ms(day + timedelta(days=1), tz) - start
            n = round(day_weights[d] * per_day_scale)
            cats = rng.choices(range(len(CATEGORIES)), CATEGORY_WEIGHTS, k=n)
            for k in range(n):
                counter += 1
                event = Event(
                    account_id(i),
                    f"e{counter:09d}",
                    f"bot-{rng.randrange(bots_of(i)):03d}",
                    cats[k],
                    rng.randrange(1, 5_000_000),
                    start + rng.randrange(length),
                    None,
                    None,
                )
                if rng.random() < 0.02:
                    late.append(event)
                else:
                    yield event
            if len(late) > 20_000:
                yield from late
                late.clear()
    yield from late


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    store = open_store(Settings(database_url=args.database_url, sqlite_synchronous="NORMAL"))
    for i in range(ACCOUNTS):
        accounts.create_account(store=store, account_id=account_id(i), timezone=account_zone(i))
    ingestion = Ingestion.of(store)
    today = date.today() - timedelta(days=1)
    started, done, batch = time.perf_counter(), 0, []
    for event in events(args.events, today):
        batch.append(event)
        if len(batch) == BATCH:
            done += ingestion.ingest(batch).accepted
            batch = []
            if done % 500_000 < BATCH:
                rate = done / (time.perf_counter() - started)
                print(f"{done:>10,} events, {rate:,.0f}/s", flush=True)
    if batch:
        done += ingestion.ingest(batch).accepted
    print(f"loaded {done:,} events in {time.perf_counter() - started:.0f} s")
    store.dispose()


if __name__ == "__main__":
    main()
