"""GET /v1/account/bill/page and /v1/account/bill/total: GPTBots' bill endpoints."""

from __future__ import annotations

import math
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from ..bills import Window, bill_page, bill_total
from ..days import parse_instant_param, zone
from .auth import AnyKey, StoreDep, resolve_reader
from .render import rows_csv, rows_json, total_json
from .schemas import BillTotal, DayRow, Error

router = APIRouter(prefix="/v1/account/bill", tags=["bills"])

_ERRORS: dict[int | str, dict[str, object]] = {
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

StartTime = Annotated[
    str,
    Query(
        description="Start of the range, inclusive: milliseconds since the Unix epoch as decimal "
        "digits, or an RFC 3339 date-time (percent-encode '+' as %2B).",
        examples=["1732982400000"],
    ),
]
EndTime = Annotated[
    str,
    Query(
        description="End of the range, inclusive; same forms as start_time.",
        examples=["1735660799999"],
    ),
]
TimeZone = Annotated[
    str | None,
    Query(description="IANA time zone the days are counted in; default the account's."),
]
BotId = Annotated[
    str | None,
    Query(
        description="Only this bot's credits. A bot-bound key sees its own bot only.",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
    ),
]
AccountId = Annotated[
    str | None,
    Query(
        description="Required with an admin key; with an account key absent or the key's own.",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
    ),
]


def _window(
    store: StoreDep,
    key: AnyKey,
    start_time: str,
    end_time: str,
    timezone: str | None,
    bot_id: str | None,
    account_id: str | None,
) -> Window:
    start_ms = parse_instant_param("start_time", start_time)
    end_ms = parse_instant_param("end_time", end_time)
    tz = zone(timezone) if timezone is not None else None
    reader = resolve_reader(store, key, account_id, bot_id)
    return Window(
        account_id=reader.account.id,
        bot_id=reader.bot_id,
        start_ms=start_ms,
        end_ms=end_ms,
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


@router.get(
    "/page",
    summary="Get Detailed Credit Consumption",
    description="Credits per local calendar day and per category over at most 90 days, "
    "days without consumption included, cut into pages. `Accept: text/csv` gives CSV.",
    response_class=Response,
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
            },
        },
        **_ERRORS,
    },
)
def get_bill_page(
    request: Request,
    store: StoreDep,
    key: AnyKey,
    start_time: StartTime,
    end_time: EndTime,
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")] = 1,
    page_size: Annotated[int, Query(ge=1, le=100, description="Days per page, 1-100.")] = 20,
    timezone: TimeZone = None,
    bot_id: BotId = None,
    account_id: AccountId = None,
) -> Response:
    window = _window(store, key, start_time, end_time, timezone, bot_id, account_id)
    rows, total_days = bill_page(store=store, window=window, page=page, page_size=page_size)
    headers = {
        "X-Total-Count": str(total_days),
        "Link": _link(request, page, max(1, math.ceil(total_days / page_size))),
    }
    if "text/csv" in request.headers.get("accept", ""):
        return Response(rows_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(rows_json(rows), media_type="application/json", headers=headers)


@router.get(
    "/total",
    summary="Get Total Credit Consumption",
    description="Credits per category summed over a range touching at most 365 local days.",
    response_class=Response,
    responses={200: {"model": BillTotal, "description": "The sums."}, **_ERRORS},
)
def get_bill_total(
    store: StoreDep,
    key: AnyKey,
    start_time: StartTime,
    end_time: EndTime,
    timezone: TimeZone = None,
    bot_id: BotId = None,
    account_id: AccountId = None,
) -> Response:
    window = _window(store, key, start_time, end_time, timezone, bot_id, account_id)
    first, last, credits = bill_total(store=store, window=window)
    return Response(total_json(first, last, credits), media_type="application/json")
