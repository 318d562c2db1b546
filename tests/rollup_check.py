"""The tests' verifier of rollups: rebuilds them from the raw events and counts differences
(the daily bills' rollups, and those per conversation and per run)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Table, select

from creditmeter.categories import BILL_COLUMN, CATEGORIES
from creditmeter.conversations import CONVERSATIONS, RUNS, rollups
from creditmeter.days import day_number
from creditmeter.events import Event
from creditmeter.rollups import ALL_BOTS, BUCKET_MS, Sums
from creditmeter.store.conversation_credits import ALL_BOTS as ALL_THREAD_BOTS
from creditmeter.store.conversation_credits import COUNTS
from creditmeter.store.tables import (
    accounts,
    metadata,
    usage_buckets,
    usage_days,
    usage_events,
)


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
                rebuilt.setdefault(k, list(zero))[BILL_COLUMN[category]] += credits
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


def conversation_mismatches(conn: Connection, account_id: str) -> int:
    """How many rollup rows per conversation and per run of the account, and how many of
    their hourly and daily counts, differ from a grouping of its raw events: 0 when
    consistent."""
    e = usage_events.c
    events = [
        Event._make(row)
        for row in conn.execute(
            select(*(e[name] for name in Event._fields)).where(e.account_id == account_id)
        )
    ]
    found = 0
    for listing in (CONVERSATIONS, RUNS):
        rebuilt = {(k[1], k[2]): v for k, v in rollups(listing, events).items()}
        t = metadata.tables[listing.table].c
        columns = (t[listing.id_field], t.bot_id, t.created_at, t.last_at)
        rows = conn.execute(
            select(*columns, *(t[c] for c in listing.categories)).where(t.account_id == account_id)
        )
        stored = {(r[0], r[1]): [int(v) for v in r[2:]] for r in rows}
        found += sum(1 for k in rebuilt.keys() | stored.keys() if rebuilt.get(k) != stored.get(k))
        for table, span, width in COUNTS:
            spans: dict[tuple[str, int], int] = {}
            for (_, bot), rollup in rebuilt.items():
                start = rollup[0] - rollup[0] % width
                for key in ((bot, start), (ALL_THREAD_BOTS, start)):
                    spans[key] = spans.get(key, 0) + 1
            c = metadata.tables[table].c
            counted = {
                (r[0], int(r[1])): int(r[2])
                for r in conn.execute(
                    select(c.bot_id, c[span], c.n).where(
                        c.account_id == account_id, c.list == listing.table
                    )
                )
            }
            found += sum(
                1 for k in spans.keys() | counted.keys() if spans.get(k, 0) != counted.get(k, 0)
            )
    return found
