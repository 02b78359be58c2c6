"""``yibao hub``: the national hub — its key, its directory of nodes, its server (docs/cross-region.md)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

from yibao.crypto import keyfile
from yibao.federation.signing import node_secret
from yibao.hub.directory import Directory, Node
from yibao.hub.key import KEY_ENV, read_key
from yibao.store import migrate
from yibao.store.engine import make_engine

hub_app = typer.Typer(no_args_is_help=True, help="The national hub: region directory, routing, clearing.")
DbUrl = Annotated[str | None, typer.Option("--database-url", envvar="YIBAO_HUB_DATABASE_URL",
                                           help="The hub's own database; default sqlite:///yibao-hub.db")]  # fmt: skip
KeyFile = Annotated[Path, typer.Option("--key-file", envvar=KEY_ENV, help="The hub's key (hex).")]


def _url(database_url: str | None) -> str:
    return database_url or "sqlite:///yibao-hub.db"


@hub_app.command("new-key")
def new_key(key_file: KeyFile) -> None:
    """Make the hub's key file (mode 600); every node's secret is derived from it."""
    if not keyfile.create_new(key_file, secrets.token_hex(32) + "\n"):
        typer.echo(f"error: {key_file} exists", err=True)
        raise typer.Exit(2)
    typer.echo(f"{key_file}: a new hub key")


@hub_app.command("node")
def add_node(
    node_id: str,
    url: Annotated[str, typer.Option(help="The node's base URL, e.g. http://127.0.0.1:8101")],
    regions: Annotated[str, typer.Option(help="admdvs prefixes it serves, comma-separated, e.g. 310118")],
    key_file: KeyFile,
    database_url: DbUrl = None,
) -> None:
    """Put a node in the directory (or change it) and print the secret it signs with (hex): give it
    to the node in the file YIBAO_NODE_KEY_FILE names."""
    if not 1 <= len(node_id) <= 25 or not node_id.replace("-", "").isalnum() or node_id == "hub":
        typer.echo('error: a node id is 1 to 25 letters, digits and hyphens, and not "hub"', err=True)
        raise typer.Exit(2)
    engine = make_engine(_url(database_url))
    try:
        migrate.upgrade(engine)
        prefixes = tuple(r.strip() for r in regions.split(",") if r.strip())
        Directory(engine).add(Node(node_id, url, prefixes))
    finally:
        engine.dispose()
    typer.echo(node_secret(read_key(key_file), node_id).hex())


@hub_app.command("serve")
def serve(
    key_file: KeyFile,
    host: str = "127.0.0.1",
    port: int = 8100,
    database_url: DbUrl = None,
) -> None:
    """Serve the hub: POST /hub/route between the nodes of the directory."""
    import uvicorn

    url = _url(database_url)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    os.environ["YIBAO_HUB_DATABASE_URL"] = url
    os.environ[KEY_ENV] = str(key_file)
    uvicorn.run("yibao.hub.server:create_hub", factory=True, host=host, port=port, log_level="warning",
                access_log=False)  # fmt: skip


clearing_app = typer.Typer(no_args_is_help=True, help="Monthly clearing (清算) of cross-region settlements.")
hub_app.add_typer(clearing_app, name="clearing")


@clearing_app.command("run")
def clearing_run(
    month: Annotated[str, typer.Option(help="The month to clear, yyyy-mm (local time).")],
    key_file: KeyFile,
    database_url: DbUrl = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a node's answer.")] = 60.0,
) -> None:
    """Clear a month: every node's detail, confirmed by the insured nodes, netted into one payment per
    region (advances deducted), stored here and posted on every node; prints the netting table. A run
    left unposted (a node down) is re-sent by running the month again."""
    from rich.console import Console

    from yibao.app.errors import Refused
    from yibao.hub import clearing

    engine = make_engine(_url(database_url))
    caller = clearing.NodeCaller(read_key(key_file), timeout)
    try:
        migrate.upgrade(engine)
        run = clearing.run_month(engine, Directory(engine, refresh=60), caller, month)
    except (clearing.ClearingError, Refused) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        caller.close()
        engine.dispose()
    console = Console(width=160)
    for table in clearing.render(run):
        console.print(table)
    if run.failures:
        for failure in run.failures:
            typer.echo(f"error: {failure}", err=True)
        typer.echo(f"{run.run_id}: not posted on every node; run the month again to re-send it", err=True)
        raise typer.Exit(1)
    typer.echo(f"{run.run_id}: posted on every node")


@hub_app.command("advance")
def advance(
    region: Annotated[str, typer.Option(help="The region (admdvs) that paid the advance, e.g. 310118")],
    amount: Annotated[str | None, typer.Option(help="Yuan paid in (预付金); without it, show the balance.")] = None,
    database_url: DbUrl = None,
) -> None:
    """Record an advance (预付金) a region paid the hub; clearing runs draw on it before the region pays."""
    from decimal import Decimal, InvalidOperation

    from yibao.domain.money import fen_to_yuan, yuan_to_fen
    from yibao.hub import clearing

    if not (len(region) == 6 and region.isdigit()):
        typer.echo("error: a region is 6 digits (admdvs)", err=True)
        raise typer.Exit(2)
    engine = make_engine(_url(database_url))
    try:
        migrate.upgrade(engine)
        if amount is None:
            balance = clearing.advance_balances(engine).get(region, 0)
        else:
            try:
                fen = yuan_to_fen(Decimal(amount))
            except (InvalidOperation, ValueError):
                fen = 0
            if fen <= 0:
                typer.echo("error: the amount is a positive number of yuan", err=True)
                raise typer.Exit(2)
            balance = clearing.pay_advance(engine, region, fen)
    finally:
        engine.dispose()
    typer.echo(f"{region}: advance held {fen_to_yuan(balance):.2f}")
