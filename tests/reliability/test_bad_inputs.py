"""The bad-input catalogue: named malformed requests against a served process, each answered
with its 4xx and `{code, message}` (no trace, SQL or secret), and none storing anything."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from tests.http.support import assert_no_leak, event
from tests.reliability.support import EVENTS, Served, bearer, report

from creditmeter.clock import now_ms

BILL_PAGE = "/v1/account/bill/page"
BILL_TOTAL = "/v1/account/bill/total"
DECEMBER = "start_time=1732982400000&end_time=1735660799999"
HOUR = 3_600_000


@dataclass(frozen=True)
class Bad:
    """One malformed request and the answer it must get."""

    name: str
    status: int = 400
    method: str = "POST"
    path: str = EVENTS
    key: str = "ingest"
    body: bytes | None = None
    content_type: str | None = "application/json"
    query: str | None = None
    words: tuple[str, ...] = field(default_factory=tuple)

    @property
    def code(self) -> int:
        return {401: 40127}.get(self.status, self.status * 100)


def _batch(*events: Any) -> bytes:
    """A batch holding a valid event first, so that "nothing stored" means something."""
    return json.dumps({"events": [event("catalogue-valid"), *events]}).encode()


def _raw_event(fragment: str) -> bytes:
    """A batch whose second event carries raw JSON text (NaN, -0, duplicated keys...)."""
    valid = json.dumps(event("catalogue-valid"))
    return f'{{"events": [{valid}, {{{fragment}}}]}}'.encode()


def _field(name: str, field_name: str, value: Any, *words: str) -> Bad:
    """A batch whose second event has `field_name` set to `value`."""
    return Bad(name, body=_batch(event("catalogue-bad", **{field_name: value})), words=words)


def _raw_field(name: str, field_name: str, raw_value: str, *words: str) -> Bad:
    others = {k: v for k, v in event("catalogue-bad").items() if k != field_name}
    fragment = json.dumps(others)[1:-1] + f', "{field_name}": {raw_value}'
    return Bad(name, body=_raw_event(fragment), words=words)


def _page(name: str, query: str, *words: str, path: str = BILL_PAGE) -> Bad:
    return Bad(
        name, method="GET", path=path, key="read", query=query, content_type=None, words=words
    )


def _events(n: int) -> bytes:
    return json.dumps({"events": [event(f"many-{i}") for i in range(n)]}).encode()


CATALOGUE: list[Bad] = [
    # credits
    _raw_field("credits NaN", "credits", "NaN", "NaN"),
    _raw_field("credits Infinity", "credits", "Infinity", "Infinity"),
    _raw_field("credits -Infinity", "credits", "-Infinity", "Infinity"),
    _raw_field("credits -0", "credits", "-0", "credits"),
    _raw_field("credits 1e400", "credits", "1e400", "credits"),
    _raw_field("credits 1E2", "credits", "1E2", "credits"),
    _raw_field("credits 7 decimal places number", "credits", "1.1234567", "6 decimal places"),
    _field("credits 7 decimal places string", "credits", "1.1234567", "6 decimal places"),
    _raw_field("credits huge integer", "credits", "9" * 400, "between 0 and 1000000"),
    _raw_field("credits 1000000.000001", "credits", "1000000.000001", "between 0 and 1000000"),
    _raw_field("credits negative", "credits", "-1", "no sign"),
    _field("credits string with plus", "credits", "+1", "no sign"),
    _field("credits string with spaces", "credits", " 1 ", "credits"),
    _field("credits string hex", "credits", "0x10", "credits"),
    _field("credits empty string", "credits", "", "credits"),
    _field("credits string exponent", "credits", "1e3", "no exponent"),
    _field("credits true", "credits", True, "credits"),
    _field("credits null", "credits", None, "credits"),
    _field("credits list", "credits", [1], "credits"),
    # ids
    _field("id 129 characters", "id", "x" * 129, "1-128"),
    _field("id empty", "id", "", "id"),
    _field("id control character", "id", "a\u0007b", "printable ASCII"),
    _field("id newline", "id", "a\nb", "printable ASCII"),
    _field("id space", "id", "a b", "without spaces"),
    _field("id non-ASCII", "id", "café", "ASCII"),
    _field("id number", "id", 12, "id"),
    _field("account_id unknown account", "account_id", "ghost", "'ghost' does not exist"),
    _field("account_id upper case", "account_id", "ACME", "account_id"),
    _field("bot_id object", "bot_id", {}, "bot_id"),
    _field("bot_id 130 characters", "bot_id", "b" * 130, "bot_id"),
    # categories
    _field("category unknown", "category", "video", "chat"),
    _field("category object", "category", {}, "chat"),
    _field("category list", "category", ["chat"], "chat"),
    _field("category upper case", "category", "CHAT", "chat"),
    # timestamps
    _field(
        "timestamp before 2000 as RFC 3339", "timestamp", "1999-12-31T23:59:59.999Z", "2000-01-01"
    ),
    _field("timestamp before 2000 as ms", "timestamp", 946684799999, "2000-01-01"),
    _field("timestamp 25 h ahead", "timestamp", now_ms() + 25 * HOUR, "24 hours"),
    _field("timestamp no offset", "timestamp", "2024-12-01T08:00:00", "offset"),
    _field("timestamp zone name", "timestamp", "2024-12-01T08:00:00[Asia/Shanghai]", "timestamp"),
    _field(
        "timestamp unknown zone suffix", "timestamp", "2024-12-01T08:00:00 Mars/Base", "timestamp"
    ),
    _field("timestamp microseconds", "timestamp", "2024-12-01T00:00:00.0001Z", "millisecond"),
    _raw_field("timestamp fraction", "timestamp", "1733011200000.5", "integer"),
    _raw_field("timestamp exponent", "timestamp", "1.7e12", "integer"),
    _field("timestamp negative", "timestamp", -1, "timestamp"),
    _field("timestamp 20 digits", "timestamp", 10**19, "timestamp"),
    _field("timestamp digits as a string", "timestamp", "1733011200000", "timestamp"),
    _field("timestamp date only", "timestamp", "2024-12-01", "timestamp"),
    # optional fields and shape
    _field("metadata 5000 bytes", "metadata", {"blob": "x" * 5000}, "4096 bytes"),
    _field("metadata list", "metadata", [1], "object"),
    _field("metadata string", "metadata", "x", "object"),
    _field("conversation_id empty", "conversation_id", "", "1-256"),
    _field("conversation_id 257 characters", "conversation_id", "c" * 257, "1-256"),
    _field("colour unknown field", "colour", "red", "unknown field"),
    Bad(
        "event missing bot_id",
        body=_batch({k: v for k, v in event("m").items() if k != "bot_id"}),
        words=("bot_id", "required"),
    ),
    Bad("event is a string", body=_batch("event"), words=("JSON object",)),
    Bad("event is null", body=_batch(None), words=("JSON object",)),
    Bad(
        "duplicated key in an event",
        body=_raw_event('"id": "a", "id": "b"'),
        words=("duplicate key",),
    ),
    # bodies
    Bad("body not UTF-8", body=b'{"events": [{"id": "\xff\xfe"}]}', words=("UTF-8",)),
    Bad(
        "body Latin-1", body='{"events": [{"id": "caf\u00e9"}]}'.encode("latin-1"), words=("UTF-8",)
    ),
    Bad("body with a UTF-8 BOM", body=b"\xef\xbb\xbf" + _batch(), words=("body",)),
    Bad("duplicated key events", body=b'{"events": [], "events": []}', words=("duplicate key",)),
    Bad("body truncated", body=b'{"events": [', words=("not valid JSON",)),
    Bad("body empty", body=b"", words=("body",)),
    Bad("body is an array", body=b"[]", words=('{"events": [...]}',)),
    Bad("body with another field", body=b'{"events": [], "extra": 1}', words=("events",)),
    Bad("events empty", body=b'{"events": []}', words=("1 to 1000",)),
    Bad("events an object", body=b'{"events": {}}', words=("list",)),
    Bad("1001 events", body=_events(1001), words=("1 to 1000",)),
    Bad(
        "2 MiB body",
        status=413,
        body=b'{"events": ["' + b"x" * (2 << 20) + b'"]}',
        words=("1048576",),
    ),
    Bad("lone surrogate", body=b'{"events": [{"id": "\\ud800"}]}', words=("surrogate",)),
    Bad(
        "nested 100000 deep",
        body=b'{"events": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        words=("body",),
    ),
    Bad("content type missing", body=_batch(), content_type=None, words=("Content-Type",)),
    Bad(
        "content type text/plain", body=_batch(), content_type="text/plain", words=("Content-Type",)
    ),
    Bad(
        "content type form",
        body=b"events=1",
        content_type="application/x-www-form-urlencoded",
        words=("Content-Type",),
    ),
    Bad("wrong method PUT", status=405, method="PUT", body=_batch(), words=("PUT",)),
    # query parameters of the bill endpoints
    _page("page 0", f"{DECEMBER}&page=0", "page"),
    _page("page -1", f"{DECEMBER}&page=-1", "page"),
    _page("page two", f"{DECEMBER}&page=two", "page"),
    _page("page 1.5", f"{DECEMBER}&page=1.5", "page"),
    _page("page_size 0", f"{DECEMBER}&page_size=0", "page_size"),
    _page("page_size 101", f"{DECEMBER}&page_size=101", "page_size", "1 to 100"),
    _page("start_time missing", "end_time=1735660799999", "start_time", "required"),
    _page("start_time empty", "start_time=&end_time=1735660799999", "start_time"),
    _page(
        "start_time with spaces", "start_time=%201732982400000&end_time=1735660799999", "start_time"
    ),
    _page(
        "start_time with a leading +",
        "start_time=%2B1732982400000&end_time=1735660799999",
        "start_time",
    ),
    _page(
        "start_time with a sign", "start_time=-1732982400000&end_time=1735660799999", "start_time"
    ),
    _page(
        "start_time of 20 digits",
        "start_time=17329824000000000000&end_time=1735660799999",
        "start_time",
        "out of range",
    ),
    _page(
        "start_time with an unencoded +",
        "start_time=2024-12-01T00:00:00+08:00&end_time=1735660799999",
        "start_time",
        "%2B",
    ),
    _page(
        "start_time without offset",
        "start_time=2024-12-01T00:00:00&end_time=1735660799999",
        "start_time",
    ),
    _page("start_time exponent", "start_time=1.7e12&end_time=1735660799999", "start_time"),
    _page(
        "end_time before start_time",
        "start_time=1735660799999&end_time=1732982400000",
        "before start_time",
    ),
    _page(
        "91 days",
        "start_time=2024-01-01T00:00:00Z&end_time=2024-03-31T00:00:00Z&timezone=UTC",
        "91",
    ),
    _page(
        "366 days",
        "start_time=2023-01-01T00:00:00Z&end_time=2024-01-01T00:00:00Z&timezone=UTC",
        "366",
        path=BILL_TOTAL,
    ),
    _page("unknown time zone", f"{DECEMBER}&timezone=Mars/Base", "timezone", "IANA"),
    _page("time zone path", f"{DECEMBER}&timezone=../../etc/passwd", "timezone"),
    _page("bot_id not a slug", f"{DECEMBER}&bot_id=Bad%20Bot", "bot_id"),
    # admin bodies
    Bad(
        "account id not a slug",
        path="/v1/admin/accounts",
        key="admin",
        body=b'{"id": "Not A Slug"}',
        words=("id",),
    ),
    Bad(
        "account unknown time zone",
        path="/v1/admin/accounts",
        key="admin",
        body=b'{"id": "newacct", "timezone": "Mars/Base"}',
        words=("timezone",),
    ),
    Bad(
        "account extra field",
        path="/v1/admin/accounts",
        key="admin",
        body=b'{"id": "newacct2", "colour": "red"}',
        words=("colour",),
    ),
    Bad("account body not JSON", path="/v1/admin/accounts", key="admin", body=b"{id: x}"),
    Bad(
        "key negative expiry",
        path="/v1/admin/accounts/acme/keys",
        key="admin",
        body=b'{"expires_in_days": -1}',
        words=("expires_in_days",),
    ),
    Bad(
        "key bot_id not a slug",
        path="/v1/admin/accounts/acme/keys",
        key="admin",
        body=b'{"bot_id": "Bad Bot"}',
        words=("bot_id",),
    ),
]


@pytest.fixture(scope="module")
def tally() -> Iterator[dict[str, int]]:
    counts = {"cases": 0, "stored": 0}
    yield counts
    if counts["cases"]:
        report("bad-inputs", catalogue=len(CATALOGUE), **counts)


def _snapshot(served: Served) -> tuple[int, ...]:
    with served.store.engine.connect() as conn:
        return tuple(
            int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
            for table in ("usage_events", "usage_buckets", "usage_days", "accounts", "api_keys")
        )


def test_the_catalogue_is_large_and_named_uniquely() -> None:
    names = [case.name for case in CATALOGUE]
    assert len(names) == len(set(names))
    assert len(names) >= 50


@pytest.mark.parametrize("case", CATALOGUE, ids=[case.name for case in CATALOGUE])
def test_bad_input(served: Served, case: Bad, tally: dict[str, int]) -> None:
    token = {
        "ingest": served.keys.ingest,
        "admin": served.keys.admin,
        "read": served.keys.read["acme"],
    }[case.key]
    headers = bearer(token)
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    before = _snapshot(served)
    url = f"{served.server.base_url}{case.path}" + (f"?{case.query}" if case.query else "")
    answer = httpx.request(case.method, url, content=case.body, headers=headers, timeout=60)
    assert answer.status_code == case.status, answer.text[:2000]
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert isinstance(body, dict), body
    assert body["code"] == case.code, body
    assert isinstance(body["message"], str), body
    assert body["message"], body
    for word in case.words:
        assert word in body["message"] or word in json.dumps(body.get("errors", [])), body
    assert_no_leak(answer.text)
    assert token not in answer.text
    after = _snapshot(served)
    tally["cases"] += 1
    tally["stored"] += after != before
    assert after == before, "something was stored"
