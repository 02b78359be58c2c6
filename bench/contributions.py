"""How fast a synthetic city's contributions are declared, collected and posted (yibao.sim.contributions),
and how long the funds page's ledger query takes over them.

    .venv/bin/python bench/contributions.py [--persons 200000] [--months 3] [--database-url URL]

Builds the city into a fresh SQLite file (or an empty database at --database-url), generates the months
ending last month, and prints employee-months per second, CPU seconds per month, the peak RSS and the
time of `fund_series` (the ledger scan behind /console/funds). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from yibao.app import contributions as ca
from yibao.app.records import local_date
from yibao.domain import contribution as c
from yibao.sim.city import build_city
from yibao.sim.contributions import generate
from yibao.store.database import Database
from yibao.store.engine import make_engine


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yibao-bench-contrib-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'city.db'}"
        started = time.monotonic()
        build_city(url, persons=args.persons, institutions=130, seed=1)
        print(f"city of {args.persons:,} persons: {time.monotonic() - started:.1f} s")
        last = c.add_months(c.month_of(local_date(datetime.now(UTC).replace(tzinfo=None))), -1)
        first = c.add_months(last, 1 - args.months)
        db = Database(make_engine(url))
        try:
            cpu = time.process_time()
            report = generate(db, "440100", first, last, seed=1)
            cpu = time.process_time() - cpu
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            for line in report.lines_text():
                print(line)
            print(f"{report.lines / report.seconds:,.0f} employee-months/s; {cpu / args.months:.1f} s CPU a month; "
                  f"peak RSS {peak / 2**20:,.0f} MiB")  # fmt: skip
            started = time.monotonic()
            with db.transaction(write=False) as store:
                months = ca.fund_series(store, "440100", c.EMPLOYEE)
            print(f"fund_series over the ledger: {time.monotonic() - started:.2f} s ({len(months)} months)")
        finally:
            db.dispose()


if __name__ == "__main__":
    main()
