"""No ID number, card number or name of the registry is in the database in clear text, on either database,
also after a settlement (the visit keeps the ID shown, the message log 2207's answer with the ID and
name; a fee upload's answer, which names nobody, is kept in clear); lookups still find people, and
`yibao data-key new` + `rotate` re-seal every row."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from tests.databases import BACKENDS, fresh_database, load_demo
from tests.flows import AMOXICILLIN, PEOPLE, RETIREE, line, register, settle_data, upload
from yibao.api.server import create_app
from yibao.cli import app
from yibao.sim.his import HisClient
from yibao.store import tables as t
from yibao.store.database import Database
from yibao.store.engine import make_engine
from yibao.store.personal import KeyRing, Tampered, forget, key_file_for, personal_for

SECRETS = sorted(
    {str(p[field]) for p in PEOPLE.values() for field in ("certno", "card_no", "psn_name") if p.get(field)}, key=len
)


def settle_one(db: Database) -> None:
    """A visit settled (2201, 2204, 2207): the visit row keeps the ID shown, the log the answer with it."""
    with TestClient(create_app(db)) as http:
        his = HisClient("", "H44010600001", client=http)
        mdtrt_id = register(his, RETIREE)
        upload(his, line("1", mdtrt_id, RETIREE, AMOXICILLIN, "42", "0.52"))
        done = his.call("2207", settle_data(RETIREE, mdtrt_id, "21.84"))["setlinfo"]
        assert (done["certno"], done["psn_name"]) == (PEOPLE[RETIREE]["certno"], PEOPLE[RETIREE]["psn_name"])


def test_the_registry_is_loaded() -> None:
    assert {p["certno"] for p in PEOPLE.values()} | {p["psn_name"] for p in PEOPLE.values()} < set(SECRETS)
    assert any(p.get("card_no") for p in PEOPLE.values()) and all(len(s) >= 2 for s in SECRETS)


def test_the_raw_sqlite_file_holds_no_id_card_number_or_name(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path) as url:
        load_demo(url)
        db = Database(make_engine(url))
        try:
            settle_one(db)
            with db.transaction(write=False) as store:  # the lookups still work, while the file is open
                assert store.person_by_certno(PEOPLE[RETIREE]["certno"]).psn_no == RETIREE  # type: ignore[union-attr]
                assert store.person_by_card(PEOPLE[RETIREE]["card_no"]).psn_no == RETIREE  # type: ignore[union-attr]
            files = [f for f in tmp_path.iterdir() if f.name.startswith("yibao.db") and not f.name.endswith(".keys")]
            raw = b"".join(f.read_bytes() for f in files)
        finally:
            db.dispose()
    assert {f.name for f in files} >= {"yibao.db"}
    assert RETIREE.encode() in raw  # the rows are in what was read
    for secret in SECRETS:
        assert secret.encode() not in raw, f"{secret!r} in clear in {[f.name for f in files]}"
    keys = Path(f"{tmp_path / 'yibao.db'}.keys")
    assert keys.exists() and keys.read_text().split("lookup ")[1].strip().encode() not in raw


def test_postgresql_holds_no_id_card_number_or_name_in_any_table(tmp_path: Path) -> None:
    with fresh_database("postgresql", tmp_path) as url:
        load_demo(url)
        db = Database(make_engine(url))
        try:
            settle_one(db)
        finally:
            db.dispose()
        with psycopg.connect(url) as conn:
            dump = {
                table.name: "\n".join(r[0] for r in conn.execute(f"SELECT x::text FROM {table.name} x").fetchall())
                for table in t.metadata.sorted_tables
            }
    assert RETIREE in dump["person"] and "v1:" in dump["person"]
    assert "v1:" in dump["visit"] and "v1:" in dump["message_log"]  # the ID shown, and 2207's answer
    for secret in SECRETS:
        for table, text in dump.items():
            assert secret not in text, f"{secret!r} in clear in {table}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_fee_upload_answers_are_kept_in_clear_and_sealed_ones_still_replay(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        load_demo(url)
        db = Database(make_engine(url))
        try:
            settle_one(db)
            log = t.message_log.c
            with db.engine.connect() as conn:
                kept = dict(conn.execute(select(log.infno, log.response)).all())
                code, msgid = conn.execute(select(log.fixmedins_code, log.msgid).where(log.infno == "2204")).one()
            assert json.loads(kept["2204"])["output"]["result"][0]["feedetl_sn"] == "1"
            assert all(kept[infno].startswith("v1:") for infno in ("9001", "2201", "2207"))
            # a 2204 answer sealed before they were kept in clear replays as it was
            sealed = personal_for(url).seal(kept["2204"], f"message_log/{code}/{msgid}")
            with db.engine.begin() as conn:
                conn.execute(update(t.message_log).where(log.msgid == msgid).values(response=sealed))
            with db.transaction(write=False) as store:
                done = store.logged(code, msgid)
            assert done is not None and done.response == kept["2204"]
        finally:
            db.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_rotation_re_seals_every_row_and_lookups_keep_working(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fresh_database(backend, tmp_path) as url:
        keys = tmp_path / "data-keys"
        monkeypatch.setenv("YIBAO_DATA_KEY_FILE", str(keys))
        forget()
        runner = CliRunner()
        made = runner.invoke(app, ["data-key", "new"], env={"YIBAO_DATABASE_URL": url})
        assert made.exit_code == 0 and "key v1" in made.stdout, made.stdout
        assert key_file_for(url) == (keys, False)
        load_demo(url)
        engine = make_engine(url)
        settle_one(Database(engine))
        try:

            def prefixes() -> set[str]:
                with engine.connect() as conn:
                    rows = conn.execute(select(t.person.c.certno_enc, t.person.c.psn_name_enc, t.person.c.card_no_enc))
                    return {v.split(":")[0] for row in rows for v in row if v is not None}

            assert prefixes() == {"v1"}
            again = runner.invoke(app, ["data-key", "new"], env={"YIBAO_DATABASE_URL": url})
            assert again.exit_code == 0 and "key v2" in again.stdout, again.stdout
            assert [line.split()[0] for line in keys.read_text().splitlines() if line[:1] in "vl"] == [
                "v2",
                "v1",
                "lookup",
            ]
            rotated = runner.invoke(app, ["data-key", "rotate", "--batch", "2"], env={"YIBAO_DATABASE_URL": url})
            assert rotated.exit_code == 0, rotated.stdout + rotated.stderr
            with engine.connect() as conn:
                logged = conn.execute(select(t.message_log.c.fixmedins_code, t.message_log.c.msgid)).all()
                (mdtrt_id,) = conn.execute(select(t.visit.c.mdtrt_id)).scalars()
            assert len(logged) == 4  # 9001, 2201, 2204, 2207; 2204's answer is kept in clear (CLEAR_ANSWERS)
            assert f"re-sealed under key v2: {len(PEOPLE)} person, 1 visit, 3 message_log" in rotated.stdout
            assert prefixes() == {"v2"}
            rerun = runner.invoke(app, ["data-key", "rotate"], env={"YIBAO_DATABASE_URL": url})
            assert "0 person, 0 visit, 0 message_log" in rerun.stdout  # resumable: nothing left to do
            # v1 may leave the file now; lookups (the lookup key did not change) and reads still work
            keys.write_text("\n".join(line for line in keys.read_text().splitlines() if not line.startswith("v1 ")))
            forget()
            db = Database(engine)
            with db.transaction(write=False) as store:
                for psn_no, p in PEOPLE.items():
                    found = store.person_by_certno(p["certno"])
                    assert found is not None and (found.psn_no, found.psn_name) == (psn_no, p["psn_name"])
                    if p.get("card_no"):
                        assert store.person_by_card(p["card_no"]) == found
                assert store.person_by_certno("110101190001011234") is None
                for code, msgid in logged:  # replays open
                    done = store.logged(code, msgid)
                    assert done is not None and json.loads(done.response)["infcode"] == 0
                visit = store.visit(mdtrt_id)
                assert visit is not None and visit.mdtrt_cert_no == PEOPLE[RETIREE]["certno"]
            # a sealed value moved into another person's row does not open
            other = next(n for n in PEOPLE if n != RETIREE)
            with engine.begin() as conn:
                moved = conn.execute(select(t.person.c.certno_enc).where(t.person.c.psn_no == other)).scalar_one()
                conn.execute(update(t.person).where(t.person.c.psn_no == RETIREE).values(certno_enc=moved))
            with pytest.raises(Tampered), db.transaction(write=False) as store:
                store.person(RETIREE)
            assert personal_for(url).path == keys
        finally:
            engine.dispose()
            forget()


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_lookup_key_rotates_and_people_are_found_throughout(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fresh_database(backend, tmp_path) as url:
        keys = tmp_path / "data-keys"
        monkeypatch.setenv("YIBAO_DATA_KEY_FILE", str(keys))
        forget()
        runner = CliRunner()
        assert runner.invoke(app, ["data-key", "new"], env={"YIBAO_DATABASE_URL": url}).exit_code == 0
        load_demo(url)
        engine = make_engine(url)
        db = Database(engine)
        try:

            def hashes() -> dict[str, str]:
                with engine.connect() as conn:
                    return {r[0]: r[1] for r in conn.execute(select(t.person.c.psn_no, t.person.c.certno_hash))}

            def everyone_found() -> bool:
                forget()
                with db.transaction(write=False) as store:
                    return all(
                        (found := store.person_by_certno(p["certno"])) is not None and found.psn_no == psn_no
                        for psn_no, p in PEOPLE.items()
                    )

            before = hashes()
            old_lookup = KeyRing.parse(keys.read_text()).lookup
            # the first half: a new key, the old kept as previous; nothing hashed again yet
            keys.write_text(KeyRing.parse(keys.read_text()).with_new_lookup().text())
            assert hashes() == before and everyone_found()
            ran = runner.invoke(
                app, ["data-key", "rotate-lookup", "--batch", "2", "--wait", "0"], env={"YIBAO_DATABASE_URL": url}
            )
            assert ran.exit_code == 0, ran.stdout + ran.stderr
            assert f"{len(PEOPLE)} person(s) hashed under the new lookup key" in ran.stdout
            after = hashes()
            assert set(after) == set(before) and not set(after.values()) & set(before.values())
            ring = KeyRing.parse(keys.read_text())
            assert ring.previous_lookup is None and ring.lookup != old_lookup
            assert "lookup-previous" not in keys.read_text()
            assert everyone_found()
            again = runner.invoke(app, ["data-key", "rotate-lookup", "--wait", "0"], env={"YIBAO_DATABASE_URL": url})
            assert again.exit_code == 0 and f"{len(PEOPLE)} person(s)" in again.stdout  # a second one: all again
            assert everyone_found()
        finally:
            engine.dispose()
            forget()
