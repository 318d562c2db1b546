"""The CLI never prints a traceback: every failure is a message and a documented exit
status (issue 15, items 8, 11 and 13)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import Result

from creditmeter.cli_support import EXIT_REFUSED, EXIT_STORE, EXIT_USAGE
from tests.e2e.test_cli import Cli
from tests.support.server import EXECUTABLE

EVENT = {
    "id": "e1",
    "account_id": "acme",
    "bot_id": "b1",
    "category": "chat",
    "credits": "1.5",
    "timestamp": 1733011200000,
}


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    made = Cli(f"sqlite:///{tmp_path / 'ledger.db'}")
    made("accounts", "create", "acme")
    return made


def _says(result: Result, *words: str) -> None:
    text = " ".join(result.stderr.split())
    assert "Traceback" not in result.output
    for word in words:
        assert word in text, text


def test_a_bot_binding_follows_the_slug_rule(cli: Cli) -> None:
    for bad in ("Support-Bot", "<b>bot</b>", "-x", "a" * 65):
        result = cli("keys", "create", "--account", "acme", "--bot", bad, code=EXIT_REFUSED)
        _says(result, "bot_id", "not a valid id")
    assert json.loads(cli("keys", "list", "--json").stdout) == []
    good = json.loads(
        cli("keys", "create", "--account", "acme", "--bot", "support-bot", "--json").stdout
    )
    assert good["bot_id"] == "support-bot"


def test_a_zone_must_be_an_iana_zone(cli: Cli) -> None:
    for name in ("localtime", "posixrules", "posix/Asia/Shanghai", "right/UTC"):
        result = cli("accounts", "create", "z1", "--timezone", name, code=EXIT_REFUSED)
        _says(result, "timezone", "not an IANA time zone")
        report = cli(
            "report",
            "--account",
            "acme",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-01",
            "--timezone",
            name,
            code=EXIT_REFUSED,
        )
        _says(report, "not an IANA time zone")
    assert "Asia/Calcutta" in cli("accounts", "create", "z2", "--timezone", "Asia/Calcutta").stdout


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://user@localhost/db", ["mysql:// is not supported", "postgresql://"]),
        ("ledger.db", ["is not a URL", "sqlite:///ledger.db"]),
        ("sqlite:///{dir}", ["is a directory"]),
        ("sqlite:///{dir}/not-a-db.txt", ["file is not a database"]),
        ("sqlite:///{dir}/not-a-db.txt/inner.db", ["cannot make the directory"]),
        ("sqlite://", ["names no file", "sqlite:///relative.db"]),
        ("sqlite:///", ["names no file"]),
        ("sqlite:///:memory:", ["names no file", "lose every event"]),
        ("postgresql://postgres@[::1:5432/x", ["is not a URL"]),
        ("postgresql://postgres@host:port/x", ["is not a URL"]),
    ],
)
def test_a_store_that_cannot_be_used_is_named(tmp_path: Path, url: str, words: list[str]) -> None:
    (tmp_path / "not-a-db.txt").write_text("hello, this is not SQLite\n" * 100)
    cli = Cli(url.format(dir=tmp_path))
    for command in (
        ["accounts", "list"],
        ["db", "upgrade"],
        ["report", "--account", "a", "--start", "2024-01-01", "--end", "2024-01-02"],
    ):
        _says(cli(*command, code=EXIT_STORE), *words)


def test_a_store_at_an_unknown_newer_revision(cli: Cli, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "ledger.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'f00dfeed0099'")
    for command in (["accounts", "list"], ["db", "upgrade"]):
        _says(cli(*command, code=EXIT_STORE), "'f00dfeed0099'", "newer version", "backup")


def test_a_bad_setting_is_a_usage_error(cli: Cli) -> None:
    cli.env["CREDITMETER_LOG_FORMAT"] = "xml"
    _says(cli("accounts", "list", code=EXIT_USAGE), "CREDITMETER_LOG_FORMAT")


@pytest.mark.parametrize(
    ("start", "end"), [("9999-12-01", "9999-12-31"), ("0001-01-01", "0001-01-05")]
)
def test_report_at_the_ends_of_the_calendar(cli: Cli, start: str, end: str) -> None:
    result = cli("report", "--account", "acme", "--start", start, "--end", end, code=EXIT_REFUSED)
    _says(result, "out of range")
    cli("report", "--account", "acme", "--start", "9999-12-20", "--end", "9999-12-28")


def test_report_bot_must_be_a_slug(cli: Cli) -> None:
    result = cli(
        "report",
        "--account",
        "acme",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-01",
        "--bot",
        "NOT A SLUG",
        code=EXIT_REFUSED,
    )
    _says(result, "--bot", "not a valid id")


def test_import_accepts_a_byte_order_mark(cli: Cli, tmp_path: Path) -> None:
    csv_file = tmp_path / "excel.csv"
    csv_file.write_bytes(
        "\ufeffid,account_id,bot_id,category,credits,timestamp\n"
        "c1,acme,b1,chat,2,1733011200000\n".encode()
    )
    jsonl_file = tmp_path / "events.jsonl"
    jsonl_file.write_bytes("\ufeff".encode() + json.dumps(EVENT).encode() + b"\n")
    for path in (csv_file, jsonl_file):
        summary = json.loads(cli("import", str(path)).stdout.splitlines()[-1])
        assert summary == {"events": 1, "accepted": 1, "duplicates": 0}
    assert cli.total() == Decimal("3.5")


@pytest.mark.parametrize(
    ("name", "content", "where"),
    [
        (
            "latin1.csv",
            b"id,account_id,bot_id,category,credits,timestamp\n"
            b"c1,acme,b\xe9,chat,2,1733011200000\n",
            "line 2, byte 10",
        ),
        (
            "latin1.jsonl",
            json.dumps(EVENT).encode()
            + b"\n"
            + json.dumps(EVENT).encode().replace(b"b1", b"b\xe9")
            + b"\n",
            "line 2",
        ),
    ],
)
def test_an_import_that_is_not_utf8_names_the_line_and_imports_nothing(
    cli: Cli, tmp_path: Path, name: str, content: bytes, where: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    _says(cli("import", str(path), code=EXIT_REFUSED), where, "not valid UTF-8", "nothing")
    with sqlite3.connect(tmp_path / "ledger.db") as conn:
        assert conn.execute("SELECT count(*) FROM usage_events").fetchone() == (0,)


def test_report_limit_must_be_positive(cli: Cli) -> None:
    for bad in ("0", "-1", "1001", "99999999999999999999"):
        result = cli(
            "report",
            "--account",
            "acme",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-01",
            "--conversations",
            "--limit",
            bad,
            code=EXIT_USAGE,
        )
        _says(result, "--limit")


def test_report_lists_conversations_or_runs_not_both(cli: Cli) -> None:
    days = ["--account", "acme", "--start", "2024-01-01", "--end", "2024-01-01"]
    both = cli("report", *days, "--conversations", "--runs", code=EXIT_USAGE)
    _says(both, "--conversations or --runs, not both")


@pytest.mark.parametrize("days", ["inf", "-inf", "nan", "0", "-1", "36501", "1e400"])
def test_expiry_in_days_is_a_finite_positive_number(cli: Cli, days: str) -> None:
    grant = cli("grants", "create", "--account", "acme", "--credits", "1", "--expires-in", days,
                code=EXIT_USAGE)  # fmt: skip
    _says(grant, "--expires-in")
    key = cli("keys", "create", "--account", "acme", "--expires-in", days, code=EXIT_USAGE)
    _says(key, "--expires-in")
    assert json.loads(cli("grants", "list", "--account", "acme", "--json").stdout) == []
    assert json.loads(cli("keys", "list", "--json").stdout) == []


def test_balance_entries_is_a_count(cli: Cli) -> None:
    _says(cli("balance", "--account", "acme", "--entries", "-1", code=EXIT_USAGE), "--entries")


def test_a_csv_field_past_the_csv_limit_is_refused_by_line(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    header = "id,account_id,bot_id,category,credits,timestamp,metadata\n"
    path.write_text(
        header
        + "e0,acme,b1,chat,1,1733011200000,\n"
        + "e1,acme,b1,chat,1,1733011200000,"
        + '"'
        + "x" * 200_000
        + '"\n'
    )
    _says(cli("import", str(path), code=EXIT_REFUSED), "after line 2", "field limit", "nothing")
    with sqlite3.connect(tmp_path / "ledger.db") as conn:
        assert conn.execute("SELECT count(*) FROM usage_events").fetchone() == (0,)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "id,id,account_id,bot_id,category,credits,timestamp\n",
            ["column(s) id", "more than once"],
        ),
        (
            "id,account_id,bot_id,category,credits,timestamp\ne1,acme,b1,chat,1,1733011200000,x\n",
            ["line 2", "1 more field(s)"],
        ),
    ],
)
def test_a_csv_whose_rows_do_not_fit_its_header_is_refused(
    cli: Cli, tmp_path: Path, text: str, words: list[str]
) -> None:
    path = tmp_path / "odd.csv"
    path.write_text(text)
    _says(cli("import", str(path), code=EXIT_REFUSED), *words)


@pytest.mark.parametrize(
    "args",
    [
        ["webhooks", "add", "https://93.184.216.34/hook"],  # click.echo
        ["webhooks", "list"],  # a rich table
        ["accounts", "list", "--json"],
    ],
)
def test_a_reader_that_stopped_reading_ends_the_command_quietly(
    tmp_path: Path, args: list[str]
) -> None:
    # `creditmeter webhooks add URL | head -1`: once head has gone, a write fails with EPIPE.
    # The command ends as a Unix tool killed by SIGPIPE is reported: status 141, no message.
    env = {**os.environ, "CREDITMETER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}"}
    for setup in (["accounts", "create", "acme"], ["webhooks", "add", "https://93.184.216.34/a"]):
        subprocess.run([EXECUTABLE, *setup], env=env, capture_output=True, check=True, timeout=60)
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line: deterministic, unlike a race
    try:
        done = subprocess.run(
            [EXECUTABLE, *args], env=env, stdout=write, stderr=subprocess.PIPE, timeout=60
        )
    finally:
        os.close(write)
    assert (done.returncode, done.stderr.decode()) == (141, "")
