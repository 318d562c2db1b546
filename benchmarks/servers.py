"""The servers the benchmarks load, started on loopback by `tests.support.server`, with their
memory and CPU time watched while they run."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.ports import free_port
from tests.support.server import Server, answers, launch, stop_process, wait_until

VENV_BIN = Path(sys.executable).parent


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


class Watched:
    """A running server at `base_url` whose process `pid` is watched: the peak RSS of it or
    any of its children, sampled until `close()`."""

    def __init__(self, base_url: str, pid: int):
        self.base_url = base_url
        self.pid = pid
        self.peak_rss_kb = 0
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_rss_kb = max(self.peak_rss_kb, _rss_kb(self.pid))

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time so far of the server's process ("server": with one worker, the worker)
        and of its children together ("children": with one worker, its writer process)."""
        children = _children(self.pid)
        return {
            "server": _cpu_seconds(self.pid),
            "children": sum(
                map(_cpu_seconds, children + [g for c in children for g in _children(c)])
            ),
        }

    def close(self) -> None:
        self._stop.set()
        self._watcher.join()


@contextmanager
def creditmeter(
    database_url: str, *, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[Watched]:
    """`creditmeter serve` over `database_url`; its log (warnings and errors) goes to stderr
    once it has stopped."""
    with tempfile.TemporaryDirectory(prefix="creditmeter-bench-") as directory:
        server = Server(database_url, Path(directory) / "serve.log", workers=workers, env=env)
        try:
            with server:
                assert server.process is not None
                watched = Watched(server.base_url, server.process.pid)
                try:
                    yield watched
                finally:
                    watched.close()
        finally:
            sys.stderr.write(server.log_text())


@contextmanager
def hello_world() -> Iterator[Watched]:
    """The baseline: `benchmarks.hello` under uvicorn with httptools and uvloop."""
    port = free_port()
    command = [
        *(str(VENV_BIN / "uvicorn"), "benchmarks.hello:app", "--port", str(port)),
        *("--http", "httptools", "--loop", "uvloop", "--log-level", "warning", "--no-access-log"),
    ]
    with tempfile.TemporaryDirectory(prefix="creditmeter-bench-") as directory:
        log_path = Path(directory) / "hello.log"
        process = launch(command, env=os.environ, log_path=log_path)
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: answers(base_url + "/"), timeout=30, what="it", process=process)
            watched = Watched(base_url, process.pid)
            try:
                yield watched
            finally:
                watched.close()
        finally:
            stop_process(process, signal.SIGTERM, timeout=15)
            sys.stderr.write(log_path.read_text(errors="replace"))
