"""Hold requests decided a group per transaction (credits.holds.apply_holds, gathered by
credits.hold_desk.HoldDesk), on both stores: each in arrival order against the running
`available`, a refused one (402, 404, 409, 400) refusing only itself; and the hold routes
answering the same through the fast path (http/hold_path.py) as through FastAPI."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from creditmeter import accounts
from creditmeter.credits import balances
from creditmeter.credits.grants import GrantRequest, create_grant
from creditmeter.credits.hold_desk import HoldDesk
from creditmeter.credits.holds import (
    Hold,
    HoldAsk,
    HoldRequest,
    Outcome,
    Release,
    apply_holds,
    get_hold,
)
from creditmeter.errors import Conflict, InvalidInput, NotFound, PaymentRequired
from creditmeter.http.app import create_app
from creditmeter.money import MICRO
from creditmeter.store import Store
from creditmeter.store.tables import metadata

from ..conftest import bearer, make_key
from ..conftest import test_settings as settings_of
from .support import check_journal


@pytest.fixture
def acme(store: Store) -> Store:
    """Account acme with 10 credits."""
    accounts.create_account(store=store, account_id="acme")
    body = {"id": "g", "credits": 10, "kind": "purchase"}
    create_grant(store=store, account_id="acme", request=GrantRequest.parse(body))
    return store


def _take(hold_id: str, credits: int, account: str = "acme") -> HoldRequest:
    return HoldRequest.parse({"id": hold_id, "account_id": account, "credits": credits})


def _held(store: Store) -> tuple[int, int]:
    found = balances.balance(store=store, account_id="acme")
    return found.held // MICRO, found.available // MICRO


def _taken(outcome: Outcome) -> tuple[str, int, bool]:
    """A hold's id, the available credits its answer names, and whether it is new."""
    assert not isinstance(outcome, Exception), outcome
    hold, new = outcome
    return hold.row.hold_id, hold.available // MICRO, new


def test_one_refused_hold_refuses_only_itself(acme: Store) -> None:
    asks: list[HoldAsk] = [
        _take("h1", 4),
        _take("h2", 5),
        _take("h3", 3),  # 1 left: refused
        _take("h4", 1),  # fits exactly
        Release("h1"),  # frees 4 at once, for the holds after it
        _take("h5", 4),
        Release("nowhere"),
        _take("h6", 1, account="nobody"),
    ]
    h1, h2, h3, h4, release, h5, nowhere, nobody = apply_holds(store=acme, asks=asks)
    assert [_taken(o) for o in (h1, h2, h4, h5)] == [
        ("h1", 6, True),
        ("h2", 1, True),
        ("h4", 0, True),
        ("h5", 0, True),
    ]
    assert isinstance(h3, PaymentRequired)
    assert "only 1 available" in str(h3)
    assert not isinstance(release, Exception)
    assert (release[0].status, release[0].available // MICRO) == ("released", 4)
    assert isinstance(nowhere, NotFound)
    assert isinstance(nobody, InvalidInput)
    # committed together: what was granted is stored, what was refused is not
    assert _held(acme) == (10, 0)
    statuses = {h: get_hold(store=acme, hold_id=h).status for h in ("h1", "h2", "h4", "h5")}
    assert statuses == {"h1": "released", "h2": "active", "h4": "active", "h5": "active"}
    with pytest.raises(NotFound):
        get_hold(store=acme, hold_id="h3")
    check_journal(acme, "acme")


def test_a_resend_inside_one_group_is_the_same_hold(acme: Store) -> None:
    first, again, other = apply_holds(
        store=acme, asks=[_take("h1", 6), _take("h1", 6), _take("h1", 7)]
    )
    assert _taken(first) == ("h1", 4, True)
    assert _taken(again) == ("h1", 4, False)  # 200: the hold as it is now, held once
    assert isinstance(other, Conflict)
    assert _held(acme) == (6, 4)
    # and sent again in a later group
    (later,) = apply_holds(store=acme, asks=[_take("h1", 6)])
    assert _taken(later) == ("h1", 4, False)
    # a hold id is unique across accounts
    accounts.create_account(store=acme, account_id="other")
    (elsewhere,) = apply_holds(store=acme, asks=[_take("h1", 6, account="other")])
    assert isinstance(elsewhere, Conflict)


def test_a_hold_taken_and_released_in_one_group(acme: Store) -> None:
    taken, released, again, after = apply_holds(
        store=acme, asks=[_take("h1", 10), Release("h1"), Release("h1"), _take("h2", 10)]
    )
    assert _taken(taken) == ("h1", 0, True)
    for outcome in (released, again):
        assert not isinstance(outcome, Exception)
        assert (outcome[0].status, outcome[0].available // MICRO) == ("released", 10)
    assert _taken(after) == ("h2", 0, True)
    assert get_hold(store=acme, hold_id="h1").status == "released"
    assert _held(acme) == (10, 0)


def test_the_desk_gathers_what_waits_in_arrival_order(acme: Store) -> None:
    """Twelve holds of 1 asked at once on one event loop: one group, the first ten taken,
    the last two refused; then the releases, another group."""
    desk = HoldDesk(acme)

    async def ask_all(asks: list[HoldAsk]) -> list[Outcome]:
        return await asyncio.gather(*(desk.ask(ask) for ask in asks))

    outcomes = asyncio.run(ask_all([_take(f"h{n}", 1) for n in range(12)]))
    assert desk.groups == 1
    assert [_taken(o)[0] for o in outcomes[:10]] == [f"h{n}" for n in range(10)]
    assert all(isinstance(o, PaymentRequired) for o in outcomes[10:])
    releases = asyncio.run(ask_all([Release(f"h{n}") for n in range(10)]))
    assert desk.groups == 2
    assert all(isinstance(o, tuple) and isinstance(o[0], Hold) for o in releases)
    assert _held(acme) == (0, 10)


def _exchange(client: TestClient, ingest: str, read: str) -> list[tuple[int, str, Any]]:
    """Every kind of hold answer: each request's status and body without its instants."""
    body = {"id": "h1", "account_id": "acme", "credits": 6}
    sent = [
        client.post("/v1/credits/holds", json=body, headers=bearer(ingest)),
        client.post("/v1/credits/holds", json=body, headers=bearer(ingest)),
        client.post("/v1/credits/holds", json={**body, "credits": 7}, headers=bearer(ingest)),
        client.post("/v1/credits/holds", json={**body, "id": "h2"}, headers=bearer(ingest)),
        client.post("/v1/credits/holds", json={**body, "credits": 0}, headers=bearer(ingest)),
        client.post(
            "/v1/credits/holds", content=b"{}", headers={**bearer(ingest), "Content-Type": "x"}
        ),
        client.post("/v1/credits/holds", json=body, headers=bearer(read)),
        client.post("/v1/credits/holds", json=body),
        client.post("/v1/credits/holds/nowhere/release", headers=bearer(ingest)),
        client.post("/v1/credits/holds/h1/release", headers=bearer(read)),
        client.post("/v1/credits/holds/h1/release", headers=bearer(ingest)),
        client.post("/v1/credits/holds/h1/release", headers=bearer(ingest)),
    ]
    found = []
    for answer in sent:
        document = answer.json()
        if isinstance(document, dict):
            document.pop("expires_at", None)
        found.append((answer.status_code, answer.headers["content-type"], document))
    return found


def test_the_fast_path_answers_as_the_routes_do(store: Store) -> None:
    answers = []
    for fast in (True, False):
        accounts.create_account(store=store, account_id="acme")
        body = {"id": "g", "credits": 10, "kind": "purchase"}
        create_grant(store=store, account_id="acme", request=GrantRequest.parse(body))
        ingest, read = make_key(store, "ingest"), make_key(store, "read", "acme")
        settings = settings_of(database_url=str(store.engine.url))
        app = create_app(settings, store=store, bill_fast_path=fast)
        with TestClient(app, raise_server_exceptions=False) as client:
            answers.append(_exchange(client, ingest, read))
        _clear(store)
    fast_answers, routed = answers
    assert [status for status, _, _ in fast_answers] == [
        201,
        200,
        409,
        402,
        400,
        400,
        403,
        401,
        404,
        403,
        200,
        200,
    ]
    assert fast_answers == routed


def _clear(store: Store) -> None:
    """Empties the store, for a second app."""
    with store.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(text(f"DELETE FROM {table.name}"))


@pytest.mark.postgres
def test_an_id_taken_meanwhile_for_another_account(postgres_store: Store) -> None:
    """PostgreSQL: another transaction inserts the group's new hold id for another account
    and commits while the group waits on that row; the group is decided again, and the
    hold is a 409 (an id is unique across accounts), its other request still taken."""
    store = postgres_store
    for account in ("acme", "other"):
        accounts.create_account(store=store, account_id=account)
        body = {"id": f"g-{account}", "credits": 10, "kind": "purchase"}
        create_grant(store=store, account_id=account, request=GrantRequest.parse(body))
    outcomes: list[Outcome] = []
    with store.engine.connect() as other:
        other.execute(
            text(
                "INSERT INTO credit_holds VALUES"
                " ('x', 'other', 1000000, 900, 'active', 0, 9999999999999, NULL)"
            )
        )
        group = threading.Thread(
            target=lambda: outcomes.extend(
                apply_holds(store=store, asks=[_take("x", 1), _take("y", 2)])
            )
        )
        group.start()
        _wait_for_a_lock_wait(store)
        other.commit()
    group.join()
    taken_elsewhere, taken = outcomes
    assert isinstance(taken_elsewhere, Conflict)
    assert _taken(taken) == ("y", 8, True)
    assert _held(store) == (2, 8)


def _wait_for_a_lock_wait(store: Store) -> None:
    """Until a session of this database waits for a lock (the group's insert on the row
    the other transaction holds)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(6000):
        with store.engine.connect() as conn:
            if conn.execute(query).scalar():
                return
        time.sleep(0.005)
    raise AssertionError("the group never waited for the other transaction's row")
