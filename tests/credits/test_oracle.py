"""The oracle: grants, batches, voids, expiries and holds in any order (hypothesis stateful
testing) against a model that draws down in commit order, on SQLite and PostgreSQL. The
clock is the one of each module that reads it, moved by the test."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from unittest import mock

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from creditmeter import accounts
from creditmeter.clock import now_ms
from creditmeter.credits import balances, grants, holds
from creditmeter.errors import PaymentRequired
from creditmeter.ingest import Ingestion
from creditmeter.store import Store

from .support import check_journal, event

_CLOCKED = (grants, holds, balances)  # and the ingestion's clock
_RUNS = itertools.count()


@dataclass
class ModelGrant:
    order: int
    priority: int
    expires_at: int | None
    remaining: int
    ended: bool = False

    def usable(self, at: int) -> bool:
        live = self.expires_at is None or self.expires_at > at
        return not self.ended and live and self.remaining > 0


class Credits(RuleBasedStateMachine):
    store: Store

    def __init__(self) -> None:
        super().__init__()
        self.account = f"acct-{next(_RUNS)}"
        accounts.create_account(store=self.store, account_id=self.account)
        self.now = now_ms()
        self.ingestion = Ingestion.of(self.store, clock=self.clock)
        self.patches = [mock.patch.object(m, "now_ms", self.clock) for m in _CLOCKED]
        for patch in self.patches:
            patch.start()
        self.grants: dict[str, ModelGrant] = {}
        self.overage = 0
        self.holds: dict[str, tuple[int, int, bool]] = {}  # credits, expires_at, active
        self.events = itertools.count()

    def clock(self) -> int:
        return self.now

    def teardown(self) -> None:
        for patch in self.patches:
            patch.stop()

    def _expire(self) -> None:
        for g in self.grants.values():
            if g.expires_at is not None and g.expires_at <= self.now:
                g.ended, g.remaining = True, 0

    def _balance(self) -> int:
        live = sum(g.remaining for g in self.grants.values() if g.usable(self.now))
        return live - self.overage

    def _held(self) -> int:
        return sum(c for c, expires, active in self.holds.values() if active and expires > self.now)

    @rule(
        credits=st.integers(1, 50_000_000),
        priority=st.integers(1, 3),
        expires_in=st.one_of(st.none(), st.integers(1, 20_000)),
    )
    def grant(self, credits: int, priority: int, expires_in: int | None) -> None:
        grant_id = f"g{len(self.grants)}"
        expires_at = None if expires_in is None else self.now + expires_in
        body = {
            "id": grant_id,
            "credits": f"{credits // 10**6}.{credits % 10**6:06d}",
            "kind": "plan",
            "priority": priority,
            "expires_at": expires_at,
        }
        grants.create_grant(
            store=self.store, account_id=self.account, request=grants.GrantRequest.parse(body)
        )
        self._expire()
        paid = min(self.overage, credits)
        self.overage -= paid
        self.grants[grant_id] = ModelGrant(len(self.grants), priority, expires_at, credits - paid)

    @rule(amounts=st.lists(st.integers(0, 20_000_000), min_size=1, max_size=5))
    def batch(self, amounts: list[int]) -> None:
        batch = [event(f"e{next(self.events)}", a, self.account) for a in amounts]
        self.ingestion.ingest(batch)
        self._expire()
        left = sum(amounts)
        order = sorted(
            (g for g in self.grants.values() if g.usable(self.now)),
            key=lambda g: (g.priority, g.expires_at is None, g.expires_at or 0, g.order),
        )
        for g in order:
            take = min(g.remaining, left)
            g.remaining -= take
            left -= take
        self.overage += left

    @precondition(lambda self: self.grants)
    @rule(data=st.data())
    def void(self, data: st.DataObject) -> None:
        grant_id = data.draw(st.sampled_from(sorted(self.grants)))
        grants.void_grant(store=self.store, account_id=self.account, grant_id=grant_id, reason=None)
        self._expire()
        g = self.grants[grant_id]
        g.ended, g.remaining = True, 0

    @rule(ms=st.integers(1, 15_000))
    def advance(self, ms: int) -> None:
        self.now += ms

    @rule(credits=st.integers(1, 30_000_000), expires_in_s=st.integers(1, 20))
    def hold(self, credits: int, expires_in_s: int) -> None:
        hold_id = f"{self.account}-h{len(self.holds)}"
        body = {
            "id": hold_id,
            "account_id": self.account,
            "credits": f"{credits // 10**6}.{credits % 10**6:06d}",
            "expires_in_s": expires_in_s,
        }
        self._expire()
        available = self._balance() - self._held()
        try:
            holds.create_hold(store=self.store, request=holds.HoldRequest.parse(body))
        except PaymentRequired:
            assert credits > available
        else:
            assert credits <= available
            self.holds[hold_id] = (credits, self.now + expires_in_s * 1000, True)

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        hold_id = data.draw(st.sampled_from(sorted(self.holds)))
        holds.release_hold(store=self.store, hold_id=hold_id)
        credits, expires, _ = self.holds[hold_id]
        self.holds[hold_id] = (credits, expires, False)

    @invariant()
    def matches_the_model(self) -> None:
        check_journal(self.store, self.account)
        found = balances.balance(store=self.store, account_id=self.account)
        assert found.balance == self._balance()
        assert found.held == self._held()
        # Holds themselves never over-commit (the hold rule checks each against the model);
        # a void, an expiry or usage after a hold may leave `available` below zero.
        assert found.available == found.balance - found.held
        remaining = {g.grant_id: g.remaining for g in found.grants}
        for grant_id, g in self.grants.items():
            expected = g.remaining if g.usable(self.now) else 0
            assert remaining[grant_id] == expected, grant_id


def test_credits_match_the_model(store: Store) -> None:
    Credits.store = store
    run = Credits.TestCase
    run.settings = settings(
        max_examples=15 if store.is_sqlite else 8,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    run().runTest()
