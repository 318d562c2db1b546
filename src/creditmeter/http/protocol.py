"""uvicorn's httptools protocol with the limits it lacks: a deadline and a size for each
request's line and headers.

uvicorn times out only idle keep-alive connections: a connection that opens and never
finishes its headers is held forever, and httptools gathers a header of any size. Here each
request's line and headers must arrive within `header_timeout_seconds` of the connection's
opening (or of the first byte after the previous answer) and hold at most
`max_header_bytes`; else the connection gets a 408 or a 431 in the contract's JSON, and is
closed. uvicorn's own answer to a request it cannot parse is JSON too.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..errors import CreditmeterError, HeadersTooLarge, InvalidInput, RequestTimeout
from ..settings import Settings

_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_header_bytes: int
    header_timeout_seconds: float

    @classmethod
    def of(cls, settings: Settings) -> ConnectionLimits:
        return cls(settings.max_header_bytes, settings.header_timeout_seconds)


class ServeConfig(uvicorn.Config):
    """uvicorn's Config carrying the limits to each worker (it is pickled to them)."""

    def __init__(self, app: str, *, limits: ConnectionLimits, **kwargs: Any):
        super().__init__(app, http=LimitedHttpToolsProtocol, **kwargs)
        self.limits = limits


def error_bytes(error: CreditmeterError) -> bytes:
    """A whole HTTP/1.1 answer carrying `error`, that closes the connection."""
    body = json.dumps(error.body()).encode()
    return b"".join(
        [
            b"HTTP/1.1 %d %s\r\n" % (error.status, _REASONS[error.status]),
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any):
        super().__init__(config, *args, **kwargs)
        limits = getattr(config, "limits", None) or ConnectionLimits.of(Settings())
        self.max_header_bytes = limits.max_header_bytes
        self.header_timeout = limits.header_timeout_seconds
        self.awaiting_headers = True  # the bytes coming are a request's line and headers
        self.header_bytes = 0
        self.header_deadline: asyncio.TimerHandle | None = None
        self.refused = False  # answered here: whatever else the parser finds is ignored

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()  # a connection that sends nothing is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Headers still coming: this connection's reads since the request began (a few
        # bytes of the previous request's at most), a bound on what httptools holds.
        if self.awaiting_headers and not self.refused:
            self.header_bytes += len(data)
            if self.header_bytes > self.max_header_bytes:
                self._refuse_headers()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.awaiting_headers, self.header_bytes = True, 0
        self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self.awaiting_headers, self.header_bytes = False, 0
        self._disarm_header_deadline()
        # Headers that arrived whole in one read, measured exactly: line and fields.
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.max_header_bytes:
            self._refuse_headers()
        if not self.refused:
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self.refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self.refused:
            super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        self._refuse(InvalidInput(f"request: {msg}"))

    def _arm_header_deadline(self) -> None:
        if self.header_deadline is None and not self.transport.is_closing():
            self.header_deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm_header_deadline(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def _too_slow(self) -> None:
        self.header_deadline = None
        if self.awaiting_headers:
            self._refuse(
                RequestTimeout(
                    f"headers: not received whole within {self.header_timeout:g} seconds"
                )
            )

    def _refuse_headers(self) -> None:
        self._refuse(
            HeadersTooLarge(
                f"headers: the request line and headers exceed {self.max_header_bytes} bytes"
            )
        )

    def _refuse(self, error: CreditmeterError) -> None:
        """Answers `error` and closes the connection; closes it without a word while an
        answer to an earlier (pipelined) request is being written."""
        self.refused = True
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(error_bytes(error))
        self.transport.close()
