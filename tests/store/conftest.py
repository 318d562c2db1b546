"""Fixtures of the store tests."""

from __future__ import annotations

import pytest

from creditmeter.ingest import ResendFilter
from creditmeter.ingest.batch import Key


class RecordingResends(ResendFilter):
    """A resend filter that records the event ids of every look-up it asks for before the
    write turn, sorted, one list per batch, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.looked_up: list[list[str]] = []

    def to_look_up(self, keys: list[Key]) -> list[Key]:
        chosen = super().to_look_up(keys)
        self.looked_up.append(sorted(event_id for _, event_id in chosen))
        return chosen


@pytest.fixture
def resends() -> RecordingResends:
    return RecordingResends()
