"""A memory probe for the soak (docs/reliability.md): every minute, each Python process started with

    YIBAO_MEMPROBE=/tmp/probe PYTHONPATH=bench/memprobe .venv/bin/python bench/soak.py ...

appends to /tmp/probe/m-<pid>.log its resident memory, glibc's heap (mallinfo2: size, mmapped, in use,
free, releasable at the top) and Python's allocator (blocks, 1 MiB arenas, bytes in use), so that a
growth can be placed: Python objects, free memory either allocator keeps, or neither. Loaded by Python's
``site`` at every start; does nothing without YIBAO_MEMPROBE (YIBAO_MEMPROBE_SECONDS: another period).
``bench/memprobe/summary.py /tmp/probe`` sums the logs up, a line a process.

YIBAO_MEMPROBE_TRACE=N also traces Python's allocations (tracemalloc, 8 frames; the process runs
slower) and, from its N-th period on, writes to trace-<pid>.txt the 25 places whose live memory grew
most since the N-th: where a growth of Python objects comes from (pymalloc's own figures are then
missing from the log: Python does not print them under tracemalloc's allocator hooks).
YIBAO_MEMPROBE_FRAMES: the frames kept (8). Tracing a server's whole heap is slow: a snapshot of a
few hundred MiB of traces holds the process for tens of seconds.

YIBAO_MEMPROBE_CENSUS=N is the light way: from the N-th period on, census-<pid>.txt lists the object
types (those the garbage collector tracks: containers and instances) whose count grew most since the
N-th, and the 25 largest containers with what holds them (``Owner.attribute`` or ``module.name``):
a cache that keeps growing shows as both. Half a second a period for a server's heap.

YIBAO_MEMPROBE_ONLY=word: trace or count only in the processes whose command line has that word (e.g.
``serve``: the server, not the load generator nor the city it builds).
"""

from __future__ import annotations

import ctypes
import gc
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


def _types(objects: list[object]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in objects:
        t = type(o)
        name = f"{t.__module__}.{t.__qualname__}"
        counts[name] = counts.get(name, 0) + 1
    return counts


def _holder(container: object, mine: tuple[object, ...]) -> str:
    """Who holds ``container``: an object's attribute, a module's global, or the holder's type
    (``mine``: the probe's own lists, which hold everything)."""
    for ref in gc.get_referrers(container):
        if any(ref is m for m in mine):
            continue
        if isinstance(ref, dict):
            key = None
            for k, v in ref.items():  # a loop: a generator would make ``container`` a cell, another holder
                if v is container:
                    key = k
                    break
            for owner in gc.get_referrers(ref):
                if getattr(owner, "__dict__", None) is ref:
                    kind = owner.__name__ if isinstance(owner, type(sys)) else type(owner).__qualname__
                    return f"{kind}.{key}"
            if key is not None:
                return f"<dict>[{key!r}]"[:120]
        elif isinstance(ref, type(sys)):
            return f"{ref.__name__} (its globals)"
        elif not isinstance(ref, type(sys._getframe())):
            kind = f"{type(ref).__module__}.{type(ref).__qualname__}"
            for k, v in (vars(ref) if hasattr(ref, "__dict__") else {}).items():  # an object's own attribute
                if v is container:
                    return f"{kind}.{k}"
            return f"<{kind}>"
    return "?"


def _census(base: dict[str, int], folder: Path) -> None:
    everything = gc.get_objects()
    now = _types(everything)
    grown = sorted(((n - base.get(k, 0), k) for k, n in now.items()), reverse=True)[:20]
    containers = (dict, list, set, frozenset, tuple)
    big = sorted((o for o in everything if isinstance(o, containers) and len(o) >= 200), key=len, reverse=True)[:25]
    with (folder / f"census-{os.getpid()}.txt").open("w") as out:
        total = sum(now.values())
        out.write(f"{time.strftime('%H:%M:%S')} objects tracked: {total} ({total - sum(base.values()):+d})\n")
        out.writelines(f"  {d:+8d} {k} ({now[k]})\n" for d, k in grown)
        out.write("largest containers:\n")
        for o in big:  # not a generator: it would be the holder of each
            out.write(f"  {len(o):8d} {type(o).__qualname__} held by {_holder(o, (everything, big))}\n")
    del everything, big


def _probe(folder: Path, only: bool) -> None:
    mallinfo2 = ctypes.CDLL(None).mallinfo2
    mallinfo2.restype = _MallInfo2
    trace_from = int(os.environ.get("YIBAO_MEMPROBE_TRACE", "0")) if tracemalloc.is_tracing() else 0
    base = None
    census_from = int(os.environ.get("YIBAO_MEMPROBE_CENSUS", "0")) if only else 0
    counted: dict[str, int] | None = None
    with (folder / f"m-{os.getpid()}.log").open("a", buffering=1) as out:
        out.write(" ".join(sys.argv)[:200] + "\n")
        for period in range(1, sys.maxsize):
            time.sleep(float(os.environ.get("YIBAO_MEMPROBE_SECONDS", "60")))
            if trace_from and period == trace_from:
                base = _own_left_out(tracemalloc.take_snapshot())
            _grown(base, folder)
            if census_from and period == census_from:
                counted = _types(gc.get_objects())
            if counted is not None:
                _census(counted, folder)
            m = mallinfo2()
            out.write(
                f"{time.time():.0f} rss={_status('VmRSS:')} anon={_status('RssAnon:')} arena={m.arena // 1024} "
                f"mmap={m.hblkhd // 1024} inuse={m.uordblks // 1024} free={m.fordblks // 1024} "
                f"keep={m.keepcost // 1024} pyblocks={sys.getallocatedblocks()} {_pymalloc(folder)}\n"
            )


if folder := os.environ.get("YIBAO_MEMPROBE"):
    Path(folder).mkdir(parents=True, exist_ok=True)
    chosen = os.environ.get("YIBAO_MEMPROBE_ONLY", "") in " ".join(sys.argv)
    if os.environ.get("YIBAO_MEMPROBE_TRACE") and chosen:
        tracemalloc.start(int(os.environ.get("YIBAO_MEMPROBE_FRAMES", "8")))
    threading.Thread(target=_probe, args=(Path(folder), chosen), daemon=True, name="memprobe").start()
