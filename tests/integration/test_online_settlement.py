"""Online settlement for internet hospitals (6201, the portal's payment, 6301, 6203, 6401): the hospital
uploads an order, the person pays it in the portal with their voucher's code, the hospital asks the
result and refunds it — and every way a payment or a cancellation is refused."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.flows import (
    AMOXICILLIN,
    BLOOD_TEST,
    RETIREE,
    STATIN,
    WORKER,
    certno,
    ledger_problems,
    line,
    now_text,
    register,
    settle_data,
    upload,
)
from tests.integration.conftest import his_at
from yibao.app import online
from yibao.app import voucher as v
from yibao.app.errors import Refused
from yibao.sim.his import HisClient, InterfaceError
from yibao.store.database import Database
from yibao.voucher.authority import Authority

CARDS = {WORKER: "K44010023456", RETIREE: "K44010012345"}
AMOUNTS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
           "act_pay_dedc", "hifp_pay", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay")  # fmt: skip


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def activate(db: Database, psn_no: str) -> v.VoucherRecord:
    with db.transaction() as store:
        person = store.person(psn_no)
        assert person is not None
        started = v.start_activation(store, person.certno, person.psn_name, "phone-1", utcnow())
    assert started is not None
    with db.transaction() as store:
        return v.confirm_activation(store, certno(psn_no), started[1], utcnow())


def lines(psn_no: str) -> list[dict[str, Any]]:
    return [
        line("1", "", psn_no, AMOXICILLIN, "2", "12.50"),
        line("2", "", psn_no, BLOOD_TEST, "1", "30.00"),
        line("3", "", psn_no, STATIN, "1", "48.00"),
    ]


def order(his: HisClient, psn_no: str, med_org_ord: str) -> dict[str, Any]:
    data = {
        "psn_no": psn_no,
        "insutype": "310",
        "med_org_ord": med_org_ord,
        "begntime": now_text(),
        "dise_codg": "J06.900",
        "dise_name": "急性上呼吸道感染",
        "dept_code": "A03",
        "dept_name": "内科",
        "atddr_no": "D440106000001",
        "dr_name": "张医生",
        "acct_used_flag": "1",
    }
    out: dict[str, Any] = his.call("6201", {"data": data, "feedetail": lines(psn_no)})["data"]
    return out


def portal(http: TestClient, psn_no: str) -> TestClient:
    signed = http.post("/portal", data={"certno": certno(psn_no), "card_no": CARDS[psn_no]}, follow_redirects=False)
    assert signed.status_code == 303
    return http


def code_on_page(page: str) -> str:
    found = re.search(r'name="code" value="([^"]+)"', page)
    assert found is not None, "the page carries a code to pay with"
    return found.group(1)


def v_code(voucher: v.VoucherRecord) -> str:
    """A fresh code of the voucher, as the phone shows it."""
    return Authority.load().issue(voucher.ec_index_no, utcnow()).text


def balance(db: Database, psn_no: str) -> int:
    with db.transaction(write=False) as store:
        return store.account_balance(psn_no)


def test_an_order_paid_in_the_portal_is_a_settlement_and_a_refund_undoes_it_exactly(
    db: Database, http: TestClient, hospital: HisClient
) -> None:
    voucher = activate(db, WORKER)
    before = balance(db, WORKER)

    # what a 2207 of the same lines at the counter comes to (then undone: the person's year as it was)
    mdtrt_id = register(hospital, WORKER)
    upload(hospital, *[{**item, "mdtrt_id": mdtrt_id} for item in lines(WORKER)])
    counter = hospital.call("2207", settle_data(WORKER, mdtrt_id, "103.00"))["setlinfo"]
    hospital.call("2208", {"data": {"setl_id": counter["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": WORKER}})
    assert balance(db, WORKER) == before

    uploaded = order(hospital, WORKER, "WEB-0001")
    assert uploaded["ord_stas"] == "1" and uploaded["med_org_ord"] == "WEB-0001"
    for name in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "psn_cash_pay"):
        assert Decimal(str(uploaded[name])) == Decimal(str(counter[name])), name
    pay_ord_id = uploaded["pay_ord_id"]
    with pytest.raises(InterfaceError, match=r"med_org_ord.*已上传"):
        order(hospital, WORKER, "WEB-0001")
    assert balance(db, WORKER) == before  # an upload settles nothing

    me = portal(http, WORKER)
    page = me.get("/portal/orders")
    assert page.status_code == 200 and f'data-pay-ord-id="{pay_ord_id}"' in page.text
    paid = me.post(f"/portal/orders/{pay_ord_id}/pay", data={"code": code_on_page(page.text)}, follow_redirects=False)
    assert (paid.status_code, paid.headers["location"]) == (303, f"/portal/orders?paid={pay_ord_id}")

    result = hospital.call("6301", {"data": {"pay_ord_id": pay_ord_id}})
    assert result["data"]["ord_stas"] == "2"
    setlinfo = result["setlinfo"]
    for name in AMOUNTS:
        assert Decimal(str(setlinfo[name])) == Decimal(str(counter[name])), name
    assert balance(db, WORKER) == before - round(Decimal(str(counter["acct_pay"])) * 100)
    by_ord = hospital.call("6301", {"data": {"med_org_ord": "WEB-0001"}})
    assert by_ord["data"]["pay_ord_id"] == pay_ord_id
    with db.transaction(write=False) as store:
        row = store.settlement(setlinfo["setl_id"])
        uses = store.voucher_uses(WORKER, 10)
    assert row is not None and (row.mdtrt_cert_type, row.msgid, row.infno) == ("01", pay_ord_id, "2207")
    assert [(u.business_type, u.fixmedins_code) for u in uses] == [("01301", "H44010600001")]

    # paid once: neither a second payment nor a cancellation of the upload
    again = me.post(f"/portal/orders/{pay_ord_id}/pay", data={"code": v_code(voucher)}, follow_redirects=False)
    assert again.status_code == 409 and "不能支付" in again.text
    with pytest.raises(InterfaceError, match="请先退费"):
        hospital.call("6401", {"data": {"pay_ord_id": pay_ord_id}})
    with pytest.raises(InterfaceError, match="订单不存在"):  # nor may another institution see it
        his_at(http, "H44010600002").call("6301", {"data": {"pay_ord_id": pay_ord_id}})

    refund = hospital.call("6203", {"data": {"pay_ord_id": pay_ord_id}})
    assert refund["data"]["ord_stas"] == "3" and refund["setlinfo"]["refd_setl_flag"] == "1"
    for name in AMOUNTS:
        assert Decimal(str(refund["setlinfo"][name])) == -Decimal(str(counter[name])), name
    assert balance(db, WORKER) == before
    assert ledger_problems(db) == []
    with pytest.raises(InterfaceError, match="已退费"):
        hospital.call("6203", {"data": {"pay_ord_id": pay_ord_id}})
    assert hospital.call("6301", {"data": {"pay_ord_id": pay_ord_id}})["data"]["ord_stas"] == "3"


def test_only_the_persons_own_code_pays_and_an_unpaid_upload_can_be_cancelled(
    db: Database, http: TestClient, hospital: HisClient
) -> None:
    pay_ord_id = order(hospital, WORKER, "WEB-0002")["pay_ord_id"]
    me = portal(http, WORKER)
    unactivated = me.get("/portal/orders").text  # no voucher, no code: nothing to pay with yet
    assert 'data-testid="order-no-voucher"' in unactivated and 'name="code"' not in unactivated
    activate(db, WORKER)
    other = activate(db, RETIREE)
    assert 'name="code"' in me.get("/portal/orders").text

    stranger = me.post(f"/portal/orders/{pay_ord_id}/pay", data={"code": v_code(other)}, follow_redirects=False)
    assert stranger.status_code == 409 and "不是本人的医保电子凭证" in stranger.text
    garbage = me.post(f"/portal/orders/{pay_ord_id}/pay", data={"code": "NOT-A-CODE"}, follow_redirects=False)
    assert garbage.status_code == 409
    with db.transaction(write=False) as store:
        assert store.voucher_uses(RETIREE, 10) == [] and store.voucher_uses(WORKER, 10) == []
    assert hospital.call("6301", {"data": {"pay_ord_id": pay_ord_id}})["data"]["ord_stas"] == "1"

    cancelled = hospital.call("6401", {"data": {"pay_ord_id": pay_ord_id}})
    assert cancelled["data"]["ord_stas"] == "4"
    with db.transaction(write=False) as store:
        found = store.order(pay_ord_id)
        assert found is not None
        visit = store.visit(found.mdtrt_id)
        assert visit is not None and visit.status == "cancelled"
        assert store.unsettled_lines(found.mdtrt_id, None) == []
    page = me.get("/portal/orders")
    assert 'data-status="4"' in page.text and 'name="code"' not in page.text
    late = me.post(f"/portal/orders/{pay_ord_id}/pay", data={"code": v_code(other)}, follow_redirects=False)
    assert late.status_code == 409 and "已撤销" in late.text
    with pytest.raises(InterfaceError, match="不能退费"):
        hospital.call("6203", {"data": {"pay_ord_id": pay_ord_id}})
    awaiting = order(hospital, WORKER, "WEB-0003")["pay_ord_id"]
    portal(http, RETIREE)  # someone else's order is not there to pay, whatever the code
    theirs = http.post(f"/portal/orders/{awaiting}/pay", data={"code": v_code(other)}, follow_redirects=False)
    assert theirs.status_code == 404 and "订单不存在" in theirs.text
    assert f'data-pay-ord-id="{awaiting}"' not in http.get("/portal/orders").text
    assert ledger_problems(db) == []


def test_two_payments_of_one_order_at_once_one_wins(db: Database, hospital: HisClient) -> None:
    """The second waits for the first's lock on the order row (SQLite: on the writer lock), then finds
    the order paid."""
    voucher = activate(db, WORKER)
    pay_ord_id = order(hospital, WORKER, "WEB-0004")["pay_ord_id"]
    codes, holding, outcome = Authority.load(), threading.Event(), []

    def pay_and_hold() -> None:
        with db.transaction() as store:
            online.pay(store, codes, psn_no=WORKER, pay_ord_id=pay_ord_id, code=v_code(voucher), now=utcnow())
            holding.set()
            time.sleep(0.3)  # the second payment arrives while this one has not committed

    def pay_meanwhile() -> None:
        holding.wait(10)
        try:
            with db.transaction() as store:
                online.pay(store, codes, psn_no=WORKER, pay_ord_id=pay_ord_id, code=v_code(voucher), now=utcnow())
            outcome.append("paid")
        except Refused as exc:
            outcome.append(exc.reason)

    threads = [threading.Thread(target=pay_and_hold), threading.Thread(target=pay_meanwhile)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(outcome) == 1 and "已支付，不能支付" in outcome[0]
    with db.transaction(write=False) as store:
        paid = store.order(pay_ord_id)
        assert paid is not None and paid.status == "2"
        assert len(store.voucher_uses(WORKER, 10)) == 1
    assert ledger_problems(db) == []
