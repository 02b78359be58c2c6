"""What the rule engine looks at: one visit (就诊) with its diagnoses and fee lines.

The same shape comes from 3101/3102 (patient_dtos → fsi_encounter_dtos), from a settlement, and from
the Parquet claims of docs/supervision.md; cross-visit rules also see the person's other visits.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from yibao.domain.frozen import frozen
from yibao.domain.money import Fen


@frozen
class Line:
    feedetl_sn: str
    med_list_codg: str
    fee_date: date
    cnt: Decimal
    pric: Decimal
    """Yuan a unit, up to six decimals."""
    amount: Fen
    days: int = 0
    """Days of supply (用药天数) of a drug line, 0 when not given."""


@frozen
class Encounter:
    mdtrt_id: str
    psn_no: str
    gend: str
    age: int
    insutype: str
    fixmedins_code: str
    hosp_lv: int
    med_type: str
    kind: str
    """outpatient, inpatient, pharmacy or internet: the rule scenes."""
    begn_date: date
    end_date: date | None
    """None while a stay is open."""
    main_dx: str = ""
    diagnoses: tuple[str, ...] = ()
    """Other diagnosis codes."""
    lines: tuple[Line, ...] = ()
    cross_region: bool = False
    admdvs: str = ""
    """The place of treatment, whose price caps apply."""
    atddr_no: str = ""
    medfee_sumamt: Fen = 0

    @property
    def scenes(self) -> tuple[str, ...]:
        return (self.kind, "cross_region") if self.cross_region else (self.kind,)
