"""``yibao voucher``: the issuing authority's keys and voucher QR codes (yibao.voucher; docs/voucher.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from yibao.crypto.tongsuo import TongsuoSm2
from yibao.voucher.keys import VoucherKeyError, key_place, load_authority, rotate
from yibao.voucher.qr import qr_svg
from yibao.voucher.token import TTL, issue

voucher_app = typer.Typer(no_args_is_help=True, help="Electronic voucher: authority keys and signed QR codes.")


@voucher_app.command("new-key")
def new_key() -> None:
    """Put a new SM2 authority key at the head of the key file (made if missing): it signs new codes,
    older keys verify the codes they signed until those expire."""
    try:
        keys = rotate(TongsuoSm2())
        place = key_place()
    except (OSError, VoucherKeyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{place.path}: key k{keys.newest} signs new codes ({len(keys.keys)} key(s))")


@voucher_app.command("code")
def code(
    ec_index_no: str,
    ttl: Annotated[int, typer.Option(help="Seconds the code is good for.")] = TTL,
    svg: Annotated[Path | None, typer.Option(help="Also write the QR code as SVG to this file.")] = None,
) -> None:
    """Print a signed code for a voucher index number (and its QR code as SVG)."""
    backend = TongsuoSm2()
    try:
        token = issue(ec_index_no, time.time(), load_authority(backend).signing, backend, ttl=ttl)
    except (OSError, VoucherKeyError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if svg is not None:
        svg.write_text(qr_svg(token))
    typer.echo(token)
