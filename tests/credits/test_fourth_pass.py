"""Findings of the fourth black-box pass (2026-12-03), one test each: balances at instants
to come, the 402 of an account in overage, voiding a grant used up, the journal's next
link, paths with a trailing slash and pages far past a list's end."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from fastapi.testclient import TestClient

from creditmeter.cli import main
from creditmeter.clock import now_ms
from creditmeter.store import Store

from ..conftest import bearer
from ..http.support import BILL_PAGE, DECEMBER, assert_error, event
from .support import BALANCE, ENTRIES, GRANTS, HOLDS

CONVERSATIONS = "/v1/account/agent/conversation/credits"


def _grant(client: TestClient, admin_key: str, grant_id: str, credits: Any, **fields: Any) -> None:
    body = {"id": grant_id, "credits": credits, "kind": "purchase", **fields}
    assert client.post(GRANTS, json=body, headers=bearer(admin_key)).status_code == 201


def _spend(client: TestClient, ingest_key: str, event_id: str, credits: Any) -> None:
    answer = client.post(
        "/v1/usage/events",
        json={"events": [event(event_id, credits=credits, timestamp=now_ms() - 1000)]},
        headers=bearer(ingest_key),
    )
    assert answer.json()["accepted"] == 1, answer.text


def test_a_balance_at_an_instant_to_come_is_a_400(
    client: TestClient, store: Store, shanghai: str, admin_key: str
) -> None:
    # A grant that will have expired by then: answering the balance now would count it.
    before = now_ms() - 1
    _grant(client, admin_key, "soon", 10, expires_at=now_ms() + 60_000)
    later = str(now_ms() + 120_000)
    assert_error(
        client.get(BALANCE, params={"at": later}, headers=bearer(shanghai)),
        400,
        40000,
        "at:",
        "future",
    )
    admin = {"account_id": "acme", "at": later}
    assert_error(client.get(BALANCE, params=admin, headers=bearer(admin_key)), 400, 40000, "at:")
    past = client.get(BALANCE, params={"at": str(before)}, headers=bearer(shanghai))
    assert past.status_code == 200
    assert past.json()["balance"] == 0  # before the grant
    now = client.get(BALANCE, params={"at": str(now_ms())}, headers=bearer(shanghai))
    assert now.json()["balance"] == 10
    result = CliRunner().invoke(
        main,
        ["--database-url", str(store.engine.url), "balance", "--account", "acme", "--at", later],
    )
    assert result.exit_code != 0
    assert "--at:" in result.output
    assert "future" in result.output


def test_a_402_says_how_far_below_zero_available_is(
    client: TestClient, shanghai: str, admin_key: str, ingest_key: str
) -> None:
    _grant(client, admin_key, "small", 1)
    _spend(client, ingest_key, "big", 81)  # balance -80: overage
    assert client.get(BALANCE, headers=bearer(shanghai)).json()["available"] == -80
    asked = client.post(
        HOLDS, json={"id": "h1", "account_id": "acme", "credits": 1}, headers=bearer(ingest_key)
    )
    assert_error(asked, 402, 40200, "1 asked", "-80 available", "overage")


def test_voiding_a_grant_used_up_writes_no_entry(
    client: TestClient, shanghai: str, admin_key: str, ingest_key: str
) -> None:
    _grant(client, admin_key, "ten", 10)
    _spend(client, ingest_key, "all", 10)
    before = client.get(ENTRIES, headers=bearer(shanghai)).json()
    voided = client.post(f"{GRANTS}/ten/void", json={"reason": "tidy"}, headers=bearer(admin_key))
    assert voided.status_code == 200
    assert voided.json()["status"] == "voided"
    assert client.get(ENTRIES, headers=bearer(shanghai)).json() == before
    assert [e["type"] for e in before] == ["grant", "usage"]


def test_the_journal_links_to_a_next_page_only_while_more_follow(
    client: TestClient, shanghai: str, admin_key: str
) -> None:
    for n in range(3):
        _grant(client, admin_key, f"g{n}", 1)
    pages = []
    params: dict[str, str] | None = {"limit": "2"}
    while params is not None:
        answer = client.get(ENTRIES, params=params, headers=bearer(shanghai))
        pages.append([e["seq"] for e in answer.json()])
        link = answer.headers.get("link")
        params = None
        if link is not None:
            query = link.split("?", 1)[1].split(">", 1)[0]
            params = dict(part.split("=") for part in query.split("&"))
    assert pages == [[1, 2], [3]]
    whole = client.get(ENTRIES, params={"limit": "3"}, headers=bearer(shanghai))
    assert len(whole.json()) == 3
    assert "link" not in whole.headers


def test_a_trailing_slash_is_a_404_never_a_redirect(
    client: TestClient, shanghai: str, ingest_key: str
) -> None:
    spoofed = {"Host": "evil.example", **bearer(shanghai)}
    page = client.get(BILL_PAGE + "/", params=DECEMBER, headers=spoofed, follow_redirects=False)
    assert_error(page, 404, 40400)
    body = {"id": "h1", "account_id": "acme", "credits": 1}
    hold = client.post(HOLDS + "/", json=body, headers=bearer(ingest_key), follow_redirects=False)
    assert_error(hold, 404, 40400)


def test_a_page_far_past_the_end_is_empty(client: TestClient, shanghai: str) -> None:
    far = {"page": "2000000000"}
    page = client.get(BILL_PAGE, params={**DECEMBER, **far}, headers=bearer(shanghai))
    assert page.status_code == 200
    assert page.json() == []
    end = now_ms()
    window = {"start_time": str(end - 86_400_000), "end_time": str(end), **far}
    listed = client.get(CONVERSATIONS, params=window, headers=bearer(shanghai))
    assert listed.status_code == 200
    assert listed.json()["list"] == []
    assert listed.json()["page"] == 2_000_000_000
    too_far = client.get(BILL_PAGE, params={**DECEMBER, "page": "1" * 16}, headers=bearer(shanghai))
    assert_error(too_far, 400, 40000, "page:")
