"""The bureau's console and the portal in a real browser (Debian's chromium, driven by Playwright).

A real `yibao serve` process per database (SQLite, PostgreSQL) receives a burst of settlements through
the national interface; then the pages must show exactly what the database holds, personal data masked,
every fund row and fee line of a settlement, a portal that fits a phone, and nothing loaded from
anywhere but the server itself. Staff sign in first (an administrator made in the database); the
sign-in page and the audit log's search page are tried as a person uses them. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.accounts import PASSWORD, add_user_at
from tests.databases import BACKENDS, ROOT, fresh_database, load_demo
from tests.flows import (
    AMOXICILLIN,
    BLOOD_TEST,
    NON_CATALOGUE_TEA,
    RETIREE,
    STATIN,
    WORKER,
    certno,
    line,
    local_today,
    pharmacy_data,
    register,
    settle_data,
)
from tests.servers import running_server
from yibao.app.records import LOCAL
from yibao.sim.his import HisClient
from yibao.store import tables
from yibao.store.engine import make_engine

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts"
CIVIL_SERVANT = "44010000000000034567"
FIGURES = {  # the dashboard's figure → the settlement column it sums
    "fig-medfee": "medfee_sumamt",
    "fig-hifp": "hifp_pay",
    "fig-fund": "fund_pay_sumamt",
    "fig-acct": "acct_pay",
    "fig-cash": "psn_cash_pay",
}


def browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (`make test` installs the chromium package)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (a dev dependency: `make install`)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    problem = browser_missing()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


@dataclass
class Site:
    """A running server with today's burst of settlements."""

    base: str
    url: str
    backend: str
    settled: list[str] = field(default_factory=list)
    """setl_ids of the outpatient settlements that still stand, each with three fee lines."""


@pytest.fixture(scope="module", params=BACKENDS)
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp(f"console-{request.param}")
    with fresh_database(request.param, tmp) as url:
        load_demo(url)
        add_user_at(url, "boss", "admin")
        with running_server(url, tmp / "server.log") as base:
            site = Site(base, url, request.param)
            burst(site)
            yield site
    # personal data never reaches the server's log
    assert certno(RETIREE) not in (tmp / "server.log").read_text()


def outpatient(his: HisClient, psn_no: str, serial: str) -> tuple[str, str]:
    """A visit with a 甲类 drug, a 甲类 test and a 丙类 item, settled: (mdtrt_id, setl_id)."""
    mdtrt_id = register(his, psn_no, ipt_otp_no=f"MZ{serial}")
    lines = [
        line("1", mdtrt_id, psn_no, AMOXICILLIN, "42", "0.52"),
        line("2", mdtrt_id, psn_no, BLOOD_TEST, "3", "25"),
        line("3", mdtrt_id, psn_no, NON_CATALOGUE_TEA, "1", "10"),
    ]
    his.call("2204", {"feedetail": lines})
    out = his.call("2207", settle_data(psn_no, mdtrt_id, "106.84"))
    return mdtrt_id, str(out["setlinfo"]["setl_id"])


def burst(site: Site) -> None:
    """Nine outpatient settlements at three hospitals, a pharmacy purchase, a reversal, a 3201."""
    hospitals = [HisClient(site.base, code) for code in ("H44010600001", "H44010600002", "H44010400003")]
    pharmacy = HisClient(site.base, "P44010600001")
    try:
        for i in range(9):
            his = hospitals[i % 3]
            psn_no = (RETIREE, WORKER, CIVIL_SERVANT)[i // 3]
            mdtrt_id, setl_id = outpatient(his, psn_no, str(i))
            if i == 4:
                his.call("2208", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}})
            else:
                site.settled.append(setl_id)
        purchase = pharmacy_data(WORKER, "110.04", line("1", "", WORKER, AMOXICILLIN, "42", "0.52"),
                                 line("2", "", WORKER, STATIN, "28", "3.15"))  # fmt: skip
        pharmacy.call("2102", purchase)
        today = local_today().isoformat()
        statement = {"insutype": "310", "clr_type": "11", "setl_optins": "440100", "stmt_begndate": today,
                     "stmt_enddate": today, "medfee_sumamt": "0", "fund_pay_sumamt": "0", "acct_pay": "0",
                     "fixmedins_setl_cnt": "0"}  # fmt: skip
        hospitals[0].call("3201", {"data": statement})  # a mismatch: the hospital settled today
    finally:
        for client in (*hospitals, pharmacy):
            client.close()


# ---------------------------------------------------------------- the database's own answers


def today_sums(url: str) -> dict[str, int]:
    """Today's (local day) figures straight from the settlement rows, reversals negative."""
    day = local_today()
    begin = datetime.combine(day, clock(), LOCAL).astimezone(UTC).replace(tzinfo=None)
    s = tables.settlement.c
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(s.revs_setl_id, s.fixmedins_code, *(s[c] for c in FIGURES.values())).where(
                    s.setl_time >= begin, s.setl_time < begin + timedelta(days=1)
                )
            ).all()
    finally:
        engine.dispose()
    sums = {name: sum(int(r[i + 2]) for r in rows) for i, name in enumerate(FIGURES)}
    sums["fig-settlements"] = sum(1 if r.revs_setl_id is None else -1 for r in rows)
    sums["fig-institutions"] = len({r.fixmedins_code for r in rows if r.revs_setl_id is None})
    return sums


def query(url: str, statement: Any) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(statement).all())
    finally:
        engine.dispose()


def shown_figures(page: Page) -> dict[str, int]:
    out = {}
    for testid in ("fig-settlements", "fig-institutions"):
        out[testid] = int(page.get_by_test_id(testid).get_attribute("data-value") or "x")
    for testid in FIGURES:
        out[testid] = int(page.get_by_test_id(testid).get_attribute("data-fen") or "x")
    return out


def yuan_text(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


# ---------------------------------------------------------------- pages


def sign_in(tab: Page, site: Site, username: str = "boss", password: str = PASSWORD) -> None:
    """Through the sign-in page, as a person does."""
    tab.goto(site.base + "/console/login")
    tab.get_by_test_id("login-username").fill(username)
    tab.get_by_test_id("login-password").fill(password)
    tab.get_by_role("button", name="登录").click()


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    """A signed-in administrator's browser tab."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    tab = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    tab.on("request", lambda r: requests.append(r.url))
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(tab, site)
    tab.wait_for_url(re.compile("/console$"))
    yield tab
    context.close()
    foreign = [u for u in requests if not u.startswith(site.base + "/")]
    assert foreign == [], f"loaded from outside the server: {foreign}"
    # script errors and Content-Security-Policy violations show here (a 404 page logs its status: allowed)
    assert [e for e in errors if "404" not in e] == []


def shot(page: Page, site: Site, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{site.backend}-{name}.png"), full_page=True)


def test_dashboard_shows_the_database_sums_and_updates_live(page: Page, site: Site) -> None:
    for asset in ("echarts.min.js", "htmx.min.js"):  # installed from the npm registry by `make` into build/web
        assert httpx.get(f"{site.base}/console/static/{asset}").status_code == 200, f"{asset}: run `make install`"
    page.goto(site.base + "/console")
    page.wait_for_selector("#chart-minute canvas")
    page.wait_for_selector("#chart-insutype canvas")
    expected = today_sums(site.url)
    assert expected["fig-settlements"] == 9  # nine outpatient less one reversal, and the pharmacy purchase
    assert expected["fig-institutions"] == 4
    assert shown_figures(page) == expected
    for testid in FIGURES:  # what a person reads is the same amount
        assert page.get_by_test_id(testid).inner_text() == yuan_text(expected[testid])
    top = page.get_by_test_id("top-institutions")
    assert top.locator("tbody tr").count() == 4
    assert "广州市第一人民医院" in top.inner_text()
    shot(page, site, "dashboard")

    # one more settlement: the page follows within a poll or two, without a reload
    his = HisClient(site.base, "H44010600002")
    try:
        outpatient(his, RETIREE, "live")
    finally:
        his.close()
    page.wait_for_function(
        "n => document.querySelector('[data-testid=fig-settlements]').dataset.value === String(n)",
        arg=expected["fig-settlements"] + 1,
        timeout=8000,
    )
    assert shown_figures(page) == today_sums(site.url)


def test_person_search_shows_masked_data(page: Page, site: Site) -> None:
    page.goto(site.base + "/console/person")
    page.get_by_test_id("person-query").fill(certno(RETIREE))  # by ID number, sent in the form's body
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(f"/console/person/{RETIREE}$"))
    assert page.get_by_test_id("person-name").inner_text() == "陈*国"
    assert page.get_by_test_id("person-certno").inner_text() == "4401**********1236"
    html = page.content()
    assert certno(RETIREE) not in html and "陈建国" not in html and certno(RETIREE) not in page.url
    # the balance is the ledger's
    a = tables.ledger_account.c
    [(debits, credits)] = query(site.url, select(a.debits_posted, a.credits_posted).where(a.code == f"acct:{RETIREE}"))
    assert page.get_by_test_id("person-balance").get_attribute("data-fen") == str(credits - debits)
    s = tables.settlement.c
    [(count,)] = query(site.url, select(func.count()).where(s.psn_no == RETIREE))
    assert page.get_by_test_id("settlements").locator("tbody tr").count() == count >= 3
    assert "审计日志" in page.get_by_test_id("audit-notice").inner_text()
    shot(page, site, "person")

    page.goto(site.base + "/console/person")
    page.get_by_test_id("person-query").fill("440000000000000000")
    page.get_by_role("button", name="查询").click()
    assert page.get_by_test_id("not-found").is_visible()


def test_settlement_page_shows_every_fund_row_and_fee_line(page: Page, site: Site) -> None:
    setl_id = site.settled[0]
    page.goto(f"{site.base}/console/settlement/{setl_id}")
    d = tables.setl_detail.c
    funds = dict(query(site.url, select(d.fund_pay_type, d.fund_payamt).where(d.setl_id == setl_id)))
    assert len(funds) >= 2  # the pooled fund and the personal account
    rows = page.get_by_test_id("fund-rows").locator("tbody tr")
    shown = {rows.nth(i).get_attribute("data-fund"): int(rows.nth(i).get_attribute("data-fen") or "x")
             for i in range(rows.count())}  # fmt: skip
    assert shown == funds
    line_ = tables.setl_line.c
    lines = dict(query(site.url, select(line_.feedetl_sn, line_.det_item_fee_sumamt).where(line_.setl_id == setl_id)))
    assert len(lines) == 3
    fee_rows = page.get_by_test_id("fee-lines").locator("tbody tr")
    shown_lines = {fee_rows.nth(i).get_attribute("data-sn"): int(fee_rows.nth(i).get_attribute("data-fen") or "x")
                   for i in range(fee_rows.count())}  # fmt: skip
    assert shown_lines == lines
    text = page.get_by_test_id("fee-lines").inner_text()
    assert "阿莫西林胶囊" in text and "甲类" in text and "丙类" in text
    s = tables.settlement.c
    [(proc_info,)] = query(site.url, select(s.setl_proc_info).where(s.setl_id == setl_id))
    steps = [step for step in proc_info.splitlines() if step.strip()]
    assert page.get_by_test_id("explanation").locator("li").all_inner_texts() == steps
    shot(page, site, "settlement")


def test_portal_fits_a_phone(browser: Browser, site: Site) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    try:
        tab = context.new_page()
        tab.goto(site.base + "/portal")
        tab.get_by_test_id("portal-certno").fill(certno(WORKER))  # signed in with the ID and card numbers
        tab.get_by_test_id("portal-card").fill("K44010023456")
        tab.get_by_role("button", name="进入").click()
        tab.wait_for_url(re.compile("/portal/me$"))
        assert WORKER not in tab.url and certno(WORKER) not in tab.content()
        assert tab.get_by_test_id("portal-who").inner_text() == "李*敏 · 4401**********2340"
        assert tab.get_by_test_id("voucher-link").is_visible()
        s = tables.settlement.c
        [(count,)] = query(site.url, select(func.count()).where(s.psn_no == WORKER))
        assert tab.get_by_test_id("portal-settlements").locator("li").count() == count == 5  # with a reversal
        assert tab.get_by_test_id("portal-balance").is_visible()
        widths = tab.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1] == 390, f"horizontal scroll: {widths}"
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{site.backend}-portal.png"), full_page=True)
    finally:
        context.close()


def test_institution_ledger_and_english(page: Page, site: Site) -> None:
    page.goto(site.base + "/console/institution?q=H44010600001")
    page.wait_for_url(re.compile("/console/institution/H44010600001$"))
    statements = page.get_by_test_id("statements").inner_text()
    assert "不一致" in statements and "fixmedins_setl_cnt" not in statements
    assert page.get_by_test_id("settlements").locator("tbody tr").count() >= 3

    page.goto(site.base + "/console/ledger")
    a = tables.ledger_account.c
    [(debits, credits)] = query(site.url, select(func.sum(a.debits_posted), func.sum(a.credits_posted)))
    assert page.get_by_test_id("ledger-balanced").inner_text() == "借贷平衡"
    assert page.get_by_test_id("ledger-debits").inner_text() == yuan_text(int(debits))
    assert page.get_by_test_id("ledger-credits").inner_text() == yuan_text(int(credits))
    shot(page, site, "ledger")

    page.get_by_role("link", name="English").click()
    page.wait_for_url(re.compile("/console/ledger$"))
    assert page.get_by_test_id("ledger-balanced").inner_text() == "Debits equal credits"
    page.get_by_role("link", name="中文").click()
    assert page.get_by_test_id("ledger-balanced").inner_text() == "借贷平衡"


def test_sign_in_page_refuses_a_wrong_password_and_signs_in_and_out(browser: Browser, site: Site) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    try:
        tab = context.new_page()
        tab.goto(site.base + "/console/ledger")  # not signed in: to the sign-in page, and back after it
        tab.wait_for_url(re.compile(r"/console/login\?next=%2Fconsole%2Fledger$"))
        assert tab.get_by_test_id("me").count() == 0
        tab.get_by_test_id("login-username").fill("boss")
        tab.get_by_test_id("login-password").fill("not the password")
        tab.get_by_role("button", name="登录").click()
        assert tab.get_by_test_id("login-failed").is_visible()
        cookies = context.cookies()
        assert [c for c in cookies if c["name"] == "yibao_console"] == []
        shot(tab, site, "login")

        tab.get_by_test_id("login-password").fill(PASSWORD)
        tab.get_by_role("button", name="登录").click()
        tab.wait_for_url(re.compile("/console/ledger$"))
        assert tab.get_by_test_id("me-name").inner_text() == "测试boss"
        assert tab.get_by_test_id("me-role").inner_text() == "管理员"
        [cookie] = [c for c in context.cookies() if c["name"] == "yibao_console"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert tab.evaluate("document.cookie").find("yibao_console") == -1  # no script can read it

        tab.get_by_test_id("logout").click()
        tab.wait_for_url(re.compile("/console/login$"))
        tab.goto(site.base + "/console")
        tab.wait_for_url(re.compile(r"/console/login\?next=%2Fconsole$"))
    finally:
        context.close()


def test_audit_search_page_finds_who_looked_at_a_person(page: Page, site: Site) -> None:
    page.goto(f"{site.base}/console/person/{RETIREE}")
    assert page.get_by_test_id("person-name").inner_text() == "陈*国"
    page.get_by_role("link", name="审计日志").click()
    page.wait_for_url(re.compile("/console/audit$"))
    page.get_by_test_id("audit-psn").fill(RETIREE)
    page.get_by_test_id("audit-action").select_option("person.view")
    today = local_today().isoformat()
    page.get_by_test_id("audit-first").fill(today)
    page.get_by_test_id("audit-last").fill(today)
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(r"/console/audit\?.*psn_no=" + RETIREE))
    rows = page.get_by_test_id("audit-entries").locator("tbody tr[data-action]")
    assert rows.count() >= 1
    for i in range(rows.count()):
        row = rows.nth(i)
        assert (row.get_attribute("data-action"), row.get_attribute("data-actor"), row.get_attribute("data-psn")) == (
            "person.view",
            "boss",
            RETIREE,
        )
    assert "127.0.0.1" in rows.first.inner_text() and "查看参保人" in rows.first.inner_text()
    shot(page, site, "audit")

    page.get_by_test_id("audit-psn").fill("")
    page.get_by_test_id("audit-action").select_option("login")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(r"action=login"))
    logins = page.get_by_test_id("audit-entries").locator("tbody tr[data-action]")
    assert logins.count() >= 1 and logins.first.get_attribute("data-actor") == "boss"
