"""The two analytics lists' answers (per conversation, per workflow run), answered on the
read fast path as the bills are (bill/fast_path.py): after the request's look, the page
cached at the account's revision, else one statement for the page and the count,
PostgreSQL's awaited on the event loop, SQLite's on its change watch's connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..conversation_render import list_json
from ..conversations import CONVERSATIONS, MAX_RANGE_MS, RUNS, Listing
from ..days import range_params
from ..errors import InvalidInput
from ..events import THREAD_ID
from ..looks import Look
from ..services import Answer, Services
from ..store import conversation_credits
from ..store.dialect import dialect_of
from .auth import looked_reader
from .bill.request import MAX_PAGE, BillRequest, integer_param, slug_param

CONVERSATIONS_PATH: Final = "/v1/account/agent/conversation/credits"
RUNS_PATH: Final = "/v1/account/workflow/run/credits"
LISTINGS: Final = {CONVERSATIONS_PATH: CONVERSATIONS, RUNS_PATH: RUNS}


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
    start, end = range_params(params)
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
        page=integer_param(params, "page", 1, 1, MAX_PAGE),
        page_size=integer_param(params, "page_size", 20, 1, 100),
        thread_id=thread_id,
        account_id=slug_param(params, "account_id"),
        bot_id=slug_param(params, "bot_id"),
    )


def _question(request: BillRequest, look: Look) -> tuple[bytes, str, bytes]:
    return (look.digest, request.path, request.query)


def cached_list(services: Services, request: BillRequest, look: Look) -> Answer | None:
    """The page this key asked with this query string at the account's current revision,
    if one was computed: nothing it depends on has been committed since."""
    seen = services.list_cache.get(_question(request, look), look.revision)
    if seen is None:
        return None
    request.notes["account_id"] = seen[0]
    return seen[1]


async def list_answer(services: Services, request: BillRequest, look: Look) -> Answer:
    """The parameters, then the access rules, then the page and the count in one statement;
    cached at the revision the look read before anything was computed."""
    listing = LISTINGS[request.path]
    query = list_query(listing, request.params)
    reader = looked_reader(look, query.account_id, query.bot_id)
    request.notes["account_id"] = reader.account.id
    selection = conversation_credits.Selection(
        reader.account.id, reader.bot_id, query.thread_id, query.start, query.end
    )
    store = services.store
    statement = conversation_credits.list_statement(
        dialect_of(store.engine),
        listing,
        selection,
        limit=query.page_size,
        offset=(query.page - 1) * query.page_size,
    )
    total, rows = conversation_credits.list_rows(await store.query_async(*statement))
    body = list_json(
        listing,
        rows,
        services.written_list_rows,
        total=total,
        page=query.page,
        page_size=query.page_size,
        start=query.start,
        end=query.end,
    )
    answer: Answer = (
        [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        body,
    )
    services.list_cache.put(_question(request, look), look.revision, (reader.account.id, answer))
    return answer
