"""Ingestion: a validated batch (events.parse_batch) stored exactly once with its rollups."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from operator import itemgetter
from typing import Protocol

from anyio import to_thread
from rbloom import Bloom
from sqlalchemy import Connection

from .clock import now_ms
from .credits import holds as credit_holds
from .credits import journal
from .errors import Conflict, InvalidInput
from .events import MAX_BATCH
from .store import Store, directory, ledger
from .store.ledger import Event


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    duplicates: int


def ingest(
    *, store: Store, batch: Sequence[Event], holds: Mapping[tuple[str, str], str] | None = None
) -> IngestResult:
    """Stores the batch exactly once, all or nothing; returns once it is durably committed.

    On SQLite the batches that wait for the write turn together are written in one
    transaction (write_together): by the store's writer process if it has one (see
    hand_writes_to), else by this process's group commit. On PostgreSQL each batch is its
    own transaction. `holds`: the hold_id each event names, by event key."""
    try:
        return _ingest(store, batch, holds or {})
    except UnknownAccounts as unknown:
        raise _refuse_unknown_accounts(batch, unknown.accounts) from None


def _ingest(
    store: Store, batch: Sequence[Event], holds: Mapping[tuple[str, str], str]
) -> IngestResult:
    if not store.is_sqlite:
        prepared = Prepared.of(batch, {}, holds=holds)
        with store.write() as conn:
            zones = directory.account_zones(conn, prepared.accounts)
            result, stored, buckets, new_bots = _write(conn, prepared, zones, store.known_bots)
            ledger.add_to_rollups(conn, buckets, stored, zones)
        store.known_bots |= new_bots  # only once committed
        return result
    prepared, keys = _made_ready(store, batch, holds)
    writer = _WRITERS.get(store)
    if writer is not None:
        result = writer.submit(prepared)
    else:
        result = _group_commit(store).submit(prepared)
    return _stored_now(store, keys, prepared, result)


async def ingest_async(
    *, store: Store, batch: Sequence[Event], holds: Mapping[tuple[str, str], str] | None = None
) -> IngestResult:
    """ingest(), awaited on an event loop. A batch for a writer process (of a SQLite file)
    is made ready and handed over on the loop itself, with its look-up of stored events if
    any: a worker thread would wait for the loop to let go of the GIL, milliseconds at a
    time while it decodes other batches, once to start and once more to be answered, and
    SQLite's readers do not wait for its writer (like the other SQLite reads, it waits
    only for a free connection, or while the store recovers its WAL). Batches the process
    writes itself go to ingest() in a thread."""
    writer = _WRITERS.get(store)
    if writer is None:
        return await to_thread.run_sync(partial(ingest, store=store, batch=batch, holds=holds))
    prepared, keys = _made_ready(store, batch, holds or {})
    try:
        result = await writer.submit_async(prepared)
    except UnknownAccounts as unknown:
        raise _refuse_unknown_accounts(batch, unknown.accounts) from None
    return _stored_now(store, keys, prepared, result)


def _made_ready(
    store: Store, batch: Sequence[Event], holds: Mapping[tuple[str, str], str]
) -> tuple[Prepared, list[tuple[str, str]]]:
    """The batch made ready for SQLite's write turn, its events that a client may be
    sending again looked up first (see _Resends); and its keys."""
    keys = list(map(_KEY, batch))
    earlier = _look_up_stored(store, _resends(store).to_look_up(keys))
    return Prepared.of(batch, earlier, keys, holds=holds), keys


def _stored_now(
    store: Store, keys: list[tuple[str, str]], prepared: Prepared, result: IngestResult
) -> IngestResult:
    """Notes that the batch with these keys is stored; returns its result."""
    _resends(store).note(keys, found_in_turn=len(prepared.new) - result.accepted)
    return result


def _look_up_stored(store: Store, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Event]:
    """The stored events among these keys. Events are never deleted, so this is read before
    the write turn, off the path that only one writer at a time can take."""
    if not keys:
        return {}
    with store.read() as conn:
        return ledger.stored(conn, keys)


class _Resends:
    """Which keys of a batch to look up before SQLite's write turn: those a client may be
    sending again. A key costs about as much to look up as a new event to write, so a
    batch's keys are not all looked up: only those this process has seen stored, kept in
    a Bloom filter (no false negatives; 0.1% of the other keys are looked up for nothing)
    and emptied whenever SEEN_CAPACITY keys have gone in. An event stored through another
    process, or before this one started or last emptied its filter, is found by the
    primary key in the turn instead (ledger.insert_new: a rollback and a look-up there, on
    the path that only one writer at a time can take); once that happens, every key is
    looked up first until RESENDS_REMEMBERED batches in a row have held no such event."""

    def __init__(self) -> None:
        self.seen = Bloom(SEEN_CAPACITY, 0.001)
        self.count = 0  # keys added to `seen` since it was last emptied
        self.look_up_all = 0  # batches left that look up every key

    def to_look_up(self, keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
        if self.look_up_all:
            return keys
        seen = self.seen
        return [key for key in keys if key in seen]

    def note(self, keys: list[tuple[str, str]], found_in_turn: int) -> None:
        """The batch with these keys is stored; the write turn found `found_in_turn` of
        its events stored before."""
        if self.count + len(keys) > SEEN_CAPACITY:
            self.seen.clear()
            self.count = 0
        self.seen.update(keys)
        self.count += len(keys)
        self.look_up_all = RESENDS_REMEMBERED if found_in_turn else max(self.look_up_all - 1, 0)


SEEN_CAPACITY = 1 << 22  # keys in the Bloom filter before it is emptied: 7.5 MB
RESENDS_REMEMBERED = 32
_RESENDS: weakref.WeakKeyDictionary[Store, _Resends] = weakref.WeakKeyDictionary()
_RESENDS_LOCK = threading.Lock()


def _resends(store: Store) -> _Resends:
    resends = _RESENDS.get(store)
    if resends is None:
        with _RESENDS_LOCK:
            resends = _RESENDS.setdefault(store, _Resends())
    return resends


class UnknownAccounts(InvalidInput):
    """Raised in the write turn when accounts of a batch do not exist; ingest() words the
    error with the batch's events."""

    def __init__(self, accounts: frozenset[str]):
        super().__init__(f"unknown accounts: {', '.join(sorted(accounts))}")
        self.accounts = accounts

    def __reduce__(self) -> tuple[type[UnknownAccounts], tuple[frozenset[str]]]:
        return (UnknownAccounts, (self.accounts,))


class BatchWriter(Protocol):
    """Writes batches of a SQLite store elsewhere (writer.WriterProcess)."""

    def submit(self, prepared: Prepared) -> IngestResult: ...

    async def submit_async(self, prepared: Prepared) -> IngestResult: ...


_WRITERS: weakref.WeakKeyDictionary[Store, BatchWriter] = weakref.WeakKeyDictionary()


def hand_writes_to(store: Store, writer: BatchWriter | None) -> None:
    """From now on, `writer` writes the store's batches (None: this process does)."""
    if writer is None:
        _WRITERS.pop(store, None)
    else:
        _WRITERS[store] = writer


MAX_GROUP_EVENTS = 8 * MAX_BATCH  # the most events written in one transaction


@dataclass(frozen=True, slots=True)
class Prepared:
    """A batch made ready to write before the write turn: its size and accounts, the ids it
    repeats with other content (in the batch, or among `earlier`, events found stored), and
    its events not found stored, in key order, with their bots and their rollups."""

    size: int
    accounts: frozenset[str]
    conflicts: frozenset[tuple[str, str]]
    new: Sequence[Event]
    bots: frozenset[tuple[str, str]]
    buckets: ledger.Rollups
    holds: Mapping[tuple[str, str], str]  # the hold_id events name, by event key

    @classmethod
    def of(
        cls,
        batch: Sequence[Event],
        earlier: dict[tuple[str, str], Event],
        keys: Sequence[tuple[str, str]] | None = None,
        *,
        holds: Mapping[tuple[str, str], str] | None = None,
    ) -> Prepared:
        """`keys`: the batch's keys, if already at hand."""
        conflicts: set[tuple[str, str]] = set()
        sent = dict(zip(map(_KEY, batch) if keys is None else keys, batch, strict=True))
        if len(sent) < len(batch):  # the first of each id, and the repeats that differ
            sent = {}
            for event in batch:
                seen = sent.setdefault(event.key, event)
                if seen != event:  # the same key: compares their content
                    conflicts.add(event.key)
        for key, stored in earlier.items():
            if sent.pop(key) != stored:  # the same key: compares their content
                conflicts.add(key)
        # in key order, as insert_new writes them (sorting again is cheap)
        new = sorted(sent.values())
        accounts = frozenset(e.account_id for e in batch)
        bots = frozenset(map(_BOT, new))
        buckets = ledger.bucket_rollups(new)
        return cls(
            len(batch), accounts, frozenset(conflicts), new, bots, buckets, dict(holds or {})
        )


_KEY = itemgetter(0, 1)  # an Event's (account_id, event_id)
_BOT = itemgetter(0, 2)  # and its (account_id, bot_id)


def _write(
    conn: Connection,
    prepared: Prepared,
    zones: dict[str, str],
    known_bots: set[tuple[str, str]],
) -> tuple[IngestResult, Sequence[Event], ledger.Rollups, frozenset[tuple[str, str]]]:
    """Writes one batch's new events in the open transaction; InvalidInput or Conflict when
    it must not be stored (the caller rolls it back). Returns what became of it, the events
    it stored and their bucket rollups (which the caller adds in the same transaction), and
    the bots it added."""
    if not prepared.accounts <= zones.keys():  # validation first: an invalid batch is a 400
        raise UnknownAccounts(prepared.accounts - zones.keys())
    if prepared.holds:  # hook: the holds events name exist for their accounts
        credit_holds.check_named(conn, prepared.holds)
    if prepared.conflicts:
        raise _conflict(set(prepared.conflicts))
    new_bots = prepared.bots - known_bots
    directory.ensure_bots(conn, new_bots, now_ms())
    stored, buckets = prepared.new, prepared.buckets
    found = ledger.insert_new(conn, stored)  # stored since they were looked up
    if found:
        sent = {e.key: e for e in stored}
        conflicts = {key for key, event in found.items() if event.content != sent[key].content}
        if conflicts:
            raise _conflict(conflicts)
        stored = [e for e in stored if e.key not in found]
        buckets = ledger.bucket_rollups(stored)
    if stored:  # hook: the credits' draw-down, in this same transaction (savepoint)
        now = now_ms()
        journal.draw_down(conn, stored, now)
        if prepared.holds:
            credit_holds.settle(conn, prepared.holds, {e.key for e in stored}, now)
    result = IngestResult(len(stored), prepared.size - len(stored))
    return result, stored, buckets, new_bots


@dataclass(slots=True)
class Waiting:
    """A batch waiting to be written, and then what became of it."""

    prepared: Prepared
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

    def __init__(self, store: Store):
        self.store = store
        self._queue: list[Waiting] = []
        self._queue_lock = threading.Lock()
        self._turn = threading.Lock()

    def submit(self, prepared: Prepared) -> IngestResult:
        waiting = Waiting(prepared)
        with self._queue_lock:
            self._queue.append(waiting)
        while not waiting.done:
            with self._turn:
                if not waiting.done:
                    write_together(self.store, self._take)
        if waiting.error is not None:
            raise waiting.error
        assert waiting.result is not None
        return waiting.result

    def _take(self) -> list[Waiting]:
        """The oldest waiting batches, as many as fit in one group (at least one)."""
        with self._queue_lock:
            size, count = 0, 0
            for waiting in self._queue:
                size += waiting.prepared.size
                if count and size > MAX_GROUP_EVENTS:
                    break
                count += 1
            group, self._queue = self._queue[:count], self._queue[count:]
        return group


def write_together(store: Store, take: Callable[[], list[Waiting]]) -> None:
    """Writes the batches `take()` gives once the write turn is held, in one transaction,
    and marks each done with its fate. If the turn cannot be had, `take()` gives the
    batches that then fail."""
    group: list[Waiting] = []
    added: set[tuple[str, str]] = set()
    buckets: ledger.Rollups = {}
    stored: list[Event] = []
    try:
        with store.write() as conn:
            group = take()
            zones = directory.account_zones(
                conn, frozenset().union(*(waiting.prepared.accounts for waiting in group))
            )
            for waiting in group:
                savepoint = conn.begin_nested()
                try:
                    waiting.result, inserted, batch_buckets, new_bots = _write(
                        conn, waiting.prepared, zones, store.known_bots | added
                    )
                except (InvalidInput, Conflict) as refused:
                    savepoint.rollback()
                    waiting.error = refused
                else:
                    savepoint.commit()
                    ledger.merge_rollups(buckets, batch_buckets)
                    stored += inserted
                    added |= new_bots
            ledger.add_to_rollups(conn, buckets, stored, zones)
    except BaseException as failure:
        # Every batch of the group fails with it (the batches that were waiting, when the
        # write turn itself could not be had). A leader whose own batch was not in the group
        # goes on to write it in the next one.
        for waiting in group or take():
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


def _refuse_unknown_accounts(batch: Sequence[Event], unknown: Collection[str]) -> InvalidInput:
    errors = [
        {"index": i, "field": "account_id", "message": f"account {e.account_id!r} does not exist"}
        for i, e in enumerate(batch)
        if e.account_id in unknown
    ]
    return InvalidInput(
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
