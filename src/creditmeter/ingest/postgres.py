"""PostgreSQL's batches: each its own transaction, concurrent writers welcome."""

from __future__ import annotations

from anyio import to_thread

from .. import bucket_limit
from ..store import Store, conversation_credits, directory, revisions, sums, writes
from .batch import IngestResult, Prepared
from .turn import Clock, draw_batch, insert_batch


class PostgresWriter:
    def __init__(self, store: Store, clock: Clock):
        self._store = store
        self._clock = clock

    def write(self, prepared: Prepared) -> IngestResult:
        """One transaction. Concurrent batches meet on the same rows (the account-wide
        rollups of the same days and buckets, the accounts' revisions and credit heads) and
        wait for each other there until commit: those rows are locked last, in the same
        order by every batch (rollups, revisions, credit heads, each in key order), so that
        the events' insert, the largest statement, runs while another batch holds them."""
        store = self._store
        with store.write() as conn:
            zones = directory.account_zones(conn, prepared.accounts)
            stored, buckets, new_bots = insert_batch(
                conn, prepared, zones, store.known_bots, self._clock
            )
            conversation_credits.add_events(conn, stored)
            writes.add_to_rollups(conn, buckets, stored, zones)
            # Read after adding: the rows are locked by this transaction, the totals exact.
            bucket_limit.check(sums.bucket_totals(conn, bucket_limit.added(buckets)))
            revisions.bump(conn, zones)  # committed with the events, or not at all
            result = draw_batch(conn, prepared, stored, self._clock)
        store.known_bots |= new_bots  # only once committed
        return result

    async def write_async(self, prepared: Prepared) -> IngestResult:
        return await to_thread.run_sync(self.write, prepared)

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass
