"""A small time-bounded cache for hot reads that may lag by a stated bound.

Used where a read is repeated on every request and its source changes rarely:
verified tokens (valid until they expire), projections of other stages' facts
(which lag by the event latency anyway; the cache adds at most its ``ttl_s``).
Bounded in size: when full, the oldest entry goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """Entries expire ``ttl_s`` after they are put (or at an earlier given time)."""

    def __init__(self, ttl_s: float, max_size: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_size = max_size
        self.clock = clock
        self._items: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        """The value, or None when absent or expired."""
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] <= self.clock():
            del self._items[key]
            return None
        return item[1]

    def put(self, key: K, value: V, ttl_s: float | None = None) -> None:
        """Remember ``value`` for ``ttl_s`` (the cache's own if None, never longer)."""
        ttl = self.ttl_s if ttl_s is None else min(ttl_s, self.ttl_s)
        if ttl <= 0:
            return
        self._items.pop(key, None)
        if len(self._items) >= self.max_size:
            del self._items[next(iter(self._items))]
        self._items[key] = (self.clock() + ttl, value)

    def drop(self, key: K) -> None:
        self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)
