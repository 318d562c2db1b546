"""SQL for the per-conversation and per-run rollups: added to in the ingest transaction,
and read a page at a time, newest first, through their page indexes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection

from ..conversations import CONVERSATIONS, RUNS, Listing, Rollup, rollups
from ..events import Event
from .dialect import Dialect, dialect_of, run

HOUR_MS = 3_600_000
DAY_MS = 86_400_000  # a UTC day, the daily counts' span
ALL_BOTS = ""  # the bot_id of a count row of the whole account


def add_events(conn: Connection, events: Sequence[Event]) -> None:
    """Adds newly stored events to the rollups of their conversations and runs, in the
    transaction that stores them: a create time moves earlier when an earlier event comes
    late, credits add up per field; and keeps the counts of rollups created per hour and
    per UTC day."""
    if not events:
        return
    for listing in (CONVERSATIONS, RUNS):
        rows = sorted((*key, *rollup) for key, rollup in rollups(listing, events).items())
        if rows:
            moves = _upsert(conn, listing, rows)
            _add_counts(conn, listing, moves)


Move = tuple[str, str, int | None, int]  # (account_id, bot_id, old create time or None, new)


def _upsert(conn: Connection, listing: Listing, rows: list[tuple[Any, ...]]) -> list[Move]:
    """Adds the rows (key columns, created_at, last_at, credits), in key order, so that
    concurrent writers lock in the same order; returns how each create time moved. The new
    rows are inserted first (a concurrent insert of the same key is waited for and then
    seen as existing), then the existing ones are read, locked on PostgreSQL, and updated:
    so the create time each had before is known exactly, whatever runs at the same time."""
    table, id_field = listing.table, listing.id_field
    columns = ("account_id", id_field, "bot_id", "created_at", "last_at", *listing.categories)
    types = ("text", "text", "text", *["bigint"] * (len(columns) - 3))
    dialect = dialect_of(conn)
    if dialect.one_writer:
        return _upsert_one_writer(conn, dialect, listing, rows, columns, types)
    inserted: set[tuple[str, str, str]] = set()
    for chunk in dialect.chunks(rows, len(columns)):
        source = dialect.source(types, len(chunk))
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) {source}"
            f" ON CONFLICT (account_id, {id_field}, bot_id) DO NOTHING"
            f" RETURNING account_id, {id_field}, bot_id"
        )
        inserted.update((r[0], r[1], r[2]) for r in run(conn, sql, dialect.params(chunk)))
    moves: list[Move] = [(r[0], r[2], None, r[3]) for r in rows if r[:3] in inserted]
    existing = [r for r in rows if r[:3] not in inserted]
    if not existing:
        return moves
    before = _create_times(conn, dialect, listing, [r[:3] for r in existing], " FOR UPDATE OF t")
    _add_rows(conn, dialect, listing, existing, columns, types)
    for row in existing:
        old = before[row[:3]]
        if row[3] < old:
            moves.append((row[0], row[2], old, row[3]))
    return moves


def _upsert_one_writer(
    conn: Connection,
    dialect: Dialect,
    listing: Listing,
    rows: list[tuple[Any, ...]],
    columns: tuple[str, ...],
    types: tuple[str, ...],
) -> list[Move]:
    """_upsert where one transaction writes at a time (SQLite): the create times read
    first cannot change before the one upsert that follows (no RETURNING, which steps
    once per row)."""
    before = _create_times(conn, dialect, listing, [r[:3] for r in rows], "")
    _add_rows(conn, dialect, listing, rows, columns, types)
    moves: list[Move] = []
    for row in rows:
        old = before.get(row[:3])
        if old is None or row[3] < old:
            moves.append((row[0], row[2], old, row[3]))
    return moves


def _create_times(
    conn: Connection, dialect: Dialect, listing: Listing, keys: list[tuple[Any, ...]], lock: str
) -> dict[tuple[str, str, str], int]:
    """The stored create times of these keys (those stored), locked by `lock`."""
    table, id_field = listing.table, listing.id_field
    before: dict[tuple[str, str, str], int] = {}
    for chunk in dialect.chunks(keys, 3):
        source = dialect.source(("text", "text", "text"), len(chunk))
        sql = (
            f"WITH k (account_id, thread_id, bot_id) AS ({source})"
            f" SELECT t.account_id, t.{id_field}, t.bot_id, t.created_at FROM k JOIN {table} t"
            f" ON t.account_id = k.account_id AND t.{id_field} = k.thread_id"
            f" AND t.bot_id = k.bot_id ORDER BY 1, 2, 3{lock}"
        )
        for account_id, thread_id, bot_id, created_at in run(conn, sql, dialect.params(chunk)):
            before[(account_id, thread_id, bot_id)] = int(created_at)
    return before


def _add_rows(
    conn: Connection,
    dialect: Dialect,
    listing: Listing,
    rows: list[tuple[Any, ...]],
    columns: tuple[str, ...],
    types: tuple[str, ...],
) -> None:
    """Upserts the rows: the smaller create time, the larger last time, credits added."""
    table, id_field = listing.table, listing.id_field
    least, greatest = dialect.least, dialect.greatest
    updates = ", ".join(
        [
            f"created_at = {least}({table}.created_at, excluded.created_at)",
            f"last_at = {greatest}({table}.last_at, excluded.last_at)",
            *(f"{c} = {table}.{c} + excluded.{c}" for c in listing.categories),
        ]
    )
    for chunk in dialect.chunks(rows, len(columns)):
        source = dialect.source(types, len(chunk))
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) {source}"
            f" ON CONFLICT (account_id, {id_field}, bot_id) DO UPDATE SET {updates}"
        )
        run(conn, sql, dialect.params(chunk))


# The tables of counts of rollups created per span of create time, and the span in ms.
COUNTS: Final = (("thread_counts", "hour", HOUR_MS), ("thread_day_counts", "day", DAY_MS))


def _add_counts(conn: Connection, listing: Listing, moves: list[Move]) -> None:
    """Counts per hour and per UTC day of create time, per bot and account-wide: +1 where
    a rollup was created or its create time moved to, -1 where it moved from."""
    dialect = dialect_of(conn)
    types = ("text", "text", "text", "bigint", "bigint")
    for table, span, width in COUNTS:
        deltas: dict[tuple[str, str, str, int], int] = {}
        for account_id, bot_id, old, new in moves:
            if old is not None and old // width == new // width:
                continue
            for bot in (bot_id, ALL_BOTS):
                key = (account_id, listing.table, bot, new - new % width)
                deltas[key] = deltas.get(key, 0) + 1
                if old is not None:
                    key = (account_id, listing.table, bot, old - old % width)
                    deltas[key] = deltas.get(key, 0) - 1
        rows = sorted((*key, n) for key, n in deltas.items() if n)
        for chunk in dialect.chunks(rows, 5):
            source = dialect.source(types, len(chunk))
            sql = (
                f"INSERT INTO {table} (account_id, list, bot_id, {span}, n) {source}"
                f" ON CONFLICT (account_id, list, bot_id, {span}) DO UPDATE"
                f" SET n = {table}.n + excluded.n"
            )
            run(conn, sql, dialect.params(chunk))


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
    p = dialect_of(conn).placeholder
    filters, params = _filters(listing, selection, p)
    created = _created(selection)
    return f"{filters} AND {created} >= {p} AND {created} <= {p}", [
        *params,
        selection.start,
        selection.end,
    ]


def most_expensive(
    conn: Connection, listing: Listing, selection: Selection, *, limit: int, offset: int
) -> list[Row]:
    """The rollups created in [start, end], most credits first (then newest, then by id):
    for the dashboard and the CLI, which rank a range's conversations by cost. It sorts
    the range's rollups (never the events)."""
    where, params = _where(conn, listing, selection)
    p = dialect_of(conn).placeholder
    total = " + ".join(listing.categories)
    sql = (
        f"SELECT {listing.id_field}, bot_id, created_at, last_at, {', '.join(listing.categories)}"
        f" FROM {listing.table} WHERE {where}"
        f" ORDER BY {total} DESC, created_at DESC, {listing.id_field}, bot_id"
        f" LIMIT {p} OFFSET {p}"
    )
    return [
        (row[0], row[1], [int(v) for v in row[2:]])
        for row in run(conn, sql, (*params, limit, offset))
    ]


Range = tuple[int, int]  # the instants lo <= t < hi


@dataclass(frozen=True, slots=True)
class CountPieces:
    """How the count of a selection is read: the daily counts of the whole UTC days
    inside, the hourly counts of the whole hours before and after them, and the page
    index for the rest (the pieces of hours at both ends, or the whole range when it
    holds no whole hour or asks for one id, which the counts do not tell). Each a range
    lo <= t < hi, empty when lo >= hi."""

    days: Range
    hours: tuple[Range, Range]
    edges: tuple[Range, Range]


_NO_RANGE: Final = (0, 0)


def count_pieces(selection: Selection) -> CountPieces:
    start, end = selection.start, selection.end + 1  # [start, end)
    first_hour = -(-start // HOUR_MS) * HOUR_MS  # the first whole hour's start
    last_hour = end // HOUR_MS * HOUR_MS  # the end of the last whole hour
    if selection.thread_id is not None or first_hour >= last_hour:
        return CountPieces(_NO_RANGE, (_NO_RANGE, _NO_RANGE), ((start, end), _NO_RANGE))
    edges = ((start, first_hour), (last_hour, end))
    first_day = -(-first_hour // DAY_MS) * DAY_MS
    last_day = last_hour // DAY_MS * DAY_MS
    if first_day >= last_day:
        return CountPieces(_NO_RANGE, ((first_hour, last_hour), _NO_RANGE), edges)
    hours = ((first_hour, first_day), (last_day, last_hour))
    return CountPieces((first_day, last_day), hours, edges)


def _created(selection: Selection) -> str:
    """The create time as the selection's range compares and orders it: for one id,
    `+created_at`, which no index serves, so that the id is looked up by the primary key (a
    row per bot) rather than by walking the page index (a month of 1M holds 250,000)."""
    return "+created_at" if selection.thread_id is not None else "created_at"


def _filters(listing: Listing, selection: Selection, p: str) -> tuple[str, list[Any]]:
    """The WHERE clauses of a selection's account, bot and id, before its time range."""
    clauses = [f"account_id = {p}"]
    params: list[Any] = [selection.account_id]
    if selection.bot_id is not None:
        clauses.append(f"bot_id = {p}")
        params.append(selection.bot_id)
    if selection.thread_id is not None:
        clauses.append(f"{listing.id_field} = {p}")
        params.append(selection.thread_id)
    return " AND ".join(clauses), params


def _count_sql(dialect: Dialect, listing: Listing, selection: Selection) -> tuple[str, list[Any]]:
    """The count of the selection as one SQL expression, from its pieces (count_pieces)."""
    p = dialect.placeholder
    pieces = count_pieces(selection)
    filters, params = _filters(listing, selection, p)
    bot = selection.bot_id if selection.bot_id is not None else ALL_BOTS
    parts = []
    values: list[Any] = []
    (table, span, _), (day_table, day, _) = COUNTS
    for counts, column, (lo, hi) in (
        (day_table, day, pieces.days),
        *((table, span, hours) for hours in pieces.hours),
    ):
        parts.append(
            f"(SELECT COALESCE(SUM(n), 0) FROM {counts} WHERE account_id = {p} AND list = {p}"
            f" AND bot_id = {p} AND {column} >= {p} AND {column} < {p})"
        )
        values += [selection.account_id, listing.table, bot, lo, hi]
    created = _created(selection)
    for lo, hi in pieces.edges:
        parts.append(
            f"(SELECT COUNT(*) FROM {listing.table} WHERE {filters}"
            f" AND {created} >= {p} AND {created} < {p})"
        )
        values += [*params, lo, hi]
    return " + ".join(parts), values


def count(conn: Connection, listing: Listing, selection: Selection) -> int:
    """How many rollups were created in [start, end]: the daily and hourly counts of the
    whole days and hours inside, and the page index for the rest (count_pieces)."""
    sql, params = _count_sql(dialect_of(conn), listing, selection)
    return int(run(conn, f"SELECT {sql}", params)[0][0])


def list_statement(
    dialect: Dialect, listing: Listing, selection: Selection, *, limit: int, offset: int
) -> tuple[str, tuple[Any, ...]]:
    """One statement, so one snapshot and one round trip, for a page of the list and the
    count of the whole range: rows of (count, id, create time, *credits per field), newest
    first (ties by id, then bot), from `offset` on, through the page index from its newest
    entry in the range; one row of the count and NULLs when the page is empty."""
    p = dialect.placeholder
    total, count_params = _count_sql(dialect, listing, selection)
    filters, params = _filters(listing, selection, p)
    created = _created(selection)
    id_field = listing.id_field
    columns = ", ".join((id_field, "created_at", *listing.categories))
    sql = (
        f"SELECT {total}, r.{id_field}, r.created_at, "
        + ", ".join(f"r.{c}" for c in listing.categories)
        + f" FROM (SELECT 1) AS one LEFT JOIN (SELECT {columns}, bot_id FROM {listing.table}"
        f" WHERE {filters} AND {created} >= {p} AND {created} <= {p}"
        f" ORDER BY {created} DESC, {id_field}, bot_id LIMIT {p} OFFSET {p}) AS r ON 1 = 1"
        f" ORDER BY r.created_at DESC, r.{id_field}, r.bot_id"
    )
    page_params = [*params, selection.start, selection.end, limit, offset]
    return sql, (*count_params, *page_params)


PageRow = tuple[Any, ...]  # (id, create time, *micro-credits per field)


def list_rows(rows: list[tuple[Any, ...]]) -> tuple[int, list[PageRow]]:
    """The count and the page's rows of list_statement's rows."""
    total = int(rows[0][0])
    if rows[0][1] is None:
        return total, []
    return total, [row[1:] for row in rows]


def events_of(
    conn: Connection, listing: Listing, *, account_id: str, bot_id: str, thread_id: str
) -> list[Event]:
    """The events of one conversation (run), in time order (then by id): read between its
    first and last event, so only that stretch of the account's events is scanned."""
    p = dialect_of(conn).placeholder
    id_field = listing.id_field
    bounds = run(
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
    rows = run(conn, sql, (account_id, first, last, bot_id, thread_id))
    return [Event._make(row) for row in rows]
