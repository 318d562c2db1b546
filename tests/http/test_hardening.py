"""Issue 15's defects that the app answers itself, on both stores: HEAD, deep and exact
metadata, control characters."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import exc as sa_exc
from sqlalchemy import text as sql_text

from creditmeter import accounts, keys
from creditmeter.http import create_app
from creditmeter.store import Store
from tests.conftest import bearer, make_key
from tests.conftest import test_settings as settings_for_tests
from tests.http.support import (
    BILL_PAGE,
    BILL_TOTAL,
    DECEMBER,
    assert_error,
    event,
    post_events,
)

# --- HEAD answers as GET, without a body -------------------------------------------------


def _get_paths(admin: str, read: str) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    admin_auth, read_auth = bearer(admin), bearer(read)
    return [
        (BILL_PAGE, DECEMBER, read_auth),
        (BILL_TOTAL, DECEMBER, read_auth),
        (BILL_PAGE, {"start_time": "2"}, read_auth),  # an error answers HEAD too
        ("/v1/account", {}, read_auth),
        ("/v1/admin/accounts", {}, admin_auth),
        ("/v1/admin/accounts/acme", {}, admin_auth),
        ("/v1/admin/accounts/acme/keys", {}, admin_auth),
        ("/v1/admin/accounts/ghost", {}, admin_auth),
        ("/v1/no-such-path", {}, read_auth),  # a 404 of the router
        ("/v1/account/credits/balance", {}, read_auth),
        ("/healthz", {}, {}),
        ("/readyz", {}, {}),
        ("/openapi.json", {}, {}),
        ("/docs", {}, {}),
        ("/dashboard", {}, {}),
        ("/static/docs.js", {}, {}),
    ]


def test_head_answers_as_get_without_a_body(
    client: TestClient, store: Store, shanghai: str
) -> None:
    admin = make_key(store, "admin")
    for path, params, headers in _get_paths(admin, shanghai):
        got = client.get(path, params=params, headers=headers)
        head = client.head(path, params=params, headers=headers)
        assert head.status_code == got.status_code, (path, head.status_code, got.text)
        assert head.content == b"", path
        assert head.headers.get("content-type") == got.headers.get("content-type"), path
        if "content-length" in got.headers and path != "/readyz":
            assert head.headers["content-length"] == got.headers["content-length"], path
        if path == BILL_PAGE and got.status_code == 200:
            assert head.headers["x-total-count"] == got.headers["x-total-count"]


def test_head_where_get_is_not_served_is_a_405_naming_head(
    client: TestClient, ingest_key: str
) -> None:
    answer = client.head("/v1/usage/events", headers=bearer(ingest_key))
    assert answer.status_code == 405
    assert answer.content == b""
    assert answer.headers["allow"] == "POST"


def test_allow_names_head_beside_get(client: TestClient, shanghai: str) -> None:
    answer = client.post(BILL_PAGE, headers=bearer(shanghai))
    assert_error(answer, 405, 40500, "POST", "GET, HEAD")


# --- metadata: depth, exact numbers ------------------------------------------------------


def _nested(depth: int, kind: str = "object") -> Any:
    """Metadata `depth` objects and arrays deep: an object holding arrays, or objects."""
    value: Any = 1
    for _ in range(depth - 1):
        value = {"a": value} if kind == "object" else [value]
    return {"a": value}


@pytest.mark.parametrize(("kind", "depth"), [("object", 500), ("array", 600), ("object", 65)])
def test_metadata_nested_too_deeply_is_a_400(
    client: TestClient, ingest_key: str, shanghai: str, kind: str, depth: int
) -> None:
    answer = post_events(client, ingest_key, [event("deep", metadata=_nested(depth, kind))])
    body = assert_error(answer, 400, 40000, "nothing was stored")
    assert body["errors"][0]["field"] == "metadata"
    assert "64" in body["errors"][0]["message"]


@pytest.mark.parametrize("kind", ["object", "array"])
def test_metadata_at_the_depth_limit_is_stored(
    client: TestClient, ingest_key: str, shanghai: str, kind: str
) -> None:
    answer = post_events(client, ingest_key, [event("deep", metadata=_nested(64, kind))])
    assert answer.json() == {"accepted": 1, "duplicates": 0}, answer.text


def _post_raw(client: TestClient, key: str, metadata_text: str, event_id: str = "m1") -> Any:
    """An event whose metadata is this JSON text, as sent (no float on the way)."""
    text = json.dumps(event(event_id, metadata={"__": 0})).replace('{"__": 0}', metadata_text)
    return client.post(
        "/v1/usage/events",
        content=f'{{"events": [{text}]}}',
        headers={**bearer(key), "Content-Type": "application/json"},
    )


def _stored_metadata(store: Store, event_id: str = "m1") -> str | None:
    with store.engine.connect() as conn:
        query = sql_text("SELECT metadata FROM usage_events WHERE event_id = :id")
        value: str | None = conn.execute(query, {"id": event_id}).scalar_one()
        return value


def test_metadata_numbers_are_stored_exactly_as_sent(
    client: TestClient, store: Store, ingest_key: str, shanghai: str
) -> None:
    answer = _post_raw(client, ingest_key, '{"n": 12345678901234567.5, "c": 0.30000000000000004}')
    assert answer.json() == {"accepted": 1, "duplicates": 0}, answer.text
    assert _stored_metadata(store) == '{"c":0.30000000000000004,"n":12345678901234567.5}'


def test_a_resend_with_another_decimal_is_a_conflict(
    client: TestClient, ingest_key: str, shanghai: str
) -> None:
    assert _post_raw(client, ingest_key, '{"n": 12345678901234567.5}').status_code == 200
    # The same decimal written otherwise is the same content...
    same = _post_raw(client, ingest_key, '{"n": 1234567890123456750e-2}')
    assert same.json() == {"accepted": 0, "duplicates": 1}, same.text
    # ...a float would read this one as the same number too; it is not.
    other = _post_raw(client, ingest_key, '{"n": 12345678901234567.6}')
    body = assert_error(other, 409, 40900, "'m1'")
    assert body["ids"] == ["m1"]


def test_the_4_kib_rule_is_measured_on_the_text_stored(
    client: TestClient, store: Store, ingest_key: str, shanghai: str
) -> None:
    # 500 x 1e300: 3 KiB sent and 3.5 KiB stored, where 300 digits each were once counted.
    fits = _post_raw(client, ingest_key, '{"n": [' + ",".join(["1e300"] * 500) + "]}")
    assert fits.json() == {"accepted": 1, "duplicates": 0}, fits.text
    stored = _stored_metadata(store)
    assert stored is not None
    assert len(stored.encode()) <= 4096
    too_big = '{"s": "' + "x" * 4090 + '"}'  # 4098 bytes stored
    answer = _post_raw(client, ingest_key, too_big, event_id="m2")
    body = assert_error(answer, 400, 40000)
    assert body["errors"][0]["field"] == "metadata"


# --- control characters and values the store cannot hold ---------------------------------

CONTROL = ["\x00", "\x1b[31m", "\u202e", "\x7f", "\n"]


@pytest.mark.parametrize("bad", CONTROL)
def test_control_characters_in_names_are_a_400(
    client: TestClient, admin_key: str, bad: str
) -> None:
    auth = bearer(admin_key)
    assert client.post("/v1/admin/accounts", json={"id": "acme"}, headers=auth).status_code == 201
    answers = [
        client.post("/v1/admin/accounts", json={"id": "beta", "name": f"B{bad}"}, headers=auth),
        client.patch("/v1/admin/accounts/acme", json={"name": f"A{bad}"}, headers=auth),
        client.post("/v1/admin/accounts/acme/keys", json={"name": f"k{bad}"}, headers=auth),
    ]
    for answer in answers:
        assert_error(answer, 400, 40000, "name", "printable")
    listed = client.get("/v1/admin/accounts/acme/keys", headers=auth)
    assert listed.json() == []
    assert client.get("/v1/admin/accounts/acme", headers=auth).json()["name"] == "acme"


@pytest.mark.parametrize("bad", [True, False, "1", "1e-7", "60", None, [1], {"d": 1}])
def test_expiry_fields_take_json_numbers_only(
    client: TestClient, admin_key: str, bad: object
) -> None:
    # as every other numeric field: a boolean or a string is no number of days or seconds
    auth = bearer(admin_key)
    assert client.post("/v1/admin/accounts", json={"id": "acme"}, headers=auth).status_code == 201
    answers = [
        client.post("/v1/admin/accounts/acme/keys", json={"expires_in_days": bad}, headers=auth),
        client.post(
            "/v1/admin/accounts/acme/portal-tokens", json={"expires_in": bad}, headers=auth
        ),
    ]
    if bad is None:  # null: the default
        assert answers[0].status_code == 201, answers[0].text
        assert_error(answers[1], 400, 40000, "expires_in")
        return
    assert_error(answers[0], 400, 40000, "expires_in_days")
    assert_error(answers[1], 400, 40000, "expires_in")
    assert client.get("/v1/admin/accounts/acme/keys", headers=auth).json() == []
    good = client.post("/v1/admin/accounts/acme/keys", json={"expires_in_days": 2}, headers=auth)
    assert good.status_code == 201, good.text


@pytest.mark.parametrize("bad", ["x\x00", "%00", "a\x1bb", "ACME"])
def test_ids_in_paths_and_parameters_that_are_not_ids_are_a_400(
    client: TestClient, store: Store, admin_key: str, shanghai: str, bad: str
) -> None:
    auth = bearer(admin_key)
    quoted = quote(bad, safe="%")
    answers = [
        client.get(f"/v1/admin/accounts/{quoted}", headers=auth),
        client.patch(f"/v1/admin/accounts/{quoted}", json={"name": "x"}, headers=auth),
        client.get(f"/v1/admin/accounts/{quoted}/keys", headers=auth),
        client.post(f"/v1/admin/accounts/{quoted}/keys", json={}, headers=auth),
        client.post(f"/v1/admin/accounts/{quoted}/portal-tokens", json={}, headers=auth),
        client.get("/v1/account", params={"account_id": bad}, headers=auth),
        client.get(BILL_PAGE, params={**DECEMBER, "account_id": bad}, headers=auth),
        client.get(BILL_TOTAL, params={**DECEMBER, "bot_id": bad}, headers=bearer(shanghai)),
        client.post("/v1/admin/accounts/acme/keys", json={"bot_id": bad}, headers=auth),
    ]
    for answer in answers:
        assert_error(answer, 400, 40000)
    revoke = client.delete(f"/v1/admin/keys/{quote('AAAAAAAAAA' + bad, safe='%')}", headers=auth)
    assert_error(revoke, 400, 40000, "key_id")
    assert [k.key_id for k in keys.list_keys(store=store, account_id="acme")] != []


def test_control_characters_in_metadata_are_stored_escaped(
    client: TestClient, store: Store, ingest_key: str, shanghai: str
) -> None:
    answer = _post_raw(client, ingest_key, '{"k\\u0000": "\\u001b[31m\\u0000"}')
    assert answer.json() == {"accepted": 1, "duplicates": 0}, answer.text
    assert _stored_metadata(store) == r'{"k\u0000":"\u001b[31m\u0000"}'


@pytest.mark.parametrize(
    "error",
    [
        psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
        sqlite3.DataError("string or blob too big"),
        sa_exc.DataError("INSERT ...", {}, psycopg.errors.NumericValueOutOfRange("out of range")),
    ],
)
def test_a_value_the_store_refuses_is_a_400(store: Store, error: Exception) -> None:
    app = create_app(settings_for_tests(database_url=str(store.engine.url)), store=store)

    @app.get("/refused")
    def refused() -> None:
        raise error

    with TestClient(app, raise_server_exceptions=False) as client:
        assert_error(client.get("/refused"), 400, 40000, "cannot be stored")


# --- bodies: the key first, then a bounded read -------------------------------------------


def _call(app: Any, method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
    """One request straight through the ASGI app: (status, body, receive calls made)."""
    calls: list[int] = []
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        calls.append(1)
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    status = sent[0]["status"]
    answer = b"".join(m.get("body", b"") for m in sent[1:])
    return status, json.loads(answer), len(calls)


@pytest.mark.parametrize(
    "path", ["/v1/admin/accounts", "/v1/usage/events", "/v1/admin/accounts/acme/keys"]
)
@pytest.mark.parametrize("authorization", [None, "Bearer nope", f"Bearer {'x' * 80}"])
def test_a_body_is_not_read_before_the_key_is_checked(
    store: Store, path: str, authorization: str | None
) -> None:
    app = create_app(settings_for_tests(database_url=str(store.engine.url)), store=store)
    headers = {"Content-Type": "application/json", "Content-Length": str(300 << 20)}
    if authorization is not None:
        headers["Authorization"] = authorization
    status, body, reads = _call(app, "POST", path, headers, b"{}")
    assert (status, body["code"], reads) == (401, 40127, 0)


def test_a_body_past_its_limit_is_refused_before_it_is_read(store: Store) -> None:
    app = create_app(settings_for_tests(database_url=str(store.engine.url)), store=store)
    admin = make_key(store, "admin")
    headers = {
        "Authorization": f"Bearer {admin}",
        "Content-Type": "application/json",
        "Content-Length": str(64 * 1024 + 1),
    }
    status, body, reads = _call(app, "POST", "/v1/admin/accounts", headers, b"{}")
    assert (status, body["code"], reads) == (413, 41300, 0)
    assert "65536" in body["message"]


def test_a_key_checked_before_the_body_counts_once_against_its_rate_limit(store: Store) -> None:
    settings = settings_for_tests(database_url=str(store.engine.url), platform_rate_limit=1)
    app = create_app(settings, store=store)
    auth = bearer(make_key(store, "admin"))
    with TestClient(app, raise_server_exceptions=False) as client:
        created = client.post("/v1/admin/accounts", json={"id": "acme"}, headers=auth)
        assert created.status_code == 201, created.text
        assert_error(client.post("/v1/admin/accounts", json={"id": "b"}, headers=auth), 429, 42900)


def test_a_read_key_posting_to_the_admin_api_is_a_403(client: TestClient, shanghai: str) -> None:
    answer = client.post("/v1/admin/accounts", json={"id": "x"}, headers=bearer(shanghai))
    assert_error(answer, 403, 40300, "admin")


def test_a_client_gone_mid_body_reaches_no_route(store: Store) -> None:
    app = create_app(settings_for_tests(database_url=str(store.engine.url)), store=store)
    admin = make_key(store, "admin")
    messages = iter(
        [
            {"type": "http.request", "body": b'{"id": "hal', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[Any] = []

    async def receive() -> Any:
        return next(messages)

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/admin/accounts",
        "raw_path": b"/v1/admin/accounts",
        "query_string": b"",
        "headers": [
            (b"authorization", f"Bearer {admin}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", b"20"),
        ],
    }
    asyncio.run(app(scope, receive, send))
    assert sent == []
    assert accounts.list_accounts(store=store) == []
