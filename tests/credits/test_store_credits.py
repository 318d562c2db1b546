"""Grants and the draw-down on both stores: burn-down order, overage paid off by the next
grant, expiry written before any later entry, idempotent grants, exactly-once draw-down."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from creditmeter import accounts
from creditmeter.clock import now_ms
from creditmeter.credits import balances, expiry
from creditmeter.credits.grants import GrantRequest, create_grant, void_grant
from creditmeter.errors import Conflict, InvalidInput, NotFound
from creditmeter.ingest import Ingestion
from creditmeter.money import MICRO
from creditmeter.store import Store

from .support import check_journal, event


def _grant(store: Store, grant_id: str, amount: int, **fields: object) -> tuple[object, bool]:
    body = {"id": grant_id, "credits": str(amount), "kind": "purchase", **fields}
    return create_grant(store=store, account_id="acme", request=GrantRequest.parse(body))


@pytest.fixture
def acme(store: Store) -> Store:
    accounts.create_account(store=store, account_id="acme")
    return store


def test_usage_burns_down_in_order_then_overage(acme: Store) -> None:
    _grant(acme, "late", 10, priority=60)
    _grant(acme, "never", 10)
    _grant(acme, "soon", 10, expires_at=now_ms() + 3_600_000)
    Ingestion.of(acme).ingest([event("e1", 15 * MICRO), event("e2", 10 * MICRO)])
    rows = check_journal(acme, "acme")
    usage = rows[-1]
    assert (usage.type, usage.credits, usage.events_count) == ("usage", -25 * MICRO, 2)
    found = balances.balance(store=acme, account_id="acme")
    remaining = {g.grant_id: g.remaining for g in found.grants}
    # priority 50 first, the one that expires before the one that never does; then 60
    assert remaining == {"soon": 0, "never": 0, "late": 5 * MICRO}
    Ingestion.of(acme).ingest([event("e3", 8 * MICRO)])
    found = balances.balance(store=acme, account_id="acme")
    assert (found.balance, found.overage) == (-3 * MICRO, 3 * MICRO)
    _grant(acme, "top-up", 5)  # pays the overage off first
    found = balances.balance(store=acme, account_id="acme")
    assert (found.balance, found.overage) == (2 * MICRO, 0)
    check_journal(acme, "acme")


def test_a_resent_batch_draws_nothing_more(acme: Store) -> None:
    _grant(acme, "g", 100)
    batch = [event(f"e{n}", MICRO) for n in range(10)]
    Ingestion.of(acme).ingest(batch)
    assert Ingestion.of(acme).ingest(batch).duplicates == 10
    rows = check_journal(acme, "acme")
    assert [r.type for r in rows] == ["grant", "usage"]
    assert balances.balance(store=acme, account_id="acme").balance == 90 * MICRO


def test_grants_are_idempotent_by_id(acme: Store) -> None:
    _, new = _grant(acme, "top-up-1", 100)
    _, again = _grant(acme, "top-up-1", 100)
    assert (new, again) == (True, False)
    with pytest.raises(Conflict):
        _grant(acme, "top-up-1", 101)
    assert balances.balance(store=acme, account_id="acme").balance == 100 * MICRO
    assert len(check_journal(acme, "acme")) == 1


def test_bad_grants_change_nothing(acme: Store) -> None:
    bad: list[dict[str, object]] = [
        {"credits": "0"},
        {"credits": "-1"},
        {"credits": "1.0000001"},
        {"credits": "1000000001"},
        {"kind": "gift"},
        {"priority": 0},
        {"priority": 101},
    ]
    for fields in bad:
        field = next(iter(fields))
        with pytest.raises(InvalidInput, match=field):
            _grant(acme, "g", 1, **fields)
    with pytest.raises(InvalidInput, match="expires_at"):
        _grant(acme, "g", 1, expires_at=now_ms() - 1)
    with pytest.raises(NotFound):
        create_grant(
            store=acme,
            account_id="nobody",
            request=GrantRequest.parse({"id": "g", "credits": 1, "kind": "plan"}),
        )
    assert check_journal(acme, "acme") == []


def test_expiry_is_written_before_any_later_entry(acme: Store) -> None:
    # Both grants are written well before `expires`, even on a loaded machine.
    expires = now_ms() + 1500
    _grant(acme, "short", 10, expires_at=expires, priority=1)
    _grant(acme, "long", 10)
    time.sleep((expires - now_ms()) / 1000 + 0.1)
    # expired grants are never counted, even before the expiry entry is written
    assert balances.balance(store=acme, account_id="acme").balance == 10 * MICRO
    Ingestion.of(acme).ingest([event("e1", 4 * MICRO)])
    rows = check_journal(acme, "acme")
    assert [(r.type, r.credits) for r in rows[2:]] == [
        ("expiry", -10 * MICRO),
        ("usage", -4 * MICRO),
    ]
    assert rows[2].time == expires
    found = balances.balance(store=acme, account_id="acme")
    assert {g.grant_id: g.status for g in found.grants} == {"short": "expired", "long": "active"}
    past = balances.balance(store=acme, account_id="acme", at=expires - 1)
    assert (past.balance, past.seq) == (20 * MICRO, 2)


def test_void_removes_what_remains(acme: Store) -> None:
    _grant(acme, "g", 10)
    Ingestion.of(acme).ingest([event("e1", 4 * MICRO)])
    grant = void_grant(store=acme, account_id="acme", grant_id="g", reason="refund")
    assert (grant.status, grant.remaining) == ("voided", 0)
    again = void_grant(store=acme, account_id="acme", grant_id="g", reason="refund")
    assert again == grant
    rows = check_journal(acme, "acme")
    assert (rows[-1].type, rows[-1].credits, rows[-1].note) == ("void", -6 * MICRO, "refund")


def test_concurrent_batches_draw_each_event_once(acme: Store) -> None:
    _grant(acme, "a", 500, priority=1)
    _grant(acme, "b", 500)
    batches = [[event(f"t{t}-{n}", 3 * MICRO) for n in range(20)] for t in range(8)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(Ingestion.of(acme).ingest, batches * 2))
    rows = check_journal(acme, "acme")
    assert sum(r.credits for r in rows if r.type == "usage") == -8 * 20 * 3 * MICRO
    assert sum(r.events_count or 0 for r in rows) == 160
    assert balances.balance(store=acme, account_id="acme").balance == 520 * MICRO


def test_the_sweep_writes_due_expiries(acme: Store) -> None:
    expires = now_ms() + 200
    _grant(acme, "short", 3, expires_at=expires)
    assert expiry.sweep(store=acme, now=expires - 1) == 0
    assert expiry.sweep(store=acme, now=expires) == 1
    rows = check_journal(acme, "acme")
    assert [(r.type, r.time) for r in rows[1:]] == [("expiry", expires)]
    assert expiry.sweep(store=acme, now=expires + 1) == 0


def test_a_grant_and_a_batch_commit_at_the_clock_they_are_given(acme: Store) -> None:
    """How the demo replays its history: create_grant's `now` and the ingestion's clock date
    their entries; a due expiry is written first, dated its expires_at; the journal never
    goes back, and a grant already expired at the journal's time is refused."""
    day = 86_400_000
    t0 = now_ms() - 10 * day

    def grant(grant_id: str, at: int, **fields: object) -> None:
        body = {"id": grant_id, "credits": "10", "kind": "plan", **fields}
        create_grant(store=acme, account_id="acme", request=GrantRequest.parse(body), now=at)

    grant("month-1", t0, expires_at=t0 + day)
    story = [t0 + 3_600_000]
    Ingestion.of(acme, clock=lambda: story[0]).ingest([event("e1", 4 * MICRO)])
    grant("month-2", t0 + 2 * day, expires_at=t0 + 3 * day)
    rows = check_journal(acme, "acme")
    assert [(r.type, r.grant_id, r.time) for r in rows] == [
        ("grant", "month-1", t0),
        ("usage", None, t0 + 3_600_000),
        ("expiry", "month-1", t0 + day),  # its 6 left, before the next entry
        ("grant", "month-2", t0 + 2 * day),
    ]
    grant("early", t0)  # a clock before the last entry: dated at it
    assert check_journal(acme, "acme")[-1].time == t0 + 2 * day
    with pytest.raises(InvalidInput):
        grant("too-late", t0, expires_at=t0 + day)
    assert len(check_journal(acme, "acme")) == 5
    # read now: month-2 has expired since (3 days after t0), only "early" counts
    assert balances.balance(store=acme, account_id="acme").balance == 10 * MICRO
