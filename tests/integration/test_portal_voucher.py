"""The insured person's side of the electronic voucher, through the portal's pages (TestClient, both
databases): activation by ID number, name and the one-time code read back from the SMS outbox, the
portal session it opens, the voucher page (a QR code, its history) and every refusal."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.flows import RETIREE, WORKER, certno
from tests.integration.conftest import his_at
from yibao.api.server import create_app
from yibao.app import voucher as v
from yibao.app.records import local_time
from yibao.sms import OUTBOX_ENV, read_outbox
from yibao.store import tables
from yibao.store.database import Database
from yibao.voucher.authority import Authority

CODE = re.compile(r"验证码 (\d{6})")


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "sms.jsonl"
    monkeypatch.setenv(OUTBOX_ENV, str(path))
    return path


@pytest.fixture
def portal(db: Database, outbox: Path) -> Iterator[TestClient]:
    with TestClient(create_app(db)) as client:
        yield client


def name_of(db: Database, psn_no: str) -> str:
    with db.transaction(write=False) as store:
        person = store.person(psn_no)
    assert person is not None
    return person.psn_name


def sent_codes(outbox: Path, psn_no: str) -> list[str]:
    return [m for line in read_outbox(outbox) if line["psn_no"] == psn_no for m in CODE.findall(line["text"])]


def ask_code(c: TestClient, db: Database, psn_no: str, device: str = "phone-1", name: str | None = None) -> Any:
    data = {"certno": certno(psn_no), "psn_name": name_of(db, psn_no) if name is None else name, "device_id": device}
    return c.post("/portal/activate", data=data)


def confirm(c: TestClient, psn_no: str, code: str) -> Any:
    return c.post("/portal/activate/confirm", data={"certno": certno(psn_no), "code": code}, follow_redirects=False)


def audit_actions(db: Database, psn_no: str) -> list[tuple[str, str, str]]:
    a = tables.audit_log.c
    with db.engine.connect() as conn:
        rows = conn.execute(select(a.action, a.actor_kind, a.detail).where(a.psn_no == psn_no).order_by(a.id)).all()
    return [(r.action, r.actor_kind, r.detail) for r in rows]


def voucher_of(db: Database, psn_no: str) -> v.VoucherRecord | None:
    with db.transaction(write=False) as store:
        return store.voucher_of(psn_no)


def test_activation_opens_a_session_and_the_voucher_page_shows_the_code_and_its_uses(
    db: Database, portal: TestClient, outbox: Path
) -> None:
    form = portal.get("/portal/activate")
    assert form.status_code == 200 and 'data-testid="activate-details"' in form.text
    assert re.search(r'name="device_id" type="hidden" value="[0-9a-f-]{36}"', form.text)  # the server's fallback

    wrong_name = ask_code(portal, db, WORKER, name="王小明")
    nobody = portal.post("/portal/activate", data={"certno": "440100199901011234", "psn_name": "王小明"})
    assert read_outbox(outbox) == []
    right = ask_code(portal, db, WORKER)
    assert right.status_code == wrong_name.status_code == nobody.status_code == 200
    assert 'data-testid="activate-sent"' in right.text and 'data-testid="activate-confirm"' in right.text
    assert right.text == wrong_name.text  # nothing tells whether the details named somebody
    [message] = read_outbox(outbox)
    assert message["psn_no"] == WORKER and message["at"].endswith("Z")
    [code] = sent_codes(outbox, WORKER)

    wrong = confirm(portal, WORKER, f"{(int(code) + 1) % 1_000_000:06d}")
    assert wrong.status_code == 401 and "验证码不正确" in wrong.text
    assert "yibao_portal" not in portal.cookies and voucher_of(db, WORKER) is None
    assert portal.get("/portal/voucher", follow_redirects=False).headers["location"] == "/portal"

    done = confirm(portal, WORKER, code)
    assert done.status_code == 303 and done.headers["location"] == "/portal/voucher"
    assert "httponly" in done.headers["set-cookie"].lower() and "yibao_portal" in portal.cookies
    voucher = voucher_of(db, WORKER)
    assert voucher is not None and voucher.device_id == "phone-1" and voucher.status == v.ACTIVE

    page = portal.get("/portal/voucher")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert page.text.count("<svg") == 1 and 'hx-get="/portal/voucher/code"' in page.text
    assert 'data-testid="voucher-use"' not in page.text
    seconds = int(re.findall(r'data-seconds="(\d+)"', page.text)[0])
    assert 55 <= seconds <= 60

    # two codes read at the counter: the page lists them, newest first, in local time
    authority = Authority.load()
    hospital, pharmacy = his_at(portal, "H44010600001"), his_at(portal, "P44010600001")
    assert hospital.read_code(authority.issue(voucher.ec_index_no, utcnow()).text, "01101")["code"] == 0
    assert pharmacy.read_code(authority.issue(voucher.ec_index_no, utcnow()).text, "02121")["code"] == 0
    with db.transaction(write=False) as store:
        uses = store.voucher_uses(WORKER, 10)
        names = [getattr(store.institution(u.fixmedins_code), "fixmedins_name", "?") for u in uses]
    page = portal.get("/portal/voucher")
    use_row = r'data-testid="voucher-use"><div class="row"><span class="name">([^<]+)</span><span>([^<]+)'
    shown = re.findall(use_row, page.text)
    assert shown == [(n, v.BUSINESS_TYPES[u.business_type]) for n, u in zip(names, uses, strict=True)]
    assert [b for _, b in shown] == ["药店购药", "挂号"]
    assert f"{local_time(uses[0].used_at):%Y-%m-%d %H:%M:%S}" in page.text

    fragment = portal.get("/portal/voucher/code", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and fragment.headers["cache-control"] == "no-store"
    assert fragment.text.count("<svg") == 1
    assert "<html" not in fragment.text and 'id="voucher-code"' in fragment.text

    me = portal.get("/portal/me")
    assert 'href="/portal/voucher"' in me.text

    assert [(a, k) for a, k, _ in audit_actions(db, WORKER)] == [
        ("voucher.activate.failed", "anonymous"),  # the wrong name
        ("voucher.code_sent", "anonymous"),
        ("voucher.activate.failed", "anonymous"),  # the wrong code
        ("voucher.activate", "portal"),
        ("portal.login", "portal"),
        ("portal.view", "portal"),
        ("portal.view", "portal"),
        ("portal.view", "portal"),  # /portal/me
    ]
    assert ("portal.login", "portal", "voucher activation") in audit_actions(db, WORKER)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def test_refusals_leave_nothing_half_written(db: Database, portal: TestClient, outbox: Path) -> None:
    # a device id that is not one: said so, nothing stored, nothing sent
    bad = ask_code(portal, db, WORKER, device="x" * 65)
    assert bad.status_code == 400 and "设备标识" in bad.text and read_outbox(outbox) == []
    with db.transaction(write=False) as store:
        assert store.activation(WORKER) is None

    # five wrong tries use the code up: the right one no longer opens anything
    ask_code(portal, db, WORKER)
    [code] = sent_codes(outbox, WORKER)
    for _ in range(v.ACTIVATION_TRIES):
        assert confirm(portal, WORKER, "000000" if code != "000000" else "111111").status_code == 401
    used_up = confirm(portal, WORKER, code)
    assert used_up.status_code == 401 and "验证码已失效" in used_up.text
    assert "yibao_portal" not in portal.cookies and voucher_of(db, WORKER) is None

    # a code for one person does not activate another
    ask_code(portal, db, WORKER)
    code = sent_codes(outbox, WORKER)[-1]
    assert confirm(portal, RETIREE, code).status_code == 401 and voucher_of(db, RETIREE) is None

    # at most five codes a quarter of an hour: the sixth request is answered alike, nothing is sent
    for _ in range(4):
        assert ask_code(portal, db, WORKER).status_code == 200
    assert len(sent_codes(outbox, WORKER)) == 5
    sixth = ask_code(portal, db, WORKER)
    assert sixth.status_code == 200 and 'data-testid="activate-sent"' in sixth.text
    assert len(sent_codes(outbox, WORKER)) == 5
    assert confirm(portal, WORKER, sent_codes(outbox, WORKER)[-1]).status_code == 303  # the last one sent still works


def test_a_suspended_voucher_shows_no_code_and_cannot_be_activated_again(
    db: Database, portal: TestClient, outbox: Path
) -> None:
    ask_code(portal, db, RETIREE)
    assert confirm(portal, RETIREE, sent_codes(outbox, RETIREE)[-1]).status_code == 303
    with db.transaction() as store:
        v.set_suspended(store, RETIREE, True, utcnow())
    page = portal.get("/portal/voucher")
    assert page.status_code == 200 and 'data-testid="voucher-suspended"' in page.text and "<svg" not in page.text
    fragment = portal.get("/portal/voucher/code")
    assert 'data-testid="voucher-suspended"' in fragment.text and "<svg" not in fragment.text

    with TestClient(portal.app) as other:  # a new phone: the code is right, the voucher stays suspended
        ask_code(other, db, RETIREE, device="phone-2")
        again = confirm(other, RETIREE, sent_codes(outbox, RETIREE)[-1])
        assert again.status_code == 401 and "暂停" in again.text and "yibao_portal" not in other.cookies
    voucher = voucher_of(db, RETIREE)
    assert voucher is not None and voucher.status == v.SUSPENDED and voucher.device_id == "phone-1"


def test_a_person_signed_in_without_a_voucher_is_sent_to_activate(db: Database, portal: TestClient) -> None:
    signed = portal.post("/portal", data={"certno": certno(WORKER), "card_no": "K44010023456"}, follow_redirects=False)
    assert signed.status_code == 303
    page = portal.get("/portal/voucher")
    assert 'data-testid="voucher-none"' in page.text and 'href="/portal/activate"' in page.text
    assert "<svg" not in page.text
    portal.post("/portal/logout")
    anonymous = portal.get("/portal/voucher/code", headers={"HX-Request": "true"}, follow_redirects=False)
    assert anonymous.status_code == 401 and anonymous.headers["HX-Redirect"] == "/portal"
