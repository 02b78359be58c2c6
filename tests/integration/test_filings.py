"""Filings and filing-free zones on one node, SQLite and PostgreSQL: `yibao load-zones`, 2501/2502 by
the referring institution, the portal's filing approved in the console (audited), and the flags
``cross_region_flags`` gives a visit of a person insured here."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from tests.accounts import add_user, sign_in
from tests.flows import RETIREE, WORKER, certno, local_today, refusal
from tests.integration.conftest import his_at
from yibao.api.server import create_app
from yibao.app.filings import cross_region_flags
from yibao.cli import app as cli
from yibao.domain.filings import FiledBy, Filing, FilingStatus, FilingType, temporary_end
from yibao.store import tables
from yibao.store.database import Database
from yibao.store.filings import load_zones_file

ROOT = Path(__file__).resolve().parents[2]
ZONES = ROOT / "examples" / "zones.toml"
WORKER_CARD = "K44010023456"
QINGPU, WUJIANG, SHANGHAI = "310118", "320509", "310000"


def flags_of(db: Database, psn_no: str, area: str, *, kind: str = "inpatient", begntime: datetime,
             setl_date: date, insuplc: str = "440100", emergency: bool = False) -> tuple[str, ...]:  # fmt: skip
    with db.transaction(write=False) as store:
        return cross_region_flags(
            store, psn_no=psn_no, insutype="310", insuplc_admdvs=insuplc, mdtrtarea_admvs=area, kind=kind,
            emergency=emergency, begntime=begntime, setl_date=setl_date,
        )  # fmt: skip


def referral(psn_no: str, area: str, begndate: date, **extra: Any) -> dict[str, Any]:
    return {"refmedin": {"psn_no": psn_no, "insutype": "310", "tel": "13800000000", "addr": "广州市天河区",
                         "insu_optins": "440100", "diag_code": "I21.9", "diag_name": "急性心肌梗死",
                         "dise_cond_dscr": "需转上级医院", "reflin_medins_no": "H31011800001",
                         "reflin_medins_name": "青浦区某医院", "mdtrtarea_admdvs": area, "hosp_agre_refl_flag": "1",
                         "refl_type": "1", "refl_date": begndate.isoformat(), "refl_rea": "技术条件所限",
                         "refl_opnn": "同意转院", "begndate": begndate.isoformat(), **extra}}  # fmt: skip


def audit_actions(db: Database, psn_no: str) -> list[tuple[str, str, str]]:
    a = tables.audit_log.c
    with db.engine.connect() as conn:
        rows = conn.execute(select(a.action, a.actor, a.object).where(a.psn_no == psn_no).order_by(a.id)).all()
    return [(r.action, r.actor, r.object) for r in rows]


def test_load_zones_and_a_zone_visit_needs_no_filing(db: Database) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    answer = CliRunner().invoke(cli, ["load-zones", str(ZONES), "--database-url", url])
    assert answer.exit_code == 0, answer.output
    assert "zones zones.toml: yrd-demo" in answer.output
    assert load_zones_file(db, ZONES) == ["yrd-demo"]  # loading again replaces it
    with db.transaction(write=False) as store:
        [zone] = store.zones()
    assert zone.regions == (QINGPU, WUJIANG, "330421") and zone.inpatient_from == date(2021, 5, 28)
    # a Qingpu person treated in Wujiang (the node may serve several regions; the rules do not care)
    day = datetime(2022, 3, 1, 2)
    assert flags_of(db, WORKER, WUJIANG, insuplc=QINGPU, begntime=day, setl_date=day.date()) == (
        "cross_region", "cross_region_zone",
    )  # fmt: skip
    assert flags_of(db, WORKER, WUJIANG, insuplc=QINGPU, kind="outpatient", begntime=datetime(2020, 8, 1),
                    setl_date=date(2020, 8, 1)) == ("cross_region", "cross_region_unfiled")  # fmt: skip
    # a Guangzhou person in Qingpu is no zone member; in Tianhe at home
    assert flags_of(db, WORKER, QINGPU, begntime=day, setl_date=day.date())[1] == "cross_region_unfiled"
    assert flags_of(db, WORKER, "440106", begntime=day, setl_date=day.date()) == ()


def test_2501_files_a_referral_approved_at_once_even_after_admission_and_2502_cancels_it(
    db: Database, http: TestClient
) -> None:
    his = his_at(http, "H44010600001")
    today = local_today()
    admitted = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=10)
    before = flags_of(db, WORKER, QINGPU, begntime=admitted, setl_date=today)
    assert before == ("cross_region", "cross_region_unfiled")

    out = his.call("2501", referral(WORKER, SHANGHAI, today - timedelta(days=3)))  # filed during the stay
    filing_id = out["result"]["trt_dcla_detl_sn"]
    assert filing_id.startswith("440100BA") and len(filing_id) == 28
    with db.transaction(write=False) as store:
        stored = store.filing(filing_id)
    assert stored is not None and stored.status == FilingStatus.APPROVED and stored.filed_by == FiledBy.INSTITUTION
    assert (stored.fixmedins_code, stored.reflin_medins_no, stored.mdtrtarea_admdvs) == (
        "H44010600001", "H31011800001", SHANGHAI,
    )  # fmt: skip
    assert stored.enddate == temporary_end(today - timedelta(days=3), None)  # at least six months
    assert flags_of(db, WORKER, QINGPU, begntime=admitted, setl_date=today) == ("cross_region", "cross_region_referral")
    assert flags_of(db, RETIREE, QINGPU, begntime=admitted, setl_date=today)[1] == "cross_region_unfiled"
    assert flags_of(db, WORKER, WUJIANG, begntime=admitted, setl_date=today)[1] == "cross_region_unfiled"

    other = his_at(http, "H44010600002")
    cancel = {"data": {"trt_dcla_detl_sn": filing_id, "psn_no": WORKER, "memo": "患者未转院"}}
    assert "不是本机构" in refusal(other, "2502", cancel)
    assert his.call("2502", cancel)["result"]["vali_flag"] == "0"
    assert "已撤销" in refusal(his, "2502", cancel)
    assert flags_of(db, WORKER, QINGPU, begntime=admitted, setl_date=today)[1] == "cross_region_unfiled"
    assert flags_of(db, WORKER, QINGPU, begntime=admitted, setl_date=today, emergency=True)[1] == (
        "cross_region_emergency"
    )


def test_2501_refuses_what_is_no_cross_region_referral(http: TestClient) -> None:
    his = his_at(http, "H44010600001")
    today = local_today()
    assert "同一统筹区" in refusal(his, "2501", referral(WORKER, "440106", today))
    assert "input.refmedin.mdtrtarea_admdvs" in refusal(his, "2501", referral(WORKER, "3101", today))
    assert "人员编号不存在" in refusal(his, "2501", referral("44019999999999999999", QINGPU, today))
    assert "早于开始日期" in refusal(his, "2501", referral(WORKER, QINGPU, today, enddate="2000-01-01"))
    assert "input.refmedin" in refusal(his, "2501", {"data": {}})


def test_the_portal_files_the_console_approves_and_every_step_is_audited(db: Database) -> None:
    add_user(db, "clerk1", "clerk", "440100")
    add_user(db, "shenzhen", "clerk", "440300")
    add_user(db, "viewer", "readonly", "440100")
    begin = local_today() - timedelta(days=1)
    with TestClient(create_app(db)) as person:
        person.post("/portal", data={"certno": certno(WORKER), "card_no": WORKER_CARD})
        assert person.get("/portal/filings").status_code == 200
        form = {"insutype": "310", "filing_type": "temporary", "begndate": begin.isoformat()}
        bad = person.post("/portal/filings", data={**form, "mdtrtarea_admdvs": "440106"})
        assert bad.status_code == 400 and "同一统筹区" in bad.text
        sent = person.post(
            "/portal/filings", data={**form, "mdtrtarea_admdvs": QINGPU, "reason": "探亲"}, follow_redirects=False
        )
        assert sent.status_code == 303
        filing_id = sent.headers["location"].split("done=")[1]
        page = person.get(sent.headers["location"])
        assert f'data-filing-id="{filing_id}" data-status="applied"' in page.text

    admitted = datetime.now(UTC).replace(tzinfo=None)
    assert flags_of(db, WORKER, QINGPU, begntime=admitted, setl_date=local_today())[1] == "cross_region_unfiled"

    with TestClient(create_app(db)) as viewer:
        sign_in(viewer, "viewer")
        assert viewer.get("/console/filings", follow_redirects=False).status_code == 403
    with TestClient(create_app(db)) as elsewhere:  # a clerk of another region neither sees nor decides it
        sign_in(elsewhere, "shenzhen")
        assert filing_id not in elsewhere.get("/console/filings").text
        assert elsewhere.post(f"/console/filings/{filing_id}", data={"decision": "approve"}).status_code == 404
    with TestClient(create_app(db)) as clerk:
        sign_in(clerk, "clerk1")
        listed = clerk.get("/console/filings")
        assert listed.status_code == 200 and f'data-filing-id="{filing_id}"' in listed.text
        assert clerk.post(f"/console/filings/{filing_id}", data={"decision": "maybe"}).status_code == 400
        done = clerk.post(f"/console/filings/{filing_id}", data={"decision": "approve", "memo": "材料齐全"},
                          follow_redirects=False)  # fmt: skip
        assert done.status_code == 303
        again = clerk.post(f"/console/filings/{filing_id}", data={"decision": "refuse"})
        assert again.status_code == 409 and "已备案" in again.text
        assert filing_id not in clerk.get("/console/filings").text

    with db.transaction(write=False) as store:
        approved = store.filing(filing_id)
    assert approved is not None and approved.status == FilingStatus.APPROVED and approved.decided_by == "clerk1"
    assert approved.filing_type == FilingType.TEMPORARY and approved.enddate is not None
    assert approved.enddate >= begin + timedelta(days=180) and approved.memo == "材料齐全"
    assert flags_of(db, WORKER, QINGPU, begntime=admitted, setl_date=local_today()) == (
        "cross_region", "cross_region_temporary",
    )  # fmt: skip
    trail = [(action, actor, obj) for action, actor, obj in audit_actions(db, WORKER) if action.startswith("filing")]
    assert trail == [("filing.apply", WORKER, filing_id), ("filing.approve", "clerk1", filing_id)]
    assert ("portal.view", WORKER, "filings") in audit_actions(db, WORKER)
    a = tables.audit_log.c
    with db.engine.connect() as conn:
        viewed = conn.execute(select(a.actor).where(a.action == "filing.view")).scalars().all()
    assert "clerk1" in viewed and "shenzhen" in viewed


def test_a_refused_filing_counts_for_nothing(db: Database) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    with db.transaction() as store:
        store.add_filing(Filing("440100BA1", WORKER, "310", FilingType.LONG_TERM, QINGPU, date(2020, 1, 1), None,
                                FilingStatus.APPLIED, FiledBy.PORTAL, now))  # fmt: skip
    add_user(db, "clerk1", "clerk", "440100")
    with TestClient(create_app(db)) as clerk:
        sign_in(clerk, "clerk1")
        clerk.post("/console/filings/440100BA1", data={"decision": "refuse", "memo": "材料不全"})
    with db.transaction(write=False) as store:
        refused = store.filing("440100BA1")
    assert refused is not None and refused.status == FilingStatus.REFUSED
    assert flags_of(db, WORKER, QINGPU, begntime=now, setl_date=local_today())[1] == "cross_region_unfiled"
    assert [a for a, _, _ in audit_actions(db, WORKER) if a.startswith("filing")] == ["filing.refuse"]
