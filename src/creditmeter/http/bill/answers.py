"""The bill answers, built once per revision of the account and served from the page cache."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from ... import looks
from ...bills import WholeDays, bill_page_async, bill_total_async
from ...clock import now_ms
from ...looks import Look
from ...render import rows_csv, rows_json, total_json
from ...services import Answer, PageQuestion, Services
from ..accept import wants_csv
from ..auth import admit
from ..conversation_answers import CONVERSATIONS_PATH, RUNS_PATH, cached_list, list_answer
from ..credit_routes import BALANCE_PATH, balance_body, looked_account
from .request import MAX_PAGE, BillRequest, integer_param, read_window

BillAnswer = Callable[[Services, BillRequest, Look], Awaitable[Answer]]
CachedAnswer = Callable[[Services, BillRequest, Look], Answer | None]


def _link(request: BillRequest, page: int, last: int) -> str:
    query = urlencode([(k, v) for k, v in request.items if k != "page"])
    base = f"{request.path}?{query}&page=" if query else f"{request.path}?page="

    def ref(number: int, rel: str) -> str:
        return f'<{base}{number}>; rel="{rel}"'

    links = [ref(1, "first")]
    if 1 < page <= last + 1:
        links.append(ref(page - 1, "prev"))
    if page < last:
        links.append(ref(page + 1, "next"))
    links.append(ref(last, "last"))
    return ", ".join(links)


def _answer(media_type: str, body: bytes, headers: dict[str, str]) -> Answer:
    raw = [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode("latin-1")) for name, value in headers.items()),
    ]
    return raw, body


def cached_page(services: Services, request: BillRequest, look: Look) -> Answer | None:
    """The page this key asked with this query string at the account's current revision (a
    dashboard polling), if one was computed: nothing the answer depends on has been
    committed since, and the key was checked by this request's look."""
    seen = services.page_cache.get(_question(request, look), look.revision)
    if seen is None:
        return None
    account_id, answer = seen
    request.notes["account_id"] = account_id
    return answer


def _question(request: BillRequest, look: Look) -> PageQuestion:
    return (look.digest, request.query, wants_csv(request.accept))


async def page_answer(services: Services, request: BillRequest, look: Look) -> Answer:
    """The page computed, then cached at the revision the look read before anything was
    computed: a page computed from a later snapshot is newer, never older, than that."""
    window = read_window(request, look)
    params = request.params
    page = integer_param(params, "page", 1, 1, MAX_PAGE)
    page_size = integer_param(params, "page_size", 20, 1, 100)
    rows, total_days = await bill_page_async(
        store=services.store,
        window=window,
        page=page,
        page_size=page_size,
        whole_days=WholeDays(services.day_cache, look.revision),
    )
    headers = {
        "X-Total-Count": str(total_days),
        "Link": _link(request, page, max(1, math.ceil(total_days / page_size))),
        "X-Timezone": window.tz.key,
    }
    question = _question(request, look)
    if question[2]:
        answer = _answer("text/csv; charset=utf-8", rows_csv(rows, services.written_rows), headers)
    else:
        answer = _answer("application/json", rows_json(rows, services.written_rows), headers)
    services.page_cache.put(question, look.revision, (window.account_id, answer))
    return answer


async def total_answer(services: Services, request: BillRequest, look: Look) -> Answer:
    window = read_window(request, look)
    first, last, credits = await bill_total_async(
        store=services.store,
        window=window,
        whole_days=WholeDays(services.day_cache, look.revision),
    )
    return _answer(
        "application/json", total_json(first, last, credits), {"X-Timezone": window.tz.key}
    )


def no_cached_total(_services: Services, _request: BillRequest, _look: Look) -> Answer | None:
    return None


def cached_balance(services: Services, request: BillRequest, look: Look) -> Answer | None:
    """The balance now, computed at the account's current revision and not past its first
    expiry since (credit_routes.get_balance answers the same through FastAPI)."""
    params = request.params
    account = looked_account(look, params.get("account_id"))
    if "at" in params:
        return None
    seen = services.balance_cache.get(account, look.revision)
    if seen is None or (seen[0] is not None and now_ms() >= seen[0]):
        return None
    return _answer("application/json", seen[1], {})


async def balance_answer(services: Services, request: BillRequest, look: Look) -> Answer:
    params = request.params
    body = await balance_body(services, look, params.get("account_id"), params.get("at"))
    return _answer("application/json", body, {})


# Per path: the cached answer if there is one (inline, cheap), else the computed one.
ANSWERS: dict[str, tuple[CachedAnswer, BillAnswer]] = {
    "/v1/account/bill/page": (cached_page, page_answer),
    "/v1/account/bill/total": (no_cached_total, total_answer),
    BALANCE_PATH: (cached_balance, balance_answer),
    CONVERSATIONS_PATH: (cached_list, list_answer),
    RUNS_PATH: (cached_list, list_answer),
}


async def answer(services: Services, request: BillRequest) -> Answer:
    """The answer to a bill request: its look first (the key, the account and its revision
    in one round trip; PostgreSQL's from the event loop), then the cached answer if there is
    one, else the computed one: one statement, PostgreSQL's awaited on the event loop too."""
    look = await looks.look_async(
        services.store,
        request.authorization,
        request.params.get("account_id"),
        services.look_cache,
    )
    admit(services, look.key, request.notes)
    cached, computed = ANSWERS[request.path]
    found = cached(services, request, look)
    if found is None:
        found = await computed(services, request, look)
    return found
