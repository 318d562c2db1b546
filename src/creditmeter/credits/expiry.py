"""The expiry sweep of `creditmeter serve`: every due expiry entry written within a minute
of its expires_at, even for an account that nothing else writes to. (Every writer of an
account writes its due expiries first anyway, and reads never count an expired grant.)"""

from __future__ import annotations

import asyncio
import logging

from anyio import to_thread

from ..clock import now_ms
from ..store import Store
from ..store import credits as sql
from .journal import expire_due

SWEEP_EVERY_S = 20.0


def sweep(*, store: Store, now: int | None = None) -> int:
    """Writes the due expiries of every account that has some; returns how many accounts."""
    at = now_ms() if now is None else now
    with store.read() as conn:
        due = sql.accounts_with_due_expiries(conn, at)
    for account_id in due:  # one short transaction per account
        with store.write() as conn:
            expire_due(conn, account_id, at)
    return len(due)


async def sweep_forever(store: Store, every_s: float = SWEEP_EVERY_S) -> None:
    """sweep() every `every_s` seconds until cancelled; a failed sweep is logged and retried."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await to_thread.run_sync(lambda: sweep(store=store))
        except Exception:
            logging.getLogger("creditmeter.credits").exception("the expiry sweep failed")
