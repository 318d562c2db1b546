"""The access log: JSON and text lines carry the same fields (issue 15, item 9)."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from creditmeter import accounts
from creditmeter.credits.grants import GrantRequest, create_grant
from creditmeter.http import create_app
from creditmeter.logs import configure_logging
from creditmeter.store import Store
from tests.conftest import bearer, make_key
from tests.conftest import test_settings as settings_for_tests
from tests.http.support import BILL_TOTAL, DECEMBER

FIELDS = ("request_id", "method", "route", "status", "duration_ms", "key_id", "account_id")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger("creditmeter")
    saved = root.handlers[:], root.level, root.propagate
    yield
    root.handlers[:], root.level, root.propagate = saved[0], saved[1], saved[2]


def _access_line(store: Store, fmt: str, tmp_path: Path) -> tuple[str, str]:
    """The access log line of one bill request, logged in format `fmt`, and the key id."""
    stream = io.StringIO()
    settings = settings_for_tests(database_url=str(store.engine.url), log_format=fmt)
    accounts.create_account(store=store, account_id="acme", timezone="Asia/Shanghai")
    token = make_key(store, "read", "acme")
    key_id = token.split("_")[1]
    app = create_app(settings, store=store)
    with TestClient(app, raise_server_exceptions=False) as client:
        configure_logging(settings)
        logging.getLogger("creditmeter").handlers[0].setStream(stream)  # type: ignore[attr-defined]
        answer = client.get(
            BILL_TOTAL, params=DECEMBER, headers={**bearer(token), "X-Request-Id": "req-42"}
        )
        assert answer.status_code == 200
    lines = [line for line in stream.getvalue().splitlines() if "req-42" in line]
    assert len(lines) == 1, stream.getvalue()
    return lines[0], key_id


@pytest.mark.usefixtures("restore_logging")
def test_json_line_has_every_field(sqlite_store: Store, tmp_path: Path) -> None:
    line, key_id = _access_line(sqlite_store, "json", tmp_path)
    fields = json.loads(line)
    assert set(FIELDS) <= set(fields)
    assert fields["request_id"] == "req-42"
    assert fields["route"] == "/v1/account/bill/total"
    assert fields["status"] == 200
    assert fields["key_id"] == key_id
    assert fields["account_id"] == "acme"


@pytest.mark.usefixtures("restore_logging")
def test_text_line_has_the_same_fields(sqlite_store: Store, tmp_path: Path) -> None:
    line, key_id = _access_line(sqlite_store, "text", tmp_path)
    pairs = dict(re.findall(r"(\w+)=(\S+)", line))
    assert set(FIELDS) <= set(pairs), line
    assert pairs["request_id"] == "req-42"
    assert pairs["route"] == "/v1/account/bill/total"
    assert pairs["status"] == "200"
    assert pairs["key_id"] == key_id
    assert pairs["account_id"] == "acme"
    assert " INFO creditmeter.access request " in line


def test_text_values_with_spaces_stay_one_field() -> None:
    from creditmeter.logs import TextFormatter

    record = logging.makeLogRecord(
        {"name": "creditmeter.x", "levelname": "INFO", "msg": "hello", "note": 'a b="c"', "n": None}
    )
    line = TextFormatter().format(record)
    assert line.endswith(' note="a b=\\"c\\"" n=-'), line


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("fast_path", [True, False])
def test_a_holds_account_is_in_the_access_log(sqlite_store: Store, fast_path: bool) -> None:
    """A hold's create notes the body's account, its release the hold's; both on the fast
    path and through FastAPI's routes."""
    stream = io.StringIO()
    settings = settings_for_tests(database_url=str(sqlite_store.engine.url), log_format="json")
    accounts.create_account(store=sqlite_store, account_id="acme", timezone="UTC")
    purchase = GrantRequest.parse({"id": "g1", "credits": 10, "kind": "purchase"})
    create_grant(store=sqlite_store, account_id="acme", request=purchase)
    ingest = bearer(make_key(sqlite_store, "ingest"))
    app = create_app(settings, store=sqlite_store, bill_fast_path=fast_path)
    with TestClient(app, raise_server_exceptions=False) as client:
        configure_logging(settings)
        logging.getLogger("creditmeter").handlers[0].setStream(stream)  # type: ignore[attr-defined]
        asks = [
            ("/v1/credits/holds", {"id": "h1", "account_id": "acme", "credits": 2}, 201),
            ("/v1/credits/holds", {"id": "h2", "account_id": "acme", "credits": 99}, 402),
            ("/v1/credits/holds/h1/release", None, 200),
        ]
        for number, (path, body, status) in enumerate(asks):
            headers = {**ingest, "X-Request-Id": f"hold-{number}"}
            answer = client.post(path, json=body, headers=headers)
            assert answer.status_code == status, answer.text
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if "hold-" in line]
    assert [line["status"] for line in lines] == [201, 402, 200]
    assert [line["account_id"] for line in lines] == ["acme"] * 3
