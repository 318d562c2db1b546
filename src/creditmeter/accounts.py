"""Accounts: customer organisations, each with the time zone its days are counted in."""

from __future__ import annotations

import re

from .clock import now_ms
from .days import zone
from .errors import Conflict, InvalidInput, NotFound
from .rebuilds import follow_zone_change
from .store import Store, day_rebuild
from .store import directory as sql
from .store.directory import Account

SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
SLUG_RULE = "1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit"


def check_slug(field: str, value: str) -> str:
    if not SLUG.fullmatch(value):
        raise InvalidInput(f"{field}: {value!r} is not a valid id ({SLUG_RULE})")
    return value


def check_name(name: str) -> str:
    if not 1 <= len(name) <= 200 or not name.isprintable():
        raise InvalidInput("name: must be 1-200 printable characters")
    return name


def create_account(
    *, store: Store, account_id: str, name: str | None = None, timezone: str = "UTC"
) -> Account:
    check_slug("id", account_id)
    zone(timezone)
    account = Account(account_id, check_name(name or account_id), timezone, now_ms())
    with store.write() as conn:
        if not sql.insert_account(conn, account):
            raise Conflict(f"account {account_id!r} already exists")
    return account


def get_account(*, store: Store, account_id: str) -> Account:
    with store.read() as conn:
        account = sql.get_account(conn, account_id)
    if account is None:
        raise NotFound(f"account {account_id!r} does not exist")
    return account


def update_account(
    *, store: Store, account_id: str, name: str | None = None, timezone: str | None = None
) -> Account:
    changes: dict[str, str] = {}
    if name is not None:
        changes["name"] = check_name(name)
    if timezone is not None:
        zone(timezone)
        changes["timezone"] = timezone
    zone_change = None
    with store.write() as conn:
        before = sql.lock_account(conn, account_id)  # read-decide-write: serialised
        account = sql.update_account(conn, account_id, **changes)
        if before is not None and account is not None and before.timezone != account.timezone:
            zone_change = day_rebuild.zone_changed(conn, account_id)
    if account is None:
        raise NotFound(f"account {account_id!r} does not exist")
    if zone_change is not None:  # whole days follow the new zone, a chunk at a time
        follow_zone_change(store=store, account_id=account_id, version=zone_change)
    return account


def list_accounts(*, store: Store) -> list[Account]:
    with store.read() as conn:
        return sql.list_accounts(conn)


def list_bots(*, store: Store, account_id: str) -> list[str]:
    with store.read() as conn:
        return sql.list_bots(conn, account_id)
