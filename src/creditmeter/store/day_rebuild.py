"""SQL for rebuilding an account's daily rollups after a zone change, a chunk of days per
write transaction, and for the mark that tells reports whether those rollups are current.

`accounts.zone_version` counts the account's zone changes and `accounts.days_version` is
the one its usage_days rows fully follow; while they differ, reports sum the account's
15-minute buckets (exact in any zone) instead of reading usage_days."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection

from ..categories import CATEGORIES
from .ledger import Event, Rollups, Span, _placeholder, _rows, _spans_cte, _upsert

_CATEGORY_COLUMNS = ", ".join(CATEGORIES)


class RebuildState(NamedTuple):
    timezone: str
    zone_version: int
    days_version: int


def zone_changed(conn: Connection, account_id: str) -> int:
    """Marks the account's daily rollups as pending a rebuild; returns the zone change's
    number, which its rebuild carries."""
    p = _placeholder(conn)
    _rows(
        conn, f"UPDATE accounts SET zone_version = zone_version + 1 WHERE id = {p}", (account_id,)
    )
    return int(
        _rows(conn, f"SELECT zone_version FROM accounts WHERE id = {p}", (account_id,))[0][0]
    )


def rebuild_state(conn: Connection, account_id: str) -> RebuildState | None:
    """The account's zone and versions, its row locked for the transaction on PostgreSQL (so
    that ingestion, which share-locks it, cannot add to the days being replaced); SQLite's
    write transaction is exclusive already."""
    p = _placeholder(conn)
    lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
    sql = f"SELECT timezone, zone_version, days_version FROM accounts WHERE id = {p}{lock}"
    rows = _rows(conn, sql, (account_id,))
    return RebuildState(*rows[0]) if rows else None


def days_zone(conn: Connection, account_id: str) -> str | None:
    """The zone the account's daily rollups fully follow: its own, unless a rebuild is
    pending (None)."""
    p = _placeholder(conn)
    sql = f"SELECT timezone FROM accounts WHERE id = {p} AND zone_version = days_version"
    rows = _rows(conn, sql, (account_id,))
    return str(rows[0][0]) if rows else None


def pending(conn: Connection) -> list[tuple[str, int]]:
    """(account_id, zone_version) of every account whose rebuild has not finished."""
    return [
        (str(a), int(v))
        for a, v in _rows(
            conn,
            "SELECT id, zone_version FROM accounts WHERE zone_version <> days_version ORDER BY id",
        )
    ]


def finish(conn: Connection, account_id: str, version: int) -> None:
    """The daily rollups follow zone change `version`, if no later one came."""
    p = _placeholder(conn)
    sql = f"UPDATE accounts SET days_version = {p} WHERE id = {p} AND zone_version = {p}"
    _rows(conn, sql, (version, account_id, version))


def stored_day_range(conn: Connection, account_id: str) -> tuple[int, int] | None:
    """The first and last date ordinal of the account's stored daily rollups."""
    p = _placeholder(conn)
    sql = f"SELECT MIN(day), MAX(day) FROM usage_days WHERE account_id = {p}"
    first, last = _rows(conn, sql, (account_id,))[0]
    return None if first is None else (int(first), int(last))


def account_buckets(conn: Connection, account_id: str, lo: int, hi: int) -> Rollups:
    """The account's bucket rows (every bot and account-wide) with lo <= bucket < hi. Its
    bots are found by a skip scan of the primary key (the next bot_id after the last), so
    that the range is read bot by bot through the key, never the account's every row."""
    p = _placeholder(conn)
    sql = (
        "WITH RECURSIVE b(bot_id) AS ("
        f" SELECT MIN(bot_id) FROM usage_buckets WHERE account_id = {p}"
        " UNION ALL SELECT (SELECT MIN(u.bot_id) FROM usage_buckets u"
        f" WHERE u.account_id = {p} AND u.bot_id > b.bot_id) FROM b WHERE b.bot_id IS NOT NULL)"
        f" SELECT u.bot_id, u.bucket, {', '.join(f'u.{c}' for c in CATEGORIES)}"
        f" FROM b JOIN usage_buckets u ON u.account_id = {p} AND u.bot_id = b.bot_id"
        f" AND u.bucket >= {p} AND u.bucket < {p}"
    )
    rows = _rows(conn, sql, (account_id, account_id, account_id, lo, hi))
    return {(account_id, row[0], int(row[1])): [int(v) for v in row[2:]] for row in rows}


def events_in(conn: Connection, account_id: str, spans: Sequence[Span]) -> list[Event]:
    """The account's raw events inside the spans (for buckets a day boundary cuts)."""
    if not spans:
        return []
    cte, params = _spans_cte(conn, spans)
    sql = (
        f"{cte} SELECT e.account_id, e.event_id, e.bot_id, e.category, e.credits, e.ts,"
        " e.conversation_id, e.metadata FROM d JOIN usage_events e"
        f" ON e.account_id = {_placeholder(conn)} AND e.ts >= d.lo AND e.ts < d.hi"
    )
    return [Event._make(row) for row in _rows(conn, sql, (*params, account_id))]


def replace_day_range(
    conn: Connection, account_id: str, first: int, last: int, rows: Sequence[Sequence[Any]]
) -> None:
    """Replaces the account's daily rollups of dates first..last by `rows`
    ((account_id, bot_id, day, *sums))."""
    p = _placeholder(conn)
    sql = f"DELETE FROM usage_days WHERE account_id = {p} AND day >= {p} AND day <= {p}"
    _rows(conn, sql, (account_id, first, last))
    _upsert(conn, "usage_days", "day", rows)
