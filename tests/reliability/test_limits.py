"""Limits with a clear answer: body size, fee lines per upload, messages per institution a second."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import simplejson
from fastapi.testclient import TestClient

from tests.databases import demo_database, fresh_database, load_demo
from tests.flows import BLOOD_TEST, WORKER, person_info, register, row_counts
from tests.flows import line as fee_line
from tests.servers import running_server
from yibao.api.fsi.transactions import MAX_FEE_LINES
from yibao.api.server import create_app
from yibao.sim.his import HisClient
from yibao.store.database import Database

MB = 1 << 20


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    with demo_database("sqlite", tmp_path) as database:
        yield database


@pytest.fixture
def http(db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(db)) as client:
        yield client


def answer_to(http: TestClient, body: bytes, path: str = "/fsi/api/callService") -> dict[str, Any]:
    r = http.post(path, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    out: dict[str, Any] = json.loads(r.content)
    return out


def upload_body(his: HisClient, size: int, filename: str = "big.txt") -> bytes:
    content = base64.b64encode(b"x" * (size * 3 // 4)).decode()
    return simplejson.dumps(his.envelope("9101", {"fsUploadIn": {"in": content, "filename": filename}})).encode()


def test_a_body_over_one_megabyte_is_refused_unless_it_is_a_file_upload(http: TestClient, db: Database) -> None:
    his = HisClient("", "H44010600001", client=http)
    his.sign_in()
    mdtrt_id = register(his, WORKER)
    before = row_counts(db)
    lines = [fee_line(str(i), mdtrt_id, WORKER, BLOOD_TEST, "1", "25", batch="B" + "x" * 3000) for i in range(400)]
    body = simplejson.dumps(his.envelope("2204", {"feedetail": lines})).encode()
    assert MB < len(body) < 10 * MB
    refused = answer_to(http, body)
    assert refused["infcode"] == -1 and refused["output"] == {}
    assert refused["err_msg"].startswith("body: ") and "超过上限 1 MB" in refused["err_msg"], refused["err_msg"]
    assert row_counts(db) == before

    # 9101 may carry up to 10 MB, on the single entry and on its own path
    accepted = answer_to(http, upload_body(his, 3 * MB))
    assert accepted["infcode"] == 0 and accepted["output"]["file_qury_no"], accepted["err_msg"]
    assert answer_to(http, upload_body(his, 2 * MB), "/fsi/api/fileupload/upload")["infcode"] == 0
    after_uploads = row_counts(db)
    for path, says in (
        ("/fsi/api/callService", "（文件上传9101为 10 MB）"),
        ("/fsi/api/fileupload/upload", "上限 10 MB"),
    ):
        too_big = answer_to(http, upload_body(his, 11 * MB), path)
        assert too_big["infcode"] == -1 and says in too_big["err_msg"], too_big["err_msg"]
    # a large body on another service's path is refused before it is read in full
    on_path = answer_to(http, body, "/fsi/api/outpatientDocInfoService/outpatientFeeListUp")
    assert on_path["infcode"] == -1 and "超过上限 1 MB" in on_path["err_msg"]
    assert row_counts(db) == after_uploads


def test_an_upload_of_more_than_500_lines_is_refused_naming_feedetail(http: TestClient, db: Database) -> None:
    his = HisClient("", "H44010600001", client=http)
    his.sign_in()
    mdtrt_id = register(his, WORKER)
    before = row_counts(db)
    lines = [fee_line(str(i), mdtrt_id, WORKER, BLOOD_TEST, "1", "25") for i in range(MAX_FEE_LINES + 1)]
    refused = answer_to(http, simplejson.dumps(his.envelope("2204", {"feedetail": lines})).encode())
    assert refused["infcode"] == -1
    assert refused["err_msg"].startswith("input.feedetail: 501 条") and "500" in refused["err_msg"]
    admitted = dict(his.envelope("2301", {"feedetail": lines}))
    assert answer_to(http, simplejson.dumps(admitted).encode())["err_msg"].startswith("input.feedetail: 501 条")
    assert row_counts(db) == before
    ok = answer_to(http, simplejson.dumps(his.envelope("2204", {"feedetail": lines[:MAX_FEE_LINES]})).encode())
    assert ok["infcode"] == 0, ok["err_msg"]
    assert len(ok["output"]["result"]) == MAX_FEE_LINES


def test_an_institution_beyond_its_rate_is_told_to_slow_down(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIBAO_RATE_LIMIT", "20")
    monkeypatch.setenv("YIBAO_RATE_BURST", "5")
    with TestClient(create_app(db)) as http:
        busy = HisClient("", "H44010600001", client=http)
        other = HisClient("", "H44010600002", client=http)
        busy.sign_in()
        other.sign_in()
        time.sleep(0.3)  # the buckets are full again: 5 messages
        answers = [busy.post(busy.envelope("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "x"}}))
                   for _ in range(8)]  # fmt: skip
        refused = [a for a in answers if a["err_msg"] and "请求过于频繁" in a["err_msg"]]
        assert 1 <= len(refused) <= 3, [a["err_msg"] for a in answers]  # 5 saved up, ~1 more refilled meanwhile
        assert not any("请求过于频繁" in str(a["err_msg"]) for a in answers[:5])
        assert refused[0]["infcode"] == -1 and refused[0]["err_msg"].startswith("fixmedins_code: ")
        assert "20" in refused[0]["err_msg"]
        assert person_info(other, WORKER)["baseinfo"]["psn_no"] == WORKER  # others are not slowed down
        time.sleep(0.2)  # 4 tokens come back
        assert person_info(busy, WORKER)["baseinfo"]["psn_no"] == WORKER


def test_limits_over_real_http(tmp_path: Path) -> None:
    """A refused large body leaves the connection usable; a client keeps going on the same one."""
    with fresh_database("sqlite", tmp_path) as url:
        load_demo(url)
        with running_server(url, tmp_path / "server.log") as base, httpx.Client(timeout=30) as client:
            his = HisClient(base, "H44010600001", client=client)
            his.sign_in()
            too_big = his.post(upload_body(his, 12 * MB))
            assert too_big["infcode"] == -1 and "10 MB" in too_big["err_msg"]
            assert person_info(his, WORKER)["baseinfo"]["psn_no"] == WORKER
            large = his.post(simplejson.dumps(his.envelope("1101", {"data": {"x": "y" * (2 * MB)}})).encode())
            assert large["infcode"] == -1 and "超过上限 1 MB" in large["err_msg"]
            assert person_info(his, WORKER)["baseinfo"]["psn_no"] == WORKER
