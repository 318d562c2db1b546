"""Start and stop servers on loopback for the benchmarks; measure their memory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {seconds} s")


def _rss_kb(pid: int) -> int:
    total = 0
    for child in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total = max(total, int(line.split()[1]))
        except FileNotFoundError:
            pass
    return total


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    def __init__(self, process: subprocess.Popen[bytes], base_url: str):
        self.process = process
        self.base_url = base_url
        self.peak_rss_kb = 0
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_rss_kb = max(self.peak_rss_kb, _rss_kb(self.process.pid))

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time so far of the server's process ("server": with one worker, the worker)
        and of its children together ("children": with one worker, its writer process)."""
        children = _children(self.process.pid)
        return {
            "server": _cpu_seconds(self.process.pid),
            "children": sum(
                map(_cpu_seconds, children + [g for c in children for g in _children(c)])
            ),
        }

    def stop(self) -> None:
        self._stop.set()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def creditmeter(
    database_url: str, *, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[Server]:
    port = free_port()
    environment = {
        **os.environ,
        "CREDITMETER_DATABASE_URL": database_url,
        "CREDITMETER_READ_RATE_LIMIT": "0",
        "CREDITMETER_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    command = [str(VENV_BIN / "creditmeter"), "serve", "--port", str(port)]
    with _served([*command, "--workers", str(workers)], port, "/healthz", environment) as server:
        yield server


@contextmanager
def hello_world() -> Iterator[Server]:
    port = free_port()
    with _served(
        [
            str(VENV_BIN / "uvicorn"),
            "benchmarks.hello:app",
            "--port",
            str(port),
            "--http",
            "httptools",
            "--loop",
            "uvloop",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        port,
        "/",
    ) as server:
        yield server


@contextmanager
def _served(
    command: list[str], port: int, ready_path: str, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """The server `command` starts on `port`, once `ready_path` answers; stopped after."""
    server = Server(subprocess.Popen(command, env=env), f"http://127.0.0.1:{port}")
    try:
        wait_ready(server.base_url + ready_path)
        yield server
    finally:
        server.stop()
