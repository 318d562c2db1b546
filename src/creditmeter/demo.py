"""Demo data: one account in Asia/Shanghai, three bots, ~120 days of realistic usage.

Everything is derived from the day and the bot, so running it again adds nothing new
(only the hours that have passed since, for today). Its credits (a plan each month and a
purchase) are sized from that same usage; demo_load.py commits it all in time order.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from .categories import CATEGORY_INDEX
from .clock import now_ms
from .days import day_start_ms, local_date, zone
from .events import Event
from .money import format_credits

ACCOUNT_ID = "demo"
ACCOUNT_NAME = "Demo Company"
TIMEZONE = "Asia/Shanghai"
DAYS = 120
HOUR_MS = 3_600_000

# bot -> (chats per day on a weekday, credits per chat answer)
BOTS = {
    "support-bot": (140, 1.2),
    "sales-assistant": (60, 2.5),
    "docs-search": (35, 0.8),
}
_HOURLY_WEIGHT = [1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 9, 7, 9, 10, 10, 9, 8, 6, 5, 4, 3, 2, 1]


def _micro(rng: random.Random, mean: float) -> int:
    return max(1, round(rng.lognormvariate(0, 0.45) * mean * 1_000_000 / 1.1))


def _day_events(day: date, bot: str, horizon_ms: int) -> Iterator[Event]:
    tz = zone(TIMEZONE)
    rng = random.Random(f"{day.isoformat()}/{bot}")
    start = day_start_ms(day, tz)
    chats, per_chat = BOTS[bot]
    weekend = day.weekday() >= 5
    growth = 0.7 + 0.6 * (day.toordinal() % 365) / 365
    n = 0

    def event(category: str, ts: int, micro: int, **extra: str) -> Event | None:
        nonlocal n
        n += 1
        if ts > horizon_ms:
            return None
        return Event(
            ACCOUNT_ID,
            f"demo-{bot}-{day.isoformat()}-{n:05d}",
            bot,
            CATEGORY_INDEX[category],
            micro,
            ts,
            extra.get("conversation_id"),
            None,
            extra.get("run_id"),
        )

    def at_hour() -> int:
        hour = rng.choices(range(24), weights=_HOURLY_WEIGHT)[0]
        return start + hour * HOUR_MS + rng.randrange(HOUR_MS)

    produced: list[Event | None] = []
    produced.append(event("knowledge_doc_storage", start + 60_000, _micro(rng, 0.5)))
    for _ in range(int(chats * growth * (0.35 if weekend else 1) * rng.uniform(0.8, 1.2))):
        ts = at_hour()
        conversation = f"conv-{rng.randrange(10**8):08d}"
        produced.append(event("chat", ts, _micro(rng, per_chat), conversation_id=conversation))
        if rng.random() < 0.35:
            produced.append(event("rerank", ts + 120, _micro(rng, 0.05)))
        if rng.random() < 0.15:
            produced.append(event("tool_call", ts + 350, _micro(rng, 0.3)))
        if bot == "support-bot" and rng.random() < 0.1:
            produced.append(event("asr", ts - 2_000, _micro(rng, 0.6)))
            produced.append(event("tts", ts + 900, _micro(rng, 0.4)))
        if bot == "sales-assistant" and rng.random() < 0.2:
            produced.append(event("database_processing", ts + 500, _micro(rng, 0.8)))
    if not weekend and rng.random() < 0.3:
        for _ in range(rng.randrange(1, 12)):
            produced.append(event("knowledge_doc_indexing", at_hour(), _micro(rng, 2.0)))
    yield from (e for e in produced if e is not None)
    openers = [e for e in produced if e is not None and e.conversation_id is not None]
    yield from _threads(day, bot, openers, horizon_ms)


def _threads(day: date, bot: str, openers: list[Event], horizon_ms: int) -> Iterator[Event]:
    """The rest of the conversations that `openers` began (more messages, each charged for
    its answer, with moderation, anonymization and question tagging now and then), and a
    few workflow runs. A random stream of its own, after the first, so that a store filled
    by an earlier demo gets these added and nothing of its own changed."""
    rng = random.Random(f"{day.isoformat()}/{bot}/threads")
    per_chat = BOTS[bot][1]
    n = 0

    def event(category: str, ts: int, micro: int, **ids: str) -> Event | None:
        nonlocal n
        n += 1
        if ts > horizon_ms:
            return None
        event_id = f"demo-{bot}-{day.isoformat()}-t{n:05d}"
        index = CATEGORY_INDEX[category]
        return Event(
            ACCOUNT_ID,
            event_id,
            bot,
            index,
            micro,
            ts,
            ids.get("conversation_id"),
            None,
            ids.get("run_id"),
        )

    produced: list[Event | None] = []
    for opener in openers:
        conversation = opener.conversation_id
        assert conversation is not None
        ts = opener.ts
        produced.append(
            event("moderation", ts + 40, _micro(rng, 0.01), conversation_id=conversation)
        )
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 4, 6])):
            ts += rng.randrange(20_000, 240_000)
            produced.append(event("chat", ts, _micro(rng, per_chat), conversation_id=conversation))
            produced.append(
                event("moderation", ts + 40, _micro(rng, 0.01), conversation_id=conversation)
            )
            if rng.random() < 0.2:
                produced.append(
                    event(
                        "anonymization", ts - 300, _micro(rng, 0.02), conversation_id=conversation
                    )
                )
            if rng.random() < 0.25:
                produced.append(
                    event("rerank", ts + 120, _micro(rng, 0.05), conversation_id=conversation)
                )
        if rng.random() < 0.3:
            produced.append(
                event("question_tag", ts + 5_000, _micro(rng, 0.03), conversation_id=conversation)
            )
    start = day_start_ms(day, zone(TIMEZONE))
    for k in range(rng.randrange(0, 4) if bot != "docs-search" else 0):
        run = f"run-{bot}-{day.isoformat()}-{k}"
        ts = start + rng.randrange(8, 20) * HOUR_MS + rng.randrange(HOUR_MS)
        for category, mean in (
            ("chat", 0.9),
            ("tool_call", 0.3),
            ("database_processing", 0.4),
            ("question_tag", 0.03),
        ):
            if category == "chat" or rng.random() < 0.6:
                produced.append(event(category, ts, _micro(rng, mean), run_id=run))
            ts += rng.randrange(500, 30_000)
    yield from (e for e in produced if e is not None)


def demo_events(today: date | None = None) -> Iterator[Event]:
    """Every demo event up to the start of the current hour."""
    now = now_ms()
    horizon = now - now % HOUR_MS
    last = today or local_date(now, zone(TIMEZONE))
    for offset in range(DAYS - 1, -1, -1):
        day = last - timedelta(days=offset)
        for bot in BOTS:
            yield from _day_events(day, bot, horizon)


def last_whole_month(today: date) -> tuple[date, date]:
    first_of_this = today.replace(day=1)
    last_of_previous = first_of_this - timedelta(days=1)
    return last_of_previous.replace(day=1), last_of_previous


def curl_command(base_url: str, token: str, today: date) -> str:
    """The seed's request, word for word, over the demo's most recent whole month."""
    tz = zone(TIMEZONE)
    first, last = last_whole_month(today)
    start = day_start_ms(first, tz)
    end = day_start_ms(last + timedelta(days=1), tz) - 1
    url = f"{base_url}/v1/account/bill/page?page=1&page_size=10&start_time={start}&end_time={end}"
    return (
        f"curl --location '{url}' \\\n"
        f"--header 'Authorization: Bearer {token}' \\\n"
        "--header 'Content-Type: application/json'"
    )


# ---- Its credits: a plan each month and one purchase, sized from the usage above ----------

CREDIT = 1_000_000  # micro-credits
PLAN_PRIORITY = 10  # a plan is spent before the purchase: what is left of it expires
PURCHASE_PRIORITY = 50
PURCHASE_YEARS = 3
RESERVE_DAYS = 30  # the purchase outlasts the history by about this many days of usage
BATCH_MS = 4 * HOUR_MS  # the platform's batches, as the demo replays them
BATCH_EVENTS = 1000


@dataclass(frozen=True, slots=True)
class DemoGrant:
    """A grant of the demo's story, given at `granted_at` (ms)."""

    grant_id: str
    kind: str
    credits: int  # micro-credits
    priority: int
    granted_at: int
    expires_at: int

    def body(self) -> dict[str, Any]:
        """The grant as POST .../grants takes it."""
        return {
            "id": self.grant_id,
            "credits": format_credits(self.credits),
            "kind": self.kind,
            "priority": self.priority,
            "expires_at": self.expires_at,
            "note": "demo: monthly plan" if self.kind == "plan" else "demo: purchase",
        }


def daily_usage(events: Iterable[Event]) -> dict[date, int]:
    """Micro-credits per local day of the demo's zone."""
    tz = zone(TIMEZONE)
    days: dict[date, int] = defaultdict(int)
    for event in events:
        days[local_date(event.ts, tz)] += event.credits
    return dict(days)


def _next_month(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def _monthly(daily: Mapping[date, int]) -> dict[date, int]:
    months: dict[date, int] = defaultdict(int)
    for day, micro in daily.items():
        months[day.replace(day=1)] += micro
    return dict(months)


def _round_up(micro: int, credits: int) -> int:
    step = credits * CREDIT
    return -(-micro // step) * step


def plan_credits(daily: Mapping[date, int]) -> int:
    """The monthly plan: the usage of the quietest whole month of the history, rounded up to
    1,000 credits, so that month leaves some of its plan to expire while busier months draw
    on the purchase. (Without a whole month: 30 days at the average rate.)"""
    first, last = min(daily), max(daily)
    whole = [
        micro
        for month, micro in _monthly(daily).items()
        if month >= first and _next_month(month) - timedelta(days=1) <= last
    ]
    quietest = min(whole) if whole else sum(daily.values()) * 30 // len(daily)
    return max(CREDIT * 1000, _round_up(quietest, 1000))


def purchase_credits(daily: Mapping[date, int], plan: int) -> int:
    """The purchase: what the monthly plans leave uncovered over the history, plus
    RESERVE_DAYS at the last 30 days' rate, rounded up to 5,000 credits: the balance is
    positive today and visibly lower than at the start."""
    uncovered = sum(max(0, micro - plan) for micro in _monthly(daily).values())
    last = max(daily)
    recent = sum(micro for day, micro in daily.items() if day > last - timedelta(days=30))
    return _round_up(uncovered + recent * RESERVE_DAYS // 30, 5000)


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def demo_grants(first: date, last: date, plan: int, purchase: int) -> list[DemoGrant]:
    """The story's grants for the history `first`..`last` (local days), in the order they
    are given: a plan on the first of each month, expiring at the month's end, and the
    purchase on the first day, valid three years."""
    tz = zone(TIMEZONE)
    grants = []
    month = first.replace(day=1)
    while month <= last:
        grants.append(
            DemoGrant(
                f"demo-plan-{month:%Y-%m}",
                "plan",
                plan,
                PLAN_PRIORITY,
                day_start_ms(month, tz),
                day_start_ms(_next_month(month), tz),
            )
        )
        month = _next_month(month)
    grants.append(
        DemoGrant(
            "demo-purchase",
            "purchase",
            purchase,
            PURCHASE_PRIORITY,
            day_start_ms(first, tz),
            day_start_ms(_years_later(first, PURCHASE_YEARS), tz),
        )
    )
    return sorted(grants, key=lambda g: (g.granted_at, g.grant_id))


def batches(events: Iterable[Event]) -> Iterator[tuple[int, list[Event]]]:
    """The events in time order, as the platform's batches: one per 4 hours (local hours
    0, 4, 8, ...: Shanghai is UTC+8), at most BATCH_EVENTS each; each with the instant it
    commits at, its last event's."""
    batch: list[Event] = []
    for event in sorted(events, key=lambda e: (e.ts, e.event_id)):
        if batch and (
            len(batch) == BATCH_EVENTS or event.ts // BATCH_MS != batch[-1].ts // BATCH_MS
        ):
            yield batch[-1].ts, batch
            batch = []
        batch.append(event)
    if batch:
        yield batch[-1].ts, batch
