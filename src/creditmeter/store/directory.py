"""SQL for who is who: accounts, bots and API keys. It takes and answers rows in the
columns' order; the records (accounts.Account, keys.Key) are made by their services."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Row, exc, func, select, update

from .dialect import dialect_of
from .tables import accounts, api_keys, bots

# The columns of accounts.Account (the table also holds the zone-change marks of day_rebuild).
_ACCOUNT = (
    accounts.c.id,
    accounts.c.name,
    accounts.c.timezone,
    accounts.c.created_at,
    accounts.c.low_balance_threshold,
)


def insert_account(conn: Connection, account: Mapping[str, object]) -> bool:
    """False when the id is taken (the primary key decides, not a look-up)."""
    try:
        with conn.begin_nested():
            conn.execute(accounts.insert().values(**account))
    except exc.IntegrityError:
        return False
    return True


def get_account(conn: Connection, account_id: str) -> Row[Any] | None:
    return conn.execute(select(*_ACCOUNT).where(accounts.c.id == account_id)).one_or_none()


def lock_account(conn: Connection, account_id: str) -> Row[Any] | None:
    """The account, locked until the transaction ends, so that what the transaction decides
    from it (a zone change and its rebuild) cannot be raced by another writer of the same
    account. Where writers run at once (PostgreSQL): `FOR UPDATE`, which also waits for
    ingestion holding the row `FOR SHARE` (account_zones). Where they run one at a time
    (SQLite's BEGIN IMMEDIATE), a plain read in the write transaction cannot be raced."""
    query = select(*_ACCOUNT).where(accounts.c.id == account_id)
    if not dialect_of(conn).one_writer:
        query = query.with_for_update()
    return conn.execute(query).one_or_none()


def list_accounts(conn: Connection) -> list[Row[Any]]:
    return list(conn.execute(select(*_ACCOUNT).order_by(accounts.c.id)))


def account_zones(conn: Connection, ids: Iterable[str]) -> dict[str, str]:
    """The time zone of each existing account among `ids`. On PostgreSQL the rows are share-
    locked, so a change of zone (which rebuilds the daily rollups) waits for this
    transaction, and this one for it."""
    wanted = sorted(set(ids))
    if not dialect_of(conn).one_writer:
        return {row[0]: row[1] for row in conn.exec_driver_sql(_LOCKED_ZONES, [(wanted,)])}
    found: dict[str, str] = json.loads(
        conn.exec_driver_sql(_ZONES_AS_JSON, [(json.dumps(wanted),)]).scalar_one()
    )
    return found


_LOCKED_ZONES = "SELECT id, timezone FROM accounts WHERE id = ANY(%s) ORDER BY id FOR SHARE"
# One statement text for any number of ids (SQLite prepares it once), and one row.
_ZONES_AS_JSON = (
    "SELECT json_group_object(id, timezone) FROM accounts"
    " WHERE id IN (SELECT value FROM json_each(?))"
)


def update_account(
    conn: Connection, account_id: str, **changes: str | int | None
) -> Row[Any] | None:
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
        conn.execute(dialect_of(conn).insert(bots).on_conflict_do_nothing(), rows)


def insert_key(conn: Connection, key: Mapping[str, object]) -> None:
    conn.execute(api_keys.insert().values(**key))


def get_key(conn: Connection, key_id: str) -> Row[Any] | None:
    return conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).one_or_none()


def list_keys(conn: Connection, account_id: str | None) -> list[Row[Any]]:
    query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.key_id)
    if account_id is not None:
        query = query.where(api_keys.c.account_id == account_id)
    return list(conn.execute(query))


def revoke_key(conn: Connection, key_id: str, now_ms: int) -> bool:
    """Marks the key revoked (keeping the first revocation time); False if there is none."""
    result = conn.execute(
        update(api_keys)
        .where(api_keys.c.key_id == key_id)
        .values(revoked_at=func.coalesce(api_keys.c.revoked_at, now_ms))
    )
    return bool(result.rowcount)
