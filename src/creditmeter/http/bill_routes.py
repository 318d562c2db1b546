"""GET /v1/account/bill/page and /v1/account/bill/total: GPTBots' bill endpoints.

These two are the hot read path, so they read their own query string (the parameters are
declared for OpenAPI below) and run inline on SQLite: FastAPI's per-parameter validation
and a thread hop cost several times the report itself.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from starlette.datastructures import QueryParams

from ..accounts import SLUG
from ..bills import Window, bill_page, bill_total
from ..days import parse_instant_param, zone
from ..errors import InvalidInput
from .auth import key_of as authenticated_key
from .auth import read_call, resolve_reader
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
_SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
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
        {"type": "string", "pattern": _SLUG_PATTERN},
        "Only this bot's credits. A bot-bound key sees its own bot only.",
    ),
    _query(
        "account_id",
        {"type": "string", "pattern": _SLUG_PATTERN},
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


def _integer(params: QueryParams, name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 9) or not low <= int(text) <= high:
        raise InvalidInput(f"{name}: {text!r} must be an integer from {low} to {high}")
    return int(text)


def _slug(params: QueryParams, name: str) -> str | None:
    value = params.get(name)
    if value is not None and not SLUG.fullmatch(value):
        raise InvalidInput(f"{name}: {value!r} must match {_SLUG_PATTERN}")
    return value


def _window(request: Request) -> Window:
    """The key, then every parameter, then the access rules: the report this request may see."""
    key = authenticated_key(request)
    params = request.query_params
    ends = []
    for name in ("start_time", "end_time"):
        text = params.get(name)
        if text is None:
            raise InvalidInput(f"{name}: is required (milliseconds since the Unix epoch)")
        ends.append(parse_instant_param(name, text))
    timezone = params.get("timezone")
    tz = zone(timezone) if timezone is not None else None
    state = request.app.state
    reader = resolve_reader(
        state.store, key, _slug(params, "account_id"), _slug(params, "bot_id"), state.account_cache
    )
    request.state.account_id = reader.account.id
    return Window(
        account_id=reader.account.id,
        bot_id=reader.bot_id,
        start_ms=ends[0],
        end_ms=ends[1],
        tz=tz or zone(reader.account.timezone),
        account_tz=reader.account.timezone,
    )


def _link(request: Request, page: int, last: int) -> str:
    def ref(number: int, rel: str) -> str:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
        query.append(("page", str(number)))
        return f'<{request.url.path}?{urlencode(query)}>; rel="{rel}"'

    links = [ref(1, "first")]
    if 1 < page <= last + 1:
        links.append(ref(page - 1, "prev"))
    if page < last:
        links.append(ref(page + 1, "next"))
    links.append(ref(last, "last"))
    return ", ".join(links)


def _page_answer(request: Request) -> Response:
    window = _window(request)
    page = _integer(request.query_params, "page", 1, 1, 1_000_000)
    page_size = _integer(request.query_params, "page_size", 20, 1, 100)
    as_csv = "text/csv" in request.headers.get("accept", "")
    store, cache = request.app.state.store, request.app.state.page_cache
    # The generation is read before computing: any commit after it makes the entry stale.
    generation = store.generation()
    cache_key = (window, page, page_size, as_csv, request.url.query)
    cached: tuple[bytes, dict[str, str]] | None = cache.get(cache_key, generation)
    if cached is None:
        rows, total_days = bill_page(store=store, window=window, page=page, page_size=page_size)
        headers = {
            "X-Total-Count": str(total_days),
            "Link": _link(request, page, max(1, math.ceil(total_days / page_size))),
            "X-Timezone": window.tz.key,
        }
        cached = (rows_csv(rows) if as_csv else rows_json(rows), headers)
        cache.put(cache_key, generation, cached)
    body, headers = cached
    media_type = "text/csv; charset=utf-8" if as_csv else "application/json"
    return Response(body, media_type=media_type, headers=headers)


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
    return await read_call(request.app.state.store, _page_answer, request=request)


def _total_answer(request: Request) -> Response:
    window = _window(request)
    first, last, credits = bill_total(store=request.app.state.store, window=window)
    return Response(
        total_json(first, last, credits),
        media_type="application/json",
        headers={"X-Timezone": window.tz.key},
    )


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
    return await read_call(request.app.state.store, _total_answer, request=request)
