"""The time-bounded cache: values expire, the size stays bounded."""

from __future__ import annotations

from ggzy.runtime.cache import TTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_served_until_its_time_is_up() -> None:
    clock = Clock()
    cache: TTLCache[str, int] = TTLCache(2.0, clock=clock)
    cache.put("a", 1)
    clock.now += 1.9
    assert cache.get("a") == 1
    clock.now += 0.1
    assert cache.get("a") is None and len(cache) == 0


def test_an_entry_never_outlives_the_caches_own_bound() -> None:
    clock = Clock()
    cache: TTLCache[str, int] = TTLCache(2.0, clock=clock)
    cache.put("long", 1, ttl_s=3600)
    cache.put("short", 2, ttl_s=0.5)
    cache.put("expired", 3, ttl_s=-1)
    clock.now += 1.0
    assert (cache.get("long"), cache.get("short"), cache.get("expired")) == (1, None, None)
    clock.now += 1.0
    assert cache.get("long") is None


def test_the_oldest_entry_goes_when_full() -> None:
    cache: TTLCache[int, int] = TTLCache(60.0, max_size=3)
    for n in range(5):
        cache.put(n, n)
    assert len(cache) == 3 and cache.get(0) is None and cache.get(1) is None
    assert [cache.get(n) for n in (2, 3, 4)] == [2, 3, 4]
    cache.drop(3)
    assert cache.get(3) is None
