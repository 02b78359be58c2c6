"""A memory probe for the soak (docs/reliability.md): every minute, each Python process started with

    YIBAO_MEMPROBE=/tmp/probe PYTHONPATH=bench/memprobe .venv/bin/python bench/soak.py ...

appends to /tmp/probe/m-<pid>.log its resident memory, glibc's heap (mallinfo2: size, mmapped, in use,
free, releasable at the top) and Python's allocated blocks, so that a growth can be placed: Python
objects, free memory malloc keeps, or neither. Loaded by Python's ``site`` at every start; does nothing
without YIBAO_MEMPROBE.
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


def _probe(folder: Path) -> None:
    mallinfo2 = ctypes.CDLL(None).mallinfo2
    mallinfo2.restype = _MallInfo2
    with (folder / f"m-{os.getpid()}.log").open("a", buffering=1) as out:
        out.write(" ".join(sys.argv)[:200] + "\n")
        while True:
            time.sleep(60)
            m = mallinfo2()
            out.write(
                f"{time.time():.0f} rss={_status('VmRSS:')} anon={_status('RssAnon:')} arena={m.arena // 1024} "
                f"mmap={m.hblkhd // 1024} inuse={m.uordblks // 1024} free={m.fordblks // 1024} "
                f"keep={m.keepcost // 1024} pyblocks={sys.getallocatedblocks()}\n"
            )


if folder := os.environ.get("YIBAO_MEMPROBE"):
    Path(folder).mkdir(parents=True, exist_ok=True)
    threading.Thread(target=_probe, args=(Path(folder),), daemon=True, name="memprobe").start()
