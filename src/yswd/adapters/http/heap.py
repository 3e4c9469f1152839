"""Keep the garbage collector's full passes short while the web app serves.

A started app holds some 200,000 objects that live as long as the process (routes,
schemas, templates, the glossary, the read models' metadata). CPython's full
collection walks every one of them, and B2 measured one such pass at 370 ms, a
stop for every request in flight (the bare FastAPI route's was 58 ms). Frozen, they
are left out of every pass; objects made later are collected as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def startup_objects_frozen() -> Iterator[None]:
    """Freeze the objects alive now for the block (``gc.freeze``), thaw them after.

    Thawing at shutdown gives them back to the collector, so a process that starts
    and stops many apps (the test suite) does not keep the old ones' cycles.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
