"""Daily rollups in each account's own time zone, for O(days) reports of whole days.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
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
        "usage_days",
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("bot_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        *(sa.Column(name, sa.BigInteger, nullable=False) for name in CATEGORIES),
        sa.PrimaryKeyConstraint("account_id", "bot_id", "day"),
        sqlite_with_rowid=False,
    )
    # Stores migrated from 0001 already hold events: build their days from the buckets.
    conn = op.get_bind()
    from creditmeter.rebuilds import rebuild_days

    accounts = conn.execute(sa.text("SELECT id, timezone FROM accounts")).all()
    for account_id, timezone in accounts:
        rebuild_days(conn, account_id, timezone)


def downgrade() -> None:
    op.drop_table("usage_days")
