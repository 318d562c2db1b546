"""Per-account revisions: a counter bumped in the same transaction as anything a cached
answer of the account depends on (its usage, its credits, its zone), so that caches of every
process and machine stay valid exactly while it is unchanged (docs/design.md).

Revision ID: 0007_revisions
Revises: 0006_webhooks
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_revisions"
down_revision = "0006_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No row is revision 0: a store upgraded with processes of the old version still
    # running cannot be cached against, since those processes do not bump (deploy.md).
    op.create_table(
        "account_revisions",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("account_revisions")
