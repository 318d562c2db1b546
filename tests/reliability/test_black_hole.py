"""A black-holed PostgreSQL (a network path that stops forwarding but keeps connections
open): every request that needs the store answers 503 with Retry-After within a few
seconds instead of hanging, /readyz fails, and once the path forwards again the service
recovers by itself with nothing acknowledged lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url
from tests.conftest import bearer, make_key
from tests.support.proxy import Proxy
from tests.support.stores import throwaway_postgres

from creditmeter import accounts
from creditmeter.http.app import create_app
from creditmeter.settings import Settings
from creditmeter.store import open_store
from creditmeter.store.engine import normalize_url
from creditmeter.store.tables import usage_events

TIMEOUT_S = 1  # CREDITMETER_STORE_TIMEOUT_S in this test
BOUND_S = 12  # connect (2 s at least) + a ping + a statement, with room for a busy machine
START = 1_733_011_200_000


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    """The answer and how long it took; fails the test if it takes past 3 * BOUND_S."""
    answers: list[Any] = []
    began = time.monotonic()
    thread = threading.Thread(target=lambda: answers.append(call()), daemon=True)
    thread.start()
    thread.join(3 * BOUND_S)
    assert answers, f"no answer within {3 * BOUND_S} s: the request hangs"
    return answers[0], time.monotonic() - began


def _batch(prefix: str) -> dict[str, object]:
    return {
        "events": [
            {
                "id": f"{prefix}{n}",
                "account_id": "acme",
                "bot_id": "bot",
                "category": "chat",
                "credits": "1.5",
                "timestamp": START + n,
            }
            for n in range(20)
        ]
    }


@pytest.mark.postgres
def test_a_black_holed_store_answers_503_in_seconds_and_loses_nothing() -> None:
    with throwaway_postgres() as url:
        real = make_url(normalize_url(url))
        with Proxy((real.host or "127.0.0.1", real.port or 5432)) as proxy:
            proxied = real.set(host="127.0.0.1", port=proxy.port)
            settings = Settings(
                read_rate_limit=0,
                database_url=proxied.render_as_string(hide_password=False),
                store_timeout_s=TIMEOUT_S,
            )
            store = open_store(settings)
            accounts.create_account(store=store, account_id="acme")
            ingest_key, read_key = make_key(store, "ingest"), make_key(store, "read", "acme")
            app = create_app(settings, store=store)
            acked: set[str] = set()
            with TestClient(app, raise_server_exceptions=False) as client:
                post = client.post("/v1/usage/events", json=_batch("a"), headers=bearer(ingest_key))
                assert post.status_code == 200
                acked |= {e["id"] for e in _batch("a")["events"]}  # type: ignore[attr-defined]

                proxy.black_hole()
                try:
                    calls: dict[str, Callable[[], Any]] = {
                        "ingest": lambda: client.post(
                            "/v1/usage/events", json=_batch("b"), headers=bearer(ingest_key)
                        ),
                        "report": lambda: client.get(
                            "/v1/account/bill/total",
                            params={"start_time": START, "end_time": START + 86_400_000},
                            headers=bearer(read_key),
                        ),
                        "readyz": lambda: client.get("/readyz"),
                    }
                    for name, call in calls.items():
                        answer, took = _timed(call)
                        assert answer.status_code == 503, (name, answer.text)
                        assert took < BOUND_S, (name, took)
                        if name != "readyz":
                            assert answer.json()["code"] == 50300
                            assert answer.headers["Retry-After"].isdigit()
                finally:  # a hung request fails, but ends once its connection is dropped
                    proxy.forward_again()
                deadline = time.monotonic() + 30
                while True:  # the client resends the batch that got a 503, with the same ids
                    post = client.post(
                        "/v1/usage/events", json=_batch("b"), headers=bearer(ingest_key)
                    )
                    if post.status_code == 200 or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                assert post.status_code == 200, post.text
                acked |= {e["id"] for e in _batch("b")["events"]}  # type: ignore[attr-defined]
                assert client.get("/readyz").status_code == 200
            store.dispose()
        direct = create_engine(normalize_url(url))
        with direct.connect() as conn:
            stored = set(conn.execute(select(usage_events.c.event_id)).scalars())
            count = conn.execute(select(func.count()).select_from(usage_events)).scalar_one()
        direct.dispose()
        assert acked <= stored
        assert count == len(stored) == len(acked)
