"""Accounts: customer organisations, each with the time zone its days are counted in."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Final

from sqlalchemy import Connection

from .clock import now_ms
from .days import zone
from .errors import Conflict, NotFound
from .ids import check_slug
from .labels import ACCOUNT_NAME_MAX, check_label
from .rebuilds import follow_zone_change
from .store import Store, day_rebuild, directory, revisions


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    timezone: str
    created_at: int
    low_balance_threshold: int | None = None  # micro-credits (webhooks.md)


def stored_account(conn: Connection, account_id: str) -> Account | None:
    """The account as stored, read in the caller's transaction."""
    row = directory.get_account(conn, account_id)
    return None if row is None else Account(*row)


def check_name(name: str) -> str:
    return check_label("name", name, max_length=ACCOUNT_NAME_MAX)


# Keeps a PATCH's "not given" apart from null (which clears the threshold).
UNCHANGED: Final = -1


def create_account(
    *,
    store: Store,
    account_id: str,
    name: str | None = None,
    timezone: str = "UTC",
    low_balance_threshold: int | None = None,
) -> Account:
    check_slug("id", account_id)
    zone(timezone)
    account = Account(
        account_id, check_name(name or account_id), timezone, now_ms(), low_balance_threshold
    )
    with store.write() as conn:
        if not directory.insert_account(conn, asdict(account)):
            raise Conflict(f"account {account_id!r} already exists")
    return account


def get_account(*, store: Store, account_id: str) -> Account:
    check_slug("account_id", account_id)
    with store.read() as conn:
        account = stored_account(conn, account_id)
    if account is None:
        raise NotFound(f"account {account_id!r} does not exist")
    return account


def update_account(
    *,
    store: Store,
    account_id: str,
    name: str | None = None,
    timezone: str | None = None,
    low_balance_threshold: int | None = UNCHANGED,
) -> Account:
    """Changes the fields given; `low_balance_threshold` None clears it. A new threshold
    decides from the account's next journal entry on (a change alone sends no alert)."""
    check_slug("account_id", account_id)
    changes: dict[str, str | int | None] = {}
    if low_balance_threshold != UNCHANGED:
        changes["low_balance_threshold"] = low_balance_threshold
    if name is not None:
        changes["name"] = check_name(name)
    if timezone is not None:
        zone(timezone)
        changes["timezone"] = timezone
    zone_change = None
    with store.write() as conn:
        locked = directory.lock_account(conn, account_id)  # read-decide-write: serialised
        if locked is not None:
            revisions.bump(conn, [account_id])  # cached answers of the old zone or name
        before = None if locked is None else Account(*locked)
        row = directory.update_account(conn, account_id, **changes)
        account = None if row is None else Account(*row)
        if before is not None and account is not None and before.timezone != account.timezone:
            zone_change = day_rebuild.zone_changed(conn, account_id)
    if account is None:
        raise NotFound(f"account {account_id!r} does not exist")
    if zone_change is not None:  # whole days follow the new zone, a chunk at a time
        follow_zone_change(store=store, account_id=account_id, version=zone_change)
    return account


def list_accounts(*, store: Store) -> list[Account]:
    with store.read() as conn:
        return [Account(*row) for row in directory.list_accounts(conn)]


def list_bots(*, store: Store, account_id: str) -> list[str]:
    check_slug("account_id", account_id)
    with store.read() as conn:
        return directory.list_bots(conn, account_id)
