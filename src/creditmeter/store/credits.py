"""SQL for credit balances: the per-account state row (the lock), grants, the journal and
its allocations, holds. Services in creditmeter.credits decide; this only reads and writes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Executable, Table, and_, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .credit_tables import (
    credit_allocations,
    credit_entries,
    credit_grants,
    credit_holds,
    credit_state,
)


@dataclass(slots=True)
class State:
    """An account's journal head: its last seq and entry time, and its overage."""

    seq: int
    time: int
    overage: int


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


def _insert_ignoring(conn: Connection, table: Table) -> Executable:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def lock_state(conn: Connection, account_id: str) -> State:
    """The account's journal head, created if new; on PostgreSQL its row is locked until
    the transaction ends, so writers of one account's credits go one at a time, and
    writers of other accounts never wait (SQLite has one writer at a time anyway)."""
    conn.execute(
        _insert_ignoring(conn, credit_state),
        {"account_id": account_id, "seq": 0, "time": 0, "overage": 0},
    )
    query = select(credit_state.c.seq, credit_state.c.time, credit_state.c.overage).where(
        credit_state.c.account_id == account_id
    )
    seq, time, overage = conn.execute(query.with_for_update()).one()
    return State(seq, time, overage)


def read_state(conn: Connection, account_id: str) -> State:
    query = select(credit_state.c.seq, credit_state.c.time, credit_state.c.overage).where(
        credit_state.c.account_id == account_id
    )
    row = conn.execute(query).one_or_none()
    return State(0, 0, 0) if row is None else State(*row)


def save_state(conn: Connection, account_id: str, state: State) -> None:
    conn.execute(
        update(credit_state)
        .where(credit_state.c.account_id == account_id)
        .values(seq=state.seq, time=state.time, overage=state.overage)
    )


def live_grants(conn: Connection, account_id: str) -> list[GrantRow]:
    """The grants of the account whose expiry or void is not written yet."""
    query = select(credit_grants).where(
        credit_grants.c.account_id == account_id, credit_grants.c.ended.is_(None)
    )
    return [GrantRow(*row) for row in conn.execute(query)]


def grants(conn: Connection, account_id: str) -> list[GrantRow]:
    query = (
        select(credit_grants)
        .where(credit_grants.c.account_id == account_id)
        .order_by(credit_grants.c.created_seq)
    )
    return [GrantRow(*row) for row in conn.execute(query)]


def grant(conn: Connection, account_id: str, grant_id: str) -> GrantRow | None:
    query = select(credit_grants).where(
        credit_grants.c.account_id == account_id, credit_grants.c.grant_id == grant_id
    )
    row = conn.execute(query).one_or_none()
    return None if row is None else GrantRow(*row)


def insert_grant(conn: Connection, row: GrantRow) -> None:
    conn.execute(insert(credit_grants).values(**_fields(row)))


def set_remaining(conn: Connection, account_id: str, remaining: Iterable[tuple[str, int]]) -> None:
    rows = [{"a": account_id, "g": grant_id, "r": r} for grant_id, r in remaining]
    if rows:
        conn.execute(
            update(credit_grants)
            .where(
                credit_grants.c.account_id == bindparam("a"),
                credit_grants.c.grant_id == bindparam("g"),
            )
            .values(remaining=bindparam("r")),
            rows,
        )


def end_grant(conn: Connection, account_id: str, grant_id: str, ended: str, at: int) -> None:
    conn.execute(
        update(credit_grants)
        .where(credit_grants.c.account_id == account_id, credit_grants.c.grant_id == grant_id)
        .values(remaining=0, ended=ended, ended_at=at)
    )


def append(conn: Connection, entry: EntryRow, allocations: Sequence[tuple[str, int]]) -> None:
    """Appends one journal entry and its allocations (the primary key keeps seq unique)."""
    conn.execute(insert(credit_entries).values(**_fields(entry)))
    if allocations:
        conn.execute(
            insert(credit_allocations),
            [
                {"account_id": entry.account_id, "seq": entry.seq, "grant_id": g, "credits": c}
                for g, c in allocations
            ],
        )


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


def insert_hold(conn: Connection, row: HoldRow) -> bool:
    """False when the hold id is taken (the primary key decides)."""
    result = conn.execute(
        _insert_ignoring(conn, credit_holds),
        _fields(row),
    )
    return bool(result.rowcount)


def hold(conn: Connection, hold_id: str, *, lock: bool = False) -> HoldRow | None:
    query = select(credit_holds).where(credit_holds.c.hold_id == hold_id)
    row = conn.execute(query.with_for_update() if lock else query).one_or_none()
    return None if row is None else HoldRow(*row)


def holds(conn: Connection, hold_ids: Iterable[str]) -> list[HoldRow]:
    wanted = sorted(set(hold_ids))
    if not wanted:
        return []
    query = select(credit_holds).where(credit_holds.c.hold_id.in_(wanted))
    return [HoldRow(*row) for row in conn.execute(query)]


def held(conn: Connection, account_id: str, at: int) -> int:
    """Credits held by the account's active holds unexpired at `at`."""
    query = select(func.coalesce(func.sum(credit_holds.c.credits), 0)).where(
        and_(
            credit_holds.c.account_id == account_id,
            credit_holds.c.status == "active",
            credit_holds.c.expires_at > at,
        )
    )
    return int(conn.execute(query).scalar_one())


def end_hold(conn: Connection, hold_ids: Sequence[str], status: str, at: int) -> None:
    if hold_ids:
        conn.execute(
            update(credit_holds)
            .where(credit_holds.c.hold_id.in_(list(hold_ids)), credit_holds.c.status == "active")
            .values(status=status, ended_at=at)
        )


def _fields(row: GrantRow | EntryRow | HoldRow) -> dict[str, object]:
    return {name: getattr(row, name) for name in row.__slots__}
