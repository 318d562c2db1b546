"""PostgreSQL's looks from the event loop: psycopg's async connection pool, so that a
request's look (store/revisions.py) waits for its round trip without a thread of the pool
and without queueing behind SQLAlchemy's pool, which the thread-pool reads use.

Looks that arrive while others are on their way are sent together, as one statement: under
load one round trip answers many requests, and PostgreSQL plans and runs one statement for
them. A statement is sent only after every request it answers has begun, so what it reads is
never older than the last commit acknowledged before any of them began."""

from __future__ import annotations

import asyncio
from typing import Any, Final

import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import URL

from ..settings import Settings
from . import pg_timeouts

Wanted = tuple[str | None, str]  # (the account a platform key names, the key id)
IN_FLIGHT: Final = 1  # statements on their way at once; the others' looks wait and join up
# How long the pool keeps retrying one failed connect (psycopg_pool's default is 5 minutes,
# its waits doubling from 1 s): after an outage of a few seconds, the next try could come
# seconds after the store is back, past a read's wait. Given up sooner, a connect is tried
# again as soon as a read wants one.
RECONNECT_S: Final = 0.5


class AsyncReads:
    """A pool of async connections made on first use, on the event loop of its first
    caller (a serving worker has one). Every wait is bounded as the sync pool's are
    (pg_timeouts): the checkout by the store timeout, each statement by the server's
    statement_timeout and, should no answer come, by the store timeout plus a grace, after
    which the connection is dropped (the pool discards one it gets back mid-statement)."""

    def __init__(self, url: URL, settings: Settings, loop: asyncio.AbstractEventLoop):
        self.loop = loop  # the event loop its connections and futures belong to
        self._timeout_s = settings.store_timeout_s
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=max(IN_FLIGHT + 1, settings.pool_size),
            kwargs=pg_timeouts.connect_args(self._timeout_s) | {"autocommit": True},
            timeout=self._timeout_s,
            reconnect_timeout=RECONNECT_S,
            open=False,
        )
        self._opened: asyncio.Task[None] | None = None
        self._waiting: dict[Wanted, list[asyncio.Future[tuple[Any, ...] | None]]] = {}
        self._in_flight = 0

    async def look(self, sql: str, wanted: Wanted) -> tuple[Any, ...] | None:
        """The row of `sql` (revisions.many_looks_sql) for `wanted`, sent with whatever
        other looks are waiting."""
        future: asyncio.Future[tuple[Any, ...] | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(wanted, []).append(future)
        if self._in_flight < IN_FLIGHT:
            self._send(sql)
        return await future

    def _send(self, sql: str) -> None:
        self._in_flight += 1
        # Started on the next turn of the loop, so that looks of requests already read
        # by it join this statement.
        self.loop.call_soon(lambda: asyncio.ensure_future(self._flush(sql)))

    async def _flush(self, sql: str) -> None:
        try:
            batch, self._waiting = self._waiting, {}
            if not batch:
                return
            wanted = list(batch)
            try:
                rows = await self.fetch(sql, ([w[0] for w in wanted], [w[1] for w in wanted]))
            except BaseException as error:
                for futures in batch.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(error)
                if not isinstance(error, Exception):
                    raise
                return
            found = {int(row[0]): row[1:] for row in rows}
            for i, w in enumerate(wanted):
                for future in batch[w]:
                    if not future.done():
                        future.set_result(found.get(i))
        finally:
            self._in_flight -= 1
            if self._waiting and self._in_flight < IN_FLIGHT:
                self._send(sql)

    async def fetch(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """The rows of one read statement (autocommit: a snapshot of its own). A connection
        found broken (the store went away and came back: every idle one died with it) makes
        the pool check its idle connections, replacing the dead ones, and the read is sent
        once more: it changes nothing, so sending it again is safe."""
        if self._opened is None:
            self._opened = asyncio.ensure_future(self._pool.open(wait=False))
        await self._opened
        try:
            return await self._fetch_once(sql, params)
        except _Broken:
            await self._pool.check()
        try:
            return await self._fetch_once(sql, params)
        except _Broken as broken:
            raise broken.error from None

    async def _fetch_once(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        async with self._pool.connection() as conn:
            try:
                async with asyncio.timeout(self._timeout_s + pg_timeouts.GRACE_S):
                    cursor = await conn.execute(sql, params)
                    return await cursor.fetchall()
            except TimeoutError:
                raise psycopg.OperationalError(
                    f"the store did not answer within {self._timeout_s:g} s"
                ) from None
            except psycopg.OperationalError as error:
                if conn.broken:
                    raise _Broken(error) from error
                raise

    async def close(self) -> None:
        if self._opened is not None:
            await self._pool.close()


class _Broken(Exception):
    """A read's connection was found dead (`error` says how); the pool discards it."""

    def __init__(self, error: psycopg.OperationalError):
        super().__init__(str(error))
        self.error = error
