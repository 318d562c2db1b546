"""Group commit on SQLite: batches that wait for the write turn together are written in one
transaction, each in its own savepoint, and each answered with its own fate."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import event, func, select

from creditmeter import accounts
from creditmeter.errors import Conflict, InvalidInput
from creditmeter.events import Event
from creditmeter.ingest import MAX_GROUP_EVENTS, Ingestion, IngestResult
from creditmeter.ingest.group_commit import GroupCommit
from creditmeter.ingest.resends import RESENDS_REMEMBERED, ResendFilter
from creditmeter.settings import Settings
from creditmeter.store import Store, open_store, sums, writes
from creditmeter.store.tables import usage_events
from tests.rollup_check import rollup_mismatches
from tests.store.conftest import RecordingResends

T0 = 1_733_011_200_000  # 2024-12-01T00:00:00Z


def _event(
    event_id: str, account: str = "acme", credits: int = 1_000_000, bot: str = "b1", minute: int = 0
) -> Event:
    return Event(account, event_id, bot, 0, credits, T0 + minute * 60_000, None, None)


def _batch(prefix: str, count: int, account: str = "acme") -> list[Event]:
    """Events a minute apart from 2024-12-01T00:00Z, over three bots."""
    return [_event(f"{prefix}-{n}", account, bot=f"bot-{n % 3}", minute=n) for n in range(count)]


def _stored(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(usage_events)).scalar_one())


def _queued_together(
    ingestion: Ingestion, batches: list[list[Event]]
) -> list[Future[IngestResult]]:
    """Submits every batch while the store's write turn is held, so they all queue in the
    order given, then lets them go: the first to get the turn writes them all as one group."""
    writer = ingestion.writer
    assert isinstance(writer, GroupCommit)
    pool = ThreadPoolExecutor(len(batches))
    futures = []
    with ingestion.store.writer_turn():
        for queued, batch in enumerate(batches, 1):  # in this order
            futures.append(pool.submit(ingestion.ingest, batch))
            deadline = time.monotonic() + 10
            while writer.waiting < queued:
                assert time.monotonic() < deadline, "the batches did not queue"
                time.sleep(0.002)
    pool.shutdown(wait=True)
    return futures


@pytest.fixture
def acme(sqlite_store: Store) -> Store:
    accounts.create_account(store=sqlite_store, account_id="acme", timezone="Asia/Shanghai")
    accounts.create_account(store=sqlite_store, account_id="beta", timezone="America/St_Johns")
    return sqlite_store


@pytest.fixture
def ingestion(acme: Store, resends: RecordingResends) -> Ingestion:
    return Ingestion.of(acme, resends=resends)


def _commits(store: Store) -> Callable[[], int]:
    """Counts the commits of write transactions (each batch's look-up commits a read)."""
    count = 0

    def on_commit(conn: Any) -> None:
        nonlocal count
        count += conn.get_execution_options().get("sqlite_begin") == "BEGIN IMMEDIATE"

    event.listen(store.engine, "commit", on_commit)
    return lambda: count


def test_waiting_batches_share_one_commit_and_keep_their_own_fates(
    acme: Store, ingestion: Ingestion
) -> None:
    ingestion.ingest([_event("x-1", credits=5)])
    commits = _commits(acme)
    batches = [
        _batch("a", 300),
        _batch("b", 200, "beta"),
        [*_batch("c", 10), _event("c-x", "nobody")],  # an unknown account: 400
        [_event("x-1", credits=6), *_batch("d", 5)],  # x-1 stored with other credits: 409
        _batch("a", 300),  # resent while its first copy waits: all duplicates
        [*_batch("e", 50), *_batch("a", 10)],  # new events and duplicates of the first batch
    ]
    futures = _queued_together(ingestion, batches)
    assert commits() == 1
    assert futures[0].result() == IngestResult(accepted=300, duplicates=0)
    assert futures[1].result() == IngestResult(accepted=200, duplicates=0)
    with pytest.raises(InvalidInput, match="unknown account"):
        futures[2].result()
    with pytest.raises(Conflict, match="'x-1'"):
        futures[3].result()
    assert futures[4].result() == IngestResult(accepted=0, duplicates=300)
    assert futures[5].result() == IngestResult(accepted=50, duplicates=10)
    assert _stored(acme) == 1 + 300 + 200 + 50  # nothing of the refused batches
    with acme.read() as conn:
        assert rollup_mismatches(conn, "acme") == 0
        assert rollup_mismatches(conn, "beta") == 0
        assert {"bot-0", "bot-1", "bot-2"} <= set(sums.bots_with_usage(conn, "acme"))


def test_a_group_is_capped_in_size(acme: Store, ingestion: Ingestion) -> None:
    commits = _commits(acme)
    size = MAX_GROUP_EVENTS // 1000 + 2
    futures = _queued_together(ingestion, [_batch(f"g{i}", 1000) for i in range(size)])
    assert all(f.result().accepted == 1000 for f in futures)
    assert commits() == 2


def test_a_failed_commit_fails_every_batch_of_the_group(
    acme: Store, ingestion: Ingestion, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*_args: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(writes, "add_to_rollups", failing)
    futures = _queued_together(ingestion, [_batch("f", 10), _batch("g", 20), _batch("h", 30)])
    for future in futures:
        with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
            future.result()
    monkeypatch.undo()
    assert _stored(acme) == 0
    assert ingestion.ingest(_batch("f", 10)).accepted == 10  # the turn is free


def test_only_events_this_process_has_seen_stored_are_looked_up_first(
    acme: Store, ingestion: Ingestion, resends: RecordingResends
) -> None:
    looked_up = resends.looked_up
    for i in range(3):  # all new: nothing to look up
        assert ingestion.ingest(_batch(f"n{i}", 3)).accepted == 3
    assert looked_up == [[], [], []]
    # A resend of events this process stored: they alone are looked up, before the turn.
    looked_up.clear()
    resent = [*_batch("n0", 2), *_batch("r", 2)]
    assert ingestion.ingest(resent) == IngestResult(2, 2)
    changed = [_event("n1-1", bot="bot-1", minute=1, credits=2), *_batch("s", 2)]
    with pytest.raises(Conflict, match="'n1-1'"):
        ingestion.ingest(changed)
    assert looked_up == [["n0-0", "n0-1"], ["n1-1"]]
    # Events stored through another process are not known here: the primary key finds them
    # in the turn, and from then on every key is looked up first, until RESENDS_REMEMBERED
    # batches in a row held no event found that way.
    other = open_store(Settings(database_url=str(acme.engine.url)))
    try:
        assert Ingestion.of(other).ingest(_batch("o", 2)).accepted == 2
    finally:
        other.dispose()
    looked_up.clear()
    assert ingestion.ingest([*_batch("o", 2), *_batch("p", 1)]).accepted == 1
    for i in range(RESENDS_REMEMBERED):
        assert ingestion.ingest(_batch(f"m{i}", 1)).accepted == 1
    assert ingestion.ingest(_batch("last", 1)).accepted == 1
    assert looked_up == [[], *[[f"m{i}-0"] for i in range(RESENDS_REMEMBERED)], []]
    assert _stored(acme) == 9 + 2 + 2 + 1 + RESENDS_REMEMBERED + 1
    with acme.read() as conn:
        assert rollup_mismatches(conn, "acme") == 0


def test_the_filter_of_seen_keys_is_emptied_when_full(acme: Store) -> None:
    seen = ResendFilter(capacity=1000)
    ingestion = Ingestion.of(acme, resends=seen)
    a, b = _batch("a", 600), _batch("b", 600)
    a_keys, b_keys = [e.key for e in a], [e.key for e in b]
    assert ingestion.ingest(a).accepted == 600
    assert seen.to_look_up(a_keys) == a_keys  # a Bloom filter has no false negatives
    assert len(seen.to_look_up(b_keys)) <= 6  # and 0.1% false positives, when full
    assert ingestion.ingest(b).accepted == 600  # 1200 > 1000: emptied first
    assert seen.to_look_up(b_keys) == b_keys
    assert len(seen.to_look_up(a_keys)) <= 6
    # a resend of forgotten events is still found, by the primary key in the turn
    assert ingestion.ingest(a).duplicates == 600
    assert _stored(acme) == 1200


def test_an_unknown_account_is_named_with_the_index_of_each_of_its_events(
    acme: Store, ingestion: Ingestion
) -> None:
    batch = [*_batch("u", 3), _event("u-x", "nobody"), _event("u-y", "nobody")]
    with pytest.raises(InvalidInput) as refused:
        ingestion.ingest(batch)
    assert [e["index"] for e in refused.value.extra["errors"]] == [3, 4]
    assert refused.value.message.startswith("2 of 5 events name an unknown account")
    assert _stored(acme) == 0


def test_optional_fields_are_stored_whether_or_not_other_events_of_the_batch_have_them(
    acme: Store, ingestion: Ingestion
) -> None:
    # A batch without conversation_id or metadata is inserted without those two columns.
    bare = _batch("bare", 3)
    some = [
        _event("some-0")._replace(conversation_id="c-1"),
        _event("some-1")._replace(metadata='{"model":"m"}'),
        _event("some-2"),
    ]
    for batch in (bare, some):
        assert ingestion.ingest(batch) == IngestResult(3, 0)
    with acme.read() as conn:
        found = writes.stored(conn, [e.key for e in bare + some])
    assert found == {e.key: e for e in bare + some}
