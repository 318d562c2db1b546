"""Ingestion: a validated batch (events.parse_batch) stored exactly once with its rollups.

The path of a batch: Ingestion (this module) makes it ready (batch.Prepared, looking up
first the events a client may be sending again: resends.ResendFilter), then hands it to
the store's one BatchWriter, chosen once by Ingestion.of:

- group_commit.GroupCommit: SQLite, written by this process's threads, a group per commit;
- writer_process.WriterProcess: SQLite file, written by a process of its own (`serve`);
- postgres.PostgresWriter: PostgreSQL, each batch its own transaction.

Every writer ends in turn.write_batch, inside the transaction that adds the rollups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from ..clock import now_ms
from ..events import Event
from ..settings import Settings
from ..store import Store, writes
from .batch import (
    KEY,
    MAX_GROUP_EVENTS,
    IngestResult,
    Key,
    Prepared,
    UnknownAccounts,
    conflicting,
    refuse_unknown_accounts,
)
from .group_commit import GroupCommit
from .postgres import PostgresWriter
from .resends import ResendFilter
from .turn import Clock
from .writer_process import WriterProcess

__all__ = [
    "MAX_GROUP_EVENTS",
    "BatchWriter",
    "IngestResult",
    "Ingestion",
    "Prepared",
    "ResendFilter",
    "conflicting",
]


class BatchWriter(Protocol):
    """Writes prepared batches of one store; each call returns once its batch is durably
    committed, or raises what refused it (InvalidInput, Conflict) or a store error."""

    def write(self, prepared: Prepared) -> IngestResult: ...

    async def write_async(self, prepared: Prepared) -> IngestResult: ...

    def start(self) -> None: ...

    def close(self) -> object: ...


class Ingestion:
    """Stores batches of one store through its one writer. `resends` is None when every
    event is left to the primary key in the turn (PostgreSQL, whose writers run
    concurrently, gains nothing from a look-up first)."""

    def __init__(self, store: Store, writer: BatchWriter, resends: ResendFilter | None):
        self.store = store
        self.writer = writer
        self.resends = resends

    @classmethod
    def of(
        cls,
        store: Store,
        *,
        settings: Settings | None = None,
        writer_process: bool = False,
        resends: ResendFilter | None = None,
        clock: Clock = now_ms,
    ) -> Ingestion:
        """The ingestion of `store`, its writer chosen here: a writer process (started
        by start()) for a SQLite file when `writer_process`, else this process writes."""
        if not store.is_sqlite:
            return cls(store, PostgresWriter(store, clock), None)
        resends = resends or ResendFilter()
        if writer_process and store.is_sqlite_file:
            settings = settings or Settings(database_url=str(store.engine.url))
            return cls(store, WriterProcess(settings), resends)
        return cls(store, GroupCommit(store, clock), resends)

    def ingest(
        self, batch: Sequence[Event], holds: Mapping[Key, str] | None = None
    ) -> IngestResult:
        """Stores the batch exactly once, all or nothing; returns once it is committed.
        `holds`: the hold_id each event names, by event key (credits.settlement)."""
        prepared, keys = self._prepare(batch, holds)
        try:
            result = self.writer.write(prepared)
        except UnknownAccounts as unknown:
            raise refuse_unknown_accounts(batch, unknown.accounts) from None
        return self._noted(keys, prepared, result)

    async def ingest_async(
        self, batch: Sequence[Event], holds: Mapping[Key, str] | None = None
    ) -> IngestResult:
        """ingest(), on an event loop: the batch is made ready on the loop (SQLite's readers
        do not wait for its writer), then awaited from its writer."""
        prepared, keys = self._prepare(batch, holds)
        try:
            result = await self.writer.write_async(prepared)
        except UnknownAccounts as unknown:
            raise refuse_unknown_accounts(batch, unknown.accounts) from None
        return self._noted(keys, prepared, result)

    def start(self) -> None:
        self.writer.start()

    def close(self) -> None:
        self.writer.close()

    def _prepare(
        self, batch: Sequence[Event], holds: Mapping[Key, str] | None
    ) -> tuple[Prepared, list[Key]]:
        """The batch made ready for the write turn, and its keys. The stored events among
        those a client may be resending are read first, off the write turn (events are
        never deleted, so what is read stays true)."""
        if self.resends is None:
            return Prepared.of(batch, {}, holds=holds), []
        keys = list(map(KEY, batch))
        to_look_up = self.resends.to_look_up(keys)
        earlier: dict[Key, Event] = {}
        if to_look_up:
            with self.store.read() as conn:
                earlier = writes.stored(conn, to_look_up)
        return Prepared.of(batch, earlier, keys, holds=holds), keys

    def _noted(self, keys: list[Key], prepared: Prepared, result: IngestResult) -> IngestResult:
        if self.resends is not None:
            self.resends.note(keys, found_in_turn=len(prepared.new) - result.accepted)
        return result
