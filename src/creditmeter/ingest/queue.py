"""The queue of batches waiting for SQLite's write turn, taken a group at a time."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from .batch import MAX_GROUP_EVENTS

T = TypeVar("T")


class GroupQueue(Generic[T]):
    """Items in arrival order, each `size_of` some events; `take_group` gives the oldest
    that fit in one transaction (at least one). Thread-safe; `arrived` is notified on each
    put, for a consumer that waits."""

    def __init__(self, size_of: Callable[[T], int]):
        self._size_of = size_of
        self._items: deque[T] = deque()
        self.arrived = threading.Condition()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> None:
        with self.arrived:
            self._items.append(item)
            self.arrived.notify()

    def take_group(self) -> list[T]:
        group: list[T] = []
        size = 0
        with self.arrived:
            items = self._items
            while items:
                size += self._size_of(items[0])
                if group and size > MAX_GROUP_EVENTS:
                    break
                group.append(items.popleft())
        return group
