"""The console's view of the electronic voucher (/console/vouchers) and its suspension on the person page.

Visits settled by voucher, by ID card and by social security card, one of them reversed, on SQLite and
PostgreSQL: the page and the view record show exactly those figures; a clerk suspends a voucher and the
next code is refused (500165), in the audit log; roles without the permission are refused.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.accounts import add_user, sign_in
from tests.flows import AMOXICILLIN, RETIREE, SUSPENDED, WORKER, certno, line, now_text, register, settle_data, upload
from tests.integration.conftest import his_at
from yibao.api.server import create_app
from yibao.app import dashboard
from yibao.app import voucher as v
from yibao.sim.his import HisClient
from yibao.store import tables
from yibao.store.dashboard import SqlDashboardSource
from yibao.store.database import Database
from yibao.voucher.authority import Authority

WORKER_CARD = "K44010023456"
HOSPITAL, CLINIC, PHARMACY = "H44010600001", "H44010600002", "P44010600001"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def activate(db: Database, psn_no: str) -> v.VoucherRecord:
    with db.transaction() as store:
        person = store.person(psn_no)
        assert person is not None
        started = v.start_activation(store, person.certno, person.psn_name, f"phone-{psn_no[-4:]}", utcnow())
    assert started is not None
    with db.transaction() as store:
        return v.confirm_activation(store, certno(psn_no), started[1], utcnow())


def token(his: HisClient, authority: Authority, voucher: v.VoucherRecord, business_type: str) -> str:
    answer = his.read_code(authority.issue(voucher.ec_index_no, utcnow()).text, business_type)
    assert answer["code"] == 0, answer
    return str(answer["data"]["ecToken"])


def visit_by_voucher(his: HisClient, authority: Authority, voucher: v.VoucherRecord, medfee: str) -> str:
    """Registration with a code read for 01101, settlement with a second one read for 01301."""
    psn_no = voucher.psn_no
    registration = token(his, authority, voucher, "01101")
    out = his.call("2201", {"data": {"psn_no": psn_no, "insutype": "310", "begntime": now_text(),
                                     "mdtrt_cert_type": "01", "mdtrt_cert_no": registration, "ipt_otp_no": "MZ-V",
                                     "atddr_no": "D440106000001", "dr_name": "张医生", "dept_code": "A03",
                                     "dept_name": "内科", "caty": "A03"}})  # fmt: skip
    mdtrt_id = str(out["data"]["mdtrt_id"])
    upload(his, line("1", mdtrt_id, psn_no, AMOXICILLIN, "2", str(int(medfee.split(".")[0]) // 2) + ".00"))
    pay = token(his, authority, voucher, "01301")
    setl = his.call("2207", settle_data(psn_no, mdtrt_id, medfee, mdtrt_cert_type="01", mdtrt_cert_no=pay))
    return str(setl["setlinfo"]["setl_id"])


def visit_by(his: HisClient, psn_no: str, medfee: str, cert_type: str = "02", cert_no: str = "") -> str:
    mdtrt_id = register(his, psn_no)
    upload(his, line("1", mdtrt_id, psn_no, AMOXICILLIN, "2", str(int(medfee.split(".")[0]) // 2) + ".00"))
    extra = {"mdtrt_cert_type": cert_type, "mdtrt_cert_no": cert_no or certno(psn_no)}
    return str(his.call("2207", settle_data(psn_no, mdtrt_id, medfee, **extra))["setlinfo"]["setl_id"])


@pytest.fixture
def authority() -> Authority:
    return Authority.load()


@pytest.fixture
def settled(db: Database, http: TestClient, authority: Authority) -> dict[str, Any]:
    """Today: WORKER by voucher at the hospital (50.00), RETIREE by voucher there (20.00, then reversed),
    WORKER by social security card at the clinic (30.00) and RETIREE by ID card at the clinic (10.00).
    RETIREE activated a voucher too; SUSPENDED's was activated 40 days ago; a code was read at the
    pharmacy two days ago."""
    hospital, clinic = his_at(http, HOSPITAL), his_at(http, CLINIC)
    worker, retiree = activate(db, WORKER), activate(db, RETIREE)
    by_voucher = visit_by_voucher(hospital, authority, worker, "50.00")
    # registered by ID card, paid by voucher, reversed: it counts under no certificate
    reversed_ = visit_by(hospital, RETIREE, "20.00", "01", token(hospital, authority, retiree, "01301"))
    with db.transaction(write=False) as store:
        row = store.settlement(reversed_)
    assert row is not None and row.mdtrt_cert_type == "01"
    hospital.call("2208", {"data": {"setl_id": reversed_, "mdtrt_id": row.mdtrt_id, "psn_no": RETIREE}})
    visit_by(clinic, WORKER, "30.00", "03", WORKER_CARD)
    visit_by(clinic, RETIREE, "10.00")
    long_ago = utcnow() - timedelta(days=40)
    with db.transaction() as store:
        store.save_voucher(v.VoucherRecord("440100EC" + "A" * 24, SUSPENDED, "old-phone", v.ACTIVE, long_ago, long_ago))
        before = utcnow() - timedelta(days=2)
        v.read_code(store, authority, org_id=PHARMACY, business_type="02121",
                    qr_code=authority.issue(retiree.ec_index_no, before).text, now=before)  # fmt: skip
    return {"worker": worker, "retiree": retiree, "by_voucher": by_voucher}


def figures(db: Database, region: str = "") -> dashboard.VoucherFigures:
    with SqlDashboardSource(db).reading() as store:
        return dashboard.voucher_figures(store, datetime.now(UTC), region)


def rows(page: str, testid: str) -> list[dict[str, str]]:
    """The data-* attributes of each row of a table."""
    body = page.split(f'data-testid="{testid}"')[1].split("</table>")[0]
    return [dict(re.findall(r'data-([a-z-]+)="([^"]*)"', tr)) for tr in re.findall(r"<tr (data-[^>]*)>", body)]


def value(page: str, testid: str) -> int:
    found = re.search(rf'data-testid="{testid}" data-value="(-?\d+)"', page)
    assert found, testid
    return int(found.group(1))


def test_the_voucher_figures_count_activations_reads_and_settlements_by_certificate(
    db: Database, settled: dict[str, Any]
) -> None:
    f = figures(db)
    assert f.vouchers == dashboard.VoucherCounts(total=3, active=3, suspended=0, activated_today=2)
    assert [(r.business_type, r.label, r.today, r.total) for r in f.reads] == [
        ("01101", "挂号", 1, 1),
        ("01301", "结算", 2, 2),
        ("02121", "药店购药", 0, 1),
    ]
    assert (f.reads_today, f.reads_total) == (3, 4)
    by_cert = {r.mdtrt_cert_type: (r.today.settlements, r.today.medfee_sumamt, r.month.settlements,
                                   r.month.medfee_sumamt) for r in f.by_cert}  # fmt: skip
    assert by_cert == {"01": (1, 5000, 1, 5000), "02": (1, 1000, 1, 1000), "03": (1, 3000, 1, 3000)}
    assert [r.label for r in f.by_cert] == ["医保电子凭证", "居民身份证", "社会保障卡"]
    assert [(a.fixmedins_code, a.settlements, a.by_voucher, a.gap) for a in f.institutions] == [
        (CLINIC, 2, 0, 2),  # the reversed settlement at the hospital counts for nothing
        (HOSPITAL, 1, 1, 0),
    ]
    assert f.institutions[1].share == 1.0 and abs(f.voucher_share_today - 1 / 3) < 1e-9

    outside = figures(db, "4403")
    assert outside.vouchers == dashboard.VoucherCounts(0, 0, 0, 0) and outside.reads == [] and not outside.institutions
    assert all(r.today.settlements == r.month.settlements == 0 for r in outside.by_cert)


def test_the_voucher_page_shows_the_figures_of_the_callers_region(db: Database, settled: dict[str, Any]) -> None:
    add_user(db, "ro", "readonly", "440100")
    add_user(db, "sz", "readonly", "440300")
    with TestClient(create_app(db)) as c:
        assert c.get("/console/vouchers", follow_redirects=False).headers["location"].startswith("/console/login")
        sign_in(c, "ro")
        page = c.get("/console/vouchers")
        assert page.status_code == 200 and 'href="/console/vouchers" class="active"' in page.text
        assert [value(page.text, k) for k in ("vch-total", "vch-active", "vch-suspended", "vch-activated-today",
                                              "vch-reads-today", "vch-reads-total")] == [3, 3, 0, 2, 3, 4]  # fmt: skip
        assert rows(page.text, "by-cert") == [
            {"cert": "01", "today": "1", "today-fen": "5000", "month": "1", "month-fen": "5000"},
            {"cert": "02", "today": "1", "today-fen": "1000", "month": "1", "month-fen": "1000"},
            {"cert": "03", "today": "1", "today-fen": "3000", "month": "1", "month-fen": "3000"},
        ]
        assert [(r["business"], r["today"], r["total"]) for r in rows(page.text, "code-reads")] == [
            ("01101", "1", "1"), ("01301", "2", "2"), ("02121", "0", "1"),
        ]  # fmt: skip
        assert [(r["code"], r["settlements"], r["voucher"]) for r in rows(page.text, "adoption")] == [
            (CLINIC, "2", "0"), (HOSPITAL, "1", "1"),
        ]  # fmt: skip
        assert "33.3%" in page.text
    with TestClient(create_app(db)) as c:
        sign_in(c, "sz")
        page = c.get("/console/vouchers")
        assert page.status_code == 200
        assert value(page.text, "vch-total") == value(page.text, "vch-reads-total") == 0
        assert {r["today"] for r in rows(page.text, "by-cert")} == {"0"} and rows(page.text, "adoption") == []


def audit_rows(db: Database, action: str) -> list[Any]:
    a = tables.audit_log.c
    with db.engine.connect() as conn:
        return list(conn.execute(select(tables.audit_log).where(a.action == action).order_by(a.id)).all())


def test_a_clerk_suspends_a_voucher_and_its_next_code_is_refused(
    db: Database, http: TestClient, authority: Authority, settled: dict[str, Any]
) -> None:
    worker: v.VoucherRecord = settled["worker"]
    hospital = his_at(http, HOSPITAL)
    add_user(db, "clerk1", "clerk", "440100")
    add_user(db, "audit1", "auditor", "000000")
    add_user(db, "sz", "clerk", "440300")
    target = f"/console/person/{WORKER}/voucher"
    with TestClient(create_app(db)) as c:
        sign_in(c, "clerk1")
        shown = c.get(f"/console/person/{WORKER}")
        assert worker.ec_index_no in shown.text and 'data-status="1"' in shown.text
        assert 'data-testid="voucher-toggle"' in shown.text
        assert [r["business"] for r in rows(shown.text, "voucher-uses")] == ["01301", "01101"]

        other_site = c.post(target, data={"suspend": "1"}, headers={"Origin": "https://evil.example"})
        assert other_site.status_code == 403
        assert hospital.read_code(authority.issue(worker.ec_index_no, utcnow()).text, "01101")["code"] == 0

        done = c.post(target, data={"suspend": "1"}, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == f"/console/person/{WORKER}"
        refused = hospital.read_code(authority.issue(worker.ec_index_no, utcnow()).text, "01101")
        assert (refused["code"], refused["type"]) == (500165, "fail")
        page = c.get(f"/console/person/{WORKER}")
        assert 'data-status="2"' in page.text and 'name="suspend" value="0"' in page.text
        assert figures(db).vouchers == dashboard.VoucherCounts(total=3, active=2, suspended=1, activated_today=2)

        assert c.post(target, data={"suspend": "0"}, follow_redirects=False).status_code == 303
        assert hospital.read_code(authority.issue(worker.ec_index_no, utcnow()).text, "01101")["code"] == 0
        assert c.post(f"/console/person/{SUSPENDED}0/voucher", data={"suspend": "1"}).status_code == 404
        assert c.post("/console/person/44010000000000056789/voucher", data={"suspend": "1"}).status_code == 404

    for who, status in (("audit1", 403), ("sz", 404)):  # no permission; not of the clerk's region
        with TestClient(create_app(db)) as c:
            sign_in(c, who)
            assert c.post(target, data={"suspend": "1"}).status_code == status, who
            if who == "audit1":
                assert 'data-testid="voucher-toggle"' not in c.get(f"/console/person/{WORKER}").text
    with db.transaction(write=False) as store:
        now = store.voucher_of(WORKER)
    assert now is not None and (now.ec_index_no, now.status) == (worker.ec_index_no, v.ACTIVE)
    suspended, restored = audit_rows(db, "voucher.suspend"), audit_rows(db, "voucher.restore")
    assert [(r.actor, r.actor_kind, r.psn_no, r.object) for r in suspended + restored] == [
        ("clerk1", "console", WORKER, worker.ec_index_no),
        ("clerk1", "console", WORKER, worker.ec_index_no),
    ]
    assert [r.detail for r in audit_rows(db, "refused")] == ["needs voucher.manage"]
