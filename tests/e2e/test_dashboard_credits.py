"""The dashboard's Credits view in a real browser (Debian's Chromium, Playwright), against
`creditmeter serve` as a process: the balance, held and available; the grants with what
remains; the balance chart drawn from the journal (paged through Link rel="next"); the
runway at the last 30 days' rate, checked against a date computed here; and its states."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, Route

from creditmeter.days import day_start_ms, zone
from tests.e2e.served import Served as LiveServer
from tests.e2e.test_dashboard import (
    ACCOUNT_ZONE,
    ARTIFACTS,
    Served,
    Watched,
    browser,
    exact,
    open_page,
    sign_in,
    today_in,
    wait_drawn,
)
from tests.support.server import EXECUTABLE

__all__ = ["browser", "open_page"]  # fixtures used here

DAY_MS = 86_400_000
PLAN_DAYS = 5  # the plan expires long before its credits would be used up
USAGE = ["7.5", "12.25", "0.000001", "10", "20.249999", "10"]  # 60 credits, a batch each


class Credits(Served):
    ingest: str = ""
    demo_link: str = ""
    demo_key: str = ""
    plan_expires_at: int = 0
    keys: dict[str, str]


def _post(served: Served, path: str, token: str, body: dict[str, Any], status: int = 201) -> Any:
    answer = served.call("POST", path, token, json=body)
    assert answer.status_code == status, answer.text
    return answer.json()


def _account(served: Credits, account_id: str) -> None:
    _post(
        served, "/v1/admin/accounts", served.admin,
        {"id": account_id, "name": account_id.title(), "timezone": ACCOUNT_ZONE},
    )  # fmt: skip
    made = _post(served, f"/v1/admin/accounts/{account_id}/keys", served.admin, {})
    served.keys[account_id] = made["key"]


def _grant(served: Credits, account_id: str, body: dict[str, Any]) -> Any:
    return _post(served, f"/v1/admin/accounts/{account_id}/grants", served.admin, body)


def _use(served: Credits, account_id: str, credits: list[str]) -> None:
    for n, amount in enumerate(credits):  # one batch, so one usage entry, each
        event = {
            "id": f"{account_id}-{n}",
            "account_id": account_id,
            "bot_id": "b1" if n % 2 else "b2",
            "category": "chat",
            "credits": amount,
            "timestamp": int(datetime.now(UTC).timestamp() * 1000) - n * 60_000,
        }
        _post(served, "/v1/usage/events", served.ingest, {"events": [event]}, 200)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Credits]:
    running = LiveServer(tmp_path_factory.mktemp("dashboard-credits"))
    # The demo first, as `make run` does: its history is committed on its own story clock,
    # and no expiry sweep of a running serve dates any of it now.
    demo = subprocess.run(
        [str(EXECUTABLE), "demo"], env=running.env, capture_output=True, text=True,
        timeout=300, check=True,
    )  # fmt: skip
    running.start()
    try:
        served = Credits(running.base_url, running.env, running.key("admin"))
        link = re.search(
            r"^(http://\S+/dashboard#token=(cmr_\w+)&range=last90)$", demo.stdout, re.M
        )
        assert link is not None, demo.stdout
        served.demo_link, served.demo_key = link.group(1), link.group(2)
        served.ingest = running.key("ingest")
        served.keys = {}
        # acme: a plan spent first that expires in 5 days, a purchase that never does, a
        # voided promotion, 60 credits of usage in six batches and a hold of 5
        _account(served, "acme")
        now = int(datetime.now(UTC).timestamp() * 1000)
        plan = _grant(
            served, "acme",
            {"id": "plan-1", "credits": 100, "kind": "plan", "priority": 10,
             "expires_at": now + PLAN_DAYS * DAY_MS},
        )  # fmt: skip
        served.plan_expires_at = plan["expires_at"]
        _grant(served, "acme", {"id": "buy-1", "credits": "1000", "kind": "purchase"})
        _grant(served, "acme", {"id": "promo-1", "credits": 10, "kind": "promotion"})
        _post(served, "/v1/admin/accounts/acme/grants/promo-1/void", served.admin,
              {"reason": "test"}, 200)  # fmt: skip
        _use(served, "acme", USAGE)
        _post(
            served, "/v1/credits/holds", served.ingest,
            {"id": "hold-1", "account_id": "acme", "credits": "5", "expires_in_s": 3600},
        )  # fmt: skip
        made = _post(served, "/v1/admin/accounts/acme/keys", served.admin, {"bot_id": "b1"})
        served.bot_key = made["key"]
        served.key = served.keys["acme"]
        # over: more usage than grants; idle: a grant and no usage; fresh: nothing at all
        _account(served, "over")
        _grant(served, "over", {"id": "g", "credits": 10, "kind": "purchase"})
        _use(served, "over", ["4", "8.5"])
        _account(served, "idle")
        _grant(served, "idle", {"id": "g", "credits": 10, "kind": "purchase"})
        _account(served, "fresh")
        yield served
    finally:
        if running.process is not None:
            running.stop()


# --- helpers --------------------------------------------------------------------------------

BALANCE_CHART = """() => Chart.getChart(document.getElementById("balance-chart"))
  .data.datasets[0].data.map((p) => [p.x, p.y, p.text, p.seq])"""


def _loaded(page: Page, after: int = 0) -> int:
    page.wait_for_function(
        "after => Number(document.getElementById('credits').dataset.loaded || 0) > after",
        arg=after,
        timeout=10_000,
    )
    loads: int = page.evaluate("Number(document.getElementById('credits').dataset.loaded)")
    return loads


def _api(served: Served, path: str, token: str) -> Any:
    answer = served.call("GET", path, token)
    assert answer.status_code == 200, answer.text
    return exact(answer.text)


def _journal(served: Served, token: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = _api(served, "/v1/account/credits/entries?limit=1000", token)
    return entries


def _figure(page: Page, name: str) -> Decimal:
    value = page.locator(f"#credits-{name}").get_attribute("data-value")
    assert value is not None
    return Decimal(value)


def _shown_date(ms: int) -> str:
    """As the page writes a date (en-US, in the account's zone): "Jan 5, 2027"."""
    day = datetime.fromtimestamp(ms / 1000, ZoneInfo(ACCOUNT_ZONE)).date()
    return f"{day:%b} {day.day}, {day.year}"


def _runway(page: Page) -> dict[str, str]:
    found: dict[str, str] = page.evaluate(
        "() => ({...document.getElementById('runway').dataset,"
        " text: document.getElementById('runway').textContent})"
    )
    return found


# --- the tests ------------------------------------------------------------------------------


def test_balance_grants_chart_and_runway(browser: Browser, open_page: Any, served: Credits) -> None:
    watched: Watched = open_page()
    page = watched.page
    requests: list[str] = []

    def small_pages(route: Route) -> None:  # pages of 2 entries, so the page follows Link
        requests.append(route.request.url)
        route.continue_(url=route.request.url.replace("limit=1000", "limit=2"))

    page.route(re.compile(r"/v1/account/credits/entries\?"), small_pages)
    sign_in(watched, served.key)
    loads = _loaded(page)
    balance = _api(served, "/v1/account/credits/balance", served.key)
    journal = _journal(served, served.key)

    # the figures are the API's, exactly: 1000 + 100 - 60 = 1040, 5 of them held
    assert balance["balance"] == Decimal("1040")
    assert _figure(page, "balance") == balance["balance"]
    assert _figure(page, "held") == balance["held"] == Decimal("5")
    assert _figure(page, "available") == balance["available"] == Decimal("1035")
    assert page.locator("#credits-balance").inner_text() == "1,040"

    # the grants, with what remains, status and expiry
    rows = page.locator("#grants tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.id, ...[...r.cells].map(c => c.textContent)])"
    )
    assert (
        [r[0] for r in rows]
        == [g["id"] for g in balance["grants"]]
        == [
            "plan-1",
            "buy-1",
            "promo-1",
        ]
    )
    plan, purchase, promotion = rows
    assert plan[2:6] == ["plan", "100", "40", "active"]
    assert purchase[2:7] == ["purchase", "1,000", "1,000", "active", "never"]
    assert promotion[2:6] == ["promotion", "10", "0", "voided"]
    assert _shown_date(served.plan_expires_at) in plan[6]

    # the chart: where the balance stood at the range's start, then balance_after of each
    # journal entry by time, every page of the journal read (2 entries each, through Link)
    assert len(journal) == 10  # 3 grants, a void, 6 usage entries
    assert len([url for url in requests if "limit=1000" in url]) == 1  # the rest follow Link
    entry_requests = [
        r.url for r in watched.api_requests() if "/v1/account/credits/entries" in r.url
    ]
    # Five full pages; the fifth has no Link (nothing follows), so no empty page is asked.
    assert len(entry_requests) == len(journal) // 2
    assert all("limit=2" in url for url in entry_requests[1:])
    start = day_start_ms(today_in(ACCOUNT_ZONE) - timedelta(days=29), zone(ACCOUNT_ZONE))
    points = page.evaluate(BALANCE_CHART)
    assert points[0][:3] == [start, 0, "0"]
    assert [p[3] for p in points[1:-1]] == [e["seq"] for e in journal]
    assert [p[0] for p in points[1:-1]] == [e["time"] for e in journal]
    assert [Decimal(p[2]) for p in points[1:-1]] == [e["balance_after"] for e in journal]
    assert [p[1] for p in points[1:-1]] == [float(e["balance_after"]) for e in journal]
    assert Decimal(points[-1][2]) == journal[-1]["balance_after"]

    # the runway: 60 credits in the last 30 days, 2 a day. The plan's 40 left (35, once the
    # hold's 5 are spent) would last 17 days, but it expires in 5: what it has left then is
    # lost, and the purchase's 1000 last 500 days more. (Not 1035 / 2 days from now.)
    runway = _runway(page)
    until = served.plan_expires_at + 500 * DAY_MS
    assert runway["kind"] == "until"
    assert int(runway["until"]) == until
    assert runway["used"] == "60"
    assert runway["text"] == (
        f"At the last 30 days' rate (2 credits a day), the credits last until about "
        f"{_shown_date(until)}."
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#credits").screenshot(path=ARTIFACTS / "dashboard-credits.png")

    # another range redraws the chart from the journal already read
    before = len(watched.api_requests())
    page.get_by_role("button", name="Last 7 days").click()
    loads = _loaded(page, loads)
    week = day_start_ms(today_in(ACCOUNT_ZONE) - timedelta(days=6), zone(ACCOUNT_ZONE))
    assert page.evaluate(BALANCE_CHART)[0][0] == week
    credit_requests = [
        r.url for r in watched.api_requests()[before:] if "/v1/account/credits/" in r.url
    ]
    assert credit_requests == []
    # Refresh reads it again
    page.get_by_role("button", name="Refresh").click()
    _loaded(page, loads)
    assert len([r for r in watched.api_requests() if "credits/balance" in r.url]) == 2


def test_a_bot_bound_key_sees_the_accounts_credits(
    browser: Browser, open_page: Any, served: Credits
) -> None:
    watched: Watched = open_page()
    page = watched.page
    sign_in(watched, served.bot_key)
    _loaded(page)
    balance = _api(served, "/v1/account/credits/balance", served.bot_key)
    assert balance == _api(served, "/v1/account/credits/balance", served.key)
    assert _figure(page, "balance") == balance["balance"]
    assert _figure(page, "available") == balance["available"]
    assert "whole account" in page.inner_text("#credits-scope")
    assert "b1" in page.inner_text("#credits-scope")
    assert _runway(page)["until"] == str(served.plan_expires_at + 500 * DAY_MS)
    points = page.evaluate(BALANCE_CHART)
    assert [p[3] for p in points[1:-1]] == [e["seq"] for e in _journal(served, served.key)]


@pytest.mark.parametrize(
    ("account", "kind", "words", "balance"),
    [
        ("over", "overage", "Already in overage: 2.5 credits used beyond the grants", "-2.5"),
        ("idle", "idle", "No recent usage", "10"),
        ("fresh", "none", "No credits have been granted", "0"),
    ],
)
def test_overage_no_recent_usage_and_no_grants(
    browser: Browser,
    open_page: Any,
    served: Credits,
    account: str,
    kind: str,
    words: str,
    balance: str,
) -> None:
    watched: Watched = open_page()
    page = watched.page
    sign_in(watched, served.keys[account])
    _loaded(page)
    runway = _runway(page)
    assert runway["kind"] == kind
    assert words in runway["text"]
    assert runway["until"] == ""
    assert _figure(page, "balance") == Decimal(balance)
    assert page.locator("#balance-empty").is_visible() == (account == "fresh")
    if account == "over":
        assert "negative" in (page.locator("#credits-balance").get_attribute("class") or "")
        assert "2.5 credits in overage" in page.inner_text("#credits-overage")


def test_error_states(browser: Browser, open_page: Any, served: Credits) -> None:
    watched: Watched = open_page()
    watched.expected_statuses.update({500, 503})
    page = watched.page
    failures = [
        (503, {"Retry-After": "1"}, {"code": 50300, "message": "the store is unavailable"}),
        (500, {"X-Request-Id": "req-c4fe"}, {"code": 50000, "message": "oops"}),
    ]

    def fail(route: Route) -> None:
        if not failures:
            route.continue_()
            return
        status, headers, body = failures.pop()
        route.fulfill(status=status, headers=headers, json=body)

    page.route(re.compile(r"/v1/account/credits/balance"), fail)
    sign_in(watched, served.key)
    problem = page.locator("#credits-problem")
    problem.wait_for(state="visible")
    assert "could not be loaded" in problem.inner_text()
    assert "unexpected problem (request id req-c4fe)" in problem.inner_text()
    assert page.locator("#credits-body").is_hidden()  # no figure stands without its data
    assert page.locator("#credits").get_attribute("data-failed") == "500"
    page.unroute(re.compile(r"/v1/account/credits/balance"))

    # the journal failing, on the retry
    page.route(re.compile(r"/v1/account/credits/entries"), fail)
    page.locator("#credits-retry").click()
    page.wait_for_function("() => document.getElementById('credits').dataset.failed === '503'")
    assert "briefly unavailable" in problem.inner_text()
    page.unroute(re.compile(r"/v1/account/credits/entries"))

    page.locator("#credits-retry").click()
    _loaded(page)
    assert problem.is_hidden()
    assert page.locator("#credits-body").is_visible()
    assert _figure(page, "balance") == Decimal("1040")


def test_the_demo_burns_down(browser: Browser, open_page: Any, served: Credits) -> None:
    """The demo's link, on its last 90 days: a plan granted on the first of each month and
    spent down, the purchase drawn on, the balance positive today; the runway ahead."""
    watched: Watched = open_page(1280, 1500)
    page = watched.page
    page.goto(served.demo_link)
    wait_drawn(page, 0)
    _loaded(page)
    balance = _api(served, "/v1/account/credits/balance", served.demo_key)
    journal = _journal(served, served.demo_key)
    assert _figure(page, "balance") == balance["balance"] > 0
    ids = page.locator("#grants tbody tr").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert ids == [g["id"] for g in balance["grants"]]
    assert "demo-purchase" in ids
    assert sum(1 for i in ids if i.startswith("demo-plan-")) >= 4

    points = page.evaluate(BALANCE_CHART)
    start = day_start_ms(today_in(ACCOUNT_ZONE) - timedelta(days=89), zone(ACCOUNT_ZONE))
    shown = [e for e in journal if e["time"] > start]
    assert [p[3] for p in points[1:-1]] == [e["seq"] for e in shown]
    assert len(shown) > 89 * 4  # batches through every day, not one step at the end
    # each first of the month, up by a plan; between them, down with every usage entry
    plans = [e for e in shown if e["type"] == "grant"]
    assert len(plans) >= 2
    assert all(e["credits"] < 0 for e in shown if e["type"] in ("usage", "expiry"))
    peaks = [e["balance_after"] for e in plans]
    assert peaks == sorted(peaks, reverse=True)  # the purchase runs down, month by month
    assert points[-1][1] < points[0][1] + float(plans[0]["credits"])
    runway = _runway(page)
    assert runway["kind"] == "until"
    assert int(runway["until"]) > int(runway["now"])
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#chart").hover(position={"x": 700, "y": 160})
    page.screenshot(path=ARTIFACTS / "dashboard-demo-credits.png")
