"""A server worker hands freed heap memory back to the system and sets its garbage collector (yibao.api.memory)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


_WORKER = """
import gc, sys
import duckdb
from fastapi.testclient import TestClient
from yibao.api.memory import GC_THRESHOLDS
from yibao.api.server import create_app
from yibao.store.database import Database
from yibao.store.engine import make_engine

duckdb.sql("SELECT 1").fetchall()  # an extension module that counts, at exit, what was never freed
before = gc.get_threshold()
with TestClient(create_app(Database(make_engine(sys.argv[1])))) as client:
    assert client.get("/healthz").status_code == 200
    print(gc.get_threshold() == GC_THRESHOLDS != before, gc.get_freeze_count())
print(gc.get_threshold() == before, gc.get_freeze_count())
"""


def test_a_worker_keeps_its_startup_heap_out_of_collections_while_it_serves(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'y.db'}"
    done = subprocess.run([sys.executable, "-c", _WORKER, url], capture_output=True, text=True, check=True)
    serving, after = (line.split() for line in done.stdout.splitlines())
    assert serving[0] == "True" and int(serving[1]) > 50_000  # the framework and the interface's models
    assert after == ["True", "0"]  # as before once it stops
    assert "leaked" not in done.stderr  # the startup heap freed at exit
