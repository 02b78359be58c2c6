"""The console's cross-region figures (/console/cross-region): settlements per region pair and the amounts
awaiting clearing, on SQLite and PostgreSQL.

Cross-region settlements of both sides are written as the settlement use case writes them (a row with
``cross_region`` "T" or "I" and its ledger posting through the clearing accounts): treated here for
Qingpu's and Wujiang's insured (one of them reversed, one of last month), and Guangzhou's insured treated
in Qingpu and Wujiang. The view record and the page show exactly those figures, net of reversals, each
region-scoped caller only theirs; the clearing balances only to callers of every region.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count

from fastapi.testclient import TestClient

from tests.accounts import add_user, sign_in
from tests.flows import WORKER, register
from yibao.api.server import create_app
from yibao.app import dashboard
from yibao.app.reconcile import utc_bounds
from yibao.app.records import FundRowRecord, SettlementRow
from yibao.domain.ledger import check_ledger, clearing_account, reversal_of, settlement_posting
from yibao.sim.his import HisClient
from yibao.store.dashboard import SqlDashboardSource
from yibao.store.database import Database

HOSPITAL = "H44010600001"
HERE, QINGPU, WUJIANG = "440100", "310118", "320509"
POOL = "310100"
NOW = datetime(2026, 3, 16, 4, 0)  # 12:00 in Guangzhou, a Monday in the middle of the month (UTC, naive)
SERIAL = count(1)


def write(db: Database, mdtrt_id: str, side: str, other: str, when: datetime, medfee: int, fund: int, acct: int,
          reverse: bool = False) -> str:  # fmt: skip
    """A cross-region settlement of ``side`` with ``other`` at ``when``, posted as record() posts it (and
    its reversal right after it, if asked)."""
    insuplc, treated = (other, HERE) if side == "T" else (HERE, other)
    setl_id = f"SXR{next(SERIAL):06d}"
    amounts = {"medfee_sumamt": medfee, "fund_pay_sumamt": fund, "hifp_pay": fund, "acct_pay": acct,
               "psn_cash_pay": medfee - fund - acct, "inscp_scp_amt": medfee}  # fmt: skip
    row = SettlementRow(setl_id=setl_id, mdtrt_id=mdtrt_id, psn_no=WORKER, fixmedins_code=HOSPITAL, insutype="310",
                        med_type="11", clr_type="11", insuplc_admdvs=insuplc, mdtrtarea_admvs=treated,
                        setl_time=when, msgid=f"M{setl_id}", infno="2207", mid_setl_flag=False, revs_setl_id=None,
                        policy_name="test", amounts=amounts, mdtrt_cert_type="02", cross_region=side)  # fmt: skip
    posting = settlement_posting(insuplc, WORKER, HOSPITAL, [(POOL, fund)], acct,
                                 payer=clearing_account(insuplc) if side == "T" else None,
                                 payee=clearing_account(treated) if side == "I" else None)  # fmt: skip
    with db.transaction() as store:
        store.insert_settlement(row, [FundRowRecord(setl_id, POOL, medfee, None, fund, "")], [], {})
        store.post(setl_id, posting, when)
        if reverse:
            back = replace(row, setl_id=setl_id + "R", revs_setl_id=setl_id, msgid=f"M{setl_id}R", infno="2208",
                           setl_time=when + timedelta(minutes=5),
                           amounts={k: -v for k, v in amounts.items()})  # fmt: skip
            store.insert_settlement(back, [FundRowRecord(back.setl_id, POOL, -medfee, None, -fund, "")], [], {})
            store.post(back.setl_id, reversal_of(posting), back.setl_time)
    return setl_id


def settle_across(db: Database, hospital: HisClient, now: datetime) -> bool:
    """Today (local) and earlier this month, both sides; one of last month; one reversed. Whether "earlier
    this month" is today too (on the 1st)."""
    mdtrt_id = register(hospital, WORKER)
    today_begin, _ = utc_bounds(dashboard.local_day(now), dashboard.local_day(now))
    month_begin, _ = utc_bounds(dashboard.local_day(now).replace(day=1), dashboard.local_day(now))
    earlier = month_begin + timedelta(hours=1) if month_begin < today_begin else today_begin
    write(db, mdtrt_id, "T", QINGPU, max(now - timedelta(hours=1), today_begin), 15000, 10000, 2000)
    write(db, mdtrt_id, "T", QINGPU, max(now - timedelta(hours=2), today_begin), 6000, 5000, 0, reverse=True)
    write(db, mdtrt_id, "T", WUJIANG, earlier, 4500, 3000, 1000)
    write(db, mdtrt_id, "T", WUJIANG, month_begin - timedelta(days=2), 1200, 1000, 0)  # last month
    write(db, mdtrt_id, "I", QINGPU, max(now - timedelta(minutes=30), today_begin), 9000, 7000, 500)
    write(db, mdtrt_id, "I", WUJIANG, earlier, 9000, 8000, 0)
    return earlier >= today_begin


def figures(db: Database, now: datetime, region: str = "") -> dashboard.CrossRegionFigures:
    with SqlDashboardSource(db).reading() as store:
        return dashboard.cross_region_figures(store, now, region)


def pairs(f: list[dashboard.RegionPair]) -> list[tuple[str, str, str, tuple[int, ...], tuple[int, ...]]]:
    def fig(p: dashboard.PairFigures) -> tuple[int, ...]:
        return (p.settlements, p.medfee_sumamt, p.fund_pay_sumamt, p.acct_pay)

    return [(p.here, p.other, p.other_name, fig(p.today), fig(p.month)) for p in f]


def test_the_figures_count_each_region_pair_today_and_this_month_and_the_clearing_balances(
    db: Database, hospital: HisClient
) -> None:
    settle_across(db, hospital, NOW)
    f = figures(db, NOW)
    assert pairs(f.treated) == [
        (HERE, QINGPU, "上海市青浦区", (1, 15000, 10000, 2000), (1, 15000, 10000, 2000)),  # the reversed one nets out
        (HERE, WUJIANG, "苏州市吴江区", (0, 0, 0, 0), (1, 4500, 3000, 1000)),  # last month's not counted
    ]
    assert pairs(f.insured) == [
        (HERE, QINGPU, "上海市青浦区", (1, 9000, 7000, 500), (1, 9000, 7000, 500)),
        (HERE, WUJIANG, "苏州市吴江区", (0, 0, 0, 0), (1, 9000, 8000, 0)),
    ]
    assert (f.treated_today.settlements, f.treated_month.settlements, f.treated_month.cleared) == (1, 2, 16000)
    assert (f.insured_today.fund_pay_sumamt, f.insured_month.fund_pay_sumamt) == (7000, 15000)
    # clearing:310118: debits 12,000 + 5,000 (T), credits 5,000 (the reversal) + 7,500 (I) → Qingpu owes us 45.00
    # clearing:320509: debits 4,000 + 1,000 (T, also last month's), credits 8,000 (I) → we owe Wujiang 30.00
    assert f.clearing == [
        dashboard.ClearingBalance(QINGPU, "上海市青浦区", 17000, 12500),
        dashboard.ClearingBalance(WUJIANG, "苏州市吴江区", 5000, 8000),
    ]
    assert (f.owed_to_us, f.owed_by_us) == (4500, 3000)
    with db.transaction(write=False) as store:
        assert check_ledger(store.ledger_facts()) == []

    scoped = figures(db, NOW, HERE)
    assert pairs(scoped.treated) == pairs(f.treated) and pairs(scoped.insured) == pairs(f.insured)
    assert scoped.clearing is None and scoped.owed_to_us == scoped.owed_by_us == 0
    for elsewhere in (QINGPU, "4403"):
        other = figures(db, NOW, elsewhere)
        assert other.treated == [] and other.insured == [] and other.clearing is None


def rows(page: str, testid: str) -> list[dict[str, str]]:
    body = page.split(f'data-testid="{testid}"')[1].split("</table>")[0]
    return [dict(re.findall(r'data-([a-z-]+)="([^"]*)"', tr)) for tr in re.findall(r"<tr (data-[^>]*)>", body)]


def value(page: str, testid: str) -> int:
    found = re.search(rf'data-testid="{testid}" data-value="(-?\d+)"', page)
    assert found, testid
    return int(found.group(1))


def test_the_cross_region_page_shows_the_figures_of_the_callers_region(db: Database, hospital: HisClient) -> None:
    first_of_month = settle_across(db, hospital, datetime.now(UTC).replace(tzinfo=None))
    wj = int(first_of_month)  # Wujiang's settlements of earlier this month are today's on the 1st
    add_user(db, "boss", "readonly", "000000")
    add_user(db, "gz", "readonly", HERE)
    add_user(db, "qp", "readonly", QINGPU)
    with TestClient(create_app(db)) as c:
        assert c.get("/console/cross-region", follow_redirects=False).headers["location"].startswith("/console/login")
        sign_in(c, "boss")
        page = c.get("/console/cross-region")
        assert page.status_code == 200 and 'href="/console/cross-region" class="active"' in page.text
        assert [value(page.text, k) for k in ("xr-treated-today", "xr-insured-today", "xr-owed-to-us",
                                              "xr-owed-by-us")] == [1 + wj, 1 + wj, 4500, 3000]  # fmt: skip
        treated = rows(page.text, "treated-pairs")
        assert [(r["here"], r["other"], r["today"], r["today-fund"]) for r in treated] == [
            (HERE, QINGPU, "1", "10000"), (HERE, WUJIANG, str(wj), str(3000 * wj)),
        ]  # fmt: skip
        assert [(r["other"], r["month"], r["month-fund"], r["month-cleared"]) for r in treated][1] == (
            WUJIANG, "1", "3000", "4000",
        )  # fmt: skip
        assert [(r["other"], r["today"], r["today-fund"]) for r in rows(page.text, "insured-pairs")] == [
            (QINGPU, "1", "7000"), (WUJIANG, str(wj), str(8000 * wj)),
        ]  # fmt: skip
        assert [(r["admdvs"], r["owed-to-us"], r["owed-by-us"]) for r in rows(page.text, "clearing")] == [
            (QINGPU, "4500", "0"), (WUJIANG, "0", "3000"),
        ]  # fmt: skip
    with TestClient(create_app(db)) as c:
        sign_in(c, "gz")
        page = c.get("/console/cross-region")
        assert value(page.text, "xr-treated-today") == 1 + wj and 'data-testid="clearing-scoped"' in page.text
        assert 'data-testid="xr-owed-to-us"' not in page.text
    with TestClient(create_app(db)) as c:
        sign_in(c, "qp")
        page = c.get("/console/cross-region")
        assert page.status_code == 200
        assert value(page.text, "xr-treated-today") == value(page.text, "xr-insured-today") == 0
        assert rows(page.text, "treated-pairs") == [] and rows(page.text, "insured-pairs") == []
