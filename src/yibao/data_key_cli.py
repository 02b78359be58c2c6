"""``yibao data-key``: the keys of personal data at rest (yibao.store.personal; docs/security.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine, Table, bindparam, func, or_, select, tuple_, update

from yibao.store import tables as t
from yibao.store.engine import make_engine
from yibao.store.personal import (
    ENV,
    DataKeyError,
    KeyRing,
    PersonalData,
    forget,
    key_file_for,
    make_key_file,
    personal_for,
    write_key_file,
)

data_key_app = typer.Typer(
    no_args_is_help=True, help="Keys of personal data at rest (SM4-GCM ID numbers, names, card numbers)."
)
DbUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="YIBAO_DATABASE_URL", help="Default: sqlite:///yibao.db"),
]
KeyFile = Annotated[
    Path | None,
    typer.Option(envvar=ENV, help="The key file; default: beside an SQLite database, else per user."),
]


def _key_file(key_file: Path | None, database_url: str | None) -> Path:
    return key_file or key_file_for(make_engine(database_url).url)[0]


@data_key_app.command("new")
def new(key_file: KeyFile = None, database_url: DbUrl = None) -> None:
    """Put a new SM4 key at the head of the key file (made if missing): new values are sealed with it,
    older keys still open what they sealed until `yibao data-key rotate` has re-sealed it."""
    path = _key_file(key_file, database_url)
    try:
        if path.exists():
            ring = KeyRing.parse(path.read_text(), str(path)).with_new_key()
            write_key_file(path, ring)
        else:
            ring = KeyRing.generate()
            make_key_file(path, ring)
    except (OSError, DataKeyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    forget(path)
    typer.echo(
        f"{path}: key v{ring.newest} seals new values ({len(ring.keys)} SM4 key(s) and the lookup key); "
        "`yibao data-key rotate` re-seals the rows sealed under older keys"
    )


@dataclass(frozen=True)
class Sealed:
    """A table's sealed columns, its key, and the associated data each value was sealed with."""

    table: Table
    key: tuple[str, ...]
    columns: dict[str, str]
    """sealed column → the field name its associated data starts with"""

    def context(self, field: str, key: Sequence[str]) -> str:
        return "/".join((field, *key))


SEALED = (
    Sealed(t.person, ("psn_no",), {"certno_enc": "certno", "psn_name_enc": "psn_name", "card_no_enc": "card_no"}),
    Sealed(t.visit, ("mdtrt_id",), {"mdtrt_cert_no": "mdtrt_cert_no"}),
    Sealed(t.message_log, ("fixmedins_code", "msgid"), {"response": "message_log"}),
)


@data_key_app.command()
def rotate(database_url: DbUrl = None, batch: Annotated[int, typer.Option(min=1)] = 2000) -> None:
    """Re-seal every value not sealed under the newest key (persons, the ID numbers visits recorded,
    the answers kept for replay), a batch per transaction. Safe to stop and run again: it takes up
    the rows still to do."""
    engine = make_engine(database_url)
    done: dict[str, int] = {}
    try:
        personal = personal_for(engine.url)
        personal.reload()
        newest = personal.newest
        columns = (TextColumn("re-sealing {task.description:<12}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn())  # fmt: skip
        with Progress(*columns, transient=False) as bar:
            for sealed in SEALED:
                done[sealed.table.name] = _rotate(engine, personal, sealed, f"v{newest}:%", batch, bar)
    except DataKeyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    counts = ", ".join(f"{n} {table}" for table, n in done.items())
    typer.echo(f"re-sealed under key v{newest}: {counts}; older keys may leave the key file now")


def _rotate(engine: Engine, personal: PersonalData, sealed: Sealed, prefix: str, batch: int, bar: Progress) -> int:
    c = sealed.table.c
    keys = [c[k] for k in sealed.key]
    stale = or_(*(c[col].is_not(None) & (c[col] != "") & c[col].not_like(prefix) for col in sealed.columns))
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(sealed.table).where(stale)).scalar_one())
    task = bar.add_task(sealed.table.name, total=total)
    change = (
        update(sealed.table)
        .where(*(k == bindparam(f"key_{k.name}") for k in keys))
        .values(**{col: bindparam(f"new_{col}") for col in sealed.columns})
    )
    done, last = 0, None
    while True:
        with engine.begin() as conn:
            q = select(*keys, *(c[col] for col in sealed.columns)).where(stale).order_by(*keys).limit(batch)
            if last is not None:
                q = q.where(tuple_(*keys) > tuple_(*last))
            rows = conn.execute(q).all()
            if not rows:
                return done
            conn.execute(change, [_resealed(personal, sealed, row) for row in rows])
        last = tuple(rows[-1][: len(keys)])
        done += len(rows)
        bar.update(task, completed=done)


def _resealed(personal: PersonalData, sealed: Sealed, row: Sequence[Any]) -> dict[str, Any]:
    key = [str(v) for v in row[: len(sealed.key)]]
    out: dict[str, Any] = {f"key_{name}": value for name, value in zip(sealed.key, key, strict=True)}
    for (col, field), value in zip(sealed.columns.items(), row[len(sealed.key) :], strict=True):
        context = sealed.context(field, key)
        out[f"new_{col}"] = value if not value else personal.seal(personal.open(value, context), context)
    return out
