"""Store outage: PostgreSQL goes away mid-load (a proxy the test controls closes its port and
drops every connection). Requests get 503 {code: 50300} with Retry-After, /readyz fails,
/healthz still answers; when the store returns the service recovers by itself (no restart)
and nothing acknowledged is lost."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url
from tests.reliability.support import (
    BILL_TOTAL,
    EVENTS,
    TOTAL_RANGE,
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
from tests.support.proxy import Proxy
from tests.support.server import Server, answers, wait_until
from tests.support.stores import throwaway_postgres

OUTAGES = sized(2, 10)
OUTAGE_SECONDS = sized(2, 5)


def _check_503(answer: httpx.Response, tally: Tally) -> None:
    body = answer.json()
    if body.get("code") != 50300 or not answer.headers.get("Retry-After", "").isdigit():
        tally.unexpected.append(f"a 503 without code 50300 or Retry-After: {answer.text}")


def _writer(
    number: int, base: str, key: str, stop: threading.Event, tally: Tally, seed_: int
) -> None:
    """Posts batches; each is retried with the same ids until it is acknowledged."""
    rng = random.Random(seed_ * 10 + number)
    sent = 0
    with httpx.Client(timeout=30) as http:
        while not stop.is_set():
            batch = [
                make_event(rng, f"w{number}-{sent + i}", rng.choice(list(ZONES)))
                for i in range(rng.randint(1, 100))
            ]
            sent += len(batch)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    answer = http.post(
                        f"{base}{EVENTS}", json={"events": batch}, headers=bearer(key)
                    )
                except httpx.TransportError as error:
                    tally.unexpected.append(f"transport error: {error!r}")
                    return
                tally.count(answer.status_code)
                if answer.status_code == 200:
                    tally.acked.update(((e["account_id"], e["id"]), e) for e in batch)
                    break
                if answer.status_code != 503:
                    tally.unexpected.append(f"{answer.status_code}: {answer.text[:300]}")
                    return
                _check_503(answer, tally)
                tally.retries += 1
                time.sleep(0.1)
            else:
                tally.unexpected.append("a batch was not acknowledged within 120 s")
                return


def _reader(base: str, key: str, stop: threading.Event, tally: Tally) -> None:
    with httpx.Client(timeout=30) as http:
        while not stop.is_set():
            answer = http.get(f"{base}{BILL_TOTAL}", params=TOTAL_RANGE, headers=bearer(key))
            tally.count(answer.status_code)
            if answer.status_code == 503:
                _check_503(answer, tally)
            elif answer.status_code != 200:
                tally.unexpected.append(f"{answer.status_code}: {answer.text[:300]}")
            time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_outage_answers_503_and_recovers_by_itself(tmp_path: Path) -> None:
    seed_ = run_seed()
    started = time.monotonic()
    with throwaway_postgres() as url:
        keys = seed(url)
        direct = make_url(url)
        upstream = (direct.host or "127.0.0.1", direct.port or 5432)
        with Proxy(upstream) as proxy:
            via_proxy = direct.set(host="127.0.0.1", port=proxy.port)
            server = Server(via_proxy.render_as_string(hide_password=False), tmp_path / "serve.log")
            tally, probes = Tally(), Tally()
            stop = threading.Event()
            threads = [
                threading.Thread(
                    target=_writer, args=(n, server.base_url, keys.ingest, stop, tally, seed_)
                )
                for n in range(2)
            ] + [
                threading.Thread(
                    target=_reader, args=(server.base_url, keys.read["acme"], stop, tally)
                )
            ]
            recoveries: list[float] = []

            def ready() -> bool:
                return answers(f"{server.base_url}/readyz", timeout=10)

            with server:
                for thread in threads:
                    thread.start()
                try:
                    for _ in range(OUTAGES):
                        time.sleep(1.0)
                        proxy.cut()
                        outage_ends = time.monotonic() + OUTAGE_SECONDS
                        while time.monotonic() < outage_ends:
                            _probe_during_outage(
                                server.base_url, keys.ingest, keys.read["acme"], probes
                            )
                            time.sleep(0.2)
                        proxy.restore()
                        recoveries.append(wait_until(ready, timeout=60, what="/readyz"))
                    time.sleep(1.0)
                finally:
                    stop.set()
                    for thread in threads:
                        thread.join(timeout=180)
                assert not any(t.is_alive() for t in threads), "a client did not finish"
                assert not tally.unexpected, tally.unexpected[:10]
                assert not probes.unexpected, probes.unexpected[:10]
                assert set(tally.statuses) <= {200, 503}, tally.statuses
                assert tally.statuses.get(503, 0) > 0, "the load never met the outage"
                figures = check_ledger(
                    url,
                    tally.acked,
                    tally.acked,
                    base=server.base_url,
                    admin_key=keys.admin,
                    account_ids=list(ZONES),
                )
                log = server.log_text()
            assert "unhandled error" not in log
    report(
        "outage",
        outages=OUTAGES,
        outage_seconds=OUTAGE_SECONDS,
        requests=tally.requests + probes.requests,
        statuses={str(k): v for k, v in sorted(tally.statuses.items())},
        probe_statuses={str(k): v for k, v in sorted(probes.statuses.items())},
        retries=tally.retries,
        events_acked=len(tally.acked),
        events_stored=figures["stored"],
        lost=figures["lost"],
        slowest_recovery_seconds=round(max(recoveries), 2),
        seconds=round(time.monotonic() - started, 1),
    )


def _probe_during_outage(base: str, ingest_key: str, read_key: str, probes: Tally) -> None:
    """Every kind of request while the store is away: 503 with Retry-After, except /healthz."""
    event: dict[str, Any] = {
        "id": f"probe-{time.monotonic_ns()}",
        "account_id": "acme",
        "bot_id": "b1",
        "category": "chat",
        "credits": 1,
        "timestamp": 1733011200000,
    }
    with httpx.Client(timeout=30) as http:
        answers = {
            "ingest": http.post(
                f"{base}{EVENTS}", json={"events": [event]}, headers=bearer(ingest_key)
            ),
            "read": http.get(f"{base}{BILL_TOTAL}", params=TOTAL_RANGE, headers=bearer(read_key)),
            "readyz": http.get(f"{base}/readyz"),
        }
        health = http.get(f"{base}/healthz")
    for name, answer in answers.items():
        probes.count(answer.status_code)
        if answer.status_code != 503:
            probes.unexpected.append(f"{name} during the outage: {answer.status_code}")
        else:
            _check_503(answer, probes)
    if health.status_code != 200:
        probes.unexpected.append(f"/healthz during the outage: {health.status_code}")
