"""GET /v1/account/agent/conversation/credits and /v1/account/workflow/run/credits:
GPTBots' lists of credits per agent conversation and per workflow run, as FastAPI routes:
they give OpenAPI its description, and answer when the app is built without the read fast
path (answered in conversation_answers.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from ..conversations import CONVERSATIONS, RUNS, Listing
from ..ids import SLUG_JSON_PATTERN
from .auth import services_of
from .bill.answers import answer
from .bill.request import MAX_PAGE, BillRequest
from .conversation_answers import CONVERSATIONS_PATH, RUNS_PATH
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
            {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
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


async def _respond(request: Request) -> Response:
    # The same answer as the read fast path's (bill/fast_path.py), for an app built without it.
    headers, body = await answer(services_of(request), BillRequest(request.scope))
    response = Response(body)
    response.raw_headers = list(headers)  # a copy: the headers may be a cached answer's
    return response


@router.get(
    CONVERSATIONS_PATH,
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
async def get_conversation_credits(request: Request) -> Response:
    return await _respond(request)


@router.get(
    RUNS_PATH,
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
async def get_run_credits(request: Request) -> Response:
    return await _respond(request)
