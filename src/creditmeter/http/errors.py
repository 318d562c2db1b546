"""One place turns every failure into `{code, message}` with the contract's status."""

from __future__ import annotations

import logging
import sqlite3
import uuid

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException
from starlette.routing import Match, Mount

from ..errors import (
    CreditmeterError,
    InvalidInput,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    StoreUnavailable,
)
from ..metrics import Metrics
from .head import method_sent
from .validation import plain_words

log = logging.getLogger("creditmeter.http")


def error_response(error: CreditmeterError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", None) or uuid.uuid4().hex)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request, fallback: str) -> str:
    """Every method served at this path; Starlette names only the first matching route's.
    (A mount, such as /static, answers with its own Allow header: the fallback.)"""
    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    allowed = [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]
    if "GET" in allowed and "HEAD" not in allowed:  # HeadAsGet answers HEAD wherever GET is
        allowed.insert(allowed.index("GET") + 1, "HEAD")
    return ", ".join(allowed) or fallback


def install(app: FastAPI, retry_after: int, metrics: Metrics) -> None:
    async def on_ours(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, CreditmeterError)
        return error_response(error)

    async def on_http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        ours: CreditmeterError
        if error.status_code == 404:
            ours = NotFound(f"no such path: {request.url.path}")
        elif error.status_code == 405:
            allow = _allowed_methods(request, (error.headers or {}).get("Allow", ""))
            method = method_sent(request.scope)
            ours = MethodNotAllowed(
                f"{method} is not allowed on {request.url.path}; allowed: {allow}",
                headers={"Allow": allow},
            )
        elif error.status_code == 413:
            ours = PayloadTooLarge(str(error.detail))
        else:
            ours = CreditmeterError(str(error.detail))
            ours.status, ours.code = error.status_code, error.status_code * 100
        return error_response(ours)

    async def on_validation(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        details = []
        for item in error.errors():
            where = [
                str(part)
                for part in item.get("loc", ())
                if part not in ("query", "body", "path", "header")
            ]
            # A body that is not JSON at all: its loc ends with the character's position.
            field = "body" if item.get("type") == "json_invalid" else ".".join(where) or "body"
            rule = plain_words(item, request.scope.get("route"))
            details.append({"field": field, "message": rule})
        first = details[0] if details else {"field": "request", "message": "is invalid"}
        return error_response(InvalidInput(f"{first['field']}: {first['message']}", errors=details))

    async def on_store_down(request: Request, error: Exception) -> JSONResponse:
        metrics.store_error(type(error).__name__)
        log.warning(
            "store unavailable",
            # The driver's own message ("database is locked"), without SQL or parameters.
            extra={
                "request_id": _request_id(request),
                "error": f"{type(error).__name__}: {getattr(error, 'orig', None) or error}",
            },
        )
        return error_response(
            StoreUnavailable(
                "the store is unavailable; retry later",
                headers={"Retry-After": str(retry_after)},
            )
        )

    async def on_data_error(request: Request, error: Exception) -> JSONResponse:
        # Input the checks let through but the store cannot hold: the client's to fix.
        log.warning(
            "value refused by the store",
            extra={"request_id": _request_id(request), "error": type(error).__name__},
        )
        return error_response(
            InvalidInput("a value in the request cannot be stored (such as a NUL character)")
        )

    app.add_exception_handler(CreditmeterError, on_ours)
    for data_error in DATA_ERRORS:
        app.add_exception_handler(data_error, on_data_error)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    for store_error in (
        sa_exc.OperationalError,
        sa_exc.InterfaceError,
        sa_exc.TimeoutError,
        sa_exc.DisconnectionError,
        # Raised by the DBAPI cursors the hot SQL paths use directly.
        sqlite3.OperationalError,
        psycopg.OperationalError,
        psycopg.InterfaceError,
    ):
        app.add_exception_handler(store_error, on_store_down)


# The drivers' "this value cannot be stored" (PostgreSQL text cannot hold NUL, a number out
# of a column's range), raw or wrapped by SQLAlchemy.
DATA_ERRORS: tuple[type[Exception], ...] = (sa_exc.DataError, psycopg.DataError, sqlite3.DataError)


def crash_body(request_id: str) -> dict[str, object]:
    """The answer to an unexpected failure: no trace, only the id it was logged under."""
    return CreditmeterError(
        f"unexpected failure; it was logged with request id {request_id}"
    ).body()
