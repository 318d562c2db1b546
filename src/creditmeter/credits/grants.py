"""Grants: credits given to an account, idempotent by their id (a retried top-up never
counts twice), and voided."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..clock import now_ms
from ..errors import Conflict, InvalidInput, NotFound
from ..ids import check_slug
from ..store import Store, directory
from ..store import credits as sql
from ..store.credits import GrantRow
from . import inputs
from .journal import Book

GRANT_FIELDS = frozenset({"id", "credits", "kind", "priority", "expires_at", "note"})
DEFAULT_PRIORITY = 50


@dataclass(frozen=True, slots=True)
class GrantRequest:
    grant_id: str
    credits: int
    kind: str
    priority: int
    expires_at: int | None
    note: str | None

    @classmethod
    def parse(cls, document: Any) -> GrantRequest:
        body = inputs.body_object(document, GRANT_FIELDS)
        for field in ("id", "credits", "kind"):
            if body.get(field) is None:
                raise InvalidInput(f"{field}: is required")
        kind = body["kind"]
        if kind not in inputs.KINDS:
            raise InvalidInput(f"kind: must be one of {', '.join(inputs.KINDS)}")
        priority = body.get("priority")
        expires_at = body.get("expires_at")
        note = body.get("note")
        return cls(
            inputs.client_id("id", body["id"]),
            inputs.credits("credits", body["credits"], inputs.MAX_GRANT_MICRO),
            kind,
            DEFAULT_PRIORITY if priority is None else inputs.integer("priority", priority, 1, 100),
            None if expires_at is None else inputs.instant("expires_at", expires_at),
            None if note is None else inputs.text("note", note, 500),
        )

    def same_as(self, row: GrantRow) -> bool:
        return (self.credits, self.kind, self.priority, self.expires_at, self.note) == (
            row.credits,
            row.kind,
            row.priority,
            row.expires_at,
            row.note,
        )


@dataclass(frozen=True, slots=True)
class Grant:
    """A grant as it is at `at`; `status`: active, expired, voided or used."""

    grant_id: str
    kind: str
    credits: int
    remaining: int
    priority: int
    expires_at: int | None
    note: str | None
    created_at: int
    status: str

    @classmethod
    def of(cls, row: GrantRow, at: int, remaining: int | None = None) -> Grant:
        left = row.remaining if remaining is None else remaining
        if row.ended == "voided" and (row.ended_at is None or row.ended_at <= at):
            status, left = "voided", 0
        elif row.expires_at is not None and row.expires_at <= at:
            status, left = "expired", 0  # even before its expiry entry is written
        else:
            status = "active" if left > 0 else "used"
        return cls(
            row.grant_id,
            row.kind,
            row.credits,
            left,
            row.priority,
            row.expires_at,
            row.note,
            row.created_at,
            status,
        )


def create_grant(
    *, store: Store, account_id: str, request: GrantRequest, now: int | None = None
) -> tuple[Grant, bool]:
    """The grant, and whether it is new (False: the same request was granted before).
    `now`: the commit's clock (the demo replays its history with it); the journal never
    goes back, so a `now` before the account's last entry is dated at that entry."""
    now = now_ms() if now is None else now
    with store.write() as conn:
        if directory.get_account(conn, account_id) is None:
            raise NotFound(f"account {account_id!r} does not exist")
        book = Book.open(conn, account_id, now)
        existing = sql.grant(conn, account_id, request.grant_id)
        if existing is not None:
            if not request.same_as(existing):
                raise Conflict(
                    f"grant id {request.grant_id!r} is taken by a grant with other content"
                )
            book.close()
            return Grant.of(existing, book.now), False
        if request.expires_at is not None and request.expires_at <= book.now:
            raise InvalidInput("expires_at: must be in the future")
        row = book.add_grant(
            GrantRow(
                account_id,
                request.grant_id,
                request.kind,
                request.credits,
                0,
                request.priority,
                request.expires_at,
                request.note,
                0,
                now,
                None,
                None,
            )
        )
        book.close()
    return Grant.of(row, book.now), True


def list_grants(*, store: Store, account_id: str) -> list[Grant]:
    now = now_ms()
    with store.read() as conn:
        if directory.get_account(conn, account_id) is None:
            raise NotFound(f"account {account_id!r} does not exist")
        return [Grant.of(row, now) for row in sql.grants(conn, account_id)]


def void_grant(*, store: Store, account_id: str, grant_id: str, reason: str | None) -> Grant:
    """Removes what remains of the grant (a void entry); a grant already ended stays as
    it is. Answers the grant as it is now."""
    if reason is not None:  # the API and the CLI alike
        reason = inputs.text("reason", reason, 500)
    check_slug("account_id", account_id)
    if not inputs.CLIENT_ID.fullmatch(grant_id):  # no grant has such an id
        raise NotFound(f"grant {inputs.shown_id(grant_id)} does not exist")
    now = now_ms()
    with store.write() as conn:
        if directory.get_account(conn, account_id) is None:
            raise NotFound(f"account {account_id!r} does not exist")
        book = Book.open(conn, account_id, now)
        if sql.grant(conn, account_id, grant_id) is None:
            raise NotFound(f"grant {grant_id!r} does not exist")
        if grant_id in book.grants:
            book.void(grant_id, reason)
        book.close()
        row = sql.grant(conn, account_id, grant_id)
    assert row is not None
    return Grant.of(row, book.now)
