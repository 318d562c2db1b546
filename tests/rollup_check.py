"""The tests' verifier of rollups: rebuilds them from the raw events and counts differences."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Table, select

from creditmeter.categories import CATEGORIES
from creditmeter.days import day_number
from creditmeter.rollups import ALL_BOTS, BUCKET_MS, Sums
from creditmeter.store.tables import accounts, usage_buckets, usage_days, usage_events


def rollup_mismatches(
    conn: Connection, account_id: str, day_of: Callable[[int], int] | None = None
) -> int:
    """How many rollup rows (buckets, and days by `day_of`, by default the local date
    ordinal in the account's zone) differ from the raw events: 0 when consistent."""
    if day_of is None:
        tz_name = conn.execute(
            select(accounts.c.timezone).where(accounts.c.id == account_id)
        ).scalar_one()

        def day_of(ts: int) -> int:
            return day_number(ts, tz_name)

    e = usage_events.c
    events = conn.execute(
        select(e.bot_id, e.ts, e.category, e.credits).where(e.account_id == account_id)
    ).all()
    tables: list[tuple[Table, Callable[[int], int]]] = [
        (usage_buckets, lambda ts: ts - ts % BUCKET_MS),
        (usage_days, day_of),
    ]
    zero = [0] * len(CATEGORIES)
    mismatches = 0
    for table, of in tables:
        rebuilt: dict[tuple[str, int], Sums] = {}
        for bot, ts, category, credits in events:
            for k in ((bot, of(ts)), (ALL_BOTS, of(ts))):
                rebuilt.setdefault(k, list(zero))[category] += credits
        key = table.c.bucket if table is usage_buckets else table.c.day
        rows = conn.execute(
            select(table.c.bot_id, key, *(table.c[c] for c in CATEGORIES)).where(
                table.c.account_id == account_id
            )
        )
        stored = {(row[0], row[1]): list(row[2:]) for row in rows}
        mismatches += sum(
            1 for k in set(rebuilt) | set(stored) if rebuilt.get(k, zero) != stored.get(k, zero)
        )
    return mismatches
