"""A service application in real browsers (Debian's chromium, Playwright) against a real `yibao serve` per
database: the person, on a phone, opens 门诊慢特病待遇认定 in the portal, sees identity and insurance
filled in from the platform (平台已有，无需提供), provides the two certificates and applies; a clerk of
440100 finds it in the console's inbox, passes the check and the approval; the person's page and the
service board agree, and so do the application's rows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from tests.accounts import PASSWORD, add_user_at
from tests.databases import BACKENDS, fresh_database, load_demo
from tests.e2e.test_console import ARTIFACTS, browser_missing, query
from tests.e2e.test_console import browser as browser  # the module's chromium fixture
from tests.flows import WORKER, certno
from tests.servers import running_server
from yibao.store import tables

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@dataclass
class Server:
    base: str
    url: str
    backend: str


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if browser_missing() is not None:
        yield Server("", "", request.param)
        return
    tmp = tmp_path_factory.mktemp(f"services-{request.param}")
    with fresh_database(request.param, tmp) as url:
        load_demo(url)
        add_user_at(url, "zhou", "clerk", "440100")
        with running_server(url, tmp / "server.log") as base:
            yield Server(base, url, request.param)


def test_a_person_applies_in_the_portal_and_a_clerk_approves_in_the_console(browser: Browser, server: Server) -> None:
    errors: list[str] = []
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN")
    desk = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    try:
        person = phone.new_page()
        person.on("pageerror", lambda e: errors.append(str(e)))
        person.goto(server.base + "/portal")
        person.get_by_test_id("portal-certno").fill(certno(WORKER))
        person.get_by_test_id("portal-card").fill("K44010023456")
        person.get_by_role("button", name="进入").click()
        person.wait_for_url(re.compile("/portal/me$"))
        person.get_by_test_id("portal-services").click()
        person.wait_for_url(re.compile("/portal/services$"))
        person.locator('[data-item-code="YB07"] a').click()
        person.wait_for_url(re.compile("/portal/services/YB07$"))
        fetched = person.locator('[data-fetched="yes"]')
        assert fetched.count() == 2  # identity and insurance: nothing to bring
        assert "平台已有，无需提供" in fetched.first.inner_text()
        assert "4401**********2340" in person.get_by_test_id("materials").inner_text()
        person.get_by_test_id("field-disease").fill("M00500 高血压")
        person.get_by_test_id("field-fixmedins_code").fill("H44010600001")
        person.get_by_test_id("provide-diagnosis").fill("诊断证明 GZ-2026-001")
        person.get_by_test_id("provide-records").fill("病历及检查报告 5 页")
        person.get_by_test_id("apply-submit").click()
        person.wait_for_url(re.compile(r"/portal/applications/\w+$"))
        application_id = person.url.rsplit("/", 1)[1]
        assert person.get_by_test_id("application-status").get_attribute("data-status") == "submitted"
        ARTIFACTS.mkdir(exist_ok=True)
        person.screenshot(path=str(ARTIFACTS / f"service-portal-{server.backend}.png"), full_page=True)

        clerk = desk.new_page()
        clerk.on("pageerror", lambda e: errors.append(str(e)))
        clerk.goto(server.base + "/console/login")
        clerk.get_by_test_id("login-username").fill("zhou")
        clerk.get_by_test_id("login-password").fill(PASSWORD)
        clerk.get_by_role("button", name="登录").click()
        clerk.wait_for_url(re.compile("/console$"))
        clerk.get_by_role("link", name="经办服务").click()
        clerk.wait_for_url(re.compile("/console/services$"))
        clerk.get_by_role("link", name="待办任务").first.click()
        clerk.wait_for_url(re.compile("/console/services/inbox$"))
        clerk.locator(f'tr[data-application-id="{application_id}"] [data-testid="inbox-open"]').click()
        clerk.wait_for_url(re.compile(f"/console/services/applications/{application_id}$"))
        assert clerk.locator('[data-testid="application-materials"] [data-how="fetched"]').count() == 2
        for step in ("check", "approve"):
            clerk.locator(f'[data-testid="task-form"][data-step="{step}"]').get_by_test_id("task-pass").click()
            clerk.wait_for_url(re.compile("done=pass$"))
        assert clerk.get_by_test_id("application-status").get_attribute("data-status") == "done"
        clerk.screenshot(path=str(ARTIFACTS / f"service-console-{server.backend}.png"), full_page=True)

        person.reload()
        assert person.get_by_test_id("application-status").get_attribute("data-status") == "done"
        clerk.goto(server.base + "/console/services")
        assert clerk.get_by_test_id("board-finished").inner_text() == "1"
        assert clerk.get_by_test_id("board-trips").inner_text() == "0.00"  # applied online: no trip
        clerk.screenshot(path=str(ARTIFACTS / f"service-board-{server.backend}.png"), full_page=True)

        k = tables.service_task.c
        history = query(server.url, select(k.step, k.outcome, k.actor).where(k.application_id == application_id)
                        .order_by(k.seq))  # fmt: skip
        assert [tuple(r) for r in history] == [
            ("submit", "pass", WORKER),
            ("check", "pass", "zhou"),
            ("approve", "pass", "zhou"),
            ("done", "pass", "zhou"),
        ]
    finally:
        phone.close()
        desk.close()
    assert errors == []
