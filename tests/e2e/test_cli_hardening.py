"""Issue 15 at the CLI: deep metadata in an import, control characters and markup in what
the CLI prints back. No traceback, ever."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from creditmeter.keys import Key
from creditmeter.settings import Settings
from creditmeter.store import directory, open_store
from tests.e2e.test_cli import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(f"sqlite:///{tmp_path / 'ledger.db'}")


def _event(event_id: str, metadata: object) -> str:
    return json.dumps(
        {
            "id": event_id,
            "account_id": "acme",
            "bot_id": "b1",
            "category": "chat",
            "credits": "1",
            "timestamp": 1733011200000,
            "metadata": metadata,
        }
    )


@pytest.mark.parametrize(("kind", "depth"), [("object", 500), ("array", 600), ("array", 65)])
def test_import_of_deep_metadata_names_the_line(
    cli: Cli, tmp_path: Path, kind: str, depth: int
) -> None:
    cli("accounts", "create", "acme")
    deep = "1"
    for _ in range(depth - 1):
        deep = f'{{"a": {deep}}}' if kind == "object" else f"[{deep}]"
    path = tmp_path / "deep.jsonl"
    path.write_text(
        _event("ok", {"n": 1})
        + "\n"
        + _event("deep", {}).replace("{}", '{"a": ' + deep + "}")
        + "\n"
    )
    result = cli("import", str(path), code=1)
    assert "Traceback" not in result.output
    message = " ".join(result.stderr.split())
    assert "line 2" in message
    assert "64" in message
    assert "nothing was imported" in message


def test_keys_list_never_prints_a_terminal_escape(cli: Cli, tmp_path: Path) -> None:
    cli("accounts", "create", "acme")
    # A name stored before names had to be printable, straight into the table.
    store = open_store(Settings(database_url=cli.url), upgrade=False)
    try:
        with store.write() as conn:
            directory.insert_key(
                conn,
                asdict(
                    Key(
                        key_id="AAAAAAAAAAAA",
                        secret_hash="0" * 64,
                        scope="read",
                        account_id="acme",
                        bot_id=None,
                        name="\x1b[2J\x1b[31mpwned [bold]x[/bold]\x07",
                        created_at=1,
                        expires_at=None,
                        revoked_at=None,
                    )
                ),
            )
    finally:
        store.dispose()
    listed = cli("keys", "list").stdout
    assert "\x1b" not in listed
    assert "\x07" not in listed
    assert "\\x1b[2J" in listed
    assert "[bold]x[/bold]" in listed  # shown as text, not read as markup
    assert json.loads(cli("keys", "list", "--json").stdout)[0]["name"].startswith("\x1b[2J")


@pytest.mark.parametrize("name", ["\x1b[31mred", "tab\there", "nul\x00"])
def test_keys_create_refuses_a_name_that_is_not_printable(cli: Cli, name: str) -> None:
    cli("accounts", "create", "acme")
    result = cli("keys", "create", "--account", "acme", "--name", name, code=1)
    assert "printable" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("account_id", ["[/x]", "[red]x", "a\x1b[2Jb"])
def test_errors_quoting_markup_or_escapes_are_printed_as_text(cli: Cli, account_id: str) -> None:
    result = cli("accounts", "create", account_id, code=1)
    assert "not a valid id" in result.stderr
    assert "\x1b" not in result.stderr
    assert "Traceback" not in result.output
