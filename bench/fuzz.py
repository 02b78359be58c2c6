"""Fuzzing the national interface, the long run: hostile input through the in-process Dispatcher.

    .venv/bin/python bench/fuzz.py --cases 20000
    .venv/bin/python bench/fuzz.py --cases 5000 --seed 7 --kind spoilt

The same strategies and checks as tests/reliability/test_fuzz.py (tests/reliability/fuzzing.py), on
a fresh SQLite database with the Guangzhou demo data, with as many cases as asked: every answer is
JSON with infcode 0 or -1 and no stack trace, a -1 changes no table, and nothing is answered
系统错误 (an unexpected failure). Prints the cases run, their outcomes and what failed unexpectedly;
exits 1 on the first broken rule (hypothesis shows the smallest body that breaks it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from tests.databases import load_demo  # noqa: E402
from tests.reliability.fuzzing import Target, envelopes, inputs, raw_bodies, spoilt, watch_failures  # noqa: E402

from yibao.api.server import create_app  # noqa: E402
from yibao.sim.his import HisClient  # noqa: E402
from yibao.store.database import Database  # noqa: E402
from yibao.store.engine import make_engine  # noqa: E402

KINDS = ("raw", "envelope", "input", "spoilt")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/fuzz.py", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)  # fmt: skip
    p.add_argument("--cases", type=int, default=4000, help="cases of each kind")
    p.add_argument("--kind", choices=(*KINDS, "all"), default="all")
    p.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: random)")
    args = p.parse_args(argv)
    kinds = KINDS if args.kind == "all" else (args.kind,)
    with tempfile.TemporaryDirectory(prefix="yibao-fuzz-") as tmpdir:
        url = f"sqlite:///{Path(tmpdir) / 'yibao.db'}"
        load_demo(url)
        db = Database(make_engine(url))
        target = Target(db)
        with TestClient(create_app(db)) as http:
            target.prepare(HisClient("", "H44010600001", client=http))
        failures = watch_failures()
        strategies: dict[str, st.SearchStrategy[bytes]] = {
            "raw": raw_bodies(), "envelope": envelopes(target.his), "input": inputs(target.his),
            "spoilt": spoilt(target),
        }  # fmt: skip
        total, t0, broken = 0, time.monotonic(), False
        for kind in kinds:
            ran = 0

            @settings(max_examples=args.cases, deadline=None, database=None, derandomize=False,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            @given(strategies[kind])
            def run(body: bytes) -> None:
                nonlocal ran
                ran += 1
                target.check(body)

            if args.seed is not None:
                run = seed(args.seed)(run)
            k0 = time.monotonic()
            try:
                run()
            except Exception as exc:  # hypothesis re-raises the smallest failing case
                print(f"{kind}: BROKEN after {ran} cases: {type(exc).__name__}: {str(exc)[:2000]}")
                broken = True
            total += ran
            print(f"{kind:9} {ran:7,} cases in {time.monotonic() - k0:6.1f} s")
        db.dispose()
    print(f"total     {total:7,} cases in {time.monotonic() - t0:6.1f} s; outcomes: "
          + ", ".join(f"{k} {v:,}" for k, v in sorted(target.outcomes.items())))  # fmt: skip
    for what, n in failures.seen.most_common(20):
        print(f"  unexpected (系统错误) {n}× {what}")
    return 1 if broken or failures.seen else 0


if __name__ == "__main__":
    sys.exit(main())
