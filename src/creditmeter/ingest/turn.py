"""The write turn: what every BatchWriter does once it holds a transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Connection

from .. import bucket_limit, rollups
from ..clock import now_ms
from ..credits import holds as credit_holds
from ..credits import journal
from ..errors import Conflict, InvalidInput
from ..events import Event
from ..store import Store, conversation_credits, directory, revisions, sums, writes
from .batch import (
    IngestResult,
    PendingBatch,
    Prepared,
    UnknownAccounts,
    conflicting,
    refuse_conflicts,
)

Clock = Callable[[], int]


def write_batch(
    conn: Connection,
    prepared: Prepared,
    zones: dict[str, str],
    known_bots: set[tuple[str, str]],
    clock: Clock = now_ms,
) -> tuple[IngestResult, Sequence[Event], rollups.Rollups, frozenset[tuple[str, str]]]:
    """Writes one batch's new events in the open transaction; InvalidInput or Conflict when
    it must not be stored (the caller rolls it back). Returns what became of it, the events
    it stored and their bucket rollups (which the caller adds in the same transaction), and
    the bots it added. The events stored are drawn down from their accounts' credits, and
    the holds they name settled, in this same transaction (credits.journal)."""
    stored, buckets, new_bots = insert_batch(conn, prepared, zones, known_bots, clock)
    return draw_batch(conn, prepared, stored, clock), stored, buckets, new_bots


def insert_batch(
    conn: Connection,
    prepared: Prepared,
    zones: dict[str, str],
    known_bots: set[tuple[str, str]],
    clock: Clock = now_ms,
) -> tuple[Sequence[Event], rollups.Rollups, frozenset[tuple[str, str]]]:
    """write_batch's first part: the batch checked and its new events inserted. The events
    it stored, their bucket rollups and the bots it added; draw_batch must follow in the
    same transaction."""
    if not prepared.accounts <= zones.keys():  # validation first: an invalid batch is a 400
        raise UnknownAccounts(prepared.accounts - zones.keys())
    if prepared.holds:  # the holds events name exist, for their accounts
        credit_holds.check_named(conn, prepared.holds)
    if prepared.conflicts:
        raise refuse_conflicts(prepared.conflicts)
    new_bots = prepared.bots - known_bots
    directory.ensure_bots(conn, new_bots, clock())
    stored, buckets = prepared.new, prepared.buckets
    found = writes.insert_new(conn, stored)  # stored since they were looked up
    if found:
        sent = {e.key: e for e in stored}
        conflicts = [key for key, event in found.items() if conflicting(sent[key], event)]
        if conflicts:
            raise refuse_conflicts(conflicts)
        stored = [e for e in stored if e.key not in found]
        buckets = rollups.bucket_rollups(stored)
    return stored, buckets, new_bots


def draw_batch(
    conn: Connection, prepared: Prepared, stored: Sequence[Event], clock: Clock = now_ms
) -> IngestResult:
    """write_batch's second part: the stored events drawn down from their accounts' credits
    and the holds they name settled; what became of the batch."""
    alerts = 0
    if stored:
        now = clock()
        alerts = journal.draw_down(conn, stored, now)
        if prepared.holds:
            credit_holds.settle(conn, prepared.holds, {e.key for e in stored}, now)
    return IngestResult(len(stored), prepared.size - len(stored), alerts)


def write_group(
    store: Store, take: Callable[[], list[PendingBatch]], clock: Clock = now_ms
) -> None:
    """Writes the batches `take()` gives once the write turn is held, in one transaction,
    each in a savepoint (a batch refused with 400 or 409 is rolled back alone), and marks
    each done with its fate. If the turn cannot be had, `take()` gives the batches that
    then fail."""
    group: list[PendingBatch] = []
    added: set[tuple[str, str]] = set()
    buckets: rollups.Rollups = {}
    stored: list[Event] = []
    pending_totals: bucket_limit.Totals = {}  # what the group's batches add to bucket totals
    try:
        with store.write() as conn:
            group = take()
            zones = directory.account_zones(
                conn, frozenset().union(*(pending.prepared.accounts for pending in group))
            )
            revisions.bump(conn, zones)  # committed with the events, or not at all
            # The stored totals of every bucket the group may add to, read once: its rollups
            # are written at its end, so they cannot move before.
            stored_totals = sums.bucket_totals(
                conn, {key for p in group for key in bucket_limit.added(p.prepared.buckets)}
            )
            for pending in group:
                savepoint = conn.begin_nested()
                try:
                    pending.result, inserted, batch_buckets, new_bots = write_batch(
                        conn, pending.prepared, zones, store.known_bots | added, clock
                    )
                    batch_totals = _within_limit(batch_buckets, stored_totals, pending_totals)
                except (InvalidInput, Conflict) as refused:
                    savepoint.rollback()
                    pending.error = refused
                else:
                    savepoint.commit()
                    rollups.merge_rollups(buckets, batch_buckets)
                    for key, total in batch_totals.items():
                        pending_totals[key] = pending_totals.get(key, 0) + total
                    stored += inserted
                    added |= new_bots
            writes.add_to_rollups(conn, buckets, stored, zones)
            conversation_credits.add_events(conn, stored)
    except BaseException as failure:
        # Every batch of the group fails with it (the batches that were waiting, when the
        # write turn itself could not be had). A leader whose own batch was not in the group
        # goes on to write it in the next one.
        for pending in group or take():
            pending.result, pending.error, pending.done = None, failure, True
        if not isinstance(failure, Exception):
            raise
    else:
        store.known_bots |= added  # only once committed
        for pending in group:
            pending.done = True


def _within_limit(
    buckets: rollups.Rollups, stored: bucket_limit.Totals, pending: bucket_limit.Totals
) -> bucket_limit.Totals:
    """What a batch of the group adds to bucket totals; InvalidInput if, with what is stored
    (`stored`, read for the whole group: SQLite's write turn is exclusive and the group's
    rollups are written at its end) and what the group's earlier batches add (`pending`),
    a bucket would pass the limit."""
    batch = bucket_limit.added(buckets)
    if batch:
        bucket_limit.check(
            {key: stored.get(key, 0) + pending.get(key, 0) + add for key, add in batch.items()}
        )
    return batch
