"""The event loop's PostgreSQL pool after the store went away and came back: the pool's
idle connections all died with it, and the first read must not be the one that finds out
(tests/reliability/test_outage.py got a 503 for a read after /readyz was ready), nor a
read that waits for the pool's next try, seconds after the store is back."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest
from sqlalchemy.engine import make_url

from creditmeter.settings import Settings
from creditmeter.store.async_reads import AsyncReads
from creditmeter.store.engine import normalize_url
from tests.support.proxy import Proxy
from tests.support.stores import throwaway_postgres

pytestmark = pytest.mark.postgres


def test_the_first_read_after_an_outage_answers() -> None:
    with throwaway_postgres() as url:
        direct = make_url(normalize_url(url))
        with Proxy((direct.host or "127.0.0.1", direct.port or 5432)) as proxy:
            via_proxy = direct.set(host="127.0.0.1", port=proxy.port)

            async def scenario() -> list[list[tuple[int, ...]]]:
                reads = AsyncReads(via_proxy, Settings(pool_size=3), asyncio.get_running_loop())
                try:
                    # three reads at once: three connections, idle in the pool afterwards
                    await asyncio.gather(
                        *(reads.fetch("SELECT pg_sleep(0.2), %s::int", (n,)) for n in range(3))
                    )
                    proxy.cut()
                    proxy.restore()
                    return [await reads.fetch("SELECT %s::int", (n,)) for n in range(3)]
                finally:
                    await reads.close()

            assert asyncio.run(scenario()) == [[(0,)], [(1,)], [(2,)]]


def test_a_read_soon_after_a_long_outage_answers() -> None:
    """Reads refused for 4 s: with psycopg_pool's own schedule of connects (1 s, then 2,
    4, ...) the next would come about 3 s after the store is back, past the read's 2 s."""
    with throwaway_postgres() as url:
        direct = make_url(normalize_url(url))
        with Proxy((direct.host or "127.0.0.1", direct.port or 5432)) as proxy:
            via_proxy = direct.set(host="127.0.0.1", port=proxy.port)
            settings = Settings(pool_size=2, store_timeout_s=2)

            async def scenario() -> list[tuple[int, ...]]:
                reads = AsyncReads(via_proxy, settings, asyncio.get_running_loop())
                try:
                    await reads.fetch("SELECT 1", ())
                    proxy.cut()
                    refused_until = time.monotonic() + 4
                    while time.monotonic() < refused_until:
                        with pytest.raises(psycopg.OperationalError):
                            await reads.fetch("SELECT 1", ())
                    proxy.restore()
                    return await reads.fetch("SELECT 2", ())
                finally:
                    await reads.close()

            assert asyncio.run(scenario()) == [(2,)]
