"""The writer process `creditmeter serve` hands a SQLite file's batches to: each batch keeps
its own fate, nothing is stored twice, and a writer that dies fails only what it had not
answered, then is replaced."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from creditmeter import accounts
from creditmeter.errors import Conflict, InvalidInput
from creditmeter.events import Event
from creditmeter.http import create_app
from creditmeter.ingest import MAX_GROUP_EVENTS, Ingestion, IngestResult, Prepared
from creditmeter.ingest.batch import PendingBatch
from creditmeter.ingest.writer_process import Inbox, WriterProcess
from creditmeter.settings import Settings
from creditmeter.store import Store
from creditmeter.store.tables import usage_events
from tests.conftest import make_key
from tests.conftest import test_settings as settings_for_tests
from tests.http.support import event, post_events
from tests.rollup_check import rollup_mismatches
from tests.store.conftest import RecordingResends

T0 = 1_733_011_200_000  # 2024-12-01T00:00:00Z


def _batch(prefix: str, count: int, account: str = "acme") -> list[Event]:
    return [
        Event(
            account,
            f"{prefix}-{n}",
            f"bot-{n % 3}",
            n % 8,
            1_000_000 + n,
            T0 + n * 60_000,
            None,
            None,
        )
        for n in range(count)
    ]


def _stored(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(usage_events)).scalar_one())


@pytest.fixture
def writer(sqlite_store: Store) -> Iterator[WriterProcess]:
    accounts.create_account(store=sqlite_store, account_id="acme", timezone="Asia/Shanghai")
    accounts.create_account(store=sqlite_store, account_id="beta", timezone="America/St_Johns")
    the_writer = WriterProcess(Settings(database_url=str(sqlite_store.engine.url)))
    yield the_writer
    the_writer.close()


@pytest.fixture
def ingestion(sqlite_store: Store, writer: WriterProcess) -> Ingestion:
    """Ingestion whose batches the writer process writes."""
    return Ingestion(sqlite_store, writer, RecordingResends())


def test_batches_written_by_the_writer_process_keep_their_own_fates(
    sqlite_store: Store, ingestion: Ingestion
) -> None:
    assert ingestion.ingest(_batch("x", 1)).accepted == 1
    batches = [
        _batch("a", 300),
        _batch("b", 200, "beta"),
        [*_batch("c", 10), *_batch("c-x", 1, "nobody")],  # an unknown account: 400
        [Event("acme", "x-0", "bot-0", 0, 7, T0, None, None), *_batch("d", 5)],  # 409
        _batch("a", 300),  # all duplicates, whether or not its first copy is stored yet
        [*_batch("e", 50), *_batch("a", 10)],
    ]
    with ThreadPoolExecutor(len(batches)) as pool:
        futures = [pool.submit(ingestion.ingest, b) for b in batches]
    # The two copies of "a" and the 10 "a" events of the last batch race: together, each
    # event is accepted once.
    shared = [futures[0].result(), futures[4].result(), futures[5].result()]
    assert sum(r.accepted for r in shared) == 300 + 50
    assert sum(r.duplicates for r in shared) == 300 + 10
    assert futures[1].result() == IngestResult(accepted=200, duplicates=0)
    with pytest.raises(InvalidInput, match="unknown account") as unknown:
        futures[2].result()
    assert [e["index"] for e in unknown.value.extra["errors"]] == [10]
    with pytest.raises(Conflict, match="'x-0'"):
        futures[3].result()
    assert _stored(sqlite_store) == 1 + 300 + 200 + 50
    with sqlite_store.read() as conn:
        assert rollup_mismatches(conn, "acme") == 0
        assert rollup_mismatches(conn, "beta") == 0


def test_a_writer_that_dies_is_replaced(
    sqlite_store: Store, writer: WriterProcess, ingestion: Ingestion
) -> None:
    assert ingestion.ingest(_batch("a", 10)).accepted == 10
    pid = writer.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert writer.join(10) is not None  # killed
    # The batch sent as it died fails as a store error (a 503); the next one starts another.
    outcomes: list[int | str] = []
    while len(outcomes) < 2 and 10 not in outcomes:
        try:
            outcomes.append(ingestion.ingest(_batch("b", 10)).accepted)
        except sqlite3.OperationalError as gone:
            outcomes.append(str(gone))
    assert outcomes[-1] == 10, outcomes
    assert all("writer process" in str(failed) for failed in outcomes[:-1])
    assert writer.pid not in (None, pid)
    assert ingestion.ingest(_batch("b", 10)).duplicates == 10
    assert _stored(sqlite_store) == 20


def test_closing_lets_the_writer_finish_and_exit(
    sqlite_store: Store, writer: WriterProcess, ingestion: Ingestion
) -> None:
    assert ingestion.ingest(_batch("a", 5)).accepted == 5
    assert writer.pid is not None
    assert writer.close() == 0  # its exit code


def test_the_served_app_hands_batches_to_a_writer_process(
    sqlite_store: Store, resends: RecordingResends
) -> None:
    accounts.create_account(store=sqlite_store, account_id="acme", timezone="Asia/Shanghai")
    key = make_key(sqlite_store, "ingest")
    settings = settings_for_tests(database_url=str(sqlite_store.engine.url))
    app = create_app(settings, writer_process=True, resends=resends)
    writer = app.state.services.ingestion.writer
    assert isinstance(writer, WriterProcess)
    with TestClient(app) as client:
        answer = post_events(client, key, [event("e1"), event("e2")])
        assert answer.json() == {"accepted": 2, "duplicates": 0}
        assert writer.pid is not None
        # Resent events, which this process has seen stored, are looked up first, on the
        # event loop, and the rest of the batch is handed over.
        assert post_events(client, key, [event("e1")]).json() == {"accepted": 0, "duplicates": 1}
        again = post_events(client, key, [event("e2"), event("e3")])
        assert again.json() == {"accepted": 1, "duplicates": 1}
        changed = post_events(client, key, [event("e3", credits="2")])
        assert changed.status_code == 409
        unknown = post_events(client, key, [event("e4"), event("e5", account_id="nobody")])
        assert unknown.status_code == 400
        assert [e["index"] for e in unknown.json()["errors"]] == [1]
    assert resends.looked_up == [[], ["e1"], ["e2"], ["e3"], []]
    assert writer.pid is None  # closed with the app
    assert _stored(sqlite_store) == 3


def test_a_writer_that_cannot_start_with_the_app_is_started_by_the_first_batch(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts.create_account(store=sqlite_store, account_id="acme", timezone="Asia/Shanghai")
    key = make_key(sqlite_store, "ingest")

    def cannot_start(_writer: WriterProcess) -> None:
        raise OSError("no processes left")

    monkeypatch.setattr(WriterProcess, "start", cannot_start)
    app = create_app(
        settings_for_tests(database_url=str(sqlite_store.engine.url)), writer_process=True
    )
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        answer = post_events(client, key, [event("e1")])
        assert answer.json() == {"accepted": 1, "duplicates": 0}
    assert _stored(sqlite_store) == 1


def test_the_writer_takes_the_oldest_batches_that_fit_in_a_group() -> None:
    ours, theirs = multiprocessing.Pipe()
    inbox = Inbox(theirs)  # receiving from now on, as the writer process does
    prepared = [Prepared.of(_batch(f"g{i}", 1000), {}) for i in range(3)]
    for number in range(MAX_GROUP_EVENTS // 1000 + 2):
        ours.send((number, prepared[number % 3].as_tuple()))
    ours.send(None)
    deadline = time.monotonic() + 10
    while not inbox.closing:  # every batch received, as when the writer was busy writing
        assert time.monotonic() < deadline
        time.sleep(0.01)
    groups = []
    while inbox.wait():
        taken: list[tuple[int, PendingBatch]] = []
        assert len(inbox.take(taken)) == len(taken)
        groups.append([number for number, _ in taken])
        # each batch arrives as it was made ready: its events, keys, bots and rollups
        assert all(w.prepared == prepared[number % 3] for number, w in taken)
    full = MAX_GROUP_EVENTS // 1000
    assert groups == [list(range(full)), [full, full + 1]]
