"""`creditmeter serve` as a real process: start, stop by signal, start again, read its log."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from creditmeter import accounts, keys
from creditmeter.settings import Settings
from creditmeter.store import open_store

EXECUTABLE = Path(sys.executable).parent / "creditmeter"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Served:
    """One SQLite file and one port, served by `creditmeter serve` as often as asked.

    The process runs in a session of its own, so `kill()` ends its workers too."""

    def __init__(self, directory: Path, env: dict[str, str] | None = None):
        if not EXECUTABLE.exists():
            pytest.skip(f"{EXECUTABLE} is not installed")
        self.directory = directory
        self.db = directory / "served.db"
        self.url = f"sqlite:///{self.db}"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = directory / "serve.log"
        self.env = {
            **os.environ,
            "CREDITMETER_DATABASE_URL": self.url,
            "CREDITMETER_PUBLIC_URL": self.base,
            "CREDITMETER_LOG_LEVEL": "INFO",
            "CREDITMETER_LOG_FORMAT": "json",
            "CREDITMETER_READ_RATE_LIMIT": "0",
            **(env or {}),
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.process: subprocess.Popen[bytes] | None = None
        self.secrets: list[str] = []  # every key made here; none may ever be logged
        self._platform: dict[str, str] = {}

    # --- keys and accounts, straight in the store (before or while serving) -------------

    def key(self, scope: str, account_id: str | None = None, bot_id: str | None = None) -> str:
        store = open_store(Settings(database_url=self.url))
        try:
            token = keys.create_key(
                store=store, scope=scope, account_id=account_id, bot_id=bot_id
            ).token
        finally:
            store.dispose()
        self.secrets.append(token)
        return token

    def platform(self, scope: str) -> str:
        """This server's one platform key of `scope` (ingest or admin)."""
        if scope not in self._platform:
            self._platform[scope] = self.key(scope)
        return self._platform[scope]

    def account(self, account_id: str, timezone: str = "UTC") -> None:
        store = open_store(Settings(database_url=self.url))
        try:
            accounts.create_account(store=store, account_id=account_id, timezone=timezone)
        finally:
            store.dispose()

    # --- the process ---------------------------------------------------------------------

    def start(self, workers: int = 1, timeout: float = 60) -> None:
        assert self.process is None, "already running"
        started_before = self._count("worker started")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *(str(EXECUTABLE), "serve", "--host", "127.0.0.1"),
                    *("--port", str(self.port), "--workers", str(workers)),
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, self.log_path.read_text()[-3000:]
            if self._count("worker started") - started_before >= workers and self._ready():
                return
            assert time.monotonic() < deadline, f"not serving within {timeout} s"
            time.sleep(0.05)

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Sends `sig` to the serving process alone (as an orchestrator would) and waits."""
        assert self.process is not None
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.kill()
        self.process = None
        return code

    def kill(self) -> None:
        """SIGKILL for the whole session: the server and any worker."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    # --- its log -------------------------------------------------------------------------

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for text in self.log_path.read_text().splitlines():
            if text.startswith("{"):
                lines.append(json.loads(text))
        return lines

    def _count(self, message: str) -> int:
        if not self.log_path.exists():
            return 0
        return sum(1 for line in self.log_lines() if line.get("message") == message)

    def metrics(self) -> dict[str, float]:
        """`/metrics` as {sample with labels: value}, on a fresh connection."""
        text = httpx.get(f"{self.base}/metrics", timeout=10).text
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples


class CuttingProxy:
    """A TCP proxy on loopback that forwards every byte, except the answer to the n-th
    request whose first bytes are `prefix`: it calls `on_cut` (say, to kill the server),
    then resets the client's connection. The request was served; its answer is lost."""

    def __init__(self, upstream_port: int, prefix: bytes, nth: int, on_cut: Callable[[], None]):
        self.upstream_port, self.prefix, self.nth, self.on_cut = upstream_port, prefix, nth, on_cut
        self.cut = threading.Event()
        self._seen = 0
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._spawn(self._accept)

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            self._spawn(self._relay, client)

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)
        except OSError:  # the server is down: so is this connection
            client.close()
            return
        self._open |= {client, upstream}
        doomed = threading.Event()
        self._spawn(self._to_server, client, upstream, doomed)
        try:
            while data := upstream.recv(65536):
                if doomed.is_set():
                    self.on_cut()
                    # shutdown(), not just close(): the other thread's recv() holds the socket.
                    client.shutdown(socket.SHUT_RDWR)
                    self.cut.set()
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            self._open -= {client, upstream}
            client.close()
            upstream.close()

    def _to_server(self, client: socket.socket, upstream: socket.socket, doomed: Any) -> None:
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                if data.startswith(self.prefix):
                    with self._lock:
                        self._seen += 1
                        if self._seen == self.nth:
                            doomed.set()
                upstream.sendall(data)
            upstream.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        # shutdown() wakes the threads blocked in accept() or recv(); close() would not.
        for sock in [self._listener, *self._open]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()
