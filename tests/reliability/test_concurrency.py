"""Concurrency: 4 server processes on one store, 8 clients sending overlapping batches (a
third of each client's ids shared with every other client, same content). PostgreSQL:
exact totals, no 5xx, no deadlock. SQLite: a busy database waits or answers 503 with
Retry-After (the client retries), never 500, never a lost write."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from tests.reliability.support import (
    EVENTS,
    ZONES,
    Tally,
    bearer,
    check_ledger,
    make_event,
    report,
    run_seed,
    seed,
    sized,
)
from tests.support.server import Server
from tests.support.stores import POSTGRES_URL, throwaway_store_url

from creditmeter.store.engine import normalize_url

WORKERS = 4
CLIENTS = 8
OWN = sized(300, 4000)  # events only this client sends
SHARED = OWN // 2  # events every client sends: a third of each client's ids
MAX_BATCH = 150


def _batches(rng: random.Random, events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    events = list(events)
    rng.shuffle(events)
    batches = []
    while events:
        size = rng.randint(1, MAX_BATCH)
        batches.append(events[:size])
        events = events[size:]
    return batches


def _client(
    server: Server,
    key: str,
    batches: list[list[dict[str, Any]]],
    tally: Tally,
    go: threading.Barrier,
    answers: list[dict[str, int]],
) -> None:
    go.wait()
    with httpx.Client(timeout=120) as http:
        for batch in batches:
            deadline = time.monotonic() + 120
            while True:
                try:
                    answer = http.post(
                        f"{server.base_url}{EVENTS}", json={"events": batch}, headers=bearer(key)
                    )
                except httpx.TransportError as error:
                    tally.transport_errors += 1
                    tally.unexpected.append(f"transport error: {error!r}")
                    return
                tally.count(answer.status_code)
                if answer.status_code == 200:
                    answers.append(answer.json())
                    tally.acked.update(((e["account_id"], e["id"]), e) for e in batch)
                    break
                if answer.status_code == 503 and answer.headers.get("Retry-After", "").isdigit():
                    tally.retries += 1
                    if time.monotonic() > deadline:
                        tally.unexpected.append("a batch got 503 for 120 s")
                        return
                    # Retry-After says 1 s; a shorter pause keeps the contention high.
                    time.sleep(random.uniform(0.01, 0.1))
                    continue
                tally.unexpected.append(f"{answer.status_code}: {answer.text[:300]}")
                return


def _deadlocks(database_name: str) -> int:
    assert POSTGRES_URL
    engine = create_engine(normalize_url(POSTGRES_URL))
    try:
        with engine.connect() as conn:
            value = conn.execute(
                text("SELECT deadlocks FROM pg_stat_database WHERE datname = :name"),
                {"name": database_name},
            ).scalar()
        return int(value or 0)
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "busy_timeout_ms"),
    [
        pytest.param("postgres", None, marks=pytest.mark.postgres, id="postgres"),
        pytest.param("sqlite", None, id="sqlite"),
        # A busy timeout short enough that writers give up: the 503 path, under load.
        pytest.param("sqlite", 20, id="sqlite-busy-timeout-20ms"),
    ],
)
def test_four_processes_eight_clients_overlapping_batches(
    backend: str, busy_timeout_ms: int | None, tmp_path: Path
) -> None:
    if backend == "postgres" and not POSTGRES_URL:
        pytest.skip("set CREDITMETER_TEST_POSTGRES_URL to run the PostgreSQL tests")
    seed_ = run_seed()
    rng = random.Random(seed_)
    started = time.monotonic()
    env = {"CREDITMETER_POOL_SIZE": "4"}
    if busy_timeout_ms is not None:
        env["CREDITMETER_SQLITE_BUSY_TIMEOUT_MS"] = str(busy_timeout_ms)
    with throwaway_store_url(backend, tmp_path) as url:
        keys = seed(url)
        shared = [make_event(rng, f"shared-{i}", rng.choice(list(ZONES))) for i in range(SHARED)]
        plans = []
        for n in range(CLIENTS):
            own = [make_event(rng, f"c{n}-{i}", rng.choice(list(ZONES))) for i in range(OWN)]
            plans.append(_batches(rng, own + shared))
        unique = {(e["account_id"], e["id"]): e for plan in plans for batch in plan for e in batch}
        sent_total = sum(len(batch) for plan in plans for batch in plan)
        tallies = [Tally() for _ in range(CLIENTS)]
        answers: list[dict[str, int]] = []
        go = threading.Barrier(CLIENTS)
        with Server(url, tmp_path / "serve.log", workers=WORKERS, env=env) as server:
            threads = [
                threading.Thread(
                    target=_client, args=(server, keys.ingest, plans[n], tallies[n], go, answers)
                )
                for n in range(CLIENTS)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=600)
                assert not thread.is_alive(), "a client did not finish within 600 s"
            tally = Tally()
            for each in tallies:
                tally.merge(each)
            assert not tally.unexpected, tally.unexpected[:10]
            allowed = {200} if backend == "postgres" else {200, 503}
            assert set(tally.statuses) <= allowed, tally.statuses
            assert sum(a["accepted"] for a in answers) == len(unique)
            assert sum(a["accepted"] + a["duplicates"] for a in answers) == sent_total
            figures = check_ledger(
                url,
                unique,
                unique,
                base=server.base_url,
                admin_key=keys.admin,
                account_ids=list(ZONES),
            )
            log = server.log_text()
        assert "deadlock" not in log.lower()
        assert " 500 " not in log
        deadlocks = _deadlocks(url.rsplit("/", 1)[1]) if backend == "postgres" else 0
        assert deadlocks == 0
        report(
            "concurrency",
            backend=backend,
            sqlite_busy_timeout_ms=busy_timeout_ms,
            seed=seed_,
            processes=WORKERS,
            clients=CLIENTS,
            requests=tally.requests,
            statuses={str(k): v for k, v in sorted(tally.statuses.items())},
            events_sent=sent_total,
            events_unique=len(unique),
            events_stored=figures["stored"],
            lost=figures["lost"],
            postgres_deadlocks=deadlocks,
            seconds=round(time.monotonic() - started, 1),
        )
