"""The registry parts a cross-region settlement keeps of another region (part of ``SqlStore``).

Where treated: the guest person (their insured node's registry rows, refreshed at each registration).
Where insured: the treating region's institution (registered here as foreign, to name its visits).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from yibao.app.records import IdentityRecord, InstitutionRecord, InsuranceRecord, PersonRecord
from yibao.store import tables as t
from yibao.store.personal import personal_for


class SqlFederation:
    """Mixed into SqlStore."""

    conn: Connection
    _persons: dict[str, PersonRecord | None]
    _institutions: dict[str, InstitutionRecord | None]
    _ahead: dict[tuple[str, ...], Any]

    def save_guest(
        self, person: PersonRecord, insurances: list[InsuranceRecord], identities: list[IdentityRecord]
    ) -> None:
        p = t.person.c
        values: dict[str, Any] = personal_for(self.conn.engine.url).person_values(person)
        if self.conn.execute(select(p.psn_no).where(p.psn_no == person.psn_no)).first() is None:
            self.conn.execute(insert(t.person).values(**values))
        else:
            self.conn.execute(update(t.person).where(p.psn_no == person.psn_no).values(**values))
        self.conn.execute(delete(t.insurance).where(t.insurance.c.psn_no == person.psn_no))
        self.conn.execute(delete(t.identity).where(t.identity.c.psn_no == person.psn_no))
        if insurances:
            self.conn.execute(insert(t.insurance), [asdict(i) for i in insurances])
        if identities:
            self.conn.execute(insert(t.identity), [asdict(i) for i in identities])
        self._persons.pop(person.psn_no, None)
        self._ahead.clear()  # rows read ahead (PostgreSQL) before the guest was saved are stale

    def save_foreign_institution(self, institution: InstitutionRecord) -> None:
        i = t.institution.c
        if self.conn.execute(select(i.fixmedins_code).where(i.fixmedins_code == institution.fixmedins_code)).first():
            return
        if self.conn.execute(select(t.region.c.admdvs).where(t.region.c.admdvs == institution.admdvs)).first() is None:
            self.conn.execute(insert(t.region).values(admdvs=institution.admdvs, name=institution.admdvs))
        self.conn.execute(insert(t.institution).values(**asdict(institution)))
        self._institutions.pop(institution.fixmedins_code, None)

    def settlement_ids_by_msgid(self, msgid: str) -> list[str]:
        s = t.settlement.c
        return list(self.conn.execute(select(s.setl_id).where(s.msgid == msgid).order_by(s.setl_time)).scalars())
