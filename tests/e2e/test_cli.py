"""The operator's CLI on a fresh SQLite file, and `creditmeter serve` as a real process."""

from __future__ import annotations

import calendar
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from creditmeter import keys
from creditmeter.bills import Window, bill_total
from creditmeter.categories import CATEGORIES
from creditmeter.cli import main
from creditmeter.credits.balances import Entry, entries
from creditmeter.http import create_app
from creditmeter.money import format_credits
from creditmeter.settings import Settings
from creditmeter.store import open_store
from tests.conftest import bearer
from tests.conftest import test_settings as settings_for_tests
from tests.e2e.served import Served as LiveServer
from tests.support.server import EXECUTABLE

SHANGHAI = ZoneInfo("Asia/Shanghai")
SEED_FIELDS = ["date", "start_date", "end_date", "total", *CATEGORIES]
CURL = re.compile(
    r"curl --location '(?P<base>http://[^/']+)/v1/account/bill/page\?page=1&page_size=10"
    r"&start_time=(?P<start>\d{13})&end_time=(?P<end>\d{13})' \\\n"
    r"--header 'Authorization: Bearer (?P<token>cmr_[0-9A-Za-z_]+)' \\\n"
    r"--header 'Content-Type: application/json'"
)


class Cli:
    """`creditmeter ...` in this process, against one SQLite file."""

    def __init__(self, url: str, public_url: str = "http://127.0.0.1:8000"):
        self.url = url
        self.env = {"CREDITMETER_DATABASE_URL": url, "CREDITMETER_PUBLIC_URL": public_url}

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = CliRunner(env=self.env).invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, (args, result.output, result.stderr)
        return result

    def total(self, account_id: str = "acme") -> Decimal:
        """December 2024 in Shanghai, straight from the store."""
        store = open_store(Settings(database_url=self.url), upgrade=False)
        try:
            window = Window(account_id, None, 1732982400000, 1735660799999, SHANGHAI, SHANGHAI.key)
            return Decimal(sum(bill_total(store=store, window=window)[2])) / 1_000_000
        finally:
            store.dispose()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(f"sqlite:///{tmp_path / 'fresh' / 'ledger.db'}")


def _flat(text: str) -> str:
    """Rich may wrap long lines on stderr; compare with whitespace collapsed."""
    return " ".join(text.split())


def test_db_upgrade_and_accounts(cli: Cli, tmp_path: Path) -> None:
    assert "current schema" in cli("db", "upgrade").stdout
    assert (tmp_path / "fresh" / "ledger.db").exists()
    assert "current schema" in cli("db", "upgrade").stdout  # again: nothing to do
    created = cli("accounts", "create", "acme", "--name", "Acme Inc", "--timezone", "Asia/Shanghai")
    assert "acme" in created.stdout
    assert "Asia/Shanghai" in created.stdout
    cli("accounts", "create", "beta", "--low-balance-threshold", "12.000001")
    taken = cli("accounts", "create", "acme", code=1)
    assert "'acme' already exists" in _flat(taken.stderr)
    assert "Traceback" not in taken.output
    bad_zone = cli("accounts", "create", "gamma", "--timezone", "Mars/Base", code=1)
    assert "timezone" in _flat(bad_zone.stderr)
    assert "Mars/Base" in _flat(bad_zone.stderr)
    bad_id = cli("accounts", "create", "Not Valid", code=1)
    assert "not a valid id" in _flat(bad_id.stderr)
    listed = json.loads(cli("accounts", "list", "--json").stdout, parse_float=Decimal)
    assert [(a["id"], a["name"], a["timezone"], a["low_balance_threshold"]) for a in listed] == [
        ("acme", "Acme Inc", "Asia/Shanghai", None),
        ("beta", "beta", "UTC", Decimal("12.000001")),  # in credits, as the API writes it
    ]
    table = cli("accounts", "list").stdout
    assert "Acme Inc" in table
    assert "Asia/Shanghai" in table
    assert "12.000001" in table


def test_accounts_create_works_on_a_fresh_machine(tmp_path: Path) -> None:
    cli = Cli(f"sqlite:///{tmp_path / 'new' / 'deeper' / 'ledger.db'}")
    assert "created account acme" in cli("accounts", "create", "acme").stdout


def test_keys(cli: Cli) -> None:
    cli("accounts", "create", "acme", "--timezone", "Asia/Shanghai")
    read = cli("keys", "create", "--account", "acme", "--json")
    read_key = json.loads(read.stdout)  # stdout is one JSON object
    assert read_key["key"].startswith("cmr_")
    assert keys.parse_token(read_key["key"]) == read_key["key_id"]
    assert read_key["scope"] == "read"
    assert read_key["account_id"] == "acme"
    bound = json.loads(
        cli(
            "keys", "create", "--account", "acme", "--bot", "b1", "--scope", "read",
            "--expires-in", "2", "--name", "b1 only", "--json",
        ).stdout
    )  # fmt: skip
    assert bound["bot_id"] == "b1"
    assert bound["expires_at"] - bound["created_at"] == 2 * 86_400_000
    ingest = json.loads(cli("keys", "create", "--platform", "--scope", "ingest", "--json").stdout)
    admin = json.loads(cli("keys", "create", "--platform", "--scope", "admin", "--json").stdout)
    assert ingest["key"].startswith("cmi_")
    assert ingest["account_id"] is None
    assert admin["key"].startswith("cma_")
    human = cli("keys", "create", "--account", "acme")
    assert re.search(r"key_id: \w{12}\nkey:    cmr_", human.stdout)

    for args, words in (
        (["--platform"], "--scope ingest or --scope admin"),
        (["--platform", "--scope", "read"], "--scope ingest or --scope admin"),
        (["--account", "acme", "--platform", "--scope", "admin"], "either --account"),
        ([], "either --account"),
        (["--account", "acme", "--scope", "admin"], "scope read"),
        (["--platform", "--scope", "ingest", "--bot", "b1"], "--bot"),
    ):
        assert words in _flat(cli("keys", "create", *args, code=2).output)
    missing = cli("keys", "create", "--account", "ghost", code=1)
    assert "'ghost' does not exist" in _flat(missing.stderr)

    # The keys work over HTTP at once.
    store = open_store(Settings(database_url=cli.url), upgrade=False)
    app = create_app(settings_for_tests(database_url=cli.url), store=store)
    page = "/v1/account/bill/page?start_time=1732982400000&end_time=1735660799999"
    try:
        with TestClient(app) as client:
            assert client.get(page, headers=bearer(read_key["key"])).status_code == 200
            assert client.get(page + "&bot_id=b2", headers=bearer(bound["key"])).status_code == 403
            accounts = client.get("/v1/admin/accounts", headers=bearer(admin["key"]))
            assert accounts.status_code == 200

            listed = cli("keys", "list", "--json").stdout
            for secret in (read_key["key"], bound["key"], ingest["key"], admin["key"]):
                assert secret not in listed
            assert "secret_hash" not in listed
            found = {k["key_id"]: k for k in json.loads(listed)}
            assert len(found) == 5
            assert found[bound["key_id"]]["name"] == "b1 only"
            only_acme = json.loads(cli("keys", "list", "--account", "acme", "--json").stdout)
            assert {k["scope"] for k in only_acme} == {"read"}

            assert read_key["key_id"] in cli("keys", "revoke", read_key["key_id"]).stdout
            revoked = client.get(page, headers=bearer(read_key["key"]))
            assert revoked.status_code == 401
            assert revoked.json()["code"] == 40127
            table = cli("keys", "list").stdout
            assert re.search(rf"{read_key['key_id']}.*revoked", table)
            assert read_key["key"] not in table
            unknown = cli("keys", "revoke", "AAAAAAAAAAAA", code=1)
            assert "'AAAAAAAAAAAA' does not exist" in _flat(unknown.stderr)
    finally:
        store.dispose()


def _curl_parts(output: str) -> re.Match[str]:
    match = CURL.search(output)
    assert match is not None, output
    return match


def _last_whole_month(today: date) -> tuple[date, date]:
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def _shanghai_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).timestamp() * 1000)


def test_demo_twice(cli: Cli) -> None:
    first = cli("demo")
    added = re.search(r"(\d+) events added, (\d+) already there", first.stdout)
    assert added is not None, first.stdout
    events = int(added.group(1))
    assert events > 10_000
    assert added.group(2) == "0"
    journal = _journal(cli)
    _demo_journal_is_its_history(journal, first.stdout)
    curl = _curl_parts(first.stdout)
    assert f"read key: {curl['token']}" in first.stdout
    assert curl["base"] == "http://127.0.0.1:8000"
    month_first, month_last = _last_whole_month(datetime.now(SHANGHAI).date())
    assert int(curl["start"]) == _shanghai_ms(month_first)
    assert int(curl["end"]) == _shanghai_ms(month_last + timedelta(days=1)) - 1

    second = cli("demo")
    again = re.search(r"(\d+) events added, (\d+) already there", second.stdout)
    assert again is not None, second.stdout
    # Nothing is added again (but the hour that may have begun since, today).
    assert int(again.group(1)) < 500
    assert int(again.group(1)) + int(again.group(2)) >= events
    assert _curl_parts(second.stdout)["start"] == curl["start"]
    listed = json.loads(cli("accounts", "list", "--json").stdout)
    assert [(a["id"], a["timezone"]) for a in listed] == [("demo", "Asia/Shanghai")]
    # ... and no grant a second time: the journal only has usage entries after the first run's
    assert "0 grants added" in second.stdout
    assert [e.row.type for e in _journal(cli)[len(journal) :]] == ["usage"] * (
        len(_journal(cli)) - len(journal)
    )


def _journal(cli: Cli) -> list[Entry]:
    store = open_store(Settings(database_url=cli.url), upgrade=False)
    try:
        return entries(store=store, account_id="demo", after_seq=0, limit=100_000)
    finally:
        store.dispose()


def _demo_journal_is_its_history(journal: list[Entry], stdout: str) -> None:
    """The demo's credits, dated as its history: a plan on the first of each month, spent
    first and expiring at the month's end (one with credits left), a purchase on the first
    day valid three years, and usage entries through the 120 days whose balance is positive
    today and lower than it was."""
    today = datetime.now(SHANGHAI).date()
    first_day = today - timedelta(days=119)
    grants = [e.row for e in journal if e.row.type == "grant"]
    months = sorted({(today - timedelta(days=d)).replace(day=1) for d in range(120)})
    assert [g.grant_id for g in grants if g.grant_id != "demo-purchase"] == [
        f"demo-plan-{m:%Y-%m}" for m in months
    ]
    assert [g.time for g in grants if g.grant_id != "demo-purchase"] == [
        _shanghai_ms(m) for m in months
    ]
    purchase = next(g for g in grants if g.grant_id == "demo-purchase")
    assert purchase.time == _shanghai_ms(first_day)
    expiries = [e.row for e in journal if e.row.type == "expiry"]
    assert expiries, "some month leaves credits of its plan to expire"
    for expiry in expiries:
        assert expiry.grant_id is not None
        assert expiry.grant_id.startswith("demo-plan-")
        month = date.fromisoformat(expiry.grant_id.removeprefix("demo-plan-") + "-01")
        assert expiry.time == _shanghai_ms((month + timedelta(days=32)).replace(day=1))
    usage = [e.row for e in journal if e.row.type == "usage"]
    assert len(usage) > 120 * 4  # batches through the days, not one at the end
    assert usage[0].time < _shanghai_ms(first_day + timedelta(days=1))
    assert [e.row.time for e in journal] == sorted(e.row.time for e in journal)
    last = journal[-1].row
    assert last.overage_after == 0
    assert 0 < last.balance_after < grants[1].balance_after
    plan = re.search(r"a plan of (\d+) each month", stdout)
    assert plan is not None
    assert int(plan.group(1)) % 1000 == 0
    assert f"balance now {format_credits(last.balance_after)}" in stdout


# --- import ---------------------------------------------------------------------------------


def _events(n: int, prefix: str = "i") -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}{i}",
            "account_id": "acme",
            "bot_id": f"b{i % 3}",
            "category": CATEGORIES[i % 8],
            "credits": f"{i}.25",
            "timestamp": 1733011200000 + i * 60_000,
        }
        for i in range(n)
    ]


def _write_jsonl(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def _import(cli: Cli, path: Path, code: int = 0) -> Result:
    return cli("import", str(path), code=code)


def _summary(result: Result) -> dict[str, int]:
    summary: dict[str, int] = json.loads(result.stdout.strip().splitlines()[-1])
    return summary


def test_import_json_lines_twice(cli: Cli, tmp_path: Path) -> None:
    cli("accounts", "create", "acme", "--timezone", "Asia/Shanghai")
    events = _events(1200)  # more than one batch
    events[5]["metadata"] = {"model": "gpt-4o", "tokens": 12}
    events[6]["conversation_id"] = "conv-1"
    events[7]["timestamp"] = "2024-12-01T10:00:00.500+08:00"
    events[8]["credits"] = 0.5
    path = _write_jsonl(tmp_path / "events.jsonl", events)
    with path.open("a") as handle:
        handle.write("\n   \n")  # blank lines are skipped
    assert _summary(_import(cli, path)) == {"events": 1200, "accepted": 1200, "duplicates": 0}
    expected = sum(Decimal(str(e["credits"])) for e in events)
    assert cli.total() == expected
    assert _summary(_import(cli, path)) == {"events": 1200, "accepted": 0, "duplicates": 1200}
    assert cli.total() == expected


def test_import_csv_twice(cli: Cli, tmp_path: Path) -> None:
    cli("accounts", "create", "acme", "--timezone", "Asia/Shanghai")
    path = tmp_path / "events.csv"
    path.write_text(
        "id,account_id,bot_id,category,credits,timestamp,conversation_id,metadata\n"
        "c1,acme,b1,chat,1.5,1733011200000,,\n"
        'c2,acme,b1,tts,0.25,2024-12-02T10:00:00+08:00,conv-9,"{""model"": ""x""}"\n'
        "c3,acme,b2,rerank,100,1733011260000,conv-9,\n"
    )
    assert _summary(_import(cli, path)) == {"events": 3, "accepted": 3, "duplicates": 0}
    assert _summary(_import(cli, path)) == {"events": 3, "accepted": 0, "duplicates": 3}
    assert cli.total() == Decimal("101.75")
    # The same events as JSON Lines are duplicates too: one id, one content, any form.
    same = _write_jsonl(
        tmp_path / "same.jsonl",
        [
            {"id": "c1", "account_id": "acme", "bot_id": "b1", "category": "chat",
             "credits": "1.50", "timestamp": "2024-12-01T00:00:00Z"},
        ],
    )  # fmt: skip
    assert _summary(_import(cli, same)) == {"events": 1, "accepted": 0, "duplicates": 1}


_BAD_FIELDS: dict[str, dict[str, Any]] = {
    "negative": {"credits": -1},
    "precision": {"credits": "1.1234567"},
    "future": {"timestamp": "2999-01-01T00:00:00Z"},
    "ghost": {"account_id": "ghost"},
}


@pytest.mark.parametrize(
    ("bad_line", "flaw", "words"),
    [
        (3, "negative", ["line 3", "credits", "no sign"]),
        (1102, "precision", ["line 1102", "credits", "6 decimal places"]),
        (1001, "future", ["line 1001", "timestamp", "24 hours"]),
        (2, "not json", ["line 2", "not valid JSON"]),
        (4, "ghost", ["line 4", "account 'ghost' does not exist"]),
        (1050, "ghost", ["line 1050", "'ghost'"]),
        (1060, "conflict", ["line 1060", "'i7'", "line 8"]),
        (20, "conflict", ["line 20", "'i7'", "line 8"]),
    ],
)
def test_import_with_one_bad_line_imports_nothing(
    cli: Cli, tmp_path: Path, bad_line: int, flaw: str, words: list[str]
) -> None:
    cli("accounts", "create", "acme", "--timezone", "Asia/Shanghai")
    events = _events(1200)
    lines = [json.dumps(e) for e in events]
    if flaw == "not json":
        lines[bad_line - 1] = "{not json"
    elif flaw == "conflict":  # the id of line 8, with other content
        lines[bad_line - 1] = json.dumps(events[7] | {"credits": "99"})
    else:
        lines[bad_line - 1] = json.dumps(events[bad_line - 1] | _BAD_FIELDS[flaw])
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = _import(cli, path, code=1)
    message = _flat(result.stderr)
    for word in words:
        assert word in message, message
    assert "nothing was imported" in message
    assert "Traceback" not in result.output
    assert cli.total() == 0


def test_import_csv_bad_line_is_named(cli: Cli, tmp_path: Path) -> None:
    cli("accounts", "create", "acme")
    path = tmp_path / "bad.csv"
    path.write_text(
        "id,account_id,bot_id,category,credits,timestamp\n"
        "c1,acme,b1,chat,1,1733011200000\n"
        "c2,acme,b1,video,1,1733011200000\n"
    )
    message = _flat(_import(cli, path, code=1).stderr)
    assert "line 3" in message
    assert "category" in message
    columns = tmp_path / "columns.csv"
    columns.write_text("id,account,bot_id\nc1,acme,b1\n")
    assert "unknown column(s) account" in _flat(_import(cli, columns, code=1).stderr)
    assert cli.total() == 0


def test_import_conflicting_with_stored_events_imports_nothing(cli: Cli, tmp_path: Path) -> None:
    cli("accounts", "create", "acme", "--timezone", "Asia/Shanghai")
    _import(cli, _write_jsonl(tmp_path / "first.jsonl", _events(3)))
    before = cli.total()
    events = _events(1500, "n")
    events[1400] = _events(3)[1] | {"credits": "77"}  # i1, stored with other content
    result = _import(cli, _write_jsonl(tmp_path / "second.jsonl", events), code=1)
    message = _flat(result.stderr)
    assert "line 1401" in message
    assert "'i1'" in message
    assert cli.total() == before


def test_report(cli: Cli, tmp_path: Path) -> None:
    cli("accounts", "create", "acme", "--timezone", "Asia/Shanghai")
    path = _write_jsonl(
        tmp_path / "e.jsonl",
        [
            _events(1)[0] | {"credits": "12.345678", "category": "chat"},
            _events(2)[1] | {"credits": "0.000001", "category": "tts", "timestamp": 1733097600000},
        ],
    )
    _import(cli, path)
    report = cli("report", "--account", "acme", "--start", "2024-12-01", "--end", "2024-12-03")
    lines = report.stdout.splitlines()
    assert any("acme (Asia/Shanghai)" in line for line in lines)
    header = next(line for line in lines if "date" in line)
    for name in ("total", *CATEGORIES):
        assert name in header  # never cut to "knowl…"
    day_1 = next(line for line in lines if "2024-12-01" in line)
    assert day_1.split("│")[2].strip() == "12.345678"
    day_2 = next(line for line in lines if "2024-12-02" in line)
    assert "0.000001" in day_2
    assert any("2024-12-03" in line for line in lines)
    total = next(
        line for line in lines if "total" in line and "2024" not in line and "date" not in line
    )
    assert "12.345679" in total
    long = cli("report", "--account", "acme", "--start", "2024-09-01", "--end", "2024-12-31")
    assert "2024-09-01" in long.stdout  # more than 90 days: asked for in pieces
    assert "12.345679" in long.stdout
    assert (
        "--end is before --start"
        in cli(
            "report", "--account", "acme", "--start", "2024-12-03", "--end", "2024-12-01", code=2
        ).output
    )
    unknown = cli(
        "report", "--account", "ghost", "--start", "2024-12-01", "--end", "2024-12-01", code=1
    )
    assert "'ghost' does not exist" in _flat(unknown.stderr)


# --- the real server ------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`creditmeter serve` on a free port; yields its URL and the environment it runs with."""
    running = LiveServer(tmp_path)
    running.start()
    try:
        yield running.base_url, running.env
    finally:
        if running.process is not None:
            running.stop()


def _run_curl(command: str, tmp_path: Path) -> tuple[int, dict[str, str], str]:
    """The printed command, pasted into a shell (or, without curl, replayed with httpx)."""
    if shutil.which("curl") and shutil.which("bash"):
        headers_file = tmp_path / "headers.txt"
        pasted = f"{command} --silent --show-error --max-time 20 --dump-header {headers_file}"
        done = subprocess.run(
            ["bash", "-c", pasted], capture_output=True, text=True, timeout=30, check=True
        )
        status_line, *header_lines = headers_file.read_text().strip().splitlines()
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(status_line.split()[1]), headers, done.stdout
    match = _curl_parts(command)
    url = re.search(r"'(http[^']+)'", command)
    assert url is not None
    answer = httpx.get(
        url.group(1),
        headers={"Authorization": f"Bearer {match['token']}", "Content-Type": "application/json"},
        timeout=20,
    )
    return answer.status_code, {k.lower(): v for k, v in answer.headers.items()}, answer.text


def test_served_demo_answers_the_printed_curl_command(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, env = server
    demo = subprocess.run(
        [str(EXECUTABLE), "demo"], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    match = _curl_parts(demo.stdout)
    assert match["base"] == base
    status, headers, body = _run_curl(match.group(0), tmp_path)
    assert status == 200, body
    rows = json.loads(body, parse_float=Decimal, parse_int=Decimal)
    first = datetime.fromtimestamp(int(match["start"]) / 1000, SHANGHAI).date()
    assert first.day == 1
    days_in_month = calendar.monthrange(first.year, first.month)[1]
    assert headers["x-total-count"] == str(days_in_month)
    assert 'rel="next"' in headers["link"]
    assert len(rows) == 10
    for offset, row in enumerate(rows):
        assert list(row) == SEED_FIELDS
        day = (first + timedelta(days=offset)).isoformat()
        assert row["date"] == row["start_date"] == row["end_date"] == day
        assert row["total"] == sum(row[name] for name in CATEGORIES)
        assert row["total"] > 0
        assert row["chat"] > 0

    # A key revoked by another process fails on its very next request to the server.
    key_id = keys.parse_token(match["token"])
    assert key_id is not None
    subprocess.run(
        [str(EXECUTABLE), "keys", "revoke", key_id],
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    status, _, body = _run_curl(match.group(0), tmp_path)
    assert status == 401
    assert json.loads(body)["code"] == 40127


def test_import_run_ids_and_report_conversations_and_runs(cli: Cli, tmp_path: Path) -> None:
    cli("accounts", "create", "acme", "--timezone", "Asia/Shanghai")
    path = tmp_path / "threads.csv"
    path.write_text(
        "id,account_id,bot_id,category,credits,timestamp,conversation_id,run_id\n"
        "t1,acme,b1,chat,1.5,1733011200000,conv-1,\n"
        "t2,acme,b1,moderation,0.01,1733011200001,conv-1,\n"
        "t3,acme,b1,chat,4,1733011300000,conv-2,\n"
        "t4,acme,b2,question_tag,0.5,1733011200000,,run-7\n"
    )
    assert _summary(_import(cli, path)) == {"events": 4, "accepted": 4, "duplicates": 0}
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id,account_id,bot_id,category,credits,timestamp,run_id\n"
        "t9,acme,b1,moderation,1,1733011200000,run-1\n"
    )
    assert "run_id" in _import(cli, bad, code=1).output
    window = ("--account", "acme", "--start", "2024-12-01", "--end", "2024-12-01")
    conversations = _flat(cli("report", *window, "--conversations").output)
    assert "2 most expensive of 2 conversations" in conversations
    assert conversations.index("conv-2") < conversations.index("conv-1")  # by cost
    assert "1.51" in conversations
    runs = _flat(cli("report", *window, "--runs").output)
    assert "run-7" in runs
    assert "0.5" in runs
