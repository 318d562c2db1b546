"""PostgreSQL reads from the event loop: psycopg's async connection pool, so that a
request's look-up (store/revisions.py) waits for its round trip without a thread of the
pool and without queueing behind SQLAlchemy's pool, which the thread-pool reads use."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import URL

from ..settings import Settings
from . import pg_timeouts


class AsyncReads:
    """A pool of async connections made on first use, on the event loop of its first
    caller (a serving worker has one). Every wait is bounded as the sync pool's are
    (pg_timeouts): the checkout by the store timeout, each statement by the server's
    statement_timeout and, should no answer come, by the store timeout plus a grace, after
    which the connection is dropped (the pool discards one it gets back mid-statement)."""

    def __init__(self, url: URL, settings: Settings):
        self._timeout_s = settings.store_timeout_s
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=settings.pool_size,
            kwargs=pg_timeouts.connect_args(self._timeout_s) | {"autocommit": True},
            timeout=self._timeout_s,
            open=False,
        )
        self._opened: asyncio.Task[None] | None = None

    async def fetch(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """The rows of one read statement (autocommit: a snapshot of its own)."""
        if self._opened is None:
            self._opened = asyncio.ensure_future(self._pool.open(wait=False))
        await self._opened
        async with self._pool.connection() as conn:
            try:
                async with asyncio.timeout(self._timeout_s + pg_timeouts.GRACE_S):
                    cursor = await conn.execute(sql, params)
                    return await cursor.fetchall()
            except TimeoutError:
                raise psycopg.OperationalError(
                    f"the store did not answer within {self._timeout_s:g} s"
                ) from None

    async def close(self) -> None:
        if self._opened is not None:
            await self._pool.close()
