"""SQLite's batches written by the threads of this process, a group per commit."""

from __future__ import annotations

import threading

from anyio import to_thread

from ..store import Store
from .batch import IngestResult, PendingBatch, Prepared
from .queue import GroupQueue
from .turn import Clock, write_group


class GroupCommit:
    """Every SQLite commit waits for an fsync and only one writer runs at a time: batches
    queue here, and whichever thread gets the write turn writes every waiting batch (up to
    MAX_GROUP_EVENTS) in one transaction. Each batch is answered only after the commit
    that holds it; if that commit fails, they all fail."""

    def __init__(self, store: Store, clock: Clock):
        self._store = store
        self._clock = clock
        self._queue = GroupQueue[PendingBatch](lambda pending: pending.prepared.size)
        self._turn = threading.Lock()

    @property
    def waiting(self) -> int:
        """How many batches wait for the write turn."""
        return len(self._queue)

    def write(self, prepared: Prepared) -> IngestResult:
        pending = PendingBatch(prepared)
        self._queue.put(pending)
        while not pending.done:
            with self._turn:
                if not pending.done:
                    write_group(self._store, self._queue.take_group, self._clock)
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return pending.result

    async def write_async(self, prepared: Prepared) -> IngestResult:
        return await to_thread.run_sync(self.write, prepared)

    def start(self) -> None:
        pass  # nothing to start: the callers' threads write

    def close(self) -> None:
        pass
