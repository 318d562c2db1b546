"""The dashboard's API: `GET /v1/account`, portal tokens, and the page and assets it serves."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from creditmeter import keys
from creditmeter.clock import now_ms
from creditmeter.store import Store
from tests.conftest import bearer, make_key
from tests.http.support import BILL_PAGE, DECEMBER, assert_error, event, post_events

PORTAL = "/v1/admin/accounts/acme/portal-tokens"


def test_account_view(client: TestClient, store: Store, shanghai: str, ingest_key: str) -> None:
    assert post_events(client, ingest_key, [event("a"), event("b", bot_id="b2")]).status_code == 200
    answer = client.get("/v1/account", headers=bearer(shanghai))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "account_id": "acme",
        "name": "Acme",
        "timezone": "Asia/Shanghai",
        "bot_id": None,
        "bots": ["b1", "b2"],
        "expires_at": None,
    }
    bound = client.get("/v1/account", headers=bearer(make_key(store, "read", "acme", "b2")))
    assert bound.json()["bot_id"] == "b2"
    assert bound.json()["bots"] == ["b2"]  # a bound key learns of no other bot

    admin = make_key(store, "admin")
    as_admin = client.get("/v1/account", params={"account_id": "acme"}, headers=bearer(admin))
    assert as_admin.json()["bots"] == ["b1", "b2"]
    assert_error(client.get("/v1/account", headers=bearer(admin)), 400, 40000, "account_id")
    assert_error(client.get("/v1/account", headers=bearer(ingest_key)), 403, 40300)
    assert_error(client.get("/v1/account"), 401, 40127)
    other = client.get("/v1/account", params={"account_id": "beta"}, headers=bearer(shanghai))
    assert_error(other, 404, 40400)


def test_portal_token(client: TestClient, store: Store, shanghai: str, admin_key: str) -> None:
    before = now_ms()
    answer = client.post(PORTAL, json={"expires_in": 600}, headers=bearer(admin_key))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert set(body) == {"token", "url", "expires_at", "key_id"}
    assert body["url"] == f"http://127.0.0.1:8000/dashboard#token={body['token']}"
    assert before + 600_000 <= body["expires_at"] <= now_ms() + 600_000
    assert keys.parse_token(body["token"]) == body["key_id"]
    assert client.get(BILL_PAGE, params=DECEMBER, headers=bearer(body["token"])).status_code == 200

    listed = client.get("/v1/admin/accounts/acme/keys", headers=bearer(admin_key)).json()
    portal_key = next(k for k in listed if k["key_id"] == body["key_id"])
    assert portal_key["scope"] == "read"
    assert portal_key["name"] == "portal link"
    assert portal_key["expires_at"] == body["expires_at"]
    assert body["token"] not in str(listed)

    default = client.post(PORTAL, headers=bearer(admin_key)).json()  # no body: one hour
    assert abs(default["expires_at"] - now_ms() - 3_600_000) < 60_000

    bound = client.post(PORTAL, json={"bot_id": "b1"}, headers=bearer(admin_key)).json()
    view = client.get("/v1/account", headers=bearer(bound["token"])).json()
    assert view["bot_id"] == "b1"
    assert view["expires_at"] == bound["expires_at"]
    other_bot = client.get(
        BILL_PAGE, params={**DECEMBER, "bot_id": "b2"}, headers=bearer(bound["token"])
    )
    assert_error(other_bot, 403, 40300)

    revoked = client.delete(f"/v1/admin/keys/{body['key_id']}", headers=bearer(admin_key))
    assert revoked.status_code == 200
    assert_error(client.get("/v1/account", headers=bearer(body["token"])), 401, 40127)


@pytest.mark.parametrize("expires_in", [0, -5, 86_401, 1.5, "soon", None])
def test_portal_token_lifetime_is_checked(
    client: TestClient, shanghai: str, admin_key: str, expires_in: object
) -> None:
    answer = client.post(PORTAL, json={"expires_in": expires_in}, headers=bearer(admin_key))
    assert_error(answer, 400, 40000, "expires_in")


def test_portal_token_needs_admin_and_an_account(
    client: TestClient, shanghai: str, admin_key: str
) -> None:
    assert_error(client.post(PORTAL, json={}, headers=bearer(shanghai)), 403, 40300)
    ghost = client.post(
        "/v1/admin/accounts/ghost/portal-tokens", json={}, headers=bearer(admin_key)
    )
    assert_error(ghost, 404, 40400, "ghost")
    bad_bot = client.post(PORTAL, json={"bot_id": "Not A Slug"}, headers=bearer(admin_key))
    assert_error(bad_bot, 400, 40000, "bot_id")


def test_portal_token_fails_the_millisecond_it_expires(
    client: TestClient, shanghai: str, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = client.post(PORTAL, json={"expires_in": 86_400}, headers=bearer(admin_key)).json()
    token = bearer(body["token"])
    for now, status in ((body["expires_at"] - 1, 200), (body["expires_at"], 401)):
        monkeypatch.setattr(keys, "now_ms", lambda now=now: now)
        # Twice: the second answer comes through the key cache, which checks expiry too.
        for _ in range(2):
            assert client.get("/v1/account", headers=token).status_code == status


def test_dashboard_page_and_assets(client: TestClient) -> None:
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src" not in csp  # scripts fall under default-src 'self': no inline code
    html = page.text
    assert re.search(r"<script(?![^>]*\ssrc=)", html) is None, "an inline script"
    assert re.search(r"\son[a-z]+=", html) is None, "an inline event handler"
    links = re.findall(r'(?:src|href)="([^"#][^"]*)"', html)  # fragments aside
    assert links
    assert all(link.startswith("/") and not link.startswith("//") for link in links), links
    for link in links:
        assert client.get(link).status_code == 200, link
    assert client.get("/dashboard/static/vendor/LICENSE.md").status_code == 200
    assert "/dashboard" not in client.get("/openapi.json").json()["paths"]
