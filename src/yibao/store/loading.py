"""Loading configuration and registry data into the database (the `yibao load-*` commands).

Policies and catalogue items are configuration: loading a newer file replaces the stored one and
bumps the configuration stamp, so running servers pick it up within a second. Opening balances of
personal accounts come in as balanced ledger postings from an opening account.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select, update

from yibao.domain.ledger import Code, Transfer, opening_account, personal_account
from yibao.domain.money import yuan_to_fen
from yibao.domain.reference import version_key
from yibao.files import catalog_item_to_json, load_catalog, load_policy, policy_to_json
from yibao.files.loader import FileError
from yibao.files.reference import load_reference
from yibao.files.registry import load_registry
from yibao.store import tables as t
from yibao.store.database import Database
from yibao.store.personal import personal_for
from yibao.store.reference import reference_entry_of, reference_values
from yibao.store.sql import SqlStore


def _bump(conn: Connection) -> None:
    c = t.config_stamp.c
    conn.execute(update(t.config_stamp).where(c.name == "config").values(version=c.version + 1))


def load_policy_file(db: Database, path: Path) -> str:
    policy = load_policy(path)  # refuse a bad file before touching the database
    now = datetime.now(UTC).replace(tzinfo=None)
    p = t.policy_version.c
    with db.engine.begin() as conn:
        conn.execute(
            delete(t.policy_version).where(
                p.admdvs == policy.admdvs, p.insutype == policy.insutype.value, p.begndate == policy.begndate
            )
        )
        conn.execute(
            insert(t.policy_version).values(
                admdvs=policy.admdvs,
                insutype=policy.insutype.value,
                begndate=policy.begndate,
                name=policy.name,
                body=policy_to_json(policy),
                loaded_at=now,
            )
        )
        _bump(conn)
    db.cache.invalidate()
    return policy.name


def load_catalog_file(db: Database, path: Path) -> int:
    catalog = load_catalog(path)
    c = t.catalog_item.c
    with db.engine.begin() as conn:
        conn.execute(delete(t.catalog_item).where(c.admdvs == catalog.admdvs))
        rows = [
            {
                "admdvs": catalog.admdvs,
                "med_list_codg": item.med_list_codg,
                "version": catalog.version,
                "med_list_name": item.name,
                "list_type": item.list_type.value,
                "chrgitm_lv": item.chrgitm_lv.value,
                "body": catalog_item_to_json(item),
            }
            for item in catalog.items.values()
        ]
        if rows:
            conn.execute(insert(t.catalog_item), rows)
        _bump(conn)
    db.cache.invalidate()
    return len(catalog.items)


def load_registry_file(db: Database, path: Path) -> dict[str, int]:
    """Insert what the file holds; existing rows with the same keys are left as they are."""
    reg = load_registry(path)
    now = datetime.now(UTC).replace(tzinfo=None)
    counts = {"regions": 0, "institutions": 0, "practitioners": 0, "persons": 0}
    sealed = personal_for(db.engine.url)
    with db.engine.begin() as conn:

        def new(table: Table, key: str, value: str) -> bool:
            return conn.execute(select(table.c[key]).where(table.c[key] == value)).first() is None

        for r in reg.regions:
            if new(t.region, "admdvs", r.admdvs):
                conn.execute(insert(t.region).values(admdvs=r.admdvs, name=r.name))
                counts["regions"] += 1
        for i in reg.institutions:
            if new(t.institution, "fixmedins_code", i.fixmedins_code):
                conn.execute(insert(t.institution).values(**_fields(i.record())))
                counts["institutions"] += 1
        for pr in reg.practitioners:
            if new(t.practitioner, "prac_code", pr.prac_code):
                conn.execute(insert(t.practitioner).values(**_fields(pr)))
                counts["practitioners"] += 1
        transfers = []
        for person in reg.persons:
            if not new(t.person, "psn_no", person.psn_no):
                continue
            conn.execute(insert(t.person).values(**sealed.person_values(person.record())))
            for ins in person.insurance_records():
                conn.execute(insert(t.insurance).values(**_fields(ins)))
            for idet in person.identity_records():
                conn.execute(insert(t.identity).values(**_fields(idet)))
            opening = yuan_to_fen(person.acct_balc)
            if opening > 0:
                transfers.append(
                    Transfer(
                        opening_account("personal_accounts"),
                        personal_account(person.psn_no),
                        opening,
                        Code.OPENING,
                    )
                )
            counts["persons"] += 1
        if transfers:
            digest = hashlib.sha1(path.name.encode()).hexdigest()[:8]
            store = SqlStore(conn, db.cache)
            store.post(f"opening-{now:%Y%m%d%H%M%S%f}-{digest}", transfers, now)
            store.flush()
    return counts


def _fields(record: Any) -> dict[str, object]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


def load_reference_file(db: Database, path: Path) -> dict[str, int]:
    """Load the reference lists a file holds (1303, 1304, 1307–1317); rows changed per list.

    Rows new or changed get the file's version and the load time; rows of a list that the file no
    longer has are kept, marked vali_flag 0 under the new version. A list whose rows change needs a
    version newer than the one it holds (so a HIS holding that version is sent the changes);
    loading the same file again changes nothing.
    """
    ver, lists = load_reference(path)
    now = datetime.now(UTC).replace(tzinfo=None)
    r = t.reference_entry.c
    changed: dict[str, int] = {}
    with db.engine.begin() as conn:
        for infno, entries in lists.items():
            rows = conn.execute(select(t.reference_entry).where(r.infno == infno))
            stored = {e.key(): e for e in map(reference_entry_of, rows)}
            wanted = {e.key(): e for e in entries}
            inserts = [e for k, e in wanted.items() if k not in stored]
            updates = [e for k, e in wanted.items() if k in stored and not e.same_content(stored[k])]
            gone = [e for k, e in stored.items() if k not in wanted and e.vali_flag != "0"]
            retired = [dataclasses.replace(e, vali_flag="0") for e in gone]
            if not (inserts or updates or retired):
                changed[infno] = 0
                continue
            held = max((e.ver for e in stored.values()), key=version_key, default="0")
            if version_key(ver) <= version_key(held):
                raise FileError(f"{path}: ver: {ver} is not newer than version {held} of {infno} already loaded")
            if inserts:
                conn.execute(insert(t.reference_entry), [reference_values(e, ver, now) for e in inserts])
            for e in [*updates, *retired]:
                conn.execute(
                    update(t.reference_entry)
                    .where(r.infno == infno, r.code == e.code, r.ref_code == e.ref_code, r.admdvs == e.admdvs,
                           r.fixmedins_code == e.fixmedins_code)
                    .values(**reference_values(e, ver, now))
                )  # fmt: skip
            changed[infno] = len(inserts) + len(updates) + len(retired)
    return changed
