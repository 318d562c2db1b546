"""GET /v1/account/agent/conversation/credits and /v1/account/workflow/run/credits:
GPTBots' lists of credits per agent conversation and per workflow run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response

from .. import looks
from ..conversations import CONVERSATIONS, MAX_RANGE_MS, RUNS, Listing
from ..days import parse_instant_param
from ..errors import InvalidInput
from ..events import THREAD_ID
from ..ids import SLUG_JSON_PATTERN
from ..looks import Look
from ..money import format_credits
from ..services import Services
from ..store import conversation_credits
from .auth import ServicesDep, admit, looked_reader, run_read
from .bill.request import integer_param, slug_param
from .conversation_schemas import ConversationList, RunList
from .schemas import Error

router = APIRouter(tags=["analytics"])

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


@dataclass(frozen=True, slots=True)
class ListQuery:
    """What a list request asks, every parameter checked."""

    start: int
    end: int
    page: int
    page_size: int
    thread_id: str | None
    account_id: str | None
    bot_id: str | None


def list_query(listing: Listing, params: dict[str, str]) -> ListQuery:
    """The request's parameters, or InvalidInput naming the first bad one and its rule."""
    ends = []
    for name in ("start_time", "end_time"):
        text = params.get(name)
        if text is None:
            raise InvalidInput(f"{name}: is required (milliseconds since the Unix epoch)")
        ends.append(parse_instant_param(name, text))
    start, end = ends
    if end < start:
        raise InvalidInput("end_time: must not be before start_time")
    if end - start > MAX_RANGE_MS:
        raise InvalidInput(
            f"end_time: end_time - start_time is {end - start} ms; at most 30 days "
            f"({MAX_RANGE_MS} ms) may be asked at once"
        )
    thread_id = params.get(listing.id_field)
    if thread_id is not None and not THREAD_ID.fullmatch(thread_id):
        raise InvalidInput(f"{listing.id_field}: must be 1-256 printable ASCII characters")
    return ListQuery(
        start=start,
        end=end,
        page=integer_param(params, "page", 1, 1, 1_000_000),
        page_size=integer_param(params, "page_size", 20, 1, 100),
        thread_id=thread_id,
        account_id=slug_param(params, "account_id"),
        bot_id=slug_param(params, "bot_id"),
    )


def list_answer(services: Services, request: Request, listing: Listing, look: Look) -> bytes:
    """The list's JSON, for a request whose key its look checked: the parameters, then the
    access rules, then one page read from the rollups through their page index and the
    count of the range."""
    store = services.store
    query = list_query(listing, dict(request.query_params))
    reader = looked_reader(look, query.account_id, query.bot_id)
    request.scope["state"]["account_id"] = reader.account.id
    selection = conversation_credits.Selection(
        reader.account.id, reader.bot_id, query.thread_id, query.start, query.end
    )
    with store.read() as conn:
        rows = conversation_credits.page(
            conn,
            listing,
            selection,
            limit=query.page_size,
            offset=(query.page - 1) * query.page_size,
        )
        total = conversation_credits.count(conn, listing, selection)
    return render_list(listing, rows, total, query)


def render_list(
    listing: Listing, rows: list[conversation_credits.Row], total: int, query: ListQuery
) -> bytes:
    """The answer as JSON bytes, fields in the contract's order, credits as exact decimals."""
    names = listing.categories
    items = []
    for thread_id, _bot_id, (created_at, _last_at, *credits) in rows:
        figures = "".join(
            f',"{name}":{format_credits(n)}' for name, n in zip(names, credits, strict=True)
        )
        items.append(
            f'{{"{listing.id_field}":{json.dumps(thread_id)},"{listing.time_field}":{created_at}'
            f'{figures},"total":{format_credits(sum(credits))}}}'
        )
    return (
        f'{{"list":[{",".join(items)}],"total":{total},"page":{query.page},'
        f'"page_size":{query.page_size},"start_time":{query.start},"end_time":{query.end}}}'
    ).encode()


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


def _parameters(listing: Listing, what: str) -> list[dict[str, Any]]:
    query = _query
    return [
        query(
            "start_time",
            {"type": "string", "examples": ["1774800000000"]},
            f"Start of the range of {what} create times, inclusive: milliseconds since the "
            "Unix epoch as decimal digits, or an RFC 3339 date-time (percent-encode '+').",
            required=True,
        ),
        query(
            "end_time",
            {"type": "string", "examples": ["1774886399999"]},
            "End of the range, inclusive; at most 30 days (2,592,000,000 ms) after start_time.",
            required=True,
        ),
        query(
            "page",
            {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 1},
            "Page number, from 1.",
        ),
        query(
            "page_size",
            {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            f"{what.capitalize()}s per page, 1-100.",
        ),
        query(
            listing.id_field,
            {"type": "string", "minLength": 1, "maxLength": 256},
            f"Only this {what}.",
        ),
        query(
            "bot_id",
            {"type": "string", "pattern": SLUG_JSON_PATTERN},
            "Only this bot's. A bot-bound key sees its own bot only.",
        ),
        query(
            "account_id",
            {"type": "string", "pattern": SLUG_JSON_PATTERN},
            "Required with an admin key; with an account key absent or the key's own.",
        ),
    ]


async def _respond(services: Services, request: Request, listing: Listing) -> Response:
    # The key, the account and its revision in one round trip (looks.py); the same key asking
    # the same page at the same revision gets the page computed before.
    look = await looks.look_async(
        services.store,
        request.headers.get("authorization", ""),
        request.query_params.get("account_id"),
        services.look_cache,
    )
    notes = request.scope.setdefault("state", {})
    admit(services, look.key, notes)
    asked = (look.digest, listing.table, request.scope["query_string"])
    seen = services.list_cache.get(asked, look.revision)
    if seen is not None:
        notes["account_id"] = seen[0]
        body = seen[1]
    else:
        body = await run_read(services.store, list_answer, services, request, listing, look)
        services.list_cache.put(asked, look.revision, (notes["account_id"], body))
    return Response(body, media_type="application/json")


@router.get(
    "/v1/account/agent/conversation/credits",
    summary="Get Agent Conversation Credits",
    description="Credits per agent conversation created in a range of at most 30 days, newest "
    "first (ties by conversation_id), per category, cut into pages.",
    response_class=Response,
    openapi_extra={
        "parameters": _parameters(CONVERSATIONS, "conversation"),
        "security": [{"HTTPBearer": []}],
    },
    responses={200: {"model": ConversationList, "description": "One page."}, **_ERRORS},
)
async def get_conversation_credits(services: ServicesDep, request: Request) -> Response:
    return await _respond(services, request, CONVERSATIONS)


@router.get(
    "/v1/account/workflow/run/credits",
    summary="Get Workflow Run Credits",
    description="Credits per workflow run started in a range of at most 30 days, newest first "
    "(ties by run_id), per category, cut into pages.",
    response_class=Response,
    openapi_extra={
        "parameters": _parameters(RUNS, "run"),
        "security": [{"HTTPBearer": []}],
    },
    responses={200: {"model": RunList, "description": "One page."}, **_ERRORS},
)
async def get_run_credits(services: ServicesDep, request: Request) -> Response:
    return await _respond(services, request, RUNS)
