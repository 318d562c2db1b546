"""Who sees what: tenant isolation, bot-bound keys, admin reads, the admin API, and the
bill page's headers (X-Total-Count, Link) and CSV form."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from creditmeter import accounts
from creditmeter.categories import CATEGORIES
from creditmeter.clock import now_ms
from creditmeter.store import Store
from tests.conftest import bearer, make_key
from tests.http.support import (
    BILL_PAGE,
    BILL_TOTAL,
    DAY,
    DEC_1,
    DECEMBER,
    assert_error,
    assert_no_leak,
    december_total,
    event,
    exact,
    post_events,
)

SEED_FIELDS = ["date", "start_date", "end_date", "total", *CATEGORIES]


@pytest.fixture
def two_tenants(client: TestClient, store: Store, shanghai: str, ingest_key: str) -> str:
    """acme (1 credit per event) and beta (1000 per event), with the same bot and event ids;
    returns beta's read key."""
    accounts.create_account(store=store, account_id="beta", timezone="Asia/Shanghai")
    batch = []
    for day in range(31):
        for bot in ("b1", "b2"):
            ts = DEC_1 + day * DAY
            batch.append(event(f"{bot}-{day}", bot_id=bot, timestamp=ts))
            batch.append(
                event(f"{bot}-{day}", account_id="beta", bot_id=bot, credits=1000, timestamp=ts)
            )
    batch.append(event("only-beta", account_id="beta", bot_id="secret-bot", credits=7))
    answer = post_events(client, ingest_key, batch)
    assert answer.json() == {"accepted": len(batch), "duplicates": 0}
    return make_key(store, "read", "beta")


def _all_rows(client: TestClient, key: str, **params: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for page in (1, 2):
        answer = client.get(
            BILL_PAGE,
            params={**DECEMBER, "page_size": "20", "page": str(page), **params},
            headers=bearer(key),
        )
        assert answer.status_code == 200, answer.text
        rows += exact(answer)
    return rows


def test_a_read_key_never_sees_another_account(
    client: TestClient, shanghai: str, two_tenants: str
) -> None:
    rows = _all_rows(client, shanghai)
    assert len(rows) == 31
    assert all(row["total"] == 2 for row in rows)
    assert december_total(client, shanghai) == 62
    assert december_total(client, two_tenants) == 62 * 1000 + 7
    for bot, expected in (("b1", 31), ("b2", 31), ("secret-bot", 0), ("nobody", 0)):
        assert december_total(client, shanghai, bot_id=bot) == expected
        assert all(
            row["total"] == expected // 31 for row in _all_rows(client, shanghai, bot_id=bot)
        )
    for params in ({"account_id": "beta"}, {"account_id": "beta", "bot_id": "b1"}):
        for path in (BILL_PAGE, BILL_TOTAL):
            answer = client.get(path, params={**DECEMBER, **params}, headers=bearer(shanghai))
            assert_error(answer, 404, 40400, "'beta'")
            assert "1000" not in answer.text


def test_bot_bound_key(client: TestClient, store: Store, shanghai: str, two_tenants: str) -> None:
    bound = make_key(store, "read", "acme", bot_id="b1")
    rows = _all_rows(client, bound)  # no bot_id: the key's own bot
    assert all(row["total"] == 1 for row in rows)
    assert rows == _all_rows(client, bound, bot_id="b1")
    assert december_total(client, bound) == 31
    assert december_total(client, bound, bot_id="b1") == 31
    for path in (BILL_PAGE, BILL_TOTAL):
        for other in ("b2", "secret-bot"):
            answer = client.get(path, params={**DECEMBER, "bot_id": other}, headers=bearer(bound))
            assert_error(answer, 403, 40300, "'b1'", f"'{other}'")
        beta = client.get(path, params={**DECEMBER, "account_id": "beta"}, headers=bearer(bound))
        assert_error(beta, 404, 40400, "'beta'")
    # A key may be bound to a bot without usage: it sees zeros, never the account's total.
    idle = make_key(store, "read", "acme", bot_id="idle")
    assert december_total(client, idle) == 0


def test_admin_reads_any_account_with_account_id(
    client: TestClient, admin_key: str, two_tenants: str
) -> None:
    assert december_total(client, admin_key, account_id="acme") == 62
    assert december_total(client, admin_key, account_id="beta") == 62007
    assert december_total(client, admin_key, account_id="beta", bot_id="secret-bot") == 7
    rows = _all_rows(client, admin_key, account_id="beta", bot_id="b2")
    assert all(row["total"] == 1000 for row in rows)
    for path in (BILL_PAGE, BILL_TOTAL):
        missing = client.get(path, params=DECEMBER, headers=bearer(admin_key))
        assert_error(missing, 400, 40000, "account_id", "required", "admin")


# --- the admin API ----------------------------------------------------------------------


def test_admin_accounts(client: TestClient, admin_key: str) -> None:
    auth = bearer(admin_key)
    created = client.post(
        "/v1/admin/accounts",
        json={"id": "gamma", "name": "Gamma Ltd", "timezone": "Asia/Kolkata"},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"] == "gamma"
    assert body["name"] == "Gamma Ltd"
    assert body["timezone"] == "Asia/Kolkata"
    assert abs(body["created_at"] - now_ms()) < 60_000
    default = client.post("/v1/admin/accounts", json={"id": "delta"}, headers=auth)
    assert default.status_code == 201
    assert default.json()["name"] == "delta"
    assert default.json()["timezone"] == "UTC"
    taken = client.post("/v1/admin/accounts", json={"id": "gamma"}, headers=auth)
    assert_error(taken, 409, 40900, "'gamma'")
    assert client.get("/v1/admin/accounts/gamma", headers=auth).json() == body
    listed = client.get("/v1/admin/accounts", headers=auth).json()
    assert [a["id"] for a in listed] == ["delta", "gamma"]

    renamed = client.patch("/v1/admin/accounts/gamma", json={"name": "Gamma"}, headers=auth)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json() == {**body, "name": "Gamma"}
    moved = client.patch("/v1/admin/accounts/gamma", json={"timezone": "UTC"}, headers=auth)
    assert moved.json()["timezone"] == "UTC"
    bad_zone = client.patch(
        "/v1/admin/accounts/gamma", json={"timezone": "Mars/Base"}, headers=auth
    )
    assert_error(bad_zone, 400, 40000, "timezone", "Mars/Base")
    assert client.get("/v1/admin/accounts/gamma", headers=auth).json()["timezone"] == "UTC"

    for bad, words in (
        ({"id": "Has Caps"}, ["id"]),
        ({"id": "ok", "timezone": "Nowhere/City"}, ["timezone", "Nowhere/City"]),
        ({"id": "ok", "colour": "red"}, ["colour"]),
        ({}, ["id", "required"]),
    ):
        answer = client.post("/v1/admin/accounts", json=bad, headers=auth)
        assert_error(answer, 400, 40000, *words)
    extra = client.patch("/v1/admin/accounts/gamma", json={"id": "other"}, headers=auth)
    assert_error(extra, 400, 40000, "id")


def test_admin_keys(client: TestClient, store: Store, admin_key: str, two_tenants: str) -> None:
    auth = bearer(admin_key)
    plain = client.post("/v1/admin/accounts/acme/keys", json={}, headers=auth)
    assert plain.status_code == 201, plain.text
    bound = client.post(
        "/v1/admin/accounts/acme/keys",
        json={"bot_id": "b2", "expires_in_days": 30, "name": "b2 dashboard"},
        headers=auth,
    )
    assert bound.status_code == 201, bound.text
    new = bound.json()
    assert new["scope"] == "read"
    assert new["account_id"] == "acme"
    assert new["bot_id"] == "b2"
    assert new["name"] == "b2 dashboard"
    assert new["expires_at"] - new["created_at"] == 30 * DAY
    assert new["revoked_at"] is None
    assert new["key"].startswith("cmr_")
    assert december_total(client, new["key"]) == 31  # works at once, for its bot alone

    listed = client.get("/v1/admin/accounts/acme/keys", headers=auth)
    assert listed.status_code == 200
    assert_no_leak(listed.text)
    assert plain.json()["key"] not in listed.text
    assert new["key"] not in listed.text
    found = {k["key_id"]: k for k in listed.json()}
    assert {plain.json()["key_id"], new["key_id"]} <= set(found)
    assert all("key" not in k and "secret_hash" not in k for k in found.values())
    assert found[new["key_id"]] == {k: v for k, v in new.items() if k != "key"}
    beta_keys = client.get("/v1/admin/accounts/beta/keys", headers=auth).json()
    assert new["key_id"] not in {k["key_id"] for k in beta_keys}

    revoked = client.delete(f"/v1/admin/keys/{new['key_id']}", headers=auth)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert "key" not in revoked.json()
    again = client.delete(f"/v1/admin/keys/{new['key_id']}", headers=auth)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]  # the first revocation
    answer = client.get(BILL_TOTAL, params=DECEMBER, headers=bearer(new["key"]))
    assert_error(answer, 401, 40127)
    assert december_total(client, plain.json()["key"]) == 62

    for bad, words in (
        ({"bot_id": "Bad Bot"}, ["bot_id"]),
        ({"expires_in_days": 0}, ["expires_in_days"]),
        ({"expires_in_days": 40000}, ["expires_in_days"]),
        ({"scope": "admin"}, ["scope"]),
    ):
        answer = client.post("/v1/admin/accounts/acme/keys", json=bad, headers=auth)
        assert_error(answer, 400, 40000, *words)


# --- headers: X-Total-Count, Link, CSV ------------------------------------------------------

_LINK = re.compile(r'<([^>]*)>;\s*rel="([a-z]+)"')


def _links(header: str) -> dict[str, dict[str, list[str]]]:
    """rel -> the query of its target; every target is this same endpoint."""
    links = {}
    for target, rel in _LINK.findall(header):
        parts = urlsplit(target)
        assert parts.path == BILL_PAGE
        links[rel] = parse_qs(parts.query)
    return links


def test_total_count_and_links(client: TestClient, shanghai: str, two_tenants: str) -> None:
    expected_rels = {
        1: {"first", "next", "last"},
        2: {"first", "prev", "next", "last"},
        3: {"first", "prev", "next", "last"},
        4: {"first", "prev", "last"},
    }
    seen: list[str] = []
    for page, rels in expected_rels.items():
        params = {**DECEMBER, "page": str(page), "page_size": "10", "bot_id": "b1"}
        answer = client.get(BILL_PAGE, params=params, headers=bearer(shanghai))
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Total-Count"] == "31"
        rows = answer.json()
        assert len(rows) == (10 if page < 4 else 1)
        seen += [row["date"] for row in rows]
        links = _links(answer.headers["Link"])
        assert set(links) == rels
        assert links["first"]["page"] == ["1"]
        assert links["last"]["page"] == ["4"]
        if "prev" in links:
            assert links["prev"]["page"] == [str(page - 1)]
        if "next" in links:
            assert links["next"]["page"] == [str(page + 1)]
        for query in links.values():  # the other parameters are kept
            assert query["page_size"] == ["10"]
            assert query["bot_id"] == ["b1"]
            assert query["start_time"] == [DECEMBER["start_time"]]
            assert query["end_time"] == [DECEMBER["end_time"]]
    assert seen == [f"2024-12-{d:02d}" for d in range(1, 32)]


def test_following_next_walks_every_day(client: TestClient, shanghai: str) -> None:
    url: str | None = (
        f"{BILL_PAGE}?start_time={DECEMBER['start_time']}&end_time={DECEMBER['end_time']}&page_size=7"
    )
    dates: list[str] = []
    while url is not None:
        answer = client.get(url, headers=bearer(shanghai))
        assert answer.status_code == 200
        dates += [row["date"] for row in answer.json()]
        url = next((t for t, rel in _LINK.findall(answer.headers["Link"]) if rel == "next"), None)
    assert dates == [f"2024-12-{d:02d}" for d in range(1, 32)]


def test_a_page_past_the_end_is_empty(client: TestClient, shanghai: str) -> None:
    for page in ("5", "6", "1000"):
        params = {**DECEMBER, "page": page, "page_size": "10"}
        answer = client.get(BILL_PAGE, params=params, headers=bearer(shanghai))
        assert answer.status_code == 200, answer.text
        assert answer.json() == []
        assert answer.headers["X-Total-Count"] == "31"
        links = _links(answer.headers["Link"])
        assert links["first"]["page"] == ["1"]
        assert links["last"]["page"] == ["4"]
        assert "next" not in links
    single = client.get(
        BILL_PAGE, params={**DECEMBER, "page_size": "100"}, headers=bearer(shanghai)
    )
    assert set(_links(single.headers["Link"])) == {"first", "last"}


def test_csv_equals_the_json_rows(client: TestClient, shanghai: str, ingest_key: str) -> None:
    batch = [
        event("c1", credits="0.1"),
        event("c2", credits="0.2", category="tts"),
        event("c3", credits="12.345678", category="knowledge_doc_storage", timestamp=DEC_1 + DAY),
    ]
    assert post_events(client, ingest_key, batch).status_code == 200
    for page in ("1", "2"):
        params = {**DECEMBER, "page": page, "page_size": "20"}
        as_json = client.get(BILL_PAGE, params=params, headers=bearer(shanghai))
        as_csv = client.get(
            BILL_PAGE, params=params, headers={**bearer(shanghai), "Accept": "text/csv"}
        )
        assert as_csv.status_code == 200, as_csv.text
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert as_csv.headers["X-Total-Count"] == as_json.headers["X-Total-Count"]
        assert as_csv.headers["Link"] == as_json.headers["Link"]
        header, *lines = list(csv.reader(io.StringIO(as_csv.text)))
        json_rows: list[dict[str, Any]] = exact(as_json)
        assert header == SEED_FIELDS
        assert all(list(row) == SEED_FIELDS for row in json_rows)
        assert len(lines) == len(json_rows)
        for line, row in zip(lines, json_rows, strict=True):
            assert line[:3] == [row["date"]] * 3
            assert [Decimal(cell) for cell in line[3:]] == [row[f] for f in SEED_FIELDS[3:]]
    first = client.get(
        BILL_PAGE,
        params={**DECEMBER, "page_size": "2"},
        headers={**bearer(shanghai), "Accept": "text/csv"},
    )
    assert first.text.splitlines()[1:] == [
        "2024-12-01,2024-12-01,2024-12-01,0.3,0.1,0,0,0,0,0,0,0.2",
        "2024-12-02,2024-12-02,2024-12-02,12.345678,0,0,12.345678,0,0,0,0,0",
    ]
