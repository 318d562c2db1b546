"""Writers racing on one account: every read-decide-write on an account is serialised on
it, so racing zone changes leave daily rollups that match a rebuild from the raw events.
On SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from creditmeter import accounts
from creditmeter.events import Event
from creditmeter.ingest import Ingestion
from creditmeter.store import Store
from tests.rollup_check import rollup_mismatches

HOUR = 3_600_000
START = 1_733_011_200_000  # 2024-12-01T00:00Z


def _fill(store: Store, account_id: str) -> None:
    """Eleven days of events at every third hour: Shanghai days and UTC days differ."""
    events = [
        Event(account_id, f"e{h}", "bot", h % 8, 1_000_000 + h, START + h * HOUR, None, None)
        for h in range(0, 11 * 24, 3)
    ]
    Ingestion.of(store).ingest(events)


def test_racing_zone_changes_leave_rollups_that_match_a_rebuild(store: Store) -> None:
    accounts.create_account(store=store, account_id="race", timezone="UTC")
    _fill(store, "race")
    rounds = 12
    with ThreadPoolExecutor(2) as pool:
        for n in range(rounds):
            barrier = threading.Barrier(2)

            def to_shanghai(barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                accounts.update_account(store=store, account_id="race", timezone="Asia/Shanghai")

            def resave_in_utc(n: int = n, barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                time.sleep(0.002 * (n % 5))  # the second PATCH a few ms after the first
                accounts.update_account(
                    store=store, account_id="race", name=f"r{n}", timezone="UTC"
                )

            for future in [pool.submit(to_shanghai), pool.submit(resave_in_utc)]:
                future.result()
            with store.read() as conn:
                assert rollup_mismatches(conn, "race") == 0, f"round {n}"
    account = accounts.get_account(store=store, account_id="race")
    assert account.name == f"r{rounds - 1}"
