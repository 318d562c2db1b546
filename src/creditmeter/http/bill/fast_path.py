"""The bill endpoints answered before FastAPI's routing: they are the hot read path, and a
cached report costs less than FastAPI's own request handling (docs/benchmarks.md)."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.routing import APIRoute
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp, ExceptionHandler, Receive, Scope, Send

from ...services import Services
from ..conversation_routes import router as conversation_router
from ..credit_routes import router as credit_router
from .answers import ANSWERS, answer
from .request import BillRequest
from .routes import router

_ROUTES = {
    route.path: route
    for route in (*router.routes, *credit_router.routes, *conversation_router.routes)
    if isinstance(route, APIRoute) and route.path in ANSWERS
}


class BillFastPath:
    """Pure-ASGI middleware answering GET on the two bill routes; anything else goes on to
    `app`. Errors go through Starlette's ExceptionMiddleware to the app's own handlers, as
    on any other route."""

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
        return scope["type"] == "http" and scope["path"] in ANSWERS and scope["method"] == "GET"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.answers(scope):
            await self.answering(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, _receive: Receive, send: Send) -> None:
        path = scope["path"]
        scope["route"] = _ROUTES[path]  # names the route in metrics and the access log
        headers, body = await answer(self.services, BillRequest(scope))
        # A copy: the headers may be a cached answer's, and middleware may add to the list.
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})
