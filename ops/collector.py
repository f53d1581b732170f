"""CPython's cyclic garbage collector in a long-running server: what start-up built is frozen.

Reference counting frees almost everything the moment it is no longer used. The cyclic
collector is only for objects that refer to each other in a cycle, and it runs on allocation
counts, on the event loop's thread: while it runs, nothing else does. A *full* pass
(generation 2) visits every tracked container in the process. After the frontend's start-up
that is 70,000-80,000 objects (modules, classes, pydantic's schemas, Tornado's routing), none of
which ever becomes garbage, so each full pass stalled the loop for tens of milliseconds for
nothing; events arriving meanwhile waited (``bench_sse.py --stages``: the 40k deliveries/s
round's p99).

:func:`frozen_startup_heap` moves everything start-up made into the permanent generation
(``gc.freeze()``), which collections skip; what is made later (connections, events) is collected
as before. The other half is making no cyclic garbage per connection or per event in the first
place (:mod:`ops.tornado_seam` breaks the cycles Tornado leaves behind a detached stream):
``tests/frontend_server/events/test_garbage.py`` holds both to it.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def frozen_startup_heap() -> Iterator[int]:
    """Freeze the objects tracked now for the block (call once start-up is done); yields how
    many were frozen. Unfrozen at the end (they become the oldest generation again).

    The permanent generation is the process's: where one process runs several frontends (the
    tests), the first to end unfreezes them all. That costs only the skipped passes' time.
    """
    gc.collect()  # start-up's own cyclic garbage goes first: frozen, it would never be freed
    gc.freeze()
    try:
        yield gc.get_freeze_count()
    finally:
        gc.unfreeze()
