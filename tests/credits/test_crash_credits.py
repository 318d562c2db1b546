"""SIGKILL during ingestion with grants in place: afterwards every acknowledged event is
stored, every stored event is drawn exactly once (the usage entries sum to the stored
events), and each journal is gapless and chained, on each store."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from creditmeter import accounts, keys
from creditmeter.credits.grants import GrantRequest, create_grant
from creditmeter.store.writes import stored
from tests.support.server import EXECUTABLE, Server
from tests.support.stores import POSTGRES_URL, opened_store, throwaway_store_url

from .support import check_journal

ACCOUNTS = ("acme", "globex")
KILLS = 3
BATCHES = 24


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_sigkill_draws_every_stored_event_once(backend: str, tmp_path: Path) -> None:
    if backend == "postgres" and not POSTGRES_URL:
        pytest.skip("set CREDITMETER_TEST_POSTGRES_URL to run the PostgreSQL tests")
    if not EXECUTABLE.exists():
        pytest.skip(f"{EXECUTABLE} is not installed")
    rng = random.Random(18)
    with throwaway_store_url(backend, tmp_path) as url:
        with opened_store(url) as store:
            for account_id in ACCOUNTS:
                accounts.create_account(store=store, account_id=account_id)
                for n, priority in enumerate((10, 50, 90)):
                    body = {"id": f"g{n}", "credits": 300, "kind": "plan", "priority": priority}
                    create_grant(
                        store=store, account_id=account_id, request=GrantRequest.parse(body)
                    )
            key = keys.create_key(store=store, scope="ingest").token
        batches: list[list[dict[str, Any]]] = [
            [
                {
                    "id": f"b{b}-{n}",
                    "account_id": rng.choice(ACCOUNTS),
                    "bot_id": "bot",
                    "category": "chat",
                    "credits": f"{rng.randint(0, 3000) / 1000}",
                    "timestamp": int(time.time() * 1000),
                }
                for n in range(rng.randint(1, 120))
            ]
            for b in range(BATCHES)
        ]
        server = Server(url, tmp_path / "server.log")
        server.start()
        acknowledged: set[tuple[str, str]] = set()
        done = threading.Event()

        def send() -> None:
            with httpx.Client(timeout=30) as http:
                for batch in batches:
                    while True:  # the same batch until acknowledged
                        try:
                            answer = http.post(
                                f"{server.base_url}/v1/usage/events",
                                json={"events": batch},
                                headers={"Authorization": f"Bearer {key}"},
                            )
                        except httpx.TransportError:
                            time.sleep(0.1)
                            continue
                        if answer.status_code == 200:
                            acknowledged.update((e["account_id"], e["id"]) for e in batch)
                            break
                        assert answer.status_code == 503, answer.text
                        time.sleep(0.1)
            done.set()

        sender = threading.Thread(target=send)
        sender.start()
        try:
            for _ in range(KILLS):
                time.sleep(rng.uniform(0.2, 1.5))
                server.kill()
                server.start()
            sender.join(timeout=240)
            assert done.is_set(), "the batches were not all acknowledged"
        finally:
            server.stop()
        with opened_store(url) as store:
            with store.read() as conn:
                everything = [(e["account_id"], e["id"]) for b in batches for e in b]
                found = stored(conn, everything)
            assert acknowledged <= found.keys()
            for account_id in ACCOUNTS:
                rows = check_journal(store, account_id)
                usage = [r for r in rows if r.type == "usage"]
                mine = [e for k, e in found.items() if k[0] == account_id]
                assert sum(r.events_count or 0 for r in usage) == len(mine)
                assert -sum(r.credits for r in usage) == sum(e.credits for e in mine)
