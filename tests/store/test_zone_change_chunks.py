"""A zone change rebuilds an account's daily rollups a chunk of days per write transaction,
so other writers wait for one chunk at most; reports stay exact while it is half done, and
batches ingested meanwhile end up in the rebuilt days. On SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from creditmeter import accounts, rebuilds
from creditmeter.bills import Window, bill_page
from creditmeter.days import day_start_ms
from creditmeter.events import Event
from creditmeter.ingest import Ingestion
from creditmeter.store import Store, day_rebuild
from tests.rollup_check import rollup_mismatches

HOUR = 3_600_000
FIRST = date(2024, 9, 1)
DAYS = 60
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _events(account_id: str, tag: str, hours: range) -> list[Event]:
    start = day_start_ms(FIRST, ZoneInfo("UTC"))
    return [
        Event(account_id, f"{tag}{h}", f"b{h % 3}", h % 8, 10_000 + h, start + h * HOUR, None, None)
        for h in hours
    ]


def _oracle(events: list[Event], zone: str) -> dict[date, int]:
    """Each local day's credits, summed straight from the events."""
    tz = ZoneInfo(zone)
    days: dict[date, int] = {}
    for e in events:
        local = (EPOCH + timedelta(milliseconds=e.ts)).astimezone(tz).date()
        days[local] = days.get(local, 0) + e.credits
    return days


def _report(store: Store, zone: str) -> dict[date, int]:
    tz = ZoneInfo(zone)
    window = Window(
        account_id="big",
        bot_id=None,
        start_ms=day_start_ms(FIRST - timedelta(days=1), tz),
        end_ms=day_start_ms(FIRST + timedelta(days=DAYS + 1), tz) - 1,
        tz=tz,
        account_tz=zone,
    )
    rows, _ = bill_page(store=store, window=window, page=1, page_size=90)
    return {row.date: row.total for row in rows if row.total}


def test_reports_stay_exact_while_a_zone_change_is_half_rebuilt(store: Store) -> None:
    accounts.create_account(store=store, account_id="big", timezone="UTC")
    stored = _events("big", "e", range(0, DAYS * 24, 2))
    ingestion = Ingestion.of(store)
    ingestion.ingest(stored)
    # The zone change committed, its rebuild done for the first ten days only.
    with store.write() as conn:
        conn.exec_driver_sql("UPDATE accounts SET timezone = 'Asia/Shanghai' WHERE id = 'big'")
        version = day_rebuild.zone_changed(conn, "big")
        first = FIRST.toordinal()
        rebuilds.rebuild_chunk(conn, "big", "Asia/Shanghai", first, first + 9)
    assert _report(store, "Asia/Shanghai") == _oracle(stored, "Asia/Shanghai")
    # A batch ingested meanwhile, in days rebuilt and not yet rebuilt.
    more = _events("big", "m", range(1, DAYS * 24, 5))
    ingestion.ingest(more)
    assert _report(store, "Asia/Shanghai") == _oracle(stored + more, "Asia/Shanghai")
    assert rebuilds.follow_zone_change(store=store, account_id="big", version=version)
    assert _report(store, "Asia/Shanghai") == _oracle(stored + more, "Asia/Shanghai")
    with store.read() as conn:
        assert day_rebuild.days_zone(conn, "big") == "Asia/Shanghai"
        assert rollup_mismatches(conn, "big") == 0


@contextmanager
def _counting_writes(store: Store, counts: list[int]) -> Iterator[None]:
    """Counts the write transactions `store` opens (an observer around Store.write)."""
    original = store.write

    @contextmanager
    def write() -> Iterator[Connection]:
        counts.append(threading.get_ident())
        with original() as conn:
            yield conn

    store.write = write  # type: ignore[method-assign]
    try:
        yield
    finally:
        store.write = original  # type: ignore[method-assign]


def test_a_zone_change_rebuilds_in_chunks_and_batches_get_in_between(store: Store) -> None:
    accounts.create_account(store=store, account_id="big", timezone="UTC")
    accounts.create_account(store=store, account_id="other", timezone="UTC")
    ingestion = Ingestion.of(store)
    ingestion.ingest(_events("big", "e", range(0, DAYS * 24, 3)))
    writes: list[int] = []
    stop = threading.Event()
    sent: list[Event] = []

    def ingest_meanwhile() -> None:
        n = 0
        while not stop.is_set() and n < 200:
            batch = _events("big", f"x{n}-", range(n % 7, DAYS * 24, 97))
            ingestion.ingest(batch)
            sent.extend(batch)
            n += 1

    other = threading.Thread(target=ingest_meanwhile)
    with _counting_writes(store, writes):
        other.start()
        try:
            accounts.update_account(store=store, account_id="big", timezone="Asia/Kolkata")
        finally:
            stop.set()
            other.join()
    mine = writes.count(threading.get_ident())
    # The change itself, then one transaction per chunk of CHUNK_DAYS local days.
    assert mine >= 1 + (DAYS // rebuilds.CHUNK_DAYS)
    with store.read() as conn:
        assert day_rebuild.days_zone(conn, "big") == "Asia/Kolkata"
        assert rollup_mismatches(conn, "big") == 0


def test_a_rebuild_left_pending_is_finished_by_the_next_start(store: Store) -> None:
    accounts.create_account(store=store, account_id="big", timezone="UTC")
    stored = _events("big", "e", range(0, DAYS * 24, 2))
    Ingestion.of(store).ingest(stored)
    with store.write() as conn:  # a process stopped right after the zone change committed
        conn.exec_driver_sql("UPDATE accounts SET timezone = 'America/New_York' WHERE id = 'big'")
        day_rebuild.zone_changed(conn, "big")
    with store.read() as conn:
        assert day_rebuild.days_zone(conn, "big") is None
    assert _report(store, "America/New_York") == _oracle(stored, "America/New_York")
    assert rebuilds.resume_rebuilds(store=store) == 1
    with store.read() as conn:
        assert day_rebuild.days_zone(conn, "big") == "America/New_York"
        assert rollup_mismatches(conn, "big") == 0
