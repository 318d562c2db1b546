"""SQL for the per-conversation and per-run rollups: added to in the ingest transaction,
and read a page at a time, newest first, through their page indexes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from ..conversations import CONVERSATIONS, RUNS, Listing, Rollup, rollups
from .ledger import Event, _chunks, _is_postgres, _params, _placeholder, _rows, _rows_sql


def add_events(conn: Connection, events: Sequence[Event]) -> None:
    """Adds newly stored events to the rollups of their conversations and runs, in the
    transaction that stores them: a create time moves earlier when an earlier event comes
    late, credits add up per field."""
    if not events:
        return
    for listing in (CONVERSATIONS, RUNS):
        rows = [(*key, *rollup) for key, rollup in rollups(listing, events).items()]
        _upsert(conn, listing, rows)


def _upsert(conn: Connection, listing: Listing, rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    table, id_field = listing.table, listing.id_field
    least, greatest = ("LEAST", "GREATEST") if _is_postgres(conn) else ("min", "max")
    columns = ("account_id", id_field, "bot_id", "created_at", "last_at", *listing.categories)
    updates = ", ".join(
        [
            f"created_at = {least}({table}.created_at, excluded.created_at)",
            f"last_at = {greatest}({table}.last_at, excluded.last_at)",
            *(f"{c} = {table}.{c} + excluded.{c}" for c in listing.categories),
        ]
    )
    types = ("text", "text", "text", *["bigint"] * (len(columns) - 3))
    for chunk in _chunks(conn, sorted(rows), len(columns)):  # key order: the same lock order
        source = _rows_sql(conn, len(columns), len(chunk), types)
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) {source}"
            f" ON CONFLICT (account_id, {id_field}, bot_id) DO UPDATE SET {updates}"
        )
        _rows(conn, sql, _params(conn, chunk))


Row = tuple[str, str, Rollup]  # (id, bot_id, [created_at, last_at, *credits])


@dataclass(frozen=True, slots=True)
class Selection:
    """Which rollups a list shows: an account's (a bot's, one id's) created in [start, end]."""

    account_id: str
    bot_id: str | None
    thread_id: str | None
    start: int
    end: int


def _where(conn: Connection, listing: Listing, selection: Selection) -> tuple[str, list[Any]]:
    account_id, bot_id, thread_id = selection.account_id, selection.bot_id, selection.thread_id
    start, end = selection.start, selection.end
    p = _placeholder(conn)
    clauses = [f"account_id = {p}"]
    params: list[Any] = [account_id]
    if bot_id is not None:
        clauses.append(f"bot_id = {p}")
        params.append(bot_id)
    if thread_id is not None:
        clauses.append(f"{listing.id_field} = {p}")
        params.append(thread_id)
    clauses.append(f"created_at >= {p} AND created_at <= {p}")
    params += [start, end]
    return " AND ".join(clauses), params


def page(
    conn: Connection, listing: Listing, selection: Selection, *, limit: int, offset: int
) -> list[Row]:
    """The rollups created in [start, end], newest first (ties by id, then bot), from
    `offset` on: a walk of the page index from its newest entry in the range."""
    where, params = _where(conn, listing, selection)
    p = _placeholder(conn)
    sql = (
        f"SELECT {listing.id_field}, bot_id, created_at, last_at, {', '.join(listing.categories)}"
        f" FROM {listing.table} WHERE {where}"
        f" ORDER BY created_at DESC, {listing.id_field}, bot_id LIMIT {p} OFFSET {p}"
    )
    return [
        (row[0], row[1], [int(v) for v in row[2:]])
        for row in _rows(conn, sql, (*params, limit, offset))
    ]


def most_expensive(
    conn: Connection, listing: Listing, selection: Selection, *, limit: int, offset: int
) -> list[Row]:
    """The rollups created in [start, end], most credits first (then newest, then by id):
    for the dashboard and the CLI, which rank a range's conversations by cost. It sorts
    the range's rollups (never the events)."""
    where, params = _where(conn, listing, selection)
    p = _placeholder(conn)
    total = " + ".join(listing.categories)
    sql = (
        f"SELECT {listing.id_field}, bot_id, created_at, last_at, {', '.join(listing.categories)}"
        f" FROM {listing.table} WHERE {where}"
        f" ORDER BY {total} DESC, created_at DESC, {listing.id_field}, bot_id"
        f" LIMIT {p} OFFSET {p}"
    )
    return [
        (row[0], row[1], [int(v) for v in row[2:]])
        for row in _rows(conn, sql, (*params, limit, offset))
    ]


def count(conn: Connection, listing: Listing, selection: Selection) -> int:
    """How many rollups were created in [start, end] (counted in the page index)."""
    where, params = _where(conn, listing, selection)
    return int(_rows(conn, f"SELECT COUNT(*) FROM {listing.table} WHERE {where}", params)[0][0])


def events_of(
    conn: Connection, listing: Listing, *, account_id: str, bot_id: str, thread_id: str
) -> list[Event]:
    """The events of one conversation (run), in time order (then by id): read between its
    first and last event, so only that stretch of the account's events is scanned."""
    p = _placeholder(conn)
    id_field = listing.id_field
    bounds = _rows(
        conn,
        f"SELECT created_at, last_at FROM {listing.table}"
        f" WHERE account_id = {p} AND {id_field} = {p} AND bot_id = {p}",
        (account_id, thread_id, bot_id),
    )
    if not bounds:
        return []
    first, last = bounds[0]
    columns = ", ".join(Event._fields)
    sql = (
        f"SELECT {columns} FROM usage_events WHERE account_id = {p} AND ts >= {p}"
        f" AND ts <= {p} AND bot_id = {p} AND {id_field} = {p} ORDER BY ts, event_id"
    )
    rows = _rows(conn, sql, (account_id, first, last, bot_id, thread_id))
    return [Event._make(row) for row in rows]


def mismatches(conn: Connection, account_id: str) -> int:
    """How many rollup rows of the account differ from a grouping of its raw events."""
    p = _placeholder(conn)
    columns = ", ".join(Event._fields)
    events = _stored_events(
        _rows(conn, f"SELECT {columns} FROM usage_events WHERE account_id = {p}", (account_id,))
    )
    found = 0
    for listing in (CONVERSATIONS, RUNS):
        rebuilt = {(k[1], k[2]): v for k, v in rollups(listing, events).items()}
        rows = _rows(
            conn,
            f"SELECT {listing.id_field}, bot_id, created_at, last_at,"
            f" {', '.join(listing.categories)} FROM {listing.table} WHERE account_id = {p}",
            (account_id,),
        )
        stored_rows = {(r[0], r[1]): [int(v) for v in r[2:]] for r in rows}
        found += sum(
            1 for k in rebuilt.keys() | stored_rows.keys() if rebuilt.get(k) != stored_rows.get(k)
        )
    return found


def _stored_events(rows: Iterable[Sequence[Any]]) -> list[Event]:
    return [Event._make(row) for row in rows]
