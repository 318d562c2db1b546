"""Rollups always equal the raw events, however events arrive; and reports stay exact when an
account's time zone changes. On SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses
import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from creditmeter import accounts
from creditmeter.errors import Conflict
from creditmeter.events import Event
from creditmeter.ingest import Ingestion
from creditmeter.store import Store, writes
from creditmeter.store.tables import usage_events
from tests.conftest import bearer, make_key
from tests.http.test_oracle import (
    BOTS,
    EPOCH,
    FOCUS_DAYS,
    ORACLE,
    QUARTER,
    ZONES,
    Keys,
    batch_body,
    check_query,
    events,
    instants,
    queries,
)
from tests.rollup_check import rollup_mismatches

# --- Exactly once, rollups included ---------------------------------------------------------


@st.composite
def stored_events(draw: st.DrawFn) -> list[tuple[int, str, int, int, int]]:
    """(account index, bot, category index, micro-credits, ts) of distinct events, on and
    around 15-minute bucket edges."""
    focus = draw(st.sampled_from(FOCUS_DAYS[:3]) | st.dates(date(2001, 1, 1), date(2026, 1, 1)))
    base = draw(instants(focus))
    return draw(
        st.lists(
            st.tuples(
                st.integers(0, 1),
                st.sampled_from(BOTS),
                st.integers(0, 7),
                st.integers(0, 10**12),
                st.integers(-200, 200).flatmap(
                    lambda k: st.sampled_from([-1, 0, 1, 7 * 60_000]).map(
                        lambda d: base - base % QUARTER + k * QUARTER + d
                    )
                ),
            ),
            min_size=1,
            max_size=60,
        )
    )


# Each batch: (event index, send it with other content) pairs; indices repeat on purpose.
rarely = st.integers(0, 24).map(lambda n: n == 0)
batch_plans = st.lists(
    st.lists(st.tuples(st.integers(0, 10**6), rarely), min_size=1, max_size=40),
    min_size=1,
    max_size=8,
)


def day_of(zone: str) -> Callable[[int], int]:
    """The ordinal of the local date at an instant, straight from zoneinfo."""
    tz = ZoneInfo(zone)
    return lambda ts: (EPOCH + timedelta(milliseconds=ts)).astimezone(tz).date().toordinal()


@settings(ORACLE, max_examples=50)
@given(
    drawn=stored_events(),
    plan=batch_plans,
    zones=st.lists(st.sampled_from(ZONES), min_size=2, max_size=2),
)
def test_rollups_equal_raw_events_after_duplicates_and_partial_resends(
    store: Store,
    drawn: list[tuple[int, str, int, int, int]],
    plan: list[list[tuple[int, bool]]],
    zones: list[str],
) -> None:
    suffix = uuid.uuid4().hex[:10]
    ids = [f"r{n}-{suffix}" for n in range(2)]
    for account_id, zone in zip(ids, zones, strict=True):
        accounts.create_account(store=store, account_id=account_id, timezone=zone)
    originals = [
        Event(ids[a], f"id-{n}", bot, category, micro, ts, None, None)
        for n, (a, bot, category, micro, ts) in enumerate(drawn)
    ]
    ingestion = Ingestion.of(store)
    sent: set[int] = set()  # indices stored so far
    for raw_batch in plan:
        batch = [i % len(originals) for i, _ in raw_batch]
        # Other content under a stored id: a conflict, which must store nothing at all.
        changed = [flag and i in sent for i, (_, flag) in zip(batch, raw_batch, strict=True)]
        events_out = [
            originals[i]._replace(credits=originals[i].credits + 1) if other else originals[i]
            for i, other in zip(batch, changed, strict=True)
        ]
        if any(changed):
            with pytest.raises(Conflict):
                ingestion.ingest(events_out)
        else:
            result = ingestion.ingest(events_out)
            new = set(batch) - sent
            assert (result.accepted, result.duplicates) == (len(new), len(batch) - len(new))
            sent |= new
        with store.read() as conn:
            for account_id, zone in zip(ids, zones, strict=True):
                assert rollup_mismatches(conn, account_id, day_of(zone)) == 0
            rows = conn.execute(
                select(usage_events.c.account_id, func.count(), func.sum(usage_events.c.credits))
                .where(usage_events.c.account_id.in_(ids))
                .group_by(usage_events.c.account_id)
            ).all()
        expected = {
            account_id: (
                sum(1 for i in sent if originals[i].account_id == account_id),
                sum(originals[i].credits for i in sent if originals[i].account_id == account_id),
            )
            for account_id in ids
        }
        assert {a: (n, int(total)) for a, n, total in rows} == {
            a: v for a, v in expected.items() if v[0]
        }


def test_concurrent_overlapping_batches_store_each_event_once(store: Store) -> None:
    accounts.create_account(store=store, account_id="busy")
    rng = random.Random(7)
    originals = [
        Event("busy", f"e{n}", rng.choice(BOTS), n % 8, rng.randrange(10**9), ts, None, None)
        for n, ts in enumerate(
            1_733_011_200_000 + rng.randrange(10 * 86_400_000) for _ in range(600)
        )
    ]
    # Eight writers, each sending an overlapping slice, shuffled, in batches of 100.
    batches = []
    for writer in range(8):
        mine = originals[writer * 60 : writer * 60 + 180]
        rng.shuffle(mine)
        batches += [mine[k : k + 100] for k in range(0, len(mine), 100)]
    rng.shuffle(batches)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(Ingestion.of(store).ingest, batches))
    unique = {e.event_id for batch in batches for e in batch}
    assert sum(r.accepted for r in results) == len(unique)
    assert sum(r.duplicates for r in results) == sum(map(len, batches)) - len(unique)
    with store.read() as conn:
        assert rollup_mismatches(conn, "busy", day_of("UTC")) == 0


# --- Changing an account's time zone --------------------------------------------------------


@st.composite
def zone_changes(draw: st.DrawFn) -> tuple[date, list[str], list[str]]:
    """A focus day, and for each account the zones it has, one after the other."""
    focus = draw(st.sampled_from(FOCUS_DAYS) | st.dates(date(2000, 1, 2), date(2026, 9, 1)))
    zone_lists = [draw(st.lists(st.sampled_from(ZONES), min_size=2, max_size=3)) for _ in range(2)]
    return focus, zone_lists[0], zone_lists[1]


@settings(ORACLE, max_examples=20)
@given(plan=zone_changes(), data=st.data())
def test_reports_stay_exact_when_the_account_time_zone_changes(
    client: TestClient,
    store: Store,
    ingest_key: str,
    admin_key: str,
    plan: tuple[date, list[str], list[str]],
    data: st.DataObject,
) -> None:
    focus, *histories = plan
    suffix = uuid.uuid4().hex[:10]
    ids = [f"z{n}-{suffix}" for n in range(2)]
    for account_id, history in zip(ids, histories, strict=True):
        accounts.create_account(store=store, account_id=account_id, timezone=history[0])
    keys = Keys(
        read=[make_key(store, "read", account_id) for account_id in ids],
        admin=admin_key,
        b1_only=make_key(store, "read", ids[0], bot_id="b1"),
    )
    evs = data.draw(events(focus), label="events")
    # Events arrive before, between and after the changes: their days are counted in the
    # zone the account has when asked, not the one it had when they arrived.
    cuts = sorted(data.draw(st.lists(st.integers(0, len(evs)), min_size=2, max_size=2)))
    arrivals = [evs[: cuts[0]], evs[cuts[0] : cuts[1]], evs[cuts[1] :]]
    qs = data.draw(st.lists(queries(focus, [e.ts for e in evs]), min_size=1, max_size=3))
    current = [history[0] for history in histories]
    for step in range(3):
        if step > 0:
            for n, history in enumerate(histories):
                if step < len(history):
                    answer = client.patch(
                        f"/v1/admin/accounts/{ids[n]}",
                        json={"timezone": history[step]},
                        headers=bearer(admin_key),
                    )
                    assert answer.status_code == 200, answer.text
                    assert answer.json()["timezone"] == history[step]
                    current[n] = history[step]
        if arrivals[step]:
            answer = client.post(
                "/v1/usage/events",
                content=batch_body(arrivals[step], ids, [True] * len(arrivals[step])),
                headers={**bearer(ingest_key), "Content-Type": "application/json"},
            )
            assert answer.status_code == 200, answer.text
        arrived = [e for part in arrivals[: step + 1] for e in part]
        for q in qs:
            # In the account's own zone as it is now, and in the zone the query names.
            check_query(client, keys, ids, current, arrived, dataclasses.replace(q, zone=None))
            if q.zone is not None:
                check_query(client, keys, ids, current, arrived, q)
    with store.read() as conn:
        for account_id, zone in zip(ids, current, strict=True):
            assert rollup_mismatches(conn, account_id, day_of(zone)) == 0


def test_a_zone_change_moves_events_between_days(
    client: TestClient, store: Store, ingest_key: str, admin_key: str
) -> None:
    # 2024-12-01T20:00Z is still the 1st in New York but already the 2nd in Shanghai.
    accounts.create_account(store=store, account_id="mover", timezone="America/New_York")
    body = {
        "events": [
            {
                "id": "late",
                "account_id": "mover",
                "bot_id": "b1",
                "category": "tts",
                "credits": "2.5",
                "timestamp": "2024-12-01T20:00:00Z",
            }
        ]
    }
    assert client.post("/v1/usage/events", json=body, headers=bearer(ingest_key)).status_code == 200
    window = (
        "/v1/account/bill/page?account_id=mover&start_time=1733011200000&end_time=1733270399999"
    )

    def tts_by_day() -> dict[str, float]:
        answer = client.get(window, headers=bearer(admin_key))
        assert answer.status_code == 200, answer.text
        return {row["date"]: row["tts"] for row in answer.json() if row["tts"]}

    assert tts_by_day() == {"2024-12-01": 2.5}
    for zone, day in (("Asia/Shanghai", "2024-12-02"), ("America/New_York", "2024-12-01")):
        patched = client.patch(
            "/v1/admin/accounts/mover", json={"timezone": zone}, headers=bearer(admin_key)
        )
        assert patched.status_code == 200, patched.text
        assert tts_by_day() == {day: 2.5}


@pytest.mark.postgres
@pytest.mark.parametrize("they_commit", [True, False])
def test_an_event_another_transaction_inserts_meanwhile_is_stored_once(
    postgres_store: Store, they_commit: bool
) -> None:
    # PostgreSQL inserts a batch and reads the events it skipped in one statement, whose
    # snapshot predates the other transaction's commit: an event it committed is read by a
    # second statement; one it rolled back is inserted by ours.
    store = postgres_store
    accounts.create_account(store=store, account_id="race")
    theirs = Event("race", "e-1", "b", 0, 5, 1_733_011_200_000, None, None)
    ours = Event("race", "e-2", "b", 0, 7, 1_733_011_200_000, None, None)

    def insert_both() -> dict[tuple[str, str], Event]:
        with store.write() as conn:
            return writes.insert_new(conn, [theirs, ours])

    with ThreadPoolExecutor(1) as pool, store.engine.connect() as other:
        transaction = other.begin()
        writes.insert_new(other, [theirs])
        found = pool.submit(insert_both)
        _wait_for_a_lock_wait(store)
        if they_commit:
            transaction.commit()
        else:
            transaction.rollback()
        assert found.result(timeout=30) == ({theirs.key: theirs} if they_commit else {})
    with store.read() as conn:
        assert writes.stored(conn, [theirs.key, ours.key]) == {theirs.key: theirs, ours.key: ours}


def test_stored_events_are_found_however_many_keys_are_looked_up(store: Store) -> None:
    # SQLite looks keys up 8192 at a time, padded to a power of two with a key no event has.
    accounts.create_account(store=store, account_id="many")
    events = [
        Event("many", f"k{n:05d}", "b", n % 8, n, 1_733_011_200_000 + n, None, None)
        for n in range(9000)
    ]
    for start in range(0, len(events), 1000):
        Ingestion.of(store).ingest(events[start : start + 1000])
    wanted = [e.key for e in events[::2]] + [("many", "absent"), events[0].key]
    with store.read() as conn:
        assert writes.stored(conn, []) == {}
        assert writes.stored(conn, [events[1].key]) == {events[1].key: events[1]}
        assert writes.stored(conn, wanted) == {e.key: e for e in events[::2]}
        assert writes.stored(conn, [e.key for e in events]) == {e.key: e for e in events}


def _wait_for_a_lock_wait(store: Store) -> None:
    """Until a session of the store's database waits for a lock. Each look is a transaction
    of its own: PostgreSQL keeps one snapshot of pg_stat_activity per transaction."""
    deadline = time.monotonic() + 30
    while True:
        with store.engine.connect() as conn:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            ).scalar_one()
        if waiting:
            return
        assert time.monotonic() < deadline, "the second insert did not wait for the first"
        time.sleep(0.01)
