"""Reading sums of credits: from the daily rollups, the 15-minute buckets and raw events."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache, partial
from typing import Any, Final

from sqlalchemy import Connection, func, select

from ..categories import BILL_COLUMN, CATEGORIES
from ..rollups import ALL_BOTS, Sums
from .dialect import Dialect, dialect_of, padded, run
from .tables import usage_buckets

Span = tuple[int, int, int]  # (index, lo, hi): the instants lo <= t < hi

_SPAN_TYPES: Final = ("int", "bigint", "bigint")
_NO_SPAN: Final = (-1, 0, 0)  # pads a statement's spans: holds no instant
_BUCKET_SUMS: Final = ", ".join(f"SUM(b.{c})" for c in CATEGORIES)


def _span_rows(
    conn: Connection,
    spans: Sequence[Span],
    sql_of: Callable[[Dialect, int], str],
    extra: tuple[Any, ...],
    *,
    chunked: bool = False,
) -> Iterator[tuple[Any, ...]]:
    """The rows of the statement `sql_of(dialect, count)` over `spans` (padded, so that
    reports reuse a few prepared statements), followed by the parameters `extra`; in several
    statements when `chunked` (spans of many days, beyond SQLite's parameter limit)."""
    dialect = dialect_of(conn)
    for chunk in dialect.chunks(spans, len(_SPAN_TYPES)) if chunked else [spans]:
        rows = next(iter(dialect.padded_chunks(chunk, _NO_SPAN, len(chunk))))
        yield from run(conn, sql_of(dialect, len(rows)), (*dialect.params(rows), *extra))


def _with_spans(dialect: Dialect, count: int) -> str:
    return f"WITH d(i, lo, hi) AS ({dialect.source(_SPAN_TYPES, count)})"


@cache
def _bucket_sums_sql(dialect: Dialect, count: int) -> str:
    p = dialect.placeholder
    return (
        f"{_with_spans(dialect, count)} SELECT d.i, {_BUCKET_SUMS} FROM d JOIN usage_buckets b"
        f" ON b.account_id = {p} AND b.bot_id = {p} AND b.bucket >= d.lo AND b.bucket < d.hi"
        " GROUP BY d.i"
    )


def bucket_sums(
    conn: Connection, account_id: str, bot_id: str | None, spans: Sequence[Span]
) -> dict[int, Sums]:
    """Sums of the rollup buckets inside each span (its ends are bucket edges)."""
    if not spans:
        return {}
    rows = _span_rows(conn, spans, _bucket_sums_sql, (account_id, bot_id or ALL_BOTS))
    return {row[0]: [int(v or 0) for v in row[1:]] for row in rows}


@cache
def _raw_sums_sql(dialect: Dialect, count: int, one_bot: bool = False) -> str:
    p = dialect.placeholder
    bot_filter = f" AND e.bot_id = {p}" if one_bot else ""
    return (
        f"{_with_spans(dialect, count)} SELECT d.i, e.category, SUM(e.credits) FROM d"
        f" JOIN usage_events e ON e.account_id = {p} AND e.ts >= d.lo AND e.ts < d.hi"
        f"{bot_filter} GROUP BY d.i, e.category"
    )


def raw_sums(
    conn: Connection, account_id: str, bot_id: str | None, spans: Sequence[Span]
) -> dict[int, Sums]:
    """Sums of the raw events inside each span: for the parts of a range that do not
    cover a whole bucket."""
    if not spans:
        return {}
    if bot_id is None:
        rows = _span_rows(conn, spans, _raw_sums_sql, (account_id,))
    else:
        rows = _span_rows(conn, spans, partial(_raw_sums_sql, one_bot=True), (account_id, bot_id))
    result: dict[int, Sums] = {}
    for i, category, total in rows:
        result.setdefault(i, [0] * len(CATEGORIES))[BILL_COLUMN[category]] += int(total)
    return result


@cache
def _day_sums_sql(dialect: Dialect) -> str:
    p = dialect.placeholder
    return (
        f"SELECT day, {', '.join(CATEGORIES)} FROM usage_days WHERE account_id = {p}"
        f" AND bot_id = {p} AND day >= {p} AND day <= {p}"
    )


def day_sums(
    conn: Connection, account_id: str, bot_id: str | None, first: int, last: int
) -> dict[int, Sums]:
    """The daily rollups of days `first..last` (date ordinals in the account's zone)."""
    sql = _day_sums_sql(dialect_of(conn))
    rows = run(conn, sql, (account_id, bot_id or ALL_BOTS, first, last))
    return {row[0]: list(row[1:]) for row in rows}


def rollup_range(conn: Connection, account_id: str) -> tuple[int, int] | None:
    """The first and last bucket start holding any of the account's credits."""
    b = usage_buckets.c
    first, last = conn.execute(
        select(func.min(b.bucket), func.max(b.bucket)).where(
            b.account_id == account_id, b.bot_id == ALL_BOTS
        )
    ).one()
    return None if first is None else (int(first), int(last))


def bots_with_usage(conn: Connection, account_id: str) -> list[str]:
    b = usage_buckets.c
    query = select(b.bot_id).distinct().where(b.account_id == account_id, b.bot_id != ALL_BOTS)
    return sorted(conn.execute(query).scalars())


@cache
def _bucket_sums_per_bot_sql(dialect: Dialect, count: int) -> str:
    p = dialect.placeholder
    return (
        f"WITH RECURSIVE d(i, lo, hi) AS ({dialect.source(_SPAN_TYPES, count)}),"
        f" bots(bot_id) AS (SELECT MIN(bot_id) FROM usage_buckets WHERE account_id = {p}"
        " UNION ALL SELECT (SELECT MIN(u.bot_id) FROM usage_buckets u"
        f" WHERE u.account_id = {p} AND u.bot_id > bots.bot_id)"
        " FROM bots WHERE bots.bot_id IS NOT NULL)"
        f" SELECT d.i, b.bot_id, {_BUCKET_SUMS} FROM d CROSS JOIN bots JOIN usage_buckets b"
        f" ON b.account_id = {p} AND b.bot_id = bots.bot_id"
        " AND b.bucket >= d.lo AND b.bucket < d.hi GROUP BY d.i, b.bot_id"
    )


def bucket_sums_per_bot(
    conn: Connection, account_id: str, spans: Sequence[Span]
) -> dict[tuple[int, str], Sums]:
    """Like bucket_sums, for every bot (and the account-wide rows) at once. The account's
    bots are found by a skip scan of the primary key (each next bot_id after the last), so
    every span is read bot by bot through the key: joined on the account alone, each span
    scanned all the account's rows (a zone change of 2M events held the write turn 12 s)."""
    extra = (account_id, account_id, account_id)
    rows = _span_rows(conn, spans, _bucket_sums_per_bot_sql, extra, chunked=True)
    return {(row[0], row[1]): [int(v) for v in row[2:]] for row in rows}


_KEY_TYPES: Final = ("text", "bigint")
_NO_BUCKET: Final = ("", -1)  # pads a statement's keys: matches no bucket
_KEYS_PER_STATEMENT: Final = 4096
_BUCKET_TOTAL: Final = " + ".join(f"b.{c}" for c in CATEGORIES)


@cache
def _bucket_totals_sql(dialect: Dialect, count: int) -> str:
    return (
        f"WITH k(account_id, bucket) AS ({dialect.source(_KEY_TYPES, count)})"
        f" SELECT b.account_id, b.bucket, {_BUCKET_TOTAL} FROM k JOIN usage_buckets b"
        f" ON b.account_id = k.account_id AND b.bot_id = {dialect.placeholder}"
        " AND b.bucket = k.bucket"
    )


def bucket_totals(conn: Connection, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """The stored account-wide credits (every category) of these (account_id, bucket)."""
    dialect = dialect_of(conn)
    result: dict[tuple[str, int], int] = {}
    for chunk in dialect.padded_chunks(sorted(set(keys)), _NO_BUCKET, _KEYS_PER_STATEMENT):
        sql = _bucket_totals_sql(dialect, len(chunk))
        for account_id, bucket, total in run(conn, sql, (*dialect.params(chunk), ALL_BOTS)):
            result[(account_id, int(bucket))] = int(total)
    return result


@cache
def _raw_sums_per_bot_sql(dialect: Dialect, count: int) -> str:
    return (
        f"{_with_spans(dialect, count)} SELECT d.i, e.bot_id, e.category, SUM(e.credits)"
        f" FROM d JOIN usage_events e ON e.account_id = {dialect.placeholder}"
        " AND e.ts >= d.lo AND e.ts < d.hi GROUP BY d.i, e.bot_id, e.category"
    )


def raw_sums_per_bot(
    conn: Connection, account_id: str, spans: Sequence[Span]
) -> dict[tuple[int, str], Sums]:
    """Like raw_sums, for every bot and account-wide (bot ALL_BOTS) at once."""
    result: dict[tuple[int, str], Sums] = {}
    rows = _span_rows(conn, spans, _raw_sums_per_bot_sql, (account_id,), chunked=True)
    for i, bot, category, total in rows:
        for key in ((i, bot), (i, ALL_BOTS)):
            result.setdefault(key, [0] * len(CATEGORIES))[BILL_COLUMN[category]] += int(total)
    return result


# One statement for a report's days, so that one snapshot and one round trip answer them
# (bills.py): its daily rollups (only while they follow the zone asked, which the statement
# reports in a row of its own), its aligned spans from buckets, its cut ends from events.
# Rows: (part, index, the eight bill columns); part 3 is the one row saying whether the daily
# rollups followed the zone (index 1) or not (0).
_DAYS_PART: Final = 0
_BUCKETS_PART: Final = 1
_EVENTS_PART: Final = 2
_ZONE_PART: Final = 3
_PIVOTED: Final = ", ".join(
    "SUM(CASE WHEN e.category IN ("
    + ", ".join(str(c) for c, column in enumerate(BILL_COLUMN) if column == i)
    + ") THEN e.credits ELSE 0 END)"
    for i in range(len(CATEGORIES))
)


_SCALAR_SPANS: Final = 4  # PostgreSQL: up to this many spans of each kind as plain parameters


def _scalar(dialect: Dialect, aligned: int, raw: int) -> bool:
    """Whether the spans go as plain parameters, one part per span. PostgreSQL plans a
    statement over arrays anew on every execution (its generic plan of an unnest join scans
    whole tables, so it keeps to custom plans), which cost more than the few index range
    scans of a report that must read a day or two; with plain parameters its generic plan is
    the index scans, made once per connection."""
    return not dialect.one_writer and aligned <= _SCALAR_SPANS and raw <= _SCALAR_SPANS


@cache
def _report_sql(dialect: Dialect, aligned: int, raw: int, one_bot: bool, rolled: bool) -> str:
    """Only the parts a report needs (each costs PostgreSQL planning and a scan); `aligned`
    and `raw` are the spans' counts, 0 for none."""
    p = dialect.placeholder
    ctes, parts = [], []
    bot_filter = f" AND e.bot_id = {p}" if one_bot else ""
    scalar = _scalar(dialect, aligned, raw)
    if rolled:
        ctes.append(
            f"z(ok) AS (SELECT 1 FROM accounts WHERE id = {p} AND timezone = {p}"
            " AND zone_version = days_version)"
        )
        parts.append(
            f"SELECT {_DAYS_PART}, day, {', '.join(CATEGORIES)} FROM usage_days"
            f" WHERE account_id = {p} AND bot_id = {p} AND day >= {p} AND day <= {p}"
            " AND EXISTS (SELECT 1 FROM z)"
        )
    if scalar:
        parts += [
            f"SELECT {_BUCKETS_PART}, {p}::int, {_BUCKET_SUMS} FROM usage_buckets b"
            f" WHERE b.account_id = {p} AND b.bot_id = {p} AND b.bucket >= {p}"
            f" AND b.bucket < {p}"
        ] * aligned
        parts += [
            f"SELECT {_EVENTS_PART}, {p}::int, {_PIVOTED} FROM usage_events e"
            f" WHERE e.account_id = {p} AND e.ts >= {p} AND e.ts < {p}{bot_filter}"
        ] * raw
    elif aligned:
        ctes.append(f"d(i, lo, hi) AS ({dialect.source(_SPAN_TYPES, aligned)})")
        parts.append(
            f"SELECT {_BUCKETS_PART}, d.i, {_BUCKET_SUMS} FROM d JOIN usage_buckets b"
            f" ON b.account_id = {p} AND b.bot_id = {p} AND b.bucket >= d.lo"
            " AND b.bucket < d.hi GROUP BY d.i"
        )
    if raw and not scalar:
        ctes.append(f"r(i, lo, hi) AS ({dialect.source(_SPAN_TYPES, raw)})")
        parts.append(
            f"SELECT {_EVENTS_PART}, r.i, {_PIVOTED} FROM r JOIN usage_events e"
            f" ON e.account_id = {p} AND e.ts >= r.lo AND e.ts < r.hi{bot_filter} GROUP BY r.i"
        )
    if rolled:
        zeros = ", ".join("0" for _ in CATEGORIES)
        parts.append(f"SELECT {_ZONE_PART}, (SELECT COUNT(*) FROM z), {zeros}")
    # Parameters bind in the order of the text: the CTEs first, then the parts.
    return (f"WITH {', '.join(ctes)} " if ctes else "") + " UNION ALL ".join(parts)


def report_statement(
    dialect: Dialect,
    account_id: str,
    bot_id: str | None,
    zone: str,
    days: tuple[int, int] | None,
    aligned: Sequence[Span],
    raw: Sequence[Span],
) -> tuple[str, tuple[Any, ...]] | None:
    """The statement (and its parameters) of report_parts: the daily rollups of days
    `days` (first, last: date ordinals in `zone`, the account's own) if they follow it, the
    buckets of the `aligned` spans and the events of the `raw` ones; None if it would ask
    for nothing."""
    if days is None and not aligned and not raw:
        return None
    bot = bot_id or ALL_BOTS
    cte_params: list[Any] = []
    part_params: list[Any] = []
    if days is not None:
        cte_params += [account_id, zone]
        part_params += [account_id, bot, *days]
    if _scalar(dialect, len(aligned), len(raw)):
        for i, lo, hi in aligned:
            part_params += [i, account_id, bot, lo, hi]
        for i, lo, hi in raw:
            part_params += [i, account_id, lo, hi, *((bot_id,) if bot_id is not None else ())]
        sql = _report_sql(dialect, len(aligned), len(raw), bot_id is not None, days is not None)
        return sql, (*cte_params, *part_params)
    d = padded(list(aligned), _NO_SPAN) if aligned else []
    r = padded(list(raw), _NO_SPAN) if raw else []
    if d:
        cte_params += dialect.params(d)
        part_params += [account_id, bot]
    if r:
        cte_params += dialect.params(r)
        part_params += [account_id, *((bot_id,) if bot_id is not None else ())]
    sql = _report_sql(dialect, len(d), len(r), bot_id is not None, days is not None)
    return sql, (*cte_params, *part_params)


def report_parts(
    rows: Iterable[Sequence[Any]],
) -> tuple[bool, dict[int, Sums], dict[int, Sums], dict[int, Sums]]:
    """Whether the daily rollups followed the zone asked, and the sums per day ordinal (from
    them), per aligned span index (buckets) and per raw span index (events)."""
    parts: tuple[dict[int, Sums], dict[int, Sums], dict[int, Sums]] = ({}, {}, {})
    current = False
    for row in rows:
        part, index = row[0], int(row[1])
        if part == _ZONE_PART:
            current = index > 0
        else:  # a day may have several spans of a kind (a repeated midnight's pieces)
            sums = [int(v or 0) for v in row[2:]]
            seen = parts[part].get(index)
            parts[part][index] = (
                sums if seen is None else [a + b for a, b in zip(seen, sums, strict=True)]
            )
    return current, *parts
