"""Sums never pass what 64-bit integers hold: an account's credits in one 15-minute bucket
are bounded, and a batch that would pass the bound is refused whole with a 400 before
anything of it is stored. On SQLite and on PostgreSQL."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from creditmeter import accounts, bucket_limit
from creditmeter.bills import Window, bill_total
from creditmeter.errors import InvalidInput
from creditmeter.events import Event
from creditmeter.ingest import Ingestion, IngestResult, Prepared
from creditmeter.ingest.batch import PendingBatch
from creditmeter.ingest.turn import write_group
from creditmeter.money import MAX_CREDITS_MICRO
from creditmeter.rollups import BUCKET_MS
from creditmeter.store import Store
from creditmeter.store.tables import usage_events
from tests.rollup_check import rollup_mismatches

BUCKET = 1_733_011_200_000  # 2024-12-01T00:00Z, a bucket edge
PER_BUCKET = bucket_limit.LIMIT_MICRO // MAX_CREDITS_MICRO  # events of the most credits


def _full(account_id: str, tag: str, count: int, start: int = BUCKET) -> list[Event]:
    return [
        Event(
            account_id,
            f"{tag}{n}",
            "bot",
            n % 8,
            MAX_CREDITS_MICRO,
            start + n % BUCKET_MS,
            None,
            None,
        )
        for n in range(count)
    ]


def _count(store: Store, account_id: str) -> int:
    with store.read() as conn:
        query = select(func.count()).where(usage_events.c.account_id == account_id)
        return int(conn.execute(query).scalar_one())


def test_a_batch_past_the_bucket_limit_is_refused_and_stores_nothing(store: Store) -> None:
    accounts.create_account(store=store, account_id="huge")
    ingestion = Ingestion.of(store)
    events = _full("huge", "e", PER_BUCKET)
    for start in range(0, len(events), 1000):
        ingestion.ingest(events[start : start + 1000])
    one_more = Event("huge", "over", "bot2", 0, 1, BUCKET + 5, None, None)
    elsewhere = Event("huge", "next", "bot2", 0, 1, BUCKET + BUCKET_MS, None, None)
    with pytest.raises(InvalidInput, match="at most 50000000000 credits per account"):
        ingestion.ingest([elsewhere, one_more])
    assert _count(store, "huge") == PER_BUCKET
    assert ingestion.ingest([elsewhere]).accepted == 1
    tz = ZoneInfo("UTC")
    window = Window("huge", None, BUCKET - 86_400_000, BUCKET + 300 * 86_400_000, tz, "UTC")
    _, _, sums = bill_total(store=store, window=window)
    assert sum(sums) == bucket_limit.LIMIT_MICRO + 1
    with store.read() as conn:
        assert rollup_mismatches(conn, "huge") == 0


def test_batches_written_together_count_each_other_against_the_limit(
    sqlite_store: Store,
) -> None:
    """SQLite's group commit (PostgreSQL writes each batch in a transaction of its own)."""
    store = sqlite_store
    accounts.create_account(store=store, account_id="huge")
    events = _full("huge", "e", PER_BUCKET - 1000)
    ingestion = Ingestion.of(store)
    for start in range(0, len(events), 1000):
        ingestion.ingest(events[start : start + 1000])
    # Two batches in one group: the first fills the bucket, the second would pass it.
    first = PendingBatch(Prepared.of(_full("huge", "g", 1000), {}))
    second = PendingBatch(Prepared.of(_full("huge", "h", 1), {}))
    write_group(store, lambda: [first, second])
    assert first.error is None
    assert first.result == IngestResult(1000, 0)
    assert isinstance(second.error, InvalidInput)
    assert _count(store, "huge") == PER_BUCKET
    with store.read() as conn:
        assert rollup_mismatches(conn, "huge") == 0
