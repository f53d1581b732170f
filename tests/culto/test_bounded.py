"""The count- and memory-bounded cache (culto/bounded.py) both event caches of the edge use."""

from __future__ import annotations

from culto.bounded import BoundedCache


def test_the_oldest_goes_first_by_count_and_by_cost() -> None:
    cache: BoundedCache[int, str] = BoundedCache(size=3, max_bytes=10)
    for key in range(4):
        cache.put(key, f"v{key}", 2)
    assert len(cache) == 3 and cache.get(0) is None and cache.get(3) == "v3"
    cache.put(9, "big", 7)  # 6 + 7 > 10: the two oldest make room
    assert [cache.get(k) for k in (1, 2, 3, 9)] == [None, None, "v3", "big"]
    assert cache.bytes == 9


def test_a_replaced_key_gives_its_cost_back_and_an_oversized_value_is_not_kept() -> None:
    cache: BoundedCache[str, str] = BoundedCache(size=4, max_bytes=10)
    cache.put("a", "one", 4)
    cache.put("a", "two", 3)
    assert cache.get("a") == "two" and cache.bytes == 3 and len(cache) == 1
    cache.put("a", "huge", 11)  # larger than the whole cache: the old value goes, nothing stays
    assert cache.get("a") is None and cache.bytes == 0 and len(cache) == 0
