"""`creditmeter serve`: one uvicorn server, or N worker processes sharing one port, each
with a listening socket of its own (worker_sockets).

Why not uvicorn's own `--workers`: its supervisor keeps the listening socket open until
every worker has finished draining, so connections arriving meanwhile wait in a queue that
nobody serves and are reset when it exits. Here the supervisor closes its copy first: on
SIGTERM the port refuses new connections at once (a client or load balancer tries
elsewhere), while each worker answers the requests it has already accepted.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from .http.protocol import ConnectionLimits, ServeConfig
from .ids import is_digits
from .settings import Settings

APP = "creditmeter.http.app:factory"
log = logging.getLogger("creditmeter.serve")


def serve(*, host: str, port: int, workers: int, settings: Settings) -> int:
    """Runs until SIGTERM or SIGINT; the exit status."""
    shutdown_timeout = settings.shutdown_timeout_seconds
    config = ServeConfig(
        APP,
        limits=ConnectionLimits.of(settings),
        timeout_keep_alive=settings.keep_alive_timeout_seconds,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,  # ours is the edge middleware's JSON line
        timeout_graceful_shutdown=shutdown_timeout,
    )
    if workers == 1:
        # uvicorn raises the signal it stopped on again once it has drained, to die of it;
        # with these handlers in place it returns instead, and serve exits 0 either way.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)
        server = uvicorn.Server(config)
        server.run()
        return 0 if server.started else STARTUP_FAILURE
    with _metrics_directory() as directory:
        log.info(
            "serving",
            extra={"url": f"http://{host}:{port}", "workers": workers, "metrics_dir": directory},
        )
        return Supervisor(config, workers, shutdown_timeout).run()


_METRICS_PREFIX = "creditmeter-metrics-"


@contextlib.contextmanager
def _metrics_directory() -> Iterator[str]:
    """A fresh PROMETHEUS_MULTIPROC_DIR for this run's workers, removed when they are gone
    (samples left from an earlier run would be added to this one's). Its name carries the
    supervisor's pid, so one killed before it could clean up is swept by the next."""
    _sweep_dead_directories()
    directory = tempfile.mkdtemp(prefix=f"{_METRICS_PREFIX}{os.getpid()}-")
    previous = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory  # inherited by the workers
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        else:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = previous
        shutil.rmtree(directory, ignore_errors=True)


def _sweep_dead_directories() -> None:
    for path in Path(tempfile.gettempdir()).glob(f"{_METRICS_PREFIX}*-*"):
        pid = path.name.removeprefix(_METRICS_PREFIX).split("-")[0]
        if is_digits(pid) and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _stop_when_orphaned(parent: int) -> None:
    """A worker whose supervisor died (SIGKILL, OOM) drains and exits, as on SIGTERM."""
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)


def _worker(config: uvicorn.Config, sock: socket.socket, parent: int) -> None:
    """One worker process: a uvicorn server accepting on its socket (worker_sockets)."""
    threading.Thread(target=_stop_when_orphaned, args=(parent,), daemon=True).start()
    config.configure_logging()
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def worker_sockets(config: uvicorn.Config, count: int) -> list[socket.socket]:
    """A listening socket for each worker, all on the config's address with SO_REUSEPORT:
    the kernel spreads new connections over them evenly. From one shared socket, whichever
    worker wakes first accepts every connection waiting, so a client that opens its
    connections at once (a load balancer's pool, wrk) could have all of them on one worker.
    Where SO_REUSEPORT is missing, the workers share one socket."""
    first = config.bind_socket()  # refused, as uvicorn refuses, while anything holds the port
    if not hasattr(socket, "SO_REUSEPORT") or first.family not in (socket.AF_INET, socket.AF_INET6):
        return [first] * count
    # Bound without SO_REUSEPORT, `first` proved the port free (no other server shares it
    # this way); its own port is the one asked for, or the one the kernel chose for port 0.
    address = first.getsockname()[:2]
    first.close()
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(first.family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            sock.set_inheritable(True)
    except OSError as error:
        for sock in sockets:
            sock.close()
        log.error("could not listen on %s:%s: %s", *address, error)
        sys.exit(STARTUP_FAILURE)
    return sockets


class Supervisor:
    """Starts the workers, replaces one that dies, and stops them all on SIGTERM/SIGINT."""

    def __init__(self, config: uvicorn.Config, workers: int, shutdown_timeout: int):
        self.config = config
        self.count = workers
        self.shutdown_timeout = shutdown_timeout
        self.stopping = threading.Event()

    def _start(self, sock: socket.socket) -> BaseProcess:
        process = multiprocessing.get_context("spawn").Process(
            target=_worker, args=(self.config, sock, os.getpid()), name="creditmeter-worker"
        )
        process.start()
        return process

    def run(self) -> int:
        sockets = worker_sockets(self.config, self.count)
        previous = {
            sig: signal.signal(sig, lambda *_: self.stopping.set())
            for sig in (signal.SIGTERM, signal.SIGINT)
        }
        processes: list[BaseProcess] = []
        status = 0
        try:
            processes = [self._start(sock) for sock in sockets]
            while not self.stopping.wait(0.2):
                for index, process in enumerate(processes):
                    if process.is_alive():
                        continue
                    if process.exitcode == STARTUP_FAILURE:
                        log.error("a worker could not start; stopping")
                        status = STARTUP_FAILURE
                        self.stopping.set()
                        break
                    log.warning(
                        "worker exited; starting another",
                        extra={"worker_pid": process.pid, "exitcode": process.exitcode},
                    )
                    processes[index] = self._start(sockets[index])
        finally:
            self._stop(sockets, processes)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return status

    def _stop(self, sockets: list[socket.socket], processes: list[BaseProcess]) -> None:
        # First our copies of the listening sockets: once the workers close theirs, the port
        # refuses connections instead of queueing them for nobody.
        for sock in sockets:
            sock.close()
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker drains, then exits
        deadline = time.monotonic() + self.shutdown_timeout + 5
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():
                log.error("a worker did not stop in time", extra={"worker_pid": process.pid})
                process.kill()
                process.join()
