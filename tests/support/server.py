"""`creditmeter serve` as a real process on loopback, over a store the caller chose: started,
stopped by signal or SIGKILLed, started again on the same port, its log read back."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.support.ports import free_port

EXECUTABLE = Path(sys.executable).parent / "creditmeter"
# Levels at which each worker logs "worker started", which `Server.start` then waits for.
_WORKERS_LOG_AT = {"DEBUG", "INFO"}


def launch(
    command: Sequence[str], *, env: Mapping[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """`command` in a session of its own (so that `kill_session` reaches all it starts),
    its output appended to `log_path`."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def answers(url: str, timeout: float = 2) -> bool:
    """Whether `url` answers 200 now."""
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.TransportError:
        return False


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    process: subprocess.Popen[bytes] | None = None,
) -> float:
    """Seconds until `condition()` holds; AssertionError if `process` exits or `timeout`
    passes first."""
    started = time.monotonic()
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process exited ({process.returncode}) before {what}")
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - started


def kill_session(process: subprocess.Popen[bytes]) -> int:
    """SIGKILL to the whole session `launch` gave `process`: no shutdown code runs anywhere."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    return process.wait(timeout=30)


def stop_process(process: subprocess.Popen[bytes], sig: int, timeout: float) -> int:
    """Sends `sig` to `process` alone (as an orchestrator would) and waits up to `timeout`,
    then SIGKILLs whatever of its session is left. Its exit code (-9 if it had to be killed)."""
    process.send_signal(sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout)
    return kill_session(process)


def answering_workers(base_url: str, connections: int = 16) -> set[str]:
    """The workers that answer `connections` new connections opened at once, each known by
    its request ids' prefix (http/edge.py: one random prefix per process)."""

    def one(_: int) -> str | None:
        try:
            answer = httpx.get(f"{base_url}/healthz", timeout=5)
        except httpx.HTTPError:
            return None
        return answer.headers.get("x-request-id", "")[:16] or None

    with ThreadPoolExecutor(connections) as pool:
        return {prefix for prefix in pool.map(one, range(connections)) if prefix}


class Server:
    """`creditmeter serve` over `database_url`, on one port for its whole life, its log (JSON
    lines, WARNING unless `env` says otherwise) accumulating in `log_path`. `env` adds to or
    overrides the process's `CREDITMETER_*` settings."""

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        *,
        workers: int = 1,
        env: Mapping[str, str] | None = None,
    ):
        self.database_url = database_url
        self.log_path = log_path
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "CREDITMETER_DATABASE_URL": database_url,
            "CREDITMETER_PUBLIC_URL": self.base_url,
            "CREDITMETER_LOG_LEVEL": "WARNING",
            "CREDITMETER_LOG_FORMAT": "json",
            "CREDITMETER_READ_RATE_LIMIT": "0",
            **(env or {}),
        }
        # A directory of the calling process's own would mix its metrics into the server's.
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, workers: int | None = None, timeout: float = 60) -> None:
        """Starts it (with `workers`, default the constructor's) and returns once /readyz
        answers 200 and, where the log level lets them say so, every worker has started."""
        assert self.process is None, "already running"
        workers = self.workers if workers is None else workers
        started_before = self._workers_started()
        command = [str(EXECUTABLE), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = launch(
            [*command, "--workers", str(workers)], env=self.env, log_path=self.log_path
        )
        self.starts += 1
        counts_workers = self.env["CREDITMETER_LOG_LEVEL"].upper() in _WORKERS_LOG_AT

        def serving() -> bool:
            if counts_workers and self._workers_started() - started_before < workers:
                return False
            if not answers(f"{self.base_url}/readyz"):
                return False
            return workers == 1 or len(answering_workers(self.base_url)) == workers

        try:
            wait_until(serving, timeout=timeout, what="it to serve", process=self.process)
        except AssertionError as error:
            self.kill()
            raise AssertionError(f"{error}; its log ends:\n{self.log_text()[-3000:]}") from None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        """Sends `sig` to the server alone (which stops its own workers), waits up to `timeout`,
        then SIGKILLs whatever of its session is left. Its exit code (-9 if it had to be
        killed), or None if it was not running."""
        if self.process is None:
            return None
        code = stop_process(self.process, sig, timeout)
        self.process = None
        return code

    def kill(self) -> None:
        """SIGKILL to the server and every worker at once, if it is running."""
        if self.process is not None:
            kill_session(self.process)
            self.process = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON lines of its log, over every start."""
        return [json.loads(line) for line in self.log_text().splitlines() if line.startswith("{")]

    def _workers_started(self) -> int:
        return sum(1 for line in self.log_lines() if line.get("message") == "worker started")

    def metrics(self) -> dict[str, float]:
        """`/metrics` as {sample with labels: value}, on a fresh connection."""
        text = httpx.get(f"{self.base_url}/metrics", timeout=10).text
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
