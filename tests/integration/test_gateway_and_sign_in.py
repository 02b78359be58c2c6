"""Who may call: the gateway's signature on every request, and a valid sign-in (9001) in every envelope."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.flows import WORKER, certno, person_info, register, row_counts
from tests.integration.test_interface_envelope import register_input
from yibao.api.fsi.gateway import RIO, SM3, Gateway, GatewayError, caller_secret, rio_headers
from yibao.api.server import create_app
from yibao.sim.his import HisClient, InterfaceError
from yibao.store import tables
from yibao.store.database import Database
from yibao.store.nonces import SqlNonces

KEY = bytes(range(32))
PSN = {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno(WORKER), "psn_cert_type": "01"}}


@pytest.fixture
def guarded(db: Database) -> Iterator[TestClient]:
    """The server with its gateway checking signatures under KEY."""
    with TestClient(create_app(db, Gateway([KEY]))) as client:
        yield client


def test_only_signed_requests_pass_the_gateway(guarded: TestClient, db: Database) -> None:
    gateway = Gateway([KEY])
    his = HisClient("", "H44010600001", client=guarded, signer=gateway.signer(SM3, "H44010600001"))
    assert person_info(his, WORKER)["baseinfo"]["psn_no"] == WORKER  # signs in (9001), then 1101, both signed

    before = row_counts(db)
    unsigned = HisClient("", "H44010600001", client=guarded, sign_no=his.sign_no)
    answer = unsigned.post(unsigned.envelope("9001", {"signIn": {"opter_no": "001"}}))
    assert (answer["infcode"], answer["err_msg"]) == (-1, "x-tif-signature: 缺少网关签名（里约 x-tif-* 或 SM3 x-ca-*）")

    forged = HisClient("", "H44010600001", client=guarded, sign_no=his.sign_no)
    forged.signer = Gateway([bytes(32)]).signer(SM3, "H44010600001")  # a secret from another key
    assert forged.post(forged.envelope("1101", PSN))["err_msg"] == "x-ca-signature: 签名不符"

    # a signature of one institution does not carry another's envelope
    other = HisClient("", "H44010600004", client=guarded, sign_no=his.sign_no, signer=his.signer)
    assert other.post(other.envelope("1101", PSN))["err_msg"] == (
        "fixmedins_code: H44010600004 与网关签名的机构 H44010600001 不符"
    )
    assert row_counts(db) == before  # nothing written by any refusal (no sign-in, no message log)


def test_a_rio_front_end_signs_for_its_institutions_and_may_not_replay(guarded: TestClient) -> None:
    token = Gateway([KEY]).signer(RIO, "mbs_fsi_auth").secret
    his = HisClient("", "H44010600004", client=guarded, signer=Gateway([KEY]).signer(RIO, "mbs_fsi_auth"))
    assert person_info(his, WORKER)["baseinfo"]["psn_no"] == WORKER
    body = his.envelope("1101", PSN)
    headers = rio_headers("mbs_fsi_auth", token)
    first = guarded.post("/fsi/api/callService", json=body, headers=headers).json()
    again = guarded.post("/fsi/api/callService", json=body, headers=headers).json()
    assert first["infcode"] == 0
    assert (again["infcode"], again["err_msg"]) == (-1, "x-tif-nonce: 已使用过（重放）")


def test_every_message_but_9001_needs_a_valid_sign_in_of_its_institution(http: TestClient, db: Database) -> None:
    his = HisClient("", "H44010600001", client=http)
    before = row_counts(db)
    answer = his.post(his.envelope("2201", {"data": {"psn_no": WORKER, "insutype": "310"}}))
    assert (answer["infcode"], answer["err_msg"]) == (-1, "sign_no: 未签到，请先签到(9001)")
    assert row_counts(db) == before

    sign_no = his.sign_in()
    assert person_info(his, WORKER)["baseinfo"]["psn_no"] == WORKER

    stranger = HisClient("", "H44010600004", client=http, sign_no=sign_no)  # another institution's sign_no
    assert stranger.post(stranger.envelope("1101", PSN))["err_msg"] == f"sign_no: {sign_no} 签到流水号不存在"

    his.call("9002", {"signOut": {"opter_no": "001", "sign_no": sign_no}})
    assert his.post(his.envelope("1101", PSN))["err_msg"] == f"sign_no: {sign_no} 已签退，请重新签到(9001)"

    # a sign-in from more than a day ago
    stale = his.sign_in()
    with db.engine.begin() as conn:
        s = tables.sign_in.c
        signed = conn.execute(select(s.sign_time).where(s.sign_no == stale)).scalar_one()
        conn.execute(update(tables.sign_in).where(s.sign_no == stale).values(sign_time=signed - timedelta(hours=25)))
    assert his.post(his.envelope("1101", PSN))["err_msg"] == f"sign_no: {stale} 签到已超过 24 小时，请重新签到(9001)"
    his.sign_in()
    assert person_info(his, WORKER)["baseinfo"]["psn_no"] == WORKER


def test_a_suspended_institution_signs_in_but_may_not_open_visits(http: TestClient) -> None:
    his = HisClient("", "H44010600009", client=http)  # 定点资格已暂停 in the demo registry
    assert his.sign_in()
    with pytest.raises(InterfaceError, match="fixmedins_code: H44010600009 定点资格已暂停"):
        register(his, WORKER)


def test_a_message_answered_before_its_sign_out_is_answered_again_after(http: TestClient, db: Database) -> None:
    """The HIS lost the answer of a 2201 and resends it after signing out: it learns it was done."""
    his = HisClient("", "H44010600001", client=http)
    his.sign_in()
    envelope = his.envelope("2201", register_input(WORKER))
    first = his.post(envelope)
    assert first["infcode"] == 0
    his.call("9002", {"signOut": {"opter_no": "001", "sign_no": his.sign_no}})
    before = row_counts(db)
    again = his.post(envelope)
    assert (again["infcode"], again["output"]) == (0, first["output"])
    assert row_counts(db) == before
    another = his.post(his.envelope("2201", register_input(WORKER)))  # a new message is refused
    assert another["err_msg"] == f"sign_no: {his.sign_no} 已签退，请重新签到(9001)"


def test_a_nonce_used_at_one_worker_is_refused_at_every_other(db: Database) -> None:
    """Two worker processes' gateways over one database (as on PostgreSQL): a replay sent to the
    other worker is refused too; rows older than the window are forgotten."""
    first, second = (Gateway([KEY], nonces=SqlNonces(db.engine)) for _ in range(2))
    token = caller_secret(KEY, RIO, "H44010600001")
    headers = rio_headers("H44010600001", token)
    assert first.verify(headers, b"{}").fixmedins_code == "H44010600001"
    with pytest.raises(GatewayError, match="x-tif-nonce: 已使用过"):
        second.verify(headers, b"{}")
    assert second.verify(rio_headers("H44010600001", token), b"{}").style == RIO  # a fresh nonce passes

    late = SqlNonces(db.engine)
    assert late.first_use("H44010600001", "n-late", time.time() + 5, forget_before=time.time() + 1)  # purges the rest
    with db.transaction(write=False) as store:
        left = store.conn.execute(select(tables.gateway_nonce.c.nonce)).scalars().all()
    assert left == ["n-late"]
    assert (db.shared_nonces() is None) == db.sqlite
