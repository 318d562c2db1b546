"""The most credits an account may hold in one 15-minute bucket, checked before a batch is
stored, so that no sum the store computes can pass what a 64-bit integer holds.

Rollups and SQL sums are 64-bit integers of micro-credits (at most about 9.22e12 credits).
A local day is at most 27 hours (Antarctica/Casey's clocks went back 3 h), 108 buckets, so
with at most LIMIT_MICRO per account and bucket no day row, bucket row or day's sum can come
near it; reports add days up in Python, whose integers have no bound. A batch that would
pass the limit is refused whole (400) and nothing of it is stored."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from .errors import InvalidInput
from .money import MICRO, format_credits
from .rollups import ALL_BOTS, BUCKET_MS, Rollups

LIMIT_CREDITS = 50_000_000_000
LIMIT_MICRO = LIMIT_CREDITS * MICRO
Totals = dict[tuple[str, int], int]  # (account_id, bucket) -> micro-credits, every category


def added(buckets: Rollups) -> Totals:
    """The credits `buckets` add to each account's account-wide bucket rows."""
    return {(a, b): sum(sums) for (a, bot, b), sums in buckets.items() if bot == ALL_BOTS}


def check(totals: Mapping[tuple[str, int], int]) -> None:
    """InvalidInput naming the first bucket whose total would pass the limit."""
    over = sorted(key for key, total in totals.items() if total > LIMIT_MICRO)
    if not over:
        return
    account_id, bucket = over[0]
    start = datetime.fromtimestamp(bucket // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    raise InvalidInput(
        f"credits: account {account_id!r} would hold {format_credits(totals[over[0]])} "
        f"credits in the 15 minutes from {start}; at most {LIMIT_CREDITS} credits per "
        f"account in any 15-minute interval (UTC) are stored, so nothing of this batch was "
        f"stored",
        buckets=[{"account_id": a, "start": b, "end": b + BUCKET_MS} for a, b in over[:10]],
    )


def merged(*parts: Mapping[tuple[str, int], int]) -> Totals:
    """The parts added up, key by key."""
    result: Totals = {}
    for part in parts:
        for key, value in part.items():
            result[key] = result.get(key, 0) + value
    return result
