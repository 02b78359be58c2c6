"""What is brought to settlement: the person, the visit, the fee lines, the year-to-date totals.

Amounts arrive in yuan (Decimal), as the national interface and the documents carry them; the
calculator turns them into fen once, at its door.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from datetime import date
from decimal import Decimal

from yibao.domain.errors import ClaimError
from yibao.domain.frozen import frozen


def age_on(brdy: date, day: date) -> int:
    """Whole years of age on ``day``."""
    return day.year - brdy.year - ((day.month, day.day) < (brdy.month, brdy.day))


@frozen
class Person:
    """The insured person as 1101 knows them, with what policy rules look at."""

    psn_no: str
    insutype: str
    psn_type: str
    insuplc_admdvs: str | None = None
    """参保地: the region whose policy applies; None when the caller has already chosen the policy."""
    age: int | None = None
    brdy: date | None = None
    gend: str = "9"
    idet_types: tuple[str, ...] = ()
    """人员身份类别 held on the visit date (医疗救助 categories and the like)."""
    contrib_months: int = 0
    """Months of continuous contribution, for ceilings that grow with them."""
    cvlserv_flag: bool = False
    acct_balc: Decimal = Decimal(0)
    """个人账户余额 before this settlement, yuan."""

    def age_on(self, day: date) -> int:
        if self.brdy is not None:
            return age_on(self.brdy, day)
        if self.age is None:
            raise ClaimError("person.age", "需要年龄 age 或出生日期 brdy")
        return self.age


@frozen
class Visit:
    """The facts of one visit or stay that the rules depend on."""

    med_type: str
    hosp_lv: int
    """Hospital level 1, 2 or 3 (0 for unrated institutions and pharmacies)."""
    setl_date: date
    mdtrtarea_admvs: str = ""
    """The place of treatment, whose catalogue prices the lines (就医地目录)."""
    specialty: str = ""
    admission_seq: int = 1
    """This stay is the person's n-th admission of the year."""
    los_days: int = 1
    """Days in hospital so far (for deductibles repeated every N days of one stay)."""
    stay_dedc_paid: Decimal = Decimal(0)
    """Deductible already charged for this stay by earlier interim settlements (中途结算), yuan."""
    flags: tuple[str, ...] = ()
    """Facts such as "no_referral", "cross_region_unfiled", "emergency" that adjust ratios."""
    acct_used_flag: bool = True


@frozen
class FeeLine:
    """One uploaded fee line (2204/2301 feedetail)."""

    feedetl_sn: str
    med_list_codg: str
    cnt: Decimal
    pric: Decimal
    det_item_fee_sumamt: Decimal | None = None
    """Line total in yuan; pric × cnt when absent."""


@frozen
class Amounts:
    """Amounts already classified by the institution or a published example (yuan).

    Missing parts are zero, except inscp_scp_amt, which is then what remains of medfee_sumamt.
    """

    medfee_sumamt: Decimal | None = None
    fulamt_ownpay_amt: Decimal = Decimal(0)
    overlmt_selfpay: Decimal = Decimal(0)
    preselfpay_amt: Decimal = Decimal(0)
    inscp_scp_amt: Decimal | None = None


@frozen
class Claim:
    person: Person
    visit: Visit
    feedetail: tuple[FeeLine, ...] = ()
    amounts: Amounts | None = None
    accumulators: Mapping[str, Decimal] = field(default_factory=dict)
    """Year-to-date totals in yuan by name (e.g. ``inpatient.dedc``, ``basic_ceiling``)."""
