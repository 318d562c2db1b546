"""The journal's writers: every change of a balance, as an entry appended in the
transaction that makes the change. `Book` is one account's credits inside a write
transaction: opening it locks the account's state row and first writes every expiry that
is due, so an expiry entry always comes before any later entry of that account."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import groupby
from operator import attrgetter

from sqlalchemy import Connection

from ..events import Event
from ..store import credits as sql
from ..store import revisions
from ..store.credits import EntryRow, GrantRow, State
from ..webhooks import alerts, outbox
from . import burndown
from .burndown import Lot


def lot(row: GrantRow) -> Lot:
    return Lot(row.grant_id, row.created_seq, row.priority, row.expires_at, row.remaining)


@dataclass(slots=True)
class Deferred:
    """The journal rows and grant remainders that the books of one ingested batch decided,
    written together by `write` (a few statements for all its accounts, not several per
    account: on PostgreSQL each is a round trip made while the account's rows are locked)."""

    entries: list[EntryRow] = field(default_factory=list)
    allocations: list[tuple[str, int, str, int]] = field(default_factory=list)
    remaining: dict[tuple[str, str], int] = field(default_factory=dict)

    def write(self, conn: Connection, books: Sequence[Book]) -> None:
        sql.set_remaining_of(conn, [(a, g, left) for (a, g), left in self.remaining.items()])
        sql.append_all(conn, self.entries, self.allocations)
        sql.save_states(conn, {book.account_id: book.state for book in books})


@dataclass(slots=True)
class Book:
    """One account's credits in the open write transaction. With `deferred`, its entries,
    remainders and head are collected there and written by the caller (Deferred.write)
    before its commit; without, each is written as it is decided."""

    conn: Connection
    account_id: str
    state: State
    grants: dict[str, GrantRow]  # the live ones: no expiry or void written yet
    last_balance: int = 0  # balance_after of the last entry: where the next one starts
    alerts: int = 0  # alert events decided by this book
    pending: list[outbox.Alert] = field(default_factory=list)  # not written yet
    deferred: Deferred | None = None

    @classmethod
    def open(cls, conn: Connection, account_id: str, now: int, *, bumped: bool = False) -> Book:
        # Whatever the book writes, the account's cached balances and bills are stale after
        # it: bumped before the state row is locked (the lock order of store/revisions.py),
        # unless the caller has (`bumped`: ingestion bumps every account of its batch first).
        if not bumped:
            revisions.bump(conn, [account_id])
        state = sql.lock_state(conn, account_id)
        return cls._opened(conn, account_id, state, sql.live_grants(conn, account_id), now)

    @classmethod
    def open_all(
        cls, conn: Connection, account_ids: Sequence[str], now: int, deferred: Deferred
    ) -> list[Book]:
        """Book.open(bumped=True) of each account, in id order, their writes `deferred`:
        two statements for all of them (a due expiry ends its grant at once)."""
        states = sql.lock_states(conn, account_ids)
        live = sql.live_grants_of(conn, account_ids)
        return [
            cls._opened(conn, a, states[a], live.get(a, []), now, deferred)
            for a in sorted(set(account_ids))
        ]

    @classmethod
    def _opened(
        cls,
        conn: Connection,
        account_id: str,
        state: State,
        live: Sequence[GrantRow],
        now: int,
        deferred: Deferred | None = None,
    ) -> Book:
        book = cls(conn, account_id, state, {g.grant_id: g for g in live}, deferred=deferred)
        book.last_balance = book.balance()  # the due expiries are not written yet
        book.expire(max(now, state.time))
        return book

    @property
    def now(self) -> int:
        return self.state.time

    def balance(self) -> int:
        return sum(g.remaining for g in self.grants.values()) - self.state.overage

    def expire(self, at: int) -> None:
        """Writes the expiry of every grant due at `at`, dated its expires_at."""
        for due in burndown.due_expiries(map(lot, self.grants.values()), at):
            assert due.expires_at is not None
            row = self.grants.pop(due.grant_id)
            when = max(due.expires_at, self.state.time)
            sql.end_grant(self.conn, self.account_id, due.grant_id, "expired", when)
            if due.remaining:
                self._append(
                    when,
                    "expiry",
                    -due.remaining,
                    [(due.grant_id, -due.remaining)],
                    grant_id=row.grant_id,
                )
        self.state.time = max(self.state.time, at)

    def draw(self, events: Sequence[Event]) -> None:
        """One usage entry for these events of the account, drawn down in burn-down order;
        what no grant covers becomes overage."""
        amount = sum(e.credits for e in events)
        drawn = burndown.draw(map(lot, self.grants.values()), amount, self.now)
        remaining = []
        for grant_id, take in drawn.allocations:
            row = self.grants[grant_id] = replace(
                self.grants[grant_id], remaining=self.grants[grant_id].remaining - take
            )
            remaining.append((grant_id, row.remaining))
        if self.deferred is None:
            sql.set_remaining(self.conn, self.account_id, remaining)
        else:
            for grant_id, left in remaining:
                self.deferred.remaining[(self.account_id, grant_id)] = left
        self.state.overage += drawn.uncovered
        self._append(
            self.now,
            "usage",
            -amount,
            [(g, -take) for g, take in drawn.allocations],
            events=(len(events), events[0].event_id, events[-1].event_id),
        )

    def add_grant(self, row: GrantRow) -> GrantRow:
        """Adds a grant (its created_seq and remaining are set here); it first pays off
        any overage. Its allocation is what it adds to the grant's remaining."""
        paid = burndown.pay_off(self.state.overage, row.credits)
        row = replace(
            row, created_seq=self.state.seq + 1, remaining=row.credits - paid, created_at=self.now
        )
        sql.insert_grant(self.conn, row)
        self.state.overage -= paid
        if row.expires_at is None or row.expires_at > self.now:
            self.grants[row.grant_id] = row
        self._append(
            self.now,
            "grant",
            row.credits,
            [(row.grant_id, row.remaining)],
            grant_id=row.grant_id,
            note=row.note,
        )
        return row

    def void(self, grant_id: str, reason: str | None) -> None:
        """Ends the grant; what remained of it leaves the balance in a void entry (none for
        a grant used up: no entry changes nothing, as no expiry entry does)."""
        row = self.grants.pop(grant_id)
        sql.end_grant(self.conn, self.account_id, grant_id, "voided", self.now)
        if not row.remaining:
            return
        self._append(
            self.now,
            "void",
            -row.remaining,
            [(grant_id, -row.remaining)],
            grant_id=grant_id,
            note=reason,
        )

    def _append(
        self,
        when: int,
        kind: str,
        credits: int,
        allocations: list[tuple[str, int]],
        *,
        grant_id: str | None = None,
        events: tuple[int, str, str] | None = None,
        note: str | None = None,
    ) -> None:
        self.state.seq += 1
        count, first, last = events if events is not None else (None, None, None)
        entry = EntryRow(
            self.account_id,
            self.state.seq,
            when,
            kind,
            credits,
            self.balance(),
            self.state.overage,
            grant_id,
            count,
            first,
            last,
            note,
        )
        if self.deferred is None:
            sql.append(self.conn, entry, allocations)
        else:
            self.deferred.entries.append(entry)
            self.deferred.allocations += [
                (self.account_id, entry.seq, grant_id, credits) for grant_id, credits in allocations
            ]
        self._alert(entry)

    def _alert(self, entry: EntryRow) -> None:
        """The alert events this entry sends, in its transaction (webhooks.outbox)."""
        state = self.state
        state.alert, sent = alerts.crossings(
            before=self.last_balance,
            after=entry.balance_after,
            threshold=state.threshold,
            alert=state.alert,
        )
        self.last_balance = entry.balance_after
        if entry.type == "expiry":
            sent.insert(0, alerts.GRANT_EXPIRED)  # an expiry entry is a grant with credits left
        self.pending += [
            outbox.Alert(
                event_type,
                entry.time,  # an expiry's is its grant's expires_at, before the book's now
                self.account_id,
                entry.balance_after,
                state.threshold,
                entry.seq,
                entry.grant_id,
            )
            for event_type in sent
        ]
        self.alerts += len(sent)

    def close(self, *, write_alerts: bool = True) -> None:
        """Saves the journal head (deferred: Deferred.write saves it) and writes the alerts
        decided (webhooks.outbox); without `write_alerts` the caller writes `pending`
        itself, before its commit."""
        if self.deferred is None:
            sql.save_state(self.conn, self.account_id, self.state)
        if write_alerts:
            outbox.write_all(self.conn, self.pending)
            self.pending = []


def draw_down(conn: Connection, stored: Sequence[Event], now: int) -> int:
    """The ingestion hook: in the batch's own transaction, one usage entry per account for
    the events the batch stored (none for an account whose events were all duplicates).
    Accounts are locked in id order, so concurrent batches lock alike. How many alert
    events the entries wrote."""
    alerts: list[outbox.Alert] = []
    by_account = {a: list(events) for a, events in groupby(sorted(stored, key=_ACCOUNT), _ACCOUNT)}
    deferred = Deferred()
    # Bumped by ingest.turn / postgres; the books' rows are written together below.
    books = Book.open_all(conn, list(by_account), now, deferred)
    for book in books:
        book.draw(by_account[book.account_id])
        book.close(write_alerts=False)
        alerts += book.pending
    deferred.write(conn, books)
    outbox.write_all(conn, alerts)  # the batch's alerts together
    return len(alerts)


_ACCOUNT = attrgetter("account_id")


def expire_due(conn: Connection, account_id: str, now: int) -> int:
    """Writes the account's due expiry entries (the serve sweeper's verb); how many alert
    events they wrote."""
    book = Book.open(conn, account_id, now)
    book.close()
    return book.alerts
