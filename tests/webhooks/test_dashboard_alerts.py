"""The dashboard's balance alert in a real browser (Debian's Chromium, by Playwright), against
`creditmeter serve`: the low-balance threshold shown, a banner while the balance is below it,
none once it is back, exact to the micro-credit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import IN_CI
from tests.e2e.served import Served
from tests.e2e.test_dashboard import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        message = "Debian's chromium is not installed: apt-get install chromium"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


def _call(served: Served, method: str, path: str, token: str, **kwargs: object) -> None:
    answer = httpx.request(
        method,
        served.base_url + path,
        headers={"Authorization": f"Bearer {token}"},
        timeout=20,
        **kwargs,  # type: ignore[arg-type]
    )
    assert answer.status_code in (200, 201), answer.text


def _open(browser: Browser, served: Served, key: str) -> Page:
    page = browser.new_context(locale="en-US").new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(served.base_url + "/dashboard")
    page.wait_for_function("() => document.documentElement.dataset.state === 'signed-out'")
    page.get_by_label("Read key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#balance-figure")
    assert errors == []
    return page


def test_threshold_and_banner(browser: Browser, tmp_path: Path) -> None:
    served = Served(tmp_path)
    served.start()
    try:
        admin, ingest = served.key("admin"), served.key("ingest")
        _call(
            served, "POST", "/v1/admin/accounts", admin,
            json={"id": "acme", "low_balance_threshold": "10.5"},
        )  # fmt: skip
        key = served.key("read", "acme")
        grant = {"id": "g", "credits": "10.500001", "kind": "purchase"}
        _call(served, "POST", "/v1/admin/accounts/acme/grants", admin, json=grant)
        page = _open(browser, served, key)
        assert page.text_content("#balance-figure") == "10.500001"
        assert "below 10.5 credits" in (page.text_content("#threshold-note") or "")
        assert page.query_selector("#balance-banner") is None  # at or above: no banner
        event = {
            "id": "e1", "account_id": "acme", "bot_id": "b", "category": "chat",
            "credits": "0.000002", "timestamp": 1_733_011_200_000,
        }  # fmt: skip
        _call(served, "POST", "/v1/usage/events", ingest, json={"events": [event]})
        page.close()
        page = _open(browser, served, key)
        assert page.text_content("#balance-figure") == "10.499999"
        banner = page.text_content("#balance-banner") or ""
        assert "below its low-balance threshold (10.5 credits)" in banner
        # 0.000002 credits a month would last past what a date can show
        assert "more than a hundred years" in (page.text_content("#runway") or "")
        _call(
            served, "POST", "/v1/usage/events", ingest,
            json={"events": [{**event, "id": "e2", "credits": "20"}]},
        )  # fmt: skip
        page.close()
        page = _open(browser, served, key)
        assert "run out" in (page.text_content("#balance-banner") or "")
        _call(
            served, "PATCH", "/v1/admin/accounts/acme", admin, json={"low_balance_threshold": None}
        )
        _call(
            served, "POST", "/v1/admin/accounts/acme/grants", admin,
            json={"id": "g2", "credits": "100", "kind": "purchase"},
        )  # fmt: skip
        page.close()
        page = _open(browser, served, key)
        assert "no low-balance threshold" in (page.text_content("#threshold-note") or "")
        assert page.query_selector("#balance-banner") is None
    finally:
        served.stop()
