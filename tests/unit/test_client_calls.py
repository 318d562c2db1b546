"""The client's logic without a network: times, encoding, batches, retries, plans."""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from creditmeter.client import (
    ApiError,
    Conflict,
    DayRow,
    IngestResult,
    InvalidInput,
    RetryPolicy,
    StoreUnavailable,
    UsageEvent,
    WebhookEndpoint,
    calls,
)
from creditmeter.client.calls import BillWindow, Call, batches, encode_event, instant_ms
from creditmeter.client.errors import error_from, retry_after

NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")


def test_a_date_is_the_whole_local_day() -> None:
    # 2024-03-10 has 23 hours in New York; 2024-11-03 has 25.
    spring = instant_ms(date(2024, 3, 10), NEW_YORK, end=False)
    assert spring == int(datetime(2024, 3, 10, tzinfo=NEW_YORK).timestamp() * 1000)
    assert instant_ms(date(2024, 3, 10), NEW_YORK, end=True) - spring == 23 * 3_600_000 - 1
    autumn = instant_ms(date(2024, 11, 3), NEW_YORK, end=False)
    assert instant_ms(date(2024, 11, 3), NEW_YORK, end=True) - autumn == 25 * 3_600_000 - 1
    kolkata = ZoneInfo("Asia/Kolkata")
    assert instant_ms(date(2024, 12, 1), kolkata, end=False) == 1732991400000  # 18:30Z


def test_instants() -> None:
    moment = datetime(2024, 12, 1, 8, 0, 0, 123999, tzinfo=timezone(timedelta(hours=8)))
    assert instant_ms(moment, None, end=False) == 1733011200123  # truncated to the ms
    assert instant_ms(1733011200123, None, end=True) == 1733011200123
    with pytest.raises(ValueError, match="naive"):
        instant_ms(datetime(2024, 12, 1), None, end=False)
    with pytest.raises(TypeError):
        instant_ms(True, None, end=False)
    with pytest.raises(TypeError):
        instant_ms("2024-12-01", None, end=False)  # type: ignore[arg-type]


def test_a_date_past_the_last_instant_is_a_value_error_not_an_overflow() -> None:
    # The day after 9999-12-31 is no date at all: its end used to raise OverflowError.
    # The service's instants end with 9999-12-28 UTC (days.MAX_MS), and so do the client's.
    assert instant_ms(date(9999, 12, 28), UTC_ZONE, end=True) == 253402041599999
    for late in (date(9999, 12, 29), date(9999, 12, 31)):
        with pytest.raises(ValueError, match="out of range"):
            instant_ms(late, UTC_ZONE, end=True)
        with pytest.raises(ValueError, match="out of range"):
            instant_ms(late, UTC_ZONE, end=False)
    with pytest.raises(ValueError, match="out of range"):
        instant_ms(date(9999, 12, 31), ZoneInfo("Pacific/Kiritimati"), end=False)
    with pytest.raises(ValueError, match="out of range"):
        instant_ms(date(1, 1, 1), ZoneInfo("Asia/Tokyo"), end=False)
    with pytest.raises(ValueError, match="out of range"):  # before any request
        BillWindow(date(2024, 12, 1), date(9999, 12, 31), "UTC", None, None, {})


def test_events_are_encoded_as_the_service_reads_them() -> None:
    event = UsageEvent(
        "e1", "acme", "b1", "chat", Decimal("1E+1"), datetime(2024, 12, 1, tzinfo=UTC)
    )
    assert json.loads(encode_event(event)) == {
        "id": "e1",
        "account_id": "acme",
        "bot_id": "b1",
        "category": "chat",
        "credits": "10",
        "timestamp": 1733011200000,
    }
    for given, sent in ((0.1, "0.1"), (1e-06, "0.000001"), (Decimal("0.50"), "0.50")):
        assert json.loads(encode_event({"credits": given}))["credits"] == sent
    assert json.loads(encode_event({"credits": 3}))["credits"] == 3
    assert json.loads(encode_event({"credits": "2.5"}))["credits"] == "2.5"
    full = UsageEvent("e", "a", "b", "tts", 1, 0, conversation_id="c", metadata={"n": 1})
    assert json.loads(encode_event(full))["metadata"] == {"n": 1}
    assert "é" in encode_event({"metadata": {"x": "é"}}).decode()  # UTF-8, not \\u escapes


def test_batches_respect_count_and_size() -> None:
    small = [{"id": f"e{i}"} for i in range(2500)]
    assert [len(batch) for batch in batches(small)] == [1000, 1000, 500]
    big = [{"id": f"e{i}", "metadata": {"text": "x" * 3000}} for i in range(1000)]
    cut = list(batches(big))
    assert sum(len(batch) for batch in cut) == 1000
    assert len(cut) == 3
    for batch in cut:
        body = b'{"events":[' + b",".join(batch) + b"]}"
        assert len(body) <= 1 << 20
    assert list(batches([])) == []


def _response(
    status: int, body: Any = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    content = json.dumps(body).encode() if body is not None else b""
    return httpx.Response(status, content=content, headers=headers or {})


def test_errors_become_their_classes() -> None:
    error = error_from(
        _response(
            409,
            {"code": 40900, "message": "ids reused", "ids": ["e1"]},
            {"X-Request-Id": "r-1"},
        )
    )
    assert isinstance(error, Conflict)
    assert (error.code, error.status, error.ids, error.request_id) == (40900, 409, ["e1"], "r-1")
    busy = error_from(_response(503, {"code": 50300, "message": "busy"}, {"Retry-After": "7"}))
    assert isinstance(busy, StoreUnavailable)
    assert busy.retry_after == 7
    proxy = error_from(httpx.Response(502, content=b"<html>Bad Gateway</html>"))
    assert type(proxy) is ApiError
    assert proxy.code == 50200
    assert "Bad Gateway" in proxy.message
    unknown = error_from(_response(418, {"code": 41800, "message": "teapot"}))
    assert type(unknown) is ApiError
    assert unknown.code == 41800


def test_retry_after_in_both_forms() -> None:
    assert retry_after(_response(429, headers={"Retry-After": "3"})) == 3
    later = _response(
        503,
        headers={
            "Retry-After": "Wed, 21 Oct 2015 07:28:05 GMT",
            "Date": "Wed, 21 Oct 2015 07:28:00 GMT",
        },
    )
    assert retry_after(later) == 5
    assert retry_after(_response(503)) is None
    assert retry_after(_response(503, headers={"Retry-After": "soon"})) is None


def test_what_is_retried() -> None:
    policy = RetryPolicy(attempts=3)
    post = Call("POST", "/v1/admin/accounts", idempotent=False)
    ingest = Call("POST", "/v1/usage/events")
    never_sent = httpx.ConnectError("refused")
    lost = httpx.ReadError("reset")
    assert policy.retries_error(post, never_sent, 0)
    assert not policy.retries_error(post, lost, 0)  # it may have been done
    assert policy.retries_error(ingest, lost, 0)  # same ids: safe
    assert not policy.retries_error(ingest, lost, 2)  # the third attempt was the last
    for status in (429, 503):
        assert policy.retries_status(post, status, 0)
    assert policy.retries_status(ingest, 502, 0)
    assert not policy.retries_status(post, 502, 0)
    assert not policy.retries_status(ingest, 500, 0)
    assert policy.wait(0, 4.0) == 4.0  # Retry-After wins
    assert 0.125 <= policy.wait(1, None) <= 0.5
    assert policy.wait(30, None) <= policy.max_backoff


def _drive(plan: Generator[Call, httpx.Response, Any], answers: list[Any]) -> Any:
    """Runs a plan against a list of answers (responses, or errors to throw in)."""
    calls_made = []
    try:
        call = next(plan)
        for answer in answers:
            calls_made.append(call)
            call = plan.throw(answer) if isinstance(answer, Exception) else plan.send(answer)
        raise AssertionError(f"the plan wants more: {call}")
    except StopIteration as done:
        return done.value, calls_made


def _day(day: str, total: int = 0) -> dict[str, Any]:
    return {
        "date": day, "start_date": day, "end_date": day, "total": total, "chat": total,
        "knowledge_doc_indexing": 0, "knowledge_doc_storage": 0, "rerank": 0,
        "database_processing": 0, "tool_call": 0, "asr": 0, "tts": 0,
    }  # fmt: skip


def test_bill_page_learns_the_zone_then_pages() -> None:
    zones: dict[str | None, str] = {}
    window = BillWindow(date(2024, 12, 1), date(2024, 12, 3), None, None, None, zones)
    zone = {"X-Timezone": "Asia/Shanghai"}
    probe = _response(200, {}, zone)
    first = _response(
        200, [_day("2024-12-01", 1), _day("2024-12-02")], zone | {"X-Total-Count": "3"}
    )
    second = _response(200, [_day("2024-12-03")], zone | {"X-Total-Count": "3"})
    rows, made = _drive(calls.bill_page(window, 2), [probe, first, second])
    assert [row.date for row in rows] == [date(2024, 12, d) for d in (1, 2, 3)]
    assert isinstance(rows[0], DayRow)
    assert rows[0].total == Decimal(1)
    assert made[0].path == calls.TOTAL
    page_params = dict(made[1].params)
    assert page_params["start_time"] == "1732982400000"  # Shanghai midnight
    assert page_params["end_time"] == str(1732982400000 + 3 * 86_400_000 - 1)
    assert (page_params["page"], dict(made[2].params)["page"]) == ("1", "2")
    assert zones == {None: "Asia/Shanghai"}

    # The zone is remembered; an answer in another zone makes the client ask again.
    moved = {"X-Timezone": "UTC", "X-Total-Count": "3"}
    again = _response(200, [_day("2024-12-01"), _day("2024-12-02"), _day("2024-12-03")], moved)
    rows, made = _drive(calls.bill_page(window, 100), [_response(200, [], moved), again])
    assert len(made) == 2
    assert dict(made[1].params)["start_time"] == "1733011200000"  # UTC midnight
    assert len(rows) == 3


def test_an_explicit_zone_needs_no_probe() -> None:
    window = BillWindow(date(2024, 12, 1), date(2024, 12, 1), "UTC", None, "acme", {})
    answer = _response(200, [_day("2024-12-01")], {"X-Total-Count": "1"})
    rows, made = _drive(calls.bill_page(window, 100), [answer])
    assert len(rows) == 1
    assert dict(made[0].params) == {
        "start_time": "1733011200000", "end_time": "1733097599999", "timezone": "UTC",
        "account_id": "acme", "page": "1", "page_size": "100",
    }  # fmt: skip
    with pytest.raises(ValueError, match="time zone"):
        BillWindow(date(2024, 12, 1), date(2024, 12, 1), "Mars/Base", None, None, {})


def test_ingest_errors_count_from_the_first_event() -> None:
    events = [{"id": f"e{i}"} for i in range(2500)]
    invalid = InvalidInput(
        "bad", details={"errors": [{"index": 7, "field": "credits", "message": "no sign"}]}
    )
    plan = calls.ingest(events)
    with pytest.raises(InvalidInput) as raised:
        _drive(plan, [_response(200, {"accepted": 990, "duplicates": 10}), invalid])
    assert raised.value.errors == [{"index": 1007, "field": "credits", "message": "no sign"}]
    assert raised.value.ingested == IngestResult(990, 10)
    done, made = _drive(
        calls.ingest(events),
        [_response(200, {"accepted": 1000, "duplicates": 0})] * 2
        + [_response(200, {"accepted": 400, "duplicates": 100})],
    )
    assert done == IngestResult(2400, 100)
    assert all(call.idempotent for call in made)


def test_a_new_endpoints_secret_stays_out_of_its_repr() -> None:
    # As NewKey's key: a repr lands in logs and tracebacks, the secret must not.
    made = WebhookEndpoint.from_json(
        {"id": "wh_1", "url": "https://example.com/hook", "events": ["credits.balance_low"],
         "status": "enabled", "created_at": 1, "secret": "whsec_c2VjcmV0c2VjcmV0"}
    )  # fmt: skip
    assert made.secret == "whsec_c2VjcmV0c2VjcmV0"
    assert "whsec_" not in repr(made)
    assert "https://example.com/hook" in repr(made)
