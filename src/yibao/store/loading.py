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
from yibao.files import catalog_item_to_json, load_catalog, load_policy, policy_to_json
from yibao.files.registry import load_registry
from yibao.store import tables as t
from yibao.store.database import Database
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
            conn.execute(insert(t.person).values(**_fields(person.record())))
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
            SqlStore(conn, db.cache).post(f"opening-{now:%Y%m%d%H%M%S%f}-{digest}", transfers, now)
    return counts


def _fields(record: Any) -> dict[str, object]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
