"""The cyclic garbage collector in a long-running process (a web process, the relay worker).

A collection stops the whole process while it runs: every socket and every session waits. Two
settings keep those pauses rare and short (measured with ``bench/supervisors.py``, 100 supervisors
at 40 events/s on uvicorn, docs/BENCHMARKS.md):

* what start-up loaded (Django, the apps, the routing) lives as long as the process: frozen, it is
  out of the collector's walk (the longest full collection went from 77 to 30 ms);
* the process allocates and drops objects by the thousand per event, nearly all freed by reference
  counting, so collecting after every 700 new ones (Python's default) mostly walks survivors: after
  50 000, with full collections a hundred times rarer than young ones, p99 went from 60-70 to
  38-41 ms. The cost is cyclic garbage (asyncio's futures and tracebacks) lingering a little longer.
"""

from __future__ import annotations

import gc

YOUNG_ALLOCATIONS = 50_000  # new container objects before the youngest generation is collected
MIDDLE_EVERY = 20  # young collections per middle one
OLD_EVERY = 100  # middle collections per full one


def settle_heap() -> None:
    """Call once start-up is done, before serving."""
    gc.freeze()
    gc.set_threshold(YOUNG_ALLOCATIONS, MIDDLE_EVERY, OLD_EVERY)
