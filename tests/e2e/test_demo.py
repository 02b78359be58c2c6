"""`make demo`'s main job, as a newcomer sees it: `yibao demo` settles through a real server and
proves the ledger. Run here without staying to serve."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_server import free_port


def test_demo_settles_and_checks_the_ledger(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "yibao", "demo", "--no-serve", "--port", str(free_port()),
         "--database", str(tmp_path / "demo.db")],
        capture_output=True, text=True, timeout=120, check=False, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2304 住院结算" in run.stdout
    assert "3,371.74" in run.stdout  # the calculator's figure for the same stay (examples/guangzhou)
    assert "every posting balanced" in run.stdout
