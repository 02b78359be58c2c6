"""``yibao sim``: build the synthetic city, play HIS traffic against a running server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from yibao.api.fsi.gateway import Gateway

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
    from yibao.sim.city import CityExists, build_city  # numpy and the rest only for the commands that use them

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
    fraud_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of bills given a planted line-level scheme.")
    ] = 0.0,
    fraud_truth: Annotated[
        Path, typer.Option(help="JSON lines of the planted lines (mdtrt_id, feedetl_sn, scheme).")
    ] = Path("fraud-truth.jsonl"),
) -> None:
    """Play HIS clients of the city against a running server; report what they did and every error.

    With --fraud-rate, outpatient and inpatient bills carry duplicate lines, over-quantity, prices above the
    cap and pairs not to be charged together, recorded in --fraud-truth. Exits 1 if any message was refused
    or answered wrongly.
    """
    from yibao.sim.traffic import loopback, run_traffic

    fraud = None
    try:
        loopback(url)
        if fraud_rate > 0:
            from yibao.files.rules import load_rule_library
            from yibao.sim.claims import Knowledge
            from yibao.sim.fraud import FeeFraud

            fraud = FeeFraud(fraud_rate, fraud_truth, Knowledge.of(load_rule_library()))
        with _progress() as bar:
            task = bar.add_task(f"traffic {rate:g}/s", total=duration)

            def progress(elapsed: float, settlements: int) -> None:
                bar.update(task, completed=min(elapsed, duration), description=f"{settlements:,} settlements")

            report = run_traffic(url, rate, duration, database_url, seed=seed, region=region,
                                 concurrency=concurrency, sample=sample, progress=progress,
                                 gateway=Gateway.from_file(gateway_key_file) if gateway_key_file else None,
                                 fraud=fraud)  # fmt: skip
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        if fraud is not None:
            fraud.close()
    for line in report.lines():
        typer.echo(line)
    if fraud is not None:
        typer.echo(f"  planted        {fraud.planted:,} lines, recorded in {fraud_truth}")
    if report.errors:
        raise typer.Exit(1)


@sim_app.command("claims")
def claims(
    out: Annotated[Path, typer.Option(help="Folder of the claims (docs/supervision.md's Parquet layout).")],
    visits: Annotated[int, typer.Option(min=1, help="Settled visits, about.")] = 200_000,
    seed: Annotated[int, typer.Option(help="The same seed writes the same files.")] = 1,
    fraud_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of visits carrying a plant.")] = 0.03,
    colluders: Annotated[
        int | None, typer.Option(min=0, help="Colluding institutions (default 2.5 % of them).")
    ] = None,
    months: Annotated[int, typer.Option(min=1, max=24, help="Months of claims from January 2026.")] = 12,
    institutions: Annotated[int | None, typer.Option(min=4, help="Hospitals and pharmacies.")] = None,
    colluder_boost: Annotated[
        float, typer.Option(min=1.0, help="How much likelier a colluder's visit carries one of its schemes.")
    ] = 15.0,
) -> None:
    """Write a city's settled claims as Parquet, with fraud schemes planted at known rates and their truth.

    The truth: truth/claims.parquet (mdtrt_id, feedetl_sn, scheme) and truth/institutions.parquet.
    """
    from yibao.files.rules import load_rule_library
    from yibao.sim.claims import ClaimsConfig, Knowledge, generate
    from yibao.sim.fraud import Injector

    config = ClaimsConfig(visits=visits, seed=seed, months=months, institutions=institutions,
                          knowledge=Knowledge.of(load_rule_library()))  # fmt: skip
    planter = Injector(fraud_rate, colluders, colluder_boost, seed) if fraud_rate > 0 else None
    with _progress() as bar:
        task = bar.add_task("months of claims", total=months)
        report = generate(out, config, planter, lambda done, total: bar.update(task, completed=done))
    typer.echo(f"claims in {out}: {report.visits:,} visits, {report.lines:,} lines in {report.seconds:.1f} s")
    if planter is not None:
        typer.echo(f"  planted: {report.planted:,} visits carry a scheme; {report.colluders} colluding institutions")


@sim_app.command("evaluate")
def evaluate_(
    data: Annotated[Path, typer.Option(help="Claims written by `yibao sim claims` (with truth/).")],
    engine: Annotated[str, typer.Option(help="duckdb or spark.")] = "duckdb",
) -> None:
    """Run the rule library over the claims and report precision and recall against the planted truth."""
    from rich.table import Table

    from yibao.files.rules import load_rule_library
    from yibao.sim.evaluate import evaluate

    if not (data / "truth" / "claims.parquet").exists():
        typer.echo(f"error: {data}/truth/claims.parquet: no truth (write claims with --fraud-rate above 0)", err=True)
        raise typer.Exit(2)
    result = evaluate(data, load_rule_library(), engine=engine)
    console = Console()
    console.print(f"{result.visits:,} visits, {result.planted_visits:,} carrying a plant, {result.colluders} "
                  f"colluding institutions; rules ran in {result.rule_seconds:.1f} s ({engine})")  # fmt: skip
    claims_table = Table(title="Claims: a visit flagged by")
    for col in ("flagged by", "flagged", "planted", "caught", "precision", "recall"):
        claims_table.add_column(col, justify="right" if col != "flagged by" else "left")
    for s in result.claims:
        claims_table.add_row(s.name, f"{s.predicted:,}", f"{s.truth:,}", f"{s.hits:,}", f"{s.precision:.3f}",
                             f"{s.recall:.3f}")  # fmt: skip
    console.print(claims_table)
    schemes = Table(title="Schemes: recall")
    for col in ("scheme", "plants", "by its rules", "by any finding"):
        schemes.add_column(col, justify="right" if col != "scheme" else "left")
    for name, n, own, anything in result.schemes:
        schemes.add_row(name, f"{n:,}", f"{own:.3f}", f"{anything:.3f}")
    console.print(schemes)
    insts = Table(title=f"Institutions: top-{result.colluders} and ROC-AUC")
    for col in ("ranked by", "precision@K", "recall@K", "ROC-AUC"):
        insts.add_column(col, justify="right" if col != "ranked by" else "left")
    for r in result.institutions:
        insts.add_row(r.name, f"{r.at_k.precision:.3f}", f"{r.at_k.recall:.3f}", f"{r.auc:.3f}")
    console.print(insts)


@sim_app.command("replay-claims")
def replay_claims(
    out: Annotated[Path, typer.Option(help="Parquet file to write.")],
    persons: Annotated[int, typer.Option(min=1, help="Insured persons (about 8 claims each).")] = 100_000,
    year: int = 2024,
    seed: Annotated[int, typer.Option(help="The same seed writes the same file.")] = 1,
) -> None:
    """A year of claims at claim level (classified amounts, sorted by person), for `yibao policy simulate`."""
    from yibao.sim.replay_claims import generate

    with Console(stderr=True).status(f"writing the claims of {persons:,} persons …"):
        written = generate(out, persons, year=year, seed=seed)
    typer.echo(f"{written.claims:,} claims of {written.persons:,} persons in {written.seconds:.1f} s: {out}")
