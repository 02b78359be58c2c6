"""The ``yibao`` command."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from yibao.accounts_cli import user_app
from yibao.analytics.cli import supervise_app
from yibao.analytics.policy_cli import policy_app
from yibao.contributions_cli import contributions_app
from yibao.data_key_cli import data_key_app
from yibao.domain.catalog import EMPTY_CATALOG
from yibao.domain.errors import DomainError
from yibao.domain.ledger import check_ledger
from yibao.domain.money import fen_to_yuan
from yibao.domain.policy import select_policy
from yibao.domain.settlement import calculate
from yibao.files import FileError, dumps, load_catalog, load_claim, load_policy
from yibao.gateway_cli import gateway_app
from yibao.hub.cli import hub_app
from yibao.services_cli import services_app
from yibao.sim.cli import sim_app
from yibao.store import loading, migrate
from yibao.store.database import Database
from yibao.store.engine import make_engine
from yibao.store.filings import load_zones_file
from yibao.voucher_cli import voucher_app

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="yibao — 医疗保障信息平台",
)


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
    claim: Annotated[Path, typer.Option(help="Claim file: person, visit, fee lines or amounts, accumulators.")],
    catalog: Annotated[Path | None, typer.Option(help="Catalogue file, needed when the claim has fee lines.")] = None,
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


db_app = typer.Typer(no_args_is_help=True, help="The database schema (Alembic migrations).")
ledger_app = typer.Typer(no_args_is_help=True, help="The fund ledger.")
app.add_typer(db_app, name="db")
app.add_typer(ledger_app, name="ledger")

DbUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="YIBAO_DATABASE_URL", help="Default: sqlite:///yibao.db"),
]

MAX_REQUESTS = 100_000
"""yibao serve's default --max-requests where workers can be replaced: at 40 requests a second a worker
lives about 40 minutes, in which the slow growth of its heap (docs/reliability.md) is a few MiB."""


def database(url: str | None) -> Database:
    return Database(make_engine(url))


@db_app.command("init")
def db_init(database_url: DbUrl = None) -> None:
    """Create the schema in an empty database (the same as upgrade on a new one)."""
    db_upgrade(database_url)


@db_app.command("upgrade")
def db_upgrade(database_url: DbUrl = None) -> None:
    """Migrate the schema to the newest revision."""
    db = database(database_url)
    migrate.upgrade(db.engine)
    typer.echo(f"schema at revision {migrate.current(db.engine)} ({db.engine.url.render_as_string()})")


def load_each(files: list[Path], database_url: str | None, load: Callable[[Database, Path], str]) -> None:
    """Load files one by one, each in its own transaction; stop at the first bad one with its error."""
    db = database(database_url)
    try:
        for path in files:
            typer.echo(load(db, path))
    except FileError as exc:
        raise fail(str(exc)) from None
    finally:
        db.dispose()


@app.command("load-policy")
def load_policy_cmd(files: list[Path], database_url: DbUrl = None) -> None:
    """Load benefit policy files (a newer file for the same region, insutype and date replaces the old)."""
    load_each(files, database_url, lambda db, path: f"policy {loading.load_policy_file(db, path)}")


@app.command("load-catalog")
def load_catalog_cmd(files: list[Path], database_url: DbUrl = None) -> None:
    """Load catalogue files (a region's catalogue replaces its previous one)."""
    load_each(
        files, database_url, lambda db, path: f"catalogue {path.name}: {loading.load_catalog_file(db, path)} items"
    )


@app.command("load-registry")
def load_registry_cmd(files: list[Path], database_url: DbUrl = None) -> None:
    """Load regions, institutions, practitioners and insured persons (with opening account balances)."""

    def load(db: Database, path: Path) -> str:
        counts = loading.load_registry_file(db, path)
        return f"registry {path.name}: " + ", ".join(f"{n} {k}" for k, n in counts.items())

    load_each(files, database_url, load)


@app.command("load-reference")
def load_reference_cmd(files: list[Path], database_url: DbUrl = None) -> None:
    """Load national reference lists (1303, 1304, 1307–1317: diagnoses, operations, 门诊慢特病种 ...)."""

    def load(db: Database, path: Path) -> str:
        changed = loading.load_reference_file(db, path)
        return f"reference {path.name}: " + ", ".join(f"{infno} {n} changed" for infno, n in changed.items())

    load_each(files, database_url, load)


@app.command("load-zones")
def load_zones_cmd(files: list[Path], database_url: DbUrl = None) -> None:
    """Load filing-free zones (免备案区域; a zone replaces the stored one of the same code)."""
    load_each(files, database_url, lambda db, path: f"zones {path.name}: {', '.join(load_zones_file(db, path))}")


@ledger_app.command("check")
def ledger_check(database_url: DbUrl = None) -> None:
    """Prove the ledger: every transfer balanced, account totals = transfers, funds and payables = settlements."""
    db = database(database_url)
    with db.transaction(write=False) as store:
        facts = store.ledger_facts()
    problems = check_ledger(facts)
    for problem in problems:
        typer.echo(f"DIFF {problem}")
    typer.echo(
        f"{len(facts.accounts)} accounts, {len(facts.settlement_net)} with settlement postings: "
        + ("all balanced and equal to the settlements" if not problems else f"{len(problems)} difference(s)")
    )
    if problems:
        raise typer.Exit(1)


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = typer.Option(
        0, help="Worker processes; 0 picks 1 on SQLite (one writer at a time) and cores + 1 on PostgreSQL."
    ),
    database_url: DbUrl = None,
    admdvs: str = typer.Option("440100", envvar="YIBAO_ADMDVS", help="This node's region (inf_refmsgid prefix)."),
    upgrade: bool = typer.Option(True, help="Migrate the schema before serving."),
    max_requests: int | None = typer.Option(
        None,
        min=0,
        help="Replace a worker after about this many requests, so that no process's heap grows for ever "
        "(0: never; needs PostgreSQL and 2 or more workers) [default: 100,000 where it can, else 0].",
        show_default=False,
    ),
) -> None:
    """Serve the national interface (/fsi/api/...) with OpenAPI docs at /docs."""
    import os

    import uvicorn

    if database_url:
        os.environ["YIBAO_DATABASE_URL"] = database_url
    os.environ["YIBAO_ADMDVS"] = admdvs
    engine = make_engine(database_url)
    if upgrade:
        migrate.upgrade(engine)
    if workers <= 0:
        workers = 1 if engine.dialect.name == "sqlite" else (os.cpu_count() or 1) + 1
    # one worker alone leaves nobody to answer while it is replaced; on SQLite it also keeps the
    # gateway's nonces in its memory, and a replacement would take a replay it had refused
    replaceable = engine.dialect.name != "sqlite" and workers >= 2
    if max_requests is None:
        max_requests = MAX_REQUESTS if replaceable else 0
    elif max_requests and not replaceable:
        raise typer.BadParameter("needs PostgreSQL and 2 or more workers", param_hint="--max-requests")
    engine.dispose()
    if not os.environ.get("YIBAO_GATEWAY_KEY_FILE"):
        typer.echo("warning: YIBAO_GATEWAY_KEY_FILE is not set: gateway signatures are not checked", err=True)
    uvicorn.run(
        "yibao.api.server:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        limit_max_requests=max_requests or None,
        limit_max_requests_jitter=max_requests // 10,  # the workers are not all replaced at once
    )


@app.command()
def demo(
    port: int = 8000,
    database: Annotated[Path, typer.Option(help="SQLite file, made afresh.")] = Path("yibao-demo.db"),
    persons: Annotated[
        int | None, typer.Option(min=1, help="Insured persons of each synthetic city [200,000; 5,000 with --regions].")
    ] = None,
    institutions: Annotated[
        int | None, typer.Option(min=2, help="Hospitals and pharmacies of each city [130; 20 with --regions].")
    ] = None,
    rate: Annotated[float, typer.Option(min=0.1, help="Settlements a second the hospitals aim at.")] = 30.0,
    seed: int = 1,
    headless: Annotated[bool, typer.Option(help="No browser: stop after --settlements and check the books.")] = False,
    settlements: Annotated[
        int | None, typer.Option(min=1, help="With --headless: how many (at each node), then stop.")
    ] = None,
    regions: Annotated[
        int, typer.Option(min=1, max=3, help="Cities, each on its own node of a national hub (2 or 3: cross-region).")
    ] = 1,
) -> None:
    """A city goes live: build it, serve it, let its hospitals settle; watch /console (Ctrl-C stops).

    With --regions 3: Guangzhou, Qingpu and Wujiang on three nodes and a hub, some visits across regions."""
    if headless and settlements is None:
        raise fail("--headless needs --settlements N")
    if regions > 1:
        from yibao import demo_regions

        raise typer.Exit(demo_regions.run(database, port, regions, persons, institutions, rate, seed,
                                          settlements if headless else None))  # fmt: skip
    from yibao.demo import run

    raise typer.Exit(run(database, port, persons or 200_000, institutions or 130, rate, seed,
                         settlements if headless else None))  # fmt: skip


app.add_typer(sim_app, name="sim")
app.add_typer(user_app, name="user")
app.add_typer(gateway_app, name="gateway")
app.add_typer(data_key_app, name="data-key")
app.add_typer(voucher_app, name="voucher")
app.add_typer(hub_app, name="hub")
app.add_typer(supervise_app, name="supervise")
app.add_typer(services_app, name="services")
app.add_typer(contributions_app, name="contributions")
app.add_typer(policy_app, name="policy")
