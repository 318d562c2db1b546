"""Shared by the HTTP tests: event builders, exact JSON, and the error-body checks."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response  # what starlette.testclient answers with

from creditmeter import keys
from tests.conftest import bearer

BILL_PAGE = "/v1/account/bill/page"
BILL_TOTAL = "/v1/account/bill/total"
EVENTS = "/v1/usage/events"

# GPTBots' own example: December 2024 in Asia/Shanghai.
DEC_START, DEC_END = 1732982400000, 1735660799999
DECEMBER = {"start_time": str(DEC_START), "end_time": str(DEC_END)}
DEC_1 = 1733011200000  # 2024-12-01T00:00:00Z, 08:00 in Shanghai
HOUR = 3_600_000
DAY = 24 * HOUR

_SECRET = re.compile(r"cm[ria]_[0-9A-Za-z]{12}_[0-9A-Za-z]{10,}")
_LEAKS = (
    "Traceback",
    'File "',
    "SELECT ",
    "INSERT ",
    "UPDATE ",
    "DELETE FROM",
    "sqlalchemy",
    "psycopg",
    "sqlite3",
    "secret_hash",
)


def event(event_id: str, **fields: Any) -> dict[str, Any]:
    """A valid event of account acme, bot b1: 1 chat credit at 2024-12-01 08:00 Shanghai."""
    return {
        "id": event_id,
        "account_id": "acme",
        "bot_id": "b1",
        "category": "chat",
        "credits": 1,
        "timestamp": DEC_1,
        **fields,
    }


def post_events(client: TestClient, key: str, events: list[dict[str, Any]]) -> Response:
    return client.post(EVENTS, json={"events": events}, headers=bearer(key))


def exact(answer: Response) -> Any:
    """The JSON body with every number as a Decimal, so sums compare exactly."""
    return json.loads(answer.text, parse_float=Decimal, parse_int=Decimal)


def december_total(client: TestClient, key: str, **params: str) -> Decimal:
    """The total credits of December 2024 (Shanghai days) that `key` sees."""
    answer = client.get(BILL_TOTAL, params={**DECEMBER, **params}, headers=bearer(key))
    assert answer.status_code == 200, answer.text
    total: Decimal = exact(answer)["total"]
    return total


def assert_no_leak(text: str) -> None:
    """No secret, SQL or stack trace in an answer."""
    assert _SECRET.search(text) is None, f"a secret leaked: {text}"
    for leak in _LEAKS:
        assert leak not in text, f"{leak!r} leaked: {text}"


def assert_error(answer: Response, status: int, code: int, *words: str) -> dict[str, Any]:
    """The contract's error shape; the message holds every word in `words`."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json"), answer.headers
    body: dict[str, Any] = answer.json()
    assert body["code"] == code, body
    message = body["message"]
    assert isinstance(message, str), body
    assert message, body
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert_no_leak(answer.text)
    return body


def forged_token(scope: str = "read", key_id: str = "ZZZZZZZZZZZZ") -> str:
    """A well-formed token (right shape and checksum) that no store has issued."""
    body = f"{keys.PREFIXES[scope]}_{key_id}_{'A' * 43}"
    token = body + keys.checksum(body)
    assert keys.parse_token(token) == key_id
    return token
