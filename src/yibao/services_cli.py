"""``yibao services``: a region's service list — adopt the unified list (with the region's own local items
from a file), print a region's list, and the diff of two regions' lists (docs/services.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from yibao.accounts_cli import DbUrl, now, operator
from yibao.app import service_lists
from yibao.domain.errors import DomainError
from yibao.files import FileError
from yibao.files.services import load_catalogue
from yibao.store.database import Database
from yibao.store.engine import make_engine

services_app = typer.Typer(no_args_is_help=True, help="Service items: a region's list, adoption, the regional diff.")


def _database(url: str | None) -> Database:
    return Database(make_engine(url or "sqlite:///yibao.db"))


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@services_app.command()
def adopt(
    admdvs: str,
    local: Annotated[
        Path | None, typer.Option(help="The region's own items: a file shaped like service_items.toml")
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """The region takes the unified list offered there (and its local items) as its list."""
    try:
        items = list(load_catalogue(local).items) if local else []
    except FileError as exc:
        raise _fail(str(exc)) from None
    db = _database(database_url)
    try:
        with db.transaction() as store:
            rows = service_lists.adopt(store, admdvs, items, operator(), now(), "")
    except DomainError as exc:
        raise _fail(str(exc)) from None
    finally:
        db.dispose()
    typer.echo(f"{admdvs}: {sum(not r.local for r in rows)} unified items, {sum(r.local for r in rows)} local")


@services_app.command("list")
def list_items(admdvs: str, database_url: DbUrl = None) -> None:
    """The region's list: code, time limit (working days), channels, name."""
    db = _database(database_url)
    try:
        with db.transaction(write=False) as store:
            items = service_lists.items_for(store, admdvs)
    finally:
        db.dispose()
    for i in items:
        joint = " 联办" if i.joint else ""
        typer.echo(f"{i.code}\t{i.time_limit}\t{'/'.join(i.channels)}\t{i.name}{joint}")


@services_app.command()
def diff(a: str, b: str, database_url: DbUrl = None) -> None:
    """What the two regions' lists have not unified (exit 1 if anything)."""
    db = _database(database_url)
    try:
        with db.transaction(write=False) as store:
            found = service_lists.list_diff(store, a, b)
    except DomainError as exc:
        raise _fail(str(exc)) from None
    finally:
        db.dispose()
    for d in found:
        typer.echo(f"{d.kind}\t{d.code_a or '-'}\t{d.code_b or '-'}\t{d.name}\t{d.labels}")
    if found:
        raise typer.Exit(1)
    typer.echo(f"{a} 与 {b} 的清单已实现六统一")
