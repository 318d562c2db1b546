"""Two `creditmeter serve` processes on one store: whatever is changed through one is seen at
once through the other, though each caches keys' looks, pages, whole days and balances
(store/revisions.py). Each round changes something through server A and, as soon as A has
answered, reads through server B, whose caches are warm with the answer before the change:
an acknowledged event, a grant's draw-down, a revoked key, a changed time zone."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from creditmeter import accounts, keys
from tests.support.server import EXECUTABLE, Server
from tests.support.stores import POSTGRES_URL, opened_store, throwaway_store_url

ROUNDS = 20
DAY_MS = 86_400_000
START = 1_733_011_200_000  # 2024-12-01 00:00 UTC
# Two whole days and a cut end: whole days, buckets and raw events are all cached or read.
WINDOW = {"start_time": str(START), "end_time": str(START + 2 * DAY_MS + 3_600_123)}
ZONES = ("UTC", "Asia/Shanghai", "America/New_York")


def _exact(answer: httpx.Response) -> Any:
    """The JSON body with every number as a Decimal, so sums compare exactly."""
    return json.loads(answer.text, parse_float=Decimal, parse_int=Decimal)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _page(client: httpx.Client, token: str) -> tuple[str, Decimal]:
    """The zone and the total chat credits of the window's page, as `token` sees them."""
    answer = client.get("/v1/account/bill/page", params=WINDOW, headers=_auth(token))
    assert answer.status_code == 200, answer.text
    return answer.headers["x-timezone"], sum((row["chat"] for row in _exact(answer)), Decimal())


def _total(client: httpx.Client, token: str) -> Decimal:
    answer = client.get("/v1/account/bill/total", params=WINDOW, headers=_auth(token))
    assert answer.status_code == 200, answer.text
    return Decimal(_exact(answer)["chat"])


def _balance(client: httpx.Client, token: str) -> Decimal:
    answer = client.get("/v1/account/credits/balance", headers=_auth(token))
    assert answer.status_code == 200, answer.text
    return Decimal(_exact(answer)["balance"])


def _ok(answer: httpx.Response) -> Any:
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_change_through_one_server_is_read_at_once_through_the_other(
    backend: str, tmp_path: Path
) -> None:
    if backend == "postgres" and not POSTGRES_URL:
        pytest.skip("set CREDITMETER_TEST_POSTGRES_URL to run the PostgreSQL tests")
    if not EXECUTABLE.exists():
        pytest.skip(f"{EXECUTABLE} is not installed")
    with throwaway_store_url(backend, tmp_path) as url:
        with opened_store(url) as store:
            accounts.create_account(store=store, account_id="acme")
            admin = keys.create_key(store=store, scope="admin").token
            ingest = keys.create_key(store=store, scope="ingest").token
            reader = keys.create_key(store=store, scope="read", account_id="acme").token
        servers = [Server(url, tmp_path / f"server{n}.log") for n in range(2)]
        for server in servers:
            server.start()
        try:
            with (
                httpx.Client(base_url=servers[0].base_url, timeout=30) as a,
                httpx.Client(base_url=servers[1].base_url, timeout=30) as b,
            ):
                _rounds(a, b, admin, ingest, reader)
        finally:
            for server in servers:
                server.stop()


def _rounds(a: httpx.Client, b: httpx.Client, admin: str, ingest: str, reader: str) -> None:
    _ok(
        a.post(
            "/v1/admin/accounts/acme/grants",
            json={"id": "g", "credits": 1000, "kind": "purchase"},
            headers=_auth(admin),
        )
    )
    expected, zone = Decimal(), "UTC"
    for n in range(ROUNDS):
        # Warm B's caches: the page, its whole days, the total, the balance.
        assert _page(b, reader) == (zone, expected)
        assert _total(b, reader) == expected
        assert _balance(b, reader) == 1000 - expected

        # An event, acknowledged by A, in one of the window's whole days or its cut end.
        ts = START + (n % 3) * DAY_MS + 170_003 * n  # inside the window, minutes apart
        event = {
            "id": f"e{n}",
            "account_id": "acme",
            "bot_id": "b1",
            "category": "chat",
            "credits": n + 1,
            "timestamp": ts,
        }
        assert (
            _ok(a.post("/v1/usage/events", json={"events": [event]}, headers=_auth(ingest)))[
                "accepted"
            ]
            == 1
        )
        expected += n + 1
        assert _page(b, reader) == (zone, expected)
        assert _total(b, reader) == expected
        assert _balance(b, reader) == 1000 - expected

        # A key B has just used, revoked through A.
        fresh = _ok(a.post("/v1/admin/accounts/acme/keys", json={}, headers=_auth(admin)))
        assert _page(b, fresh["key"]) == (zone, expected)
        assert _balance(b, fresh["key"]) == 1000 - expected
        _ok(a.delete(f"/v1/admin/keys/{fresh['key_id']}", headers=_auth(admin)))
        for path in ("/v1/account/bill/page", "/v1/account/credits/balance"):
            answer = b.get(path, params=WINDOW, headers=_auth(fresh["key"]))
            assert answer.status_code == 401, answer.text

        # The account's zone, changed through A: B's days follow it at once.
        zone = ZONES[(n + 1) % len(ZONES)]
        _ok(a.patch("/v1/admin/accounts/acme", json={"timezone": zone}, headers=_auth(admin)))
        assert _page(b, reader)[0] == zone
        assert _total(b, reader) == _total(a, reader)
