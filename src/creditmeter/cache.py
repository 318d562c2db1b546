"""A small cache whose entries are valid only while the store's generation is unchanged."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class GenerationCache(Generic[K, V]):
    """Entries remember the store generation they were computed at (read *before* computing)
    and are served only while it is unchanged; a generation of None caches nothing."""

    def __init__(self, size: int = 4096):
        self._size = size
        self._entries: dict[K, tuple[int, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K, generation: int | None) -> V | None:
        entry = self._entries.get(key)
        return entry[1] if entry is not None and entry[0] == generation else None

    def put(self, key: K, generation: int | None, value: V) -> None:
        if generation is None:
            return
        with self._lock:
            if len(self._entries) >= self._size:
                self._entries.clear()  # simple and bounded; a full cache is rebuilt cheaply
            self._entries[key] = (generation, value)
