"""Bills: credits per local day and per category, from rollups plus the raw edges.

A range is cut into local days (days.py). Each day's whole 15-minute buckets come from
the rollup table; only the parts of a day that do not cover a whole bucket (the
millisecond-exact ends of the range) are summed from raw events. So a report reads
O(days) rows, however many events an account has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from .categories import CATEGORIES
from .days import Day, count_days, days_between
from .errors import InvalidInput
from .store import Store
from .store.ledger import BUCKET_MS, Span, Sums, bucket_sums, raw_sums

PAGE_MAX_DAYS = 90
TOTAL_MAX_DAYS = 365


@dataclass(frozen=True, slots=True)
class DayBill:
    date: date
    credits: Sums  # micro-credits per category, in CATEGORIES order

    @property
    def total(self) -> int:
        return sum(self.credits)


@dataclass(frozen=True, slots=True)
class Window:
    """What a report is about: an account (or one of its bots) over an inclusive ms range."""

    account_id: str
    bot_id: str | None
    start_ms: int
    end_ms: int
    tz: ZoneInfo


def check_range(window: Window, max_days: int) -> int:
    """The number of local days the window touches; InvalidInput past `max_days`."""
    if window.end_ms < window.start_ms:
        raise InvalidInput("end_time: must not be before start_time")
    days = count_days(window.start_ms, window.end_ms, window.tz)
    if days > max_days:
        raise InvalidInput(
            f"start_time, end_time: the range touches {days} calendar days in {window.tz.key}; "
            f"at most {max_days} are allowed, so split it into several requests"
        )
    return days


def _spans(days: Sequence[Day]) -> tuple[list[Span], list[Span]]:
    """Each day's bucket-aligned middle, and the unaligned pieces at its ends."""
    aligned: list[Span] = []
    raw: list[Span] = []
    for i, day in enumerate(days):
        lo = -(-day.lo // BUCKET_MS) * BUCKET_MS  # first bucket edge at or after lo
        hi = day.hi // BUCKET_MS * BUCKET_MS  # last bucket edge at or before hi
        if lo >= hi:
            raw.append((i, day.lo, day.hi))
            continue
        aligned.append((i, lo, hi))
        if day.lo < lo:
            raw.append((i, day.lo, lo))
        if hi < day.hi:
            raw.append((i, hi, day.hi))
    return aligned, raw


def _sum_days(conn: Connection, window: Window, days: Sequence[Day]) -> list[DayBill]:
    aligned, raw = _spans(days)
    from_buckets = bucket_sums(conn, window.account_id, window.bot_id, aligned)
    from_events = raw_sums(conn, window.account_id, window.bot_id, raw)
    zero = [0] * len(CATEGORIES)
    bills = []
    for i, day in enumerate(days):
        a, b = from_buckets.get(i, zero), from_events.get(i, zero)
        bills.append(DayBill(day.date, [x + y for x, y in zip(a, b, strict=True)]))
    return bills


def bill_page(
    *, store: Store, window: Window, page: int, page_size: int
) -> tuple[list[DayBill], int]:
    """One page of day rows and the number of days in the whole window."""
    check_range(window, PAGE_MAX_DAYS)
    days = days_between(window.start_ms, window.end_ms, window.tz)
    wanted = days[(page - 1) * page_size : page * page_size]
    if not wanted:
        return [], len(days)
    with store.read() as conn:
        return _sum_days(conn, window, wanted), len(days)


def bill_total(*, store: Store, window: Window) -> tuple[date, date, Sums]:
    """The first and last local day of the window and its credits per category."""
    check_range(window, TOTAL_MAX_DAYS)
    days = days_between(window.start_ms, window.end_ms, window.tz)
    # One span over the whole window: the rollup part and the two raw ends.
    whole = [Day(days[0].date, window.start_ms, window.end_ms + 1)]
    with store.read() as conn:
        (bill,) = _sum_days(conn, window, whole)
    return days[0].date, days[-1].date, bill.credits
