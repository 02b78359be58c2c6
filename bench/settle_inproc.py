"""CPU of complete outpatient settlements in one process: the dispatcher without HTTP, on PostgreSQL.

    .venv/bin/python bench/settle_inproc.py --settlements 600
    .venv/bin/python bench/settle_inproc.py --settlements 600 --profile 40

The same four messages as bench/settle.py (2201, 2204 with 20 lines, 2206, 2207), built by the same
helpers, handed to ``Dispatcher.handle`` one after another: no server, no HTTP, no other process but
the PostgreSQL backend. It prints this process's CPU and the backend's CPU per settlement: the figure
to compare two versions of the hot path on a shared box, best run side by side at the same moment (two
checkouts, each with PYTHONPATH=<checkout>/src; each makes its own database). ``--by-transaction``
also prints each transaction's share, the dispatcher's CPU and the backend's read around each call
(the backend's in clock ticks, so only many calls make it exact; the reads add to the totals).
``--profile N`` prints the N functions of most own time (cProfile) instead, and ``--profile-file``
keeps the whole profile for pstats.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import settle as bench

from yibao.api.fsi.dispatch import Dispatcher
from yibao.sim.his import HisClient
from yibao.store.database import Database
from yibao.store.engine import make_engine


def main() -> None:
    p = argparse.ArgumentParser(prog="bench/settle_inproc.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--settlements", type=int, default=600)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--by-transaction", action="store_true", help="also each transaction's CPU")
    p.add_argument("--profile", type=int, default=0, help="print the N functions of most own time")
    p.add_argument("--profile-file", type=Path, default=None, help="with --profile: also write the profile here")
    p.add_argument("--pg-admin-url", default=bench.PG_ADMIN)
    args = p.parse_args()
    args.backend = "postgresql"
    with (
        tempfile.TemporaryDirectory(prefix="yibao-inproc-") as tmpdir,
        bench.fresh_database(args, Path(tmpdir)) as (
            url,
            db_name,
        ),
    ):
        registry = bench.make_registry(200, 4, bench.Decimal(5000), 1)
        registry_file = Path(tmpdir) / "registry.json"
        registry_file.write_text(json.dumps(registry, ensure_ascii=False), encoding="utf-8")
        bench.yibao("db", "init", url=url)
        bench.yibao("load-registry", str(registry_file), url=url)
        bench.yibao("load-policy", *map(str, bench.POLICIES), url=url)
        bench.yibao("load-catalog", str(bench.CATALOG), url=url)
        db = Database(make_engine(url))
        dispatcher = Dispatcher(db, bench.ADMDVS)
        items = bench.catalogue_items(bench.CATALOG)
        persons = [bench.Person(x["psn_no"], x["certno"]) for x in registry["persons"]]
        hospital = registry["institutions"][0]["fixmedins_code"]
        doctor = registry["practitioners"][0]["prac_code"]
        his = HisClient("http://unused", hospital)
        rng = random.Random(1)

        backends: list[int] = []  # this database's backend, once the warm-up has made it
        spent: dict[str, list[float]] = {}  # infno → [dispatcher CPU, backend CPU]

        def call(infno: str, data: dict[str, object]) -> dict[str, object]:
            body = json.dumps(his.envelope(infno, data), ensure_ascii=False).encode()
            if backends:
                pg0, cpu0 = bench.cpu_of(backends), time.process_time()
                raw = dispatcher.handle(body)
                share = spent.setdefault(infno, [0.0, 0.0])
                share[0] += time.process_time() - cpu0
                share[1] += bench.cpu_of(backends) - pg0
            else:
                raw = dispatcher.handle(body)
            answer = json.loads(raw)
            if answer["infcode"] != 0:
                raise SystemExit(f"{infno}: {answer['err_msg']}")
            return answer["output"]  # type: ignore[no-any-return]

        signed = call("9001", {"signIn": {"opter_no": "001", "mac": "", "ip": "127.0.0.1"}})
        his.sign_no = signed["signinoutb"]["sign_no"]  # type: ignore[index]

        def one() -> None:
            person = rng.choice(persons)
            out = call("2201", bench.registration(rng, person, doctor))
            mdtrt_id = str(out["data"]["mdtrt_id"])  # type: ignore[index]
            lines, medfee = bench.fee_lines(rng, items, 20, mdtrt_id, person.psn_no, doctor)
            call("2204", {"feedetail": lines})
            data = bench.settlement(person, mdtrt_id, medfee)
            call("2206", data)
            call("2207", data)

        for _ in range(args.warmup):
            one()
        if args.profile:
            prof = cProfile.Profile(time.process_time)
            prof.runcall(lambda: [one() for _ in range(args.settlements)])
            stats = pstats.Stats(prof)
            if args.profile_file:
                stats.dump_stats(args.profile_file)
            stats.sort_stats("tottime").print_stats(args.profile)
            return
        if args.by_transaction:
            backends.extend(bench.postgres_backends(db_name))
        pg0, cpu0, t0 = bench.postgres_backends_cpu(db_name), time.process_time(), time.perf_counter()
        for _ in range(args.settlements):
            one()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
        pg = bench.postgres_backends_cpu(db_name) - pg0
        n = args.settlements
        print(f"{n} settlements in {wall:.1f} s: this process {cpu / n * 1000:.2f} ms CPU a settlement, "
              f"PostgreSQL {pg / n * 1000:.2f} ms, wall {wall / n * 1000:.2f} ms")  # fmt: skip
        for infno, (mine, theirs) in spent.items():
            print(f"  {infno}: dispatcher {mine / n * 1000:.2f} ms, PostgreSQL {theirs / n * 1000:.2f} ms a settlement")
        db.dispose()


if __name__ == "__main__":
    main()
