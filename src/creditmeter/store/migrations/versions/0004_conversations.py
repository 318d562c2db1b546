"""Run ids on events, and rollups per agent conversation and per workflow run.

Existing events keep their meaning: the eight categories keep their numbers, no event has
a run id yet, and the rollups of the conversations already stored are built from them.

Revision ID: 0004_conversations
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_conversations"
down_revision = "0003_hardening"
branch_labels = None
depends_on = None

# event category numbers (their index in the contract's order of the eleven)
_NUMBER = {
    "chat": 0,
    "knowledge_doc_indexing": 1,
    "knowledge_doc_storage": 2,
    "rerank": 3,
    "database_processing": 4,
    "tool_call": 5,
    "asr": 6,
    "tts": 7,
    "anonymization": 8,
    "question_tag": 9,
    "moderation": 10,
}
CONVERSATION_FIELDS = (
    "chat",
    "anonymization",
    "asr",
    "tts",
    "rerank",
    "database_processing",
    "tool_call",
    "knowledge_doc_indexing",
    "question_tag",
    "moderation",
)
LISTS = (
    ("conversation_credits", "conversation_id", CONVERSATION_FIELDS),
    ("run_credits", "run_id", CONVERSATION_FIELDS[:-1]),
)


def upgrade() -> None:
    op.add_column("usage_events", sa.Column("run_id", sa.String(256), nullable=True))
    for table, id_field, fields in LISTS:
        op.create_table(
            table,
            sa.Column("account_id", sa.String(64), nullable=False),
            sa.Column(id_field, sa.String(256), nullable=False),
            sa.Column("bot_id", sa.String(64), nullable=False),
            sa.Column("created_at", sa.BigInteger, nullable=False),
            sa.Column("last_at", sa.BigInteger, nullable=False),
            *(sa.Column(name, sa.BigInteger, nullable=False) for name in fields),
            sa.PrimaryKeyConstraint("account_id", id_field, "bot_id"),
            sqlite_with_rowid=False,
        )
        op.create_index(
            f"ix_{table}_page",
            table,
            ["account_id", sa.text("created_at DESC"), id_field, "bot_id"],
        )
        op.create_index(
            f"ix_{table}_bot_page",
            table,
            ["account_id", "bot_id", sa.text("created_at DESC"), id_field],
        )
    op.create_table(
        "thread_counts",
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("list", sa.String(32), nullable=False),
        sa.Column("bot_id", sa.String(64), nullable=False),
        sa.Column("hour", sa.BigInteger, nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "list", "bot_id", "hour"),
        sqlite_with_rowid=False,
    )
    # The conversations stored so far (runs are new). An event of a category that is not a
    # field of the list (knowledge_doc_storage) is left out, as ingestion now refuses it.
    sums = ", ".join(
        f"SUM(CASE WHEN category = {_NUMBER[name]} THEN credits ELSE 0 END)"
        for name in CONVERSATION_FIELDS
    )
    numbers = ", ".join(str(_NUMBER[name]) for name in CONVERSATION_FIELDS)
    op.execute(
        f"INSERT INTO conversation_credits (account_id, conversation_id, bot_id, created_at,"
        f" last_at, {', '.join(CONVERSATION_FIELDS)})"
        f" SELECT account_id, conversation_id, bot_id, MIN(ts), MAX(ts), {sums}"
        f" FROM usage_events WHERE conversation_id IS NOT NULL AND category IN ({numbers})"
        " GROUP BY account_id, conversation_id, bot_id"
    )
    hour = "created_at - created_at % 3600000"
    for bot, group in (("bot_id", ", bot_id"), ("''", "")):
        op.execute(
            "INSERT INTO thread_counts (account_id, list, bot_id, hour, n)"
            f" SELECT account_id, 'conversation_credits', {bot}, {hour}, COUNT(*)"
            f" FROM conversation_credits GROUP BY account_id{group}, {hour}"
        )


def downgrade() -> None:
    op.drop_table("thread_counts")
    for table, _, _ in LISTS:
        op.drop_table(table)
    op.drop_column("usage_events", "run_id")
