"""A server worker hands freed heap memory back to the system (yibao.api.memory)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from yibao.api.memory import MALLOC_TRIM

# In a fresh process: 128 MiB of 64 KiB blocks (below malloc's mmap threshold, so in the heap), small
# blocks above them that keep the heap from shrinking at its top, the big blocks freed.
_CHILD = """
from pathlib import Path
from yibao.api.memory import release_free_memory

def rss_mib():
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) // 1024

blocks = [bytes([n % 256]) * 65536 for n in range(2048)]
pins = [bytes([1]) * 1000 for _ in range(50)]
del blocks
freed = rss_mib()
assert release_free_memory()
print(freed, rss_mib())
"""


@pytest.mark.skipif(MALLOC_TRIM is None or not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_heap_memory_goes_back_to_the_system() -> None:
    done = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True)
    freed, released = map(int, done.stdout.split())
    assert freed - released > 50, f"resident memory {freed} MiB after freeing, {released} MiB after the trim"
