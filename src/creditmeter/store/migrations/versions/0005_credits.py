"""Credit balances: grants, the journal with per-grant allocations, holds.

Revision ID: 0005_credits
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_credits"
down_revision = "0004_conversations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_state",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("overage", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "credit_grants",
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("grant_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("credits", sa.BigInteger, nullable=False),
        sa.Column("remaining", sa.BigInteger, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("created_seq", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("ended", sa.String(8), nullable=True),
        sa.Column("ended_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("account_id", "grant_id"),
    )
    op.create_index("ix_credit_grants_expiry", "credit_grants", ["expires_at"])
    op.create_table(
        "credit_entries",
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("credits", sa.BigInteger, nullable=False),
        sa.Column("balance_after", sa.BigInteger, nullable=False),
        sa.Column("overage_after", sa.BigInteger, nullable=False),
        sa.Column("grant_id", sa.String(128), nullable=True),
        sa.Column("events_count", sa.Integer, nullable=True),
        sa.Column("first_id", sa.String(128), nullable=True),
        sa.Column("last_id", sa.String(128), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("account_id", "seq"),
    )
    op.create_index("ix_credit_entries_time", "credit_entries", ["account_id", "time"])
    op.create_table(
        "credit_allocations",
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("grant_id", sa.String(128), nullable=False),
        sa.Column("credits", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "seq", "grant_id"),
    )
    op.create_table(
        "credit_holds",
        sa.Column("hold_id", sa.String(128), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("credits", sa.BigInteger, nullable=False),
        sa.Column("expires_in_s", sa.Integer, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("ended_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_credit_holds_account", "credit_holds", ["account_id", "status"])


def downgrade() -> None:
    for table in (
        "credit_holds",
        "credit_allocations",
        "credit_entries",
        "credit_grants",
        "credit_state",
    ):
        op.drop_table(table)
