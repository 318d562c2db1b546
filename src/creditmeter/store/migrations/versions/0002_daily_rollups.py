"""Daily rollups in each account's own time zone, for O(days) reports of whole days.

Revision ID: 0002
Revises: 0001

Frozen: what it does depends on nothing but this file, the standard library and
SQLAlchemy, so a later change of the live code cannot change what it does to an old store.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

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
BUCKET_MS = 15 * 60 * 1000
ALL_BOTS = ""  # the bot_id of account-wide rows
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_COLUMNS = ", ".join(CATEGORIES)
ACCOUNTS_SQL = "SELECT id, timezone FROM accounts ORDER BY id"
BUCKETS_SQL = f"SELECT bot_id, bucket, {_COLUMNS} FROM usage_buckets WHERE account_id = :a"
EVENTS_SQL = (
    "SELECT bot_id, ts, category, credits FROM usage_events"
    " WHERE account_id = :a AND ts >= :lo AND ts < :hi"
)
INSERT_SQL = (
    f"INSERT INTO usage_days (account_id, bot_id, day, {_COLUMNS})"
    f" VALUES (:account_id, :bot_id, :day, {', '.join(':' + c for c in CATEGORIES)})"
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
    # Stores migrated from 0001 already hold events: build their days.
    conn = op.get_bind()
    for account_id, timezone in conn.execute(sa.text(ACCOUNTS_SQL)).all():
        rows = _days(conn, account_id, ZoneInfo(timezone))
        if rows:
            conn.execute(sa.text(INSERT_SQL), rows)


def _local(ms: int, tz: ZoneInfo) -> datetime:
    return (EPOCH + timedelta(milliseconds=ms)).astimezone(tz)


def _days(conn: sa.Connection, account_id: str, tz: ZoneInfo) -> list[dict[str, object]]:
    """The account's daily rollup rows: each 15-minute bucket (which holds the account-wide
    and the per-bot sums) goes whole to its local day, unless a clock change inside it
    makes its instants' days differ; then its raw events go each to their own day."""
    days: dict[tuple[str, int], list[int]] = {}
    for bot_id, bucket, *sums in conn.execute(sa.text(BUCKETS_SQL), {"a": account_id}):
        first, last = _local(bucket, tz), _local(bucket + BUCKET_MS - 1, tz)
        if first.date() == last.date() and first.utcoffset() == last.utcoffset():
            row = days.setdefault((bot_id, first.date().toordinal()), [0] * len(CATEGORIES))
            for c, value in enumerate(sums):
                row[c] += value
        elif bot_id == ALL_BOTS:  # the bucket's events, once: for their bot and account-wide
            window = {"a": account_id, "lo": bucket, "hi": bucket + BUCKET_MS}
            for bot, ts, category, credits in conn.execute(sa.text(EVENTS_SQL), window):
                day = _local(ts, tz).date().toordinal()
                for key in ((bot, day), (ALL_BOTS, day)):
                    days.setdefault(key, [0] * len(CATEGORIES))[category] += credits
    return [
        {
            "account_id": account_id,
            "bot_id": bot,
            "day": day,
            **dict(zip(CATEGORIES, sums, strict=True)),
        }
        for (bot, day), sums in sorted(days.items())
        if any(sums)
    ]


def downgrade() -> None:
    op.drop_table("usage_days")
