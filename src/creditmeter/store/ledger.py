"""SQL for the ledger: writing events exactly once with their rollups, and summing them.

The hot statements are written for the driver directly (one multi-row statement per table
and batch, `unnest` arrays on PostgreSQL): SQLAlchemy's per-row parameter handling cost
more than the database's own work.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import chain
from operator import add
from typing import Any, NamedTuple

from sqlalchemy import Connection

from ..categories import BILL_COLUMN, CATEGORIES
from ..days import bucket_day, day_number

BUCKET_MS = 15 * 60 * 1000
ALL_BOTS = ""  # the bot_id of account-wide rollup rows
SQLITE_MAX_PARAMS = 32_000

Sums = list[int]  # micro-credits per category, in CATEGORIES order
Span = tuple[int, int, int]  # (index, lo, hi): the instants lo <= t < hi


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
    run_id: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.account_id, self.event_id)

    @property
    def content(self) -> tuple[Any, ...]:
        return tuple(self[2:])


_EVENT_COLUMNS = ", ".join(Event._fields)
_EVENT_TYPES = ("text", "text", "text", "smallint", "bigint", "bigint", "text", "text", "text")
_CATEGORY_COLUMNS = ", ".join(CATEGORIES)


def _rows(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Runs `sql` on the transaction's own DBAPI cursor: plain tuples, no per-row wrapping."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []
    finally:
        cursor.close()


def _is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _rows_sql(conn: Connection, width: int, count: int, types: Sequence[str]) -> str:
    """`VALUES (?, ...), ...` for SQLite, or `SELECT * FROM unnest(%s::t[], ...)` for
    PostgreSQL (one array per column, so the statement text never depends on `count`)."""
    if _is_postgres(conn):
        return "SELECT * FROM unnest(" + ", ".join(f"%s::{t}[]" for t in types) + ")"
    row = "(" + ", ".join("?" * width) + ")"
    return "VALUES " + ", ".join([row] * count)


def _params(conn: Connection, rows: Sequence[Sequence[Any]]) -> tuple[Any, ...]:
    if _is_postgres(conn):
        return tuple(list(column) for column in zip(*rows, strict=True))
    return tuple(chain.from_iterable(rows))


def _chunks(conn: Connection, rows: Sequence[Any], width: int) -> Iterable[Sequence[Any]]:
    """Rows cut for multi-row statements. PostgreSQL takes them whole (unnest arrays); on
    SQLite, chunks of power-of-two sizes within its parameter limit, so that few distinct
    statements exist: each connection caches its prepared statements, and a prepared
    1000-row VALUES is large (one per batch size made the server grow past 400 MB)."""
    if not rows:
        return
    if _is_postgres(conn):
        yield rows
        return
    limit = max(1, SQLITE_MAX_PARAMS // width)
    start = 0
    while start < len(rows):
        size = min(limit, 1 << ((len(rows) - start).bit_length() - 1))
        yield rows[start : start + size]
        start += size


def insert_new(conn: Connection, events: Sequence[Event]) -> dict[tuple[str, str], Event]:
    """Inserts the events whose (account_id, event_id) is not stored yet (their keys must
    differ from each other); returns the stored events it did not insert, by key.

    The primary key decides, inside this transaction. Rows go in key order, so concurrent
    writers meet the same keys in the same order.
    """
    ordered = sorted(events)
    if not ordered:
        return {}
    if _is_postgres(conn):
        return _insert_new_postgres(conn, ordered)
    # SQLite writes one transaction at a time, so a look-up made in it cannot miss another
    # writer's insert. It is made only once a plain INSERT met a stored key: most batches
    # are all new. (RETURNING would step once per row, giving the GIL away each time.)
    _rows(conn, "SAVEPOINT insert_new")
    try:
        _insert(conn, ordered)
        return {}
    except sqlite3.IntegrityError as refused:
        if refused.sqlite_errorcode != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
            raise
        _rows(conn, "ROLLBACK TO insert_new")
    finally:
        _rows(conn, "RELEASE insert_new")
    found = stored(conn, [e.key for e in ordered])
    _insert(conn, [e for e in ordered if e.key not in found])
    return found


def _insert_new_postgres(
    conn: Connection, ordered: Sequence[Event]
) -> dict[tuple[str, str], Event]:
    """insert_new in one statement, which also returns the stored events it skipped. Its
    parts share one snapshot, so the events it joins are those stored before it, not its
    own. An event that another transaction committed meanwhile is skipped but not seen
    there; a second statement reads those. (Before, RETURNING sent back the key of every
    inserted event, and a second statement read every skipped one.)"""
    source = _rows_sql(conn, len(Event._fields), len(ordered), _EVENT_TYPES)
    content = ", ".join(f"e.{c}" for c in Event._fields[2:])
    sql = (
        f"WITH sent ({_EVENT_COLUMNS}) AS ({source}),"
        f" inserted AS (INSERT INTO usage_events ({_EVENT_COLUMNS}) SELECT * FROM sent"
        " ON CONFLICT DO NOTHING RETURNING account_id, event_id)"
        f" SELECT s.account_id, s.event_id, e.account_id IS NOT NULL, {content}"
        " FROM sent s LEFT JOIN usage_events e"
        " ON e.account_id = s.account_id AND e.event_id = s.event_id"
        " WHERE NOT EXISTS (SELECT FROM inserted i"
        " WHERE i.account_id = s.account_id AND i.event_id = s.event_id)"
    )
    found: dict[tuple[str, str], Event] = {}
    unseen: list[tuple[str, str]] = []
    for account_id, event_id, seen, *rest in _rows(conn, sql, _params(conn, ordered)):
        if seen:
            found[(account_id, event_id)] = Event(account_id, event_id, *rest)
        else:
            unseen.append((account_id, event_id))
    if not unseen:
        return found
    committed_meanwhile = stored(conn, unseen)
    if len(committed_meanwhile) < len(unseen):  # events are never deleted
        raise RuntimeError(f"events skipped as stored are not: {unseen}")
    return found | committed_meanwhile


def _insert(conn: Connection, ordered: Sequence[Event]) -> None:
    # SQLite: when no event has a conversation_id or metadata (as in most batches), six values
    # per event, not eight. The driver binds str and int directly, but sends each None
    # through its adapter look-up, which took a third of the binding time.
    width = len(Event._fields)
    if not any(e[_REQUIRED_WIDTH:] != _NO_OPTIONAL for e in ordered):
        width = _REQUIRED_WIDTH
    for chunk in _chunks(conn, ordered, width):
        rows = chunk if width == len(Event._fields) else [e[:width] for e in chunk]
        _rows(conn, _insert_sql(conn, len(chunk), width), _params(conn, rows))


_REQUIRED_WIDTH = Event._fields.index("conversation_id")  # the columns before the optional
_NO_OPTIONAL = (None,) * (len(Event._fields) - _REQUIRED_WIDTH)


def _insert_sql(conn: Connection, count: int, width: int) -> str:
    """An INSERT of `count` events' first `width` columns (the others are NULL)."""
    source = _rows_sql(conn, width, count, _EVENT_TYPES[:width])
    columns = ", ".join(Event._fields[:width])
    return f"INSERT INTO usage_events ({columns}) {source}"


def stored(conn: Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Event]:
    """The stored events with these keys."""
    found: dict[tuple[str, str], Event] = {}
    columns = ", ".join(f"e.{c}" for c in _EVENT_COLUMNS.split(", "))
    if not _is_postgres(conn):  # as one row of JSON: one step, not one per event
        columns = f"json_group_array(json_array({columns}))"
    for chunk in _key_chunks(conn, list(keys)):  # a key twice is found twice, no harm
        sql = (
            f"WITH k(account_id, event_id) AS ({_rows_sql(conn, 2, len(chunk), ('text', 'text'))})"
            f" SELECT {columns} FROM k JOIN usage_events e"
            " ON e.account_id = k.account_id AND e.event_id = k.event_id"
        )
        rows = _rows(conn, sql, _params(conn, chunk))
        if not _is_postgres(conn):
            rows = json.loads(rows[0][0])
        found.update((e.key, e) for e in map(Event._make, rows))
    return found


def _key_chunks(
    conn: Connection, keys: list[tuple[str, str]]
) -> Iterable[Sequence[tuple[str, str]]]:
    """Keys to look up: whole on PostgreSQL; on SQLite up to 8192 at a time, padded to a
    power of two with a key no event has, so that a batch's look-up is one statement of a
    few prepared ones (power-of-two chunks of 1000 keys took six)."""
    if _is_postgres(conn):
        if keys:
            yield keys
        return
    for start in range(0, len(keys), _KEYS_PER_LOOK_UP):
        yield _padded(keys[start : start + _KEYS_PER_LOOK_UP], ("", ""))


_KEYS_PER_LOOK_UP = 8192  # padded, two parameters each: within SQLITE_MAX_PARAMS


def _padded(rows: Sequence[Any], filler: Any) -> list[Any]:
    """`rows`, then as many `filler` as make their count a power of two."""
    return [*rows, *[filler] * ((1 << (len(rows) - 1).bit_length()) - len(rows))]


def _upsert(conn: Connection, table: str, key: str, rows: Sequence[Sequence[Any]]) -> None:
    """Adds `rows` (key columns, then the eight categories) to `table`, creating rows as needed."""
    if not rows:
        return
    additions = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in CATEGORIES)
    width = len(rows[0])
    types = ("text", "text", "bigint", *["bigint"] * len(CATEGORIES))
    for chunk in _chunks(conn, sorted(rows), width):
        source = _rows_sql(conn, width, len(chunk), types)
        sql = (
            f"INSERT INTO {table} (account_id, bot_id, {key}, {_CATEGORY_COLUMNS}) {source}"
            f" ON CONFLICT (account_id, bot_id, {key}) DO UPDATE SET {additions}"
        )
        _rows(conn, sql, _params(conn, chunk))


Rollups = dict[tuple[str, str, int], Sums]  # (account_id, bot_id, bucket or day) -> sums


def bucket_rollups(events: Iterable[Event]) -> Rollups:
    """The events' credits per 15-minute bucket, per bot and account-wide."""
    width = len(CATEGORIES)
    buckets: Rollups = {}
    for account_id, _, bot_id, category, credits, ts, *_ in events:
        bucket = ts - ts % BUCKET_MS
        column = BILL_COLUMN[category]
        for key in ((account_id, bot_id, bucket), (account_id, ALL_BOTS, bucket)):
            row = buckets.get(key)
            if row is None:
                row = buckets[key] = [0] * width
            row[column] += credits
    return buckets


def merge_rollups(into: Rollups, more: Rollups) -> None:
    """Adds `more` to `into`."""
    for key, sums in more.items():
        _add(into, key, sums)


def _add(rollups: Rollups, key: tuple[str, str, int], sums: Sums) -> None:
    row = rollups.get(key)
    rollups[key] = list(sums) if row is None else list(map(add, row, sums))


def day_rollups(buckets: Rollups, events: Iterable[Event], zones: Mapping[str, str]) -> Rollups:
    """The credits of `buckets` (the bucket_rollups of `events`) per local day in their
    account's zone. A bucket lies within one day, unless a clock change inside it makes
    its instants' dates differ: the events of such a bucket are each put in their own."""
    width = len(CATEGORIES)
    days: Rollups = {}
    split: set[tuple[str, int]] = set()
    for (account_id, bot_id, bucket), sums in buckets.items():
        day = bucket_day(bucket, zones[account_id])
        if day < 0:
            split.add((account_id, bucket))
            continue
        _add(days, (account_id, bot_id, day), sums)
    for event in events if split else ():
        if (event.account_id, event.ts - event.ts % BUCKET_MS) in split:
            day = day_number(event.ts, zones[event.account_id])
            for key in ((event.account_id, event.bot_id, day), (event.account_id, ALL_BOTS, day)):
                days.setdefault(key, [0] * width)[BILL_COLUMN[event.category]] += event.credits
    return days


def add_to_rollups(
    conn: Connection, buckets: Rollups, events: Iterable[Event], zones: Mapping[str, str]
) -> None:
    """Adds `buckets` (the bucket_rollups of `events`) and their day_rollups to the stored
    rollups."""
    days = day_rollups(buckets, events, zones)
    _upsert(conn, "usage_buckets", "bucket", [(*k, *v) for k, v in buckets.items()])
    _upsert(conn, "usage_days", "day", [(*k, *v) for k, v in days.items()])


def _spans_cte(conn: Connection, spans: Sequence[Span]) -> tuple[str, tuple[Any, ...]]:
    if _is_postgres(conn):
        cte = "WITH d(i, lo, hi) AS (SELECT * FROM unnest(%s::int[], %s::bigint[], %s::bigint[]))"
        return cte, _params(conn, spans)
    # Padded to a power of two with empty spans, so reports reuse a few prepared statements.
    padded = _padded(spans, (-1, 0, 0))
    return f"WITH d(i, lo, hi) AS ({_rows_sql(conn, 3, len(padded), ())})", _params(conn, padded)


def _placeholder(conn: Connection) -> str:
    return "%s" if _is_postgres(conn) else "?"


def bucket_sums(
    conn: Connection, account_id: str, bot_id: str | None, spans: Sequence[Span]
) -> dict[int, Sums]:
    """Sums of the rollup buckets inside each span (its ends are bucket edges)."""
    if not spans:
        return {}
    cte, params = _spans_cte(conn, spans)
    p = _placeholder(conn)
    sums = ", ".join(f"SUM(b.{c})" for c in CATEGORIES)
    sql = (
        f"{cte} SELECT d.i, {sums} FROM d JOIN usage_buckets b ON b.account_id = {p}"
        f" AND b.bot_id = {p} AND b.bucket >= d.lo AND b.bucket < d.hi GROUP BY d.i"
    )
    rows = _rows(conn, sql, (*params, account_id, bot_id or ALL_BOTS))
    return {row[0]: [int(v or 0) for v in row[1:]] for row in rows}


def raw_sums(
    conn: Connection, account_id: str, bot_id: str | None, spans: Sequence[Span]
) -> dict[int, Sums]:
    """Sums of the raw events inside each span: for the parts of a range that do not
    cover a whole bucket."""
    if not spans:
        return {}
    cte, params = _spans_cte(conn, spans)
    p = _placeholder(conn)
    bot_filter = "" if bot_id is None else f" AND e.bot_id = {p}"
    sql = (
        f"{cte} SELECT d.i, e.category, SUM(e.credits) FROM d JOIN usage_events e"
        f" ON e.account_id = {p} AND e.ts >= d.lo AND e.ts < d.hi{bot_filter}"
        " GROUP BY d.i, e.category"
    )
    extra = (account_id,) if bot_id is None else (account_id, bot_id)
    result: dict[int, Sums] = {}
    for i, category, total in _rows(conn, sql, (*params, *extra)):
        result.setdefault(i, [0] * len(CATEGORIES))[BILL_COLUMN[category]] += int(total)
    return result


def day_sums(
    conn: Connection, account_id: str, bot_id: str | None, first: int, last: int
) -> dict[int, Sums]:
    """The daily rollups of days `first..last` (date ordinals in the account's zone)."""
    p = _placeholder(conn)
    sql = (
        f"SELECT day, {_CATEGORY_COLUMNS} FROM usage_days WHERE account_id = {p}"
        f" AND bot_id = {p} AND day >= {p} AND day <= {p}"
    )
    rows = _rows(conn, sql, (account_id, bot_id or ALL_BOTS, first, last))
    return {row[0]: list(row[1:]) for row in rows}


def rollup_range(conn: Connection, account_id: str) -> tuple[int, int] | None:
    """The first and last bucket start holding any of the account's credits."""
    p = _placeholder(conn)
    sql = (
        "SELECT MIN(bucket), MAX(bucket) FROM usage_buckets"
        f" WHERE account_id = {p} AND bot_id = {p}"
    )
    first, last = _rows(conn, sql, (account_id, ALL_BOTS))[0]
    return None if first is None else (int(first), int(last))


def bots_with_usage(conn: Connection, account_id: str) -> list[str]:
    p = _placeholder(conn)
    sql = f"SELECT DISTINCT bot_id FROM usage_buckets WHERE account_id = {p} AND bot_id <> {p}"
    return sorted(row[0] for row in _rows(conn, sql, (account_id, ALL_BOTS)))


def replace_days(conn: Connection, account_id: str, rows: Sequence[Sequence[Any]]) -> None:
    """Replaces the account's daily rollups by `rows` ((account_id, bot_id, day, *sums))."""
    p = _placeholder(conn)
    _rows(conn, f"DELETE FROM usage_days WHERE account_id = {p}", (account_id,))
    _upsert(conn, "usage_days", "day", rows)


def rollup_mismatches(
    conn: Connection, account_id: str, day_of: Callable[[int], int] | None = None
) -> int:
    """How many rollup rows (buckets, and days by `day_of`, by default the local date
    ordinal in the account's zone) differ from the raw events: 0 when consistent."""
    p = _placeholder(conn)
    if day_of is None:
        sql = f"SELECT timezone FROM accounts WHERE id = {p}"
        tz_name = _rows(conn, sql, (account_id,))[0][0]

        def day_of(ts: int) -> int:
            return day_number(ts, tz_name)

    zero = [0] * len(CATEGORIES)
    mismatches = 0
    for table, key, of in (
        ("usage_buckets", "bucket", lambda ts: ts - ts % BUCKET_MS),
        ("usage_days", "day", day_of),
    ):
        rebuilt: dict[tuple[str, int], Sums] = {}
        events = _rows(
            conn,
            f"SELECT bot_id, ts, category, credits FROM usage_events WHERE account_id = {p}",
            (account_id,),
        )
        for bot, ts, category, credits in events:
            for k in ((bot, of(ts)), (ALL_BOTS, of(ts))):
                rebuilt.setdefault(k, list(zero))[BILL_COLUMN[category]] += credits
        rows = _rows(
            conn,
            f"SELECT bot_id, {key}, {_CATEGORY_COLUMNS} FROM {table} WHERE account_id = {p}",
            (account_id,),
        )
        stored_rows = {(row[0], row[1]): list(row[2:]) for row in rows}
        mismatches += sum(
            1
            for k in set(rebuilt) | set(stored_rows)
            if rebuilt.get(k, zero) != stored_rows.get(k, zero)
        )
    return mismatches


def bucket_sums_per_bot(
    conn: Connection, account_id: str, spans: Sequence[Span]
) -> dict[tuple[int, str], Sums]:
    """Like bucket_sums, for every bot (and the account-wide rows) at once."""
    result: dict[tuple[int, str], Sums] = {}
    sums = ", ".join(f"SUM(b.{c})" for c in CATEGORIES)
    for chunk in _chunks(conn, spans, 3):
        cte, params = _spans_cte(conn, chunk)
        sql = (
            f"{cte} SELECT d.i, b.bot_id, {sums} FROM d JOIN usage_buckets b"
            f" ON b.account_id = {_placeholder(conn)} AND b.bucket >= d.lo AND b.bucket < d.hi"
            " GROUP BY d.i, b.bot_id"
        )
        for row in _rows(conn, sql, (*params, account_id)):
            result[(row[0], row[1])] = [int(v) for v in row[2:]]
    return result


def raw_sums_per_bot(
    conn: Connection, account_id: str, spans: Sequence[Span]
) -> dict[tuple[int, str], Sums]:
    """Like raw_sums, for every bot and account-wide (bot ALL_BOTS) at once."""
    result: dict[tuple[int, str], Sums] = {}
    for chunk in _chunks(conn, spans, 3):
        cte, params = _spans_cte(conn, chunk)
        sql = (
            f"{cte} SELECT d.i, e.bot_id, e.category, SUM(e.credits) FROM d JOIN usage_events e"
            f" ON e.account_id = {_placeholder(conn)} AND e.ts >= d.lo AND e.ts < d.hi"
            " GROUP BY d.i, e.bot_id, e.category"
        )
        for i, bot, category, total in _rows(conn, sql, (*params, account_id)):
            for key in ((i, bot), (i, ALL_BOTS)):
                result.setdefault(key, [0] * len(CATEGORIES))[BILL_COLUMN[category]] += int(total)
    return result
