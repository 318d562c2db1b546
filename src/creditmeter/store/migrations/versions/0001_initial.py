"""The initial ledger: accounts, bots, keys, events and 15-minute rollups.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

CATEGORIES = (
    "chat",
    "knowledge_doc_indexing",
    "knowledge_doc_storage",
    "rerank",
    "database_processing",
    "tool_call",
    "asr",
    "tts",
)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "bots",
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("bot_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "bot_id"),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=True),
        sa.Column("bot_id", sa.String(64), nullable=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_api_keys_account", "api_keys", ["account_id"])
    op.create_table(
        "usage_events",
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("bot_id", sa.String(64), nullable=False),
        sa.Column("category", sa.SmallInteger, nullable=False),
        sa.Column("credits", sa.BigInteger, nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("conversation_id", sa.String(256), nullable=True),
        sa.Column("metadata", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("account_id", "event_id"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_usage_events_account_ts", "usage_events", ["account_id", "ts"])
    op.create_table(
        "usage_buckets",
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("bot_id", sa.String(64), nullable=False),
        sa.Column("bucket", sa.BigInteger, nullable=False),
        *(sa.Column(name, sa.BigInteger, nullable=False) for name in CATEGORIES),
        sa.PrimaryKeyConstraint("account_id", "bot_id", "bucket"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    for table in ("usage_buckets", "usage_events", "api_keys", "bots", "accounts"):
        op.drop_table(table)
