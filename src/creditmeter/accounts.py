"""Accounts: customer organisations, each with the time zone its days are counted in."""

from __future__ import annotations

import re

from .bills import rebuild_days
from .clock import now_ms
from .days import zone
from .errors import Conflict, InvalidInput, NotFound
from .labels import ACCOUNT_NAME_MAX, check_label
from .store import Store
from .store import directory as sql
from .store.directory import Account

SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
SLUG_RULE = "1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit"


def check_slug(field: str, value: str) -> str:
    if not SLUG.fullmatch(value):
        raise InvalidInput(f"{field}: {value!r} is not a valid id ({SLUG_RULE})")
    return value


def check_name(name: str) -> str:
    return check_label("name", name, max_length=ACCOUNT_NAME_MAX)


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
    check_slug("account_id", account_id)
    with store.read() as conn:
        account = sql.get_account(conn, account_id)
    if account is None:
        raise NotFound(f"account {account_id!r} does not exist")
    return account


def update_account(
    *, store: Store, account_id: str, name: str | None = None, timezone: str | None = None
) -> Account:
    check_slug("account_id", account_id)
    changes: dict[str, str] = {}
    if name is not None:
        changes["name"] = check_name(name)
    if timezone is not None:
        zone(timezone)
        changes["timezone"] = timezone
    with store.write() as conn:
        before = sql.get_account(conn, account_id)
        account = sql.update_account(conn, account_id, **changes)
        if before is not None and account is not None and before.timezone != account.timezone:
            rebuild_days(conn, account_id, account.timezone)  # whole days follow the new zone
    if account is None:
        raise NotFound(f"account {account_id!r} does not exist")
    return account


def list_accounts(*, store: Store) -> list[Account]:
    with store.read() as conn:
        return sql.list_accounts(conn)


def list_bots(*, store: Store, account_id: str) -> list[str]:
    check_slug("account_id", account_id)
    with store.read() as conn:
        return sql.list_bots(conn, account_id)
