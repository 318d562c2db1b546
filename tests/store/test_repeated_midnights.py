"""Reports against a brute-force sum around the clock changes of many zones, with windows
whose ends fall on the changes and midnights to the millisecond (issue 15, item 10): a day
that a clock set back across midnight cuts in two (America/St_Johns 2001-2010, where clocks
went back at 00:01; Antarctica/Casey in 2010) is whole only when both its pieces are."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from creditmeter import accounts
from creditmeter.bills import (
    WholeDays,
    Window,
    bill_page,
    bill_page_async,
    bill_total,
    bill_total_async,
)
from creditmeter.cache import GenerationCache
from creditmeter.days import days_between, local_date, to_ms
from creditmeter.events import parse_batch
from creditmeter.ingest import Ingestion
from creditmeter.store import Store

ZONES = (
    "America/St_Johns",  # back at 00:01 until 2011: a midnight repeated
    "America/Goose_Bay",  # the same, until 2010
    "America/Moncton",  # the same, until 2006
    "Antarctica/Casey",  # 2010: back from +11 to +8 at 05:00 local, across two midnights
    "America/Sao_Paulo",  # forward at midnight: a day begins at 01:00
    "America/Havana",
    "America/Santiago",
    "America/Asuncion",
    "Asia/Gaza",
    "Asia/Beirut",
    "Asia/Amman",
    "Asia/Tehran",
    "Africa/Cairo",
    "Pacific/Apia",  # 2011-12-30 skipped
    "Australia/Lord_Howe",  # half-hour DST
    "Antarctica/Troll",  # two-hour DST
    "Europe/Berlin",
    "America/New_York",
)
HOUR = 3_600_000


def _transitions(tz: ZoneInfo, first_year: int, last_year: int) -> list[int]:
    """Every instant (ms) where the zone's offset changes, by a six-hour scan and bisection."""

    def offset(ms: int) -> timedelta | None:
        return datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz).utcoffset()

    found = []
    lo = to_ms(datetime(first_year, 1, 1, tzinfo=UTC))
    end = to_ms(datetime(last_year + 1, 1, 1, tzinfo=UTC))
    while lo < end:
        hi = lo + 6 * HOUR
        if offset(lo) != offset(hi):
            a, b = lo, hi
            while b - a > 1:
                mid = (a + b) // 2
                a, b = (mid, b) if offset(mid) == offset(a) else (a, mid)
            found.append(b)
        lo = hi
    return found


def _critical(tz: ZoneInfo, transition: int) -> list[int]:
    """The transition and the local midnights (both readings) around it, and their neighbours."""
    day = local_date(transition, tz)
    points = [transition]
    for n in range(-2, 3):
        d = day + timedelta(days=n)
        for fold in (0, 1):
            points.append(to_ms(datetime(d.year, d.month, d.day, tzinfo=tz).replace(fold=fold)))
    return sorted({p + delta for p in points for delta in (-1, 0, 1)})


def test_every_report_around_a_clock_change_equals_the_brute_force_sum(store: Store) -> None:
    rng = random.Random(15_10)
    ingestion = Ingestion.of(store)
    # Whole days cached across the reports, as the served path does (nothing is written
    # while they are asked, so one generation): a day clipped by one window must never be
    # cached as whole and then served to another.
    whole = WholeDays(GenerationCache(), generation=1)
    for z, name in enumerate(ZONES):
        tz = ZoneInfo(name)
        account = f"z{z}"
        accounts.create_account(store=store, account_id=account, timezone=name)
        changes = _transitions(tz, 2001, 2012)
        midnight = [t for t in changes if _repeats(tz, t)]
        chosen = sorted(set(midnight[:4] + rng.sample(changes, min(3, len(changes)))))
        stamps: list[int] = []
        for t in chosen:
            stamps += _critical(tz, t)
            stamps += [t + rng.randint(-40 * HOUR, 40 * HOUR) for _ in range(20)]
        events = [
            {
                "id": f"e{i}",
                "account_id": account,
                "bot_id": "b1",
                "category": "chat",
                "credits": rng.randint(1, 10**6),
                "timestamp": ts,
            }
            for i, ts in enumerate(sorted(set(stamps)))
        ]
        for i in range(0, len(events), 1000):
            ingestion.ingest(parse_batch({"events": events[i : i + 1000]}))
        for t in chosen:
            edges = _critical(tz, t)
            for _ in range(12):
                a = rng.choice(edges) if rng.random() < 0.8 else t + rng.randint(-40, 40) * HOUR
                b = rng.choice(edges) if rng.random() < 0.8 else t + rng.randint(-40, 40) * HOUR
                start, end = min(a, b), max(a, b)
                _check(store, account, tz, events, start, end, whole)


def _repeats(tz: ZoneInfo, transition: int) -> bool:
    """Whether the transition makes a local midnight happen twice or not at all."""
    day = local_date(transition, tz)
    for d in (day, day + timedelta(days=1)):
        midnight = datetime(d.year, d.month, d.day, tzinfo=tz)
        if to_ms(midnight) != to_ms(midnight.replace(fold=1)):
            return True
    return False


def _check(
    store: Store,
    account: str,
    tz: ZoneInfo,
    events: list[dict[str, object]],
    start: int,
    end: int,
    whole: WholeDays,
) -> None:
    truth: dict[date, int] = defaultdict(int)
    for e in events:
        ts = e["timestamp"]
        assert isinstance(ts, int)
        if start <= ts <= end:
            credits = e["credits"]
            assert isinstance(credits, int)
            truth[local_date(ts, tz)] += credits * 1_000_000
    window = Window(account, None, start, end, tz, tz.key)
    rows, count = bill_page(store=store, window=window, page=1, page_size=100)
    dates = [d.date for d in days_between(start, end, tz)]
    assert [r.date for r in rows] == dates
    assert count == len(dates)
    got = {r.date: r.total for r in rows}
    want = {d: truth.get(d, 0) for d in dates}
    assert got == want, (tz.key, start, end)
    assert set(truth) <= set(dates)
    assert sum(bill_total(store=store, window=window)[2]) == sum(truth.values())
    cached_rows, _ = asyncio.run(
        bill_page_async(store=store, window=window, page=1, page_size=100, whole_days=whole)
    )
    assert {r.date: r.total for r in cached_rows} == want, ("cached", tz.key, start, end)
    cached_total = asyncio.run(bill_total_async(store=store, window=window, whole_days=whole))
    assert sum(cached_total[2]) == sum(truth.values()), ("cached", tz.key, start, end)
