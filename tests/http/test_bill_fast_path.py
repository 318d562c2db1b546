"""The bill routes, the balance and the two analytics lists are answered by a pure-ASGI
fast path before FastAPI's routing; the APIRoutes that document them in OpenAPI (which
answer in an app built without the fast path) must answer the same, byte for byte."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from creditmeter.http import create_app
from creditmeter.store import Store
from tests.conftest import bearer
from tests.conftest import test_settings as settings_for_tests
from tests.http.support import (
    BILL_PAGE,
    BILL_TOTAL,
    DEC_END,
    DEC_START,
    DECEMBER,
    event,
    post_events,
)

CONVERSATIONS = "/v1/account/agent/conversation/credits"
RUNS = "/v1/account/workflow/run/credits"
DAY = 86_400_000
THIRTY_DAYS = 30 * DAY

# The edge's own headers differ per request (the request id) or are added on every route.
_EDGE = {"x-request-id", "cache-control", "content-security-policy", "x-frame-options"}
_EDGE |= {"x-content-type-options", "referrer-policy", "cross-origin-opener-policy"}


def _routed_only(store: Store) -> TestClient:
    """A client for an app over the same store built without the fast path, so that FastAPI
    routes the bill requests to the APIRoutes."""
    settings = settings_for_tests(database_url=str(store.engine.url))
    return TestClient(create_app(settings, store=store, bill_fast_path=False))


def _answer(
    client: TestClient, path: str, key: str, **params: Any
) -> tuple[int, dict[str, str], bytes]:
    answer = client.get(path, params={**DECEMBER, **params}, headers=bearer(key))
    headers = {k: v for k, v in answer.headers.items() if k not in _EDGE}
    return answer.status_code, headers, answer.content


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (BILL_PAGE, {"page": "2", "page_size": "7"}),
        (BILL_PAGE, {"timezone": "America/St_Johns", "bot_id": "b1"}),
        (BILL_TOTAL, {}),
        (BILL_TOTAL, {"timezone": "Asia/Kolkata"}),
        # the lists ask at most 30 days: December's first 30 (Shanghai), inclusive
        (CONVERSATIONS, {"page_size": "1", "end_time": str(DEC_START + THIRTY_DAYS)}),
        (CONVERSATIONS, {"conversation_id": "c1", "bot_id": "b1", "end_time": str(DEC_END - DAY)}),
        (RUNS, {"end_time": str(DEC_START + THIRTY_DAYS)}),
    ],
)
def test_documented_routes_answer_as_the_fast_path(
    client: TestClient,
    store: Store,
    shanghai: str,
    ingest_key: str,
    path: str,
    params: dict[str, str],
) -> None:
    stored = post_events(
        client,
        ingest_key,
        [
            event("a", credits="0.25"),
            event("b", credits=3, timestamp="2024-12-09T23:59:59.999Z"),
            event("c", credits="1.5", conversation_id="c1", bot_id="b1"),
            event("d", credits="0.5", conversation_id="c2", timestamp="2024-12-05T10:00:00Z"),
            event("e", credits="2", run_id="r1", category="tool_call"),
        ],
    )
    assert stored.status_code == 200, stored.text
    fast = _answer(client, path, shanghai, **params)
    assert fast[0] == 200
    assert fast == _answer(_routed_only(store), path, shanghai, **params)


def test_csv_through_both_paths(client: TestClient, store: Store, shanghai: str) -> None:
    csv = {"Accept": "text/csv", **bearer(shanghai)}
    fast = client.get(BILL_PAGE, params=DECEMBER, headers=csv)
    routed = _routed_only(store).get(BILL_PAGE, params=DECEMBER, headers=csv)
    assert (
        fast.headers["content-type"] == routed.headers["content-type"] == "text/csv; charset=utf-8"
    )
    assert fast.content == routed.content
    assert fast.content.count(b"\r\n") == 21  # the header and a page of 20 days


def test_other_methods_fall_through_to_fastapi(client: TestClient, shanghai: str) -> None:
    answer = client.post(BILL_PAGE, params=DECEMBER, headers=bearer(shanghai))
    assert answer.status_code == 405
    assert answer.json()["code"] == 40500
    assert "GET" in answer.headers["allow"]


def test_a_cached_page_keeps_its_headers_when_middleware_adds_some(
    store: Store, shanghai: str
) -> None:
    origin = "https://portal.example"
    app = create_app(
        settings_for_tests(database_url=str(store.engine.url), cors_origins=[origin]), store=store
    )
    with TestClient(app) as client:
        cross = {"Origin": origin, **bearer(shanghai)}
        first, again = (client.get(BILL_PAGE, params=DECEMBER, headers=cross) for _ in range(2))
        same_origin = client.get(BILL_PAGE, params=DECEMBER, headers=bearer(shanghai))
    for answer in (first, again):  # the second comes from the page cache
        assert answer.status_code == 200
        assert answer.headers.get_list("access-control-allow-origin") == [origin]
        assert len(answer.headers.get_list("x-request-id")) == 1
    # CORS added its headers to the first answer's list: they must not stick to the page.
    assert same_origin.status_code == 200
    assert "access-control-allow-origin" not in same_origin.headers
    assert same_origin.content == first.content


@pytest.mark.parametrize(
    ("accept", "csv"),
    [
        ("text/csv", True),
        ("text/CSV", True),
        ("TEXT/csv; charset=utf-8", True),
        ("application/json;q=0.5, text/csv", True),
        ("text/*", True),
        ("text/csv;q=0", False),
        ("text/csv; q=0.000", False),
        ("application/json, text/csv;q=0.1", False),
        ("text/csv;q=0.5, application/json;q=0.5", False),  # a tie: JSON
        ("*/*", False),
        ("text/csv;q=0.5, */*", False),
        ("text/csv;q=oops", False),  # a range that does not parse is not sent
        ("", False),
    ],
)
def test_accept_chooses_csv_alike_on_both_paths(
    client: TestClient, store: Store, shanghai: str, accept: str, csv: bool
) -> None:
    headers = {"Accept": accept, **bearer(shanghai)}
    for answering in (client, _routed_only(store)):
        for _ in range(2):  # the second is the cached page
            answer = answering.get(BILL_PAGE, params=DECEMBER, headers=headers)
            assert answer.status_code == 200
            expected = "text/csv; charset=utf-8" if csv else "application/json"
            assert answer.headers["content-type"] == expected, accept
