"""The two analytics lists (per conversation, per workflow run) against a brute-force
grouping of the raw events, on SQLite and PostgreSQL; their access rules and errors; and
the daily bills' counting of the three new kinds in chat."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from creditmeter import accounts
from creditmeter.store import Store
from tests.conftest import bearer, make_key
from tests.http.support import DEC_1, HOUR, assert_error, event, exact, post_events
from tests.rollup_check import conversation_mismatches

CONVERSATIONS = "/v1/account/agent/conversation/credits"
RUNS = "/v1/account/workflow/run/credits"
MINUTE = 60_000
THIRTY_DAYS = 2_592_000_000
CONVERSATION_FIELDS = [
    "chat",
    "anonymization",
    "asr",
    "tts",
    "rerank",
    "database_processing",
    "tool_call",
    "knowledge_doc_indexing",
    "question_tag",
    "moderation",
]
RUN_FIELDS = CONVERSATION_FIELDS[:-1]
LISTS = {
    CONVERSATIONS: ("conversation_id", "conversation_create_time", CONVERSATION_FIELDS),
    RUNS: ("run_id", "run_start_time", RUN_FIELDS),
}


def _random_events(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Events of acme on a coarse time grid (so create times tie), a third in
    conversations, a third in runs, the rest in neither."""
    events = []
    for n in range(count):
        fields: dict[str, Any] = {}
        kind = rng.randrange(3)
        if kind == 0:
            fields["conversation_id"] = f"c{rng.randrange(30)}"
            category = rng.choice(CONVERSATION_FIELDS)
        elif kind == 1:
            fields["run_id"] = f"r{rng.randrange(12)}"
            category = rng.choice(RUN_FIELDS)
        else:
            category = rng.choice([*CONVERSATION_FIELDS, "knowledge_doc_storage"])
        events.append(
            event(
                f"e{n}",
                bot_id=rng.choice(["b1", "b2", "b3"]),
                category=category,
                credits=f"{rng.randrange(0, 50)}.{rng.randrange(0, 10**6):06d}",
                timestamp=DEC_1 + rng.randrange(0, 40 * 24) * 30 * MINUTE,
                **fields,
            )
        )
    return events


def _expected(
    events: list[dict[str, Any]], path: str, start: int, end: int, **filters: str
) -> list[dict[str, Any]]:
    """The list, brute force: group the raw events, keep those created in the range."""
    id_field, time_field, fields = LISTS[path]
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for e in events:
        if e.get(id_field) is None or e["category"] not in fields:
            continue
        if "bot_id" in filters and e["bot_id"] != filters["bot_id"]:
            continue
        if id_field in filters and e[id_field] != filters[id_field]:
            continue
        row = groups.setdefault(
            (e[id_field], e["bot_id"]),
            {id_field: e[id_field], time_field: e["timestamp"], **dict.fromkeys(fields, 0)},
        )
        row[time_field] = min(row[time_field], e["timestamp"])
        row[e["category"]] += Decimal(e["credits"])
    rows = [(key, row) for key, row in groups.items() if start <= row[time_field] <= end]
    rows.sort(key=lambda item: (-item[1][time_field], item[0][0], item[0][1]))
    return [{**row, "total": sum(row[f] for f in fields)} for _, row in rows]


def _get(client: TestClient, key: str, path: str, **params: Any) -> Any:
    answer = client.get(path, params=params, headers=bearer(key))
    assert answer.status_code == 200, answer.text
    return exact(answer)


def test_both_lists_equal_a_brute_force_grouping(
    client: TestClient, ingest_key: str, shanghai: str, store: Store
) -> None:
    rng = random.Random(17)
    events = _random_events(rng, 600)
    # sent in batches, latest first, so that late events move create times earlier;
    # then a resend of a quarter of them, which changes nothing
    ordered = sorted(events, key=lambda e: -e["timestamp"])
    for start in range(0, len(ordered), 97):
        answer = post_events(client, ingest_key, ordered[start : start + 97])
        assert answer.status_code == 200, answer.text
    resent = rng.sample(events, 150)
    assert post_events(client, ingest_key, resent).json() == {"accepted": 0, "duplicates": 150}
    with store.read() as conn:
        assert conversation_mismatches(conn, "acme") == 0
    times = sorted({e["timestamp"] for e in events})
    for trial in range(60):
        path = rng.choice([CONVERSATIONS, RUNS])
        id_field = LISTS[path][0]
        # edges on, just before and just after create times
        start = rng.choice(times) + rng.choice([-1, 0, 1])
        end = min(start + rng.choice([0, 1, HOUR, 5 * 24 * HOUR, THIRTY_DAYS]), 2 * 10**13)
        filters: dict[str, str] = {}
        if trial % 4 == 1:
            filters["bot_id"] = rng.choice(["b1", "b2", "b4"])
        if trial % 5 == 2:
            filters[id_field] = rng.choice(["c1", "c2", "r3", "r4", "zz"])
        expected = _expected(events, path, start, end, **filters)
        page_size = rng.choice([1, 3, 20, 100])
        pages = max(1, -(-len(expected) // page_size))
        page = rng.randrange(1, pages + 2)  # sometimes a page past the end
        got = _get(
            client,
            shanghai,
            path,
            start_time=start,
            end_time=end,
            page=page,
            page_size=page_size,
            **filters,
        )
        assert got["list"] == expected[(page - 1) * page_size : page * page_size]
        assert (got["total"], got["page"], got["page_size"]) == (len(expected), page, page_size)
        assert (got["start_time"], got["end_time"]) == (start, end)


def test_field_order_and_defaults(client: TestClient, ingest_key: str, shanghai: str) -> None:
    sent = [
        event("a", conversation_id="6830a1f2", credits="1.5"),
        event("b", conversation_id="6830a1f2", category="rerank", credits="0.3"),
        event("c", conversation_id="6830a1f2", category="tool_call", credits="0.2"),
        event("d", conversation_id="6830a1f2", category="moderation", credits="0.01"),
        event("e", run_id="run-1", category="question_tag", credits="2"),
    ]
    assert post_events(client, ingest_key, sent).status_code == 200
    answer = client.get(
        CONVERSATIONS,
        params={"start_time": DEC_1, "end_time": DEC_1 + HOUR},
        headers=bearer(shanghai),
    )
    assert answer.text == (
        '{"list":[{"conversation_id":"6830a1f2","conversation_create_time":1733011200000,'
        '"chat":1.5,"anonymization":0,"asr":0,"tts":0,"rerank":0.3,"database_processing":0,'
        '"tool_call":0.2,"knowledge_doc_indexing":0,"question_tag":0,"moderation":0.01,'
        '"total":2.01}],"total":1,"page":1,"page_size":20,'
        '"start_time":1733011200000,"end_time":1733014800000}'
    )
    runs = client.get(
        RUNS, params={"start_time": DEC_1, "end_time": DEC_1}, headers=bearer(shanghai)
    ).json()
    assert list(runs["list"][0]) == ["run_id", "run_start_time", *RUN_FIELDS, "total"]
    assert runs["list"][0]["question_tag"] == 2
    assert runs["total"] == 1


def test_thirty_days_exactly_and_one_ms_more(client: TestClient, shanghai: str) -> None:
    ok = {"start_time": DEC_1, "end_time": DEC_1 + THIRTY_DAYS}
    for path in (CONVERSATIONS, RUNS):
        assert client.get(path, params=ok, headers=bearer(shanghai)).status_code == 200
        answer = client.get(
            path,
            params={**ok, "end_time": DEC_1 + THIRTY_DAYS + 1},
            headers=bearer(shanghai),
        )
        assert_error(answer, 400, 40000, "end_time", "30 days")


def test_access_rules(client: TestClient, store: Store, ingest_key: str, shanghai: str) -> None:
    accounts.create_account(store=store, account_id="other", name="Other")
    sent = [
        event("1", bot_id="b1", conversation_id="same"),
        event("2", bot_id="b2", conversation_id="same", timestamp=DEC_1 + 1),
        event("3", bot_id="b2", account_id="other", conversation_id="theirs"),
    ]
    assert post_events(client, ingest_key, sent).status_code == 200
    window = {"start_time": DEC_1, "end_time": DEC_1 + HOUR}
    # the same id under two bots: two conversations, two rows
    rows = _get(client, shanghai, CONVERSATIONS, **window)["list"]
    assert [r["conversation_create_time"] for r in rows] == [DEC_1 + 1, DEC_1]
    bound = make_key(store, "read", "acme", bot_id="b2")
    only_b2 = _get(client, bound, CONVERSATIONS, **window)
    assert only_b2["total"] == 1
    assert only_b2["list"][0]["conversation_create_time"] == DEC_1 + 1
    assert _get(client, bound, CONVERSATIONS, bot_id="b2", **window)["total"] == 1
    refused = client.get(CONVERSATIONS, params={**window, "bot_id": "b1"}, headers=bearer(bound))
    assert_error(refused, 403, 40300, "b2")
    other = client.get(RUNS, params={**window, "account_id": "other"}, headers=bearer(shanghai))
    assert_error(other, 404, 40400, "other")
    admin = make_key(store, "admin")
    theirs = _get(client, admin, CONVERSATIONS, account_id="other", **window)
    assert [r["conversation_id"] for r in theirs["list"]] == ["theirs"]
    assert_error(
        client.get(CONVERSATIONS, params=window, headers=bearer(admin)), 400, 40000, "account_id"
    )
    assert_error(client.get(CONVERSATIONS, params=window, headers=bearer(ingest_key)), 403, 40300)
    assert_error(client.get(RUNS, params=window), 401, 40127)


def test_bad_parameters(client: TestClient, shanghai: str) -> None:
    window = {"start_time": str(DEC_1), "end_time": str(DEC_1 + HOUR)}
    for params, word in [
        ({"end_time": window["end_time"]}, "start_time"),
        ({**window, "end_time": str(DEC_1 - 1)}, "end_time"),
        ({**window, "page": "0"}, "page"),
        ({**window, "page_size": "101"}, "page_size"),
        ({**window, "conversation_id": ""}, "conversation_id"),
        ({**window, "bot_id": "Not A Slug"}, "bot_id"),
        ({**window, "start_time": "yesterday"}, "start_time"),
    ]:
        answer = client.get(CONVERSATIONS, params=params, headers=bearer(shanghai))
        assert_error(answer, 400, 40000, word)


def test_ingestion_enforces_which_ids_an_event_may_carry(
    client: TestClient, ingest_key: str, shanghai: str
) -> None:
    bad = [
        event("ok", conversation_id="c"),
        event("both", conversation_id="c", run_id="r"),
        event("storage", category="knowledge_doc_storage", conversation_id="c"),
        event("storage-run", category="knowledge_doc_storage", run_id="r"),
        event("moderation", category="moderation", run_id="r"),
        event("non-ascii", conversation_id="caf\u00e9"),
        event("long", run_id="r" * 257),
    ]
    answer = post_events(client, ingest_key, bad)
    body = assert_error(answer, 400, 40000)
    assert [(e["index"], e["field"]) for e in body["errors"]] == [
        (1, "run_id"),
        (2, "conversation_id"),
        (3, "run_id"),
        (4, "run_id"),
        (5, "conversation_id"),
        (6, "run_id"),
    ]
    window = {"start_time": DEC_1, "end_time": DEC_1 + HOUR}
    assert _get(client, shanghai, CONVERSATIONS, **window)["total"] == 0  # nothing stored
    allowed = [
        event("m", category="moderation", conversation_id="c"),
        event("s", category="knowledge_doc_storage"),
        event("q", category="question_tag", run_id="r"),
    ]
    assert post_events(client, ingest_key, allowed).json() == {"accepted": 3, "duplicates": 0}


def test_daily_bills_count_the_three_new_kinds_in_chat(
    client: TestClient, ingest_key: str, shanghai: str
) -> None:
    sent = [
        event("a", category="anonymization", credits="0.25", conversation_id="c"),
        event("q", category="question_tag", credits="0.5", run_id="r", timestamp=DEC_1 + 1),
        event("m", category="moderation", credits="1", timestamp=DEC_1 + 7 * MINUTE + 3),
        event("c", category="chat", credits="2"),
        event("t", category="tts", credits="4"),
    ]
    assert post_events(client, ingest_key, sent).status_code == 200
    day = {"start_time": DEC_1 - 8 * HOUR, "end_time": DEC_1 + 16 * HOUR - 1}
    # the whole day (rollups) and a range cut mid-bucket (raw events) agree
    for window in (day, {"start_time": DEC_1, "end_time": DEC_1 + 7 * MINUTE + 3}):
        rows = _get(client, shanghai, "/v1/account/bill/page", **window)
        assert list(rows[0])[3:] == [
            "total",
            "chat",
            "knowledge_doc_indexing",
            "knowledge_doc_storage",
            "rerank",
            "database_processing",
            "tool_call",
            "asr",
            "tts",
        ]
        assert (rows[0]["chat"], rows[0]["tts"], rows[0]["total"]) == (
            Decimal("3.75"),
            4,
            Decimal("7.75"),
        )
        total = _get(client, shanghai, "/v1/account/bill/total", **window)
        assert (total["chat"], total["total"]) == (Decimal("3.75"), Decimal("7.75"))
    conversations = _get(client, shanghai, CONVERSATIONS, **day)
    runs = _get(client, shanghai, RUNS, **day)
    assert conversations["list"][0]["total"] + runs["list"][0]["total"] == Decimal("0.75")
