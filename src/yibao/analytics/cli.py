"""``yibao supervise``: export the claims, run the rules after settlement, monitor against peers."""

from __future__ import annotations

import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from yibao.analytics.post_event import ENGINES, run_rules

supervise_app = typer.Typer(no_args_is_help=True, help="Fund supervision after settlement (事后监管) and monitoring.")

DataDir = Annotated[Path, typer.Option("--data", help="Parquet claims (docs/supervision.md's layout).")]
DbUrl = Annotated[
    str | None,
    typer.Option("--database", "--database-url", envvar="YIBAO_DATABASE_URL", help="Default: sqlite:///yibao.db"),
]


@supervise_app.command("export")
def export(data: DataDir, database: DbUrl = None) -> None:
    """Write the stored claims (reversed settlements left out) and the catalogue as Parquet."""
    from yibao.analytics.export import export_claims
    from yibao.store.engine import make_engine

    with Console(stderr=True).status("exporting claims …"):
        counts = export_claims(make_engine(database), data)
    typer.echo(f"visits {counts.visits}, lines {counts.lines}, diagnoses {counts.diagnoses}, items {counts.items}")


@supervise_app.command("run")
def run(
    data: DataDir,
    engine: Annotated[str, typer.Option(help=f"One of {', '.join(ENGINES)}.")] = "duckdb",
    database: DbUrl = None,
    import_: Annotated[
        bool, typer.Option("--import", help="Store the findings (stage after) in the database.")
    ] = False,
    rules: Annotated[Path | None, typer.Option(help="Rule library file; default: the shipped one.")] = None,
    out: Annotated[Path | None, typer.Option(help="Also keep the findings as Parquet here.")] = None,
    memory_limit: Annotated[str | None, typer.Option(help="DuckDB memory limit, e.g. 8GB.")] = None,
    threads: Annotated[int | None, typer.Option(help="DuckDB threads.")] = None,
    spark_master: Annotated[str, typer.Option(help="Spark master URL.")] = "local[2]",
) -> None:
    """Run the library's "after" rules over all claims and print each rule's findings and amount."""
    from yibao.files.rules import load_rule_library

    if engine not in ENGINES:
        raise typer.BadParameter(f"{engine!r} is not one of {', '.join(ENGINES)}", param_hint="--engine")
    library = load_rule_library(rules)
    with tempfile.TemporaryDirectory(prefix="yibao-findings-") as tmp:
        path = out or Path(tmp) / ("findings.parquet" if engine == "duckdb" else "findings")
        with Console(stderr=True).status(f"running {len(library.select(stage='after'))} rules on {engine} …"):
            result = run_rules(data, library, engine=engine, spark_master=spark_master, out=path,
                               memory_limit=memory_limit, threads=threads)  # fmt: skip
        table = Table(title=f"rules {library.version} on {engine}: {result.total} findings in {result.seconds:.1f} s")
        for column in ("rule", "name", "findings", "amount (元)"):
            table.add_column(column, justify="right" if column in ("findings", "amount (元)") else "left")
        names = {r.id: r.name for r in library.rules}
        for c in result.counts:
            table.add_row(c.rule_id, names[c.rule_id], str(c.findings), f"{c.amount / 100:,.2f}")
        Console().print(table)
        if import_:
            from yibao.analytics.importing import import_findings
            from yibao.store.database import Database
            from yibao.store.engine import make_engine

            now = datetime.now(UTC).replace(tzinfo=None)
            run_id = f"PE{now:%Y%m%d%H%M%S}{secrets.token_hex(3).upper()}"
            db = Database(make_engine(database))
            with Console(stderr=True).status("importing findings …"):
                added = import_findings(db, data, path, library=library, run_id=run_id, now=now)
            db.dispose()
            typer.echo(f"run {run_id}: {added} findings stored")


@supervise_app.command("monitor")
def monitor_command(
    data: DataDir,
    level: Annotated[str, typer.Option(help="institution, department or practitioner.")] = "institution",
    top: Annotated[int, typer.Option(help="How many to show.")] = 20,
    min_visits: Annotated[int, typer.Option(help="Leave out entities with fewer visits.")] = 30,
) -> None:
    """Score each entity's indicators against its peers and print the most unusual."""
    from yibao.analytics.monitoring import INDICATORS, LEVELS, monitor

    if level not in LEVELS:
        raise typer.BadParameter(f"{level!r} is not one of {', '.join(LEVELS)}", param_hint="--level")
    scores = monitor(data, level, min_visits=min_visits)
    table = Table(title=f"{level}: {len(scores)} scored against their peers")
    for column in (level, "peers", "visits", "score", "why (value / peer median, z)"):
        table.add_column(column)
    for s in scores[:top]:
        why = "; ".join(f"{INDICATORS[r.indicator]} {r.value:.3g}/{r.peer_median:.3g}, z {r.z:.1f}"
                        for r in s.reasons[:3])  # fmt: skip
        table.add_row(s.entity, f"{s.peers} ({s.peer_count})", str(s.visits), f"{s.score:.1f}", why)
    Console().print(table)
