"""``yibao sim``: build the synthetic city, play HIS traffic against a running server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from yibao.api.fsi.gateway import Gateway
from yibao.sim.city import CityExists, build_city
from yibao.sim.traffic import loopback, run_traffic

sim_app = typer.Typer(no_args_is_help=True, help="The synthetic city and its HIS traffic (模拟城市与医院流量).")

DbUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="YIBAO_DATABASE_URL", help="Default: sqlite:///yibao.db"),
]
STAGES = {"setup": "schema, policies, catalogue", "institutions": "institutions", "persons": "insured persons",
          "indexes": "indexes"}  # fmt: skip


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )


@sim_app.command("city")
def city(
    region: Annotated[str, typer.Option(help="Pooling region (admdvs); the city's districts and policies.")] = "440100",
    persons: Annotated[int, typer.Option(min=0, help="Insured persons.")] = 200_000,
    institutions: Annotated[int, typer.Option(min=1, help="Hospitals and pharmacies.")] = 130,
    seed: Annotated[int, typer.Option(help="The same seed builds the same city.")] = 1,
    database_url: DbUrl = None,
    catalog_dir: Annotated[
        Path | None, typer.Option(help="Keep the catalogue file written on the way in this folder.")
    ] = None,
) -> None:
    """Build a reproducible synthetic city into the database (the schema is migrated first).

    Persons with insurance, 医疗救助 identities and opening account balances; institutions and practitioners.

    Also the catalogue and the region's policies. Build into a database no server is using.
    """
    with _progress() as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(STAGES.get(stage, stage), total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))

        try:
            report = build_city(database_url, region, persons, institutions, seed, progress, work_dir=catalog_dir)
        except (CityExists, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    for line in report.lines():
        typer.echo(line)


@sim_app.command("traffic")
def traffic(
    url: Annotated[str, typer.Option(help="The running server (127.0.0.1 only).")] = "http://127.0.0.1:8000",
    rate: Annotated[float, typer.Option(min=0.1, help="Settlements a second to aim at.")] = 50.0,
    duration: Annotated[float, typer.Option(min=0.1, help="Seconds of traffic; then it stops by itself.")] = 60.0,
    seed: Annotated[int, typer.Option(help="Seed of the sample, the visits and their bills.")] = 1,
    database_url: DbUrl = None,
    region: Annotated[str, typer.Option(help="The city's region (admdvs).")] = "440100",
    concurrency: Annotated[int, typer.Option(min=1, help="Conversations in flight at most.")] = 32,
    sample: Annotated[int, typer.Option(min=1, help="Insured persons sampled from the database.")] = 20_000,
    gateway_key_file: Annotated[
        Path | None, typer.Option(envvar="YIBAO_GATEWAY_KEY_FILE", help="Sign requests with this gateway key file.")
    ] = None,
) -> None:
    """Play HIS clients of the city against a running server; report what they did and every error.

    Exits 1 if any message was refused or answered wrongly.
    """
    try:
        loopback(url)
        with _progress() as bar:
            task = bar.add_task(f"traffic {rate:g}/s", total=duration)

            def progress(elapsed: float, settlements: int) -> None:
                bar.update(task, completed=min(elapsed, duration), description=f"{settlements:,} settlements")

            report = run_traffic(url, rate, duration, database_url, seed=seed, region=region,
                                 concurrency=concurrency, sample=sample, progress=progress,
                                 gateway=Gateway.from_file(gateway_key_file) if gateway_key_file else None)  # fmt: skip
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for line in report.lines():
        typer.echo(line)
    if report.errors:
        raise typer.Exit(1)
