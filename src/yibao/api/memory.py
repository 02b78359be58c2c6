"""Giving freed memory back to the system, so that it does not pile up in a server worker.

glibc's malloc keeps what a process frees inside its heaps, and a heap shrinks only from its top: one
chunk still in use high up holds every free page below it. Under steady load a worker's heap slowly
grows so (the soak, docs/reliability.md: in its first ten minutes a worker's heap kept 2.5–2.9 MiB more
free memory, while the memory in use grew by 0.3–0.6 MiB). ``malloc_trim(0)`` hands those free pages
back (madvise) wherever they lie; a server worker calls it every YIBAO_MALLOC_TRIM_SECONDS (default 60,
0 never): 1.4 ms for a heap holding 50 MiB of scattered free blocks, microseconds after that.

The cyclic garbage collector is set for a worker too (``collecting_for_a_worker``).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

TRIM_ENV = "YIBAO_MALLOC_TRIM_SECONDS"
DEFAULT_SECONDS = 60.0
GC_THRESHOLDS = (7_000, 20, 20)
"""Python's default (700, 10, 10) runs a young collection every few hundred allocations: several a
request here, whose objects reference counting frees anyway. Measured with the startup heap frozen,
server CPU 2–5 % less a settlement (bench/settle.py --together, docs/performance.md)."""


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


MALLOC_TRIM = _malloc_trim()


def release_free_memory() -> bool:
    """Return the free pages of malloc's heaps to the system; False where that cannot be done."""
    if MALLOC_TRIM is None:
        return False
    MALLOC_TRIM(0)
    return True


def trim_interval() -> float:
    return float(os.environ.get(TRIM_ENV, DEFAULT_SECONDS))


async def release_periodically(seconds: float) -> None:
    """Every ``seconds`` on the event loop, for the life of a server worker."""
    if seconds <= 0 or MALLOC_TRIM is None:
        return
    while True:
        await asyncio.sleep(seconds)
        release_free_memory()


@contextmanager
def collecting_for_a_worker() -> Iterator[None]:
    """For the life of a server worker, once it has started: what it made to start (the framework, the
    schema, the interface's models: most of its heap) kept out of every collection, so that a full
    collection no longer walks it, and collections at GC_THRESHOLDS. At its end all is as before: the
    startup heap is freed at exit like the rest (extension modules such as DuckDB's report what is
    never freed as leaked), and a test that started a worker in its own process leaves it unchanged."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
