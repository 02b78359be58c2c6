"""Staff accounts, sessions, permissions, regions and the audit log of the console and the portal.

The real application in-process over SQLite and PostgreSQL: sign-in with argon2 hashes, sessions kept
hashed with an expiry, every route of the console and portal refused to a caller without the right,
a clerk of one region seeing only that region, every view of personal data in the audit log, and a
database that refuses to change the audit log.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from starlette.routing import BaseRoute
from typer.testing import CliRunner

import yibao.store.accounts
from tests.accounts import PASSWORD, ROLES, add_user, sign_in
from tests.flows import AMOXICILLIN, RETIREE, WORKER, certno, line, local_today, register, settle_data
from tests.integration.conftest import his_at
from yibao.api.server import create_app
from yibao.app.accounts import GRANTS, Permission, Role
from yibao.cli import app as cli
from yibao.store import loading, tables
from yibao.store.database import Database
from yibao.web.guard import PORTAL_SELF, PUBLIC, ROUTES

SHENZHEN = "44030000000000000001"
SHENZHEN_CERTNO = "440303199001011234"
WORKER_CARD = "K44010023456"


def client(db: Database) -> TestClient:
    return TestClient(create_app(db))


@pytest.fixture
def admin(db: Database) -> Iterator[TestClient]:
    add_user(db, "boss", "admin")
    with client(db) as c:
        assert sign_in(c, "boss").status_code == 303
        yield c


def audit_rows(db: Database, **where: str) -> list[Any]:
    a = tables.audit_log.c
    q = select(tables.audit_log).order_by(a.id)
    for name, value in where.items():
        q = q.where(a[name] == value)
    with db.engine.connect() as conn:
        return list(conn.execute(q).all())


def settle_one(http: TestClient, psn_no: str) -> str:
    his = his_at(http, "H44010600001")
    mdtrt_id = register(his, psn_no)
    his.call("2204", {"feedetail": [line("1", mdtrt_id, psn_no, AMOXICILLIN, "42", "0.52")]})
    out = his.call("2207", settle_data(psn_no, mdtrt_id, "21.84"))
    return str(out["setlinfo"]["setl_id"])


# ---------------------------------------------------------------- signing in


def test_login_opens_a_hashed_httponly_strict_session_and_logout_ends_it(db: Database) -> None:
    add_user(db, "boss", "admin")
    with client(db) as c:
        first = c.get("/console/person", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"] == "/console/login?next=%2Fconsole%2Fperson"
        assert "login-form" in c.get(first.headers["location"]).text

        answer = sign_in(c, "boss")
        assert answer.status_code == 303 and answer.headers["location"] == "/console"
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Max-Age" not in cookie
        token = c.cookies["yibao_console"]
        assert len(token) >= 40
        with db.engine.connect() as conn:
            sessions = conn.execute(select(tables.web_session)).all()
            [stored_hash] = conn.execute(select(tables.console_user.c.password_hash)).scalars()
        assert [(s.token_hash, s.username, s.kind) for s in sessions] == [
            (hashlib.sha256(token.encode()).hexdigest(), "boss", "console")
        ]
        assert token not in json.dumps([list(map(str, s)) for s in sessions])  # only its hash is kept
        assert stored_hash.startswith("$argon2id$") and PASSWORD not in stored_hash

        page = c.get("/console")
        assert page.status_code == 200
        assert 'data-testid="me-name">测试boss<' in page.text and "管理员" in page.text
        assert c.post("/console/logout", follow_redirects=False).headers["location"] == "/console/login"
        with db.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(tables.web_session)).scalar_one() == 0
        c.cookies.set("yibao_console", token)  # the old id is worth nothing now
        assert c.get("/console", follow_redirects=False).status_code == 303
    assert [r.action for r in audit_rows(db, actor="boss")] == ["login", "logout"]


def test_wrong_password_is_refused_and_five_failures_lock_the_account(db: Database) -> None:
    add_user(db, "boss", "admin")
    with client(db) as c:
        wrong = sign_in(c, "boss", "not the password")
        assert wrong.status_code == 401 and "login-failed" in wrong.text and "yibao_console" not in c.cookies
        unknown = sign_in(c, "nobody", PASSWORD)
        assert unknown.status_code == 401 and unknown.text.count("login-failed") == wrong.text.count("login-failed")
        for _ in range(4):
            assert sign_in(c, "boss", "still not it").status_code == 401
        assert sign_in(c, "boss").status_code == 401  # the right password, but locked for 15 minutes
        assert "yibao_console" not in c.cookies
    failed = audit_rows(db, actor="boss", action="login.failed")
    assert len(failed) == 5 and {r.ip for r in failed} == {"testclient"}
    assert [r.action for r in audit_rows(db, actor="boss")][-1] == "login.locked"
    assert [(r.action, r.detail) for r in audit_rows(db, actor="nobody")] == [("login.failed", "unknown username")]


def test_sessions_expire_when_idle_and_end_with_a_disabled_account(db: Database) -> None:
    add_user(db, "boss", "admin")
    add_user(db, "clerk1", "clerk", "440100")
    w = tables.web_session.c
    with client(db) as c:
        sign_in(c, "boss")
        assert c.get("/console").status_code == 200
        long_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=31)
        with db.engine.begin() as conn:  # 31 minutes without a request
            conn.execute(
                update(tables.web_session).values(seen_at=long_ago, expires_at=long_ago + timedelta(minutes=30))
            )
        assert c.get("/console", follow_redirects=False).headers["location"].startswith("/console/login")

        sign_in(c, "boss")
        ten_minutes_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=10)
        with db.engine.begin() as conn:  # in use 10 minutes ago: the expiry slides on
            conn.execute(update(tables.web_session).values(seen_at=ten_minutes_ago))
        assert c.get("/console").status_code == 200
        with db.engine.connect() as conn:
            [(seen, expires, created)] = conn.execute(select(w.seen_at, w.expires_at, w.created_at)).all()
        assert (
            seen > ten_minutes_ago
            and expires - seen == timedelta(minutes=30)
            and expires <= created + timedelta(hours=12)
        )

    with client(db) as clerk:
        sign_in(clerk, "clerk1")
        assert clerk.get("/console").status_code == 200
        with client(db) as boss:
            sign_in(boss, "boss")
            done = boss.post("/console/users/clerk1/active", data={"active": "0"})
            assert done.status_code == 200 and "users-done" in done.text
        assert clerk.get("/console", follow_redirects=False).status_code == 303  # signed out at once
        assert sign_in(clerk, "clerk1").status_code == 401
    assert [r.object for r in audit_rows(db, action="user.disable")] == ["clerk1"]


# ---------------------------------------------------------------- every route, every role


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every APIRoute of an application, through included routers (no prefixes are used)."""
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI ≥ 0.16x keeps an included router whole
        if inner is not None:
            yield from api_routes(inner.routes)
        elif isinstance(route, APIRoute):
            yield route


def console_routes(db: Database) -> list[tuple[str, str]]:
    routes = list(api_routes(create_app(db).app.routes))
    found = [(method, route.path) for route in routes for method in sorted(route.methods or ())]
    return [(m, p) for m, p in found if p == "/" or p.startswith(("/console", "/portal"))]


def call(c: TestClient, method: str, path: str) -> Any:
    url = re.sub(r"\{[^}]+\}", "X", path)
    if method == "POST":
        return c.post(url, data={"q": "X", "username": "X", "password": "X", "active": "0"}, follow_redirects=False)
    return c.get(url, follow_redirects=False)


def test_every_console_route_is_mapped_and_refuses_callers_without_the_permission(db: Database) -> None:
    routes = console_routes(db)
    assert sorted(routes) == sorted(ROUTES), "ROUTES names exactly the routes the application has"
    guarded = [(m, p) for m, p in routes if ROUTES[(m, p)] != PUBLIC]
    assert len(guarded) >= 18

    with client(db) as anonymous:
        for method, path in guarded:
            answer = call(anonymous, method, path)
            if ROUTES[(method, path)] == PORTAL_SELF:
                expected = (303, "/portal") if method == "GET" else (401, None)
            else:
                expected = (303, "/console/login") if method == "GET" else (401, None)
            assert (answer.status_code, (answer.headers.get("location") or "").split("?")[0] or None) == expected, (
                method,
                path,
            )
        htmx = anonymous.get("/console/live", headers={"HX-Request": "true"}, follow_redirects=False)
        assert htmx.status_code == 401 and htmx.headers["HX-Redirect"] == "/console/login"

    for role in ROLES:
        add_user(db, f"u-{role}", role, "000000")
        with client(db) as c:
            assert sign_in(c, f"u-{role}").status_code == 303
            for method, path in guarded:
                need = ROUTES[(method, path)]
                answer = call(c, method, path)
                if need == PORTAL_SELF:  # a console session is no portal session
                    assert answer.status_code in (303, 401) and "/console" not in answer.headers.get("location", "")
                    continue
                assert isinstance(need, Permission)
                if need in GRANTS[Role(role)]:
                    assert answer.status_code not in (401, 403), (role, method, path, answer.status_code)
                else:
                    assert answer.status_code == 403, (role, method, path, answer.status_code)
                    assert 'data-testid="refused"' in answer.text
                if path == "/console/logout":  # it did what it says
                    assert sign_in(c, f"u-{role}").status_code == 303
    refused = audit_rows(db, action="refused")
    assert refused and all(r.detail.startswith("needs ") for r in refused)


def test_a_request_from_another_site_is_refused(admin: TestClient, db: Database) -> None:
    answer = admin.post("/console/users", data={"username": "evil", "password": "x" * 12, "role": "admin",
                        "admdvs": "000000"}, headers={"Origin": "https://evil.example"})  # fmt: skip
    assert answer.status_code == 403
    answer = admin.post("/console/login", data={"username": "boss", "password": PASSWORD},
                        headers={"Sec-Fetch-Site": "cross-site"})  # fmt: skip
    assert answer.status_code == 403
    with db.engine.connect() as conn:
        assert conn.execute(select(tables.console_user.c.username)).scalars().all() == ["boss"]


# ---------------------------------------------------------------- regions


def add_shenzhen_person(db: Database, tmp_path: Path) -> None:
    registry = {
        "regions": [{"admdvs": "440300", "name": "深圳市"}],
        "persons": [{"psn_no": SHENZHEN, "psn_cert_type": "01", "certno": SHENZHEN_CERTNO, "psn_name": "周深圳",
                     "gend": "1", "brdy": "1990-01-01", "card_no": "S44030000001",
                     "insurance": [{"insutype": "310", "psn_type": "1101", "insuplc_admdvs": "440300",
                                    "psn_insu_date": "2015-01-01", "emp_name": "深圳某公司", "contrib_months": 100}]}],
    }  # fmt: skip
    path = tmp_path / "shenzhen.json"
    path.write_text(json.dumps(registry, ensure_ascii=False))
    loading.load_registry_file(db, path)


def figure(page: str) -> int:
    found = re.search(r'data-testid="fig-settlements"[^>]*data-value="(-?\d+)"', page) or re.search(
        r'data-value="(-?\d+)"[^>]*data-testid="fig-settlements"', page
    )
    assert found, page[:2000]
    return int(found.group(1))


def test_a_clerk_sees_only_the_people_and_figures_of_their_region(
    db: Database, http: TestClient, tmp_path: Path
) -> None:
    add_shenzhen_person(db, tmp_path)
    setl_id = settle_one(http, RETIREE)
    add_user(db, "gz", "clerk", "440100")
    add_user(db, "sz", "clerk", "440300")
    add_user(db, "sz-admin", "admin", "440300")
    with client(db) as gz, client(db) as sz:
        sign_in(gz, "gz")
        sign_in(sz, "sz")
        assert gz.get(f"/console/person/{RETIREE}").status_code == 200
        assert gz.get(f"/console/settlement/{setl_id}").status_code == 200
        assert gz.get("/console/institution/H44010600001").status_code == 200
        assert figure(gz.get("/console").text) == 1

        for path in (
            f"/console/person/{RETIREE}",
            f"/console/settlement/{setl_id}",
            "/console/institution/H44010600001",
        ):
            answer = sz.get(path)
            assert answer.status_code == 404 and "陈*国" not in answer.text, path
            assert 'data-testid="settlements"' not in answer.text and 'data-testid="fund-rows"' not in answer.text
        assert sz.post("/console/person", data={"q": certno(RETIREE)}).status_code == 404
        assert sz.get("/console/institution", params={"q": "广州"}).status_code == 404
        assert figure(sz.get("/console").text) == 0
        assert RETIREE not in sz.get("/console/live").text
        shown = sz.post("/console/person", data={"q": SHENZHEN_CERTNO})
        assert shown.status_code == 200 and "周*圳" in shown.text
        assert gz.get(f"/console/person/{SHENZHEN}").status_code == 404

    with client(db) as regional_admin:
        sign_in(regional_admin, "sz-admin")
        assert regional_admin.get("/console/ledger").status_code == 403  # the ledger is not kept per region
        assert regional_admin.get("/console/audit").status_code == 403
        users = regional_admin.get("/console/users").text
        assert 'data-username="sz"' in users and 'data-username="gz"' not in users
        outside = regional_admin.post("/console/users", data={"username": "gz2", "password": "p" * 12,
                                      "role": "clerk", "admdvs": "440100"})  # fmt: skip
        assert outside.status_code == 400 and "outside your region" in outside.text


# ---------------------------------------------------------------- the audit log


def test_every_view_of_personal_data_is_in_the_audit_log_and_searchable(
    db: Database, http: TestClient, admin: TestClient
) -> None:
    setl_id = settle_one(http, WORKER)
    assert admin.post("/console/person", data={"q": certno(WORKER)}).status_code == 200
    assert admin.get(f"/console/settlement/{setl_id}").status_code == 200
    assert admin.get("/console/institution/H44010600001").status_code == 200
    assert admin.get("/console/person/44019999999999999999").status_code == 404
    rows = [(r.actor, r.actor_kind, r.action, r.psn_no, r.object, r.ip) for r in audit_rows(db, actor="boss")]
    assert rows[1:] == [
        ("boss", "console", "person.search", WORKER, "", "testclient"),
        ("boss", "console", "person.view", WORKER, "", "testclient"),
        ("boss", "console", "settlement.view", WORKER, setl_id, "testclient"),
        ("boss", "console", "institution.view", "", "H44010600001", "testclient"),
        ("boss", "console", "person.view", "44019999999999999999", "", "testclient"),
    ]
    assert certno(WORKER) not in json.dumps([list(map(str, r)) for r in audit_rows(db)])  # no ID numbers in it

    with client(db) as portal:
        portal.post("/portal", data={"certno": certno(WORKER), "card_no": WORKER_CARD})
        assert portal.get("/portal/me").status_code == 200
    assert [(r.action, r.actor_kind) for r in audit_rows(db, psn_no=WORKER)][-3:] == [
        ("portal.login", "portal"),
        ("portal.view", "portal"),  # the sign-in's redirect
        ("portal.view", "portal"),
    ]

    today = local_today().isoformat()
    found = admin.get("/console/audit", params={"psn_no": WORKER, "action": "person.view", "first": today,
                                                 "last": today})  # fmt: skip
    assert found.status_code == 200
    assert re.findall(r'<tr data-action="([^"]+)" data-actor="([^"]+)" data-psn="([^"]*)"', found.text) == [
        ("person.view", "boss", WORKER)
    ]
    by_user = admin.get("/console/audit", params={"actor": WORKER})
    assert set(re.findall(r'<tr data-action="([^"]+)"', by_user.text)) == {"portal.login", "portal.view"}
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    assert 'data-action="' not in admin.get("/console/audit", params={"first": tomorrow}).text.split("<tbody>")[1]
    assert (
        audit_rows(db, action="audit.search")[0].detail
        == f"psn_no={WORKER} action=person.view first={today} last={today}"
    )

    with client(db) as clerk:
        add_user(db, "clerk1", "clerk")
        sign_in(clerk, "clerk1")
        assert clerk.get("/console/audit").status_code == 403


def test_changes_through_the_console_are_in_the_audit_log(db: Database, admin: TestClient) -> None:
    made = admin.post("/console/users", data={"username": "clerk2", "display_name": "王经办", "role": "clerk",
                      "admdvs": "440100", "password": "a good password"})  # fmt: skip
    assert made.status_code == 200 and 'data-username="clerk2"' in made.text
    assert admin.post("/console/users", data={"username": "clerk3", "role": "clerk", "admdvs": "440100",
                      "password": "short"}).status_code == 400  # fmt: skip
    assert admin.post("/console/users/clerk2/password", data={"password": "another good one"}).status_code == 200
    assert admin.post("/console/users/boss/active", data={"active": "0"}).status_code == 400  # not yourself
    rows = [(r.action, r.object, r.detail) for r in audit_rows(db, actor="boss")][1:]
    assert rows == [("user.create", "clerk2", "role=clerk admdvs=440100"), ("user.password", "clerk2", "")]
    with client(db) as c:
        assert sign_in(c, "clerk2", "a good password").status_code == 401
        assert sign_in(c, "clerk2", "another good one").status_code == 303


def test_the_database_refuses_to_change_the_audit_log(db: Database, admin: TestClient) -> None:
    before = audit_rows(db)
    assert [r.action for r in before] == ["user.create", "login"]
    a = tables.audit_log.c
    for statement in (
        update(tables.audit_log).values(actor="someone else"),
        update(tables.audit_log).where(a.action == "login").values(detail="nothing happened"),
        delete(tables.audit_log),
        delete(tables.audit_log).where(a.id == before[0].id),
    ):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(statement)
    if db.engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_log"))
    with db.engine.begin() as conn:  # inserting is what it is for
        conn.execute(insert(tables.audit_log).values(at=datetime.now(UTC).replace(tzinfo=None), actor="t",
                                                      actor_kind="cli", action="test"))  # fmt: skip
    assert audit_rows(db)[: len(before)] == before and len(audit_rows(db)) == len(before) + 1
    source = inspect.getsource(yibao.store.accounts)  # and the application has no way to try
    assert "update(t.audit_log" not in source and "delete(t.audit_log" not in source


# ---------------------------------------------------------------- the portal


def test_the_portal_shows_only_the_person_signed_in(db: Database, http: TestClient) -> None:
    settle_one(http, RETIREE)
    settle_one(http, WORKER)
    with client(db) as c:
        assert c.get("/portal/me", follow_redirects=False).headers["location"] == "/portal"
        wrong = c.post("/portal", data={"certno": certno(WORKER), "card_no": "K44010012345"})  # RETIREE's card
        assert wrong.status_code == 401 and "yibao_portal" not in c.cookies
        assert c.post("/portal", data={"certno": certno(RETIREE) + "0", "card_no": ""}).status_code == 401
        signed = c.post("/portal", data={"certno": certno(WORKER), "card_no": WORKER_CARD}, follow_redirects=False)
        assert signed.status_code == 303 and signed.headers["location"] == "/portal/me"
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
        me = c.get("/portal/me")
        assert me.status_code == 200 and "李*敏" in me.text
        for other in (f"/portal/{RETIREE}", f"/portal/me?psn_no={RETIREE}", f"/portal/me/{RETIREE}"):
            answer = c.get(other)
            assert "陈*国" not in answer.text and RETIREE not in answer.text, other
        assert c.get(f"/console/person/{RETIREE}", follow_redirects=False).status_code == 303  # no console either
        assert c.post("/portal/logout", follow_redirects=False).headers["location"] == "/portal"
        assert c.get("/portal/me", follow_redirects=False).status_code == 303
        no_card = c.post("/portal", data={"certno": certno("44010000000000034567"), "card_no": ""})
        assert no_card.status_code == 401  # a person without a card cannot sign in this way


# ---------------------------------------------------------------- the command line


def test_user_add_and_passwd_commands(db: Database) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    made = runner.invoke(cli, ["user", "add", "ops", "--role", "auditor", "--admdvs", "000000",
                               "--display-name", "稽核甲", "--database-url", url],
                         input="first password\n" * 2)  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "account ops (稽核员, region 000000) created" in made.output
    bad = runner.invoke(cli, ["user", "add", "xy", "--role", "clerk", "--admdvs", "44", "--password", "p" * 12,
                              "--database-url", url])  # fmt: skip
    assert bad.exit_code == 2 and "admdvs" in bad.output
    changed = runner.invoke(cli, ["user", "passwd", "ops", "--generate", "--database-url", url])
    assert changed.exit_code == 0, changed.output
    new_password = changed.output.split("password: ")[1].strip()
    with client(db) as c:
        assert sign_in(c, "ops", "first password").status_code == 401
        assert sign_in(c, "ops", new_password).status_code == 303
        assert c.get("/console/audit").status_code == 200
    assert [(r.action, r.actor_kind) for r in audit_rows(db, object="ops")] == [
        ("user.create", "cli"),
        ("user.password", "cli"),
    ]
