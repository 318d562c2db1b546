"""A webhook receiver on loopback for tests and benchmarks: a threading HTTP server that
records every request (when, headers, body) and answers from a script of statuses, then a
default status."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    at: float  # time.time() when the request was read whole
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class Receiver:
    """Answers the next statuses of `script` in order, then `status`; `retry_after` is sent
    with every answer that is not 2xx when set."""

    status: int = 200
    script: list[int] = field(default_factory=list)
    retry_after: str | None = None
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def answer(self) -> int:
        with self.lock:
            return self.script.pop(0) if self.script else self.status

    def record(self, one: Received) -> None:
        with self.lock:
            self.received.append(one)

    def requests(self) -> list[Received]:
        with self.lock:
            return list(self.received)


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        status = self.receiver.answer()
        self.receiver.record(Received(time.time(), self.path, headers, body))
        reply = b"ok" if 200 <= status < 300 else b"not now"
        self.send_response(status)
        if self.receiver.retry_after is not None and not 200 <= status < 300:
            self.send_header("Retry-After", self.receiver.retry_after)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def receiving(receiver: Receiver | None = None) -> Iterator[Receiver]:
    """The receiver, listening on 127.0.0.1 at receiver.url until the block ends."""
    the_receiver = receiver or Receiver()
    handler = type("Handler", (_Handler,), {"receiver": the_receiver})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    the_receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield the_receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
