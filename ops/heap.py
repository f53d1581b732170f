"""The garbage collector of a long-running server: start-up objects frozen, young ones collected
less often.

A server imports and builds tens of thousands of objects at start-up (modules, classes, pydantic
validators, routes) that live as long as the process. The cyclic collector nevertheless walks
all of them at every full (oldest-generation) collection: measured in the frontend at 40,000
deliveries/s, full collections held the event loop 70 to 400 ms (each one stalls every stream at
once, so they set the latency's tail). :func:`settle_heap` is called once start-up is done: it
collects, then moves every surviving object to the permanent generation (``gc.freeze``), which
collections never walk; reference counting still frees them. Objects created later (connections,
events) are collected as before, from a young generation that is collected less often
(:data:`YOUNG_THRESHOLD` instead of 700 allocations: the hot path allocates per event, and
nearly all of it is freed by reference counting before any collection sees it).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
"""Allocations (net of frees) between two collections of the youngest generation."""


def settle_heap(young_threshold: int = YOUNG_THRESHOLD) -> int:
    """Collect, freeze what survived start-up, collect the young generation less often.

    Returns:
        How many objects are now frozen (outside every collection).

    Raises:
        ValueError: ``young_threshold`` is not positive.
    """
    if young_threshold <= 0:
        raise ValueError("the young generation's threshold must be positive")
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)
    return gc.get_freeze_count()
