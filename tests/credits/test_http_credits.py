"""The credit endpoints through the real app, on both stores: grants, balance (now and at
an instant), entries (paging, CSV), holds (402, idempotency, release, settlement), and
every bad input a clean 400 naming its field that changes nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from creditmeter.clock import now_ms
from creditmeter.store import Store

from ..conftest import bearer, make_key
from ..http.support import assert_error, event, exact, post_events
from .support import BALANCE, ENTRIES, GRANTS, HOLDS


def _grant(client: TestClient, admin: str, grant_id: str, credits: Any, **fields: Any) -> Any:
    body = {"id": grant_id, "credits": credits, "kind": "purchase", **fields}
    return client.post(GRANTS, json=body, headers=bearer(admin))


def _balance(client: TestClient, key: str, **params: Any) -> Any:
    answer = client.get(BALANCE, params=params, headers=bearer(key))
    assert answer.status_code == 200, answer.text
    return exact(answer)


def test_grant_usage_balance_and_entries(
    client: TestClient, store: Store, shanghai: str, admin_key: str, ingest_key: str
) -> None:
    answer = _grant(client, admin_key, "plan-dec", "100.5", kind="plan", priority=10)
    assert answer.status_code == 201, answer.text
    assert exact(answer)["remaining"] == Decimal("100.5")
    assert (
        _grant(client, admin_key, "plan-dec", "100.500", kind="plan", priority=10).status_code
        == 200
    )
    assert_error(_grant(client, admin_key, "plan-dec", 7, kind="plan"), 409, 40900, "plan-dec")
    assert _grant(client, admin_key, "buy-1", 50).status_code == 201
    before = now_ms()
    post_events(client, ingest_key, [event(f"e{n}", credits="0.3") for n in range(10)])
    found = _balance(client, shanghai)
    assert (found["balance"], found["available"], found["seq"]) == (
        Decimal("147.5"),
        Decimal("147.5"),
        3,
    )
    assert {g["id"]: g["remaining"] for g in found["grants"]} == {
        "plan-dec": Decimal("97.5"),
        "buy-1": Decimal(50),
    }
    past = _balance(client, shanghai, at=str(before - 1))
    assert (past["balance"], past["seq"]) == (Decimal("150.5"), 2)
    # a bot-bound read key reads its account's balance; an admin key names the account
    bound = make_key(store, "read", "acme", "b1")
    assert _balance(client, bound)["balance"] == Decimal("147.5")
    assert _balance(client, admin_key, account_id="acme")["balance"] == Decimal("147.5")
    page = client.get(ENTRIES, params={"limit": 2}, headers=bearer(shanghai))
    assert [e["seq"] for e in page.json()] == [1, 2]
    assert 'rel="next"' in page.headers["link"]
    rest = client.get(ENTRIES, params={"after_seq": 2}, headers=bearer(shanghai))
    usage = exact(rest)[0]
    assert usage["type"] == "usage"
    assert usage["credits"] == Decimal(-3)
    assert usage["allocations"] == [{"grant_id": "plan-dec", "credits": Decimal(-3)}]
    assert usage["events"] == {"count": 10, "first_id": "e0", "last_id": "e9"}
    assert "link" not in rest.headers
    csv = client.get(ENTRIES, headers={**bearer(shanghai), "Accept": "text/csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[3].startswith("3,")
    for refused in ("text/csv;q=0", "application/json, text/csv;q=0.1"):  # RFC 9110 q values
        answer = client.get(ENTRIES, headers={**bearer(shanghai), "Accept": refused})
        assert answer.headers["content-type"] == "application/json"


def test_void_and_list(client: TestClient, shanghai: str, admin_key: str) -> None:
    _grant(client, admin_key, "promo", 5, kind="promotion")
    answer = client.post(f"{GRANTS}/promo/void", json={"reason": "oops"}, headers=bearer(admin_key))
    assert answer.status_code == 200
    assert answer.json()["status"] == "voided"
    assert [g["status"] for g in client.get(GRANTS, headers=bearer(admin_key)).json()] == ["voided"]
    assert _balance(client, shanghai)["balance"] == 0
    missing = client.post(f"{GRANTS}/nope/void", json={}, headers=bearer(admin_key))
    assert_error(missing, 404, 40400, "nope")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"credits": 0}, "credits"),
        ({"credits": "-1"}, "credits"),
        ({"credits": "1.0000001"}, "credits"),
        ({"credits": 1_000_000_001}, "credits"),
        ({"kind": "gift"}, "kind"),
        ({"priority": 0}, "priority"),
        ({"priority": 101}, "priority"),
        ({"expires_at": 1_000}, "expires_at"),
        ({"expires_at": "yesterday"}, "expires_at"),
        ({"id": "has space"}, "id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_grants_are_400s_that_change_nothing(
    client: TestClient, shanghai: str, admin_key: str, fields: dict[str, Any], field: str
) -> None:
    body = {"id": "g", "credits": 1, "kind": "plan", **fields}
    answer = client.post(GRANTS, json=body, headers=bearer(admin_key))
    assert_error(answer, 400, 40000, field)
    assert _balance(client, shanghai)["seq"] == 0


def test_holds(client: TestClient, shanghai: str, admin_key: str, ingest_key: str) -> None:
    _grant(client, admin_key, "g", 10)
    body = {"id": "h1", "account_id": "acme", "credits": 6}
    answer = client.post(HOLDS, json=body, headers=bearer(ingest_key))
    assert answer.status_code == 201, answer.text
    assert (answer.json()["status"], exact(answer)["available"]) == ("active", Decimal(4))
    assert client.post(HOLDS, json=body, headers=bearer(ingest_key)).status_code == 200
    other = {**body, "credits": 7}
    assert_error(client.post(HOLDS, json=other, headers=bearer(ingest_key)), 409, 40900)
    too_much = {"id": "h2", "account_id": "acme", "credits": "4.000001"}
    assert_error(client.post(HOLDS, json=too_much, headers=bearer(ingest_key)), 402, 40200, "4")
    found = _balance(client, shanghai)
    assert (found["held"], found["available"]) == (Decimal(6), Decimal(4))
    released = client.post(f"{HOLDS}/h1/release", headers=bearer(ingest_key))
    assert released.json()["status"] == "released"
    assert _balance(client, shanghai)["available"] == Decimal(10)
    # settlement: the first batch with an event naming the hold ends it
    client.post(
        HOLDS, json={"id": "h3", "account_id": "acme", "credits": 5}, headers=bearer(ingest_key)
    )
    answer = post_events(client, ingest_key, [event("e1", credits=2, hold_id="h3")])
    assert answer.status_code == 200, answer.text
    assert client.get(f"{HOLDS}/h3", headers=bearer(ingest_key)).json()["status"] == "settled"
    found = _balance(client, shanghai)
    assert (found["balance"], found["held"]) == (Decimal(8), 0)


def test_events_naming_no_hold_are_400s(
    client: TestClient, store: Store, shanghai: str, admin_key: str, ingest_key: str
) -> None:
    from creditmeter import accounts

    accounts.create_account(store=store, account_id="other")
    client.post(
        HOLDS,
        json={"id": "theirs", "account_id": "other", "credits": 0.5},
        headers=bearer(ingest_key),
    )
    for hold_id in ("nope", "theirs", ""):
        answer = post_events(client, ingest_key, [event("e1", hold_id=hold_id)])
        body = assert_error(answer, 400, 40000, "hold_id")
        assert body["errors"][0]["index"] == 0
    assert _balance(client, shanghai)["seq"] == 0
    bad_holds = [
        {"id": "h", "account_id": "acme", "credits": 0},
        {"id": "h", "account_id": "nobody", "credits": 1},
        {"id": "h", "account_id": "acme", "credits": 1, "expires_in_s": 0},
        {"id": "h", "account_id": "acme", "credits": 1, "expires_in_s": 86_401},
    ]
    for body in bad_holds:
        assert_error(client.post(HOLDS, json=body, headers=bearer(ingest_key)), 400, 40000)


@pytest.mark.parametrize("path", [BALANCE, ENTRIES])
@pytest.mark.parametrize("account_id", ["Has Caps", "a\x01b", "a\x00b", "x" * 65])
def test_an_account_id_that_is_no_id_is_a_400_as_on_the_bills(
    client: TestClient, admin_key: str, path: str, account_id: str
) -> None:
    answer = client.get(path, params={"account_id": account_id}, headers=bearer(admin_key))
    assert_error(answer, 400, 40000, "account_id")
    unknown = client.get(path, params={"account_id": "nobody"}, headers=bearer(admin_key))
    assert_error(unknown, 404, 40400, "nobody")
