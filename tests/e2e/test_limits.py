"""Issue 15, item 2, at the socket: `creditmeter serve` caps headers and bodies, times out
half-sent requests and refuses a body without a key before reading it."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.served import Served

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
KEEP_ALIVE = 1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = Served(
        tmp_path_factory.mktemp("limits"),
        env={
            "CREDITMETER_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
            "CREDITMETER_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
            "CREDITMETER_KEEP_ALIVE_TIMEOUT_SECONDS": str(KEEP_ALIVE),
            "CREDITMETER_MAX_HEADER_BYTES": "8192",
        },
    )
    with served:
        yield served


def _connect(server: Served) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def _answer(conn: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """The first answer on `conn`, read until the server closes it or its body is whole."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    while len(body) < int(headers.get("content-length", "0")):
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def _closed(conn: socket.socket) -> bool:
    """Whether the server closed `conn` (read to the end; a reset counts)."""
    try:
        while conn.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return True


def _error(body: bytes, code: int) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(body)
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    return error


def _request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *map(": ".join, headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_headers_past_the_limit_answer_431_and_close(server: Served) -> None:
    with _connect(server) as conn:
        conn.sendall(_request("GET", "/healthz", {"X-Big": "a" * 10_000}))
        status, headers, body = _answer(conn)
        assert status == 431
        assert headers["content-type"] == "application/json"
        assert "8192" in _error(body, 43100)["message"]
        assert _closed(conn)
    # Just under the limit is served.
    with _connect(server) as conn:
        conn.sendall(_request("GET", "/healthz", {"X-Big": "a" * 7_000, "Connection": "close"}))
        assert _answer(conn)[0] == 200


def _send_until_refused(conn: socket.socket, chunk: bytes, most: int) -> int:
    """Sends `chunk` again and again, up to `most` bytes; how many the server took first."""
    sent = 0
    try:
        while sent < most:
            conn.sendall(chunk)
            sent += len(chunk)
    except OSError:  # EPIPE or a reset: the server closed the connection
        pass
    return sent


def test_a_header_that_never_ends_is_cut_off_early(server: Served) -> None:
    with _connect(server) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sent = _send_until_refused(conn, b"a" * 16384, 16 << 20)
    assert sent < 8 << 20


def test_half_sent_headers_time_out_with_408(server: Served) -> None:
    with _connect(server) as conn:
        started = time.monotonic()
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        status, headers, body = _answer(conn)
        waited = time.monotonic() - started
        assert status == 408
        assert headers["connection"] == "close"
        _error(body, 40800)
        assert _closed(conn)
    assert HEADER_TIMEOUT * 0.9 <= waited < HEADER_TIMEOUT + 4


def test_a_connection_that_sends_nothing_is_closed(server: Served) -> None:
    with _connect(server) as conn:
        started = time.monotonic()
        assert _answer(conn)[0] == 408
        assert time.monotonic() - started < HEADER_TIMEOUT + 4


def test_an_idle_keep_alive_connection_is_closed(server: Served) -> None:
    with _connect(server) as conn:
        conn.sendall(_request("GET", "/healthz", {}))
        assert _answer(conn)[0] == 200
        started = time.monotonic()
        assert conn.recv(1) == b""  # closed by the server, without an answer
        assert time.monotonic() - started < KEEP_ALIVE + 4


def test_many_slow_connections_are_all_let_go(server: Served) -> None:
    conns = [_connect(server) for _ in range(200)]
    try:
        for conn in conns:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHo")
        time.sleep(HEADER_TIMEOUT + 2)
        with _connect(server) as fresh:
            fresh.sendall(_request("GET", "/healthz", {"Connection": "close"}))
            assert _answer(fresh)[0] == 200
        for conn in conns:
            conn.settimeout(5)
            assert _answer(conn)[0] == 408
    finally:
        for conn in conns:
            conn.close()


def test_a_slow_body_times_out_with_408(server: Served) -> None:
    admin = server.platform("admin")
    headers = {
        "Authorization": f"Bearer {admin}",
        "Content-Type": "application/json",
        "Content-Length": "40",
    }
    with _connect(server) as conn:
        conn.sendall(_request("POST", "/v1/admin/accounts", headers, b'{"id": "slo'))
        started = time.monotonic()
        status, answer_headers, body = _answer(conn)
        assert status == 408
        assert answer_headers["connection"] == "close"
        assert "body" in _error(body, 40800)["message"]
        assert time.monotonic() - started < BODY_TIMEOUT + 4


def test_a_body_without_a_key_is_refused_before_it_is_read(server: Served) -> None:
    assert server.process is not None
    before = _rss_kib(server.process.pid)
    headers = {"Content-Type": "application/json", "Content-Length": str(300 << 20)}
    with _connect(server) as conn:
        conn.sendall(_request("POST", "/v1/admin/accounts", headers))
        sent = _send_until_refused(conn, b"x" * 65536, 64 << 20)
        status, answer_headers, body = _answer(conn)
    assert status == 401
    assert answer_headers["connection"] == "close"
    _error(body, 40127)
    assert sent < 48 << 20  # the server closed the connection instead of reading on
    assert _rss_kib(server.process.pid) - before < 20 << 10  # no more than 20 MiB held


@pytest.mark.parametrize("declared", [True, False])
def test_an_admin_body_past_64_kib_answers_413(server: Served, declared: bool) -> None:
    admin = server.platform("admin")
    body = json.dumps({"id": "big", "name": "x" * (70 << 10)}).encode()
    headers = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}
    if declared:
        payload = _request(
            "POST", "/v1/admin/accounts", {**headers, "Content-Length": str(len(body))}, body
        )
    else:
        chunked = b"".join(
            b"%x\r\n%s\r\n" % (len(body[i : i + 8192]), body[i : i + 8192])
            for i in range(0, len(body), 8192)
        )
        payload = _request(
            "POST",
            "/v1/admin/accounts",
            {**headers, "Transfer-Encoding": "chunked"},
            chunked + b"0\r\n\r\n",
        )
    with _connect(server) as conn:
        conn.sendall(payload)
        status, _, answer = _answer(conn)
    assert status == 413
    assert "65536" in _error(answer, 41300)["message"]
