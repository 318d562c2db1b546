"""The fast paths' requests skip FastAPI's own layers (http/front.py) and still get every
layer of ours: the edge's headers, request ids, metrics and 500s, and CORS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from creditmeter.http import create_app
from creditmeter.http.bill import answers
from creditmeter.http.front import CreditmeterApp
from creditmeter.store import Store
from tests.conftest import bearer
from tests.conftest import test_settings as settings_for_tests
from tests.http.support import BILL_PAGE, DECEMBER

BALANCE = "/v1/account/credits/balance"
ORIGIN = "https://portal.example"


class _Recorder:
    """The short stack, noting the paths of the requests that take it."""

    def __init__(self, stack: ASGIApp):
        self.stack = stack
        self.paths: list[tuple[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.paths.append((scope["method"], scope["path"]))
        await self.stack(scope, receive, send)


@pytest.fixture
def app(store: Store) -> CreditmeterApp:
    settings = settings_for_tests(database_url=str(store.engine.url), cors_origins=[ORIGIN])
    return create_app(settings, store=store)


@pytest.fixture
def recorded(app: CreditmeterApp) -> Iterator[tuple[TestClient, _Recorder]]:
    assert app.short_stack is not None
    recorder = _Recorder(app.short_stack)
    app.short_stack = recorder
    with TestClient(app) as client:
        yield client, recorder


def test_the_fast_paths_take_the_short_stack_and_nothing_else_does(
    recorded: tuple[TestClient, _Recorder], shanghai: str, ingest_key: str
) -> None:
    client, recorder = recorded
    read, ingest = bearer(shanghai), bearer(ingest_key)
    assert client.get(BALANCE, headers=read).status_code == 200
    assert client.get(BILL_PAGE, params=DECEMBER, headers=read).status_code == 200
    body = {"id": "h1", "account_id": "acme", "credits": 0.5}  # acme has no credits
    assert client.post("/v1/credits/holds", json=body, headers=ingest).status_code == 402
    assert client.post("/v1/credits/holds/h1/release", headers=ingest).status_code == 404
    fast = list(recorder.paths)
    assert fast == [
        ("GET", BALANCE),
        ("GET", BILL_PAGE),
        ("POST", "/v1/credits/holds"),
        ("POST", "/v1/credits/holds/h1/release"),
    ]
    # HEAD, other methods and other routes go FastAPI's way, and are answered there.
    assert client.head(BALANCE, headers=read).status_code == 200
    assert client.post(BILL_PAGE, params=DECEMBER, headers=read).status_code == 405
    assert client.get("/v1/account/credits/entries", headers=read).status_code == 200
    assert client.get("/healthz").status_code == 200
    assert recorder.paths == fast


def test_a_fast_answer_has_the_edge_headers_cors_and_its_metrics(
    recorded: tuple[TestClient, _Recorder], shanghai: str, admin_key: str
) -> None:
    client, recorder = recorded
    headers = {"Origin": ORIGIN, "X-Request-Id": "front-1", **bearer(shanghai)}
    answer = client.get(BALANCE, headers=headers)
    assert recorder.paths == [("GET", BALANCE)]
    assert answer.status_code == 200
    assert answer.headers["x-request-id"] == "front-1"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    refused = client.get(BALANCE, headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401
    assert refused.json()["code"] == 40127
    metrics = client.get("/metrics", headers=bearer(admin_key)).text
    for status in ("200", "401"):
        assert any(
            line.startswith("creditmeter_http_requests_total")
            and f'route="{BALANCE}"' in line
            and f'status="{status}"' in line
            for line in metrics.splitlines()
        ), metrics


def test_an_unhandled_error_on_a_fast_path_is_the_edge_500(
    app: CreditmeterApp, shanghai: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(answers.ANSWERS, BALANCE, (broken, broken))
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get(BALANCE, headers={"X-Request-Id": "front-2", **bearer(shanghai)})
    assert answer.status_code == 500
    assert "front-2" in answer.json()["message"]
    assert answer.headers["x-request-id"] == "front-2"
    assert answer.headers["x-frame-options"] == "DENY"


def test_without_the_fast_paths_fastapi_answers_them(store: Store, shanghai: str) -> None:
    settings = settings_for_tests(database_url=str(store.engine.url))
    app = create_app(settings, store=store, bill_fast_path=False)
    assert app.short_stack is None
    with TestClient(app) as client:
        answer = client.get(BALANCE, headers=bearer(shanghai))
    assert answer.status_code == 200
    assert answer.json()["account_id"] == "acme"


@pytest.mark.parametrize(
    ("asked", "words"),
    [
        ({"Origin": "https://evil.example"}, "origin 'https://evil.example' is not allowed"),
        ({"Access-Control-Request-Method": "PUT"}, "method 'PUT' is not allowed; allowed: "),
        ({"Access-Control-Request-Headers": "X-Secret"}, "headers 'X-Secret' are not all"),
    ],
)
def test_a_refused_preflight_is_the_contract_json_on_both_stacks(
    app: CreditmeterApp, asked: dict[str, str], words: str
) -> None:
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET", **asked}
    assert app.short_stack is not None
    # FastAPI's and the fast paths' own; without the lifespan, which a preflight needs not
    for client in (TestClient(app), TestClient(app.short_stack)):
        for path in (BILL_PAGE, "/v1/admin/accounts"):
            refused = client.options(path, headers=preflight)
            assert refused.status_code == 400
            assert refused.headers["content-type"] == "application/json"
            body = refused.json()
            assert body["code"] == 40000
            assert body["message"].startswith("CORS preflight refused: " + words)
            allowed = client.options(
                path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
            )
            assert allowed.status_code == 200
            assert allowed.headers["access-control-allow-origin"] == ORIGIN
