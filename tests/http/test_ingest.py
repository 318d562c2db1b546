"""Exactly-once ingestion through the API: resends, forms of the same content, batch limits."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from creditmeter import accounts
from creditmeter.store import Store
from tests.conftest import make_key
from tests.http.support import (
    DEC_1,
    HOUR,
    assert_error,
    december_total,
    event,
    exact,
    post_events,
)


def _batch(n: int, prefix: str = "e", **fields: Any) -> list[dict[str, Any]]:
    """`n` events with distinct ids, spread over December, credits 0.000001 .. 999.5."""
    rng = random.Random(f"{prefix}/{n}")
    return [
        event(
            f"{prefix}{i}",
            credits=f"{rng.randrange(0, 1000)}.{rng.randrange(0, 10**6):06d}",
            timestamp=DEC_1 + rng.randrange(0, 29 * 24 * HOUR),
            bot_id=rng.choice(["b1", "b2", "b3"]),
            category=rng.choice(["chat", "rerank", "tts"]),
            **fields,
        )
        for i in range(n)
    ]


def _sum(events: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(str(e["credits"])) for e in events), Decimal(0))


def test_the_same_batch_twenty_times(client: TestClient, ingest_key: str, shanghai: str) -> None:
    batch = _batch(50)
    answers = [post_events(client, ingest_key, batch) for _ in range(20)]
    assert [a.status_code for a in answers] == [200] * 20
    assert answers[0].json() == {"accepted": 50, "duplicates": 0}
    assert all(a.json() == {"accepted": 0, "duplicates": 50} for a in answers[1:])
    assert december_total(client, shanghai) == _sum(batch)


def test_partial_resends_never_change_totals(
    client: TestClient, ingest_key: str, shanghai: str
) -> None:
    rng = random.Random(7)
    everything = _batch(200)
    stored: dict[str, dict[str, Any]] = {}
    for round_ in range(15):
        fresh = everything[round_ * 10 : round_ * 10 + 10]
        resent = rng.sample(list(stored.values()), min(len(stored), rng.randrange(0, 40)))
        batch = resent + fresh + resent[:3]  # repeats within the batch, too
        rng.shuffle(batch)
        answer = post_events(client, ingest_key, batch)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"accepted": len(fresh), "duplicates": len(batch) - len(fresh)}
        stored.update((e["id"], e) for e in fresh)
        assert december_total(client, shanghai) == _sum(list(stored.values()))
        for bot in ("b1", "b2", "b3"):
            mine = [e for e in stored.values() if e["bot_id"] == bot]
            assert december_total(client, shanghai, bot_id=bot) == _sum(mine)


def test_same_id_in_two_accounts_is_two_events(
    client: TestClient, store: Store, ingest_key: str, shanghai: str
) -> None:
    accounts.create_account(store=store, account_id="beta", timezone="Asia/Shanghai")
    beta = make_key(store, "read", "beta")
    batch = [event("shared", credits=2), event("shared", account_id="beta", credits=5)]
    answer = post_events(client, ingest_key, batch)
    assert answer.json() == {"accepted": 2, "duplicates": 0}
    assert december_total(client, shanghai) == 2
    assert december_total(client, beta) == 5
    again = post_events(client, ingest_key, list(reversed(batch)))
    assert again.json() == {"accepted": 0, "duplicates": 2}


def test_equal_content_in_other_forms_is_a_duplicate(
    client: TestClient, ingest_key: str, shanghai: str
) -> None:
    original = event(
        "e1",
        credits=1.5,
        timestamp=DEC_1 + 123,
        metadata={"model": "gpt-4o", "tokens": {"in": 10, "out": 20}, "tags": ["a", "b"]},
    )
    assert post_events(client, ingest_key, [original]).json() == {"accepted": 1, "duplicates": 0}
    same = [
        event(
            "e1",
            credits="1.50",
            timestamp=DEC_1 + 123,
            metadata={"tags": ["a", "b"], "tokens": {"out": 20, "in": 10}, "model": "gpt-4o"},
            conversation_id=None,
        ),
        {**original, "credits": "1.500000"},
        {**original, "credits": 1.500000},
        {**original, "timestamp": "2024-12-01T00:00:00.123Z"},
        {**original, "timestamp": "2024-12-01T08:00:00.123+08:00"},
        {**original, "timestamp": "2024-11-30T19:00:00.123-05:00"},
        {**original, "timestamp": "2024-12-01t00:00:00.123z"},
    ]
    for variant in same:
        answer = post_events(client, ingest_key, [variant])
        assert answer.status_code == 200, (variant, answer.text)
        assert answer.json() == {"accepted": 0, "duplicates": 1}
    both = post_events(client, ingest_key, [same[0], same[3], event("e2", credits="0.5")])
    assert both.json() == {"accepted": 1, "duplicates": 2}
    assert december_total(client, shanghai) == 2
    # Another millisecond, other metadata, or a conversation id is other content.
    for variant in (
        {**original, "timestamp": DEC_1 + 124},
        {**original, "metadata": {"model": "gpt-4o"}},
        {**original, "metadata": None},
        {**original, "conversation_id": "c1"},
        {**original, "credits": "1.500001"},
        {**original, "category": "rerank"},
        {**original, "bot_id": "b2"},
    ):
        assert_error(post_events(client, ingest_key, [variant]), 409, 40900, "'e1'")
    assert december_total(client, shanghai) == 2


def test_a_rejected_batch_stores_nothing(
    client: TestClient, ingest_key: str, shanghai: str
) -> None:
    good = _batch(30)
    for rejected in (
        [*good, event("bad", credits="-5")],
        [*good, event("bad", account_id="ghost")],
        [*good, good[0] | {"credits": "999999"}],
    ):
        answer = post_events(client, ingest_key, rejected)
        assert answer.status_code in (400, 409), answer.text
        assert december_total(client, shanghai) == 0
        for bot in ("b1", "b2", "b3"):
            assert december_total(client, shanghai, bot_id=bot) == 0
    assert post_events(client, ingest_key, good).json() == {"accepted": 30, "duplicates": 0}
    assert december_total(client, shanghai) == _sum(good)


def test_a_thousand_events_per_batch_and_not_one_more(
    client: TestClient, ingest_key: str, shanghai: str
) -> None:
    too_many = post_events(client, ingest_key, _batch(1001, "big"))
    assert_error(too_many, 400, 40000, "events", "1 to 1000")
    assert december_total(client, shanghai) == 0
    batch = _batch(1000, "big")
    answer = post_events(client, ingest_key, batch)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 1000, "duplicates": 0}
    assert december_total(client, shanghai) == _sum(batch)


def test_concurrent_resends_store_once(client: TestClient, ingest_key: str, shanghai: str) -> None:
    batch = _batch(100, "race")

    def send(seed: int) -> dict[str, int]:
        shuffled = random.Random(seed).sample(batch, len(batch))
        answer = post_events(client, ingest_key, shuffled)
        assert answer.status_code == 200, answer.text
        result: dict[str, int] = answer.json()
        return result

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(send, range(6)))
    assert sum(r["accepted"] for r in results) == 100
    assert sum(r["duplicates"] for r in results) == 500
    assert december_total(client, shanghai) == _sum(batch)


def test_credits_are_summed_exactly(client: TestClient, ingest_key: str, shanghai: str) -> None:
    batch = [event(f"p{i}", credits="0.1") for i in range(3)]
    batch += [event("big", credits=1000000), event("tiny", credits="0.000001")]
    assert post_events(client, ingest_key, batch).json()["accepted"] == 5
    page = client.get(
        "/v1/account/bill/page",
        params={"start_time": str(DEC_1), "end_time": str(DEC_1)},
        headers={"Authorization": f"Bearer {shanghai}"},
    )
    assert page.status_code == 200, page.text
    assert '"total":1000000.300001' in page.text
    (row,) = exact(page)
    assert row["chat"] == Decimal("1000000.300001")
