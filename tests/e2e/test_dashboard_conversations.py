"""The dashboard's Conversations view in a real browser (Debian's Chromium, Playwright),
against `creditmeter serve` as a process: the range's most expensive conversations with
their breakdown, paged, runs, and one conversation's events in time order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser

from tests.e2e.served import Served as LiveServer
from tests.e2e.test_dashboard import (
    ACCOUNT_ZONE,
    Served,
    Watched,
    browser,
    open_page,
    sign_in,
)

__all__ = ["browser", "open_page"]  # fixtures used here

CONVERSATIONS = 23  # three pages of ten


def _events(now: datetime) -> list[dict[str, Any]]:
    """Conversation k costs k + 1 chat credits plus moderation; its messages arrive over
    minutes, one of them out of order; and two workflow runs."""
    events: list[dict[str, Any]] = []
    for k in range(CONVERSATIONS):
        begun = now - timedelta(days=1 + k % 5, minutes=k)
        for n, (offset, category, credits) in enumerate(
            [(0, "chat", f"{k + 1}"), (3, "moderation", "0.01"), (-2, "anonymization", "0.5")]
            if k == 7
            else [(0, "chat", f"{k + 1}"), (3, "moderation", "0.01")]
        ):
            events.append(
                {
                    "id": f"c{k}-{n}",
                    "account_id": "acme",
                    "bot_id": "b1" if k % 2 else "b2",
                    "category": category,
                    "credits": credits,
                    "timestamp": int((begun + timedelta(minutes=offset)).timestamp() * 1000),
                    "conversation_id": f"conv-{k:02d}",
                }
            )
    for r in range(2):
        events.append(
            {
                "id": f"r{r}",
                "account_id": "acme",
                "bot_id": "b1",
                "category": "tool_call",
                "credits": f"{r + 2}.5",
                "timestamp": int((now - timedelta(hours=5 + r)).timestamp() * 1000),
                "run_id": f"run-{r}",
            }
        )
    return events


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    running = LiveServer(tmp_path_factory.mktemp("dashboard-conversations"))
    running.start()
    try:
        admin, ingest = running.key("admin"), running.key("ingest")
        served = Served(running.base_url, running.env, admin)
        created = served.call(
            "POST", "/v1/admin/accounts", admin,
            json={"id": "acme", "name": "Acme Robotics", "timezone": ACCOUNT_ZONE},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        now = datetime.now(ZoneInfo(ACCOUNT_ZONE))
        posted = served.call("POST", "/v1/usage/events", ingest, json={"events": _events(now)})
        assert posted.status_code == 200, posted.text
        made = served.call("POST", "/v1/admin/accounts/acme/keys", admin, json={})
        served.key = made.json()["key"]
        yield served
    finally:
        if running.process is not None:
            running.stop()


def _ids(watched: Watched) -> list[str]:
    ids: list[str] = watched.page.eval_on_selector_all(
        "#conversation-table tbody th button", "buttons => buttons.map(b => b.dataset.id)"
    )
    return ids


def _wait_loaded(watched: Watched, kind: str, page: int) -> None:
    watched.page.wait_for_function(
        "expected => (document.getElementById('conversations').dataset.loaded || '')"
        ".startsWith(expected)",
        arg=f"{kind}:{page}:",
        timeout=10_000,
    )


def test_conversations_view(browser: Browser, open_page: Any, served: Served) -> None:
    watched: Watched = open_page()
    sign_in(watched, served.key)
    page = watched.page
    _wait_loaded(watched, "conversations", 1)
    # most expensive first: conversation k costs k + 1.01 (k = 7: plus 0.5)
    by_cost = sorted(range(CONVERSATIONS), key=lambda k: -(k + 1.01 + (0.5 if k == 7 else 0)))
    expected = [f"conv-{k:02d}" for k in by_cost]
    assert _ids(watched) == expected[:10]
    assert "23 conversations began" in page.inner_text("#conversations-count")
    first_row = page.inner_text("#conversation-table tbody tr:first-child")
    assert "23.01" in first_row
    assert "Page 1 of 3" in page.inner_text("#conversations-page")
    page.click("#conversations-next")
    _wait_loaded(watched, "conversations", 2)
    assert _ids(watched) == expected[10:20]
    page.click("#conversations-next")
    _wait_loaded(watched, "conversations", 3)
    assert _ids(watched) == expected[20:]
    assert page.is_disabled("#conversations-next")

    # opening one: its events in time order, the late one (anonymization, 2 minutes before
    # the first chat) first
    page.click("#conversations-prev")
    _wait_loaded(watched, "conversations", 2)
    page.click("button[data-id='conv-07']")
    page.wait_for_selector("#conversation-detail:not([hidden])")
    assert "conv-07" in page.inner_text("#conversation-detail-title")
    rows = page.eval_on_selector_all(
        "#conversation-events tbody tr",
        "rows => rows.map(r => [Number(r.dataset.timestamp), r.cells[1].textContent,"
        " r.cells[2].textContent])",
    )
    assert [r[1] for r in rows] == ["anonymization", "chat", "moderation"]
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    assert Decimal(rows[1][2]) == 8

    page.click("#kind-runs")
    _wait_loaded(watched, "runs", 1)
    assert _ids(watched) == ["run-1", "run-0"]
    assert "3.5" in page.inner_text("#conversation-table tbody tr:first-child")


def _shown_instant(text: str, tz: str) -> datetime:
    """The instant a cell shows, read as a wall-clock time in `tz` (en-US, to the second)."""
    wall = datetime.strptime(text.replace("\u202f", " "), "%b %d, %Y, %I:%M:%S %p")
    return wall.replace(tzinfo=ZoneInfo(tz))


def _assert_times_in(watched: Watched, tz: str) -> None:
    """Every create time of the list, and every event time of the open conversation, is the
    instant the API gave, written in the chosen zone rather than the browser's own."""
    page = watched.page
    answers = [r for r in watched.api_requests() if "/dashboard/conversations?" in r.url]
    response = answers[-1].response()
    assert response is not None
    created = {
        row["conversation_id"]: row["conversation_create_time"] for row in response.json()["list"]
    }
    shown = page.eval_on_selector_all(
        "#conversation-table tbody tr",
        "rows => rows.map(r => [r.cells[0].textContent, r.cells[2].textContent])",
    )
    assert [name for name, _ in shown] == list(created)
    for name, text in shown:
        moment = datetime.fromtimestamp(created[name] // 1000, ZoneInfo(tz))
        assert _shown_instant(text, tz) == moment, (name, text, tz)
    page.click(f"button[data-id='{shown[0][0]}']")
    page.wait_for_selector("#conversation-detail:not([hidden])")
    events = page.eval_on_selector_all(
        "#conversation-events tbody tr",
        "rows => rows.map(r => [Number(r.dataset.timestamp), r.cells[0].textContent])",
    )
    assert events
    for timestamp, text in events:
        moment = datetime.fromtimestamp(timestamp // 1000, ZoneInfo(tz))
        assert _shown_instant(text, tz) == moment, (timestamp, text, tz)


def test_conversation_times_are_shown_in_the_chosen_zone(
    browser: Browser, open_page: Any, served: Served
) -> None:
    watched: Watched = open_page()  # the browser's own zone is DEVICE_ZONE, New York
    sign_in(watched, served.key)
    _wait_loaded(watched, "conversations", 1)
    _assert_times_in(watched, ACCOUNT_ZONE)  # the default zone: the account's
    loaded = watched.page.get_attribute("#conversations", "data-loaded")
    watched.page.get_by_label("Time zone").select_option("Australia/Adelaide")  # half-hour, DST
    watched.page.wait_for_function(
        "before => document.getElementById('conversations').dataset.loaded !== before",
        arg=loaded,
        timeout=10_000,
    )
    _assert_times_in(watched, "Australia/Adelaide")
