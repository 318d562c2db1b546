"""Bills: credits per local day and per category, from rollups plus the raw edges.

A range is cut into local days (days.py). Each day's whole 15-minute buckets come from
the rollup table; only the parts of a day that do not cover a whole bucket (the
millisecond-exact ends of the range) are summed from raw events. So a report reads
O(days) rows, however many events an account has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from .cache import GenerationCache
from .categories import CATEGORIES
from .days import Day, days_between, naive_day_count, whole_day
from .errors import InvalidInput
from .rollups import BUCKET_MS, Sums
from .store import Store
from .store.day_rebuild import days_zone
from .store.sums import Span, bucket_sums, day_sums, raw_sums

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
    account_tz: str  # the account's own zone: its whole days are read from daily rollups


def window_days(window: Window, max_days: int) -> list[Day]:
    """The local days the window touches; InvalidInput when it is reversed or touches more
    than `max_days`."""
    if window.end_ms < window.start_ms:
        raise InvalidInput("end_time: must not be before start_time")
    # A very long range is refused before its days are listed (a clock set back across
    # midnight moves a count by at most one day at either end).
    count = naive_day_count(window.start_ms, window.end_ms, window.tz)
    days = days_between(window.start_ms, window.end_ms, window.tz) if count <= max_days + 2 else []
    if count > max_days + 2 or len(days) > max_days:
        raise InvalidInput(
            f"start_time, end_time: the range touches {len(days) or count} calendar days in "
            f"{window.tz.key}; at most {max_days} are allowed, so split it into several requests"
        )
    return days


def day_spans(days: Iterable[tuple[int, Day]]) -> tuple[list[Span], list[Span]]:
    """Each day piece's bucket-aligned middle, and the unaligned parts at its ends."""
    aligned: list[Span] = []
    raw: list[Span] = []
    for i, day in days:
        for start, end in day.pieces:
            lo = -(-start // BUCKET_MS) * BUCKET_MS  # first bucket edge at or after start
            hi = end // BUCKET_MS * BUCKET_MS  # last bucket edge at or before end
            if lo >= hi:
                raw.append((i, start, end))
                continue
            aligned.append((i, lo, hi))
            if start < lo:
                raw.append((i, start, lo))
            if hi < end:
                raw.append((i, hi, end))
    return aligned, raw


def _is_whole(day: Day, window: Window) -> bool:
    """Whether `day` is the whole local day, not clipped by the window at either end of any
    of its pieces: a day a clock set back across midnight cuts in two (St John's until 2011)
    may be clipped to its first piece by a range that ends in the repeated stretch."""
    return day.pieces == whole_day(day.date, window.tz).pieces


@dataclass(frozen=True, slots=True)
class WholeDays:
    """Credits of whole local days, cached while the account's revision (read before
    anything was computed, store/revisions.py) is unchanged: reports of overlapping windows
    share them. One dict of days per account, bot and zone, each of at most MAX_DAYS."""

    MAX_DAYS: ClassVar[int] = 1024

    cache: GenerationCache[tuple[str, str | None, str], dict[date, Sums]]
    generation: int | None

    def of(self, window: Window) -> dict[date, Sums]:
        """The cached days of the window's account, bot and zone; add to it what is new."""
        key = (window.account_id, window.bot_id, window.tz.key)
        days = self.cache.get(key, self.generation)
        if days is None or len(days) > self.MAX_DAYS:
            days = {}
            self.cache.put(key, self.generation, days)
        return days


def _sum_days(conn: Connection, window: Window, days: Sequence[Day]) -> list[Sums]:
    """Each day's credits: whole days of the account's own zone from the daily rollups, the
    rest from 15-minute buckets and, where a bucket is cut, from raw events."""
    rolled: set[int] = set()
    # Read in the same snapshot as the sums: a zone change's rebuild may be under way.
    if (
        window.tz.key == window.account_tz
        and days_zone(conn, window.account_id) == window.account_tz
    ):
        rolled = {i for i, day in enumerate(days) if _is_whole(day, window)}
    from_days: dict[int, Sums] = {}
    if rolled:
        first, last = days[min(rolled)].date.toordinal(), days[max(rolled)].date.toordinal()
        from_days = day_sums(conn, window.account_id, window.bot_id, first, last)
    aligned, raw = day_spans((i, day) for i, day in enumerate(days) if i not in rolled)
    from_buckets = bucket_sums(conn, window.account_id, window.bot_id, aligned)
    from_events = raw_sums(conn, window.account_id, window.bot_id, raw)
    zero = [0] * len(CATEGORIES)
    sums = []
    for i, day in enumerate(days):
        if i in rolled:
            sums.append(from_days.get(day.date.toordinal(), zero))
        else:
            a, b = from_buckets.get(i, zero), from_events.get(i, zero)
            sums.append([x + y for x, y in zip(a, b, strict=True)])
    return sums


def _sum_days_cached(
    store: Store, window: Window, days: Sequence[Day], whole_days: WholeDays | None
) -> list[DayBill]:
    """The days' bills, whole days read from and added to `whole_days` when given."""
    cached = whole_days.of(window) if whole_days is not None else {}
    whole = [_is_whole(day, window) for day in days]
    wanted = [day for day, w in zip(days, whole, strict=True) if not (w and day.date in cached)]
    found: dict[Day, Sums] = {}
    if wanted:
        with store.read() as conn:
            found = dict(zip(wanted, _sum_days(conn, window, wanted), strict=True))
        if whole_days is not None:
            cached.update(
                (day.date, found[day])
                for day, w in zip(days, whole, strict=True)
                if w and day in found
            )
    return [DayBill(day.date, found[day] if day in found else cached[day.date]) for day in days]


def bill_page(
    *,
    store: Store,
    window: Window,
    page: int,
    page_size: int,
    whole_days: WholeDays | None = None,
) -> tuple[list[DayBill], int]:
    """One page of day rows and the number of days in the whole window."""
    days = window_days(window, PAGE_MAX_DAYS)
    wanted = days[(page - 1) * page_size : page * page_size]
    if not wanted:
        return [], len(days)
    return _sum_days_cached(store, window, wanted, whole_days), len(days)


def bill_total(
    *, store: Store, window: Window, whole_days: WholeDays | None = None
) -> tuple[date, date, Sums]:
    """The first and last local day of the window and its credits per category."""
    days = window_days(window, TOTAL_MAX_DAYS)
    # Summed day by day in any zone, never in one span: a day's sum is bounded (see
    # bucket_limit), a year's could pass what SQLite's integers hold.
    sums = [bill.credits for bill in _sum_days_cached(store, window, days, whole_days)]
    credits = [sum(column) for column in zip(*sums, strict=True)]
    return days[0].date, days[-1].date, credits
