"""The read caches (keys, accounts, pages, whole days, written rows) never serve a figure
older than the last acknowledged event, whoever wrote it: this process, or another one
writing to the same store."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from creditmeter import accounts
from creditmeter.events import Event
from creditmeter.ingest import Ingestion
from creditmeter.settings import Settings
from creditmeter.store import Store, open_store
from tests.conftest import bearer
from tests.http.support import BILL_PAGE, DAY, DEC_1, DECEMBER, HOUR, event, exact, post_events


@pytest.fixture
def other_process(store: Store) -> Iterator[Store]:
    """A second store on the same database: what another worker process writes through."""
    other = open_store(Settings(database_url=str(store.engine.url)), upgrade=False)
    yield other
    other.dispose()


def _chat(client: TestClient, key: str, **params: str) -> dict[str, Decimal]:
    answer = client.get(
        BILL_PAGE, params={**DECEMBER, "page_size": "31", **params}, headers=bearer(key)
    )
    assert answer.status_code == 200, answer.text
    return {row["date"]: row["chat"] for row in exact(answer)}


def _stored_elsewhere(other: Store, event_id: str, ts: int, micro: int) -> None:
    batch = [Event("acme", event_id, "b1", 0, micro, ts, None, None)]
    assert Ingestion.of(other).ingest(batch).accepted == 1


def test_a_polled_page_shows_every_acknowledged_event(
    client: TestClient, shanghai: str, ingest_key: str, other_process: Store
) -> None:
    assert _chat(client, shanghai)["2024-12-01"] == 0
    assert _chat(client, shanghai)["2024-12-01"] == 0  # asked again: the cached page
    assert post_events(client, ingest_key, [event("e1", credits="0.5")]).status_code == 200
    assert _chat(client, shanghai)["2024-12-01"] == Decimal("0.5")
    _stored_elsewhere(other_process, "e2", DEC_1 + HOUR, 250_000)
    assert _chat(client, shanghai)["2024-12-01"] == Decimal("0.75")


def test_a_moved_window_shows_events_stored_since_its_days_were_cached(
    client: TestClient, shanghai: str, other_process: Store
) -> None:
    first = _chat(client, shanghai)  # every whole day of December cached
    assert first["2024-12-10"] == 0
    _stored_elsewhere(other_process, "e1", DEC_1 + 9 * DAY, 3_000_000)
    moved = _chat(client, shanghai, start_time=str(int(DECEMBER["start_time"]) + 1))
    assert moved["2024-12-10"] == 3
    assert _chat(client, shanghai, bot_id="b1")["2024-12-10"] == 3


def test_a_time_zone_change_elsewhere_moves_the_days_at_once(
    client: TestClient, shanghai: str, other_process: Store
) -> None:
    _stored_elsewhere(other_process, "e1", DEC_1 - HOUR, 1_000_000)  # 12-01 07:00 in Shanghai
    assert _chat(client, shanghai)["2024-12-01"] == 1
    accounts.update_account(store=other_process, account_id="acme", timezone="America/New_York")
    answer = client.get(BILL_PAGE, params={**DECEMBER, "page_size": "31"}, headers=bearer(shanghai))
    assert answer.headers["X-Timezone"] == "America/New_York"
    rows = {row["date"]: row["chat"] for row in exact(answer)}
    assert rows["2024-11-30"] == 1  # 2024-11-30 18:00 in New York
    assert rows.get("2024-12-01", 0) == 0
