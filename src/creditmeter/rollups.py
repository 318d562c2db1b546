"""Rollup arithmetic: events' credits per 15-minute UTC bucket and per local day, per bot
and account-wide. Pure: the store adds what this computes to its tables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from operator import add

from .categories import BILL_COLUMN, CATEGORIES
from .days import bucket_day, day_number
from .events import Event

BUCKET_MS = 15 * 60 * 1000
ALL_BOTS = ""  # the bot_id of account-wide rollup rows

Sums = list[int]  # micro-credits per category, in CATEGORIES order
Rollups = dict[tuple[str, str, int], Sums]  # (account_id, bot_id, bucket or day) -> sums


def bucket_rollups(events: Iterable[Event]) -> Rollups:
    """The events' credits per 15-minute bucket, per bot and account-wide."""
    width = len(CATEGORIES)
    buckets: Rollups = {}
    for account_id, _, bot_id, category, credits, ts, *_ in events:
        bucket = ts - ts % BUCKET_MS
        column = BILL_COLUMN[category]  # the three counted in chat go to its column
        for key in ((account_id, bot_id, bucket), (account_id, ALL_BOTS, bucket)):
            row = buckets.get(key)
            if row is None:
                row = buckets[key] = [0] * width
            row[column] += credits
    return buckets


def merge_rollups(into: Rollups, more: Rollups) -> None:
    """Adds `more` to `into`."""
    for key, sums in more.items():
        _add(into, key, sums)


def _add(rollups: Rollups, key: tuple[str, str, int], sums: Sums) -> None:
    row = rollups.get(key)
    if row is None:
        rollups[key] = sums.copy()  # `sums` stays its caller's
    else:
        row[:] = map(add, row, sums)


def day_rollups(buckets: Rollups, events: Iterable[Event], zones: Mapping[str, str]) -> Rollups:
    """The credits of `buckets` (the bucket_rollups of `events`) per local day in their
    account's zone. A bucket lies within one day, unless a clock change inside it makes
    its instants' dates differ: the events of such a bucket are each put in their own."""
    width = len(CATEGORIES)
    days: Rollups = {}
    split: set[tuple[str, int]] = set()
    day_of: dict[tuple[str, int], int] = {}  # a bucket's day, for each of its bots' rows
    for (account_id, bot_id, bucket), sums in buckets.items():
        day = day_of.get((account_id, bucket))
        if day is None:
            day = day_of[(account_id, bucket)] = bucket_day(bucket, zones[account_id])
        if day < 0:
            split.add((account_id, bucket))
            continue
        _add(days, (account_id, bot_id, day), sums)
    for event in events if split else ():
        if (event.account_id, event.ts - event.ts % BUCKET_MS) in split:
            day = day_number(event.ts, zones[event.account_id])
            for key in ((event.account_id, event.bot_id, day), (event.account_id, ALL_BOTS, day)):
                days.setdefault(key, [0] * width)[BILL_COLUMN[event.category]] += event.credits
    return days
