"""GET /v1/account/bill/page and /v1/account/bill/total: GPTBots' bill endpoints.

These two are the hot read path, so they read their own query string (the parameters are
declared for OpenAPI below) and run inline on SQLite: FastAPI's per-parameter validation
and a thread hop cost several times the report itself.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import keys
from ..bills import WholeDays, Window, bill_page, bill_total
from ..days import parse_instant_param, zone
from ..errors import InvalidInput
from ..ids import SLUG_JSON_PATTERN, is_slug
from ..keys import Key
from .auth import admit, bearer_key, read_call, resolve_reader
from .render import rows_csv, rows_json, total_json
from .schemas import BillTotal, DayRow, Error

router = APIRouter(prefix="/v1/account/bill", tags=["bills"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "A parameter is missing, malformed or out of range."},
    401: {
        "model": Error,
        "description": "No key, or a malformed, unknown, expired or revoked key.",
    },
    403: {"model": Error, "description": "An ingest key, or a bot-bound key naming another bot."},
    404: {"model": Error, "description": "No such account (or another account's)."},
    429: {"model": Error, "description": "Rate limit hit; see Retry-After."},
    503: {"model": Error, "description": "The store is unavailable; see Retry-After."},
}
_ZONE_HEADER: dict[str, Any] = {
    "description": "The IANA zone the days were counted in: `timezone`, else the account's "
    "(so a client can turn local dates into start_time and end_time).",
    "schema": {"type": "string"},
}


def _query(
    name: str, schema: dict[str, Any], description: str, required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


_WINDOW_PARAMETERS = [
    _query(
        "start_time",
        {"type": "string", "examples": ["1732982400000"]},
        "Start of the range, inclusive: milliseconds since the Unix epoch as decimal digits, "
        "or an RFC 3339 date-time (percent-encode '+' as %2B).",
        required=True,
    ),
    _query(
        "end_time",
        {"type": "string", "examples": ["1735660799999"]},
        "End of the range, inclusive; same forms as start_time.",
        required=True,
    ),
    _query(
        "timezone",
        {"type": "string"},
        "IANA time zone the days are counted in; default the account's.",
    ),
    _query(
        "bot_id",
        {"type": "string", "pattern": SLUG_JSON_PATTERN},
        "Only this bot's credits. A bot-bound key sees its own bot only.",
    ),
    _query(
        "account_id",
        {"type": "string", "pattern": SLUG_JSON_PATTERN},
        "Required with an admin key; with an account key absent or the key's own.",
    ),
]
_PAGE_PARAMETERS = [
    _query(
        "page",
        {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 1},
        "Page number, from 1.",
    ),
    _query(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
        "Days per page, 1-100.",
    ),
]


class _Call:
    """What a bill request says: its query parameters and the two headers that matter.
    Read straight from the ASGI scope (Starlette's Request would cost more than a cached
    report); the query string is parsed only when the answer is not cached."""

    __slots__ = ("_items", "accept", "authorization", "path", "query", "state")

    def __init__(self, scope: Scope):
        self.path: str = scope["path"]
        self.query: bytes = scope["query_string"]
        self._items: list[tuple[str, str]] | None = None
        self.authorization = self.accept = ""
        for name, value in scope["headers"]:
            if name == b"authorization" and not self.authorization:
                self.authorization = value.decode("latin-1")
            elif name == b"accept" and not self.accept:
                self.accept = value.decode("latin-1")
        self.state: dict[str, Any] = scope.setdefault("state", {})

    @property
    def items(self) -> list[tuple[str, str]]:
        """Every query parameter in order, as Starlette's QueryParams reads them."""
        if self._items is None:
            self._items = parse_qsl(self.query.decode("latin-1"), keep_blank_values=True)
        return self._items

    @property
    def params(self) -> dict[str, str]:
        """The last value of each query parameter, as Starlette's QueryParams.get gives."""
        return dict(self.items)


def _integer(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 9) or not low <= int(text) <= high:
        raise InvalidInput(f"{name}: {text!r} must be an integer from {low} to {high}")
    return int(text)


def _slug(params: dict[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not is_slug(value):
        raise InvalidInput(f"{name}: {value!r} must match {SLUG_JSON_PATTERN}")
    return value


def _window(state: Any, call: _Call, generation: int | None) -> tuple[Key, Window]:
    """The key, then every parameter, then the access rules: the report this request may see."""
    key = bearer_key(state, call.authorization, call.state, generation)
    params = call.params
    ends = []
    for name in ("start_time", "end_time"):
        text = params.get(name)
        if text is None:
            raise InvalidInput(f"{name}: is required (milliseconds since the Unix epoch)")
        ends.append(parse_instant_param(name, text))
    timezone = params.get("timezone")
    tz = zone(timezone) if timezone is not None else None
    reader = resolve_reader(
        state.store,
        key,
        _slug(params, "account_id"),
        _slug(params, "bot_id"),
        state.account_cache,
        generation,
    )
    call.state["account_id"] = reader.account.id
    return key, Window(
        account_id=reader.account.id,
        bot_id=reader.bot_id,
        start_ms=ends[0],
        end_ms=ends[1],
        tz=tz or zone(reader.account.timezone),
        account_tz=reader.account.timezone,
    )


def _link(call: _Call, page: int, last: int) -> str:
    query = urlencode([(k, v) for k, v in call.items if k != "page"])
    base = f"{call.path}?{query}&page=" if query else f"{call.path}?page="

    def ref(number: int, rel: str) -> str:
        return f'<{base}{number}>; rel="{rel}"'

    links = [ref(1, "first")]
    if 1 < page <= last + 1:
        links.append(ref(page - 1, "prev"))
    if page < last:
        links.append(ref(page + 1, "next"))
    links.append(ref(last, "last"))
    return ", ".join(links)


Answer = tuple[list[tuple[bytes, bytes]], bytes]  # raw response headers, body


def _answer(media_type: str, body: bytes, headers: dict[str, str]) -> Answer:
    raw = [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode("latin-1")) for name, value in headers.items()),
    ]
    return raw, body


def page_answer(state: Any, call: _Call) -> Answer:
    # The generation is read once, first: keys, accounts and pages cached at it are served
    # only while nothing has been committed since, so no answer predates the last commit.
    generation = state.store.generation()
    as_csv = "text/csv" in call.accept
    # The same key asking the same question since the last commit (a dashboard polling)
    # gets the same page: only the key's expiry and its rate limit are checked again.
    asked = (hashlib.sha256(call.authorization.encode()).digest(), call.query, as_csv)
    seen: tuple[Key, str, Answer] | None = state.page_cache.get(asked, generation)
    if seen is not None:
        key, account_id, answer = seen
        admit(state, keys.live(key), call.state)
        call.state["account_id"] = account_id
        return answer
    key, window = _window(state, call, generation)
    params = call.params
    page = _integer(params, "page", 1, 1, 1_000_000)
    page_size = _integer(params, "page_size", 20, 1, 100)
    rows, total_days = bill_page(
        store=state.store,
        window=window,
        page=page,
        page_size=page_size,
        whole_days=WholeDays(state.day_cache, generation),
    )
    headers = {
        "X-Total-Count": str(total_days),
        "Link": _link(call, page, max(1, math.ceil(total_days / page_size))),
        "X-Timezone": window.tz.key,
    }
    if as_csv:
        answer = _answer("text/csv; charset=utf-8", rows_csv(rows), headers)
    else:
        answer = _answer("application/json", rows_json(rows), headers)
    state.page_cache.put(asked, generation, (key, window.account_id, answer))
    return answer


def total_answer(state: Any, call: _Call) -> Answer:
    _key, window = _window(state, call, state.store.generation())
    first, last, credits = bill_total(store=state.store, window=window)
    return _answer(
        "application/json", total_json(first, last, credits), {"X-Timezone": window.tz.key}
    )


class BillEndpoints:
    """Pure-ASGI middleware answering GET on the two bill routes before FastAPI's routing:
    they are the hot read path, and a cached report costs less than FastAPI's own request
    handling. Errors go to the app's exception handlers, as on any other route; the
    APIRoutes below describe these endpoints in OpenAPI and answer the same way."""

    def __init__(self, app: ASGIApp, state: Any, handlers: dict[Any, Any]):
        self.app = app
        self.state = state
        self.handlers = handlers
        routes = {route.path: route for route in router.routes if isinstance(route, APIRoute)}
        self.answers = {path: (routes[path], answer) for path, answer in _ANSWERS.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.answers.get(scope["path"]) if scope["type"] == "http" else None
        if found is None or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        route, answer = found
        scope["route"] = route  # names the route in metrics and the access log
        try:
            headers, body = await read_call(self.state.store, answer, self.state, _Call(scope))
        except Exception as error:
            handler = next(
                (self.handlers[t] for t in type(error).__mro__ if t in self.handlers), None
            )
            if handler is None:
                raise
            response = await handler(Request(scope, receive), error)
            await response(scope, receive, send)
            return
        # A copy: the headers may be a cached answer's, and middleware may add to the list.
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})


async def _respond(request: Request, answer: Callable[[Any, _Call], Answer]) -> Response:
    state = request.app.state
    headers, body = await read_call(state.store, answer, state, _Call(request.scope))
    response = Response(body)
    response.raw_headers = list(headers)  # a copy, as above
    return response


@router.get(
    "/page",
    summary="Get Detailed Credit Consumption",
    description="Credits per local calendar day and per category over at most 90 days, "
    "days without consumption included, cut into pages. `Accept: text/csv` gives CSV.",
    response_class=Response,
    openapi_extra={
        "parameters": _PAGE_PARAMETERS + _WINDOW_PARAMETERS,
        "security": [{"HTTPBearer": []}],
    },
    responses={
        200: {
            "description": "One object per day, ascending.",
            "model": list[DayRow],
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "headers": {
                "X-Total-Count": {
                    "description": "Days in the whole range.",
                    "schema": {"type": "integer"},
                },
                "Link": {
                    "description": "RFC 8288 first/prev/next/last pages.",
                    "schema": {"type": "string"},
                },
                "X-Timezone": _ZONE_HEADER,
            },
        },
        **_ERRORS,
    },
)
async def get_bill_page(request: Request) -> Response:
    return await _respond(request, page_answer)


@router.get(
    "/total",
    summary="Get Total Credit Consumption",
    description="Credits per category summed over a range touching at most 365 local days.",
    response_class=Response,
    openapi_extra={"parameters": _WINDOW_PARAMETERS, "security": [{"HTTPBearer": []}]},
    responses={
        200: {
            "model": BillTotal,
            "description": "The sums.",
            "headers": {"X-Timezone": _ZONE_HEADER},
        },
        **_ERRORS,
    },
)
async def get_bill_total(request: Request) -> Response:
    return await _respond(request, total_answer)


_ANSWERS = {"/v1/account/bill/page": page_answer, "/v1/account/bill/total": total_answer}
