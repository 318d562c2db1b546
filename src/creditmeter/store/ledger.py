"""SQL for the ledger: writing events exactly once with their rollups, and summing them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, TextClause, and_, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite

from ..categories import CATEGORIES
from .tables import usage_buckets, usage_events

BUCKET_MS = 15 * 60 * 1000
ALL_BOTS = ""  # the bot_id of account-wide rollup rows

Sums = list[int]  # micro-credits per category, in CATEGORIES order


class Event(NamedTuple):
    """A validated event, ready to store: credits in micro-credits, ts in ms,
    metadata as canonical JSON text, category as its index in CATEGORIES."""

    account_id: str
    event_id: str
    bot_id: str
    category: int
    credits: int
    ts: int
    conversation_id: str | None
    metadata: str | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.account_id, self.event_id)

    @property
    def content(self) -> tuple[Any, ...]:
        return tuple(self[2:])


def _insert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def insert_new(conn: Connection, events: Sequence[Event]) -> set[tuple[str, str]]:
    """Inserts the events whose (account_id, event_id) is not stored yet; returns their keys.

    The primary key decides, inside this transaction: no look-up happens before the write.
    """
    if not events:
        return set()
    statement = (
        _insert(conn)(usage_events)
        .on_conflict_do_nothing()
        .returning(usage_events.c.account_id, usage_events.c.event_id)
    )
    rows = [e._asdict() for e in sorted(events)]  # one lock order for concurrent writers
    return {(row[0], row[1]) for row in conn.execute(statement, rows)}


def stored(conn: Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Event]:
    """The stored events with these keys."""
    wanted = sorted(set(keys))
    found: dict[tuple[str, str], Event] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        by_account: dict[str, list[str]] = defaultdict(list)
        for account_id, event_id in chunk:
            by_account[account_id].append(event_id)
        condition = or_(
            *(
                and_(usage_events.c.account_id == a, usage_events.c.event_id.in_(ids))
                for a, ids in by_account.items()
            )
        )
        for row in conn.execute(select(usage_events).where(condition)):
            event = Event(*row)
            found[event.key] = event
    return found


def add_to_rollups(conn: Connection, events: Iterable[Event]) -> None:
    """Adds events to their 15-minute buckets, per bot and account-wide."""
    sums: dict[tuple[str, str, int], Sums] = {}
    for event in events:
        bucket = event.ts - event.ts % BUCKET_MS
        for bot in (event.bot_id, ALL_BOTS):
            row = sums.get((event.account_id, bot, bucket))
            if row is None:
                row = sums[(event.account_id, bot, bucket)] = [0] * len(CATEGORIES)
            row[event.category] += event.credits
    if not sums:
        return
    statement = _insert(conn)(usage_buckets)
    statement = statement.on_conflict_do_update(
        index_elements=["account_id", "bot_id", "bucket"],
        set_={name: usage_buckets.c[name] + statement.excluded[name] for name in CATEGORIES},
    )
    rows = [
        {"account_id": a, "bot_id": b, "bucket": t, **dict(zip(CATEGORIES, values, strict=True))}
        for (a, b, t), values in sorted(sums.items())
    ]
    conn.execute(statement, rows)


Span = tuple[int, int, int]  # (day index, lo, hi): instants lo <= t < hi belong to that day

_SUM_COLUMNS = ", ".join(f"SUM(b.{name})" for name in CATEGORIES)


def _spans_cte(spans: Sequence[Span]) -> tuple[str, dict[str, object]]:
    values = ", ".join(
        f"(CAST(:i{n} AS INTEGER), CAST(:lo{n} AS BIGINT), CAST(:hi{n} AS BIGINT))"
        for n in range(len(spans))
    )
    params: dict[str, object] = {}
    for n, (i, lo, hi) in enumerate(spans):
        params[f"i{n}"], params[f"lo{n}"], params[f"hi{n}"] = i, lo, hi
    return f"WITH d(i, lo, hi) AS (VALUES {values})", params


def bucket_sums(
    conn: Connection, account_id: str, bot_id: str | None, spans: Sequence[Span]
) -> dict[int, Sums]:
    """Sums of the rollup buckets inside each span (its ends are bucket edges)."""
    if not spans:
        return {}
    cte, params = _spans_cte(spans)
    query: TextClause = text(
        f"{cte} SELECT d.i, {_SUM_COLUMNS} FROM d JOIN usage_buckets b"
        " ON b.account_id = :account AND b.bot_id = :bot AND b.bucket >= d.lo AND b.bucket < d.hi"
        " GROUP BY d.i"
    )
    params.update(account=account_id, bot=ALL_BOTS if bot_id is None else bot_id)
    return {row[0]: [int(v or 0) for v in row[1:]] for row in conn.execute(query, params)}


def raw_sums(
    conn: Connection, account_id: str, bot_id: str | None, spans: Sequence[Span]
) -> dict[int, Sums]:
    """Sums of the raw events inside each span: for the parts of a range that do not
    cover a whole bucket."""
    if not spans:
        return {}
    cte, params = _spans_cte(spans)
    bot_filter = "" if bot_id is None else " AND e.bot_id = :bot"
    query = text(
        f"{cte} SELECT d.i, e.category, SUM(e.credits) FROM d JOIN usage_events e"
        f" ON e.account_id = :account AND e.ts >= d.lo AND e.ts < d.hi{bot_filter}"
        " GROUP BY d.i, e.category"
    )
    params["account"] = account_id
    if bot_id is not None:
        params["bot"] = bot_id
    result: dict[int, Sums] = {}
    for i, category, total in conn.execute(query, params):
        result.setdefault(i, [0] * len(CATEGORIES))[category] += int(total)
    return result


def rollup_mismatches(conn: Connection, account_id: str) -> int:
    """How many (bot, bucket) rollup rows differ from the raw events: 0 when consistent."""
    rebuilt: dict[tuple[str, int], Sums] = {}
    query = select(
        usage_events.c.bot_id, usage_events.c.ts, usage_events.c.category, usage_events.c.credits
    ).where(usage_events.c.account_id == account_id)
    for bot, ts, category, credits in conn.execute(query):
        bucket = ts - ts % BUCKET_MS
        for key in ((bot, bucket), (ALL_BOTS, bucket)):
            rebuilt.setdefault(key, [0] * len(CATEGORIES))[category] += credits
    rows = conn.execute(select(usage_buckets).where(usage_buckets.c.account_id == account_id)).all()
    stored_rows = {(row[1], row[2]): list(row[3:]) for row in rows}
    keys = set(rebuilt) | set(stored_rows)
    zero = [0] * len(CATEGORIES)
    return sum(1 for k in keys if rebuilt.get(k, zero) != stored_rows.get(k, zero))
