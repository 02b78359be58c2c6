"""A joint audit case in a real browser (Debian's chromium, Playwright) against a real `yibao serve` per
database: an auditor of 440100 picks an institution's findings on the findings page, opens a case, records
the on-site results and confirms it; the page, the case's rows and its history agree."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from tests.accounts import PASSWORD, add_user_at
from tests.databases import BACKENDS, fresh_database, load_demo
from tests.e2e.test_console import ARTIFACTS, browser_missing, query
from tests.e2e.test_console import browser as browser  # the module's chromium fixture
from tests.flows import AMOXICILLIN, BLOOD_TEST, RETIREE, line, register, settle_data
from tests.servers import running_server
from yibao.app.records import StoredFinding
from yibao.sim.his import HisClient
from yibao.store import tables
from yibao.store.database import Database
from yibao.store.engine import make_engine

if TYPE_CHECKING:
    from playwright.sync_api import Browser

HOSPITAL = "H44010600001"


@dataclass
class Server:
    base: str
    url: str
    backend: str


def findings_of_a_settlement(base: str, url: str) -> None:
    """A visit settled through the interface, and two findings on its lines (as a post-event run stores them)."""
    his = HisClient(base, HOSPITAL)
    try:
        mdtrt_id = register(his, RETIREE, ipt_otp_no="MZ-E2E-AC")
        lines = [
            line("1", mdtrt_id, RETIREE, AMOXICILLIN, "40", "0.52"),
            line("2", mdtrt_id, RETIREE, BLOOD_TEST, "3", "25"),
        ]
        his.call("2204", {"feedetail": lines})
        setl_id = str(his.call("2207", settle_data(RETIREE, mdtrt_id, "95.80"))["setlinfo"]["setl_id"])
    finally:
        his.close()
    at = datetime.now(UTC).replace(tzinfo=None)
    made = [
        StoredFinding("after", "E2E", rule, "2026.1", "definite", mdtrt_id, sn, code, setl_id, HOSPITAL, RETIREE,
                      "440100", "440100", amount, message, at)
        for rule, sn, code, amount, message in (
            ("GZ-YP-009", "1", AMOXICILLIN, 2080, "阿莫西林单次就诊超量"),
            ("GZ-XM-004", "2", BLOOD_TEST, 7500, "血常规重复收费"),
        )
    ]  # fmt: skip
    db = Database(make_engine(url))
    try:
        with db.transaction() as store:
            assert store.add_findings(made) == 2
    finally:
        db.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if browser_missing() is not None:
        yield Server("", "", request.param)
        return
    tmp = tmp_path_factory.mktemp(f"audit-cases-{request.param}")
    with fresh_database(request.param, tmp) as url:
        load_demo(url)
        add_user_at(url, "shen", "auditor", "440100")
        with running_server(url, tmp / "server.log") as base:
            findings_of_a_settlement(base, url)
            yield Server(base, url, request.param)


def test_an_auditor_opens_a_case_from_the_findings_and_confirms_it(browser: Browser, server: Server) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    try:
        tab.goto(server.base + "/console/login")
        tab.get_by_test_id("login-username").fill("shen")
        tab.get_by_test_id("login-password").fill(PASSWORD)
        tab.get_by_role("button", name="登录").click()
        tab.wait_for_url(re.compile("/console$"))

        tab.get_by_role("link", name="基金监管").click()
        tab.wait_for_url(re.compile("/console/supervision$"))
        # the settlement's own check (事中) may have stored findings too: the post-event ones are ours
        tab.get_by_test_id("findings-filter").locator("select[name=stage]").select_option("after")
        tab.get_by_role("button", name="筛选").click()
        tab.wait_for_url(re.compile("stage=after"))
        by_institution = tab.get_by_test_id("findings-by-institution")
        assert by_institution.locator(f'tr[data-institution="{HOSPITAL}"]').get_attribute("data-fen") == "9580"
        by_institution.get_by_test_id("pick-institution").first.click()
        tab.wait_for_url(re.compile(f"fixmedins_code={HOSPITAL}"))
        picks = tab.get_by_test_id("pick-finding")
        assert picks.count() == 2
        picks.nth(0).check()
        picks.nth(1).check()
        tab.get_by_test_id("case-title").fill("超量与重复收费")
        tab.get_by_test_id("open-case-submit").click()
        tab.wait_for_url(re.compile(r"/console/supervision/cases/\w+$"))
        case_id = tab.url.rsplit("/", 1)[1]
        assert tab.get_by_test_id("case-stage").inner_text() == "智能互查"
        assert "阿莫西林单次就诊超量" in tab.get_by_test_id("case-items").inner_text()

        # on site: the amoxicillin line confirmed over 20.80, the blood test cleared
        for finding, result in (("GZ-YP-009", "confirmed"), ("GZ-XM-004", "cleared")):
            row = tab.locator("[data-testid=case-items] tr", has_text=finding)
            row.locator("select[name=result]").select_option(result)
            row.get_by_role("button", name="记录").click()
            tab.wait_for_url(re.compile("done=review$"))
        assert tab.get_by_test_id("case-stage").inner_text() == "现场联审"
        assert tab.get_by_test_id("case-reviewed").get_attribute("data-fen") == "9580"
        assert tab.get_by_test_id("case-confirmed").get_attribute("data-fen") == "2080"

        tab.get_by_test_id("recover-amount").fill("20.81")  # more than was confirmed: refused, naming the field
        tab.get_by_test_id("confirm-submit").click()
        assert "recover_amount" in tab.get_by_test_id("case-error").inner_text()
        tab.get_by_test_id("recover-amount").fill("20.80")
        tab.get_by_test_id("confirm-submit").click()
        tab.wait_for_url(re.compile("done=confirm$"))
        assert tab.get_by_test_id("case-stage").inner_text() == "查实"
        assert tab.get_by_test_id("case-recover").get_attribute("data-fen") == "2080"
        assert tab.get_by_test_id("recover-form").is_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"audit-case-{server.backend}.png"), full_page=True)

        e = tables.audit_case_event.c
        history = query(server.url, select(e.stage, e.actor, e.amount).where(e.case_id == case_id).order_by(e.seq))
        assert [tuple(r) for r in history] == [
            ("cross_check", "shen", 9580),
            ("on_site", "shen", 2080),
            ("on_site", "shen", 7500),
            ("confirmed", "shen", 2080),
        ]
        tab.goto(server.base + "/console/supervision/cases")
        assert tab.get_by_test_id("board-check-count").inner_text() == "2"
        assert tab.get_by_test_id("board-confirmed-count").inner_text() == "1"
    finally:
        context.close()
    assert errors == []
