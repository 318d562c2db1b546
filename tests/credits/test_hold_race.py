"""Holds never over-commit: N hold requests for one account raced through two server
processes succeed exactly while `available` covers them, on each store."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from creditmeter import accounts, keys
from creditmeter.credits.grants import GrantRequest, create_grant
from tests.support.server import EXECUTABLE, Server
from tests.support.stores import POSTGRES_URL, opened_store, throwaway_store_url

REQUESTS = 40
HOLD = 7  # credits per hold; the grant is 100: exactly 14 holds fit, 2 credits stay free


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_racing_holds_never_overcommit(backend: str, tmp_path: Path) -> None:
    if backend == "postgres" and not POSTGRES_URL:
        pytest.skip("set CREDITMETER_TEST_POSTGRES_URL to run the PostgreSQL tests")
    if not EXECUTABLE.exists():
        pytest.skip(f"{EXECUTABLE} is not installed")
    with throwaway_store_url(backend, tmp_path) as url:
        with opened_store(url) as store:
            accounts.create_account(store=store, account_id="acme")
            create_grant(
                store=store,
                account_id="acme",
                request=GrantRequest.parse({"id": "g", "credits": 100, "kind": "purchase"}),
            )
            ingest = keys.create_key(store=store, scope="ingest").token
        servers = [Server(url, tmp_path / f"server{n}.log") for n in range(2)]
        for server in servers:
            server.start()
        try:
            statuses = _race(servers, ingest)
            balance = httpx.get(
                f"{servers[0].base_url}/v1/account/credits/balance",
                params={"account_id": "acme"},
                headers={"Authorization": f"Bearer {ingest}"},
                timeout=30,
            ).json()
        finally:
            for server in servers:
                server.stop()
    assert sorted(set(statuses)) == [201, 402], statuses
    assert statuses.count(201) == 100 // HOLD
    assert (balance["held"], balance["available"]) == (HOLD * (100 // HOLD), 100 % HOLD)


def _race(servers: list[Server], key: str) -> list[int]:
    go = threading.Barrier(REQUESTS)
    statuses: list[int] = []

    def take(n: int) -> None:
        body = {"id": f"hold-{n}", "account_id": "acme", "credits": HOLD}
        with httpx.Client(base_url=servers[n % 2].base_url, timeout=60) as client:
            go.wait()
            while True:  # a busy SQLite answers 503 with Retry-After: send the same hold again
                answer = client.post(
                    "/v1/credits/holds", json=body, headers={"Authorization": f"Bearer {key}"}
                )
                if answer.status_code != 503:
                    break
        statuses.append(201 if answer.status_code == 200 else answer.status_code)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses
