"""A TCP proxy on loopback that a test can make fail: drop every connection and close its
port (a store that goes away), open it again, black-hole it (every byte is taken and none
is forwarded, connections stay open: a network path that stops forwarding), or lose the
answer to one chosen request."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class LostAnswer:
    """The `nth` request whose first bytes are `prefix` reaches the server, but its answer
    does not reach the client: `first` runs (say, to kill the server), then the client's
    connection is reset."""

    prefix: bytes
    nth: int
    first: Callable[[], None]


class _Connection:
    """A client's connection and the one the proxy opened for it upstream."""

    def __init__(self, client: socket.socket, upstream: socket.socket):
        self.client, self.upstream = client, upstream
        self.answer_lost = False
        self.stalled = False  # bytes were swallowed: its protocol stream is broken


class Proxy:
    """Forwards every byte between its port on 127.0.0.1 and `upstream`, from `start()`
    (or entering a `with` block) until `cut()`, which closes the port and drops every
    connection; `restore()` opens the same port again."""

    def __init__(self, upstream: tuple[str, int], *, lose: LostAnswer | None = None):
        self.upstream = upstream
        self.lose = lose
        self.port = 0  # the OS picks one at the first start, and it is kept
        self.answer_lost = threading.Event()  # set once `lose` has happened
        self._requests = 0  # how many have started with `lose.prefix`
        self._lock = threading.Lock()
        self._connections: set[_Connection] = set()
        self._listening = threading.Event()
        self._black_hole = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        self.port = listener.getsockname()[1]
        listener.listen(128)
        listener.settimeout(0.05)  # how soon the acceptor notices `cut()`
        self._listening.set()
        self._acceptor = self._spawn(self._accept, listener)

    def restore(self) -> None:
        self.start()

    def cut(self) -> None:
        """Closes the port first, then drops the connections: one accepted while the port
        was closing must not outlive the cut."""
        self._listening.clear()
        if self._acceptor is not None:
            self._acceptor.join(timeout=5)
        with self._lock:
            connections = list(self._connections)
            threads = list(self._threads)
        for connection in connections:
            self._drop(connection)
        for thread in threads:
            thread.join(timeout=5)
        with self._lock:
            self._threads = [thread for thread in self._threads if thread.is_alive()]

    def black_hole(self) -> None:
        """From now on bytes are read (so the sender's kernel sees them taken) but never
        forwarded; connections stay open and new ones are accepted."""
        self._black_hole.set()

    def forward_again(self) -> None:
        """Ends black_hole(); the connections whose bytes it swallowed are dropped."""
        self._black_hole.clear()
        with self._lock:
            stalled = [c for c in self._connections if c.stalled]
        for connection in stalled:
            self._drop(connection)

    def _swallowed(self, connection: _Connection) -> bool:
        if self._black_hole.is_set() or connection.stalled:
            connection.stalled = True
            return True
        return False

    def __enter__(self) -> Proxy:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.cut()

    def _spawn(self, target: Callable[..., None], *args: object) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()
        return thread

    def _accept(self, listener: socket.socket) -> None:
        with listener:
            while self._listening.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                client.settimeout(None)
                try:
                    upstream = socket.create_connection(self.upstream, timeout=5)
                except OSError:  # the server is down: so is this connection
                    client.close()
                    continue
                upstream.settimeout(None)
                connection = _Connection(client, upstream)
                with self._lock:
                    self._connections.add(connection)
                self._spawn(self._requests_of, connection)
                self._spawn(self._answers_to, connection)

    def _requests_of(self, connection: _Connection) -> None:
        with contextlib.suppress(OSError):
            while data := connection.client.recv(65536):
                if self.lose is not None and data.startswith(self.lose.prefix):
                    with self._lock:
                        self._requests += 1
                        connection.answer_lost |= self._requests == self.lose.nth
                if not self._swallowed(connection):
                    connection.upstream.sendall(data)
        self._drop(connection)

    def _answers_to(self, connection: _Connection) -> None:
        with contextlib.suppress(OSError):
            while data := connection.upstream.recv(65536):
                if connection.answer_lost and self.lose is not None:
                    self.lose.first()
                    self._drop(connection)
                    self.answer_lost.set()
                    return
                if not self._swallowed(connection):
                    connection.client.sendall(data)
        self._drop(connection)

    def _drop(self, connection: _Connection) -> None:
        with self._lock:
            self._connections.discard(connection)
        # shutdown(), not just close(): it wakes the other thread's recv() on the socket.
        for sock in (connection.client, connection.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
