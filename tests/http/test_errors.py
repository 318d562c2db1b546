"""Every row of the contract's error table: status, code, a helpful message, nothing leaked."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import exc as sa_exc

from creditmeter import accounts, keys
from creditmeter.clock import now_ms
from creditmeter.http import create_app
from creditmeter.http.bill import answers as bill_answers
from creditmeter.settings import Settings
from creditmeter.store import Store, open_store
from tests.conftest import bearer, make_key
from tests.conftest import test_settings as settings_for_tests
from tests.http.support import (
    BILL_PAGE,
    BILL_TOTAL,
    DAY,
    DECEMBER,
    EVENTS,
    HOUR,
    assert_error,
    december_total,
    event,
    forged_token,
    post_events,
)
from tests.support.ports import free_port

# --- 400 / 40000: parameters ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"end_time": "1735660799999"}, ["start_time", "required"]),
        ({"start_time": "1732982400000"}, ["end_time", "required"]),
        ({**DECEMBER, "page": "0"}, ["page", "integer from 1"]),
        ({**DECEMBER, "page": "two"}, ["page", "integer"]),
        ({**DECEMBER, "page_size": "0"}, ["page_size", "from 1 to 100"]),
        ({**DECEMBER, "page_size": "101"}, ["page_size", "from 1 to 100"]),
        ({**DECEMBER, "start_time": "yesterday"}, ["start_time", "RFC 3339", "milliseconds"]),
        ({**DECEMBER, "end_time": "1.5e12"}, ["end_time"]),
        (
            {"start_time": "1735660799999", "end_time": "1732982400000"},
            ["end_time", "before start_time"],
        ),
        ({**DECEMBER, "timezone": "Mars/Olympus_Mons"}, ["timezone", "Mars/Olympus_Mons", "IANA"]),
        ({**DECEMBER, "timezone": "../../etc/passwd"}, ["timezone", "IANA"]),
        ({**DECEMBER, "bot_id": "Not A Slug"}, ["bot_id"]),
    ],
)
def test_bad_bill_parameter(
    client: TestClient, shanghai: str, params: dict[str, str], words: list[str]
) -> None:
    answer = client.get(BILL_PAGE, params=params, headers=bearer(shanghai))
    assert_error(answer, 400, 40000, *words)


def test_bill_total_checks_parameters_too(client: TestClient, shanghai: str) -> None:
    bad_zone = client.get(
        BILL_TOTAL, params={**DECEMBER, "timezone": "Nowhere"}, headers=bearer(shanghai)
    )
    assert_error(bad_zone, 400, 40000, "timezone", "Nowhere")
    missing = client.get(BILL_TOTAL, params={"start_time": "1"}, headers=bearer(shanghai))
    assert_error(missing, 400, 40000, "end_time", "required")


def _range(start: str, end: str, **extra: str) -> dict[str, str]:
    return {"start_time": start, "end_time": end, **extra}


def test_ninety_days_in_the_accounts_zone_are_allowed_ninety_one_are_not(
    client: TestClient, shanghai: str
) -> None:
    # 2024-01-01 .. 2024-03-30 and .. 2024-03-31, whole days in Shanghai.
    ninety = _range("2024-01-01T00:00:00%2B08:00", "2024-03-30T23:59:59.999%2B08:00")
    ninety_one = _range("2024-01-01T00:00:00%2B08:00", "2024-03-31T23:59:59.999%2B08:00")
    url = f"{BILL_PAGE}?start_time={{start_time}}&end_time={{end_time}}&page_size=100"
    ok = client.get(url.format(**ninety), headers=bearer(shanghai))
    assert ok.status_code == 200, ok.text
    assert ok.headers["X-Total-Count"] == "90"
    assert len(ok.json()) == 90
    too_long = client.get(url.format(**ninety_one), headers=bearer(shanghai))
    assert_error(too_long, 400, 40000, "start_time", "end_time", "91", "90", "Asia/Shanghai")


def test_days_are_counted_as_calendar_days_not_as_periods_of_24_hours(
    client: TestClient, shanghai: str
) -> None:
    # 23:00 on day 1 to 00:30 on day 91: 89 days and 1.5 hours long, but 91 calendar days.
    start = 1704121200000  # 2024-01-01T23:00:00+08:00
    end = start + 89 * DAY + 90 * 60_000  # 2024-03-31T00:30:00+08:00
    answer = client.get(BILL_PAGE, params=_range(str(start), str(end)), headers=bearer(shanghai))
    assert_error(answer, 400, 40000, "91 calendar days", "Asia/Shanghai")


def test_days_are_counted_in_the_chosen_zone(client: TestClient, shanghai: str) -> None:
    # 2024-01-01T00:00Z .. 2024-03-30T16:00Z: 90 days in UTC, 91 in Shanghai (08:00 .. 00:00).
    params = _range("1704067200000", "1711814400000")
    in_shanghai = client.get(BILL_PAGE, params=params, headers=bearer(shanghai))
    assert_error(in_shanghai, 400, 40000, "91", "Asia/Shanghai")
    in_utc = client.get(BILL_PAGE, params={**params, "timezone": "UTC"}, headers=bearer(shanghai))
    assert in_utc.status_code == 200, in_utc.text
    assert in_utc.headers["X-Total-Count"] == "90"


def test_bill_total_allows_365_days_not_366(client: TestClient, shanghai: str) -> None:
    # 2023-01-01 .. 2023-12-31 is 365 days; one more millisecond touches 2024-01-01.
    start, end = "2023-01-01T00:00:00%2B08:00", "2023-12-31T23:59:59.999%2B08:00"
    ok = client.get(f"{BILL_TOTAL}?start_time={start}&end_time={end}", headers=bearer(shanghai))
    assert ok.status_code == 200, ok.text
    assert ok.json()["start_date"] == "2023-01-01"
    assert ok.json()["end_date"] == "2023-12-31"
    end = "2024-01-01T00:00:00%2B08:00"
    too_long = client.get(
        f"{BILL_TOTAL}?start_time={start}&end_time={end}", headers=bearer(shanghai)
    )
    assert_error(too_long, 400, 40000, "366", "365")


# --- 400 / 40000: bodies ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"events": [', ["body", "not valid JSON", "line 1"]),
        (b"\xff\xfe", ["body", "UTF-8"]),
        (b'{"events": [], "events": []}', ["body", "duplicate key"]),
        (b'{"events": [{"credits": NaN}]}', ["body", "NaN"]),
        (b"[]", ["body", '{"events": [...]}']),
        (b'{"events": [], "extra": 1}', ["body", '{"events": [...]}']),
        (b'{"events": []}', ["events", "1 to 1000"]),
        (b'{"events": {}}', ["events", "list"]),
    ],
)
def test_bad_json_body(
    client: TestClient, ingest_key: str, shanghai: str, content: bytes, words: list[str]
) -> None:
    answer = client.post(
        EVENTS,
        content=content,
        headers={**bearer(ingest_key), "Content-Type": "application/json"},
    )
    assert_error(answer, 400, 40000, *words)


def test_body_must_be_declared_json(client: TestClient, ingest_key: str, shanghai: str) -> None:
    answer = client.post(
        EVENTS,
        content=b'{"events": [{}]}',
        headers={**bearer(ingest_key), "Content-Type": "text/plain"},
    )
    assert_error(answer, 400, 40000, "Content-Type", "application/json")


# The admin routes whose bodies FastAPI reads into a model, and a body each would take.
ADMIN_BODIES = [
    ("POST", "/v1/admin/accounts", {"id": "fresh"}),
    ("POST", "/v1/admin/accounts/acme/keys", {"name": "ci"}),
    ("POST", "/v1/admin/accounts/acme/portal-tokens", {"expires_in": 60}),
    ("PATCH", "/v1/admin/accounts/acme", {"name": "Acme Inc"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_BODIES)
@pytest.mark.parametrize("content_type", [None, "text/plain"])
def test_admin_bodies_must_be_declared_json_as_the_others(
    client: TestClient,
    shanghai: str,
    admin_key: str,
    method: str,
    path: str,
    body: dict[str, object],
    content_type: str | None,
) -> None:
    headers = bearer(admin_key) | ({"Content-Type": content_type} if content_type else {})
    sent = json.dumps(body).encode()
    answer = client.request(method, path, content=sent, headers=headers)
    assert assert_error(answer, 400, 40000)["message"] == "Content-Type: must be application/json"
    declared = client.request(method, path, json=body, headers=bearer(admin_key))
    assert declared.status_code in (200, 201), declared.text


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        (
            "POST",
            "/v1/admin/accounts",
            {"id": "Not-A-Slug"},
            "id: 'Not-A-Slug' is not a valid id (1-64 characters of a-z, 0-9, '_' and '-', "
            "starting with a letter or digit)",
        ),
        (
            "POST",
            "/v1/admin/accounts",
            {"id": "fresh", "colour": "red"},
            "colour: is not a field of this body (id, low_balance_threshold, name, timezone)",
        ),
        ("POST", "/v1/admin/accounts", {"id": "fresh", "name": ""}, "name: must not be empty"),
        ("POST", "/v1/admin/accounts", {"id": 7}, "id: must be a string"),
        ("POST", "/v1/admin/accounts", [], "body: must be a JSON object"),
        (
            "POST",
            "/v1/admin/accounts/acme/keys",
            {"name": "x" * 101},
            "name: must be at most 100 characters long",
        ),
        (
            "POST",
            "/v1/admin/accounts/acme/keys",
            {"expires_in_days": 0},
            "expires_in_days: must be greater than 0",
        ),
        (
            "POST",
            "/v1/admin/accounts/acme/keys",
            {"expires_in_days": 40000},
            "expires_in_days: must be at most 36500",
        ),
        (
            "POST",
            "/v1/admin/accounts/acme/portal-tokens",
            {"expires_in": "60"},
            "expires_in: must be an integer",
        ),
        (
            "POST",
            "/v1/admin/accounts/acme/portal-tokens",
            {"expires_in": 0},
            "expires_in: must be at least 1",
        ),
        (
            "PATCH",
            "/v1/admin/accounts/acme",
            {"nickname": "a"},
            "nickname: is not a field of this body (low_balance_threshold, name, timezone)",
        ),
        ("PATCH", "/v1/admin/accounts/acme", {"timezone": 5}, "timezone: must be a string"),
    ],
)
def test_admin_body_errors_are_plain_words(
    client: TestClient,
    shanghai: str,
    admin_key: str,
    method: str,
    path: str,
    body: object,
    message: str,
) -> None:
    answer = client.request(method, path, json=body, headers=bearer(admin_key))
    error = assert_error(answer, 400, 40000)
    assert error["message"] == message
    field, _, words = message.partition(": ")
    assert error["errors"] == [{"field": field, "message": words}]


def test_an_admin_body_that_is_not_json(client: TestClient, admin_key: str) -> None:
    headers = {**bearer(admin_key), "Content-Type": "application/json"}
    answer = client.post("/v1/admin/accounts", content=b'{"id": ', headers=headers)
    assert_error(answer, 400, 40000, "body: not valid JSON: Expecting value at character 7")


def test_every_invalid_event_is_listed_by_index_and_field(
    client: TestClient, ingest_key: str, shanghai: str
) -> None:
    bad: list[tuple[dict[str, Any], str, str]] = [
        (event("e1", category="video"), "category", "chat"),
        (event("e2", credits="-1"), "credits", "no sign"),
        (event("e3", credits=-1), "credits", "no sign"),
        (event("e4", credits="1.1234567"), "credits", "6 decimal places"),
        (event("e5", credits="1e3"), "credits", "no exponent"),
        (event("e6", credits=1000000.000001), "credits", "1000000"),
        (event("e7", credits=True), "credits", "number"),
        (event("has space"), "id", "printable ASCII"),
        (event("x" * 129), "id", "1-128"),
        (event("e10", bot_id="Bot One"), "bot_id", "a-z"),
        (event("e11", timestamp="2024-12-01T08:00:00"), "timestamp", "offset"),
        (event("e12", timestamp="2024-12-01T00:00:00.0001Z"), "timestamp", "millisecond"),
        (event("e13", timestamp=1.5), "timestamp", "integer"),
        (event("e14", metadata=[1, 2]), "metadata", "object"),
        (event("e15", metadata={"blob": "x" * 5000}), "metadata", "4096 bytes"),
        (event("e16", colour="red"), "colour", "unknown field"),
        ({k: v for k, v in event("e17").items() if k != "bot_id"}, "bot_id", "required"),
        (event("e18", conversation_id=""), "conversation_id", "1-256"),
    ]
    batch = [event("ok-0"), *(raw for raw, _, _ in bad)]
    answer = post_events(client, ingest_key, batch)
    body = assert_error(answer, 400, 40000, f"{len(bad)} of {len(batch)}", "nothing was stored")
    assert "events[1].category" in body["message"]
    errors = body["errors"]
    assert [set(item) for item in errors] == [{"index", "field", "message"}] * len(bad)
    for item, (index, (_, field, words)) in zip(errors, enumerate(bad, start=1), strict=True):
        assert item["index"] == index
        assert item["field"] == field, item
        assert words in item["message"], item
    assert december_total(client, shanghai) == 0


def test_an_event_that_is_not_an_object(client: TestClient, ingest_key: str, shanghai: str) -> None:
    answer = post_events(client, ingest_key, [event("e1"), "e2"])  # type: ignore[list-item]
    body = assert_error(answer, 400, 40000, "events[1]")
    assert body["errors"] == [
        {"index": 1, "field": "", "message": "an event must be a JSON object"}
    ]


def test_unknown_account_rejects_the_batch(
    client: TestClient, ingest_key: str, shanghai: str
) -> None:
    answer = post_events(client, ingest_key, [event("e1"), event("e2", account_id="ghost")])
    body = assert_error(answer, 400, 40000, "unknown account", "ghost", "nothing was stored")
    assert body["errors"] == [
        {"index": 1, "field": "account_id", "message": "account 'ghost' does not exist"}
    ]
    assert december_total(client, shanghai) == 0


def test_timestamps_from_2000_to_24_hours_ahead(
    client: TestClient, ingest_key: str, shanghai: str
) -> None:
    now = now_ms()
    early = post_events(client, ingest_key, [event("early", timestamp=946_684_799_999)])
    body = assert_error(early, 400, 40000, "timestamp", "2000-01-01")
    assert body["errors"][0]["field"] == "timestamp"
    late = post_events(client, ingest_key, [event("late", timestamp=now + 25 * HOUR)])
    body = assert_error(late, 400, 40000, "timestamp", "24 hours")
    assert body["errors"][0]["field"] == "timestamp"
    rfc_late = post_events(client, ingest_key, [event("late", timestamp="2999-01-01T00:00:00Z")])
    assert_error(rfc_late, 400, 40000, "timestamp", "24 hours")
    edges = [event("first", timestamp=946_684_800_000), event("soon", timestamp=now + 23 * HOUR)]
    ok = post_events(client, ingest_key, edges)
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"accepted": 2, "duplicates": 0}


# --- 401 / 40127 ----------------------------------------------------------------------------


def _unauthorized(answer: Response) -> str:
    body = assert_error(answer, 401, 40127, "Bearer")
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    message: str = body["message"]
    return message


def test_every_bad_key_gets_the_same_401(
    client: TestClient, store: Store, shanghai: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = make_key(store, "read", "acme")
    key_id = keys.parse_token(real)
    assert key_id is not None
    expiring = make_key(store, "read", "acme", expires_in_days=1)
    revoked = make_key(store, "read", "acme")
    revoked_id = keys.parse_token(revoked)
    assert revoked_id is not None
    keys.revoke_key(store=store, key_id=revoked_id)

    def get(headers: dict[str, str]) -> Response:
        return client.get(BILL_PAGE, params=DECEMBER, headers=headers)

    assert get(bearer(expiring)).status_code == 200
    messages = {
        _unauthorized(get({})),
        _unauthorized(get(bearer("garbage"))),
        _unauthorized(get({"Authorization": "garbage"})),
        _unauthorized(get({"Authorization": f"Basic {real}"})),
        _unauthorized(get(bearer(real[:-1] + ("a" if real[-1] != "a" else "b")))),  # checksum
        _unauthorized(get(bearer(forged_token()))),  # well-formed, unknown key id
        _unauthorized(get(bearer(forged_token(key_id=key_id)))),  # known id, wrong secret
        _unauthorized(get(bearer(revoked))),
    }
    later = now_ms() + DAY + 1
    monkeypatch.setattr(keys, "now_ms", lambda: later)
    messages.add(_unauthorized(get(bearer(expiring))))
    assert len(messages) == 1, messages
    assert get(bearer(real)).status_code == 200


def test_revocation_takes_effect_on_the_very_next_request(
    client: TestClient, store: Store, shanghai: str, admin_key: str
) -> None:
    new = client.post("/v1/admin/accounts/acme/keys", json={}, headers=bearer(admin_key))
    assert new.status_code == 201, new.text
    token, key_id = new.json()["key"], new.json()["key_id"]
    assert client.get(BILL_PAGE, params=DECEMBER, headers=bearer(token)).status_code == 200
    revoked = client.delete(f"/v1/admin/keys/{key_id}", headers=bearer(admin_key))
    assert revoked.status_code == 200, revoked.text
    _unauthorized(client.get(BILL_PAGE, params=DECEMBER, headers=bearer(token)))
    # The same holds for a key revoked by another process (here: directly in the store).
    other = make_key(store, "ingest")
    assert post_events(client, other, [event("e1")]).status_code == 200
    other_id = keys.parse_token(other)
    assert other_id is not None
    keys.revoke_key(store=store, key_id=other_id)
    _unauthorized(post_events(client, other, [event("e2")]))


def test_admin_api_needs_a_key(client: TestClient) -> None:
    _unauthorized(client.get("/v1/admin/accounts"))
    _unauthorized(client.post(EVENTS, json={"events": [event("e1")]}))


# --- 403 / 40300 ----------------------------------------------------------------------------


def test_keys_lacking_the_scope(
    client: TestClient, shanghai: str, ingest_key: str, admin_key: str
) -> None:
    for path in (BILL_PAGE, BILL_TOTAL):
        answer = client.get(path, params=DECEMBER, headers=bearer(ingest_key))
        assert_error(answer, 403, 40300, "'ingest'", "read or admin")
    assert_error(post_events(client, shanghai, [event("e1")]), 403, 40300, "'read'", "'ingest'")
    assert_error(post_events(client, admin_key, [event("e1")]), 403, 40300, "'admin'", "'ingest'")
    for key, scope in ((shanghai, "'read'"), (ingest_key, "'ingest'")):
        listed = client.get("/v1/admin/accounts", headers=bearer(key))
        assert_error(listed, 403, 40300, scope, "'admin'")
        created = client.post("/v1/admin/accounts", json={"id": "x"}, headers=bearer(key))
        assert_error(created, 403, 40300, scope, "'admin'")
    assert december_total(client, shanghai) == 0


def test_bot_bound_key_naming_another_bot(client: TestClient, store: Store, shanghai: str) -> None:
    bound = make_key(store, "read", "acme", bot_id="b1")
    for path in (BILL_PAGE, BILL_TOTAL):
        answer = client.get(path, params={**DECEMBER, "bot_id": "b2"}, headers=bearer(bound))
        assert_error(answer, 403, 40300, "'b1'", "'b2'")
        own = client.get(path, params={**DECEMBER, "bot_id": "b1"}, headers=bearer(bound))
        assert own.status_code == 200, own.text


# --- 404 / 40400 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/v1", "/v1/account/bill", "/v1/nope", "/v2/account/bill/page"]
)
def test_unknown_path(client: TestClient, shanghai: str, path: str) -> None:
    assert_error(client.get(path), 404, 40400, "no such path", path)
    assert_error(client.get(path, headers=bearer(shanghai)), 404, 40400, path)


def test_another_accounts_id_is_not_found(client: TestClient, store: Store, shanghai: str) -> None:
    accounts.create_account(store=store, account_id="beta")
    for path in (BILL_PAGE, BILL_TOTAL):
        other = client.get(
            path, params={**DECEMBER, "account_id": "beta"}, headers=bearer(shanghai)
        )
        body = assert_error(other, 404, 40400, "'beta'")
        ghost = client.get(
            path, params={**DECEMBER, "account_id": "ghost"}, headers=bearer(shanghai)
        )
        # Another account's id and an unknown id are indistinguishable.
        assert body["message"].replace("beta", "ghost") == ghost.json()["message"]
        own = client.get(path, params={**DECEMBER, "account_id": "acme"}, headers=bearer(shanghai))
        assert own.status_code == 200, own.text


def test_admin_unknown_resources(client: TestClient, admin_key: str) -> None:
    auth = bearer(admin_key)
    assert_error(client.get("/v1/admin/accounts/ghost", headers=auth), 404, 40400, "'ghost'")
    patched = client.patch("/v1/admin/accounts/ghost", json={"name": "G"}, headers=auth)
    assert_error(patched, 404, 40400, "'ghost'")
    assert_error(client.get("/v1/admin/accounts/ghost/keys", headers=auth), 404, 40400, "'ghost'")
    new_key = client.post("/v1/admin/accounts/ghost/keys", json={}, headers=auth)
    assert_error(new_key, 404, 40400, "'ghost'")
    revoked = client.delete("/v1/admin/keys/AAAAAAAAAAAA", headers=auth)
    assert_error(revoked, 404, 40400, "'AAAAAAAAAAAA'")
    bill = client.get(BILL_PAGE, params={**DECEMBER, "account_id": "ghost"}, headers=auth)
    assert_error(bill, 404, 40400, "'ghost'")


# --- 405 / 40500 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", BILL_PAGE, {"GET"}),
        ("POST", BILL_TOTAL, {"GET"}),
        ("GET", EVENTS, {"POST"}),
        ("PUT", "/v1/admin/accounts/acme", {"GET", "PATCH"}),
        ("GET", "/v1/admin/keys/AAAAAAAAAAAA", {"DELETE"}),
        ("PATCH", "/v1/admin/accounts/acme/keys", {"GET", "POST"}),
        ("PUT", "/v1/admin/accounts", {"GET", "POST"}),
        ("POST", "/healthz", {"GET"}),
        ("POST", "/static/docs.js", {"GET", "HEAD"}),
    ],
)
def test_wrong_method(
    client: TestClient, shanghai: str, method: str, path: str, allowed: set[str]
) -> None:
    answer = client.request(method, path, headers=bearer(shanghai))
    assert_error(answer, 405, 40500, method, path, *sorted(allowed))
    assert {m.strip() for m in answer.headers["Allow"].split(",")} >= allowed


# --- 409 / 40900 ----------------------------------------------------------------------------


def test_id_reused_within_one_batch(client: TestClient, ingest_key: str, shanghai: str) -> None:
    batch = [event("e0"), event("e1"), event("e1", credits=2), event("e2")]
    body = assert_error(post_events(client, ingest_key, batch), 409, 40900, "'e1'", "nothing")
    assert body["ids"] == ["e1"]
    assert december_total(client, shanghai) == 0


def test_id_reused_across_batches(client: TestClient, ingest_key: str, shanghai: str) -> None:
    first = post_events(client, ingest_key, [event("e1"), event("e2")])
    assert first.json() == {"accepted": 2, "duplicates": 0}
    batch = [event("e3"), event("e1", credits=3), event("e2", bot_id="b2"), event("e4")]
    body = assert_error(post_events(client, ingest_key, batch), 409, 40900, "'e1'", "'e2'")
    assert body["ids"] == ["e1", "e2"]
    assert december_total(client, shanghai) == 2  # neither e3 nor e4 was stored
    again = post_events(client, ingest_key, [event("e3"), event("e4")])
    assert again.json() == {"accepted": 2, "duplicates": 0}


def test_invalid_and_conflicting_is_a_400(
    client: TestClient, ingest_key: str, shanghai: str
) -> None:
    assert post_events(client, ingest_key, [event("e1")]).status_code == 200
    in_batch = [event("e2"), event("e2", credits=5), event("e3", category="nope")]
    assert_error(post_events(client, ingest_key, in_batch), 400, 40000, "category")
    with_stored = [event("e1", credits=5), event("e4", credits="x")]
    assert_error(post_events(client, ingest_key, with_stored), 400, 40000, "credits")
    unknown = [event("e1", credits=5), event("e5", account_id="ghost")]
    assert_error(post_events(client, ingest_key, unknown), 400, 40000, "ghost")
    assert december_total(client, shanghai) == 1


def test_taken_account_id(client: TestClient, admin_key: str) -> None:
    auth = bearer(admin_key)
    assert client.post("/v1/admin/accounts", json={"id": "acme"}, headers=auth).status_code == 201
    again = client.post("/v1/admin/accounts", json={"id": "acme"}, headers=auth)
    assert_error(again, 409, 40900, "'acme'", "already exists")


# --- 413 / 41300 ----------------------------------------------------------------------------

MIB = 1 << 20


def _padded_batch(size: int) -> bytes:
    """A valid one-event batch padded with JSON whitespace to exactly `size` bytes."""
    start = b'{"events": [{"id": "big", "account_id": "acme", "bot_id": "b1", '
    start += b'"category": "chat", "credits": 1, "timestamp": 1733011200000}]'
    return start + b" " * (size - len(start) - 1) + b"}"


def test_body_over_one_mib(client: TestClient, ingest_key: str, shanghai: str) -> None:
    headers = {**bearer(ingest_key), "Content-Type": "application/json"}
    declared = client.post(EVENTS, content=_padded_batch(MIB + 1), headers=headers)
    assert_error(declared, 413, 41300, "body", str(MIB), "fewer events")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        body = _padded_batch(MIB + 1)
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    streamed = client.post(EVENTS, content=chunks(), headers=headers)
    assert_error(streamed, 413, 41300, "body", str(MIB))
    assert december_total(client, shanghai) == 0
    exactly = client.post(EVENTS, content=_padded_batch(MIB), headers=headers)
    assert exactly.status_code == 200, exactly.text
    assert exactly.json() == {"accepted": 1, "duplicates": 0}


# --- 429 / 42900 ----------------------------------------------------------------------------


def test_rate_limit_per_read_key(store: Store, shanghai: str, admin_key: str) -> None:
    other = make_key(store, "read", "acme")
    settings = settings_for_tests(database_url=str(store.engine.url), read_rate_limit=2)
    with TestClient(create_app(settings, store=store), raise_server_exceptions=False) as client:
        for _ in range(2):
            assert (
                client.get(BILL_PAGE, params=DECEMBER, headers=bearer(shanghai)).status_code == 200
            )
        limited = client.get(BILL_PAGE, params=DECEMBER, headers=bearer(shanghai))
        assert_error(limited, 429, 42900, "rate limit", "2 requests per second", "retry after")
        assert int(limited.headers["Retry-After"]) >= 1
        for _ in range(2):  # another read key has its own budget
            assert client.get(BILL_PAGE, params=DECEMBER, headers=bearer(other)).status_code == 200
        for _ in range(5):  # platform keys are not limited by default
            answer = client.get("/v1/admin/accounts", headers=bearer(admin_key))
            assert answer.status_code == 200


# --- 500 / 50000 ----------------------------------------------------------------------------


def test_unexpected_failure(
    client: TestClient,
    shanghai: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(**_: Any) -> Any:
        raise RuntimeError("SELECT secret FROM api_keys -- cmr_ABCDEFGHIJKL_0123456789abc")

    monkeypatch.setattr(bill_answers, "bill_page_async", explode)
    with caplog.at_level(logging.ERROR, logger="creditmeter.http"):
        answer = client.get(
            BILL_PAGE, params=DECEMBER, headers={**bearer(shanghai), "X-Request-Id": "req-4242"}
        )
    body = assert_error(answer, 500, 50000, "unexpected", "req-4242")
    assert "RuntimeError" not in answer.text
    assert answer.headers["X-Request-Id"] == "req-4242"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == "req-4242"]
    assert logged, "the failure is logged with the request id the message repeats"
    assert logged[0].exc_info is not None
    anonymous = client.get(BILL_PAGE, params=DECEMBER, headers=bearer(shanghai))
    generated = assert_error(anonymous, 500, 50000, "request id")
    assert generated["message"] != body["message"]


# --- 503 / 50300 ----------------------------------------------------------------------------


def test_store_unreachable() -> None:
    url = f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/gone"
    dead = open_store(Settings(database_url=url), upgrade=False)
    app = create_app(settings_for_tests(database_url=url, retry_after_seconds=7), store=dead)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            read = client.get(BILL_PAGE, params=DECEMBER, headers=bearer(forged_token()))
            assert_error(read, 503, 50300, "store is unavailable", "retry")
            assert read.headers["Retry-After"] == "7"
            assert "hunter2" not in read.text
            assert str(dead.engine.url.port) not in read.text
            write = post_events(client, forged_token("ingest"), [event("e1")])
            assert_error(write, 503, 50300, "store is unavailable")
            assert write.headers["Retry-After"] == "7"
            ready = client.get("/readyz")
            assert_error(ready, 503, 50300, "store")
    finally:
        dead.dispose()


def test_store_failing_mid_request(
    client: TestClient, store: Store, shanghai: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    @contextmanager
    def broken() -> Iterator[Any]:
        raise sa_exc.OperationalError(
            "SELECT secret_hash FROM api_keys", {}, Exception("server closed the connection")
        )
        yield  # pragma: no cover

    async def broken_statement(*_: Any) -> Any:  # a report's one statement (bills.DaysToSum)
        with broken():
            pass

    monkeypatch.setattr(store, "read", broken)
    monkeypatch.setattr(store, "query_async", broken_statement)
    answer = client.get(BILL_PAGE, params=DECEMBER, headers=bearer(shanghai))
    assert_error(answer, 503, 50300, "store is unavailable")
    assert answer.headers["Retry-After"] == "1"
    assert "server closed" not in answer.text


def test_sqlite_write_lock_held_too_long(sqlite_store: Store, tmp_path: Path) -> None:
    accounts.create_account(store=sqlite_store, account_id="acme")
    ingest = make_key(sqlite_store, "ingest")
    url = str(sqlite_store.engine.url)
    impatient = open_store(Settings(database_url=url, sqlite_busy_timeout_ms=50), upgrade=False)
    app = create_app(settings_for_tests(database_url=url), store=impatient)
    try:
        with TestClient(app, raise_server_exceptions=False) as client, sqlite_store.write():
            answer = post_events(client, ingest, [event("e1")])
            assert_error(answer, 503, 50300, "store is unavailable")
            assert answer.headers["Retry-After"] == "1"
        with TestClient(app, raise_server_exceptions=False) as client:
            assert post_events(client, ingest, [event("e1")]).json()["accepted"] == 1
    finally:
        impatient.dispose()


def test_an_unencoded_plus_is_explained(client: TestClient, shanghai: str) -> None:
    # A '+' left raw in a query string arrives as a space; the message says how to send it.
    url = f"{BILL_PAGE}?start_time=2024-12-01T00:00:00%2B08:00&end_time=2024-12-31T23:59:59+08:00"
    assert_error(client.get(url, headers=bearer(shanghai)), 400, 40000, "end_time", "%2B")
    raw_zone = f"{BILL_PAGE}?start_time=1732982400000&end_time=1735660799999&timezone=Etc/GMT+12"
    answer = client.get(raw_zone, headers=bearer(shanghai))
    assert_error(answer, 400, 40000, "'Etc/GMT 12'", "IANA", "'+' must be percent-encoded as %2B")
    named = client.get(
        BILL_PAGE, params={**DECEMBER, "timezone": "Mars/X"}, headers=bearer(shanghai)
    )
    assert "%2B" not in assert_error(named, 400, 40000, "Mars/X")["message"]


@pytest.mark.parametrize(
    ("start_time", "words"),
    [
        # in range, but sent with more digits than the rule allows: the rule is said
        ("0001796200000000", ["start_time", "16 digits", "at most 15"]),
        ("253402041600000", ["start_time", "after the last instant", "9999-12-28T23:59:59.999Z"]),
        ("0" * 5000 + "1" * 20, ["start_time", "out of range", "after the last instant"]),
        ("0001-01-01T00:00:00Z", ["start_time", "out of range", "0001-01-02T00:00:00.000Z"]),
    ],
)
def test_an_instant_refused_is_told_the_rule(
    client: TestClient, shanghai: str, start_time: str, words: list[str]
) -> None:
    params = {**DECEMBER, "start_time": start_time}
    answer = client.get(BILL_PAGE, params=params, headers=bearer(shanghai))
    assert_error(answer, 400, 40000, *words)


def test_a_bad_balance_instant_names_both_forms(client: TestClient, shanghai: str) -> None:
    answer = client.get(
        "/v1/account/credits/balance", params={"at": "abc"}, headers=bearer(shanghai)
    )
    assert_error(answer, 400, 40000, "at:", "milliseconds since the Unix epoch", "RFC 3339")


def test_error_bodies_never_echo_the_key(client: TestClient, shanghai: str) -> None:
    answer = post_events(client, shanghai, [event("e1")])
    assert_error(answer, 403, 40300)
    assert shanghai not in answer.text
