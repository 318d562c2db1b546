"""The bill answers, built once per store generation and served from the page cache."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from urllib.parse import urlencode

from ... import keys
from ...bills import WholeDays, bill_page, bill_total
from ...render import rows_csv, rows_json, total_json
from ...services import Answer, Services
from ..auth import admit
from .request import BillRequest, integer_param, read_window

BillAnswer = Callable[[Services, BillRequest], Answer]


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


def page_answer(services: Services, request: BillRequest) -> Answer:
    # The generation is read once, first: keys, accounts and pages cached at it are served
    # only while nothing has been committed since, so no answer predates the last commit.
    generation = services.store.generation()
    as_csv = "text/csv" in request.accept
    # The same key asking the same question since the last commit (a dashboard polling)
    # gets the same page: only the key's expiry and its rate limit are checked again.
    asked = (hashlib.sha256(request.authorization.encode()).digest(), request.query, as_csv)
    seen = services.page_cache.get(asked, generation)
    if seen is not None:
        key, account_id, answer = seen
        admit(services, keys.live(key), request.notes)
        request.notes["account_id"] = account_id
        return answer
    key, window = read_window(services, request, generation)
    params = request.params
    page = integer_param(params, "page", 1, 1, 1_000_000)
    page_size = integer_param(params, "page_size", 20, 1, 100)
    rows, total_days = bill_page(
        store=services.store,
        window=window,
        page=page,
        page_size=page_size,
        whole_days=WholeDays(services.day_cache, generation),
    )
    headers = {
        "X-Total-Count": str(total_days),
        "Link": _link(request, page, max(1, math.ceil(total_days / page_size))),
        "X-Timezone": window.tz.key,
    }
    if as_csv:
        answer = _answer("text/csv; charset=utf-8", rows_csv(rows, services.written_rows), headers)
    else:
        answer = _answer("application/json", rows_json(rows, services.written_rows), headers)
    services.page_cache.put(asked, generation, (key, window.account_id, answer))
    return answer


def total_answer(services: Services, request: BillRequest) -> Answer:
    _key, window = read_window(services, request, services.store.generation())
    first, last, credits = bill_total(store=services.store, window=window)
    return _answer(
        "application/json", total_json(first, last, credits), {"X-Timezone": window.tz.key}
    )


ANSWERS: dict[str, BillAnswer] = {
    "/v1/account/bill/page": page_answer,
    "/v1/account/bill/total": total_answer,
}
