"""The burn-down, pure: which grants pay for usage, in PRODUCT.md's order, and what is left
as overage. No I/O; store/credits.py reads and writes what this decides."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

NEVER = 1 << 62  # sorts an absent expires_at last


@dataclass(frozen=True, slots=True)
class Lot:
    """What remains of one grant: `order` is its creation order within the account."""

    grant_id: str
    order: int
    priority: int
    expires_at: int | None
    remaining: int

    def usable_at(self, at: int) -> bool:
        return self.remaining > 0 and (self.expires_at is None or self.expires_at > at)


def draw_key(lot: Lot) -> tuple[int, int, int]:
    """priority ascending, then expires_at ascending (never last), then creation order."""
    return (lot.priority, NEVER if lot.expires_at is None else lot.expires_at, lot.order)


@dataclass(frozen=True, slots=True)
class Drawn:
    """Usage drawn at one instant: (grant_id, micro-credits) taken from each grant in
    order, and the part no grant covered (new overage)."""

    allocations: list[tuple[str, int]]
    uncovered: int


def draw(lots: Iterable[Lot], amount: int, at: int) -> Drawn:
    """Draws `amount` (>= 0) micro-credits from the lots usable at `at` (unexpired, with
    credits left); the draw-down itself checks expiry, never a sweep."""
    left = amount
    allocations: list[tuple[str, int]] = []
    for lot in sorted((lot for lot in lots if lot.usable_at(at)), key=draw_key):
        if left == 0:
            break
        take = min(lot.remaining, left)
        allocations.append((lot.grant_id, take))
        left -= take
    return Drawn(allocations, left)


def due_expiries(lots: Iterable[Lot], at: int) -> list[Lot]:
    """The lots whose expiry is due at `at`, in the order their entries are written:
    by expires_at, then creation order."""
    due = [lot for lot in lots if lot.expires_at is not None and lot.expires_at <= at]
    return sorted(due, key=lambda lot: (lot.expires_at, lot.order))


def pay_off(overage: int, credits: int) -> int:
    """How much of a new grant of `credits` goes to pay off `overage` first."""
    return min(overage, credits)


def balance(lots: Sequence[Lot], overage: int, at: int) -> int:
    """The balance at `at`: what remains of the grants unexpired then, minus overage."""
    return sum(lot.remaining for lot in lots if lot.usable_at(at)) - overage
