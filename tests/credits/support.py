"""What every credit test checks of a store: the journal gapless and chained, and its last
balance_after equal to what remains of the grants minus the overage."""

from __future__ import annotations

from sqlalchemy import select

from creditmeter.events import Event
from creditmeter.store import Store
from creditmeter.store import credits as sql
from creditmeter.store.tables import credit_allocations

T0 = 1_733_011_200_000  # 2024-12-01T00:00:00Z
# The credit routes the HTTP tests call, acme's where a path names an account.
GRANTS = "/v1/admin/accounts/acme/grants"
BALANCE = "/v1/account/credits/balance"
ENTRIES = "/v1/account/credits/entries"
HOLDS = "/v1/credits/holds"


def event(event_id: str, credits: int, account: str = "acme") -> Event:
    return Event(account, event_id, "bot", 0, credits, T0, None, None)


def check_journal(store: Store, account_id: str) -> list[sql.EntryRow]:
    """Asserts the account's journal invariants; returns its entries."""
    with store.read() as conn:
        rows = sql.entries(conn, account_id, 0, 1_000_000)
        state = sql.read_state(conn, account_id)
        grants = sql.grants(conn, account_id)
        allocations = conn.execute(
            select(credit_allocations.c.grant_id, credit_allocations.c.credits).where(
                credit_allocations.c.account_id == account_id
            )
        ).all()
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))  # gapless from 1
    assert state.seq == len(rows)
    times = [r.time for r in rows]
    assert times == sorted(times)
    balance = 0
    for row in rows:  # chained: each balance_after follows from the one before
        change = row.credits
        balance += change
        assert row.balance_after == balance, row
    if rows:
        assert rows[-1].overage_after == state.overage
    live = sum(g.remaining for g in grants if g.ended is None)
    assert balance == live - state.overage
    per_grant: dict[str, int] = {}
    for grant_id, credits in allocations:
        per_grant[grant_id] = per_grant.get(grant_id, 0) + credits
    for g in grants:
        assert per_grant.get(g.grant_id, 0) == g.remaining, g
        assert 0 <= g.remaining <= g.credits
    return rows
