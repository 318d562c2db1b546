"""The dashboard's Conversations view: a range's most expensive conversations (or runs),
paged, and the events of one, in time order. Same keys and access rules as the bills."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response

from ..categories import ALL_CATEGORIES
from ..conversations import CONVERSATIONS, RUNS, Listing
from ..days import parse_instant_param
from ..errors import InvalidInput
from ..events import THREAD_ID
from ..money import format_credits
from ..store import conversation_credits
from .auth import bearer_key, read_call, resolve_reader
from .conversation_routes import _integer, _slug

router = APIRouter(tags=["dashboard"])

MAX_RANGE_MS = 400 * 86_400_000  # the dashboard's ranges: up to 90 days, a custom year


def _listing(params: Any) -> Listing:
    kind = params.get("kind", "conversations")
    if kind not in ("conversations", "runs"):
        raise InvalidInput(f"kind: {kind!r} must be conversations or runs")
    return CONVERSATIONS if kind == "conversations" else RUNS


def _reader(app_state: Any, request: Request, bot_id: str | None) -> Any:
    generation = app_state.store.generation()
    key = bearer_key(
        app_state,
        request.headers.get("authorization", ""),
        request.scope.setdefault("state", {}),
        generation,
    )
    params = request.query_params
    return resolve_reader(
        app_state.store,
        key,
        _slug(params, "account_id"),
        bot_id,
        app_state.account_cache,
        generation,
    )


def ranked_answer(app_state: Any, request: Request) -> bytes:
    params = request.query_params
    listing = _listing(params)
    ends = []
    for name in ("start_time", "end_time"):
        text = params.get(name)
        if text is None:
            raise InvalidInput(f"{name}: is required (milliseconds since the Unix epoch)")
        ends.append(parse_instant_param(name, text))
    start, end = ends
    if not 0 <= end - start <= MAX_RANGE_MS:
        raise InvalidInput("end_time: must be from start_time to 400 days after it")
    page = _integer(params, "page", 1, 1_000_000)
    page_size = _integer(params, "page_size", 20, 100)
    reader = _reader(app_state, request, _slug(params, "bot_id"))
    selection = conversation_credits.Selection(reader.account.id, reader.bot_id, None, start, end)
    with app_state.store.read() as conn:
        rows = conversation_credits.most_expensive(
            conn, listing, selection, limit=page_size, offset=(page - 1) * page_size
        )
        total = conversation_credits.count(conn, listing, selection)
    items = []
    for thread_id, bot, (created_at, last_at, *credits) in rows:
        figures = "".join(
            f',"{name}":{format_credits(n)}'
            for name, n in zip(listing.categories, credits, strict=True)
        )
        items.append(
            f'{{"{listing.id_field}":{json.dumps(thread_id)},"bot_id":{json.dumps(bot)},'
            f'"{listing.time_field}":{created_at},"last_time":{last_at}{figures},'
            f'"total":{format_credits(sum(credits))}}}'
        )
    return (
        f'{{"list":[{",".join(items)}],"total":{total},"page":{page},"page_size":{page_size}}}'
    ).encode()


def events_answer(app_state: Any, request: Request) -> bytes:
    params = request.query_params
    listing = _listing(params)
    bot_id = params.get("bot_id")
    if bot_id is None:
        raise InvalidInput("bot_id: is required")
    thread_id = params.get(listing.id_field)
    if thread_id is None or not THREAD_ID.fullmatch(thread_id):
        raise InvalidInput(f"{listing.id_field}: is required, 1-256 printable ASCII characters")
    reader = _reader(app_state, request, _slug(params, "bot_id"))
    with app_state.store.read() as conn:
        events = conversation_credits.events_of(
            conn, listing, account_id=reader.account.id, bot_id=bot_id, thread_id=thread_id
        )
    items = [
        f'{{"id":{json.dumps(e.event_id)},"timestamp":{e.ts},'
        f'"category":"{ALL_CATEGORIES[e.category]}","credits":{format_credits(e.credits)},'
        f'"metadata":{e.metadata or "null"}}}'
        for e in events
    ]
    return f'{{"list":[{",".join(items)}]}}'.encode()


@router.get("/v1/account/dashboard/conversations", include_in_schema=False)
async def get_ranked(request: Request) -> Response:
    state = request.app.state
    body = await read_call(state.store, ranked_answer, state, request)
    return Response(body, media_type="application/json")


@router.get("/v1/account/dashboard/conversation-events", include_in_schema=False)
async def get_events(request: Request) -> Response:
    state = request.app.state
    body = await read_call(state.store, events_answer, state, request)
    return Response(body, media_type="application/json")
