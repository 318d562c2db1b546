"""`creditmeter report --conversations|--runs`: a range's most expensive conversations or
workflow runs, as a table for operators."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.table import Table

from .conversations import CONVERSATIONS, RUNS
from .money import format_credits
from .store import Store, conversation_credits


def thread_table(
    store: Store,
    account_id: str,
    bot_id: str | None,
    kind: str,
    start_ms: int,
    end_ms: int,
    limit: int,
) -> Table:
    """The `limit` conversations (runs) created in [start_ms, end_ms] with the most credits."""
    listing = CONVERSATIONS if kind == "conversations" else RUNS
    selection = conversation_credits.Selection(account_id, bot_id, None, start_ms, end_ms)
    with store.read() as conn:
        rows = conversation_credits.most_expensive(conn, listing, selection, limit=limit, offset=0)
        total = conversation_credits.count(conn, listing, selection)
    table = Table(
        listing.id_field,
        "bot_id",
        listing.time_field,
        "total",
        *listing.categories,
        title=f"{account_id}: the {len(rows)} most expensive of {total} {kind}",
    )
    for thread_id, bot, (created_at, _last_at, *credits) in rows:
        created = datetime.fromtimestamp(created_at / 1000, UTC).isoformat(timespec="milliseconds")
        table.add_row(
            thread_id,
            bot,
            created.replace("+00:00", "Z"),
            format_credits(sum(credits)),
            *map(format_credits, credits),
        )
    return table
