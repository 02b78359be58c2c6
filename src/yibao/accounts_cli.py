"""`yibao user add` and `yibao user passwd`: the console's staff accounts from the command line.

The first administrator is made here (or by `yibao demo`); administrators make the others in the
console (/console/users). Every change is written to the audit log with the operating-system user
who ran the command.
"""

from __future__ import annotations

import getpass
import secrets
from datetime import UTC, datetime
from typing import Annotated

import typer

from yibao.app import accounts
from yibao.app.accounts import AccountError, Principal, Role
from yibao.passwords import Argon2Hasher
from yibao.store.database import Database
from yibao.store.engine import make_engine

user_app = typer.Typer(no_args_is_help=True, help="Staff accounts of the console (roles, regions, passwords).")

DbUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="YIBAO_DATABASE_URL", help="Default: sqlite:///yibao.db"),
]
Password = Annotated[
    str | None,
    typer.Option(help="The password (10+ characters); asked for when not given, unless --generate."),
]


def operator() -> Principal:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Principal("cli", name[:50])


def password_of(password: str | None, generate: bool) -> str:
    if generate:
        return secrets.token_urlsafe(12)
    if password is not None:
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@user_app.command("add")
def add(
    username: str,
    role: Annotated[
        Role, typer.Option(help="admin 管理员, clerk 经办员, auditor 稽核员, analyst 分析员, readonly 只读")
    ],
    admdvs: Annotated[str, typer.Option(help="The region the account sees: 440100 (a city), 000000 (all).")],
    display_name: Annotated[str, typer.Option(help="The person's name, shown in the header.")] = "",
    password: Password = None,
    generate: Annotated[bool, typer.Option(help="Generate a password and print it.")] = False,
    database_url: DbUrl = None,
) -> None:
    """Create a console account."""
    secret = password_of(password, generate)
    db = Database(make_engine(database_url))
    try:
        with db.transaction() as store:
            accounts.create_user(
                store,
                Argon2Hasher(),
                username=username,
                password=secret,
                role=role.value,
                admdvs=admdvs,
                display_name=display_name,
                now=now(),
                by=operator(),
            )
    except AccountError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    typer.echo(f"account {username} ({role.label}, region {admdvs}) created")
    if generate:
        typer.echo(f"password: {secret}")


@user_app.command("passwd")
def passwd(
    username: str,
    password: Password = None,
    generate: Annotated[bool, typer.Option(help="Generate a password and print it.")] = False,
    database_url: DbUrl = None,
) -> None:
    """Set an account's password (its sessions end)."""
    secret = password_of(password, generate)
    db = Database(make_engine(database_url))
    try:
        with db.transaction() as store:
            accounts.set_password(store, Argon2Hasher(), username=username, password=secret, now=now(), by=operator())
    except AccountError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    typer.echo(f"password of {username} changed")
    if generate:
        typer.echo(f"password: {secret}")
