"""The ``yibao`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from yibao.domain.catalog import EMPTY_CATALOG
from yibao.domain.errors import DomainError
from yibao.domain.money import fen_to_yuan
from yibao.domain.policy import select_policy
from yibao.domain.settlement import calculate
from yibao.files import FileError, dumps, load_catalog, load_claim, load_policy

app = typer.Typer(no_args_is_help=True, add_completion=False, help="yibao — 医疗保障信息平台")


@app.callback()
def main() -> None:
    """yibao — an open-source medical insurance information platform."""


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@app.command()
def calc(
    policy: Annotated[
        list[Path],
        typer.Option(help="Policy file (.toml/.json); repeat to let the claim's date pick the version."),
    ],
    claim: Annotated[
        Path, typer.Option(help="Claim file: person, visit, fee lines or amounts, accumulators.")
    ],
    catalog: Annotated[
        Path | None, typer.Option(help="Catalogue file, needed when the claim has fee lines.")
    ] = None,
) -> None:
    """Settle one claim under a policy and print the national 2207-shaped result as JSON."""
    try:
        policies = [load_policy(p) for p in policy]
        the_claim = load_claim(claim)
        the_catalog = load_catalog(catalog) if catalog else EMPTY_CATALOG
        if the_claim.feedetail and catalog is None:
            raise fail(f"{claim}: feedetail: fee lines need a catalogue (--catalog)")
        chosen = select_policy(
            policies, the_claim.person.insuplc_admdvs, the_claim.person.insutype, the_claim.visit.setl_date
        )
        result = calculate(the_claim, chosen, the_catalog)
    except FileError as exc:
        raise fail(str(exc)) from None
    except DomainError as exc:
        raise fail(f"{claim}: {exc}") from None
    output = result.output()
    output["accumulators"] = {k: fen_to_yuan(v) for k, v in sorted(result.accumulators.items())}
    output["setl_proc_info"] = list(result.trace)
    typer.echo(dumps(output))
