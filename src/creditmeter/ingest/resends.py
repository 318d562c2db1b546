"""Which keys of a batch to look up before SQLite's write turn: those a client may be
sending again."""

from __future__ import annotations

import threading

from rbloom import Bloom

from .batch import Key

SEEN_CAPACITY = 1 << 22  # keys in the Bloom filter before it is emptied: 7.5 MB
RESENDS_REMEMBERED = 32


class ResendFilter:
    """A key costs about as much to look up as a new event to write, so only the keys this
    process has seen stored are looked up, kept in a Bloom filter (no false negatives; 0.1%
    of the other keys are looked up for nothing) emptied whenever `capacity` keys have gone
    in. An event stored through another process, or before this filter last emptied, is
    found by the primary key in the turn instead (writes.insert_new); once that happens,
    every key is looked up first until RESENDS_REMEMBERED batches in a row held no such
    event."""

    def __init__(self, capacity: int = SEEN_CAPACITY):
        self.capacity = capacity
        self._seen = Bloom(capacity, 0.001)
        self._count = 0  # keys added since the filter was last emptied
        self._look_up_all = 0  # batches left that look up every key
        self._lock = threading.Lock()

    def to_look_up(self, keys: list[Key]) -> list[Key]:
        if self._look_up_all:
            return keys
        seen = self._seen
        return [key for key in keys if key in seen]

    def note(self, keys: list[Key], found_in_turn: int) -> None:
        """The batch with these keys is stored; the write turn found `found_in_turn` of
        its events stored before."""
        with self._lock:
            if self._count + len(keys) > self.capacity:
                self._seen.clear()
                self._count = 0
            self._seen.update(keys)
            self._count += len(keys)
            self._look_up_all = (
                RESENDS_REMEMBERED if found_in_turn else max(self._look_up_all - 1, 0)
            )
