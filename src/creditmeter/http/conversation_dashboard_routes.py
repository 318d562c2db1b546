"""The dashboard's Conversations view: a range's most expensive conversations (or runs),
paged, and the events of one, in time order. Same keys and access rules as the bills."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response

from ..categories import ALL_CATEGORIES
from ..conversations import CONVERSATIONS, RUNS, Listing
from ..days import range_params
from ..errors import InvalidInput
from ..events import THREAD_ID
from ..money import format_credits
from ..services import Services
from ..store import conversation_credits
from .auth import Reader, ServicesDep, bearer_key, resolve_reader, run_read
from .bill.request import MAX_PAGE, integer_param, slug_param

router = APIRouter(tags=["dashboard"])

MAX_RANGE_MS = 400 * 86_400_000  # the dashboard's ranges: up to 90 days, a custom year


def _listing(params: dict[str, str]) -> Listing:
    kind = params.get("kind", "conversations")
    if kind not in ("conversations", "runs"):
        raise InvalidInput(f"kind: {kind!r} must be conversations or runs")
    return CONVERSATIONS if kind == "conversations" else RUNS


def _reader(services: Services, request: Request, bot_id: str | None) -> Reader:
    generation = services.store.generation()
    key = bearer_key(
        services,
        request.headers.get("authorization", ""),
        request.scope.setdefault("state", {}),
        generation,
    )
    account_id = slug_param(dict(request.query_params), "account_id")
    return resolve_reader(
        services.store, key, account_id, bot_id, services.account_cache, generation
    )


def ranked_answer(services: Services, request: Request) -> bytes:
    params = dict(request.query_params)
    listing = _listing(params)
    start, end = range_params(params)
    if end - start > MAX_RANGE_MS:
        raise InvalidInput("end_time: must be from start_time to 400 days after it")
    page = integer_param(params, "page", 1, 1, MAX_PAGE)
    page_size = integer_param(params, "page_size", 20, 1, 100)
    reader = _reader(services, request, slug_param(params, "bot_id"))
    selection = conversation_credits.Selection(reader.account.id, reader.bot_id, None, start, end)
    with services.store.read() as conn:
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


def events_answer(services: Services, request: Request) -> bytes:
    params = dict(request.query_params)
    listing = _listing(params)
    bot_id = params.get("bot_id")
    if bot_id is None:
        raise InvalidInput("bot_id: is required")
    thread_id = params.get(listing.id_field)
    if thread_id is None or not THREAD_ID.fullmatch(thread_id):
        raise InvalidInput(f"{listing.id_field}: is required, 1-256 printable ASCII characters")
    reader = _reader(services, request, slug_param(params, "bot_id"))
    with services.store.read() as conn:
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
async def get_ranked(services: ServicesDep, request: Request) -> Response:
    body = await run_read(services.store, ranked_answer, services, request)
    return Response(body, media_type="application/json")


@router.get("/v1/account/dashboard/conversation-events", include_in_schema=False)
async def get_events(services: ServicesDep, request: Request) -> Response:
    body = await run_read(services.store, events_answer, services, request)
    return Response(body, media_type="application/json")
