"""Console accounts for the tests: made straight in the database, signed in through the login form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from yibao.app import accounts
from yibao.app.accounts import Principal
from yibao.passwords import Argon2Hasher
from yibao.store.database import Database
from yibao.store.engine import make_engine

PASSWORD = "correct horse battery"
ROLES = ("admin", "clerk", "auditor", "analyst", "readonly")


class Poster(Protocol):
    def post(self, url: str, **kw: Any) -> Any: ...


def add_user(
    db: Database, username: str, role: str = "admin", admdvs: str = "000000", password: str = PASSWORD
) -> None:
    with db.transaction() as store:
        accounts.create_user(
            store,
            Argon2Hasher.fast(),
            username=username,
            password=password,
            role=role,
            admdvs=admdvs,
            display_name=f"测试{username}",
            now=datetime.now(UTC).replace(tzinfo=None),
            by=Principal("cli", "tests"),
        )


def add_user_at(url: str, username: str, role: str = "admin", admdvs: str = "000000", password: str = PASSWORD) -> None:
    db = Database(make_engine(url))
    try:
        add_user(db, username, role, admdvs, password)
    finally:
        db.dispose()


def sign_in(client: Poster, username: str, password: str = PASSWORD) -> Any:
    """POST the login form; the client keeps the session cookie."""
    return client.post(
        "/console/login", data={"username": username, "password": password, "next": "/console"}, follow_redirects=False
    )
