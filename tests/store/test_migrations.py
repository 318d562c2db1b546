"""Migration 0002 (daily rollups) on a store that 0001 made and that already holds events:
the days it builds are those the live code would build, and match the raw events."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import select, text

from creditmeter import rebuilds
from creditmeter.categories import CATEGORIES
from creditmeter.events import Event
from creditmeter.rollups import bucket_rollups
from creditmeter.settings import Settings
from creditmeter.store import open_store, writes
from creditmeter.store.engine import upgrade_schema
from creditmeter.store.tables import usage_days
from tests.rollup_check import rollup_mismatches
from tests.support.stores import POSTGRES_URL, throwaway_store_url

HOUR = 3_600_000
# Zones with clock changes, offsets of half and quarter hours, and (in 1937 Amsterdam,
# +00:19:32) local midnights inside a 15-minute bucket, which split its credits.
STARTS = {
    "new-york": ("America/New_York", 1_710_054_000_000 - 30 * HOUR),  # 2024-03-10 DST
    "kolkata": ("Asia/Kolkata", 1_704_067_200_000),
    "lord-howe": ("Australia/Lord_Howe", 1_712_412_000_000 - 30 * HOUR),  # 2024-04-07
    "kathmandu": ("Asia/Kathmandu", 1_704_067_200_000),
    "amsterdam": ("Europe/Amsterdam", -1_041_379_200_000),  # 1937-01-01
}


def _events(rng: random.Random) -> list[Event]:
    events = []
    for account_id, (_, start) in STARTS.items():
        for n in range(400):
            ts = start + rng.randrange(0, 72 * HOUR)
            bot = rng.choice(["b1", "b2"])
            events.append(
                Event(
                    account_id, f"e{n}", bot, rng.randrange(len(CATEGORIES)), n + 1, ts, None, None
                )
            )
    return events


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_upgrading_a_store_with_events_from_0001_builds_its_daily_rollups(
    backend: str, tmp_path: Path
) -> None:
    if backend == "postgres" and not POSTGRES_URL:
        pytest.skip("set CREDITMETER_TEST_POSTGRES_URL to run the PostgreSQL tests")
    events = _events(random.Random(14))
    with throwaway_store_url(backend, tmp_path) as url:
        store = open_store(Settings(database_url=url), upgrade=False)
        try:
            upgrade_schema(store, revision="0001")
            with store.engine.begin() as conn:  # what 0001's code wrote: events and buckets
                for account_id, (zone, _) in STARTS.items():
                    conn.exec_driver_sql(
                        "INSERT INTO accounts (id, name, timezone, created_at)"
                        f" VALUES ('{account_id}', '{account_id}', '{zone}', 0)"
                    )
                # 0001's columns, in plain SQL: the live insert names columns that later
                # migrations add (run_id, on PostgreSQL's one-statement path)
                conn.execute(
                    text(
                        "INSERT INTO usage_events (account_id, event_id, bot_id, category,"
                        " credits, ts) VALUES (:a, :i, :b, :c, :m, :t)"
                    ),
                    [
                        {
                            "a": e.account_id,
                            "i": e.event_id,
                            "b": e.bot_id,
                            "c": e.category,
                            "m": e.credits,
                            "t": e.ts,
                        }
                        for e in events
                    ],
                )
                rows = [(*k, *v) for k, v in bucket_rollups(events).items()]
                writes.add_rollup_rows(conn, "usage_buckets", rows)
            upgrade_schema(store)
            with store.engine.begin() as conn:
                migrated = set(conn.execute(select(usage_days)).all())
                for account_id in STARTS:
                    assert rollup_mismatches(conn, account_id) == 0
                for account_id, (zone, _) in STARTS.items():
                    rebuilds.rebuild_days(conn, account_id, zone)
                rebuilt = set(conn.execute(select(usage_days)).all())
            assert migrated == rebuilt
            assert {row.account_id for row in migrated} == set(STARTS)
        finally:
            store.dispose()
