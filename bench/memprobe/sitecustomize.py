"""A memory probe for the soak (docs/reliability.md): every minute, each Python process started with

    YIBAO_MEMPROBE=/tmp/probe PYTHONPATH=bench/memprobe .venv/bin/python bench/soak.py ...

appends to /tmp/probe/m-<pid>.log its resident memory, glibc's heap (mallinfo2: size, mmapped, in use,
free, releasable at the top) and Python's allocator (blocks, 1 MiB arenas, bytes in use), so that a
growth can be placed: Python objects, free memory either allocator keeps, or neither. Loaded by Python's
``site`` at every start; does nothing without YIBAO_MEMPROBE (YIBAO_MEMPROBE_SECONDS: another period).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
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


def _probe(folder: Path) -> None:
    mallinfo2 = ctypes.CDLL(None).mallinfo2
    mallinfo2.restype = _MallInfo2
    with (folder / f"m-{os.getpid()}.log").open("a", buffering=1) as out:
        out.write(" ".join(sys.argv)[:200] + "\n")
        while True:
            time.sleep(float(os.environ.get("YIBAO_MEMPROBE_SECONDS", "60")))
            m = mallinfo2()
            out.write(
                f"{time.time():.0f} rss={_status('VmRSS:')} anon={_status('RssAnon:')} arena={m.arena // 1024} "
                f"mmap={m.hblkhd // 1024} inuse={m.uordblks // 1024} free={m.fordblks // 1024} "
                f"keep={m.keepcost // 1024} pyblocks={sys.getallocatedblocks()} {_pymalloc(folder)}\n"
            )


if folder := os.environ.get("YIBAO_MEMPROBE"):
    Path(folder).mkdir(parents=True, exist_ok=True)
    threading.Thread(target=_probe, args=(Path(folder),), daemon=True, name="memprobe").start()
