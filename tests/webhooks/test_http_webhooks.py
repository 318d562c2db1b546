"""The webhook admin API and low_balance_threshold through the real app, on both stores:
registration refuses loopback, private, link-local and non-http(s) URLs by default."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import bearer

PUBLIC = "http://93.184.216.34/hooks"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "https://[2002:7f00:1::]/hook",  # 6to4 carrying 127.0.0.1
        "https://[2002:a00:1::1]/hook",  # 6to4 carrying 10.0.0.1
        "http://[::1/hook",  # an IPv6 literal never closed
        "http://[93.184.216.34]/hook",
        "http://[fec0::1]/hook",  # site-local
        "http://[3fff::1]/hook",  # documentation (RFC 9637)
        "http://93.184.216.34:0/hook",
        "ftp://93.184.216.34/hook",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://user:pw@93.184.216.34/hook",
        "http:///nohost",
        "93.184.216.34/hook",
    ],
)
def test_registration_refuses(client: TestClient, admin_key: str, url: str) -> None:
    answer = client.post("/v1/admin/webhooks", json={"url": url}, headers=bearer(admin_key))
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == 40000
    assert answer.json()["message"].startswith("url: ")
    assert client.get("/v1/admin/webhooks", headers=bearer(admin_key)).json() == []


def test_register_list_deliveries_remove(client: TestClient, admin_key: str) -> None:
    headers = bearer(admin_key)
    made = client.post(
        "/v1/admin/webhooks",
        json={"url": PUBLIC, "events": ["credits.balance_depleted", "credits.balance_low"]},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["secret"].startswith("whsec_")
    assert body["status"] == "enabled"
    assert body["events"] == ["credits.balance_low", "credits.balance_depleted"]
    listed = client.get("/v1/admin/webhooks", headers=headers).json()
    assert listed == [{k: v for k, v in body.items() if k != "secret"}]  # the secret only once
    every = client.post("/v1/admin/webhooks", json={"url": PUBLIC}, headers=headers).json()
    assert len(every["events"]) == 4
    deliveries = f"/v1/admin/webhooks/{body['id']}/deliveries"
    assert client.get(deliveries, headers=headers).json() == []
    removed = client.delete(f"/v1/admin/webhooks/{body['id']}", headers=headers)
    assert removed.status_code == 200
    assert removed.json()["id"] == body["id"]
    assert client.delete(f"/v1/admin/webhooks/{body['id']}", headers=headers).status_code == 404
    assert client.get(deliveries, headers=headers).status_code == 404
    gone = client.post("/v1/admin/webhooks/events/evt_nope/redeliver", headers=headers)
    assert gone.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"url": PUBLIC, "events": ["credits.nope"]},
        {"url": PUBLIC, "events": []},
        {"url": PUBLIC, "events": "credits.balance_low"},
        {"url": PUBLIC, "secret": "mine"},
        {"events": ["credits.balance_low"]},
        {"url": 12},
        [],
    ],
)
def test_bad_bodies(client: TestClient, admin_key: str, body: object) -> None:
    answer = client.post("/v1/admin/webhooks", json=body, headers=bearer(admin_key))
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == 40000


def test_scope_admin(client: TestClient, ingest_key: str) -> None:
    answer = client.post("/v1/admin/webhooks", json={"url": PUBLIC}, headers=bearer(ingest_key))
    assert answer.status_code == 403
    assert client.get("/v1/admin/webhooks").status_code == 401


def test_low_balance_threshold_on_accounts(
    client: TestClient, admin_key: str, ingest_key: str
) -> None:
    headers = bearer(admin_key)
    made = client.post(
        "/v1/admin/accounts",
        json={"id": "acme", "low_balance_threshold": "12.500000"},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    assert '"low_balance_threshold":12.5' in made.text  # a JSON number, exact
    assert (
        client.get("/v1/admin/accounts/acme", headers=headers).json()["low_balance_threshold"]
        == 12.5
    )
    patched = client.patch(
        "/v1/admin/accounts/acme",
        content=b'{"low_balance_threshold": 0.000001}',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert patched.status_code == 200, patched.text
    assert '"low_balance_threshold":0.000001' in patched.text
    balance = client.get("/v1/account/credits/balance?account_id=acme", headers=bearer(ingest_key))
    assert '"low_balance_threshold":0.000001' in balance.text
    renamed = client.patch("/v1/admin/accounts/acme", json={"name": "Acme"}, headers=headers)
    assert '"low_balance_threshold":0.000001' in renamed.text  # absent: unchanged
    cleared = client.patch(
        "/v1/admin/accounts/acme", json={"low_balance_threshold": None}, headers=headers
    )
    assert cleared.json()["low_balance_threshold"] is None
    for bad in ("-1", "1e3", "0.0000001", "abc", True, "2000000000"):
        answer = client.patch(
            "/v1/admin/accounts/acme", json={"low_balance_threshold": bad}, headers=headers
        )
        assert answer.status_code == 400, (bad, answer.text)
        assert "low_balance_threshold" in answer.json()["message"]
    assert (
        client.get("/v1/admin/accounts/acme", headers=headers).json()["low_balance_threshold"]
        is None
    )
