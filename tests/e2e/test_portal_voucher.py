"""The electronic voucher on the person's phone, in a real browser (Debian's chromium, Playwright) against
a real `yibao serve` process per database: activation through the portal's pages with the code read
from the server's SMS outbox, then the QR code on /portal/voucher photographed, decoded (zxing-cpp) and
scanned at a hospital's counter (ec.query) — once; the page brings a new code on its own.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from tests.databases import BACKENDS, fresh_database, load_demo
from tests.e2e.test_console import ARTIFACTS, browser_missing, query
from tests.e2e.test_console import browser as browser  # the module's chromium fixture
from tests.flows import WORKER, certno
from tests.servers import running_server
from yibao.sim.his import HisClient
from yibao.sms import OUTBOX_ENV, read_outbox
from yibao.store import tables

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

NAME = "李晓敏"
CODE = re.compile(r"验证码 (\d{6})")


@dataclass
class Server:
    base: str
    url: str
    backend: str
    outbox: Path


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if browser_missing() is None:  # no server without a browser to look at it
        tmp = tmp_path_factory.mktemp(f"voucher-{request.param}")
        outbox = tmp / "sms.jsonl"
        with fresh_database(request.param, tmp) as url:
            load_demo(url)
            with running_server(url, tmp / "server.log", env={OUTBOX_ENV: str(outbox)}) as base:
                yield Server(base, url, request.param, outbox)
        assert certno(WORKER) not in (tmp / "server.log").read_text()
    else:
        yield Server("", "", request.param, Path())


@pytest.fixture
def phone(browser: Browser, server: Server) -> Iterator[tuple[Page, list[str]]]:
    """A phone's browser tab, and the errors its pages report (a refused script or style among them) and
    the requests answered with an error status (the wrong code's 401 is expected; the browser's own
    favicon.ico request is not ours)."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" and "load resource" not in m.text else None)
    tab.on(
        "response",
        lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and "favicon" not in r.url else None,
    )
    try:
        yield tab, errors
    finally:
        context.close()


def read_qr(tab: Page) -> str:
    """Photograph the QR code on the page and read it back."""
    picture = Image.open(io.BytesIO(tab.get_by_test_id("voucher-qr").screenshot())).convert("L")
    found = zxingcpp.read_barcode(picture)
    assert found is not None and found.format == zxingcpp.BarcodeFormat.QRCode, "no QR code in the picture"
    return str(found.text)


def new_code(tab: Page, before: str) -> str:
    """The page's next code, once it has replaced ``before``."""
    from playwright.sync_api import Error

    deadline = time.monotonic() + 10
    while True:
        try:
            text = read_qr(tab)
        except Error:  # htmx was replacing the element as it was photographed
            text = before
        if text != before:
            return text
        assert time.monotonic() < deadline, "the code was not replaced"
        tab.wait_for_timeout(200)


def test_activate_then_show_the_code_at_the_counter(phone: tuple[Page, list[str]], server: Server) -> None:
    tab, errors = phone
    tab.goto(server.base + "/portal")
    tab.get_by_test_id("portal-activate").click()
    tab.wait_for_url(re.compile("/portal/activate$"))
    device = tab.evaluate("window.localStorage.getItem('yibao.device_id')")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", device or ""), device
    tab.get_by_test_id("activate-certno").fill(certno(WORKER))
    tab.get_by_test_id("activate-name").fill(NAME)
    tab.get_by_test_id("activate-send").click()
    assert tab.get_by_test_id("activate-sent").is_visible()
    [message] = [m for m in read_outbox(server.outbox) if m["psn_no"] == WORKER]
    [code] = CODE.findall(message["text"])

    tab.get_by_test_id("activate-code").fill("x" + code[1:])
    tab.get_by_test_id("activate-submit").click()
    assert "验证码不正确" in tab.get_by_test_id("activate-error").inner_text()
    assert errors == [f"401 {server.base}/portal/activate/confirm"]
    errors.clear()
    tab.get_by_test_id("activate-code").fill(code)
    tab.get_by_test_id("activate-submit").click()
    tab.wait_for_url(re.compile("/portal/voucher$"))

    v = tables.voucher.c
    [(ec_index_no, device_id)] = query(server.url, select(v.ec_index_no, v.device_id).where(v.psn_no == WORKER))
    assert device_id == device  # the id the page keeps in localStorage

    first = read_qr(tab)
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{server.backend}-voucher.png"), full_page=True)
    countdown = tab.get_by_test_id("voucher-countdown")
    shown = int(countdown.inner_text())
    assert 50 <= shown <= 60
    tab.wait_for_timeout(2100)
    assert int(countdown.inner_text()) < shown  # it counts down

    hospital = HisClient(server.base, "H44010600001")
    try:
        hospital.sign_in()
        answer = hospital.read_code(first, "01101")
        assert (answer["code"], answer["data"]["ecIndexNo"]) == (0, ec_index_no), answer
        assert hospital.read_code(first, "01101")["code"] == 500163  # used

        tab.get_by_test_id("voucher-refresh").click()  # the person asks for a new one
        second = new_code(tab, first)
        tab.evaluate("document.getElementById('voucher-code').dataset.deadline = String(Date.now())")
        third = new_code(tab, second)  # its countdown ended: the page fetched a new one on its own
        assert tab.locator("#voucher-code").get_attribute("data-seconds") in {str(s) for s in range(55, 61)}
        assert hospital.read_code(third, "01301")["code"] == 0
    finally:
        hospital.close()

    tab.reload()
    uses = tab.get_by_test_id("voucher-use")
    assert uses.count() == 2
    assert "结算" in uses.nth(0).inner_text() and "挂号" in uses.nth(1).inner_text()
    assert "广州" in uses.nth(0).inner_text()
    assert errors == []
