"""Benefit policy (待遇政策) of a pooling region for one insurance type, versioned by date.

Everything a region decides is data here, never code: deductibles (起付线), pooled-fund ratios
(支付比例), ceilings (封顶线), the second and third layers (大病保险/职工大额, 公务员补助,
医疗救助) and what the personal account may pay for. Policy files (docs/policy-files.md) are read
into these records by an adapter; amounts in them are yuan, as the documents that set them are.

Rows that depend on who or where (hospital level, person type, age, months of contribution,
specialty hospital, assistance category, visit flags) carry a :class:`Match`; the first row whose
Match fits the visit is the one that applies, so specific rows go before general ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Literal, Protocol, TypeVar

from yibao.domain.codes import FundPayType, Insutype
from yibao.domain.errors import PolicyError
from yibao.domain.frozen import frozen

ZERO = Decimal(0)
ONE = Decimal(1)


def check_share(name: str, value: Decimal) -> None:
    if not ZERO <= value <= ONE:
        raise PolicyError(name, f"{value} 应在 0 与 1 之间")


def check_amount(name: str, value: Decimal) -> None:
    if value < 0:
        raise PolicyError(name, f"{value} 不能为负")


def check_segments(name: str, segments: Sequence[Segment]) -> None:
    """Segments go up in order without overlapping; only the last may be open-ended."""
    for before, after in pairwise(segments):
        if before.upper is None or after.lower < before.upper:
            raise PolicyError(name, f"分段 {before.lower}–{before.upper} 与 {after.lower} 起的分段重叠或顺序不对")


class Subject(Protocol):
    """What a :class:`Match` looks at: the facts of one visit by one person."""

    @property
    def hosp_lv(self) -> int: ...
    @property
    def psn_type(self) -> str: ...
    @property
    def age(self) -> int: ...
    @property
    def contrib_months(self) -> int: ...
    @property
    def specialty(self) -> str: ...
    @property
    def idet_types(self) -> Sequence[str]: ...
    @property
    def flags(self) -> Sequence[str]: ...
    @property
    def med_type(self) -> str: ...


@frozen
class Match:
    """Whom and where a row applies to. An empty field matches everything."""

    hosp_lv: tuple[int, ...] = ()
    psn_type: tuple[str, ...] = ()
    """Prefixes of psn_type codes: "11" is every 在职, "12" every 退休, "1403" 中小学生."""
    age_min: int | None = None
    age_max: int | None = None
    contrib_months_min: int | None = None
    contrib_months_max: int | None = None
    specialty: tuple[str, ...] = ()
    """Specialty of the institution, e.g. "psychiatric" or "tuberculosis"."""
    idet_type: tuple[str, ...] = ()
    """The person holds at least one of these identities (医疗救助 categories, 贫困人口 ...)."""
    flags: tuple[str, ...] = ()
    """The visit carries all of these flags, e.g. "no_referral" or "cross_region_unfiled"."""
    med_type: tuple[str, ...] = ()

    def fits(self, s: Subject) -> bool:
        return (
            (not self.hosp_lv or s.hosp_lv in self.hosp_lv)
            and (not self.psn_type or s.psn_type.startswith(self.psn_type))
            and (self.age_min is None or s.age >= self.age_min)
            and (self.age_max is None or s.age <= self.age_max)
            and (self.contrib_months_min is None or s.contrib_months >= self.contrib_months_min)
            and (self.contrib_months_max is None or s.contrib_months <= self.contrib_months_max)
            and (not self.specialty or s.specialty in self.specialty)
            and (not self.idet_type or any(t in self.idet_type for t in s.idet_types))
            and all(flag in s.flags for flag in self.flags)
            and (not self.med_type or s.med_type in self.med_type)
        )


class HasMatch(Protocol):
    @property
    def match(self) -> Match: ...


R = TypeVar("R", bound=HasMatch)


def first_fit(rows: Sequence[R], subject: Subject) -> R | None:
    """The row that applies: the first whose Match fits."""
    return next((row for row in rows if row.match.fits(subject)), None)


@frozen
class Segment:
    """A band [lower, upper) of an amount paid at ``ratio``; upper None is open-ended."""

    lower: Decimal
    ratio: Decimal
    upper: Decimal | None = None

    def __post_init__(self) -> None:
        check_share("ratio", self.ratio)
        check_amount("lower", self.lower)
        if self.upper is not None and self.upper <= self.lower:
            raise PolicyError("upper", f"{self.upper} 不大于下限 {self.lower}")


@frozen
class DeductibleRow:
    amount: Decimal
    match: Match = Match()
    repeat_days: int | None = None
    """Charged again for every further N days of one continuous stay (Guangzhou: 90, TB hospitals 180)."""

    def __post_init__(self) -> None:
        check_amount("amount", self.amount)
        if self.repeat_days is not None and self.repeat_days < 1:
            raise PolicyError("repeat_days", "至少为1天")


@frozen
class Deductible:
    """起付线. ``period`` says what one deductible covers: a visit, an admission or a year."""

    period: Literal["visit", "admission", "year"]
    rows: tuple[DeductibleRow, ...]
    admission_fractions: tuple[Decimal, ...] = (ONE,)
    """Share of the deductible for the 1st, 2nd, 3rd ... admission of the year; the last one repeats."""
    annual_cap: Decimal | None = None
    """The most a person pays in deductibles for this benefit in a year (e.g. Hunan residents: 2,300)."""

    def __post_init__(self) -> None:
        if not self.admission_fractions:
            raise PolicyError("admission_fractions", "不能为空")
        for share in self.admission_fractions:
            check_share("admission_fractions", share)
        if self.annual_cap is not None:
            check_amount("annual_cap", self.annual_cap)


@frozen
class RatioRow:
    """支付比例: a fixed ratio, an age-linked one (ratio + per_year_of_age × age), or spend bands."""

    ratio: Decimal = ZERO
    match: Match = Match()
    per_year_of_age: Decimal = ZERO
    bands: tuple[Segment, ...] = ()
    """When set, the ratio is taken band by band over the amount above the deductible."""

    def __post_init__(self) -> None:
        check_share("ratio", self.ratio)
        check_segments("bands", self.bands)


@frozen
class Adjustment:
    """A change of the ratio in points for a visit flag (e.g. −0.15 without referral)."""

    flag: str
    points: Decimal

    def __post_init__(self) -> None:
        if not -ONE <= self.points <= ONE:
            raise PolicyError("points", f"{self.points} 应在 -1 与 1 之间")


@frozen
class FirstSelfpay:
    """先自付: the patient first pays ``share`` of the in-policy amount, then the usual rules (deductible,
    ratio, ceiling) apply to the rest — an alternative to ratio points for cross-region visits
    (e.g. 10% with a filing, 40% without). The first fitting row applies."""

    share: Decimal
    match: Match = Match()

    def __post_init__(self) -> None:
        check_share("share", self.share)


@frozen
class CeilingRow:
    amount: Decimal
    match: Match = Match()

    def __post_init__(self) -> None:
        check_amount("amount", self.amount)


@frozen
class Ceiling:
    """封顶线: the most the pooled fund pays under ``key`` in one ``period``.

    Benefits that share a key share the ceiling (e.g. inpatient and 门诊慢特病 under one annual limit).
    """

    key: str
    rows: tuple[CeilingRow, ...]
    period: Literal["year", "month", "visit"] = "year"


@frozen
class Benefit:
    """The basic pooled-fund rules for a group of med_type codes (inpatient, outpatient pooling ...)."""

    name: str
    med_types: tuple[str, ...]
    pool: str
    """Name of the year-to-date counters of this benefit ("inpatient" → inpatient.dedc)."""
    deductible: Deductible
    ratios: tuple[RatioRow, ...]
    ceiling: Ceiling | None = None
    adjustments: tuple[Adjustment, ...] = ()
    band_basis: Literal["visit", "year"] = "visit"
    """Spend bands over this visit's amount, or over the year's cumulative amount."""
    first_selfpay: tuple[FirstSelfpay, ...] = ()
    """Rows of a share the patient pays first (e.g. by cross-region flag); none fitting: nothing first."""


@frozen
class LayerRow:
    """One schedule of a layer: a yearly threshold, the segments paid above it, a yearly cap."""

    segments: tuple[Segment, ...]
    threshold: Decimal = ZERO
    match: Match = Match()
    basis: Literal["cumulative", "above_threshold"] = "cumulative"
    """Segment bounds measured on the year's cumulative base, or on the part above the threshold."""
    cap: Decimal | None = None

    def __post_init__(self) -> None:
        check_amount("threshold", self.threshold)
        if self.cap is not None:
            check_amount("cap", self.cap)
        if not self.segments:
            raise PolicyError("segments", "不能为空")
        check_segments("segments", self.segments)


LayerField = Literal["hifmi_pay", "hifob_pay", "cvlserv_pay", "maf_pay", "hifes_pay", "oth_pay"]


@frozen
class Layer:
    """A fund paid after the basic pool: 大病保险, 职工大额, 公务员补助, 医疗救助 ...

    ``base`` is what the layer pays on: the in-policy amount the patient still bears after the
    funds before it (deductible + co-pay + above the ceiling), or only the part above the basic ceiling.
    """

    name: str
    key: str
    fund_pay_type: FundPayType
    setl_field: LayerField
    rows: tuple[LayerRow, ...]
    base: Literal["personal_burden", "over_ceiling"] = "personal_burden"
    med_types: tuple[str, ...] = ()


AccountCover = Literal["in_policy", "preselfpay", "overlmt", "fulamt"]


@frozen
class AccountUse:
    """What the personal account (个人账户) may pay when the visit asks it to (acct_used_flag 1)."""

    med_types: tuple[str, ...] = ()
    covers: tuple[AccountCover, ...] = ("in_policy", "preselfpay", "overlmt", "fulamt")


@frozen
class Policy:
    """One version of the benefit policy of a pooling region for one insurance type."""

    admdvs: str
    insutype: Insutype
    name: str
    begndate: date
    fund_pay_type: FundPayType
    """The basic pooled fund: 310100 for employees, 390100 for residents."""
    benefits: tuple[Benefit, ...]
    layers: tuple[Layer, ...] = ()
    account: AccountUse | None = None
    """None: the insurance type has no personal account."""
    enddate: date | None = None
    sources: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.enddate is not None and self.enddate < self.begndate:
            raise PolicyError("enddate", f"{self.enddate} 早于 begndate {self.begndate}")
        seen: set[str] = set()
        for benefit in self.benefits:
            twice = seen.intersection(benefit.med_types)
            if twice:
                raise PolicyError("benefits", f"med_type {sorted(twice)[0]} 出现在多个待遇中")
            seen.update(benefit.med_types)

    def counter_period(self, key: str, day: date) -> str:
        """The period a year-to-date counter adds up over: "2024", or "2024-06" for monthly ceilings."""
        monthly = any(b.ceiling and b.ceiling.key == key and b.ceiling.period == "month" for b in self.benefits)
        return f"{day:%Y-%m}" if monthly else f"{day:%Y}"

    def benefit_for(self, med_type: str) -> Benefit:
        for benefit in self.benefits:
            if med_type in benefit.med_types:
                return benefit
        raise PolicyError("med_type", f"{med_type} 不在 {self.name} 的待遇范围内")

    def in_force_on(self, day: date) -> bool:
        return self.begndate <= day and (self.enddate is None or day <= self.enddate)


def select_policy(policies: Sequence[Policy], admdvs: str | None, insutype: str, day: date) -> Policy:
    """The version in force on ``day`` for the insured region and insurance type (参保地政策).

    ``admdvs`` None accepts any region (a single region's policies).
    """
    candidates = [
        p for p in policies if (admdvs is None or p.admdvs == admdvs) and p.insutype == insutype and p.in_force_on(day)
    ]
    if not candidates:
        where = admdvs or "所给政策中"
        raise PolicyError("insutype", f"{where} 无险种 {insutype} 在 {day.isoformat()} 有效的待遇政策")
    return max(candidates, key=lambda p: p.begndate)
