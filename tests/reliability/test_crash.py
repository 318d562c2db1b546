"""Crash: batches posted with client retries while the server is SIGKILLed at random moments
and restarted; afterwards every acknowledged event is counted exactly once, every
unacknowledged one at most once, and the rollups equal the raw events."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
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

KILLS = sized(6, 25)
CLIENTS = sized(3, 4)
MAX_BATCH = sized(200, 400)
ABANDON = 0.3  # share of batches a client gives up on after a failed attempt
GIVE_UP_AFTER = 180.0  # seconds a batch may take to be acknowledged once the server is back


def _deliver(
    http: httpx.Client,
    server: Server,
    key: str,
    batch: list[dict[str, Any]],
    tally: Tally,
    rng: random.Random,
    stop: threading.Event,
) -> None:
    """Posts the batch until it is acknowledged, retrying with the same ids and content.
    At its first failure the client may abandon the batch instead (unless the load is over):
    those events are unacknowledged and may or may not have been stored."""
    attempts = 0
    started = time.monotonic()
    while True:
        attempts += 1
        try:
            answer = http.post(
                f"{server.base_url}{EVENTS}", json={"events": batch}, headers=bearer(key)
            )
        except httpx.ConnectError:
            tally.transport_errors += 1  # the server is down
        except httpx.TransportError:
            tally.transport_errors += 1
            tally.cut += 1  # in flight when the server was killed
        else:
            tally.count(answer.status_code)
            if answer.status_code == 200:
                body = answer.json()
                if body["accepted"] + body["duplicates"] != len(batch):
                    tally.unexpected.append(f"answer {body} for {len(batch)} events")
                if attempts == 1 and body["duplicates"]:
                    tally.unexpected.append(f"first attempt found duplicates: {body}")
                if attempts > 1:
                    tally.retried_duplicates += body["duplicates"]
                tally.acked.update(((e["account_id"], e["id"]), e) for e in batch)
                return
            if answer.status_code != 503 or "Retry-After" not in answer.headers:
                tally.unexpected.append(f"{answer.status_code}: {answer.text[:300]}")
                return
        if attempts == 1 and not stop.is_set() and rng.random() < ABANDON:
            tally.abandoned.update(((e["account_id"], e["id"]), e) for e in batch)
            return
        if time.monotonic() - started > GIVE_UP_AFTER:
            tally.unexpected.append(f"a batch was not acknowledged within {GIVE_UP_AFTER} s")
            return
        tally.retries += 1
        time.sleep(0.1)


def _client(
    number: int, server: Server, key: str, stop: threading.Event, tally: Tally, seed_: int
) -> None:
    rng = random.Random(seed_ * 100 + number)
    sent = 0
    with httpx.Client(timeout=60) as http:
        while not stop.is_set():
            size = rng.randint(1, MAX_BATCH)
            batch = [
                make_event(rng, f"c{number}-{sent + i}", rng.choice(list(ZONES)))
                for i in range(size)
            ]
            sent += size
            _deliver(http, server, key, batch, tally, rng, stop)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "synchronous"),
    [
        pytest.param("sqlite", "FULL", id="sqlite"),
        # NORMAL gives up durability on power loss only: a killed process loses nothing.
        pytest.param("sqlite", "NORMAL", id="sqlite-synchronous-normal"),
        pytest.param("postgres", None, marks=pytest.mark.postgres, id="postgres"),
    ],
)
def test_sigkill_at_random_moments_loses_and_doubles_nothing(
    backend: str, synchronous: str | None, tmp_path: Path
) -> None:
    if backend == "postgres" and not POSTGRES_URL:
        pytest.skip("set CREDITMETER_TEST_POSTGRES_URL to run the PostgreSQL tests")
    seed_ = run_seed()
    rng = random.Random(seed_)
    started = time.monotonic()
    with throwaway_store_url(backend, tmp_path) as url:
        keys = seed(url)
        env = {"CREDITMETER_SQLITE_SYNCHRONOUS": synchronous} if synchronous else {}
        server = Server(url, tmp_path / "serve.log", env=env)
        tallies = [Tally() for _ in range(CLIENTS)]
        stop = threading.Event()
        threads = [
            threading.Thread(target=_client, args=(n, server, keys.ingest, stop, tallies[n], seed_))
            for n in range(CLIENTS)
        ]
        try:
            server.start()
            for thread in threads:
                thread.start()
            for _ in range(KILLS):
                # Mostly mid-load; now and then right after the restart.
                time.sleep(rng.uniform(0.0, 0.1) if rng.random() < 0.2 else rng.uniform(0.2, 1.2))
                server.kill()
                server.start()
            time.sleep(0.5)
            stop.set()
            for thread in threads:
                thread.join(timeout=GIVE_UP_AFTER + 60)
                assert not thread.is_alive(), "a client did not finish"
            tally = Tally()
            for each in tallies:
                tally.merge(each)
            assert not tally.unexpected, tally.unexpected[:10]
            assert 500 not in tally.statuses, tally.statuses
            sent = {**tally.acked, **tally.abandoned}
            figures = check_ledger(
                url,
                sent,
                tally.acked,
                base=server.base_url,
                admin_key=keys.admin,
                account_ids=list(ZONES),
            )
        finally:
            stop.set()
            server.stop()
            for thread in threads:
                if thread.is_alive():
                    thread.join(timeout=GIVE_UP_AFTER + 60)
        abandoned_stored = figures["stored"] - len(tally.acked)
        report(
            "crash",
            backend=backend,
            sqlite_synchronous=synchronous,
            seed=seed_,
            kills=KILLS,
            starts=server.starts,
            requests=tally.requests,
            statuses={str(k): v for k, v in sorted(tally.statuses.items())},
            transport_errors=tally.transport_errors,
            requests_cut_by_a_kill=tally.cut,
            retries=tally.retries,
            events_acked=len(tally.acked),
            events_committed_before_ack_lost=tally.retried_duplicates,
            events_abandoned=len(tally.abandoned),
            events_abandoned_but_stored=abandoned_stored,
            events_stored=figures["stored"],
            lost=figures["lost"],
            seconds=round(time.monotonic() - started, 1),
        )
        assert len(tally.acked) > 0
