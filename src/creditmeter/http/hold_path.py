"""A hold's create and release answered before FastAPI's routing: a pair is two small
writes, and FastAPI's request handling (routing, dependencies, the Request object) cost
more than the gathered transaction's share of each (docs/benchmarks.md). The same answers
and errors as the routes of credit_routes.py, which describe them in OpenAPI."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.routing import APIRoute
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp, ExceptionHandler, Receive, Scope, Send

from ..errors import Forbidden
from ..keys import Key
from ..services import Services
from .auth import GATE_KEY, looked_key
from .bodies import HOLDS_PATH
from .credit_routes import hold_answer
from .credit_routes import router as credit_router

_PREFIX, _SUFFIX = HOLDS_PATH + "/", "/release"
_ROUTES = {
    route.path: route
    for route in credit_router.routes
    if isinstance(route, APIRoute) and "POST" in (route.methods or ()) and "holds" in route.path
}
_CREATE, _RELEASE = _ROUTES[HOLDS_PATH], _ROUTES[HOLDS_PATH + "/{hold_id}/release"]


def released_hold(path: str) -> str | None:
    """The hold id of a release's path, as the route's `{hold_id}` matches it (no `/`)."""
    if path.startswith(_PREFIX) and path.endswith(_SUFFIX):
        hold_id = path[len(_PREFIX) : -len(_SUFFIX)]
        if hold_id and "/" not in hold_id:
            return hold_id
    return None


class HoldPath:
    """Pure-ASGI middleware answering POST on the two hold routes; anything else goes on to
        `app`. Inside bodies.BodyGate, which has checked the key of a request with a body and
        read that body whole (a release has none: its key is checked here, as auth.current_key
    does); errors go to the app's own handlers, as on any route."""

    def __init__(
        self,
        app: ASGIApp,
        services: Services,
        handlers: Mapping[type[Exception] | int, ExceptionHandler],
    ):
        self.app = app
        self.services = services
        self.answering = ExceptionMiddleware(self._answer, handlers=dict(handlers))

    @staticmethod
    def answers(scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] != "POST":
            return False
        path = scope["path"]
        return path == HOLDS_PATH or released_hold(path) is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.answers(scope):
            await self.answering(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        release = released_hold(scope["path"])
        scope["route"] = _CREATE if release is None else _RELEASE  # for metrics and the log
        media_type = authorization = ""
        for name, value in scope["headers"]:
            if name == b"content-type" and not media_type:
                media_type = value.decode("latin-1").split(";")[0].strip().lower()
            elif name == b"authorization" and not authorization:
                authorization = value.decode("latin-1")
        _ingest_key(await self._key(scope, authorization))
        body = b"" if release is not None else await _body(receive)
        notes = scope.setdefault("state", {})
        status, answer = await hold_answer(self.services, release, body, media_type, notes)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(answer)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    async def _key(self, scope: Scope, authorization: str) -> Key:
        notes = scope.setdefault("state", {})
        checked = notes.get(GATE_KEY)
        if isinstance(checked, Key):  # checked and counted by BodyGate
            return checked
        return await looked_key(self.services, authorization, notes)


def _ingest_key(key: Key) -> None:
    if key.scope != "ingest":  # as auth.IngestKey words it
        raise Forbidden(f"this key has scope {key.scope!r}; this operation needs scope 'ingest'")


async def _body(receive: Receive) -> bytes:
    """The body, as BodyGate replays it (whole) or, without one, empty."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b""
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
