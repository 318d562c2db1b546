"""HEAD answers as GET without a body, on every path that answers GET (RFC 9110 9.3.2)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Noted in the request's state, so that messages (a 405's) can name the method sent.
HEAD_FLAG = "head_request"


def method_sent(scope: Scope) -> str:
    """The method the client sent: HEAD for a request HeadAsGet turned into a GET."""
    return "HEAD" if scope.get("state", {}).get(HEAD_FLAG) else str(scope["method"])


class HeadAsGet:
    """Pure-ASGI middleware: a HEAD request goes on as a GET, and its answer keeps its
    status and headers (Content-Length included) but loses its body. Routes, the bill fast
    path and static files then answer HEAD wherever they answer GET, by one rule."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})[HEAD_FLAG] = True
        # A copy: the server's own scope stays HEAD, so it sends no body either.
        inner = {**scope, "method": "GET"}

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # the last (empty) body message ends the answer
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        try:
            await self.app(inner, receive, send_without_body)
        finally:
            # What routing noted, for the edge's metrics and access log.
            for name in ("route", "path_params", "endpoint"):
                if name in inner:
                    scope[name] = inner[name]
