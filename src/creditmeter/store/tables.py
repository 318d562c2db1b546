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
    text,
)

from ..categories import CATEGORIES
from ..conversations import CONVERSATIONS, RUNS, Listing

metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # Zone changes made, and the one the daily rollups fully follow: they differ while the
    # rollups of a zone change are being rebuilt (rebuilds.py), and reports then do not
    # read usage_days.
    Column("zone_version", Integer, nullable=False, server_default="0"),
    Column("days_version", Integer, nullable=False, server_default="0"),
    Column("low_balance_threshold", BigInteger, nullable=True),  # micro-credits
)

# A counter per account, bumped (store/revisions.py) in every transaction that changes
# what a cached answer of the account depends on: caches hold an answer only while it is
# unchanged. No row reads as revision 0.
account_revisions = Table(
    "account_revisions",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("revision", BigInteger, nullable=False),
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
    Column("run_id", String(256), nullable=True),
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


def _credits_per(listing: Listing) -> Table:
    """Rollups per conversation (per run), written in the ingest transaction: its create
    time (earliest event), its latest event and its credits per field of the list. The
    page index gives the newest-first order of the list directly (ties by id, then bot)."""
    table = listing.table
    return Table(
        table,
        metadata,
        Column("account_id", String(64), nullable=False),
        Column(listing.id_field, String(256), nullable=False),
        Column("bot_id", String(64), nullable=False),
        Column("created_at", BigInteger, nullable=False),
        Column("last_at", BigInteger, nullable=False),
        *(Column(name, BigInteger, nullable=False) for name in listing.categories),
        PrimaryKeyConstraint("account_id", listing.id_field, "bot_id"),
        Index(
            f"ix_{table}_page", "account_id", text("created_at DESC"), listing.id_field, "bot_id"
        ),
        Index(
            f"ix_{table}_bot_page",
            "account_id",
            "bot_id",
            text("created_at DESC"),
            listing.id_field,
        ),
        sqlite_with_rowid=False,
    )


conversation_credits = _credits_per(CONVERSATIONS)
run_credits = _credits_per(RUNS)


def _counts_per(name: str, span: str) -> Table:
    """How many conversations (runs) were created per `span` of create time (a UTC hour or
    day, in ms), per bot and account-wide (bot_id '')."""
    return Table(
        name,
        metadata,
        Column("account_id", String(64), nullable=False),
        Column("list", String(32), nullable=False),
        Column("bot_id", String(64), nullable=False),
        Column(span, BigInteger, nullable=False),
        Column("n", BigInteger, nullable=False),
        PrimaryKeyConstraint("account_id", "list", "bot_id", span),
        sqlite_with_rowid=False,
    )


# The lists' top-level total without counting a month of rollups: a month reads ~30 daily
# counts (their hours' sums), and hourly ones only at the ends of the range.
thread_counts = _counts_per("thread_counts", "hour")
thread_day_counts = _counts_per("thread_day_counts", "day")


# Credit balances (docs/credits.md): the journal head, grants, the journal and its
# allocations, holds.

# One row per account that has a journal: its last seq and entry time, and its overage.
# On PostgreSQL every writer of an account's credits locks this row (FOR UPDATE) first.
credit_state = Table(
    "credit_state",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("overage", BigInteger, nullable=False),
    # The account's balance alert (none, low, depleted), decided under this row's lock.
    Column("alert", String(8), nullable=False, server_default="none"),
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


# Balance alerts (docs/webhooks.md): endpoints, the outbox of events written in the
# transaction of the entry that caused them, one delivery per endpoint and event, and every
# attempt made.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("url", Text, nullable=False),
    Column("events", Text, nullable=False),  # the types subscribed to, comma-separated
    Column("status", String(8), nullable=False),  # enabled, disabled
    Column("secret", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("account_id", String(64), nullable=False),
    Column("payload", Text, nullable=False),  # the body as sent on every attempt
    Index("ix_webhook_events_account", "account_id", "created_at"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("endpoint_id", String(32), nullable=False),
    Column("event_id", String(40), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("state", String(10), nullable=False),  # pending, delivered, failed
    Column("attempts", Integer, nullable=False),  # in all
    Column("round_attempts", Integer, nullable=False),  # since created or redelivered
    Column("next_attempt_at", BigInteger, nullable=False),
    # The process attempting it, and until when its claim (lease) holds.
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_until", BigInteger, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_excerpt", Text, nullable=True),
    Column("last_attempt_at", BigInteger, nullable=True),
    PrimaryKeyConstraint("endpoint_id", "event_id"),
    Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("endpoint_id", String(32), nullable=False),
    Column("event_id", String(40), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("status", Integer, nullable=True),  # None: no HTTP answer (refused, timeout)
    Column("excerpt", Text, nullable=True),  # the start of the answer; never the secret
    Column("duration_ms", Integer, nullable=False),
    PrimaryKeyConstraint("endpoint_id", "event_id", "attempt"),
)
