"""PostgreSQL's batches: each its own transaction, concurrent writers welcome."""

from __future__ import annotations

from anyio import to_thread

from .. import bucket_limit
from ..store import Store, conversation_credits, directory, revisions, sums, writes
from .batch import IngestResult, Prepared
from .turn import Clock, write_batch


class PostgresWriter:
    def __init__(self, store: Store, clock: Clock):
        self._store = store
        self._clock = clock

    def write(self, prepared: Prepared) -> IngestResult:
        store = self._store
        with store.write() as conn:
            zones = directory.account_zones(conn, prepared.accounts)
            revisions.bump(conn, zones)  # committed with the events, or not at all
            result, stored, buckets, new_bots = write_batch(
                conn, prepared, zones, store.known_bots, self._clock
            )
            writes.add_to_rollups(conn, buckets, stored, zones)
            # Read after adding: the rows are locked by this transaction, the totals exact.
            bucket_limit.check(sums.bucket_totals(conn, bucket_limit.added(buckets)))
            conversation_credits.add_events(conn, stored)
        store.known_bots |= new_bots  # only once committed
        return result

    async def write_async(self, prepared: Prepared) -> IngestResult:
        return await to_thread.run_sync(self.write, prepared)

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass
