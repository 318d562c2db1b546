"""Two `creditmeter serve` processes over one store, many concurrent batches from both, a
threshold and zero crossed: one event per crossing, each delivered (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from creditmeter.store import webhooks as sql
from tests.support.receiver import receiving
from tests.support.server import wait_until
from tests.support.stores import opened_store, throwaway_store_url

from .support import serve, types, world


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_one_event_per_crossing_from_two_servers(tmp_path: Path, backend: str) -> None:
    if backend == "postgres":
        from tests.support.stores import POSTGRES_URL

        if not POSTGRES_URL:
            pytest.skip("set CREDITMETER_TEST_POSTGRES_URL to run the PostgreSQL tests")
    with (
        throwaway_store_url(backend, tmp_path) as url,
        receiving() as receiver,
        world(url, receiver) as w,
        serve(url, tmp_path / "one.log") as one,
        serve(url, tmp_path / "two.log") as two,
    ):
        w.grant(one, "g", 50)

        def spend(n: int) -> None:
            server = (one, two)[n % 2]
            w.ingest_events(server, [(f"b{n}-{i}", Decimal("0.5")) for i in range(4)])

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(spend, range(40)))  # 80 credits from 50: low once, depleted once
        wait_until(
            lambda: (
                {d["state"] for d in w.deliveries(one)} == {"delivered"}
                and len(w.deliveries(one)) == 2
            ),
            timeout=60,
            what="both events delivered",
        )
        with opened_store(url) as store, store.read() as conn:
            written = sql.events_of(conn, "acme")
        assert [t for _, t, _, _ in written] == [
            "credits.balance_low",
            "credits.balance_depleted",
        ]
        events = w.verified(receiver)
        assert Counter(types(events)) == {
            "credits.balance_low": 1,
            "credits.balance_depleted": 1,
        }  # one attempt each: each delivery was claimed by one process
