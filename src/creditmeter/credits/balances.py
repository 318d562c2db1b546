"""Balance reads: now (expired grants never counted, even before their expiry entry is
written) or as it stood at an instant, from the journal; and the journal's entries."""

from __future__ import annotations

from dataclasses import dataclass

from ..clock import now_ms
from ..store import Store
from ..store import credits as sql
from ..store.credits import EntryRow
from .grants import Grant


@dataclass(frozen=True, slots=True)
class Balance:
    account_id: str
    balance: int
    held: int
    overage: int
    seq: int
    grants: list[Grant]
    low_balance_threshold: int | None = None  # the account's, now (webhooks.md)

    @property
    def available(self) -> int:
        return self.balance - self.held


def balance(*, store: Store, account_id: str, at: int | None = None) -> Balance:
    """The account's balance now, or after every entry whose time is at or before `at`.
    (The caller has checked that the account exists and may be read.)"""
    now = now_ms()
    if at is None or at >= now:
        return balance_now(store=store, account_id=account_id, now=now)[0]
    with store.read() as conn:
        rows = sql.grants(conn, account_id)
        threshold = sql.account_threshold(conn, account_id)
        last = sql.last_entry_at(conn, account_id, at)
        seq = 0 if last is None else last.seq
        overage = 0 if last is None else last.overage_after
        remaining = sql.remaining_through(conn, account_id, seq)
        grants = [
            Grant.of(row, at, remaining[row.grant_id]) for row in rows if row.created_seq <= seq
        ]
        held = 0
    total = sum(g.remaining for g in grants if g.status in ("active", "used")) - overage
    return Balance(account_id, total, held, overage, seq, grants, threshold)


def balance_now(
    *, store: Store, account_id: str, now: int | None = None
) -> tuple[Balance, int | None]:
    """The account's balance now, and the first instant at which it reads otherwise even if
    nothing is committed meanwhile (a live grant's or an active hold's expiry), or None:
    a cached balance is good until then, while the account's revision is unchanged."""
    at = now_ms() if now is None else now
    with store.read() as conn:
        rows = sql.grants(conn, account_id)
        state = sql.read_state(conn, account_id)
        held = sql.held(conn, account_id, at)
        hold_ends = sql.next_hold_expiry(conn, account_id, at)
    grants = [Grant.of(row, at) for row in rows]
    ends = [g.expires_at for g in grants if g.status in ("active", "used") and g.expires_at]
    if hold_ends is not None:
        ends.append(hold_ends)
    total = sum(g.remaining for g in grants if g.status in ("active", "used")) - state.overage
    found = Balance(account_id, total, held, state.overage, state.seq, grants, state.threshold)
    return found, min(ends) if ends else None


@dataclass(frozen=True, slots=True)
class Entry:
    row: EntryRow
    allocations: list[tuple[str, int]]


def entries(*, store: Store, account_id: str, after_seq: int, limit: int) -> list[Entry]:
    with store.read() as conn:
        rows = sql.entries(conn, account_id, after_seq, limit)
        found = sql.allocations(conn, account_id, rows[0].seq, rows[-1].seq) if rows else {}
    return [Entry(row, found.get(row.seq, [])) for row in rows]
