"""Zone-change benchmark: how long a big SQLite account's zone change takes, and how long
another account's batches wait meanwhile (they share the store's one write turn).

    python -m benchmarks.zone_change --events 300000

Fills a fresh store with --events events of account `big` (three bots, --days days, UTC),
then changes its zone to Asia/Shanghai while a thread posts batches of 100 events of account
`other` back to back. Prints the rebuild's time, the batches written meanwhile and the
longest and median wait of one of them. It uses only the services (accounts, ingest.Ingestion).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from creditmeter import accounts
from creditmeter.events import Event
from creditmeter.ingest import Ingestion
from creditmeter.settings import Settings
from creditmeter.store import open_store

DAY_MS = 86_400_000
START = 1_717_200_000_000  # 2024-06-01T00:00Z


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--days", type=int, default=120)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        store = open_store(Settings(database_url=f"sqlite:///{Path(directory) / 'zc.db'}"))
        accounts.create_account(store=store, account_id="big", timezone="UTC")
        accounts.create_account(store=store, account_id="other", timezone="UTC")
        ingestion = Ingestion.of(store)
        step = args.days * DAY_MS // args.events
        for first in range(0, args.events, 1000):
            batch = [
                Event(
                    "big",
                    f"e{n}",
                    f"bot{n % 3}",
                    n % 8,
                    1000 + n % 977,
                    START + n * step,
                    None,
                    None,
                )
                for n in range(first, min(first + 1000, args.events))
            ]
            ingestion.ingest(batch)
        waits: list[float] = []
        done = threading.Event()

        def other_batches() -> None:
            n = 0
            while not done.is_set():
                batch = [
                    Event("other", f"o{n}-{k}", "bot", k % 8, 5000, START + k * 60_000, None, None)
                    for k in range(100)
                ]
                began = time.perf_counter()
                ingestion.ingest(batch)
                waits.append(time.perf_counter() - began)
                n += 1

        writer = threading.Thread(target=other_batches)
        writer.start()
        time.sleep(0.2)
        before = len(waits)
        began = time.perf_counter()
        accounts.update_account(store=store, account_id="big", timezone="Asia/Shanghai")
        rebuild_s = time.perf_counter() - began
        done.set()
        writer.join()
        during = waits[before:]
        store.dispose()
    print(f"events of the account: {args.events} over {args.days} days, 3 bots")
    print(f"zone change (PATCH, rebuild included): {rebuild_s * 1000:.0f} ms")
    print(f"other account's batches of 100 written meanwhile: {len(during)}")
    print(
        f"their wait: longest {max(during) * 1000:.0f} ms, "
        f"median {statistics.median(during) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
