"""Writing events exactly once, and adding their rollups, in the caller's transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any, Final

from sqlalchemy import Connection

from ..categories import CATEGORIES
from ..events import Event
from ..rollups import Rollups, day_rollups
from .dialect import SQLITE_MAX_PARAMS, Dialect, dialect_of, run

EVENT_COLUMNS: Final = Event._fields
EVENT_TYPES: Final = ("text", "text", "text", "smallint", "bigint", "bigint", *["text"] * 3)
# SQLite: a batch without conversation_id, metadata or run_id (most batches) binds six
# values per event, not nine; the driver sends each None through an adapter look-up.
REQUIRED_WIDTH: Final = EVENT_COLUMNS.index("conversation_id")
NO_OPTIONAL: Final = (None,) * (len(EVENT_COLUMNS) - REQUIRED_WIDTH)
KEYS_PER_LOOK_UP: Final = 8192  # padded, two parameters each: within SQLITE_MAX_PARAMS
NO_KEY: Final = ("", "")  # matches no event
_ROLLUP_TYPES: Final = ("text", "text", "bigint", *["bigint"] * len(CATEGORIES))

assert 2 * KEYS_PER_LOOK_UP <= SQLITE_MAX_PARAMS


def insert_new(conn: Connection, events: Sequence[Event]) -> dict[tuple[str, str], Event]:
    """Inserts the events whose (account_id, event_id) is not stored yet (their keys must
    differ from each other); returns the stored events it did not insert, by key.

    The primary key decides, inside this transaction. Rows go in key order, so concurrent
    writers meet the same keys in the same order.
    """
    ordered = sorted(events)
    if not ordered:
        return {}
    dialect = dialect_of(conn)
    if not dialect.one_writer:
        return _insert_new_concurrent(conn, dialect, ordered)
    # One writer at a time, so a look-up made in this transaction cannot miss another
    # writer's insert. It is made only once a plain INSERT met a stored key: most batches
    # are all new. (RETURNING would step once per row, giving the GIL away each time.)
    run(conn, "SAVEPOINT insert_new")
    try:
        _insert(conn, dialect, ordered)
        return {}
    except sqlite3.IntegrityError as refused:
        if refused.sqlite_errorcode != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
            raise
        run(conn, "ROLLBACK TO insert_new")
    finally:
        run(conn, "RELEASE insert_new")
    found = stored(conn, [e.key for e in ordered])
    _insert(conn, dialect, [e for e in ordered if e.key not in found])
    return found


@cache
def _insert_skipping_sql(dialect: Dialect) -> str:
    """Inserts the sent events and answers those it skipped, joined to the stored ones.
    Its parts share one snapshot: an event that another transaction committed meanwhile
    is skipped but not joined (its stored columns are NULL). Only for a dialect whose row
    source does not depend on the count of rows."""
    columns = ", ".join(EVENT_COLUMNS)
    content = ", ".join(f"e.{c}" for c in EVENT_COLUMNS[2:])
    return (
        f"WITH sent ({columns}) AS ({dialect.source(EVENT_TYPES, 0)}),"
        f" inserted AS (INSERT INTO usage_events ({columns}) SELECT * FROM sent"
        " ON CONFLICT DO NOTHING RETURNING account_id, event_id)"
        f" SELECT s.account_id, s.event_id, e.account_id IS NOT NULL, {content}"
        " FROM sent s LEFT JOIN usage_events e"
        " ON e.account_id = s.account_id AND e.event_id = s.event_id"
        " WHERE NOT EXISTS (SELECT FROM inserted i"
        " WHERE i.account_id = s.account_id AND i.event_id = s.event_id)"
    )


def _insert_new_concurrent(
    conn: Connection, dialect: Dialect, ordered: Sequence[Event]
) -> dict[tuple[str, str], Event]:
    """insert_new in one statement where writers run at once (PostgreSQL); the events
    committed meanwhile by another transaction are read by a second one."""
    found: dict[tuple[str, str], Event] = {}
    unseen: list[tuple[str, str]] = []
    sql = _insert_skipping_sql(dialect)
    for account_id, event_id, seen, *rest in run(conn, sql, dialect.params(ordered)):
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


def _insert(conn: Connection, dialect: Dialect, ordered: Sequence[Event]) -> None:
    width = len(EVENT_COLUMNS)
    if not any(e[REQUIRED_WIDTH:] != NO_OPTIONAL for e in ordered):
        width = REQUIRED_WIDTH
    for chunk in dialect.chunks(ordered, width):
        rows = chunk if width == len(EVENT_COLUMNS) else [e[:width] for e in chunk]
        run(conn, _insert_sql(dialect, len(chunk), width), dialect.params(rows))


@cache
def _insert_sql(dialect: Dialect, count: int, width: int) -> str:
    """An INSERT of `count` events' first `width` columns (the others are NULL)."""
    source = dialect.source(EVENT_TYPES[:width], count)
    return f"INSERT INTO usage_events ({', '.join(EVENT_COLUMNS[:width])}) {source}"


def stored(conn: Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Event]:
    """The stored events with these keys."""
    dialect = dialect_of(conn)
    found: dict[tuple[str, str], Event] = {}
    # A key twice is found twice, no harm.
    for chunk in dialect.padded_chunks(list(keys), NO_KEY, KEYS_PER_LOOK_UP):
        rows = run(conn, _stored_sql(dialect, len(chunk)), dialect.params(chunk))
        found.update((e.key, e) for e in map(Event._make, dialect.unpacked(rows)))
    return found


@cache
def _stored_sql(dialect: Dialect, count: int) -> str:
    columns = dialect.packed(", ".join(f"e.{c}" for c in EVENT_COLUMNS))
    return (
        f"WITH k(account_id, event_id) AS ({dialect.source(('text', 'text'), count)})"
        f" SELECT {columns} FROM k JOIN usage_events e"
        " ON e.account_id = k.account_id AND e.event_id = k.event_id"
    )


def add_to_rollups(
    conn: Connection, buckets: Rollups, events: Iterable[Event], zones: Mapping[str, str]
) -> None:
    """Adds `buckets` (the bucket_rollups of `events`) and their day_rollups to the stored
    rollups."""
    days = day_rollups(buckets, events, zones)
    add_rollup_rows(conn, "usage_buckets", [(*k, *v) for k, v in buckets.items()])
    add_rollup_rows(conn, "usage_days", [(*k, *v) for k, v in days.items()])


_ROLLUP_KEYS: Final = {"usage_buckets": "bucket", "usage_days": "day"}


def add_rollup_rows(conn: Connection, table: str, rows: Sequence[Sequence[Any]]) -> None:
    """Adds `rows` (account_id, bot_id, bucket or day, then the eight categories) to
    `table`, creating rows as needed."""
    if not rows:
        return
    dialect = dialect_of(conn)
    for chunk in dialect.chunks(sorted(rows), len(_ROLLUP_TYPES)):
        run(conn, _upsert_sql(dialect, table, len(chunk)), dialect.params(chunk))


@cache
def _upsert_sql(dialect: Dialect, table: str, count: int) -> str:
    key = _ROLLUP_KEYS[table]
    additions = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in CATEGORIES)
    return (
        f"INSERT INTO {table} (account_id, bot_id, {key}, {', '.join(CATEGORIES)})"
        f" {dialect.source(_ROLLUP_TYPES, count)}"
        f" ON CONFLICT (account_id, bot_id, {key}) DO UPDATE SET {additions}"
    )
