"""SQL for who is who: accounts, bots and API keys."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, exc, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .tables import accounts, api_keys, bots


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    timezone: str
    created_at: int


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    secret_hash: str
    scope: str
    account_id: str | None
    bot_id: str | None
    name: str | None
    created_at: int
    expires_at: int | None
    revoked_at: int | None


_ACCOUNT = (accounts.c.id, accounts.c.name, accounts.c.timezone, accounts.c.created_at)


def insert_account(conn: Connection, account: Account) -> bool:
    """False when the id is taken (the primary key decides, not a look-up)."""
    try:
        with conn.begin_nested():
            conn.execute(accounts.insert().values(**_fields(account)))
    except exc.IntegrityError:
        return False
    return True


def get_account(conn: Connection, account_id: str) -> Account | None:
    row = conn.execute(select(*_ACCOUNT).where(accounts.c.id == account_id)).one_or_none()
    return Account(*row) if row else None


def lock_account(conn: Connection, account_id: str) -> Account | None:
    """The account, locked until the transaction ends, so that what the transaction decides
    from it (a zone change and its rebuild) cannot be raced by another writer of the same
    account. PostgreSQL: `FOR UPDATE`, which also waits for ingestion holding the row `FOR
    SHARE` (account_zones). SQLite: the write transaction (BEGIN IMMEDIATE) is exclusive
    already, so a plain read cannot be raced."""
    query = select(*_ACCOUNT).where(accounts.c.id == account_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).one_or_none()
    return Account(*row) if row else None


def list_accounts(conn: Connection) -> list[Account]:
    return [Account(*row) for row in conn.execute(select(*_ACCOUNT).order_by(accounts.c.id))]


def account_zones(conn: Connection, ids: Iterable[str]) -> dict[str, str]:
    """The time zone of each existing account among `ids`. On PostgreSQL the rows are share-
    locked, so a change of zone (which rebuilds the daily rollups) waits for this
    transaction, and this one for it."""
    wanted = sorted(set(ids))
    if conn.dialect.name == "postgresql":
        sql = "SELECT id, timezone FROM accounts WHERE id = ANY(%s) ORDER BY id FOR SHARE"
        return {row[0]: row[1] for row in conn.exec_driver_sql(sql, [(wanted,)])}
    # One statement text for any number of ids (SQLite prepares it once), and one row.
    sql = (
        "SELECT json_group_object(id, timezone) FROM accounts"
        " WHERE id IN (SELECT value FROM json_each(?))"
    )
    found: dict[str, str] = json.loads(
        conn.exec_driver_sql(sql, [(json.dumps(wanted),)]).scalar_one()
    )
    return found


def update_account(conn: Connection, account_id: str, **changes: str) -> Account | None:
    if changes:
        conn.execute(update(accounts).where(accounts.c.id == account_id).values(**changes))
    return get_account(conn, account_id)


def list_bots(conn: Connection, account_id: str) -> list[str]:
    query = select(bots.c.bot_id).where(bots.c.account_id == account_id).order_by(bots.c.bot_id)
    return list(conn.execute(query).scalars())


def ensure_bots(conn: Connection, pairs: Iterable[tuple[str, str]], now_ms: int) -> None:
    """Records that these (account_id, bot_id) exist; sorted so concurrent writers lock alike."""
    rows = [{"account_id": a, "bot_id": b, "created_at": now_ms} for a, b in sorted(set(pairs))]
    if rows:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(insert(bots).on_conflict_do_nothing(), rows)


def insert_key(conn: Connection, key: KeyRecord) -> None:
    conn.execute(api_keys.insert().values(**_fields(key)))


def get_key(conn: Connection, key_id: str) -> KeyRecord | None:
    row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).one_or_none()
    return KeyRecord(*row) if row else None


def list_keys(conn: Connection, account_id: str | None) -> list[KeyRecord]:
    query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.key_id)
    if account_id is not None:
        query = query.where(api_keys.c.account_id == account_id)
    return [KeyRecord(*row) for row in conn.execute(query)]


def revoke_key(conn: Connection, key_id: str, now_ms: int) -> bool:
    """Marks the key revoked (keeping the first revocation time); False if there is none."""
    result = conn.execute(
        update(api_keys)
        .where(api_keys.c.key_id == key_id)
        .values(revoked_at=func.coalesce(api_keys.c.revoked_at, now_ms))
    )
    return bool(result.rowcount)


def _fields(record: Account | KeyRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in record.__slots__}
