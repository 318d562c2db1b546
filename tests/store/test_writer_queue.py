"""The write turn on SQLite: writers of every process queue on one flock, handed on as
soon as it is free, and refused as SQLite refuses once the busy timeout has passed."""

from __future__ import annotations

import fcntl
import multiprocessing
import sqlite3
import threading

import pytest
from sqlalchemy import text

from creditmeter import accounts
from creditmeter.settings import Settings
from creditmeter.store import Store, open_store


def _other_process(store: Store, timeout_ms: int) -> Store:
    """A second store on the same file: its own open lock file, as another process has."""
    url = str(store.engine.url)
    return open_store(Settings(database_url=url, sqlite_busy_timeout_ms=timeout_ms), upgrade=False)


def test_a_writer_waits_for_the_turn_and_writes_once_it_is_free(sqlite_store: Store) -> None:
    other = _other_process(sqlite_store, 10_000)
    wrote = threading.Event()

    def write() -> None:
        accounts.create_account(store=other, account_id="late")
        wrote.set()

    try:
        with sqlite_store.writer_turn():
            writer = threading.Thread(target=write)
            writer.start()
            assert not wrote.wait(0.3)  # queued behind the turn held here
        writer.join(10)
        assert wrote.is_set()
        assert accounts.get_account(store=sqlite_store, account_id="late") is not None
    finally:
        other.dispose()


def test_a_turn_not_had_within_the_busy_timeout_is_refused(sqlite_store: Store) -> None:
    impatient = _other_process(sqlite_store, 50)
    try:
        with (
            sqlite_store.writer_turn(),
            pytest.raises(sqlite3.OperationalError, match="locked"),
            impatient.write() as conn,
        ):
            conn.execute(text("SELECT 1"))
        with impatient.write() as conn:  # free again
            conn.execute(text("SELECT 1"))
    finally:
        impatient.dispose()


def _try_turn(store: Store, answer: multiprocessing.Queue[str]) -> None:
    store.writer_queue.timeout_s = 0.05
    try:
        with store.writer_turn():
            answer.put("had the turn")
    except sqlite3.OperationalError as refused:
        answer.put(str(refused))


def test_a_forked_child_does_not_share_its_parents_turn(sqlite_store: Store) -> None:
    with sqlite_store.writer_turn():  # opens the lock file in this process
        pass
    # A flock belongs to an open file: had the child kept the parent's, it would share
    # the parent's lock instead of waiting for it.
    parents_file = sqlite_store.writer_queue.lock_fd
    assert parents_file is not None
    fcntl.flock(parents_file, fcntl.LOCK_EX)
    try:
        context = multiprocessing.get_context("fork")
        answer: multiprocessing.Queue[str] = context.Queue()
        child = context.Process(target=_try_turn, args=(sqlite_store, answer))
        child.start()
        child.join(10)
        assert "locked" in answer.get(timeout=5)
    finally:
        fcntl.flock(parents_file, fcntl.LOCK_UN)
