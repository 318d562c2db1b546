"""Pure-ASGI middleware at the edge: request ids, security headers, metrics, access log."""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
import uuid

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..metrics import Metrics
from .errors import crash_body

log = logging.getLogger("creditmeter.access")
error_log = logging.getLogger("creditmeter.http")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
}
# Added to every answer unless the route set them; ASGI header names are lower case.
_HEADERS = [(name.lower().encode(), value.encode()) for name, value in _SECURITY_HEADERS.items()]
_API_HEADERS = [*_HEADERS, (b"cache-control", b"no-store")]


class _RequestIds:
    """Request ids unique across processes and restarts, without a syscall per request: a
    random prefix per process (a new one in a forked child), then a counter."""

    def __init__(self) -> None:
        self.renew()

    def renew(self) -> None:
        self.prefix, self.numbers = uuid.uuid4().hex[:16], itertools.count(1)

    def new(self) -> str:
        return f"{self.prefix}{next(self.numbers):016x}"


_REQUEST_IDS = _RequestIds()
os.register_at_fork(after_in_child=_REQUEST_IDS.renew)


class Edge:
    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else _REQUEST_IDS.new()
        state: dict[str, object] = scope.setdefault("state", {})
        state["request_id"] = request_id
        status, status_sent = 500, False

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            nonlocal status_sent
            if message["type"] == "http.response.start":
                status, status_sent = message["status"], True
                # A new list: a route may send a list it keeps (a cached page's headers).
                headers = [h for h in message.get("headers", ()) if h[0] != b"x-request-id"]
                names = {name for name, _ in headers}
                defaults = _API_HEADERS if scope["path"].startswith("/v1/") else _HEADERS
                headers += [h for h in defaults if h[0] not in names]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # Answered here, inside the edge, so a 500 carries the same headers as any answer.
            error_log.exception("unhandled error", extra={"request_id": request_id})
            if status_sent:
                raise
            response = JSONResponse(crash_body(request_id), status_code=500)
            await response(scope, receive, send_with_headers)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            seconds = time.perf_counter() - started
            self.metrics.request(scope["method"], route, status, seconds)
            if log.isEnabledFor(logging.INFO):  # the line's fields cost more than a check
                log.info(
                    "request",
                    extra={
                        "request_id": request_id,
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 3),
                        "key_id": state.get("key_id"),
                        # The account asked about: a read key's, a bill's, an admin path's, or
                        # the accounts of an ingest batch. Never the key's secret.
                        "account_id": state.get("account_id")
                        or scope.get("path_params", {}).get("account_id"),
                    },
                )
