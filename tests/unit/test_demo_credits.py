"""The demo's credits, sized from its usage: the plan is the quietest whole month rounded up
(so that month leaves some to expire), the purchase what the plans leave uncovered plus a
month at the recent rate; the story's grants and batches in time order."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from creditmeter import demo
from creditmeter.days import day_start_ms, zone
from creditmeter.events import Event

C = demo.CREDIT
SHANGHAI = zone(demo.TIMEZONE)


def _daily(first: date, days: int, per_day: int) -> dict[date, int]:
    return {first + timedelta(days=n): per_day for n in range(days)}


def test_plan_is_the_quietest_whole_month_rounded_up() -> None:
    daily = _daily(date(2026, 8, 20), 120, 700 * C)  # Aug 20 .. Dec 17
    daily[date(2026, 10, 5)] += 3_000 * C  # October is busier than September and November
    # September (30 days, 21,000) and November (30 days, 21,000) are the quietest whole
    # months; August and December are partial and do not count.
    assert demo.plan_credits(daily) == 21_000 * C
    daily[date(2026, 9, 1)] += 1  # one micro-credit more: rounded up to the next 1,000
    daily[date(2026, 11, 1)] += 1
    assert demo.plan_credits(daily) == 22_000 * C


def test_purchase_covers_what_plans_leave_and_a_month_more() -> None:
    daily = _daily(date(2026, 9, 1), 61, 1_000 * C)  # September and October, 1,000 a day
    plan = demo.plan_credits(daily)
    assert plan == 30_000 * C
    # October's 31,000 leave 1,000 uncovered; 30 days at 1,000 a day: 31,000 -> 35,000
    assert demo.purchase_credits(daily, plan) == 35_000 * C


def test_the_story_grants_a_plan_each_month_and_one_purchase() -> None:
    grants = demo.demo_grants(date(2026, 10, 31), date(2026, 12, 2), 5 * C, 7 * C)
    assert [(g.grant_id, g.kind, g.priority) for g in grants] == [
        ("demo-plan-2026-10", "plan", 10),
        ("demo-purchase", "purchase", 50),
        ("demo-plan-2026-11", "plan", 10),
        ("demo-plan-2026-12", "plan", 10),
    ]
    october, purchase, november, december = grants
    assert october.granted_at == day_start_ms(date(2026, 10, 1), SHANGHAI)
    assert october.expires_at == november.granted_at == day_start_ms(date(2026, 11, 1), SHANGHAI)
    assert december.expires_at == day_start_ms(date(2027, 1, 1), SHANGHAI)
    assert purchase.granted_at == day_start_ms(date(2026, 10, 31), SHANGHAI)
    assert purchase.expires_at == day_start_ms(date(2029, 10, 31), SHANGHAI)
    assert purchase.body() == {
        "id": "demo-purchase",
        "credits": "7",
        "kind": "purchase",
        "priority": 50,
        "expires_at": purchase.expires_at,
        "note": "demo: purchase",
    }
    leap = demo.demo_grants(date(2028, 2, 29), date(2028, 3, 1), C, C)
    bought = next(g for g in leap if g.kind == "purchase")
    assert bought.expires_at == day_start_ms(date(2031, 2, 28), SHANGHAI)


def _event(n: int, ts: int) -> Event:
    return Event("demo", f"e{n}", "b", 0, 1, ts, None, None, None)


def test_batches_are_four_hours_in_time_order_each_committed_at_its_last_event() -> None:
    midnight = int(datetime(2026, 11, 2, tzinfo=SHANGHAI).timestamp() * 1000)
    hour = demo.HOUR_MS
    times = [midnight + 5 * hour, midnight + 1, midnight + 4 * hour - 1, midnight + 4 * hour]
    events = [_event(n, ts) for n, ts in enumerate(times)]
    assert [(at, [e.event_id for e in batch]) for at, batch in demo.batches(events)] == [
        (midnight + 4 * hour - 1, ["e1", "e2"]),
        (midnight + 5 * hour, ["e3", "e0"]),
    ]
    many = [_event(n, midnight + n) for n in range(demo.BATCH_EVENTS + 1)]
    sizes = [len(batch) for _, batch in demo.batches(many)]
    assert sizes == [demo.BATCH_EVENTS, 1]


def test_daily_usage_counts_local_days() -> None:
    midnight = int(datetime(2026, 11, 2, tzinfo=SHANGHAI).timestamp() * 1000)
    usage = demo.daily_usage([_event(0, midnight - 1), _event(1, midnight), _event(2, midnight)])
    assert usage == {date(2026, 11, 1): 1, date(2026, 11, 2): 2}
