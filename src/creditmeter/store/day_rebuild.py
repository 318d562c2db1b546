"""SQL for rebuilding an account's daily rollups after a zone change, a chunk of days per
write transaction, and for the mark that tells reports whether those rollups are current.

`accounts.zone_version` counts the account's zone changes and `accounts.days_version` is
the one its usage_days rows fully follow; while they differ, reports sum the account's
15-minute buckets (exact in any zone) instead of reading usage_days."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection

from .dialect import dialect_of, run
from .writes import add_rollup_rows


class RebuildState(NamedTuple):
    timezone: str
    zone_version: int
    days_version: int


def zone_changed(conn: Connection, account_id: str) -> int:
    """Marks the account's daily rollups as pending a rebuild; returns the zone change's
    number, which its rebuild carries."""
    p = dialect_of(conn).placeholder
    run(conn, f"UPDATE accounts SET zone_version = zone_version + 1 WHERE id = {p}", (account_id,))
    return int(run(conn, f"SELECT zone_version FROM accounts WHERE id = {p}", (account_id,))[0][0])


def rebuild_state(conn: Connection, account_id: str) -> RebuildState | None:
    """The account's zone and versions. Where writers run at once (PostgreSQL) its row is
    locked for the transaction, so that ingestion, which share-locks it, cannot add to the
    days being replaced; where they run one at a time (SQLite) the write transaction is
    exclusive already."""
    dialect = dialect_of(conn)
    lock = "" if dialect.one_writer else " FOR UPDATE"
    sql = (
        "SELECT timezone, zone_version, days_version FROM accounts"
        f" WHERE id = {dialect.placeholder}{lock}"
    )
    rows = run(conn, sql, (account_id,))
    return RebuildState(*rows[0]) if rows else None


def days_zone(conn: Connection, account_id: str) -> str | None:
    """The zone the account's daily rollups fully follow: its own, unless a rebuild is
    pending (None)."""
    p = dialect_of(conn).placeholder
    sql = f"SELECT timezone FROM accounts WHERE id = {p} AND zone_version = days_version"
    rows = run(conn, sql, (account_id,))
    return str(rows[0][0]) if rows else None


def pending(conn: Connection) -> list[tuple[str, int]]:
    """(account_id, zone_version) of every account whose rebuild has not finished."""
    sql = "SELECT id, zone_version FROM accounts WHERE zone_version <> days_version ORDER BY id"
    return [(str(a), int(v)) for a, v in run(conn, sql)]


def finish(conn: Connection, account_id: str, version: int) -> None:
    """The daily rollups follow zone change `version`, if no later one came."""
    p = dialect_of(conn).placeholder
    sql = f"UPDATE accounts SET days_version = {p} WHERE id = {p} AND zone_version = {p}"
    run(conn, sql, (version, account_id, version))


def stored_day_range(conn: Connection, account_id: str) -> tuple[int, int] | None:
    """The first and last date ordinal of the account's stored daily rollups."""
    p = dialect_of(conn).placeholder
    sql = f"SELECT MIN(day), MAX(day) FROM usage_days WHERE account_id = {p}"
    first, last = run(conn, sql, (account_id,))[0]
    return None if first is None else (int(first), int(last))


def replace_day_range(
    conn: Connection, account_id: str, first: int, last: int, rows: Sequence[Sequence[Any]]
) -> None:
    """Replaces the account's daily rollups of dates first..last by `rows`
    ((account_id, bot_id, day, *sums))."""
    p = dialect_of(conn).placeholder
    sql = f"DELETE FROM usage_days WHERE account_id = {p} AND day >= {p} AND day <= {p}"
    run(conn, sql, (account_id, first, last))
    add_rollup_rows(conn, "usage_days", rows)
