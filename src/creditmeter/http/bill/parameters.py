"""The bill endpoints' query parameters and error answers as OpenAPI describes them: the
fast path reads its query string itself (request.py), so FastAPI does not see them."""

from __future__ import annotations

from typing import Any

from ...ids import SLUG_JSON_PATTERN
from ..schemas import Error
from .request import MAX_PAGE

ERRORS: dict[int | str, dict[str, Any]] = {
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
ZONE_HEADER: dict[str, Any] = {
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


WINDOW_PARAMETERS = [
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
PAGE_PARAMETERS = [
    _query(
        "page",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
        "Page number, from 1.",
    ),
    _query(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
        "Days per page, 1-100.",
    ),
]
