"""`creditmeter.client` against a real `creditmeter serve` process: no mocked transport."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from creditmeter.categories import CATEGORIES
from creditmeter.client import (
    Account,
    ApiError,
    AsyncClient,
    Client,
    Conflict,
    Forbidden,
    IngestResult,
    InvalidInput,
    NotFound,
    RetryPolicy,
    Unauthorized,
    UsageEvent,
)
from tests.e2e.served import Served
from tests.support.proxy import LostAnswer, Proxy

ROOT = Path(__file__).resolve().parents[2]
FAST_RETRY = RetryPolicy(attempts=80, backoff=0.05, max_backoff=0.5)
DEC_1 = datetime(2024, 12, 1, tzinfo=UTC)
MINUTE = 60_000


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for the module's tests; each test uses accounts of its own."""
    server = Served(tmp_path_factory.mktemp("client"))
    try:
        server.start()
        yield server
    finally:
        server.kill()


def admin_of(served: Served) -> str:
    return served.platform("admin")


def ingest_of(served: Served) -> str:
    return served.platform("ingest")


# --- the truth: a brute-force sum over the events as they were given --------------------------


def _ms(moment: int | datetime) -> int:
    if isinstance(moment, datetime):
        return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    return moment


def _fields(event: UsageEvent | Mapping[str, Any]) -> Mapping[str, Any]:
    return event.to_json() if isinstance(event, UsageEvent) else event


def brute_force(
    events: Sequence[UsageEvent | Mapping[str, Any]],
    start_ms: int,
    end_ms: int,
    zone: str,
    bot_id: str | None = None,
) -> dict[date, dict[str, Decimal]]:
    days: dict[date, dict[str, Decimal]] = defaultdict(
        lambda: dict.fromkeys(CATEGORIES, Decimal(0))
    )
    for raw in events:
        event = _fields(raw)
        ts = _ms(event["timestamp"])
        if start_ms <= ts <= end_ms and bot_id in (None, event["bot_id"]):
            day = datetime.fromtimestamp(ts / 1000, ZoneInfo(zone)).date()
            days[day][event["category"]] += Decimal(str(event["credits"]))
    return days


def assert_rows_match(
    rows: Sequence[Any], truth: Mapping[date, Mapping[str, Decimal]], first: date, last: date
) -> None:
    assert [row.date for row in rows] == [
        first + timedelta(days=n) for n in range((last - first).days + 1)
    ]
    for row in rows:
        expected = truth.get(row.date, dict.fromkeys(CATEGORIES, Decimal(0)))
        assert row.start_date == row.end_date == row.date
        assert row.categories() == expected, row.date
        assert row.total == sum(expected.values())
        assert all(isinstance(value, Decimal) for value in row.categories().values())


def _ms_of_day(day: date, zone: str) -> int:
    return _ms(datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)))


# --- administration --------------------------------------------------------------------------


def test_admin_helpers(served: Served) -> None:
    with Client(served.base_url, admin_of(served)) as admin:
        made = admin.create_account("helpers", name="Helpers Ltd", timezone="Europe/Berlin")
        assert made == Account("helpers", "Helpers Ltd", "Europe/Berlin", made.created_at)
        with pytest.raises(Conflict) as taken:
            admin.create_account("helpers")
        assert (taken.value.code, taken.value.status) == (40900, 409)
        assert "helpers" in taken.value.message
        with pytest.raises(InvalidInput) as bad:
            admin.create_account("Not Valid")
        assert bad.value.code == 40000
        assert admin.get_account("helpers") == made
        assert "helpers" in [account.id for account in admin.list_accounts()]
        moved = admin.update_account("helpers", timezone="Asia/Kolkata")
        assert (moved.name, moved.timezone) == ("Helpers Ltd", "Asia/Kolkata")

        new = admin.create_key("helpers", bot_id="support", name="support desk", expires_in_days=2)
        assert new.key.startswith("cmr_")
        assert new.key not in repr(new)  # the secret stays out of logs and tracebacks
        assert (new.record.scope, new.record.account_id, new.record.bot_id) == (
            "read",
            "helpers",
            "support",
        )
        assert new.record.expires_at == new.record.created_at + 2 * 86_400_000
        assert [key.key_id for key in admin.list_keys("helpers")] == [new.key_id]

        with Client(served.base_url, new.key) as reader:
            assert reader.bill_total(date(2024, 12, 1), date(2024, 12, 1)).total == 0
            revoked = admin.revoke_key(new.key_id)
            assert revoked.revoked_at is not None
            assert admin.revoke_key(new.key_id) == revoked  # revoking again changes nothing
            with pytest.raises(Unauthorized) as refused:
                reader.bill_total(date(2024, 12, 1), date(2024, 12, 1))
            assert (refused.value.code, refused.value.status) == (40127, 401)

        with pytest.raises(NotFound) as missing:
            admin.get_account("ghost")
        assert missing.value.code == 40400
        assert missing.value.request_id  # to find the request in the service's log
        with pytest.raises(NotFound):
            admin.revoke_key("AAAAAAAAAAAA")


# --- ingestion and the bills ------------------------------------------------------------------


def _shop_events() -> list[UsageEvent | dict[str, Any]]:
    """2300 events over 2024-11-28..12-05, in every form the client takes."""
    credit_forms: list[Any] = [Decimal("1.5"), "0.000001", 3, 0.1, Decimal("1E+1"), "2.25"]
    events: list[UsageEvent | dict[str, Any]] = []
    start = _ms(datetime(2024, 11, 28, tzinfo=UTC))
    for i in range(2300):
        ts = start + i * 5 * MINUTE + (i % 7) * 1234
        moment: int | datetime = ts
        if i % 3 == 1:
            moment = datetime.fromtimestamp(ts / 1000, UTC)
        elif i % 3 == 2:
            moment = datetime.fromtimestamp(ts / 1000, timezone(timedelta(hours=8)))
        fields = {
            "id": f"shop-{i}",
            "account_id": "shop",
            "bot_id": f"b{i % 2 + 1}",
            "category": CATEGORIES[i % 8],
            "credits": credit_forms[i % len(credit_forms)],
            "timestamp": moment,
        }
        if i >= 1500:  # 1.5 KB of metadata each: these batches are cut by size, not count
            fields["metadata"] = {"model": "gpt", "prompt": "x" * 1500}
        events.append(UsageEvent(**fields) if i % 2 else fields)
    return events


def test_ingest_and_read_bills(served: Served) -> None:
    served.account("shop", "Asia/Shanghai")
    reader_key = served.key("read", "shop")
    events = _shop_events()
    with Client(served.base_url, ingest_of(served)) as ingest:
        assert ingest.ingest(events) == IngestResult(2300, 0)
        assert ingest.ingest(iter(events)) == IngestResult(0, 2300)  # any iterable, sent again

    with Client(served.base_url, reader_key) as reader:
        # Dates are whole days in the account's zone, which the client learns.
        first, last = date(2024, 12, 1), date(2024, 12, 4)
        rows = reader.bill_page(first, last, page_size=3)  # two pages
        shanghai = brute_force(
            events,
            _ms_of_day(first, "Asia/Shanghai"),
            _ms_of_day(date(2024, 12, 5), "Asia/Shanghai") - 1,
            "Asia/Shanghai",
        )
        assert_rows_match(rows, shanghai, first, last)

        # Instants: milliseconds and aware datetimes; the first and last day are partial.
        start = datetime(2024, 11, 30, 13, 17, 0, 250000, tzinfo=UTC)
        end = datetime(2024, 12, 2, 5, 0, 0, 123000, tzinfo=timezone(timedelta(hours=-3)))
        partial = brute_force(events, _ms(start), _ms(end), "Asia/Shanghai")
        by_ms = reader.bill_page(_ms(start), _ms(end), page_size=2)
        assert_rows_match(by_ms, partial, date(2024, 11, 30), date(2024, 12, 2))
        assert reader.bill_page(start, end) == by_ms

        # Another zone, and one bot.
        new_york = brute_force(
            events,
            _ms_of_day(first, "America/New_York"),
            _ms_of_day(date(2024, 12, 5), "America/New_York") - 1,
            "America/New_York",
            bot_id="b2",
        )
        rows = reader.bill_page(first, last, timezone="America/New_York", bot_id="b2")
        assert_rows_match(rows, new_york, first, last)

        total = reader.bill_total(date(2024, 11, 28), date(2024, 12, 6))
        everything = brute_force(events, 0, 2**53, "Asia/Shanghai")
        assert min(everything) == date(2024, 11, 28)
        assert max(everything) == date(2024, 12, 6)
        assert total.total == sum(sum(day.values()) for day in everything.values())
        assert (total.start_date, total.end_date) == (date(2024, 11, 28), date(2024, 12, 6))
        assert total.chat == sum(day["chat"] for day in everything.values())

        with Client(served.base_url, admin_of(served)) as admin:  # an admin key names the account
            assert admin.bill_page(first, last, account_id="shop") == reader.bill_page(first, last)


def test_dates_follow_a_change_of_the_account_zone(served: Served) -> None:
    served.account("zonal", "UTC")
    events = [
        {"id": f"z{h}", "account_id": "zonal", "bot_id": "b", "category": "chat",
         "credits": h + 13, "timestamp": _ms(DEC_1) + h * 3_600_000}
        for h in range(-12, 36)
    ]  # fmt: skip
    with Client(served.base_url, ingest_of(served)) as ingest:
        ingest.ingest(events)
    days = (date(2024, 12, 1), date(2024, 12, 1))
    with (
        Client(served.base_url, served.key("read", "zonal")) as reader,
        Client(served.base_url, admin_of(served)) as admin,
    ):
        utc = brute_force(events, _ms(DEC_1), _ms(DEC_1) + 86_400_000 - 1, "UTC")
        assert_rows_match(reader.bill_page(*days), utc, *days)
        admin.update_account("zonal", timezone="Asia/Tokyo")
        # The client remembered UTC; the answer names Tokyo, so it asks again in Tokyo.
        tokyo_start = _ms_of_day(days[0], "Asia/Tokyo")
        tokyo = brute_force(events, tokyo_start, tokyo_start + 86_400_000 - 1, "Asia/Tokyo")
        assert_rows_match(reader.bill_page(*days), tokyo, *days)
        assert reader.bill_total(*days).total == sum(tokyo[days[0]].values())


def test_async_client(served: Served) -> None:
    async def scenario() -> None:
        async with AsyncClient(served.base_url, admin_of(served)) as admin:
            await admin.create_account("async-co", timezone="Asia/Kolkata")
            new = await admin.create_key("async-co")
            with pytest.raises(NotFound):
                await admin.get_account("nobody")
        events = [
            UsageEvent(
                f"a{i}", "async-co", "bot", "tts", Decimal("0.333333"), _ms(DEC_1) + i * MINUTE
            )
            for i in range(1200)
        ]
        async with AsyncClient(served.base_url, ingest_of(served)) as ingest:
            assert await ingest.ingest(events) == IngestResult(1200, 0)
        async with AsyncClient(served.base_url, new.key) as reader:
            first, last = date(2024, 11, 30), date(2024, 12, 2)
            pages, total = await asyncio.gather(
                reader.bill_page(first, last, page_size=1), reader.bill_total(first, last)
            )
            start = _ms_of_day(first, "Asia/Kolkata")
            truth = brute_force(
                events, start, _ms_of_day(date(2024, 12, 3), "Asia/Kolkata") - 1, "Asia/Kolkata"
            )
            assert_rows_match(pages, truth, first, last)
            assert total.total == total.tts == Decimal("0.333333") * 1200

    asyncio.run(scenario())


def test_errors_are_typed(served: Served) -> None:
    served.account("strict", "UTC")
    reader_key = served.key("read", "strict")
    with Client(served.base_url, "cmr_not_a_key") as stranger:
        with pytest.raises(Unauthorized) as unknown:
            stranger.bill_total(0, 1)
        assert (unknown.value.code, unknown.value.status) == (40127, 401)
        assert isinstance(unknown.value, ApiError)
        assert str(unknown.value).startswith("[40127] ")
    with Client(served.base_url, reader_key) as reader:
        with pytest.raises(Forbidden) as forbidden:
            reader.ingest([{"id": "x", "account_id": "strict", "bot_id": "b", "category": "chat",
                            "credits": 1, "timestamp": _ms(DEC_1)}])  # fmt: skip
        assert forbidden.value.code == 40300
        with pytest.raises(InvalidInput, match="90") as too_long:
            reader.bill_page(date(2024, 1, 1), date(2024, 12, 31))
        assert too_long.value.status == 400
        with pytest.raises(ValueError, match="naive"):
            reader.bill_page(datetime(2024, 12, 1), datetime(2024, 12, 2))

    def event(i: int, **fields: Any) -> dict[str, Any]:
        return {"id": f"s{i}", "account_id": "strict", "bot_id": "b", "category": "chat",
                "credits": "1", "timestamp": _ms(DEC_1) + i, **fields}  # fmt: skip

    with Client(served.base_url, ingest_of(served)) as ingest:
        events = [event(i) for i in range(1500)]
        events[1234] = event(1234, category="video")
        with pytest.raises(InvalidInput) as invalid:
            ingest.ingest(events)
        # The index counts from the first event given, across batches; batch one is stored.
        assert invalid.value.errors == [
            {"index": 1234, "field": "category", "message": invalid.value.errors[0]["message"]}
        ]
        assert invalid.value.ingested == IngestResult(1000, 0)
        events[1234] = event(1234)
        assert ingest.ingest(events) == IngestResult(500, 1000)  # sending it all again is safe

        with pytest.raises(Conflict) as conflict:
            ingest.ingest([event(7, credits="2")])
        assert conflict.value.ids == ["s7"]
        assert conflict.value.code == 40900


# --- retries ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def impatient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server with a tight read limit and a short SQLite busy timeout."""
    server = Served(
        tmp_path_factory.mktemp("impatient"),
        env={
            "CREDITMETER_READ_RATE_LIMIT": "3",
            "CREDITMETER_SQLITE_BUSY_TIMEOUT_MS": "100",
            "CREDITMETER_RETRY_AFTER_SECONDS": "1",
        },
    )
    server.account("busy", "UTC")
    server.account("crash", "UTC")
    try:
        server.start()
        yield server
    finally:
        server.kill()


def _stored(db: Path, account_id: str) -> tuple[int, Decimal]:
    """The raw events of an account, read from the SQLite file beside the server."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        count, micro = conn.execute(
            "SELECT count(*), coalesce(sum(credits), 0) FROM usage_events WHERE account_id = ?",
            (account_id,),
        ).fetchone()
    finally:
        conn.close()
    return count, Decimal(micro) / 1_000_000


def test_ingest_retries_across_a_crash_and_restart(impatient: Served) -> None:
    """The fourth batch is stored, then the server is killed before its answer reaches the
    client (a proxy withholds it) and started again: the client re-sends that batch with
    the same ids, and the ledger ends with every event exactly once."""
    events = [
        UsageEvent(f"r{i}", "crash", f"b{i % 3}", CATEGORIES[i % 8], Decimal(i % 97) / 100,
                   _ms(DEC_1) + i * 1000)
        for i in range(8000)
    ]  # fmt: skip
    expected = sum((Decimal(e.credits) for e in events), Decimal(0))
    lose = LostAnswer(b"POST /v1/usage/events", 4, first=impatient.kill)
    proxy = Proxy(("127.0.0.1", impatient.port), lose=lose)
    proxy.start()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            with Client(proxy.base_url, ingest_of(impatient), retry=FAST_RETRY) as ingest:
                outcome["result"] = ingest.ingest(events)
        except Exception as error:  # reported by the assertion below
            outcome["error"] = error

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert proxy.answer_lost.wait(timeout=30), outcome
        assert _stored(impatient.db, "crash")[0] == 4000  # stored, though never acknowledged
        time.sleep(0.3)  # meanwhile the client meets a dead server and keeps trying
        impatient.start()
    finally:
        worker.join(timeout=60)
        proxy.cut()
    assert "error" not in outcome, outcome
    assert outcome["result"] == IngestResult(accepted=7000, duplicates=1000)
    count, credits = _stored(impatient.db, "crash")
    assert count == len(events)
    with Client(impatient.base_url, admin_of(impatient)) as admin:
        total = admin.bill_total(date(2024, 12, 1), date(2024, 12, 1), account_id="crash")
    assert total.total == expected == credits  # nothing lost, nothing counted twice


def test_429_and_503_are_retried_after_retry_after(impatient: Served) -> None:
    reader_key = impatient.key("read", "busy")
    with Client(impatient.base_url, reader_key) as reader:
        started = time.monotonic()
        rows = reader.bill_page(date(2024, 12, 1), date(2024, 12, 31), page_size=4)  # 1 + 8 calls
        assert len(rows) == 31
        assert time.monotonic() - started >= 0.9  # it waited as Retry-After asked
    metrics = impatient.metrics()
    assert (
        metrics[
            'creditmeter_http_requests_total{method="GET",route="/v1/account/bill/page",status="429"}'
        ]
        >= 1
    )

    # Another writer holds SQLite's write lock longer than the server waits for it.
    lock = sqlite3.connect(impatient.db, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    outcome: dict[str, Any] = {}

    def run() -> None:
        with Client(impatient.base_url, ingest_of(impatient), retry=FAST_RETRY) as ingest:
            outcome["result"] = ingest.ingest(
                [UsageEvent(f"w{i}", "busy", "b", "asr", 2, _ms(DEC_1)) for i in range(10)]
            )

    worker = threading.Thread(target=run)
    worker.start()
    try:
        time.sleep(1.5)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
        worker.join(timeout=30)
    assert outcome["result"] == IngestResult(10, 0)
    metrics = impatient.metrics()
    assert (
        metrics[
            'creditmeter_http_requests_total{method="POST",route="/v1/usage/events",status="503"}'
        ]
        >= 1
    )
    store_errors = [v for k, v in metrics.items() if k.startswith("creditmeter_store_errors_total")]
    assert sum(store_errors) >= 1


# --- docs/client.md --------------------------------------------------------------------------


def test_the_examples_in_docs_client_md_run(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (ROOT / "docs" / "client.md").read_text()
    blocks = re.findall(r"(<!-- not run -->\n)?```python\n(.*?)```", text, flags=re.S)
    blocks = [block for not_run, block in blocks if not not_run]
    assert len(blocks) >= 4
    monkeypatch.setenv("METER_URL", served.base_url)
    monkeypatch.setenv("METER_ADMIN_KEY", admin_of(served))
    monkeypatch.setenv("METER_INGEST_KEY", ingest_of(served))
    namespace: dict[str, Any] = {"__name__": "docs_client_md"}
    for number, block in enumerate(blocks, 1):
        code = compile(block, f"docs/client.md, python block {number}", "exec")
        exec(code, namespace)


def test_conversation_and_run_credits_every_page_sync_and_async(served: Served) -> None:
    with Client(served.base_url, admin_of(served)) as admin:
        admin.create_account("threads-co")
        reader_key = admin.create_key("threads-co").key
    start = _ms(DEC_1)
    events = [
        UsageEvent(f"c{i}", "threads-co", "bot", "chat", "0.5", start + i, conversation_id=f"c{i}")
        for i in range(7)
    ]
    events += [
        UsageEvent(
            f"m{i}", "threads-co", "bot", "moderation", "0.01", start + 100, conversation_id=f"c{i}"
        )
        for i in range(7)
    ]
    events.append(UsageEvent("r", "threads-co", "bot", "question_tag", 2, start + 3, run_id="run"))
    with Client(served.base_url, ingest_of(served)) as ingest:
        assert ingest.ingest(events) == IngestResult(len(events), 0)
    end = DEC_1 + timedelta(days=30)
    with Client(served.base_url, reader_key) as reader:
        rows = reader.conversation_credits(DEC_1, end, page_size=3)  # three pages
        assert [row.conversation_id for row in rows] == [f"c{i}" for i in reversed(range(7))]
        assert {row.total for row in rows} == {Decimal("0.51")}
        assert rows[0].moderation == Decimal("0.01")
        only = reader.conversation_credits(start, start + 10, conversation_id="c2")
        assert [(r.conversation_id, r.conversation_create_time) for r in only] == [
            ("c2", start + 2)
        ]
        runs = reader.run_credits(start, start + 10)
        assert [(r.run_id, r.run_start_time, r.question_tag) for r in runs] == [
            ("run", start + 3, Decimal(2))
        ]
        with pytest.raises(InvalidInput):
            reader.run_credits(DEC_1, end + timedelta(milliseconds=1))

    async def scenario() -> None:
        async with AsyncClient(served.base_url, reader_key) as reader:
            pages, runs = await asyncio.gather(
                reader.conversation_credits(DEC_1, end, page_size=2), reader.run_credits(DEC_1, end)
            )
            assert [r.conversation_id for r in pages] == [f"c{i}" for i in reversed(range(7))]
            assert [r.run_id for r in runs] == ["run"]

    asyncio.run(scenario())
