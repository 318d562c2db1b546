"""Fixtures of the store tests."""

from __future__ import annotations

import pytest

from creditmeter import ingest
from creditmeter.events import Event
from creditmeter.store import Store


@pytest.fixture
def looked_up(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The event ids of every look-up made before the write turn (ingest._look_up_stored),
    sorted, one list per batch, in order."""
    calls: list[list[str]] = []
    look_up = ingest._look_up_stored

    def recording(store: Store, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Event]:
        calls.append(sorted(event_id for _, event_id in keys))
        return look_up(store, keys)

    monkeypatch.setattr(ingest, "_look_up_stored", recording)
    return calls
