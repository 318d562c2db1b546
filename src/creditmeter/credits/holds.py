"""Holds: credits reserved before costly work. A hold is taken only while the account's
available credits cover it, under the account's lock, so holds never make `available`
negative whatever number of processes take them at once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from ..clock import now_ms
from ..errors import Conflict, InvalidInput, NotFound, PaymentRequired
from ..ids import is_slug
from ..money import format_credits
from ..store import Store, directory, revisions
from ..store import credits as sql
from ..store.credits import HoldRow
from . import inputs
from .journal import Book

HOLD_FIELDS = frozenset({"id", "account_id", "credits", "expires_in_s"})
DEFAULT_EXPIRES_IN_S = 900
MAX_HOLD_MICRO = inputs.MAX_GRANT_MICRO


@dataclass(frozen=True, slots=True)
class HoldRequest:
    hold_id: str
    account_id: str
    credits: int
    expires_in_s: int

    @classmethod
    def parse(cls, document: Any) -> HoldRequest:
        body = inputs.body_object(document, HOLD_FIELDS)
        for field in ("id", "account_id", "credits"):
            if body.get(field) is None:
                raise InvalidInput(f"{field}: is required")
        account_id = body["account_id"]
        if not isinstance(account_id, str) or not is_slug(account_id):
            raise InvalidInput("account_id: must be an account id")
        expires = body.get("expires_in_s")
        return cls(
            inputs.client_id("id", body["id"]),
            account_id,
            inputs.credits("credits", body["credits"], MAX_HOLD_MICRO),
            DEFAULT_EXPIRES_IN_S
            if expires is None
            else inputs.integer("expires_in_s", expires, 1, 86_400),
        )


@dataclass(frozen=True, slots=True)
class Hold:
    """A hold as it is at `at` (status active, released, settled or expired), and the
    account's available credits then."""

    row: HoldRow
    status: str
    available: int


def _status(row: HoldRow, at: int) -> str:
    if row.status == "active" and row.expires_at <= at:
        return "expired"
    return row.status


def available(conn: Connection, book: Book, at: int) -> int:
    return book.balance() - sql.held(conn, book.account_id, at)


def create_hold(*, store: Store, request: HoldRequest) -> tuple[Hold, bool]:
    """The hold and whether it is new; PaymentRequired when `available` does not cover it."""
    now = now_ms()
    with store.write() as conn:
        if directory.get_account(conn, request.account_id) is None:
            raise InvalidInput(f"account_id: account {request.account_id!r} does not exist")
        book = Book.open(conn, request.account_id, now)  # the account's lock
        row = HoldRow(
            request.hold_id,
            request.account_id,
            request.credits,
            request.expires_in_s,
            "active",
            book.now,
            book.now + request.expires_in_s * 1000,
            None,
        )
        existing = sql.hold(conn, request.hold_id)
        if existing is None:
            free = available(conn, book, book.now)
            if request.credits > free:
                raise PaymentRequired(
                    f"credits: {format_credits(request.credits)} asked, only "
                    f"{format_credits(max(free, 0))} available"
                )
            created = sql.insert_hold(conn, row)
            if not created:  # taken meanwhile by another account's transaction
                existing = sql.hold(conn, request.hold_id)
        if existing is not None:
            same = (existing.account_id, existing.credits, existing.expires_in_s) == (
                request.account_id,
                request.credits,
                request.expires_in_s,
            )
            if not same:
                raise Conflict(f"hold id {request.hold_id!r} is taken by a hold with other content")
            row = existing
        free = available(conn, book, book.now)
        book.close()
    return Hold(row, _status(row, now), free), existing is None


def get_hold(*, store: Store, hold_id: str) -> Hold:
    now = now_ms()
    with store.read() as conn:
        row = sql.hold(conn, hold_id)
        if row is None:
            raise NotFound(f"hold {hold_id!r} does not exist")
        free = _available_read(conn, row.account_id, now)
    return Hold(row, _status(row, now), free)


def _available_read(conn: Connection, account_id: str, now: int) -> int:
    from . import burndown
    from .journal import lot

    lots = [lot(g) for g in sql.live_grants(conn, account_id)]
    state = sql.read_state(conn, account_id)
    return burndown.balance(lots, state.overage, now) - sql.held(conn, account_id, now)


def release_hold(*, store: Store, hold_id: str) -> Hold:
    """Ends an active hold; a hold already ended stays as it is."""
    now = now_ms()
    with store.write() as conn:
        # The account first (a hold never changes account), then the hold's lock: the order
        # ingestion's settlement takes them in (store/revisions.py).
        unlocked = sql.hold(conn, hold_id)
        if unlocked is not None:
            revisions.bump(conn, [unlocked.account_id])
        row = sql.hold(conn, hold_id, lock=True)
        if row is None:
            raise NotFound(f"hold {hold_id!r} does not exist")
        if _status(row, now) == "active":
            sql.end_hold(conn, [hold_id], "released", now)
            row = sql.hold(conn, hold_id)
            assert row is not None
        free = _available_read(conn, row.account_id, now)
    return Hold(row, _status(row, now), free)


class UnknownHolds(InvalidInput):
    """Events of a batch name holds that do not exist or belong to another account."""

    def __init__(self, bad: Mapping[str, str]):
        self.bad = dict(bad)
        first = sorted(self.bad)[0]
        super().__init__(
            f"{len(self.bad)} event(s) name a hold that does not exist for their account and "
            f"nothing was stored; first: event {first!r} names hold_id {self.bad[first]!r}",
            errors=[
                {
                    "event_id": event_id,
                    "field": "hold_id",
                    "message": f"hold {hold_id!r} does not exist for this account",
                }
                for event_id, hold_id in sorted(self.bad.items())
            ],
        )

    def __reduce__(self) -> tuple[type[UnknownHolds], tuple[dict[str, str]]]:
        return (UnknownHolds, (self.bad,))


def check_named(conn: Connection, named: Mapping[tuple[str, str], str]) -> None:
    """The ingestion hook's validation: every event's hold must exist for its account,
    else the batch is a 400 (UnknownHolds)."""
    found = {row.hold_id: row.account_id for row in sql.holds(conn, named.values())}
    bad = {
        event_id: hold_id
        for (account_id, event_id), hold_id in named.items()
        if found.get(hold_id) != account_id
    }
    if bad:
        raise UnknownHolds(bad)


def settle(
    conn: Connection, named: Mapping[tuple[str, str], str], stored: set[tuple[str, str]], now: int
) -> None:
    """The ingestion hook: the holds still active that the batch's stored events name end,
    settled (a resent duplicate settles nothing)."""
    settled = sorted({hold_id for key, hold_id in named.items() if key in stored})
    live = [row.hold_id for row in sql.holds(conn, settled) if _status(row, now) == "active"]
    sql.end_hold(conn, live, "settled", now)
