"""The committed documents say what the code does."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from creditmeter import demo
from creditmeter.categories import BILL_COLUMN, CATEGORIES
from creditmeter.client import ApiError
from creditmeter.days import day_start_ms, zone
from creditmeter.openapi import render
from creditmeter.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_json_is_what_the_app_serves() -> None:
    committed = (ROOT / "openapi.json").read_text()
    assert json.loads(committed) == json.loads(render()), (
        "openapi.json drifted from the app; run `make openapi` and review the diff"
    )


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`CREDITMETER_{name.upper()}`" in text, (
            f"CREDITMETER_{name.upper()} is undocumented"
        )


def test_every_documented_setting_exists() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    known = {f"CREDITMETER_{name.upper()}" for name in Settings.model_fields}
    mentioned = set(re.findall(r"`(CREDITMETER_[A-Z_]+)`", text)) - {
        "CREDITMETER_TEST_POSTGRES_URL"
    }
    assert mentioned <= known, f"documented but not settings: {mentioned - known}"


def test_the_client_error_table_lists_every_error_class() -> None:
    text = (ROOT / "docs" / "client.md").read_text()
    documented = {
        name: int(code) for name, code in re.findall(r"^\| `(\w+)` \| (\d{5}) \|", text, re.M)
    }
    raised = {cls.__name__: cls.code for cls in ApiError.__subclasses__()}
    assert documented == raised


def test_the_readmes_sample_is_what_the_demo_answers() -> None:
    """README's curl is the one `creditmeter demo` prints in November 2026, and its first row
    is 1 October's bill of the demo's events, summed here by brute force."""
    text = (ROOT / "README.md").read_text()
    url = re.search(r"^curl --location '([^']+)'", text, re.M)
    assert url is not None
    assert url.group(1) in demo.curl_command("http://127.0.0.1:8000", "", date(2026, 11, 15))
    sample = re.search(r"```json\n\[(\{.*?\}), …\]\n```", text, re.S)
    assert sample is not None
    row = json.loads(sample.group(1), parse_float=Decimal)
    day = date.fromisoformat(row["date"])
    first, end = (day_start_ms(d, zone(demo.TIMEZONE)) for d in (day, day + timedelta(days=1)))
    micro = [0] * len(CATEGORIES)
    for event in demo.demo_events(day):
        if first <= event.ts < end:
            micro[BILL_COLUMN[event.category]] += event.credits
    bill = {name: Decimal(m) / 1_000_000 for name, m in zip(CATEGORIES, micro, strict=True)}
    assert {name: row[name] for name in CATEGORIES} == bill
    assert row["total"] == sum(bill.values())
