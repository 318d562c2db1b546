"""Per-account revisions: what makes a cached answer valid in every process and on every
machine. Every transaction that changes what an account's answers depend on (its events and
rollups, its credits and holds, its zone) bumps the account's revision before it commits,
so the new revision and the change become visible together. A request reads its key, the
account it reads and that account's revision in one statement (LOOK_SQL), before anything
is computed; an answer cached at a revision is served only while the revision read is the
same, so it is never older than the last commit that finished before the request began.

Lock order on PostgreSQL: accounts (ingestion's FOR SHARE, a zone change's FOR UPDATE),
then account_revisions (bump, in account order), then credit_state. Ingestion locks the
rows its batch adds to (its events, conversation and run rollups, buckets, days) between
accounts and account_revisions: the rows concurrent batches share are held from there to
commit, so it takes them as late as it can (ingest/postgres.py)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from typing import Any, Final

from sqlalchemy import Connection

from .dialect import Dialect, dialect_of, run

_KEY_COLUMNS: Final = (
    "key_id, secret_hash, scope, account_id, bot_id, name, created_at, expires_at, revoked_at"
)
KEY_WIDTH: Final = 9  # columns of keys.Key, then those of accounts.Account, then the revision
ACCOUNT_WIDTH: Final = 4

_BUMP_SQLITE: Final = (
    "INSERT INTO account_revisions (account_id, revision)"
    " SELECT value, 1 FROM json_each(?) WHERE true"
    " ON CONFLICT (account_id) DO UPDATE SET revision = revision + 1"
)
_BUMP_POSTGRES: Final = (
    "INSERT INTO account_revisions (account_id, revision)"
    " SELECT a, 1 FROM unnest(%s::text[]) AS a ORDER BY a"
    " ON CONFLICT (account_id) DO UPDATE SET revision = account_revisions.revision + 1"
)


def bump(conn: Connection, account_ids: Iterable[str]) -> None:
    """Moves each account's revision on, in the caller's transaction (in account order, so
    concurrent writers lock alike)."""
    wanted = sorted(set(account_ids))
    if not wanted:
        return
    if dialect_of(conn).one_writer:
        run(conn, _BUMP_SQLITE, (json.dumps(wanted),))
    else:
        run(conn, _BUMP_POSTGRES, (wanted,))


@cache
def look_sql(dialect: Dialect) -> str:
    """The key by its id, the account it reads (its own, or for a platform key the one
    named) and that account's revision: one indexed statement, one row or none."""
    p = dialect.placeholder
    keys = ", ".join(f"k.{c.strip()}" for c in _KEY_COLUMNS.split(","))
    return (
        f"SELECT {keys}, a.id, a.name, a.timezone, a.created_at, COALESCE(r.revision, 0)"
        " FROM api_keys k"
        f" LEFT JOIN accounts a ON a.id = COALESCE(k.account_id, {p})"
        " LEFT JOIN account_revisions r ON r.account_id = a.id"
        f" WHERE k.key_id = {p}"
    )


MANY_LOOKS_SQL: Final = (
    "SELECT q.i - 1, "
    + ", ".join(f"k.{c.strip()}" for c in _KEY_COLUMNS.split(","))
    + ", a.id, a.name, a.timezone, a.created_at, COALESCE(r.revision, 0)"
    " FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS q(account_id, key_id, i)"
    " JOIN api_keys k ON k.key_id = q.key_id"
    " LEFT JOIN accounts a ON a.id = COALESCE(k.account_id, q.account_id)"
    " LEFT JOIN account_revisions r ON r.account_id = a.id"
)
"""look_sql for many looks at once (PostgreSQL): rows of (the look's index, its row)."""


def look(conn: Connection, key_id: str, account_id: str | None) -> tuple[Any, ...] | None:
    rows = run(conn, look_sql(dialect_of(conn)), (account_id, key_id))
    return rows[0] if rows else None


def revision(conn: Connection, account_id: str) -> int:
    """The account's revision as the caller's transaction sees it."""
    rows = run(
        conn,
        f"SELECT revision FROM account_revisions WHERE account_id = {dialect_of(conn).placeholder}",
        (account_id,),
    )
    return int(rows[0][0]) if rows else 0
