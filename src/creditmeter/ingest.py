"""Ingestion: a validated batch (events.parse_batch) stored exactly once with its rollups."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from .clock import now_ms
from .days import day_number
from .errors import Conflict, InvalidInput
from .events import MAX_BATCH
from .store import Store, directory, ledger
from .store.ledger import Event


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    duplicates: int


def ingest(*, store: Store, batch: Sequence[Event]) -> IngestResult:
    """Stores the batch exactly once, all or nothing; returns once it is durably committed.

    On SQLite the batches that wait for the write lock together are written in one
    transaction (see _GroupCommit); on PostgreSQL each batch is its own transaction."""
    if not store.is_sqlite:
        with store.write() as conn:
            zones = directory.account_zones(conn, {e.account_id for e in batch})
            result, inserted, new_bots = _write(conn, batch, zones, store.known_bots)
            _add_to_rollups(conn, inserted, zones)
        store.known_bots |= new_bots  # only once committed
        return result
    return _group_commit(store).submit(batch)


def _write(
    conn: Connection,
    batch: Sequence[Event],
    zones: dict[str, str],
    known_bots: set[tuple[str, str]],
) -> tuple[IngestResult, list[Event], set[tuple[str, str]]]:
    """Writes one batch's new events in the open transaction; InvalidInput or Conflict when
    it must not be stored (the caller rolls it back). Returns what became of it, the events
    it stored (whose rollups the caller adds in the same transaction), and the bots it added."""
    unique: dict[tuple[str, str], Event] = {}
    conflicts: set[tuple[str, str]] = set()
    for event in batch:
        earlier = unique.setdefault((event.account_id, event.event_id), event)
        if earlier is not event and earlier.content != event.content:
            conflicts.add(event.key)
    _check_accounts(batch, zones)  # validation first: an invalid batch is a 400, not a 409
    if conflicts:
        raise _conflict(conflicts)
    new_bots = {(e.account_id, e.bot_id) for e in unique.values()} - known_bots
    directory.ensure_bots(conn, new_bots, now_ms())
    inserted = ledger.insert_new(conn, list(unique.values()))
    repeated = [key for key in unique if key not in inserted]
    if repeated:
        found = ledger.stored(conn, repeated)
        conflicts = {key for key in repeated if found[key].content != unique[key].content}
        if conflicts:
            raise _conflict(conflicts)
    result = IngestResult(accepted=len(inserted), duplicates=len(batch) - len(inserted))
    return result, [unique[key] for key in inserted], new_bots


def _add_to_rollups(conn: Connection, events: Sequence[Event], zones: dict[str, str]) -> None:
    """The events' credits added to their buckets and to their days in their account's zone."""
    ledger.add_to_rollups(conn, events, lambda account_id, ts: day_number(ts, zones[account_id]))


@dataclass(slots=True)
class _Waiting:
    """A batch waiting to be written, and then what became of it."""

    batch: Sequence[Event]
    done: bool = False
    result: IngestResult | None = None
    error: BaseException | None = None


class _GroupCommit:
    """Group commit for SQLite, where every commit waits for an fsync and only one writer
    runs at a time: batches queue here, and whichever thread gets the write turn writes
    every waiting batch (up to MAX_GROUP_EVENTS) in one transaction, each inside a
    savepoint, so a batch refused with 400 or 409 is rolled back alone; the rollups of the
    stored events are added once for the group. Every batch is answered only after the
    commit that holds it; if that commit fails, they all fail."""

    MAX_GROUP_EVENTS = 8 * MAX_BATCH

    def __init__(self, store: Store):
        self.store = store
        self._queue: list[_Waiting] = []
        self._queue_lock = threading.Lock()
        self._turn = threading.Lock()

    def submit(self, batch: Sequence[Event]) -> IngestResult:
        waiting = _Waiting(batch)
        with self._queue_lock:
            self._queue.append(waiting)
        while not waiting.done:
            with self._turn:
                if not waiting.done:
                    self._write_group()
        if waiting.error is not None:
            raise waiting.error
        assert waiting.result is not None
        return waiting.result

    def _take(self) -> list[_Waiting]:
        """The oldest waiting batches, as many as fit in one group (at least one)."""
        with self._queue_lock:
            size, count = 0, 0
            for waiting in self._queue:
                size += len(waiting.batch)
                if count and size > self.MAX_GROUP_EVENTS:
                    break
                count += 1
            group, self._queue = self._queue[:count], self._queue[count:]
        return group

    def _write_group(self) -> None:
        """Writes the waiting batches. They are taken once the write lock is held, so every
        batch that arrived while another writer (of any process) held it joins the group."""
        store = self.store
        group: list[_Waiting] = []
        added: set[tuple[str, str]] = set()
        stored: list[Event] = []
        try:
            with store.write() as conn:
                group = self._take()
                zones = directory.account_zones(
                    conn, {e.account_id for waiting in group for e in waiting.batch}
                )
                for waiting in group:
                    savepoint = conn.begin_nested()
                    try:
                        waiting.result, inserted, new_bots = _write(
                            conn, waiting.batch, zones, store.known_bots | added
                        )
                    except (InvalidInput, Conflict) as refused:
                        savepoint.rollback()
                        waiting.error = refused
                    else:
                        savepoint.commit()
                        stored += inserted
                        added |= new_bots
                _add_to_rollups(conn, stored, zones)
        except BaseException as failure:
            # Every batch of the group fails with it (the batches that were waiting, when
            # the write lock itself could not be had). A leader whose own batch was not in
            # the group goes on to write it in the next one.
            for waiting in group or self._take():
                waiting.result, waiting.error, waiting.done = None, failure, True
            if not isinstance(failure, Exception):
                raise
        else:
            store.known_bots |= added  # only once committed
            for waiting in group:
                waiting.done = True


_GROUPS: weakref.WeakKeyDictionary[Store, _GroupCommit] = weakref.WeakKeyDictionary()
_GROUPS_LOCK = threading.Lock()


def _group_commit(store: Store) -> _GroupCommit:
    with _GROUPS_LOCK:
        group = _GROUPS.get(store)
        if group is None:
            group = _GROUPS[store] = _GroupCommit(store)
        return group


def _check_accounts(batch: Sequence[Event], known: Collection[str]) -> None:
    errors = [
        {"index": i, "field": "account_id", "message": f"account {e.account_id!r} does not exist"}
        for i, e in enumerate(batch)
        if e.account_id not in known
    ]
    if errors:
        raise InvalidInput(
            f"{len(errors)} of {len(batch)} events name an unknown account and nothing was "
            f"stored; first: events[{errors[0]['index']}].account_id {errors[0]['message']}",
            errors=errors,
        )


def _conflict(keys: set[tuple[str, str]]) -> Conflict:
    ids = sorted(event_id for _, event_id in keys)
    shown = ", ".join(repr(i) for i in ids[:10]) + (" ..." if len(ids) > 10 else "")
    return Conflict(
        f"{len(ids)} event id(s) reused with different content, nothing of this batch was "
        f"stored: {shown}",
        ids=ids,
    )
