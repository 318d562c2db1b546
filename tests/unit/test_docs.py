"""The committed documents say what the code does."""

from __future__ import annotations

import json
import re
from pathlib import Path

from creditmeter.client import ApiError
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
