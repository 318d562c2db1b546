"""The outbox on both stores: each alert type written once per crossing, in the transaction
of the entry that caused it (a rolled-back one writes none), with one pending delivery per
enabled endpoint subscribed to its type, whatever number of writers race."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from creditmeter import accounts
from creditmeter.clock import now_ms
from creditmeter.credits import balances, expiry, journal
from creditmeter.credits.grants import GrantRequest, create_grant, void_grant
from creditmeter.ingest import Ingestion
from creditmeter.money import MICRO
from creditmeter.store import Store
from creditmeter.store import credits as credit_sql
from creditmeter.store import webhooks as sql
from creditmeter.store.tables import webhook_deliveries
from creditmeter.webhooks import endpoints
from creditmeter.webhooks.endpoints import EndpointRequest
from tests.credits.support import check_journal, event

PUBLIC = "http://93.184.216.34/hooks"  # an address literal: no DNS asked


def _grant(store: Store, grant_id: str, amount: int, **fields: object) -> None:
    body = {"id": grant_id, "credits": str(amount), "kind": "purchase", **fields}
    create_grant(store=store, account_id="acme", request=GrantRequest.parse(body))


def _events(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        rows = sql.events_of(conn, "acme")
    found = []
    for event_id, event_type, created_at, payload in rows:
        body = json.loads(payload, parse_float=Decimal)
        assert (body["id"], body["type"], body["created_at"]) == (event_id, event_type, created_at)
        found.append(body)
    return found


def _deliveries(store: Store) -> list[tuple[str, str, str]]:
    d = webhook_deliveries
    with store.read() as conn:
        query = select(d.c.endpoint_id, d.c.event_id, d.c.state).order_by(d.c.created_at)
        return [(a, b, c) for a, b, c in conn.execute(query)]


@pytest.fixture
def acme(store: Store) -> Store:
    accounts.create_account(store=store, account_id="acme", low_balance_threshold=10 * MICRO)
    return store


def _spend(store: Store, event_id: str, credits: int) -> int:
    return Ingestion.of(store).ingest([event(event_id, credits * MICRO)]).alerts


def test_each_type_once_per_crossing(acme: Store) -> None:
    every = endpoints.create_endpoint(store=acme, request=EndpointRequest.parse({"url": PUBLIC}))
    low_only = endpoints.create_endpoint(
        store=acme,
        request=EndpointRequest.parse({"url": PUBLIC, "events": ["credits.balance_low"]}),
    )
    _grant(acme, "first", 20)  # an account starts in no alert: its first grant sends nothing
    assert _spend(acme, "e1", 5) == 0  # 15
    assert _spend(acme, "e2", 6) == 1  # 9: low
    assert _spend(acme, "e3", 1) == 0  # 8: still low
    assert _spend(acme, "e4", 10) == 1  # -2: depleted
    _grant(acme, "small", 5)  # 3: below the threshold, not recovered
    _grant(acme, "top-up", 10)  # 13: recovered
    _grant(acme, "short", 4, expires_at=now_ms() + 60_000)  # 17
    expiry.sweep(store=acme, now=now_ms() + 120_000)  # 13: expired, no crossing
    found = _events(acme)
    assert [e["type"] for e in found] == [
        "credits.balance_low",
        "credits.balance_depleted",
        "credits.balance_recovered",
        "credits.grant_expired",
    ]
    rows = {row.seq: row for row in check_journal(acme, "acme")}
    for body in found:
        data = body["data"]
        assert data["account_id"] == "acme"
        assert data["threshold"] == 10
        assert data["balance"] * MICRO == rows[data["seq"]].balance_after
    assert [e["data"]["balance"] for e in found] == [9, -2, 13, 13]
    assert found[3]["data"]["grant_id"] == "short"
    assert "grant_id" not in found[0]["data"]
    deliveries = _deliveries(acme)
    assert sorted((d[0], d[1]) for d in deliveries) == sorted(
        [(every.id, e["id"]) for e in found] + [(low_only.id, found[0]["id"])]
    )
    assert {d[2] for d in deliveries} == {"pending"}


def test_one_entry_across_both_lines_sends_low_then_depleted(acme: Store) -> None:
    _grant(acme, "g", 20)
    assert _spend(acme, "all", 25) == 2
    found = _events(acme)
    assert [e["type"] for e in found] == ["credits.balance_low", "credits.balance_depleted"]
    assert {e["data"]["seq"] for e in found} == {2}


def test_without_a_threshold_only_zero_counts(store: Store) -> None:
    accounts.create_account(store=store, account_id="acme")
    _grant(store, "g", 3)
    assert _spend(store, "e1", 2) == 0
    assert _spend(store, "e2", 1) == 1  # to 0: depleted
    assert _spend(store, "e3", 1) == 0  # -1
    _grant(store, "back", 2)  # 1, above 0: recovered
    assert [e["type"] for e in _events(store)] == [
        "credits.balance_depleted",
        "credits.balance_recovered",
    ]
    assert _events(store)[0]["data"]["threshold"] is None


def test_a_void_crosses_too(acme: Store) -> None:
    _grant(acme, "a", 15)
    _grant(acme, "b", 5)
    void_grant(store=acme, account_id="acme", grant_id="a", reason="refund")  # 20 -> 5
    found = _events(acme)
    assert [e["type"] for e in found] == ["credits.balance_low"]
    assert found[0]["data"]["grant_id"] == "a"


@pytest.mark.parametrize("written_by", ["sweep", "batch"])
def test_an_expirys_events_are_dated_as_its_entry(acme: Store, written_by: str) -> None:
    """An untouched account's expiry is written later than its grant, by the sweep or by
    the next batch: its events carry the expiry's time, not the account's last entry's."""
    expires_at = now_ms() + 60_000
    _grant(acme, "plan", 12, expires_at=expires_at)  # 12: no crossing yet
    if written_by == "sweep":
        expiry.sweep(store=acme, now=expires_at + 5_000)
    else:
        later = Ingestion.of(acme, clock=lambda: expires_at + 5_000)
        later.ingest([event("after", MICRO)])  # -1: already depleted, no crossing of its own
    expired = [e for e in _events(acme) if e["type"] == "credits.grant_expired"]
    assert len(expired) == 1
    with acme.read() as conn:
        written = credit_sql.entries(conn, "acme", after_seq=0, limit=10)
    entry = next(e for e in written if e.type == "expiry")
    assert entry.time == expires_at
    dated = [e["created_at"] for e in _events(acme)]
    assert dated == [expires_at] * len(dated)  # grant_expired, then balance_depleted


def test_a_rolled_back_entry_writes_no_event(acme: Store) -> None:
    endpoints.create_endpoint(store=acme, request=EndpointRequest.parse({"url": PUBLIC}))
    _grant(acme, "g", 11)
    written = []

    def fail_after_the_draw_down() -> None:
        with acme.write() as conn:
            written.append(journal.draw_down(conn, [event("e1", 2 * MICRO)], now_ms()))
            raise RuntimeError("the batch fails after its draw-down")

    with pytest.raises(RuntimeError):
        fail_after_the_draw_down()
    assert written == [1]
    assert _events(acme) == []
    assert _deliveries(acme) == []
    with acme.read() as conn:
        assert credit_sql.read_state(conn, "acme").alert == "none"
    assert _spend(acme, "e1", 2) == 1  # the same crossing, committed this time, sends it once
    assert len(_events(acme)) == 1
    assert len(_deliveries(acme)) == 1


def test_a_new_threshold_decides_from_the_next_entry(acme: Store) -> None:
    _grant(acme, "g", 20)
    accounts.update_account(store=acme, account_id="acme", low_balance_threshold=30 * MICRO)
    assert _events(acme) == []  # a change of threshold alone sends nothing
    assert balances.balance(store=acme, account_id="acme").low_balance_threshold == 30 * MICRO
    accounts.update_account(store=acme, account_id="acme", low_balance_threshold=None)
    assert accounts.get_account(store=acme, account_id="acme").low_balance_threshold is None
    assert _spend(acme, "e1", 20) == 1  # depleted only: no threshold now
    assert [e["type"] for e in _events(acme)] == ["credits.balance_depleted"]


def test_concurrent_batches_send_one_event_per_crossing(acme: Store) -> None:
    endpoints.create_endpoint(store=acme, request=EndpointRequest.parse({"url": PUBLIC}))
    _grant(acme, "g", 50)

    def spend(n: int) -> None:
        Ingestion.of(acme).ingest([event(f"c{n}-{i}", MICRO) for i in range(2)])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(spend, range(40)))  # 80 credits from 50: low once, depleted once
    assert [e["type"] for e in _events(acme)] == [
        "credits.balance_low",
        "credits.balance_depleted",
    ]
    assert len(_deliveries(acme)) == 2
    check_journal(acme, "acme")
