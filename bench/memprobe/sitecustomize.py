"""A memory probe for the soak (docs/reliability.md): every minute, each Python process started with

    YIBAO_MEMPROBE=/tmp/probe PYTHONPATH=bench/memprobe .venv/bin/python bench/soak.py ...

appends to /tmp/probe/m-<pid>.log its resident memory, glibc's heap (mallinfo2: size, mmapped, in use,
free, releasable at the top) and Python's allocator (blocks, 1 MiB arenas, bytes in use), so that a
growth can be placed: Python objects, free memory either allocator keeps, or neither. Loaded by Python's
``site`` at every start; does nothing without YIBAO_MEMPROBE (YIBAO_MEMPROBE_SECONDS: another period).

YIBAO_MEMPROBE_TRACE=N also traces Python's allocations (tracemalloc, 8 frames; the process runs
slower) and, from its N-th period on, writes to trace-<pid>.txt the 25 places whose live memory grew
most since the N-th: where a growth of Python objects comes from (pymalloc's own figures are then
missing from the log: Python does not print them under tracemalloc's allocator hooks).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path


class _MallInfo2(ctypes.Structure):
    _names = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
    _fields_ = [(name, ctypes.c_size_t) for name in _names.split()]


def _status(field: str) -> int:
    line = next((x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(field)), "0 0")
    return int(line.split()[1])


def _pymalloc(folder: Path) -> str:
    """Python's own allocator: arenas (1 MiB each) and the bytes in use in them. ``_debugmallocstats``
    writes to file descriptor 2, borrowed for the moment (another thread's stderr then goes there too)."""
    scratch = folder / f"stats-{os.getpid()}.txt"
    saved = os.dup(2)
    try:
        with scratch.open("w") as out:
            os.dup2(out.fileno(), 2)
            sys._debugmallocstats()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    figures = {}
    for line in scratch.read_text().splitlines():
        name, _, value = line.partition("=")
        if name.startswith(("# arenas allocated current", "# bytes in allocated blocks")):
            figures["pyarenas" if "arenas" in name else "pybytes_kib"] = int(value.strip().replace(",", ""))
    figures["pybytes_kib"] = figures.get("pybytes_kib", 0) // 1024
    return " ".join(f"{k}={v}" for k, v in figures.items())


def _own_left_out(snapshot: tracemalloc.Snapshot) -> tracemalloc.Snapshot:
    """Without what the probe itself allocated (its snapshots, its files)."""
    return snapshot.filter_traces([tracemalloc.Filter(False, __file__, all_frames=True)])


def _grown(base: tracemalloc.Snapshot | None, folder: Path) -> None:
    """The places whose traced memory grew most since ``base``, by traceback."""
    if base is None:
        return
    diff = _own_left_out(tracemalloc.take_snapshot()).compare_to(base, "traceback")
    with (folder / f"trace-{os.getpid()}.txt").open("w") as out:
        for stat in diff[:25]:
            out.write(f"{stat.size_diff / 1024:+.1f} KiB, {stat.count_diff:+d} blocks\n")
            out.writelines(f"    {line}\n" for line in stat.traceback.format())


def _probe(folder: Path) -> None:
    mallinfo2 = ctypes.CDLL(None).mallinfo2
    mallinfo2.restype = _MallInfo2
    trace_from = int(os.environ.get("YIBAO_MEMPROBE_TRACE", "0"))
    base = None
    with (folder / f"m-{os.getpid()}.log").open("a", buffering=1) as out:
        out.write(" ".join(sys.argv)[:200] + "\n")
        for period in range(1, sys.maxsize):
            time.sleep(float(os.environ.get("YIBAO_MEMPROBE_SECONDS", "60")))
            if trace_from and period == trace_from:
                base = _own_left_out(tracemalloc.take_snapshot())
            _grown(base, folder)
            m = mallinfo2()
            out.write(
                f"{time.time():.0f} rss={_status('VmRSS:')} anon={_status('RssAnon:')} arena={m.arena // 1024} "
                f"mmap={m.hblkhd // 1024} inuse={m.uordblks // 1024} free={m.fordblks // 1024} "
                f"keep={m.keepcost // 1024} pyblocks={sys.getallocatedblocks()} {_pymalloc(folder)}\n"
            )


if folder := os.environ.get("YIBAO_MEMPROBE"):
    Path(folder).mkdir(parents=True, exist_ok=True)
    if os.environ.get("YIBAO_MEMPROBE_TRACE"):
        tracemalloc.start(8)
    threading.Thread(target=_probe, args=(Path(folder),), daemon=True, name="memprobe").start()
