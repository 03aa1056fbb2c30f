"""Keep Python's cyclic garbage collector away from objects that live as long as the process.

A serving process holds hundreds of thousands of such objects: imported modules, the route table,
pydantic and SQLAlchemy metadata, jieba's dictionary and the trained request router. CPython's full
(generation 2) collection walks all of them every time, which measured 110–330 ms on the 2-core box
with ~600k objects. That pause holds the GIL, so every request in flight waits for it: under load it
was the whole p99. ``gc.freeze()`` moves what exists now into the permanent generation, which
collections skip; later collections scan only what requests create. Call :func:`settle` once start-up
is done and again after a warm-up that builds a large structure.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

log = logging.getLogger("xingcheng.heap")
_lock = threading.Lock()


def settle(reason: str) -> int:
    """Collect what is garbage now, then freeze the survivors; returns how many objects are frozen."""
    with _lock:
        started = time.perf_counter()
        gc.collect()
        gc.freeze()
        frozen = gc.get_freeze_count()
    log.debug("heap settled after %s: %d objects frozen in %.0f ms", reason, frozen,
              1000 * (time.perf_counter() - started))
    return frozen
