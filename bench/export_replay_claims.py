"""``yibao policy export-claims``: how fast a year of stored settlements becomes the replay's claims file.

    .venv/bin/python bench/export_replay_claims.py --settlements 200000 [--database postgresql://…/empty_db]

Fills an empty database (a new SQLite file by default) with synthetic rows — persons, insurances, visits
(a tenth of them stays with an interim settlement) and live settlements with their amounts — written
straight into the tables (the settlement path is not what is measured here), then exports the year and
prints the rows, seconds, settlements a second and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from yibao.analytics.stored_replay import export_replay_claims
from yibao.app.records import LOCAL
from yibao.store import migrate
from yibao.store import tables as t
from yibao.store.engine import make_engine

YEAR = 2025


def fill(url: str, settlements: int, seed: int = 1) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    rnd = random.Random(seed)
    persons = max(1, settlements // 8)
    start = datetime(YEAR, 1, 1, 9, tzinfo=LOCAL).astimezone(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(t.region.insert(), [{"admdvs": "440100", "name": "广州市"}])
        conn.execute(t.institution.insert(), [{"fixmedins_code": f"H{lv}", "fixmedins_name": f"H{lv}",
                                               "fixmedins_type": "1", "hosp_lv": lv, "admdvs": "440100"}
                                              for lv in (1, 2, 3)])  # fmt: skip
        conn.execute(t.person.insert(), [{"psn_no": f"P{i:08d}", "psn_cert_type": "01", "certno_enc": "x",
                                          "certno_hash": f"{i:064d}", "psn_name_enc": "x", "gend": "1",
                                          "brdy": date(1940 + i % 80, 1 + i % 12, 1)}
                                         for i in range(persons)])  # fmt: skip
        conn.execute(t.insurance.insert(), [{"psn_no": f"P{i:08d}", "insutype": "310", "psn_type": "1101",
                                             "psn_insu_stas": "1", "insuplc_admdvs": "440100",
                                             "psn_insu_date": date(2000, 1, 1)} for i in range(persons)])  # fmt: skip
    done = 0
    while done < settlements:
        visits, rows = [], []
        for _ in range(min(50_000, settlements - done)):
            psn = f"P{rnd.randrange(persons):08d}"
            when = start + timedelta(minutes=rnd.randrange(360 * 24 * 60))
            inpatient = rnd.random() < 0.1
            mdtrt_id = f"V{done:010d}"
            visits.append({"mdtrt_id": mdtrt_id, "psn_no": psn, "insutype": "310",
                           "fixmedins_code": f"H{rnd.randint(1, 3)}", "med_type": "21" if inpatient else "11",
                           "kind": "inpatient" if inpatient else "outpatient", "status": "discharged",
                           "begntime": when - timedelta(days=5 if inpatient else 0), "insuplc_admdvs": "440100",
                           "mdtrtarea_admvs": "440100", "created_at": when})  # fmt: skip
            for k in range(2 if inpatient else 1):
                fee = rnd.randrange(1_000, 2_000_000 if inpatient else 50_000)
                rows.append({"setl_id": f"S{done:010d}{k}", "mdtrt_id": mdtrt_id, "psn_no": psn,
                             "fixmedins_code": "H1", "insutype": "310", "med_type": "21" if inpatient else "11",
                             "clr_type": "11", "insuplc_admdvs": "440100", "mdtrtarea_admvs": "440100",
                             "setl_time": when + timedelta(hours=k), "msgid": f"M{done}{k}", "infno": "2207",
                             "policy_name": "bench", "medfee_sumamt": fee, "inscp_scp_amt": fee,
                             "act_pay_dedc": 100 if k == 0 else 0, "hifp_pay": fee // 2, "acct_pay": fee // 10,
                             "balc": rnd.randrange(100_000),
                             "setl_proc_info": "个人账户支付 1.00" if k else ""})  # fmt: skip
            done += 1
        with engine.begin() as conn:
            conn.execute(t.visit.insert(), visits)
            conn.execute(t.settlement.insert(), rows)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settlements", type=int, default=200_000, help="Visits (a tenth with two settlements).")
    parser.add_argument("--database", help="An empty database; default: a new SQLite file.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yibao-bench-export-") as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'bench.db'}"
        began = time.perf_counter()
        fill(url, args.settlements)
        filled = time.perf_counter() - began
        began = time.perf_counter()
        out = Path(tmp) / "claims.parquet"
        done = export_replay_claims(url, out, YEAR)
        seconds = time.perf_counter() - began
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"filled in {filled:.1f} s; exported {done.claims:,} claims of {done.persons:,} persons in "
              f"{seconds:.1f} s ({done.claims / seconds:,.0f} a second), {out.stat().st_size / 2**20:.1f} MiB, "
              f"peak RSS {rss:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
