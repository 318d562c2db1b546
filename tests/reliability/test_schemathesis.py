"""Schemathesis against the OpenAPI document a live `creditmeter serve` serves: every
operation, every default check, every phase, once per kind of valid key. The exclusions,
each with its reason, are in schemathesis.toml beside this file. CI runs a bounded run with
a fixed seed; CREDITMETER_RELIABILITY_SCALE=full runs the longer one of docs/reliability.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.reliability.support import FULL, report, seed
from tests.support.server import Server
from tests.support.stores import opened_store

from creditmeter import keys
from creditmeter.openapi import document

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CONFIG = Path(__file__).parent / "schemathesis.toml"
SEED = 20261125
MAX_EXAMPLES = 1000 if FULL else 8


def _token(url: str, kind: str) -> str:
    """A valid key of `kind`, over a store seeded with accounts acme, beta and gamma."""
    made = seed(url)
    if kind == "bot-bound read":
        with opened_store(url) as store:
            return keys.create_key(store=store, scope="read", account_id="acme", bot_id="b1").token
    return {"admin": made.admin, "ingest": made.ingest, "read": made.read["acme"]}[kind]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["admin", "ingest", "read", "bot-bound read"])
def test_schemathesis_finds_nothing(kind: str, tmp_path: Path) -> None:
    if not SCHEMATHESIS.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{SCHEMATHESIS} is missing: install the dev extras")
        pytest.skip(f"{SCHEMATHESIS} is not installed")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    token = _token(url, kind)
    started = time.monotonic()
    # A server of its own: the admin run creates accounts and keys and revokes some.
    with Server(url, tmp_path / "serve.log") as server:
        document = httpx.get(f"{server.base_url}/openapi.json", timeout=30).json()
        operations = sum(
            1
            for item in document["paths"].values()
            for method in item
            if method in {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
        )
        done = subprocess.run(
            [
                str(SCHEMATHESIS),
                "--config-file", str(CONFIG),
                "--no-color",
                "run", f"{server.base_url}/openapi.json",
                "--header", f"Authorization: Bearer {token}",
                "--seed", str(SEED),
                "--max-examples", str(MAX_EXAMPLES),
                "--workers", "1",
                "--request-timeout", "30",
            ],
            cwd=tmp_path,  # its .hypothesis folder goes there
            capture_output=True,
            text=True,
            timeout=3600 if FULL else 300,
            env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""},
            check=False,
        )  # fmt: skip
        log = server.log_text()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-8000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    tested = re.search(r"Tested: (\d+)", output)
    cases = re.search(r"(\d+) generated", output)
    assert selected, output[-3000:]
    assert tested, output[-3000:]
    assert cases, output[-3000:]
    assert int(selected[1]) == int(selected[2]) == int(tested[1]) == operations, output[-3000:]
    assert "unhandled error" not in log
    assert token not in log
    report(
        "schemathesis",
        key=kind,
        seed=SEED,
        max_examples=MAX_EXAMPLES,
        operations=operations,
        test_cases=int(cases[1]),
        failures=0,
        seconds=round(time.monotonic() - started, 1),
    )


def test_the_document_promises_only_what_the_code_answers() -> None:
    """FastAPI would document a 422 on every route with parameters; validation answers 400
    {code, message} here (the bad-input catalogue shows it), so no 422 may be promised."""
    served = document()
    for path, item in served["paths"].items():
        for method, operation in item.items():
            assert "422" not in operation["responses"], f"{method.upper()} {path}"
    assert "HTTPValidationError" not in served["components"]["schemas"]
