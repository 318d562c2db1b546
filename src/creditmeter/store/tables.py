"""The schema. Credits are BIGINT micro-credits; instants are BIGINT ms since the epoch."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
)

from ..categories import CATEGORIES

metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

bots = Table(
    "bots",
    metadata,
    Column("account_id", String(64), nullable=False),
    Column("bot_id", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("account_id", "bot_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("secret_hash", String(64), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("account_id", String(64), nullable=True),
    Column("bot_id", String(64), nullable=True),
    Column("name", String(200), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Index("ix_api_keys_account", "account_id"),
)

# The ledger itself: one row per event, exactly once by its primary key.
usage_events = Table(
    "usage_events",
    metadata,
    Column("account_id", String(64), nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("bot_id", String(64), nullable=False),
    Column("category", SmallInteger, nullable=False),
    Column("credits", BigInteger, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("conversation_id", String(256), nullable=True),
    Column("metadata", Text, nullable=True),
    PrimaryKeyConstraint("account_id", "event_id"),
    Index("ix_usage_events_account_ts", "account_id", "ts"),
    sqlite_with_rowid=False,
)

# Rollups written in the ingest transaction: credits per 15-minute UTC bucket, per bot and
# account-wide (bot_id ''). Every zone's day boundary since 2000 falls on a bucket edge.
usage_buckets = Table(
    "usage_buckets",
    metadata,
    Column("account_id", String(64), nullable=False),
    Column("bot_id", String(64), nullable=False),
    Column("bucket", BigInteger, nullable=False),
    *(Column(name, BigInteger, nullable=False) for name in CATEGORIES),
    PrimaryKeyConstraint("account_id", "bot_id", "bucket"),
    sqlite_with_rowid=False,
)

# Rollups per local day in the account's current time zone (day = date.toordinal()), per
# bot and account-wide; rebuilt from usage_buckets when the account's zone changes.
usage_days = Table(
    "usage_days",
    metadata,
    Column("account_id", String(64), nullable=False),
    Column("bot_id", String(64), nullable=False),
    Column("day", Integer, nullable=False),
    *(Column(name, BigInteger, nullable=False) for name in CATEGORIES),
    PrimaryKeyConstraint("account_id", "bot_id", "day"),
    sqlite_with_rowid=False,
)

# The credit tables join this metadata (hook: they live in a module of their own).
from . import credit_tables as _credit_tables  # noqa: E402, F401
