"""The electronic voucher at the counter: activate, show a code, scan it (ec.query / 1162), then 1101,
2201 and 2207 with the ecToken (mdtrt_cert_type 01) — and every way a code is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.flows import AMOXICILLIN, SUSPENDED, WORKER, certno, ledger_problems, line, now_text, settle_data, upload
from tests.integration.conftest import his_at
from yibao.app import voucher as v
from yibao.app.errors import Refused
from yibao.sim.his import HisClient, InterfaceError
from yibao.store import tables
from yibao.store.database import Database
from yibao.voucher.authority import Authority
from yibao.voucher.token import decode, encode

NAME = {WORKER: "李晓敏"}


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def activate(db: Database, psn_no: str, device: str = "phone-1") -> v.VoucherRecord:
    """Activation as the portal does it: ID number and name, then the one-time code sent."""
    with db.transaction() as store:
        person = store.person(psn_no)
        assert person is not None
        started = v.start_activation(store, person.certno, person.psn_name, device, utcnow())
    assert started is not None
    _, code = started
    with db.transaction() as store:
        return v.confirm_activation(store, certno(psn_no), code, utcnow())


@pytest.fixture
def authority() -> Authority:
    return Authority.load()


def scan(his: HisClient, code: str, business_type: str = "01101") -> dict[str, Any]:
    return his.read_code(code, business_type)


def registration(psn_no: str, token: str) -> dict[str, Any]:
    return {
        "data": {
            "psn_no": psn_no,
            "insutype": "310",
            "begntime": now_text(),
            "mdtrt_cert_type": "01",
            "mdtrt_cert_no": token,
            "ipt_otp_no": "MZ-EC-1",
            "atddr_no": "D440106000001",
            "dr_name": "张医生",
            "dept_code": "A03",
            "dept_name": "内科",
            "caty": "A03",
        }
    }


def test_a_code_scanned_at_the_counter_carries_the_visit_to_settlement(
    db: Database, hospital: HisClient, authority: Authority
) -> None:
    voucher = activate(db, WORKER)
    now = utcnow()
    answer = scan(hospital, authority.issue(voucher.ec_index_no, now).text)
    assert (answer["code"], answer["type"]) == (0, "success")
    data = answer["data"]
    assert data["ecIndexNo"] == voucher.ec_index_no
    assert data["idNo"] == certno(WORKER)[:6] + "********" + certno(WORKER)[-4:]
    token = data["ecToken"]
    assert token[:6].isdigit() and token[6:8] == "ec" and len(token) == 38

    psn = hospital.call("1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": token, "psn_cert_type": "01"}})
    assert psn["baseinfo"]["psn_no"] == WORKER
    mdtrt_id = hospital.call("2201", registration(WORKER, token))["data"]["mdtrt_id"]
    upload(hospital, line("1", mdtrt_id, WORKER, AMOXICILLIN, "2", "12.50"))

    # the registration's token is not a settlement's: pay with a second scan, business type 01301
    with pytest.raises(InterfaceError) as refused:
        hospital.call("2207", settle_data(WORKER, mdtrt_id, "25.00", mdtrt_cert_type="01", mdtrt_cert_no=token))
    assert "用码业务类型为 01101" in refused.value.err_msg
    pay = scan(hospital, authority.issue(voucher.ec_index_no, utcnow()).text, "01301")["data"]["ecToken"]
    setl = hospital.call("2207", settle_data(WORKER, mdtrt_id, "25.00", mdtrt_cert_type="01", mdtrt_cert_no=pay))
    assert (setl["setlinfo"]["medfee_sumamt"], setl["setlinfo"]["mdtrt_cert_type"]) == (25, "01")
    with db.transaction(write=False) as store:
        row = store.settlement(setl["setlinfo"]["setl_id"])
        uses = store.voucher_uses(WORKER, 10)
    assert row is not None and row.mdtrt_cert_type == "01"
    assert [u.business_type for u in uses] == ["01301", "01101"]
    assert ledger_problems(db) == []


def test_each_code_is_read_once_and_bad_codes_say_why(db: Database, hospital: HisClient, authority: Authority) -> None:
    voucher = activate(db, WORKER)
    code = authority.issue(voucher.ec_index_no, utcnow()).text
    assert scan(hospital, code)["code"] == 0
    again = scan(hospital, code)
    assert (again["code"], again["type"]) == (500163, "fail")
    assert again["message"].startswith("data.ecQrCode: 二维码已使用")

    expired = authority.issue(voucher.ec_index_no, utcnow() - timedelta(seconds=61)).text
    assert scan(hospital, expired)["code"] == 500162

    raw = bytearray(decode(authority.issue(voucher.ec_index_no, utcnow()).text))
    raw[20] ^= 1  # a character of the voucher index changed: the signature no longer covers it
    assert scan(hospital, encode(bytes(raw)))["code"] == 500161
    assert scan(hospital, "https://example.com/not-a-voucher")["code"] == v.MALFORMED

    never = authority.issue("440100EC000000000000000000000000", utcnow()).text
    assert scan(hospital, never)["code"] == 500164
    assert scan(hospital, authority.issue(voucher.ec_index_no, utcnow()).text, "09999")["code"] == 500171

    stranger = his_at_unknown(hospital)
    assert scan(stranger, authority.issue(voucher.ec_index_no, utcnow()).text)["code"] == 500170

    with db.transaction() as store:
        v.set_suspended(store, WORKER, True, utcnow())
    assert scan(hospital, authority.issue(voucher.ec_index_no, utcnow()).text)["code"] == 500165
    with db.transaction(write=False) as store:
        assert len(store.voucher_uses(WORKER, 10)) == 1  # only the first read was recorded


def his_at_unknown(his: HisClient) -> HisClient:
    return HisClient("", "H99999999999", client=his.client)


def test_an_ec_token_is_the_institutions_and_the_persons_and_expires(
    db: Database, http: TestClient, hospital: HisClient, authority: Authority
) -> None:
    voucher = activate(db, WORKER)
    token = scan(hospital, authority.issue(voucher.ec_index_no, utcnow()).text)["data"]["ecToken"]
    other = his_at(http, "H44010600002")
    query = {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": token, "psn_cert_type": "01"}}
    with pytest.raises(InterfaceError, match="电子凭证令牌无效"):
        other.call("1101", query)
    with pytest.raises(InterfaceError, match="电子凭证令牌与人员不符"):
        hospital.call("2201", registration(SUSPENDED, token))
    with db.transaction(write=False) as store:
        use = store.voucher_use(token)
        assert use is not None
        with pytest.raises(Refused, match="已过期"):
            v.person_of_ec_token(store, token, "H44010600001", use.used_at + v.EC_TOKEN_TTL, "input.data")


def test_1162_reads_a_code_inside_the_national_envelope(
    db: Database, hospital: HisClient, authority: Authority
) -> None:
    voucher = activate(db, WORKER)
    code = authority.issue(voucher.ec_index_no, utcnow()).text
    msgid = hospital.next_msgid()
    read = {"data": {"mdtrt_cert_type": "01", "ecQrCode": code, "businessType": "01101"}}
    out = hospital.call("1162", read, msgid=msgid)["data"]
    assert out["ecIndexNo"] == voucher.ec_index_no
    assert hospital.call("1162", read, msgid=msgid)["data"]["ecToken"] == out["ecToken"]  # a retry: same answer
    with pytest.raises(InterfaceError, match="二维码已使用"):
        hospital.call("1162", read)
    with db.transaction(write=False) as store:
        assert store.conn.execute(select(func.count()).select_from(tables.voucher_use)).scalar() == 1


def test_activation_wants_the_code_sent_and_gives_up_after_five_tries(db: Database) -> None:
    with db.transaction() as store:
        assert v.start_activation(store, certno(WORKER), "not the name", "phone", utcnow()) is None
        started = v.start_activation(store, certno(WORKER), NAME[WORKER], "phone", utcnow())
    assert started is not None
    code = started[1]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(v.ACTIVATION_TRIES):
        with db.transaction() as store, pytest.raises(Refused, match="验证码不正确"):
            v.confirm_activation(store, certno(WORKER), wrong, utcnow())
    with db.transaction() as store, pytest.raises(Refused, match="验证码已失效"):
        v.confirm_activation(store, certno(WORKER), code, utcnow())
    with db.transaction(write=False) as store:
        assert store.voucher_of(WORKER) is None


@pytest.mark.parametrize(
    ("body", "code", "names"),
    [
        (b"{not json", v.MALFORMED, "JSON"),
        (b"[]", v.MALFORMED, "JSON对象"),
        (b'{"transType": "ec.pay", "orgId": "H44010600001", "data": {}}', 500100, "transType"),
        (b'{"transType": "ec.query", "orgId": "H44010600001"}', 500100, "data"),
        (b'{"transType": "ec.query", "data": {"businessType": "01101", "ecQrCode": "X"}}', 500100, "orgId"),
        (b'{"transType": "ec.query", "orgId": "H44010600001", "data": {"businessType": "01101"}}', 500100,
         "data.ecQrCode"),
        (b'{"transType": "ec.query", "orgId": "H44010600001", "data": {"orgId": "H44010600002", "ecQrCode": "X"}}',
         500100, "data.orgId"),
    ],
)  # fmt: skip
def test_a_malformed_query_names_what_is_wrong(http: TestClient, body: bytes, code: int, names: str) -> None:
    answer = http.post("/localcfc/api/hsecfc/localQrCodeQuery", content=body).json()
    assert (answer["code"], answer["type"], answer["data"]) == (code, "fail", None)
    assert names in answer["message"]
