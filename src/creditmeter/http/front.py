"""The app uvicorn serves: FastAPI's, except that the hot paths skip FastAPI's own layers.

Before any of our middleware, FastAPI wraps every request in its own: the telemetry check
(which reads the environment three times), ServerErrorMiddleware, its body limit, the
Starlette app; on a cached balance they cost about as much as our answer itself
(docs/benchmarks.md, "The short stack"). A request that one of the fast paths answers (the
bill, balance and conversation reads; a hold's create and release) goes instead through the
same middleware of ours, built once more as a stack of their own: the edge (request ids,
headers, metrics, the access log, a 500 for anything unhandled), CORS, the body gate and
the fast paths. Everything else, HEAD included, takes FastAPI's way, through the same
middleware."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from .bill import BillFastPath
from .hold_path import HoldPath


def takes_short_way(scope: Scope) -> bool:
    return BillFastPath.answers(scope) or HoldPath.answers(scope)


async def _beyond_fast_paths(scope: Scope, _receive: Receive, _send: Send) -> None:
    """The short stack's innermost app, which takes_short_way keeps from being reached."""
    raise RuntimeError(f"{scope['method']} {scope['path']} is not one of the fast paths")


def stack_of(layers: Sequence[Middleware]) -> ASGIApp:
    """`layers` (outermost first, as Starlette keeps them) around _beyond_fast_paths."""
    app: ASGIApp = _beyond_fast_paths
    for cls, args, kwargs in reversed(layers):
        app = cls(app, *args, **kwargs)
    return app


class CreditmeterApp(FastAPI):
    """FastAPI's app, whose fast paths' requests go through `short_stack` once it is set."""

    short_stack: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stack = self.short_stack
        if stack is not None and takes_short_way(scope):
            scope["app"] = self  # as Starlette's own call notes it, for the error handlers
            await stack(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)
