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
from typing import Any, ClassVar, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from .cache import GenerationCache
from .categories import CATEGORIES
from .days import Day, days_between, naive_day_count, whole_day
from .errors import InvalidInput
from .rollups import BUCKET_MS, Sums
from .store import Store
from .store.day_rebuild import days_zone
from .store.dialect import Dialect, dialect_of
from .store.sums import Span, bucket_sums, day_sums, raw_sums, report_parts, report_statement

PAGE_MAX_DAYS = 90
TOTAL_MAX_DAYS = 365


class DayBill(NamedTuple):
    """One local day's credits. A tuple: a report makes 90 of them, and a frozen dataclass
    costs several times as much to make."""

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


def _ends(days: Sequence[Day]) -> Sequence[Day]:
    """The days of a window that its ends can clip (DaysToSum's `edges`)."""
    return [*days[:2], *days[-2:]]


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


class DaysToSum:
    """The days of a report that must be read (those not in `whole_days`), as one statement
    (store/sums.report_statement): one snapshot and one round trip. Its daily rollups are
    asked for on the hope that they follow the zone, and the statement says whether they did;
    if not (a zone change's rebuild is under way), the days are read again from buckets."""

    def __init__(
        self,
        window: Window,
        days: Sequence[Day],
        whole_days: WholeDays | None,
        edges: Sequence[Day] | None = None,
    ):
        """`edges`: the first two and last two days of the whole window, when `days` is a
        part of it: only those can be clipped by the window, every other is whole (where a
        clock is set back across midnight, the day before the last also goes on after the
        range's end, and the day after the first began before its start)."""
        self.window = window
        self.days = days
        self.whole_days = whole_days
        self.cached = whole_days.of(window) if whole_days is not None else {}
        clippable = {d.date for d in (edges if edges is not None else days)}
        self.whole = [day.date not in clippable or _is_whole(day, window) for day in days]
        self._rolled: set[int] = set()
        # Indexes into `days` of the days to read (Day hashes its pieces: slow as a key).
        self._at = [i for i, w in enumerate(self.whole) if not (w and days[i].date in self.cached)]
        self.wanted = [days[i] for i in self._at]

    def statement(self, dialect: Dialect, rolled: bool) -> tuple[str, tuple[Any, ...]] | None:
        """The statement of the wanted days, whole days of the account's own zone from the
        daily rollups when `rolled`; None when there is nothing to read."""
        window, wanted = self.window, self.wanted
        self._rolled = set()
        if rolled and window.tz.key == window.account_tz:
            self._rolled = {i for i, day in enumerate(wanted) if _is_whole(day, window)}
        span = None
        if self._rolled:
            span = (
                wanted[min(self._rolled)].date.toordinal(),
                wanted[max(self._rolled)].date.toordinal(),
            )
        aligned, raw = day_spans((i, day) for i, day in enumerate(wanted) if i not in self._rolled)
        return report_statement(
            dialect, window.account_id, window.bot_id, window.tz.key, span, aligned, raw
        )

    def finish(self, rows: Sequence[Sequence[Any]]) -> list[DayBill] | None:
        """The days' bills from the statement's rows (whole days added to `whole_days`), or
        None if it read daily rollups that did not follow the zone: ask again, not rolled."""
        current, from_days, from_buckets, from_events = report_parts(rows)
        if self._rolled and not current:
            return None
        zero = [0] * len(CATEGORIES)
        sums: list[Sums | None] = [None] * len(self.days)
        for i, at in enumerate(self._at):
            if i in self._rolled:
                sums[at] = from_days.get(self.days[at].date.toordinal(), zero)
            else:
                a, b = from_buckets.get(i, zero), from_events.get(i, zero)
                sums[at] = [x + y for x, y in zip(a, b, strict=True)]
        cached = self.cached
        if self.whole_days is not None:
            for at in self._at:
                if self.whole[at]:
                    cached[self.days[at].date] = sums[at]  # type: ignore[assignment]
        return [
            DayBill(day.date, found if found is not None else cached[day.date])
            for day, found in zip(self.days, sums, strict=True)
        ]


def _sum_days_cached(
    store: Store, window: Window, days: Sequence[Day], whole_days: WholeDays | None
) -> list[DayBill]:
    """The days' bills, whole days read from and added to `whole_days` when given."""
    todo = DaysToSum(window, days, whole_days)
    dialect = dialect_of(store.engine)
    for rolled in (True, False):
        statement = todo.statement(dialect, rolled)
        bills = todo.finish(store.query(*statement) if statement is not None else [])
        if bills is not None:
            return bills
    raise AssertionError("a statement without daily rollups is always answered")


async def sum_days_async(store: Store, todo: DaysToSum) -> list[DayBill]:
    """_sum_days_cached's reads awaited (PostgreSQL's from the event loop)."""
    dialect = dialect_of(store.engine)
    for rolled in (True, False):
        statement = todo.statement(dialect, rolled)
        rows = await store.query_async(*statement) if statement is not None else []
        bills = todo.finish(rows)
        if bills is not None:
            return bills
    raise AssertionError("a statement without daily rollups is always answered")


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


async def bill_page_async(
    *, store: Store, window: Window, page: int, page_size: int, whole_days: WholeDays | None
) -> tuple[list[DayBill], int]:
    """bill_page, its one statement awaited (on PostgreSQL from the event loop)."""
    days = window_days(window, PAGE_MAX_DAYS)
    wanted = days[(page - 1) * page_size : page * page_size]
    if not wanted:
        return [], len(days)
    todo = DaysToSum(window, wanted, whole_days, _ends(days))
    return await sum_days_async(store, todo), len(days)


async def bill_total_async(
    *, store: Store, window: Window, whole_days: WholeDays | None
) -> tuple[date, date, Sums]:
    """bill_total, its one statement awaited."""
    days = window_days(window, TOTAL_MAX_DAYS)
    bills = await sum_days_async(store, DaysToSum(window, days, whole_days, _ends(days)))
    credits = [sum(column) for column in zip(*(b.credits for b in bills), strict=True)]
    return days[0].date, days[-1].date, credits
