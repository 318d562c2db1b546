"""The oracle: every bill the API answers equals a brute-force sum over the raw events.

Hypothesis writes events (several accounts and bots, all eight categories, credits with up
to 6 decimals, timestamps at, just off and a quarter hour off local midnights, around DST
switches) and windows (often not on a 15-minute edge, up to and past the 90- and 365-day
limits) in zones with half- and quarter-hour offsets, +14 and -12, a midnight that DST
skips, and America/St_Johns, whose clock went back at 00:01 until 2011 so that some of its
day edges lie off the rollups' 15-minute grid. Everything goes through the HTTP API; the
truth is `brute_force` below, which uses zoneinfo and Decimal and nothing of creditmeter.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx2
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditmeter import accounts
from creditmeter.categories import CATEGORIES
from creditmeter.store import Store
from tests.conftest import bearer, make_key

FIELDS = ["date", "start_date", "end_date", "total", *CATEGORIES]
ZONES = (
    "UTC",
    "Asia/Shanghai",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
    "America/St_Johns",
    "America/Santiago",
)
BOTS = ("b1", "b2", "b3")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE, QUARTER, HOUR, DAY = 60_000, 900_000, 3_600_000, 86_400_000
MIN_TS = 946_684_800_000  # 2000-01-01T00:00:00Z: ingestion refuses anything earlier
MAX_TS = min(1_790_000_000_000, time.time_ns() // 1_000_000)  # 2026-09-21, or now if earlier
DECIMAL_NUMBER = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]{0,5}[1-9])?")
ORACLE = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Days with something to get wrong: DST switches in New York (23 and 25 hours), St John's
# setting its clock back across midnight (2006-10-29) and forward at 00:01 (2007-03-11),
# Santiago skipping midnight (2024-09-08) and repeating 23:00 (2024-04-06), the first day
# ingestion accepts, and New Year's Eve.
FOCUS_DAYS = [
    date(2024, 3, 10),
    date(2024, 11, 3),
    date(2025, 3, 9),
    date(2006, 10, 29),
    date(2007, 3, 11),
    date(2024, 9, 8),
    date(2024, 4, 7),
    date(2000, 1, 1),
    date(2025, 12, 31),
]


# --- The truth -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    account: int  # index into the example's accounts
    event_id: str
    bot: str
    category: str
    credits: Decimal
    ts: int


def brute_force(
    events: Sequence[Event], account: int, bot: str | None, start: int, end: int, zone: str
) -> dict[date, list[Decimal]]:
    """Credits per category for every local date the inclusive range touches, ascending."""
    tz = ZoneInfo(zone)

    def day(ms: int) -> date:
        return (EPOCH + timedelta(milliseconds=ms)).astimezone(tz).date()

    # Sample the range at both ends, every quarter hour and every local midnight (both
    # readings of a repeated one): no local date lasts less than a quarter hour without
    # beginning at a midnight.
    midnights = [
        (
            datetime.combine(day(start) + timedelta(n), datetime.min.time(), tz).replace(fold=f)
            - EPOCH
        )
        // timedelta(milliseconds=1)
        for n in range(-1, (day(end) - day(start)).days + 2)
        for f in (0, 1)
    ]
    samples = [start, end, *range(start, end, QUARTER), *midnights]
    touched = {day(t) for t in samples if start <= t <= end}
    first, last = min(touched), max(touched)
    sums = {first + timedelta(n): [Decimal(0)] * 8 for n in range((last - first).days + 1)}
    for e in events:
        if e.account == account and bot in (None, e.bot) and start <= e.ts <= end:
            sums[day(e.ts)][CATEGORIES.index(e.category)] += e.credits
    return sums


# --- What hypothesis draws -----------------------------------------------------------------


def local_midnight(zone: str, day: date, fold: int) -> int:
    wall = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone), fold=fold)
    return (wall - EPOCH) // timedelta(milliseconds=1)


jitters = st.one_of(
    st.sampled_from(
        [0, 1, -1, QUARTER, -QUARTER, QUARTER + 1, -QUARTER - 1, QUARTER - 1, MINUTE, HOUR]
    ),
    st.integers(-DAY, DAY),
)


@st.composite
def instants(draw: st.DrawFn, focus: date, spread: int = 3) -> int:
    """At, or a few ms or a quarter hour around, a local midnight near the focus day."""
    zone = draw(st.sampled_from(ZONES))
    day = focus + timedelta(days=draw(st.integers(-spread, spread)))
    return local_midnight(zone, day, draw(st.sampled_from([0, 1]))) + draw(jitters)


@st.composite
def events(draw: st.DrawFn, focus: date) -> list[Event]:
    drawn = []
    for n in range(draw(st.integers(1, 40))):
        near = draw(st.booleans() | st.just(True))
        ts = draw(instants(focus, spread=3 if near else 120))
        ts = min(max(ts, MIN_TS + draw(st.sampled_from([0, 1, QUARTER]))), MAX_TS)
        micro = draw(
            st.one_of(
                st.integers(0, 10**12),
                st.integers(0, 10**6),
                st.sampled_from([0, 1, 100_000, 200_000, 999_999, 10**12]),
            )
        )
        drawn.append(
            Event(
                account=draw(st.integers(0, 1)),
                event_id=f"ev-{n}",
                bot=draw(st.sampled_from(BOTS)),
                category=draw(st.sampled_from(CATEGORIES)),
                credits=Decimal(micro).scaleb(-6),
                ts=ts,
            )
        )
    return drawn


@dataclass(frozen=True)
class Query:
    endpoint: str  # "page" or "total"
    account: int
    zone: str | None  # None: the account's own
    bot: str | None
    start: int
    end: int
    page_size: int
    rfc3339: tuple[int | None, int | None]  # per end: an offset in minutes, or None for ms


@st.composite
def queries(draw: st.DrawFn, focus: date, stamps: list[int]) -> Query:
    endpoint = draw(st.sampled_from(["page", "total"]))
    limit = 90 if endpoint == "page" else 365
    zone = draw(st.none() | st.sampled_from(ZONES))
    at_events = st.sampled_from(stamps).flatmap(lambda t: st.sampled_from([t - 1, t, t + 1]))
    start = draw(instants(focus) | at_events)  # inclusive ends: a millisecond matters
    how = draw(st.sampled_from(["midnight", "length", "event"]))
    if how == "midnight":  # a local midnight some days on, give or take a millisecond
        days_on = draw(st.integers(1, 3) | st.integers(limit - 2, limit + 1))
        end_day = (EPOCH + timedelta(milliseconds=start)).date() + timedelta(days=days_on)
        end = local_midnight(zone or "UTC", end_day, 0) + draw(st.sampled_from([-1, 0, 1]))
    elif how == "length":
        end = start + draw(st.integers(0, 2 * DAY) | st.integers(0, (limit + 1) * DAY))
    else:
        start, end = sorted([start, draw(at_events)])
    offsets = st.none() | st.sampled_from([0, 330, 345, -150, -720, 840])
    return Query(
        endpoint=endpoint,
        account=draw(st.integers(0, 1)),
        zone=zone,
        bot=draw(st.none() | st.sampled_from(BOTS)),
        start=start,
        end=end,
        page_size=draw(st.sampled_from([100, 100, 100, 7])),
        rfc3339=(draw(offsets), draw(offsets)),
    )


# --- Talking to the API --------------------------------------------------------------------


def instant_param(ms: int, offset_minutes: int | None) -> str:
    if offset_minutes is None:
        return str(ms)
    moment = (EPOCH + timedelta(milliseconds=ms)).astimezone(
        timezone(timedelta(minutes=offset_minutes))
    )
    text = moment.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z") if offset_minutes == 0 else text


def batch_body(
    batch: Sequence[Event], account_ids: Sequence[str], as_text: Sequence[bool]
) -> bytes:
    """The JSON of a batch, written exactly: credits as a JSON number or a string, with all
    six decimals or the fewest; timestamps as integers or RFC 3339 with various offsets."""
    parts = []
    for n, (event, text) in enumerate(zip(batch, as_text, strict=True)):
        offset = (345, 0, -150, 840, -720, 330)[n % 6]
        head = json.dumps(
            {
                "id": event.event_id,
                "account_id": account_ids[event.account],
                "bot_id": event.bot,
                "category": event.category,
                "timestamp": event.ts if text else instant_param(event.ts, offset),
            }
        )
        credits = f"{event.credits:f}" if n % 2 else f"{event.credits.normalize():f}"
        parts.append(head[:-1] + f', "credits": {json.dumps(credits) if text else credits}}}')
    return ('{"events": [' + ", ".join(parts) + "]}").encode()


def numbers_are_exact_decimals(text: str) -> None:
    for number in re.findall(r":\s*([-+0-9.eE]+)", text):
        assert DECIMAL_NUMBER.fullmatch(number), f"{number} is not plain, shortest decimal text"


def ask(client: TestClient, path: str, params: dict[str, str], token: str) -> httpx2.Response:
    query = urlencode(params)
    assert "+" not in query  # a '+' (Etc/GMT+12, +05:45) travels as %2B
    return client.get(f"{path}?{query}", headers=bearer(token))


@dataclass
class Keys:
    read: list[str]
    admin: str
    b1_only: str  # a read key of account 0 bound to bot b1


def check_query(
    client: TestClient, keys: Keys, ids: list[str], zones: list[str], evs: list[Event], q: Query
) -> None:
    base = {
        "start_time": instant_param(q.start, q.rfc3339[0]),
        "end_time": instant_param(q.end, q.rfc3339[1]),
    }
    if q.zone is not None:
        base["timezone"] = q.zone  # urlencode writes Etc/GMT+12 as Etc%2FGMT%2B12
    askers: list[tuple[str, dict[str, str], str | None]] = [
        (keys.read[q.account], {}, q.bot),
        (keys.admin, {"account_id": ids[q.account]}, q.bot),
    ]
    if q.account == 0 and q.bot in (None, "b1"):
        askers.append((keys.b1_only, {}, "b1"))  # a bot-bound key sees its bot alone
    zone = q.zone or zones[q.account]
    for token, extra, bot in askers:
        params = {**base, **extra, **({} if q.bot is None else {"bot_id": q.bot})}
        if q.end < q.start:
            answer = ask(client, f"/v1/account/bill/{q.endpoint}", params, token)
            assert answer.status_code == 400, answer.text
            assert answer.json()["code"] == 40000
            continue
        truth = brute_force(evs, q.account, bot, q.start, q.end, zone)
        if q.endpoint == "page":
            check_pages(client, token, params, q.page_size, truth)
        else:
            check_total(client, token, params, truth)


def check_pages(
    client: TestClient,
    token: str,
    params: dict[str, str],
    page_size: int,
    truth: dict[date, list[Decimal]],
) -> None:
    days = len(truth)
    first = ask(client, "/v1/account/bill/page", {**params, "page_size": str(page_size)}, token)
    if days > 90:
        assert first.status_code == 400, first.text
        assert first.json()["code"] == 40000
        assert "90" in first.json()["message"]
        return
    assert first.status_code == 200, first.text
    pages = math.ceil(days / page_size)
    rows: list[dict[str, Any]] = []
    for page in range(1, pages + 2):
        answer = ask(
            client,
            "/v1/account/bill/page",
            {**params, "page_size": str(page_size), "page": str(page)},
            token,
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Total-Count"] == str(days)
        assert ('rel="next"' in answer.headers["Link"]) == (page < pages)
        numbers_are_exact_decimals(answer.text)
        got = json.loads(answer.text, parse_float=Decimal)
        assert len(got) == (min(page_size, days - (page - 1) * page_size) if page <= pages else 0)
        rows.extend(got)
    expected = [
        {
            "date": day.isoformat(),
            "start_date": day.isoformat(),
            "end_date": day.isoformat(),
            "total": sum(sums),
            **dict(zip(CATEGORIES, sums, strict=True)),
        }
        for day, sums in truth.items()
    ]
    assert [list(row) for row in rows] == [FIELDS] * days
    assert rows == expected


def check_total(
    client: TestClient, token: str, params: dict[str, str], truth: dict[date, list[Decimal]]
) -> None:
    answer = ask(client, "/v1/account/bill/total", params, token)
    if len(truth) > 365:
        assert answer.status_code == 400, answer.text
        assert answer.json()["code"] == 40000
        return
    assert answer.status_code == 200, answer.text
    numbers_are_exact_decimals(answer.text)
    sums = [sum(column, Decimal(0)) for column in zip(*truth.values(), strict=True)]
    assert json.loads(answer.text, parse_float=Decimal) == {
        "start_date": min(truth).isoformat(),
        "end_date": max(truth).isoformat(),
        "total": sum(sums),
        **dict(zip(CATEGORIES, sums, strict=True)),
    }


# --- The test --------------------------------------------------------------------------------

focus_days = st.sampled_from(FOCUS_DAYS) | st.dates(date(2000, 1, 2), date(2026, 9, 1))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[str], list[Event], list[bool], int, list[Query]]:
    focus = draw(focus_days)
    zones = draw(st.lists(st.sampled_from(ZONES), min_size=2, max_size=2))
    evs = draw(events(focus))
    as_text = draw(st.lists(st.booleans(), min_size=len(evs), max_size=len(evs)))
    split = draw(st.integers(0, len(evs)))
    stamps = [e.ts for e in evs]
    return (
        zones,
        evs,
        as_text,
        split,
        draw(st.lists(queries(focus, stamps), min_size=1, max_size=4)),
    )


@ORACLE
@given(scenario=scenarios())
def test_every_answer_equals_the_brute_force_sum(
    client: TestClient,
    store: Store,
    ingest_key: str,
    admin_key: str,
    scenario: tuple[list[str], list[Event], list[bool], int, list[Query]],
) -> None:
    zones, evs, as_text, split, qs = scenario
    # The store outlives examples: each example has accounts of its own.
    suffix = uuid.uuid4().hex[:10]
    ids = [f"a{n}-{suffix}" for n in range(2)]
    for account_id, zone in zip(ids, zones, strict=True):
        accounts.create_account(store=store, account_id=account_id, timezone=zone)
    keys = Keys(
        read=[make_key(store, "read", account_id) for account_id in ids],
        admin=admin_key,
        b1_only=make_key(store, "read", ids[0], bot_id="b1"),
    )
    for part in (slice(0, split), slice(split, None)):
        if evs[part]:
            answer = client.post(
                "/v1/usage/events",
                content=batch_body(evs[part], ids, as_text[part]),
                headers={**bearer(ingest_key), "Content-Type": "application/json"},
            )
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"accepted": len(evs[part]), "duplicates": 0}
    for q in qs:
        check_query(client, keys, ids, zones, evs, q)


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        # From St John's one minute of 2006-10-29 into the hour of the 28th it then repeated:
        # two days, each with its own part. This range once had no days at all (a 500).
        ("America/St_Johns", "2006-10-29T00:00:30-02:30", "2006-10-28T23:30:00-03:30"),
        ("America/St_Johns", "2006-10-28T12:00:00-02:30", "2006-10-30T12:00:00-03:30"),
        ("America/Santiago", "2024-09-07T12:00:00-04:00", "2024-09-08T12:00:00-03:00"),
        ("Etc/GMT+12", "2024-12-01T00:00:00-12:00", "2024-12-01T23:59:59.999-12:00"),
    ],
)
def test_clock_edge_cases(
    client: TestClient,
    store: Store,
    ingest_key: str,
    admin_key: str,
    zone: str,
    start: str,
    end: str,
) -> None:
    ids = ["edge"]
    accounts.create_account(store=store, account_id="edge", timezone=zone)
    lo = (datetime.fromisoformat(start) - EPOCH) // timedelta(milliseconds=1)
    hi = (datetime.fromisoformat(end) - EPOCH) // timedelta(milliseconds=1)
    # An event every 7 minutes and at each millisecond around a few, across the range.
    stamps = sorted(
        {*range(lo - HOUR, hi + HOUR, 7 * MINUTE), lo - 1, lo, lo + 1, hi - 1, hi, hi + 1}
    )
    evs = [
        Event(0, f"e{n}", BOTS[n % 3], CATEGORIES[n % 8], Decimal(n % 1000 + 1).scaleb(-3), ts)
        for n, ts in enumerate(stamps)
    ]
    for start_at in range(0, len(evs), 1000):
        batch = evs[start_at : start_at + 1000]
        answer = client.post(
            "/v1/usage/events",
            content=batch_body(batch, ids, [True] * len(batch)),
            headers={**bearer(ingest_key), "Content-Type": "application/json"},
        )
        assert answer.status_code == 200, answer.text
    keys = Keys(
        read=[make_key(store, "read", "edge")],
        admin=admin_key,
        b1_only=make_key(store, "read", "edge", bot_id="b1"),
    )
    for endpoint in ("page", "total"):
        for bot in (None, "b2"):
            q = Query(endpoint, 0, None, bot, lo, hi, 100, (None, None))
            check_query(client, keys, ids, [zone], evs, q)
