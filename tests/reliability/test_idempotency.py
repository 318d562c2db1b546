"""Idempotency at the edges: the same batch again and again, the same content in other
forms, and the same id with other content inside a batch, across batches and across
concurrent requests (409, nothing of that batch stored). Against a served process with two
workers, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.reliability.support import Served, make_event, micro, report, sized

ROUNDS = sized(5, 40)  # concurrent rounds
RACERS = 6  # concurrent requests per round


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


def _events(account_id: str, prefix: str, n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [make_event(rng, f"{prefix}-{i}", account_id) for i in range(n)]


def _conflict(answer: httpx.Response, *ids: str) -> None:
    assert answer.status_code == 409, answer.text
    body = answer.json()
    assert body["code"] == 40900, body
    assert "nothing of this batch was stored" in body["message"], body
    assert sorted(body["ids"]) == sorted(ids), body


def test_the_same_batch_twenty_times(served: Served, http: httpx.Client) -> None:
    account = served.new_account(http)
    batch = _events(account, "same", 50)
    answers = [served.post(http, batch) for _ in range(20)]
    assert [a.status_code for a in answers] == [200] * 20
    assert answers[0].json() == {"accepted": 50, "duplicates": 0}
    assert {a.text for a in answers[1:]} == {'{"accepted":0,"duplicates":50}'}
    assert served.total(http, account) == sum(micro(e) for e in batch)
    assert len(served.stored_ids(account)) == 50


def test_a_repeat_inside_one_batch_is_a_duplicate(served: Served, http: httpx.Client) -> None:
    account = served.new_account(http)
    batch = _events(account, "inner", 5)
    answer = served.post(http, [*batch, batch[2], batch[2]])
    assert answer.json() == {"accepted": 5, "duplicates": 2}
    assert served.total(http, account) == sum(micro(e) for e in batch)


def test_the_same_content_in_other_forms_is_a_duplicate(served: Served, http: httpx.Client) -> None:
    account = served.new_account(http)
    base = {"account_id": account, "bot_id": "b1", "category": "chat"}
    first = [
        {**base, "id": "credits", "credits": "1.50", "timestamp": 1733011200000},
        {**base, "id": "instant", "credits": 2, "timestamp": 1733011200123},
        {**base, "id": "meta", "credits": 3, "timestamp": 1733011200000,
         "metadata": {"model": "m", "tokens": 12, "nested": {"a": 1, "b": [1, 2]}}},
        {**base, "id": "absent", "credits": 4, "timestamp": 1733011200000},
        {**base, "id": "zero", "credits": "0", "timestamp": 1733011200000},
    ]  # fmt: skip
    again = [
        {**first[0], "credits": 1.5},
        {**first[1], "timestamp": "2024-12-01T08:00:00.123+08:00"},
        {**first[2], "metadata": {"nested": {"b": [1, 2], "a": 1}, "tokens": 12, "model": "m"}},
        {**first[3], "conversation_id": None, "metadata": None},
        {**first[4], "credits": "0.000000"},
    ]
    assert served.post(http, first).json() == {"accepted": 5, "duplicates": 0}
    assert served.post(http, again).json() == {"accepted": 0, "duplicates": 5}
    assert served.total(http, account) == 10_500_000


def test_other_content_inside_one_batch_is_a_conflict(served: Served, http: httpx.Client) -> None:
    account = served.new_account(http)
    a, b = _events(account, "in", 2)
    _conflict(served.post(http, [a, b, {**a, "credits": "99"}]), a["id"])
    assert served.stored_ids(account) == set()
    assert served.total(http, account) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("credits", "123.000001"),
        ("timestamp", 1733011200001),
        ("bot_id", "another-bot"),
        ("category", "tts"),
        ("conversation_id", "another-conversation"),
        ("metadata", {"model": "another"}),
    ],
)
def test_other_content_across_batches_is_a_conflict(
    served: Served, http: httpx.Client, field: str, value: Any
) -> None:
    account = served.new_account(http)
    stored = _events(account, "old", 3)
    stored[1] |= {"conversation_id": "c", "metadata": {"model": "m"}}
    assert served.post(http, stored).json() == {"accepted": 3, "duplicates": 0}
    fresh = _events(account, "new", 4, seed=8)
    changed = {**stored[1], field: value}
    _conflict(served.post(http, [fresh[0], stored[0], changed, *fresh[1:]]), stored[1]["id"])
    assert served.stored_ids(account) == {e["id"] for e in stored}
    assert served.total(http, account) == sum(micro(e) for e in stored)


def test_a_dropped_optional_field_is_other_content(served: Served, http: httpx.Client) -> None:
    account = served.new_account(http)
    (event,) = _events(account, "opt", 1)
    event |= {"metadata": {"model": "m"}}  # any category takes it (not so conversation_id)
    assert served.post(http, [event]).json() == {"accepted": 1, "duplicates": 0}
    _conflict(served.post(http, [{k: v for k, v in event.items() if k != "metadata"}]), "opt-0")


def test_the_same_id_in_another_account_is_another_event(
    served: Served, http: httpx.Client
) -> None:
    one, two = served.new_account(http), served.new_account(http)
    (event,) = _events(one, "shared-id", 1)
    other = {**event, "account_id": two, "credits": "7"}
    assert served.post(http, [event, other]).json() == {"accepted": 2, "duplicates": 0}
    assert served.total(http, two) == 7_000_000


def test_invalid_and_conflicting_is_a_400(served: Served, http: httpx.Client) -> None:
    account = served.new_account(http)
    a, b = _events(account, "both", 2)
    answer = served.post(http, [a, {**a, "credits": "2"}, {**b, "category": "video"}])
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == 40000
    assert served.stored_ids(account) == set()


def _race(served: Served, batches: list[list[dict[str, Any]]]) -> list[httpx.Response]:
    """Posts the batches at the same moment, one thread each."""
    answers: list[httpx.Response | None] = [None] * len(batches)
    go = threading.Barrier(len(batches))

    def post(index: int) -> None:
        with httpx.Client(timeout=60) as client:
            go.wait()
            answers[index] = served.post(client, batches[index])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(a is not None for a in answers)
    return [a for a in answers if a is not None]


def test_other_content_across_concurrent_requests(served: Served, http: httpx.Client) -> None:
    """Racers each send their own events plus one id they all use with different credits:
    exactly one wins; every other gets 409 and stores nothing of its batch."""
    conflicts = 0
    for round_ in range(ROUNDS):
        account = served.new_account(http)
        rng = random.Random(round_)
        batches = []
        for racer in range(RACERS):
            own = [make_event(rng, f"r{racer}-{i}", account) for i in range(20)]
            contested = make_event(rng, "contested", account) | {"credits": str(racer + 1)}
            batches.append([*own[:10], contested, *own[10:]])
        answers = _race(served, batches)
        winners = [i for i, a in enumerate(answers) if a.status_code == 200]
        assert len(winners) == 1, [a.text for a in answers]
        for i, answer in enumerate(answers):
            if i != winners[0]:
                _conflict(answer, "contested")
                conflicts += 1
        winner = batches[winners[0]]
        assert answers[winners[0]].json() == {"accepted": 21, "duplicates": 0}
        assert served.stored_ids(account) == {e["id"] for e in winner}
        assert served.total(http, account) == sum(micro(e) for e in winner)
    backend = "sqlite" if served.store.is_sqlite else "postgres"
    report("idempotency-race", backend=backend, rounds=ROUNDS, racers=RACERS, conflicts=conflicts)


def test_the_same_content_across_concurrent_requests(served: Served, http: httpx.Client) -> None:
    """Racers send the same batch at once: each event is accepted exactly once in all."""
    for round_ in range(ROUNDS):
        account = served.new_account(http)
        batch = _events(account, "same", 30, seed=round_)
        answers = _race(served, [batch] * RACERS)
        assert [a.status_code for a in answers] == [200] * RACERS, [a.text for a in answers]
        assert sum(a.json()["accepted"] for a in answers) == 30
        assert sum(a.json()["duplicates"] for a in answers) == 30 * (RACERS - 1)
        assert served.total(http, account) == sum(micro(e) for e in batch)
