"""SQL for credit balances: the per-account state row (the lock), grants, the journal and
its allocations, holds. Services in creditmeter.credits decide; this only reads and writes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from sqlalchemy import Connection, func, insert, select, update

from .dialect import Dialect, dialect_of, run
from .tables import credit_allocations, credit_entries, credit_grants, credit_holds


@dataclass(slots=True)
class State:
    """An account's journal head: its last seq and entry time, its overage and balance
    alert (none, low, depleted); and the account's low-balance threshold (not kept here:
    read with the head, from accounts)."""

    seq: int
    time: int
    overage: int
    alert: str = "none"
    threshold: int | None = None


@dataclass(frozen=True, slots=True)
class GrantRow:
    account_id: str
    grant_id: str
    kind: str
    credits: int
    remaining: int
    priority: int
    expires_at: int | None
    note: str | None
    created_seq: int
    created_at: int
    ended: str | None
    ended_at: int | None


@dataclass(frozen=True, slots=True)
class EntryRow:
    account_id: str
    seq: int
    time: int
    type: str
    credits: int
    balance_after: int
    overage_after: int
    grant_id: str | None
    events_count: int | None
    first_id: str | None
    last_id: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class HoldRow:
    hold_id: str
    account_id: str
    credits: int
    expires_in_s: int
    status: str
    created_at: int
    expires_at: int
    ended_at: int | None


@cache
def _in_dialect(statement: str, placeholder: str) -> str:
    return statement.replace("?", placeholder)


def _sql(conn: Connection, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Runs a hot statement (written with `?`) on the driver directly, in the connection's
    dialect: SQLAlchemy's per-statement work cost more than the database's, several times
    per account and batch."""
    return run(conn, _in_dialect(statement, dialect_of(conn).placeholder), params)


# The account's threshold, read in the statement that reads (and locks) its journal head.
_THRESHOLD = (
    "(SELECT low_balance_threshold FROM accounts WHERE accounts.id = credit_state.account_id)"
)
_GRANT_COLUMNS = ", ".join(c.name for c in credit_grants.columns)


def lock_state(conn: Connection, account_id: str) -> State:
    """The account's journal head, created if new; on PostgreSQL its row is locked until
    the transaction ends, so writers of one account's credits go one at a time, and
    writers of other accounts never wait (SQLite has one writer at a time anyway). One
    statement: an upsert that changes nothing, and returns (and locks) the row."""
    rows = _sql(
        conn,
        "INSERT INTO credit_state (account_id, seq, time, overage) VALUES (?, 0, 0, 0)"
        " ON CONFLICT (account_id) DO UPDATE SET seq = credit_state.seq"
        f" RETURNING seq, time, overage, alert, {_THRESHOLD}",
        (account_id,),
    )
    return State(*rows[0])


_LOCK_STATES_SQLITE = (
    "INSERT INTO credit_state (account_id, seq, time, overage)"
    " SELECT value, 0, 0, 0 FROM json_each(?) WHERE true"
    " ON CONFLICT (account_id) DO UPDATE SET seq = credit_state.seq"
    f" RETURNING account_id, seq, time, overage, alert, {_THRESHOLD}"
)
_LOCK_STATES_POSTGRES = (
    "INSERT INTO credit_state (account_id, seq, time, overage)"
    " SELECT a, 0, 0, 0 FROM unnest(%s::text[]) AS a ORDER BY a"
    " ON CONFLICT (account_id) DO UPDATE SET seq = credit_state.seq"
    f" RETURNING account_id, seq, time, overage, alert, {_THRESHOLD}"
)


def lock_states(conn: Connection, account_ids: Sequence[str]) -> dict[str, State]:
    """lock_state of several accounts in one statement, their rows locked in id order (as
    concurrent writers lock them)."""
    wanted = sorted(set(account_ids))
    if not wanted:
        return {}
    if dialect_of(conn).one_writer:
        rows = run(conn, _LOCK_STATES_SQLITE, (json.dumps(wanted),))
    else:
        rows = run(conn, _LOCK_STATES_POSTGRES, (wanted,))
    return {row[0]: State(*row[1:]) for row in rows}


def read_state(conn: Connection, account_id: str) -> State:
    rows = _sql(
        conn,
        f"SELECT seq, time, overage, alert, {_THRESHOLD} FROM credit_state WHERE account_id = ?",
        (account_id,),
    )
    if rows:
        return State(*rows[0])
    return State(0, 0, 0, threshold=account_threshold(conn, account_id))


def account_threshold(conn: Connection, account_id: str) -> int | None:
    rows = _sql(conn, "SELECT low_balance_threshold FROM accounts WHERE id = ?", (account_id,))
    return rows[0][0] if rows else None


def save_state(conn: Connection, account_id: str, state: State) -> None:
    _sql(
        conn,
        "UPDATE credit_state SET seq = ?, time = ?, overage = ?, alert = ? WHERE account_id = ?",
        (state.seq, state.time, state.overage, state.alert, account_id),
    )


def live_grants(conn: Connection, account_id: str) -> list[GrantRow]:
    """The grants of the account whose expiry or void is not written yet."""
    rows = _sql(
        conn,
        f"SELECT {_GRANT_COLUMNS} FROM credit_grants WHERE account_id = ? AND ended IS NULL",
        (account_id,),
    )
    return [GrantRow(*row) for row in rows]


def live_grants_of(conn: Connection, account_ids: Sequence[str]) -> dict[str, list[GrantRow]]:
    """live_grants of several accounts in one statement (an account without any: absent)."""
    wanted = sorted(set(account_ids))
    if not wanted:
        return {}
    params: str | list[str] = wanted
    if dialect_of(conn).one_writer:
        where, params = "account_id IN (SELECT value FROM json_each(?))", json.dumps(wanted)
    else:
        where = "account_id = ANY(%s)"
    found: dict[str, list[GrantRow]] = {}
    sql = f"SELECT {_GRANT_COLUMNS} FROM credit_grants WHERE {where} AND ended IS NULL"
    for row in run(conn, sql, (params,)):
        found.setdefault(row[0], []).append(GrantRow(*row))
    return found


def grants(conn: Connection, account_id: str) -> list[GrantRow]:
    rows = _sql(
        conn,
        f"SELECT {_GRANT_COLUMNS} FROM credit_grants WHERE account_id = ? ORDER BY created_seq",
        (account_id,),
    )
    return [GrantRow(*row) for row in rows]


def grant(conn: Connection, account_id: str, grant_id: str) -> GrantRow | None:
    query = select(credit_grants).where(
        credit_grants.c.account_id == account_id, credit_grants.c.grant_id == grant_id
    )
    row = conn.execute(query).one_or_none()
    return None if row is None else GrantRow(*row)


def insert_grant(conn: Connection, row: GrantRow) -> None:
    conn.execute(insert(credit_grants).values(**_fields(row)))


def set_remaining(conn: Connection, account_id: str, remaining: Iterable[tuple[str, int]]) -> None:
    for grant_id, left in remaining:
        _sql(
            conn,
            "UPDATE credit_grants SET remaining = ? WHERE account_id = ? AND grant_id = ?",
            (left, account_id, grant_id),
        )


_REMAINING_TYPES: Final = ("text", "text", "bigint")


def set_remaining_of(conn: Connection, remaining: Sequence[tuple[str, str, int]]) -> None:
    """set_remaining for (account_id, grant_id, remaining) of several accounts, in as few
    statements as the database takes (each grant at most once)."""
    dialect = dialect_of(conn)
    for chunk in dialect.chunks(sorted(remaining), len(_REMAINING_TYPES)):
        run(conn, _set_remaining_sql(dialect, len(chunk)), dialect.params(chunk))


@cache
def _set_remaining_sql(dialect: Dialect, count: int) -> str:
    return (
        f"WITH v(a, g, r) AS ({dialect.source(_REMAINING_TYPES, count)})"
        " UPDATE credit_grants SET remaining = v.r FROM v"
        " WHERE credit_grants.account_id = v.a AND credit_grants.grant_id = v.g"
    )


_STATE_TYPES: Final = ("text", "bigint", "bigint", "bigint", "text")


def save_states(conn: Connection, states: Mapping[str, State]) -> None:
    """save_state of several accounts, in as few statements as the database takes."""
    dialect = dialect_of(conn)
    rows = [(a, s.seq, s.time, s.overage, s.alert) for a, s in sorted(states.items())]
    for chunk in dialect.chunks(rows, len(_STATE_TYPES)):
        run(conn, _save_states_sql(dialect, len(chunk)), dialect.params(chunk))


@cache
def _save_states_sql(dialect: Dialect, count: int) -> str:
    return (
        f"WITH v(a, seq, time, overage, alert) AS ({dialect.source(_STATE_TYPES, count)})"
        " UPDATE credit_state SET seq = v.seq, time = v.time, overage = v.overage,"
        " alert = v.alert FROM v WHERE credit_state.account_id = v.a"
    )


def end_grant(conn: Connection, account_id: str, grant_id: str, ended: str, at: int) -> None:
    conn.execute(
        update(credit_grants)
        .where(credit_grants.c.account_id == account_id, credit_grants.c.grant_id == grant_id)
        .values(remaining=0, ended=ended, ended_at=at)
    )


def append(conn: Connection, entry: EntryRow, allocations: Sequence[tuple[str, int]]) -> None:
    """Appends one journal entry and its allocations (the primary key keeps seq unique)."""
    fields = _fields(entry)
    marks = ", ".join("?" * len(fields))
    _sql(
        conn,
        f"INSERT INTO credit_entries ({', '.join(fields)}) VALUES ({marks})",
        tuple(fields.values()),
    )
    if allocations:
        rows = ", ".join(["(?, ?, ?, ?)"] * len(allocations))
        params = [v for g, c in allocations for v in (entry.account_id, entry.seq, g, c)]
        _sql(
            conn,
            f"INSERT INTO credit_allocations (account_id, seq, grant_id, credits) VALUES {rows}",
            params,
        )


_ENTRY_COLUMNS: Final = EntryRow.__slots__
_ENTRY_TYPES: Final = (
    "text",
    "bigint",
    "bigint",
    "text",
    "bigint",
    "bigint",
    "bigint",
    "text",
    "int",
    "text",
    "text",
    "text",
)
_ALLOCATION_TYPES: Final = ("text", "bigint", "text", "bigint")


def append_all(
    conn: Connection, entries: Sequence[EntryRow], allocations: Sequence[tuple[str, int, str, int]]
) -> None:
    """append() of many entries, of any accounts, and their allocations ((account_id, seq,
    grant_id, credits)): one statement per table, as the database takes them."""
    dialect = dialect_of(conn)
    rows = [tuple(getattr(e, c) for c in _ENTRY_COLUMNS) for e in entries]
    for chunk in dialect.chunks(rows, len(_ENTRY_TYPES)):
        run(conn, _append_sql(dialect, "entries", len(chunk)), dialect.params(chunk))
    for part in dialect.chunks(allocations, len(_ALLOCATION_TYPES)):
        run(conn, _append_sql(dialect, "allocations", len(part)), dialect.params(part))


@cache
def _append_sql(dialect: Dialect, table: str, count: int) -> str:
    columns: Sequence[str] = _ENTRY_COLUMNS
    types: Sequence[str] = _ENTRY_TYPES
    if table == "allocations":
        columns, types = ("account_id", "seq", "grant_id", "credits"), _ALLOCATION_TYPES
    return f"INSERT INTO credit_{table} ({', '.join(columns)}) {dialect.source(types, count)}"


def entries(conn: Connection, account_id: str, after_seq: int, limit: int) -> list[EntryRow]:
    query = (
        select(credit_entries)
        .where(credit_entries.c.account_id == account_id, credit_entries.c.seq > after_seq)
        .order_by(credit_entries.c.seq)
        .limit(limit)
    )
    return [EntryRow(*row) for row in conn.execute(query)]


def allocations(
    conn: Connection, account_id: str, first_seq: int, last_seq: int
) -> dict[int, list[tuple[str, int]]]:
    """The allocations of the entries first_seq..last_seq, by seq, in grant id order."""
    query = (
        select(
            credit_allocations.c.seq, credit_allocations.c.grant_id, credit_allocations.c.credits
        )
        .where(
            credit_allocations.c.account_id == account_id,
            credit_allocations.c.seq.between(first_seq, last_seq),
        )
        .order_by(credit_allocations.c.seq, credit_allocations.c.grant_id)
    )
    found: dict[int, list[tuple[str, int]]] = {}
    for seq, grant_id, credits in conn.execute(query):
        found.setdefault(seq, []).append((grant_id, credits))
    return found


def last_entry_at(conn: Connection, account_id: str, at: int) -> EntryRow | None:
    """The last entry whose time is at or before `at` (times never decrease along seq)."""
    query = (
        select(credit_entries)
        .where(credit_entries.c.account_id == account_id, credit_entries.c.time <= at)
        .order_by(credit_entries.c.seq.desc())
        .limit(1)
    )
    row = conn.execute(query).one_or_none()
    return None if row is None else EntryRow(*row)


def remaining_through(conn: Connection, account_id: str, seq: int) -> dict[str, int]:
    """What remained of each grant after entry `seq`: the sum of its allocations so far."""
    query = (
        select(credit_allocations.c.grant_id, func.sum(credit_allocations.c.credits))
        .where(credit_allocations.c.account_id == account_id, credit_allocations.c.seq <= seq)
        .group_by(credit_allocations.c.grant_id)
    )
    return {grant_id: int(total) for grant_id, total in conn.execute(query)}


def accounts_with_due_expiries(conn: Connection, at: int) -> list[str]:
    query = (
        select(credit_grants.c.account_id)
        .where(credit_grants.c.ended.is_(None), credit_grants.c.expires_at <= at)
        .distinct()
        .order_by(credit_grants.c.account_id)
    )
    return list(conn.execute(query).scalars())


_HOLD_COLUMNS = ", ".join(c.name for c in credit_holds.columns)


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def insert_holds(conn: Connection, rows: Sequence[HoldRow]) -> set[str]:
    """Inserts the holds in one statement; the ids inserted (an id already taken, by a
    transaction that committed first, is left out: the primary key decides)."""
    if not rows:
        return set()
    width = len(credit_holds.columns)
    values = ", ".join([f"({_marks(width)})"] * len(rows))
    inserted = _sql(
        conn,
        f"INSERT INTO credit_holds ({_HOLD_COLUMNS}) VALUES {values}"
        " ON CONFLICT (hold_id) DO NOTHING RETURNING hold_id",
        [v for row in rows for v in (getattr(row, name) for name in row.__slots__)],
    )
    return {hold_id for (hold_id,) in inserted}


def hold(conn: Connection, hold_id: str) -> HoldRow | None:
    found = holds(conn, [hold_id])
    return found[0] if found else None


def holds(conn: Connection, hold_ids: Iterable[str]) -> list[HoldRow]:
    wanted = sorted(set(hold_ids))
    if not wanted:
        return []
    rows = _sql(
        conn,
        f"SELECT {_HOLD_COLUMNS} FROM credit_holds WHERE hold_id IN ({_marks(len(wanted))})",
        wanted,
    )
    return [HoldRow(*row) for row in rows]


def holds_and_accounts(
    conn: Connection, hold_ids: Iterable[str], account_ids: Iterable[str]
) -> tuple[list[HoldRow], set[str]]:
    """The holds of these ids, and which of these accounts exist: one statement (a group of
    hold requests reads both before it locks anything)."""
    holds_wanted, accounts_wanted = sorted(set(hold_ids)), sorted(set(account_ids))
    if not accounts_wanted:
        return holds(conn, holds_wanted), set()
    nulls = ", ".join(["NULL"] * (len(credit_holds.columns) - 2))
    rows = _sql(
        conn,
        f"SELECT {_HOLD_COLUMNS} FROM credit_holds WHERE hold_id IN ({_marks(len(holds_wanted))})"
        f" UNION ALL SELECT NULL, id, {nulls} FROM accounts"
        f" WHERE id IN ({_marks(len(accounts_wanted))})",
        [*holds_wanted, *accounts_wanted],
    )
    found = [HoldRow(*row) for row in rows if row[0] is not None]
    return found, {row[1] for row in rows if row[0] is None}


def held(conn: Connection, account_id: str, at: int) -> int:
    """Credits held by the account's active holds unexpired at `at`."""
    rows = _sql(
        conn,
        "SELECT COALESCE(SUM(credits), 0) FROM credit_holds"
        " WHERE account_id = ? AND status = 'active' AND expires_at > ?",
        (account_id, at),
    )
    return int(rows[0][0])


def next_hold_expiry(conn: Connection, account_id: str, at: int) -> int | None:
    """When the first of the account's active holds unexpired at `at` expires."""
    rows = _sql(
        conn,
        "SELECT MIN(expires_at) FROM credit_holds"
        " WHERE account_id = ? AND status = 'active' AND expires_at > ?",
        (account_id, at),
    )
    return None if rows[0][0] is None else int(rows[0][0])


def end_hold(conn: Connection, hold_ids: Sequence[str], status: str, at: int) -> None:
    """Ends those of the holds still active (a hold's status changes only from active)."""
    if hold_ids:
        _sql(
            conn,
            "UPDATE credit_holds SET status = ?, ended_at = ?"
            f" WHERE hold_id IN ({_marks(len(hold_ids))}) AND status = 'active'",
            [status, at, *hold_ids],
        )


def _fields(row: GrantRow | EntryRow | HoldRow) -> dict[str, object]:
    return {name: getattr(row, name) for name in row.__slots__}
