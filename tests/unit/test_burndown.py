"""The pure burn-down against a model that spends one credit at a time, always from the
first usable grant in PRODUCT.md's order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from creditmeter.credits.burndown import Lot, balance, draw, due_expiries, pay_off

AT = 1_000


def _model(lots: list[Lot], amount: int, at: int) -> tuple[dict[str, int], int]:
    """Credit by credit: the usable grant with the lowest priority, then the earliest expiry
    (never last), then the oldest."""
    left = {lot.grant_id: lot.remaining for lot in lots}
    taken: dict[str, int] = {}
    for _ in range(amount):
        usable = [
            lot
            for lot in lots
            if left[lot.grant_id] > 0 and (lot.expires_at is None or lot.expires_at > at)
        ]
        if not usable:
            return taken, amount - sum(taken.values())
        first = min(
            usable,
            key=lambda lot: (lot.priority, lot.expires_at is None, lot.expires_at or 0, lot.order),
        )
        left[first.grant_id] -= 1
        taken[first.grant_id] = taken.get(first.grant_id, 0) + 1
    return taken, 0


lots = st.lists(
    st.builds(
        lambda order, priority, expires, remaining: Lot(
            f"g{order}", order, priority, expires, remaining
        ),
        st.integers(0, 50),
        st.integers(1, 4),
        st.one_of(st.none(), st.integers(AT - 5, AT + 5)),
        st.integers(0, 12),
    ),
    max_size=6,
    unique_by=lambda lot: lot.order,
)


@given(lots, st.integers(0, 60))
def test_draw_equals_the_model(grants: list[Lot], amount: int) -> None:
    drawn = draw(grants, amount, AT)
    taken, uncovered = _model(grants, amount, AT)
    assert dict(drawn.allocations) == taken
    assert drawn.uncovered == uncovered
    assert all(credits > 0 for _, credits in drawn.allocations)
    assert sum(c for _, c in drawn.allocations) + drawn.uncovered == amount


@given(lots)
def test_expired_grants_are_never_drawn_and_are_due(grants: list[Lot]) -> None:
    expired = {
        lot.grant_id for lot in grants if lot.expires_at is not None and lot.expires_at <= AT
    }
    drawn = draw(grants, 10_000, AT)
    assert not expired & {g for g, _ in drawn.allocations}
    due = due_expiries(grants, AT)
    assert {lot.grant_id for lot in due} == expired
    assert [(lot.expires_at, lot.order) for lot in due] == sorted(
        (lot.expires_at or 0, lot.order) for lot in due
    )
    usable = sum(lot.remaining for lot in grants if lot.grant_id not in expired)
    assert balance(grants, 3, AT) == usable - 3


@given(st.integers(0, 100), st.integers(1, 100))
def test_a_grant_pays_overage_off_first(overage: int, credits: int) -> None:
    paid = pay_off(overage, credits)
    assert paid == min(overage, credits)
    assert overage - paid == 0 or paid == credits
