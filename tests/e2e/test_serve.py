"""`creditmeter serve` in production shape: several workers, graceful restarts, metrics,
the access log, and `creditmeter backup` while serving."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import text

from creditmeter.bills import Window, bill_total
from creditmeter.categories import CATEGORIES
from creditmeter.cli import main
from creditmeter.client import Client, IngestResult, RetryPolicy, UsageEvent
from creditmeter.http import create_app
from creditmeter.settings import Settings
from creditmeter.store import open_store
from tests.conftest import test_settings as settings_for_tests
from tests.e2e.served import Served
from tests.support.server import EXECUTABLE

DEC_1_MS = 1733011200000  # 2024-12-01T00:00:00Z
EVENTS = "/v1/usage/events"


def _batch_body(tag: str, minute: int, size: int) -> tuple[bytes, Decimal]:
    """A pre-encoded batch of `size` events (so the load is the server's work, not ours)."""
    events: list[dict[str, Any]] = [
        {"id": f"{tag}-{i}", "account_id": "load", "bot_id": f"b{i % 4}",
         "category": CATEGORIES[i % 8], "credits": f"{i % 50}.125",
         "timestamp": DEC_1_MS + minute * 60_000 + i}
        for i in range(size)
    ]  # fmt: skip
    credits = sum((Decimal(e["credits"]) for e in events), Decimal(0))
    return json.dumps({"events": events}).encode(), credits


@dataclass
class Attempt:
    request_id: str
    batch: str
    sent: float
    done: float
    outcome: str  # "answered", "refused" (no connection), or "lost" (connection failed after)
    status: int = 0
    body: Any = None


class Load:
    """Threads posting batches until each is answered 200, recording every attempt."""

    def __init__(self, base: str, key: str, threads: int, batches: int, size: int):
        self.base, self.key = base, key
        self.batches = {
            f"t{t}-b{b}": _batch_body(f"t{t}-b{b}", t * batches + b, size)
            for t in range(threads)
            for b in range(batches)
        }
        self.attempts: list[Attempt] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._post_all, args=(t, t % 2 == 0), daemon=True)
            for t in range(threads)
        ]

    @property
    def answered(self) -> list[Attempt]:
        with self._lock:
            return [a for a in self.attempts if a.outcome == "answered"]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self, timeout: float) -> None:
        for thread in self._threads:
            thread.join(timeout)
        assert not any(thread.is_alive() for thread in self._threads), "the load did not finish"

    def stop(self) -> None:
        """Ends the threads even while the server is down (a failed test must not hang)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=35)

    def _post_all(self, number: int, keep_alive: bool) -> None:
        # Half the threads reuse connections, half open one per request.
        limits = httpx.Limits(max_keepalive_connections=10 if keep_alive else 0)
        try:
            with httpx.Client(base_url=self.base, timeout=30, limits=limits) as http:
                for name, (body, _) in self.batches.items():
                    if name.startswith(f"t{number}-"):
                        self._post(http, name, body)
        except BaseException as error:
            self.errors.append(error)

    def _post(self, http: httpx.Client, name: str, body: bytes) -> None:
        while not self._stop.is_set():
            request_id = uuid.uuid4().hex
            headers = {
                "Authorization": f"Bearer {self.key}",
                "Content-Type": "application/json",
                "X-Request-Id": request_id,
            }
            sent = time.monotonic()
            attempt = Attempt(request_id, name, sent, 0.0, "answered")
            try:
                answer = http.post(EVENTS, content=body, headers=headers)
            except httpx.ConnectError:
                attempt.outcome = "refused"
            except httpx.TransportError:
                attempt.outcome = "lost"
            else:
                attempt.status, attempt.body = answer.status_code, answer.json()
            attempt.done = time.monotonic()
            with self._lock:
                self.attempts.append(attempt)
            if attempt.status == 200:
                return
            time.sleep(0.02)


def _wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    server = Served(tmp_path)
    try:
        yield server
    finally:
        server.kill()


def test_graceful_restarts_under_load_lose_and_cut_nothing(served: Served) -> None:
    """Ingest load from four threads while the server is stopped with SIGTERM and started
    again, twice: two workers, then one, then two. Every batch is stored exactly once, and
    every request a server read was answered to its client."""
    served.account("load", "UTC")
    load = Load(served.base_url, served.platform("ingest"), threads=4, batches=14, size=800)
    served.start(workers=2)
    load.start()
    terms = []
    try:
        for workers_next, after in ((1, 8), (2, 22)):
            _wait_for(lambda n=after: len(load.answered) >= n, 60, "batches to be answered")
            terms.append(time.monotonic())
            assert served.stop(signal.SIGTERM) == 0  # drained and exited by itself
            served.start(workers=workers_next)
        load.join(timeout=60)
        assert served.stop(signal.SIGTERM) == 0
    finally:
        load.stop()
        served.kill()
    assert not load.errors, load.errors

    answered = load.answered
    # Every batch was answered 200 once and stored by that very request: no earlier attempt
    # of it had been stored with its answer lost (that would show here as duplicates).
    assert sorted(a.batch for a in answered) == sorted(load.batches)
    for attempt in answered:
        assert attempt.status == 200, attempt
        assert attempt.body == {"accepted": 800, "duplicates": 0}, attempt
    # Every request a server logged, it answered, and its client received that answer.
    by_id = {a.request_id: a for a in load.attempts}
    logged = [
        line for line in served.log_lines()
        if line.get("message") == "request" and line.get("route") == EVENTS
    ]  # fmt: skip
    assert len(logged) >= len(load.batches)
    for line in logged:
        attempt = by_id[line["request_id"]]
        assert attempt.outcome == "answered", (line, attempt)
        assert attempt.status == line["status"]
    # Each SIGTERM found requests in flight, and they were answered after it.
    for moment in terms:
        assert any(a.sent < moment < a.done for a in answered), "nothing was in flight"

    # Nothing acknowledged was lost, nothing counted twice.
    store = open_store(Settings(database_url=served.database_url), upgrade=False)
    try:
        with store.read() as conn:
            count = conn.execute(text("SELECT count(*) FROM usage_events")).scalar_one()
        window = Window("load", None, DEC_1_MS, DEC_1_MS + 86_400_000 - 1, ZoneInfo("UTC"), "UTC")
        summed = Decimal(sum(bill_total(store=store, window=window)[2])) / 1_000_000
    finally:
        store.dispose()
    assert count == 800 * len(load.batches)
    assert summed == sum(credits for _, credits in load.batches.values())
    outcomes = {o: sum(a.outcome == o for a in load.attempts) for o in ("refused", "lost")}
    print(f"attempts: {len(load.attempts)}, answered: {len(answered)}, {outcomes}")


def test_metrics_and_access_log_across_workers(served: Served) -> None:
    served.account("acme", "Asia/Shanghai")
    read_key, ingest_key = served.key("read", "acme"), served.platform("ingest")
    served.start(workers=2)
    fresh = httpx.Limits(max_keepalive_connections=0)  # a new connection, maybe another worker
    try:
        with httpx.Client(base_url=served.base_url, timeout=30, limits=fresh) as http:
            ingest = {"Authorization": f"Bearer {ingest_key}"}
            for n in range(30):
                events = [
                    {"id": f"m{n}-{i}", "account_id": "acme", "bot_id": "b", "category": "rerank",
                     "credits": 1, "timestamp": DEC_1_MS}
                    for i in range(10)
                ]  # fmt: skip
                answer = http.post(EVENTS, json={"events": events}, headers=ingest)
                assert answer.json() == {"accepted": 10, "duplicates": 0}
            for n in range(3):  # invalid: refused whole
                bad = [{"id": f"bad{n}-{i}", "account_id": "acme"} for i in range(5)]
                assert http.post(EVENTS, json={"events": bad}, headers=ingest).status_code == 400
            conflict = [
                {"id": f"c{i}", "account_id": "acme", "bot_id": "b", "category": "rerank",
                 "credits": i, "timestamp": DEC_1_MS}
                for i in (1, 2)
            ]  # fmt: skip
            conflict[1]["id"] = "m0-0"  # stored already, with other content
            assert http.post(EVENTS, json={"events": conflict}, headers=ingest).status_code == 409
            page = "/v1/account/bill/page?start_time=1732982400000&end_time=1735660799999"
            for n in range(5):
                answer = http.get(
                    page,
                    headers={"Authorization": f"Bearer {read_key}", "X-Request-Id": f"trace-{n}"},
                )
                assert answer.status_code == 200
                assert answer.headers["X-Request-Id"] == f"trace-{n}"
                assert answer.headers["X-Timezone"] == "Asia/Shanghai"
            refused = http.get(page, headers={"X-Request-Id": "not a valid id!"})
            assert refused.status_code == 401
            assert refused.headers["X-Request-Id"] != "not a valid id!"

        # Any worker answers for all of them: every scrape sees every request.
        def requests(method: str, route: str, status: int) -> float:
            labels = f'method="{method}",route="{route}",status="{status}"'
            return metrics[f"creditmeter_http_requests_total{{{labels}}}"]

        for _ in range(6):
            metrics = served.metrics()
            assert requests("POST", EVENTS, 200) == 30
            assert requests("POST", EVENTS, 400) == 3
            assert requests("POST", EVENTS, 409) == 1
            assert requests("GET", "/v1/account/bill/page", 200) == 5
            assert metrics["creditmeter_events_accepted_total"] == 300
            assert metrics['creditmeter_events_rejected_total{reason="invalid"}'] == 15
            assert metrics['creditmeter_events_rejected_total{reason="conflict"}'] == 2
            assert metrics["creditmeter_ingest_batch_size_count"] == 34
            assert metrics["creditmeter_ingest_batch_size_sum"] == 300 + 15 + 2
            assert metrics['creditmeter_ingest_batch_size_bucket{le="1.0"}'] == 0
            assert metrics['creditmeter_ingest_batch_size_bucket{le="10.0"}'] == 34
            latency = 'creditmeter_http_request_duration_seconds_count{route="/v1/usage/events"}'
            assert metrics[latency] == 34
        lines = served.log_lines()
        directory = next(line["metrics_dir"] for line in lines if line["message"] == "serving")
        assert Path(directory).is_dir()
        assert served.stop(signal.SIGTERM) == 0
        assert not Path(directory).exists()  # serve removes the directory it made
    finally:
        served.kill()

    lines = served.log_lines()
    access = [line for line in lines if line.get("message") == "request"]
    assert len({line["pid"] for line in access}) == 2, "both workers answered"
    for line in access:
        assert {"request_id", "method", "route", "status", "duration_ms", "key_id",
                "account_id", "time", "level", "pid"} <= set(line)  # fmt: skip
        assert isinstance(line["duration_ms"], float)
    reads = [line for line in access if line["request_id"].startswith("trace-")]
    assert [line["request_id"] for line in sorted(reads, key=lambda x: x["request_id"])] == [
        f"trace-{n}" for n in range(5)
    ]
    for line in reads:
        assert (line["method"], line["route"], line["status"]) == (
            "GET", "/v1/account/bill/page", 200
        )  # fmt: skip
        assert line["account_id"] == "acme"
        assert line["key_id"] == read_key.split("_")[1]
    ingests = [line for line in access if line["route"] == EVENTS and line["status"] == 200]
    assert {line["account_id"] for line in ingests} == {"acme"}
    log_text = served.log_path.read_text()
    for secret in served.secrets:
        assert secret not in log_text
        assert secret.split("_")[2] not in log_text
    assert "Bearer" not in log_text


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_connections_opened_at_once_spread_over_the_workers(served: Served) -> None:
    """A pool of keep-alive connections opened together (a load balancer's, wrk's) lands on
    every worker, each connection staying with its worker: with one shared listening
    socket, the worker that woke first accepted all of them (serving.worker_sockets)."""
    served.start(workers=2)
    try:
        for _ in range(3):
            with ThreadPoolExecutor(32) as pool:
                prefixes = list(pool.map(lambda _: _kept_connection_worker(served), range(32)))
            counts = {prefix: prefixes.count(prefix) for prefix in set(prefixes)}
            assert len(counts) == 2, counts
            # Each of 32 connections goes to either socket by the kernel's hash: fewer than 4
            # on one worker has a probability under 1e-6.
            assert min(counts.values()) >= 4, counts
    finally:
        served.stop()


def _kept_connection_worker(served: Served) -> str:
    """The worker (its request ids' prefix) of a new connection, asked five times over it."""
    with httpx.Client(base_url=served.base_url, timeout=30) as http:
        prefixes = {http.get("/healthz").headers["x-request-id"][:16] for _ in range(5)}
    assert len(prefixes) == 1, "a kept connection stays with its worker"
    return prefixes.pop()


def test_a_killed_supervisor_leaves_nothing_behind(served: Served) -> None:
    """SIGKILL reaches the supervisor alone: its workers notice, drain and exit, and the next
    `serve` removes the metrics directory it could not."""
    served.start(workers=2)
    assert served.process is not None
    lines = served.log_lines()
    workers = [line["pid"] for line in lines if line["message"] == "worker started"]
    directory = Path(next(line["metrics_dir"] for line in lines if line["message"] == "serving"))
    served.process.send_signal(signal.SIGKILL)
    served.process.wait(timeout=10)
    served.process = None
    _wait_for(lambda: not any(_pid_alive(pid) for pid in workers), 20, "orphaned workers to exit")
    served.start(workers=2)  # (another test's serve, starting meanwhile, may sweep it first)
    assert not directory.exists()
    assert served.stop(signal.SIGTERM) == 0


# --- backup ---------------------------------------------------------------------------------


def _store_figures(url: str) -> tuple[int, Decimal, Decimal]:
    """Raw events (count, sum) and the rollups' answer for December 2024, in one store."""
    store = open_store(Settings(database_url=url), upgrade=False)
    try:
        with store.read() as conn:
            count, micro = conn.execute(
                text("SELECT count(*), coalesce(sum(credits), 0) FROM usage_events")
            ).one()
        window = Window(
            "load", None, DEC_1_MS, DEC_1_MS + 31 * 86_400_000 - 1, ZoneInfo("UTC"), "UTC"
        )
        rolled = Decimal(sum(bill_total(store=store, window=window)[2])) / 1_000_000
    finally:
        store.dispose()
    return count, Decimal(micro) / 1_000_000, rolled


def test_backup_while_serving_and_restore(served: Served, tmp_path: Path) -> None:
    served.account("load", "UTC")
    ingest_key = served.platform("ingest")
    served.start()
    stop, sent = threading.Event(), []

    def write() -> None:
        # Batch b is 1000 events of (b + 1) / 8 credits, sent one after another until the
        # test has seen batches land after the backup (at most 2000, so it stops anyway).
        with Client(served.base_url, ingest_key) as client:
            for b in range(2000):
                if stop.is_set():
                    return
                first = DEC_1_MS + b * 60_000
                batch = [
                    UsageEvent(f"k{b}-{i}", "load", "b", "chat", Decimal(b + 1) / 8, first + i)
                    for i in range(1000)
                ]
                client.ingest(batch)
                sent.append(batch)

    writer = threading.Thread(target=write)
    writer.start()
    copy = tmp_path / "backups" / "ledger-copy.db"
    try:
        _wait_for(lambda: len(sent) >= 3, 60, "some batches")
        backup = subprocess.run(
            [str(EXECUTABLE), "backup", str(copy)],
            env=served.env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert backup.returncode == 0, backup.stderr
        assert f"backed up the store to {copy}" in backup.stdout
        after = len(sent)
        _wait_for(lambda: len(sent) >= after + 3, 60, "more batches after the backup")
    finally:
        stop.set()
        writer.join(timeout=60)

    # The copy is one consistent snapshot: whole batches, rollups equal to raw events.
    with sqlite3.connect(copy) as check:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert check.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    check.close()
    assert not list(copy.parent.glob(".*partial"))
    count, raw, rolled = _store_figures(f"sqlite:///{copy}")
    assert count % 1000 == 0
    assert 3000 <= count < len(sent) * 1000
    assert raw == rolled == sum(Decimal(b + 1) / 8 * 1000 for b in range(count // 1000))

    # Restore, as docs/deploy.md says: stop, set the old files aside, copy, start.
    assert served.stop(signal.SIGTERM) == 0
    aside = tmp_path / "aside"
    aside.mkdir()
    for path in served.db.parent.glob(served.db.name + "*"):
        shutil.move(path, aside / path.name)
    shutil.copy(copy, served.db)
    served.start()
    with Client(served.base_url, served.platform("admin")) as admin:
        total = admin.bill_total(date(2024, 12, 1), date(2024, 12, 31), account_id="load")
    assert total.total == raw
    with Client(served.base_url, ingest_key, retry=RetryPolicy(attempts=3)) as client:
        again = client.ingest(event for batch in sent for event in batch)
    assert again == IngestResult(accepted=len(sent) * 1000 - count, duplicates=count)


def test_backup_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    def backup(url: str, *args: str) -> Any:
        env = {"CREDITMETER_DATABASE_URL": url}
        return CliRunner(env=env).invoke(main, ["backup", *args], catch_exceptions=False)

    postgres = backup("postgresql://postgres@127.0.0.1:5432/x", str(tmp_path / "pg.db"))
    assert postgres.exit_code == 1
    assert "pg_dump" in " ".join(postgres.stderr.split())
    missing = backup(f"sqlite:///{tmp_path / 'none.db'}", str(tmp_path / "copy.db"))
    assert missing.exit_code == 1
    assert "no SQLite store" in " ".join(missing.stderr.split())

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    open_store(Settings(database_url=url)).dispose()
    target = tmp_path / "copy.db"
    assert backup(url, str(target)).exit_code == 0
    exists = backup(url, str(target))
    assert exists.exit_code == 1
    assert "--force" in " ".join(exists.stderr.split())
    assert backup(url, str(target), "--force").exit_code == 0
    itself = backup(url, str(tmp_path / "ledger.db"), "--force")
    assert itself.exit_code == 1
    for end in ("-wal", "-shm", "-journal", "-writer.lock"):  # the store's own files
        companion = backup(url, str(tmp_path / f"ledger.db{end}"), "--force")
        assert companion.exit_code == 1
        assert "must not be the store itself" in " ".join(companion.stderr.split())
    fifo = tmp_path / "fifo"  # not a regular file, like /dev/full: never replaced
    os.mkfifo(fifo)
    device = backup(url, str(fifo), "--force")
    assert device.exit_code == 1
    assert "not a regular file" in " ".join(device.stderr.split())
    assert fifo.is_fifo()
    directory = backup(url, str(tmp_path), "--force")
    assert directory.exit_code == 2  # refused as a usage error
    assert tmp_path.is_dir()


# --- readiness ------------------------------------------------------------------------------


def test_readyz_wants_the_current_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ready.db'}"
    store = open_store(Settings(database_url=url))
    app = create_app(settings_for_tests(database_url=url), store=store)
    try:
        with TestClient(app) as client:
            assert client.get("/readyz").json() == {"status": "ready"}
            with store.engine.begin() as conn:
                head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
                conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
            stale = client.get("/readyz")
            assert stale.status_code == 503
            assert stale.json()["code"] == 50300
            assert "schema" in stale.json()["message"]
            assert client.get("/healthz").status_code == 200  # the process is still up
            with store.engine.begin() as conn:
                conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
            assert client.get("/readyz").status_code == 200
    finally:
        store.dispose()
