"""Hardening: the daily rollups of a zone change are rebuilt in chunks, each its own write
transaction, while a pending mark makes reports sum 15-minute buckets instead.

`accounts.zone_version` counts the account's zone changes; `accounts.days_version` is the
zone change its `usage_days` rows fully follow. They differ while a rebuild is pending.

Revision ID: 0003_hardening
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_hardening"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = ("zone_version", "days_version")


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("accounts", sa.Column(name, sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
