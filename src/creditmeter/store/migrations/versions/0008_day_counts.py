"""Conversations (runs) created per UTC day, beside the hourly counts: a list's top-level
total of a 30-day range reads ~30 daily and at most 46 hourly rows instead of ~720 hourly
ones (docs/benchmarks.md). Filled from the hourly counts, which they sum exactly.

Old processes do not write the daily counts: stop them before this upgrade (deploy.md).

Revision ID: 0008_day_counts
Revises: 0007_revisions
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_day_counts"
down_revision = "0007_revisions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "thread_day_counts",
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("list", sa.String(32), nullable=False),
        sa.Column("bot_id", sa.String(64), nullable=False),
        sa.Column("day", sa.BigInteger, nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "list", "bot_id", "day"),
        sqlite_with_rowid=False,
    )
    day = "hour - hour % 86400000"
    op.execute(
        "INSERT INTO thread_day_counts (account_id, list, bot_id, day, n)"
        f" SELECT account_id, list, bot_id, {day}, SUM(n) FROM thread_counts"
        f" GROUP BY account_id, list, bot_id, {day}"
    )


def downgrade() -> None:
    op.drop_table("thread_day_counts")
