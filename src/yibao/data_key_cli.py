"""``yibao data-key``: the keys of personal data at rest (yibao.store.personal; docs/security.md)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import ColumnElement, Engine, Table, bindparam, func, or_, select, tuple_, update

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
    only: ColumnElement[bool] | None = None
    """which rows hold sealed values, if not all"""

    def context(self, field: str, key: Sequence[str]) -> str:
        return "/".join((field, *key))


SEALED = (
    Sealed(t.person, ("psn_no",), {"certno_enc": "certno", "psn_name_enc": "psn_name", "card_no_enc": "card_no"}),
    Sealed(t.visit, ("mdtrt_id",), {"mdtrt_cert_no": "mdtrt_cert_no"}),
    Sealed(
        t.message_log,
        ("fixmedins_code", "msgid"),
        {"response": "message_log"},
        ~t.message_log.c.response.startswith("{"),  # answers kept in clear (CLEAR_ANSWERS)
    ),
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
    if sealed.only is not None:
        stale = stale & sealed.only
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


@data_key_app.command("rotate-lookup")
def rotate_lookup(
    database_url: DbUrl = None,
    batch: Annotated[int, typer.Option(min=1)] = 2000,
    wait: Annotated[float, typer.Option(min=0, help="Seconds for running servers to read the new key.")] = (
        2 * PersonalData.RECHECK
    ),
) -> None:
    """A new lookup key (the HMAC-SM3 key of the ID and card number hashes): the key file keeps the old
    one as `lookup-previous`, servers look people up under both, every person's hashes are made again,
    and the old key leaves the file. Safe to stop and run again: it takes up where it stopped."""
    engine = make_engine(database_url)
    try:
        path = key_file_for(engine.url)[0]
        ring = KeyRing.parse(path.read_text(), str(path))
        if ring.previous_lookup is None:
            ring = ring.with_new_lookup()
            write_key_file(path, ring)
            forget(path)
            typer.echo(f"{path}: a new lookup key; waiting {wait:g} s for running servers to read it")
            time.sleep(wait)
        personal = personal_for(engine.url)
        personal.reload()
        if personal.ring.lookup != ring.lookup:
            raise DataKeyError(f"{path} changed meanwhile; run again")
        changed = _rehash(engine, personal, batch)
        write_key_file(path, replace(ring, previous_lookup=None))
        forget(path)
    except (OSError, DataKeyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(f"{changed} person(s) hashed under the new lookup key; the previous key has left {path}")


def _rehash(engine: Engine, personal: PersonalData, batch: int) -> int:
    """Hash every person's ID and card number under the current lookup key; how many rows changed."""
    p = t.person.c
    change = (
        update(t.person)
        .where(p.psn_no == bindparam("key_psn_no"))
        .values(certno_hash=bindparam("new_certno"), card_no_hash=bindparam("new_card"))
    )
    changed, last = 0, ""
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(t.person)).scalar_one())
    with Progress(TextColumn("hashing persons"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()) as bar:
        task = bar.add_task("person", total=total)
        done = 0
        while True:
            with engine.begin() as conn:
                q = select(p.psn_no, p.certno_enc, p.certno_hash, p.card_no_enc, p.card_no_hash)
                rows = conn.execute(q.where(p.psn_no > last).order_by(p.psn_no).limit(batch)).all()
                if not rows:
                    return changed
                updates = []
                for psn_no, certno_enc, certno_hash, card_enc, card_hash in rows:
                    certno = personal.lookup(personal.open(certno_enc, f"certno/{psn_no}"))
                    card = personal.lookup(personal.open(card_enc, f"card_no/{psn_no}")) if card_enc else None
                    if (certno, card) != (certno_hash, card_hash):
                        updates.append({"key_psn_no": psn_no, "new_certno": certno, "new_card": card})
                if updates:
                    conn.execute(change, updates)
            changed += len(updates)
            done += len(rows)
            last = rows[-1][0]
            bar.update(task, completed=done)
