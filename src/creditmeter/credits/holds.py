"""Holds: credits reserved before costly work. A hold is taken only while the account's
available credits cover it, under the account's lock, so holds never make `available`
negative whatever number of processes take them at once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection

from ..clock import now_ms
from ..errors import Conflict, CreditmeterError, InvalidInput, NotFound, PaymentRequired
from ..ids import is_slug
from ..jsonbody import JsonNumber
from ..money import format_credits
from ..store import Store, revisions
from ..store import credits as sql
from ..store.credits import HoldRow
from ..store.dialect import dialect_of
from . import burndown, inputs
from .journal import Book, lot

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
        for name in ("id", "account_id", "credits"):
            if body.get(name) is None:
                raise InvalidInput(f"{name}: is required")
        account_id = body["account_id"]
        if not isinstance(account_id, str) or isinstance(account_id, JsonNumber):
            raise InvalidInput("account_id: must be an account id")  # 1 is no id, nor "1" here
        if not is_slug(account_id):
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


@dataclass(frozen=True, slots=True)
class Release:
    """A release asked for, in a group of hold requests (apply_holds)."""

    hold_id: str


HoldAsk = HoldRequest | Release
# What became of one request of a group: the hold (and, for a create, whether it is new),
# or the error that refused it alone.
Outcome = tuple[Hold, bool] | CreditmeterError

MAX_GROUP = 256  # the most requests decided in one transaction


class _Raced(Exception):
    """Another process's transaction changed a hold of the group between its unlocked read
    and its write (PostgreSQL only): the group is rolled back and decided again."""


def apply_holds(*, store: Store, asks: Sequence[HoldAsk]) -> list[Outcome]:
    """Decides a group of hold requests in one write transaction, in order, each against
    the running `available` of its account under the account's lock: a 402, 404 or 409 of
    one refuses it alone, the others commit together. One outcome per request, in order;
    a store error fails them all (raised)."""
    for _attempt in range(8):
        try:
            return _apply(store, asks, now_ms())
        except _Raced:
            continue
    return _apply(store, asks, now_ms())  # racing 8 times is past belief: let a 9th raise


def _apply(store: Store, asks: Sequence[HoldAsk], now: int) -> list[Outcome]:
    ids = [ask.hold_id for ask in asks]
    creates = [ask for ask in asks if isinstance(ask, HoldRequest)]
    with store.write() as conn:
        found, known = sql.holds_and_accounts(conn, ids, (a.account_id for a in creates))
        rows = {row.hold_id: row for row in found}
        # The accounts of the holds named are locked too (a hold never changes account).
        named = {row.account_id for row in rows.values()}
        accounts = sorted(known | named)
        # The lock order of store/revisions.py: every revision, then each state row.
        revisions.bump(conn, accounts)
        books = {account: Book.open(conn, account, now, bumped=True) for account in accounts}
        if not dialect_of(conn).one_writer:
            # Read again under the locks: a release or settlement that committed meanwhile
            # is seen now, and none can commit until this transaction ends.
            rows = {row.hold_id: row for row in sql.holds(conn, ids)}
            if any(row.account_id not in books for row in rows.values()):
                raise _Raced()
        free = {
            account: book.balance() - sql.held(conn, account, book.now)
            for account, book in books.items()
        }
        group = _Group(rows, books, free, now)
        outcomes = [group.decide(ask, known) for ask in asks]
        if len(sql.insert_holds(conn, list(group.new.values()))) < len(group.new):
            raise _Raced()  # an id taken meanwhile, for another account
        sql.end_hold(conn, group.released, "released", now)
        for book in books.values():
            book.close()
    return outcomes


@dataclass(slots=True)
class _Group:
    """The holds a group's requests see as they are decided, and what they change."""

    rows: dict[str, HoldRow]  # every hold the group names, as it stands so far
    books: dict[str, Book]
    free: dict[str, int]  # each account's available credits so far
    now: int
    new: dict[str, HoldRow] = field(default_factory=dict)  # to insert, as they end up
    released: list[str] = field(default_factory=list)  # stored holds to release

    def decide(self, ask: HoldAsk, known: set[str]) -> Outcome:
        try:
            if isinstance(ask, Release):
                return self._release(ask.hold_id), False
            return self._create(ask, known)
        except CreditmeterError as refused:
            return refused

    def _create(self, ask: HoldRequest, known: set[str]) -> tuple[Hold, bool]:
        if ask.account_id not in known:
            raise InvalidInput(f"account_id: account {ask.account_id!r} does not exist")
        existing = self.rows.get(ask.hold_id)
        if existing is not None:
            same = (existing.account_id, existing.credits, existing.expires_in_s) == (
                ask.account_id,
                ask.credits,
                ask.expires_in_s,
            )
            if not same:
                raise Conflict(f"hold id {ask.hold_id!r} is taken by a hold with other content")
            return self._hold(existing), False
        free = self.free[ask.account_id]
        if ask.credits > free:
            raise PaymentRequired(
                f"credits: {format_credits(ask.credits)} asked, only "
                f"{format_credits(free)} available"
                + (" (the account's overage and holds exceed its credits)" if free < 0 else "")
            )
        start = self.books[ask.account_id].now
        row = HoldRow(
            ask.hold_id,
            ask.account_id,
            ask.credits,
            ask.expires_in_s,
            "active",
            start,
            start + ask.expires_in_s * 1000,
            None,
        )
        self.rows[row.hold_id] = self.new[row.hold_id] = row
        self.free[ask.account_id] -= ask.credits
        return self._hold(row), True

    def _release(self, hold_id: str) -> Hold:
        row = self.rows.get(hold_id)
        if row is None:
            raise NotFound(f"hold {hold_id!r} does not exist")
        if _status(row, self.now) == "active":
            row = self.rows[hold_id] = replace(row, status="released", ended_at=self.now)
            if hold_id in self.new:
                self.new[hold_id] = row  # taken and released in this group: stored released
            else:
                self.released.append(hold_id)
            self.free[row.account_id] += row.credits
        return self._hold(row)

    def _hold(self, row: HoldRow) -> Hold:
        return Hold(row, _status(row, self.now), self.free[row.account_id])


def _one(outcome: Outcome) -> tuple[Hold, bool]:
    if isinstance(outcome, CreditmeterError):
        raise outcome
    return outcome


def create_hold(*, store: Store, request: HoldRequest) -> tuple[Hold, bool]:
    """The hold and whether it is new; PaymentRequired when `available` does not cover it."""
    return _one(apply_holds(store=store, asks=[request])[0])


def release_hold(*, store: Store, hold_id: str) -> Hold:
    """Ends an active hold; a hold already ended stays as it is."""
    return _one(apply_holds(store=store, asks=[Release(hold_id)])[0])[0]


def get_hold(*, store: Store, hold_id: str) -> Hold:
    now = now_ms()
    with store.read() as conn:
        row = sql.hold(conn, hold_id)
        if row is None:
            raise NotFound(f"hold {hold_id!r} does not exist")
        free = _available_read(conn, row.account_id, now)
    return Hold(row, _status(row, now), free)


def _available_read(conn: Connection, account_id: str, now: int) -> int:
    lots = [lot(g) for g in sql.live_grants(conn, account_id)]
    state = sql.read_state(conn, account_id)
    return burndown.balance(lots, state.overage, now) - sql.held(conn, account_id, now)


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
