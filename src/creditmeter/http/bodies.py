"""Request bodies, before any route sees one: the key first, then a bounded, timed read.

FastAPI reads and parses a route's body before it runs the route's dependencies, so without
this a caller with no key could make every worker hold whatever it sends. Here, under
`/v1/` (where every route needs a key), a request with a body is answered 401 before a byte
of it is read; any body is read at most to its limit (413 past it, from `Content-Length` at
once) and within `body_timeout_seconds` (408), and only then handed on, whole, to the app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp, ExceptionHandler, Message, Receive, Scope, Send

from ..errors import PayloadTooLarge, RequestTimeout
from ..services import Services
from .auth import GATE_KEY, RequestNotes, bearer_key, looked_key, run_read

EVENTS_PATH = "/v1/usage/events"
HOLDS_PATH = "/v1/credits/holds"  # a hold's create: its key read through the look
MAX_EVENTS_BODY = 1 << 20  # 1 MiB, the contract's limit on a batch
_CLOSE = (b"connection", b"close")


def body_limit(path: str, max_body_bytes: int) -> int:
    """The largest body a request to `path` may send: 1 MiB of events, else the setting."""
    return MAX_EVENTS_BODY if path == EVENTS_PATH else max_body_bytes


def _declared_length(scope: Scope) -> int | None:
    """Content-Length as sent, None without one; -1 when it is not a number."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else -1
    return None


def _has_body(scope: Scope) -> bool:
    """Whether the request says a body follows (one loop: this runs on every request)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return bool(value.lstrip(b"0"))
        if name == b"transfer-encoding":
            return True
    return False


class BodyGate:
    """Pure-ASGI middleware: the key, then the body, bounded in size and time (see above)."""

    def __init__(
        self,
        app: ASGIApp,
        services: Services,
        handlers: Mapping[type[Exception] | int, ExceptionHandler],
    ):
        self.app = app
        self.services = services
        self.handlers = dict(handlers)
        self.max_body_bytes = services.settings.max_body_bytes
        self.timeout = services.settings.body_timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        try:
            if scope["path"].startswith("/v1/"):
                await self._authenticate(scope)
            body = await self._read(scope, receive)
        except Exception as error:
            await self._refuse(error, scope, receive, send)
            return
        if body is not None:  # None: the client left before its body was whole
            await self.app(scope, _replay(body, receive), send)

    async def _authenticate(self, scope: Scope) -> None:
        """The live key of the request, noted for auth.current_key (and counted once
        against its rate limit); Unauthorized before anything is read."""
        notes: RequestNotes = scope.setdefault("state", {})
        authorization = next(
            (
                value.decode("latin-1")
                for name, value in scope["headers"]
                if name == b"authorization"
            ),
            "",
        )
        services = self.services
        if scope["path"] == HOLDS_PATH:  # the hot write of one account (docs/benchmarks.md)
            notes[GATE_KEY] = await looked_key(services, authorization, notes)
            return
        notes[GATE_KEY] = await run_read(
            services.store,
            bearer_key,
            services,
            authorization,
            notes,
            services.store.generation(),
        )

    async def _read(self, scope: Scope, receive: Receive) -> bytes | None:
        limit = body_limit(scope["path"], self.max_body_bytes)
        hint = "; send fewer events per batch" if scope["path"] == EVENTS_PATH else ""
        too_large = PayloadTooLarge(f"body: larger than {limit} bytes{hint}")
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        raise too_large
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            raise RequestTimeout(
                f"body: not received whole within {self.timeout:g} seconds"
            ) from None
        return b"".join(chunks)

    async def _refuse(self, error: Exception, scope: Scope, receive: Receive, send: Send) -> None:
        """The app's own answer to `error`, closing the connection: the rest of the body
        is still on its way, and will not be read."""

        async def fail(_scope: Scope, _receive: Receive, _send: Send) -> None:
            raise error  # no handler for it: on to the edge, which answers 500

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), _CLOSE]}
            await send(message)

        await ExceptionMiddleware(fail, handlers=self.handlers)(scope, receive, send_closing)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body read, whole, then waits on the connection as before."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
