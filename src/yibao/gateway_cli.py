"""``yibao gateway``: the node's gateway keys, and the tokens and secrets issued from them."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

import typer

from yibao.api.fsi.gateway import RIO, SM3, Gateway, read_keys

gateway_app = typer.Typer(no_args_is_help=True, help="Gateway signatures (里约 x-tif-*, SM3-HMAC x-ca-*).")
KeyFile = Annotated[Path, typer.Option(envvar="YIBAO_GATEWAY_KEY_FILE", help="The key file (newest key first).")]


@gateway_app.command("new-key")
def new_key(key_file: KeyFile) -> None:
    """Put a new random key at the head of the key file (made if missing); older keys stay valid
    until their lines are removed, so callers can move to their new secrets meanwhile."""
    old = key_file.read_text() if key_file.exists() else ""
    key_file.write_text(f"{secrets.token_hex(32)}\n{old}")
    key_file.chmod(0o600)
    typer.echo(f"{key_file}: {len(read_keys(key_file))} key(s), the new one first")


@gateway_app.command()
def issue(
    key_id: Annotated[str, typer.Argument(help="x-ca-key (the institution's code) or x-tif-paasid.")],
    key_file: KeyFile,
    style: Annotated[str, typer.Option(help="sm3 (x-ca-*) or rio (x-tif-*).")] = SM3,
) -> None:
    """Print the secret (SM3) or token (Rio) of a caller under the newest key."""
    if style not in (SM3, RIO):
        raise typer.BadParameter("sm3 or rio", param_hint="--style")
    try:
        gateway = Gateway.from_file(key_file)
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(gateway.signer(style, key_id).secret)
