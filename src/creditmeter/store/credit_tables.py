"""The credit tables (grants, the journal and its allocations, holds), on tables.metadata.
Credits are BIGINT micro-credits; instants BIGINT ms since the epoch."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, PrimaryKeyConstraint, String, Table, Text

from .tables import metadata

# One row per account that has a journal: its last seq and entry time, and its overage.
# On PostgreSQL every writer of an account's credits locks this row (FOR UPDATE) first.
credit_state = Table(
    "credit_state",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("overage", BigInteger, nullable=False),
)

credit_grants = Table(
    "credit_grants",
    metadata,
    Column("account_id", String(64), nullable=False),
    Column("grant_id", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("credits", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("note", Text, nullable=True),
    Column("created_seq", BigInteger, nullable=False),  # the seq of its grant entry
    Column("created_at", BigInteger, nullable=False),
    Column("ended", String(8), nullable=True),  # 'expired' or 'voided' once its entry is written
    Column("ended_at", BigInteger, nullable=True),
    PrimaryKeyConstraint("account_id", "grant_id"),
    Index("ix_credit_grants_expiry", "expires_at"),
)

credit_entries = Table(
    "credit_entries",
    metadata,
    Column("account_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("type", String(8), nullable=False),
    Column("credits", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("overage_after", BigInteger, nullable=False),
    Column("grant_id", String(128), nullable=True),
    Column("events_count", Integer, nullable=True),
    Column("first_id", String(128), nullable=True),
    Column("last_id", String(128), nullable=True),
    Column("note", Text, nullable=True),
    PrimaryKeyConstraint("account_id", "seq"),
    Index("ix_credit_entries_time", "account_id", "time"),
)

credit_allocations = Table(
    "credit_allocations",
    metadata,
    Column("account_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("grant_id", String(128), nullable=False),
    Column("credits", BigInteger, nullable=False),
    PrimaryKeyConstraint("account_id", "seq", "grant_id"),
)

credit_holds = Table(
    "credit_holds",
    metadata,
    Column("hold_id", String(128), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("credits", BigInteger, nullable=False),
    Column("expires_in_s", Integer, nullable=False),
    Column("status", String(8), nullable=False),  # active, released, settled
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),
    Index("ix_credit_holds_account", "account_id", "status"),
)
