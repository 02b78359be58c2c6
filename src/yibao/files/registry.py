"""A registry file: regions, institutions, practitioners, persons with their insurance, identities and
opening personal-account balances — the shape a legacy system's export is brought into."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from yibao.app.records import IdentityRecord, InstitutionRecord, InsuranceRecord, PersonRecord
from yibao.domain.frozen import frozen
from yibao.files.loader import _strict_adapter, _validate, read_data


@frozen
class Region:
    admdvs: str
    name: str


@frozen
class Practitioner:
    prac_code: str
    prac_name: str
    fixmedins_code: str
    dept_code: str = ""


@frozen
class InsuranceEntry:
    insutype: str
    psn_type: str
    insuplc_admdvs: str
    psn_insu_date: date
    psn_insu_stas: str = "1"
    paus_insu_date: date | None = None
    cvlserv_flag: bool = False
    emp_name: str = ""
    contrib_months: int = 0


@frozen
class IdentityEntry:
    psn_idet_type: str
    begntime: date
    endtime: date | None = None
    memo: str = ""


@frozen
class PersonEntry:
    psn_no: str
    psn_cert_type: str
    certno: str
    psn_name: str
    gend: str
    brdy: date
    naty: str = "01"
    card_no: str | None = None
    card_sn: str | None = None
    insurance: tuple[InsuranceEntry, ...] = ()
    identities: tuple[IdentityEntry, ...] = ()
    acct_balc: Decimal = Decimal(0)
    """Opening personal-account balance in yuan, brought in with an opening ledger posting."""

    def record(self) -> PersonRecord:
        return PersonRecord(self.psn_no, self.psn_cert_type, self.certno, self.psn_name, self.gend, self.brdy,
                            self.naty, self.card_no, self.card_sn)  # fmt: skip

    def insurance_records(self) -> list[InsuranceRecord]:
        return [
            InsuranceRecord(
                self.psn_no,
                i.insutype,
                i.psn_type,
                i.psn_insu_stas,
                i.insuplc_admdvs,
                i.psn_insu_date,
                i.paus_insu_date,
                i.cvlserv_flag,
                i.emp_name,
                i.contrib_months,
            )
            for i in self.insurance
        ]

    def identity_records(self) -> list[IdentityRecord]:
        return [IdentityRecord(self.psn_no, i.psn_idet_type, i.begntime, i.endtime, i.memo) for i in self.identities]


@frozen
class InstitutionEntry:
    fixmedins_code: str
    fixmedins_name: str
    admdvs: str
    fixmedins_type: str = "1"
    hosp_lv: int = 0
    specialty: str = ""
    status: str = "1"

    def record(self) -> InstitutionRecord:
        return InstitutionRecord(self.fixmedins_code, self.fixmedins_name, self.fixmedins_type, self.hosp_lv,
                                 self.specialty, self.admdvs, self.status)  # fmt: skip


@frozen
class Registry:
    regions: tuple[Region, ...] = ()
    institutions: tuple[InstitutionEntry, ...] = ()
    practitioners: tuple[Practitioner, ...] = ()
    persons: tuple[PersonEntry, ...] = ()


_REGISTRY = _strict_adapter(Registry)


def load_registry(path: Path) -> Registry:
    registry: Registry = _validate(_REGISTRY, read_data(path), path)
    return registry
