"""Cross-region care (异地就医): filings (备案), filing-free zones and the flags a visit carries.

A visit outside the person's pooling region is settled with the insured region's policy (参保地政策),
whose ``adjustments`` and ``first_selfpay`` rows name these flags to say what the visit gets:

- ``cross_region`` on every cross-region visit, plus exactly one of
- ``cross_region_zone``: both regions lie in one filing-free zone in force for the kind of visit;
- ``cross_region_long_term``, ``cross_region_referral``, ``cross_region_temporary``: an approved
  filing of that type covers the visit;
- ``cross_region_emergency``: an emergency without a filing (急诊抢救视同备案);
- ``cross_region_unfiled``: none of these.

Pure rules: the caller hands in the zones and the person's filings and the dates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal

from yibao.domain.errors import DomainError
from yibao.domain.frozen import frozen

Kind = Literal["outpatient", "inpatient", "pharmacy"]
KINDS: tuple[str, ...] = ("outpatient", "inpatient", "pharmacy")

CROSS_REGION = "cross_region"
ZONE = "cross_region_zone"
LONG_TERM = "cross_region_long_term"
REFERRAL = "cross_region_referral"
TEMPORARY = "cross_region_temporary"
EMERGENCY = "cross_region_emergency"
EMERGENCY_MED_TYPES = frozenset({"13", "24"})
"""急诊, 急诊转住院: emergency care counts as filed (急诊抢救视同备案)."""
UNFILED = "cross_region_unfiled"
FLAGS: tuple[str, ...] = (CROSS_REGION, ZONE, LONG_TERM, REFERRAL, TEMPORARY, EMERGENCY, UNFILED)
"""Every flag ``visit_flags`` can give, for policy files to name."""

MUNICIPALITIES = frozenset({"11", "12", "31", "50"})
"""北京, 天津, 上海, 重庆: pooled at the level of the whole municipality (its districts are one pool)."""

TEMPORARY_MONTHS = 6
"""A temporary filing (referral or other temporary stay) is valid at least six months (医保发〔2022〕22号)."""


class FilingType(StrEnum):
    LONG_TERM = "long_term"
    """异地长期居住: retirees resettled, long-term residents, staff posted elsewhere; no end date."""
    REFERRAL = "referral"
    """转诊转院 (2501 by the referring institution, or the person with the bureau's approval)."""
    TEMPORARY = "temporary"
    """临时外出就医: valid at least six months."""

    @property
    def label(self) -> str:
        return TYPE_LABELS[self]


TYPE_LABELS: dict[str, str] = {
    FilingType.LONG_TERM: "异地长期居住",
    FilingType.REFERRAL: "转诊转院",
    FilingType.TEMPORARY: "临时外出就医",
}

TYPE_FLAGS: dict[str, str] = {FilingType.LONG_TERM: LONG_TERM, FilingType.REFERRAL: REFERRAL,
                              FilingType.TEMPORARY: TEMPORARY}  # fmt: skip
PRECEDENCE = (FilingType.LONG_TERM, FilingType.REFERRAL, FilingType.TEMPORARY)
"""When several approved filings cover a visit, the first type here is the one that counts."""


class FilingStatus(StrEnum):
    APPLIED = "applied"
    APPROVED = "approved"
    REFUSED = "refused"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS: dict[str, str] = {
    FilingStatus.APPLIED: "待审核",
    FilingStatus.APPROVED: "已备案",
    FilingStatus.REFUSED: "未通过",
    FilingStatus.CANCELLED: "已撤销",
}


class FiledBy(StrEnum):
    INSTITUTION = "institution"
    """By the referring institution (2501): approved at once."""
    PORTAL = "portal"
    """By the insured person online: waits for the bureau."""
    BUREAU = "bureau"
    """At the bureau's counter."""


def pooling_region(admdvs: str) -> str:
    """The pooling region (统筹区) of an admdvs, as a prefix: the prefecture (4 digits), or the whole
    municipality (2 digits) for Beijing, Tianjin, Shanghai and Chongqing."""
    return admdvs[:2] if admdvs[:2] in MUNICIPALITIES else admdvs[:4]


def same_pool(a: str, b: str) -> bool:
    return pooling_region(a) == pooling_region(b)


def area_covers(area: str, admdvs: str) -> bool:
    """Does the area of a filing or a zone (6 digits) take in ``admdvs``? ``xx0000`` is a whole
    province, ``xxxx00`` a whole prefecture (or a municipality's 市辖区), anything else one county."""
    if area.endswith("0000"):
        return admdvs[:2] == area[:2]
    if area.endswith("00"):
        return admdvs[:4] == area[:4]
    return admdvs == area


def check_admdvs(field: str, admdvs: str) -> str:
    if len(admdvs) != 6 or not admdvs.isdigit():
        raise DomainError(field, f"{admdvs or '(空)'} 不是6位行政区划代码")
    return admdvs


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has no such day."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for d in range(day.day, 27, -1):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    return date(year, month, min(day.day, 28))


def temporary_end(begndate: date, enddate: date | None) -> date:
    """The end of a temporary filing: at least six months from its start (inclusive)."""
    shortest = add_months(begndate, TEMPORARY_MONTHS) - timedelta(days=1)
    return shortest if enddate is None or enddate < shortest else enddate


@frozen
class Zone:
    """A filing-free zone (免备案区域): a group of regions within which no filing is needed.

    Each kind of visit has its own start: ``outpatient_from`` (outpatient and pharmacy),
    ``emergency_from`` (any emergency), ``inpatient_from`` (None: stays still need a filing).
    """

    code: str
    name: str
    regions: tuple[str, ...]
    outpatient_from: date | None = None
    emergency_from: date | None = None
    inpatient_from: date | None = None
    enddate: date | None = None
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.code:
            raise DomainError("code", "不能为空")
        if len(self.regions) < 2:
            raise DomainError("regions", "免备案区域至少包括两个地区")
        for admdvs in self.regions:
            check_admdvs("regions", admdvs)
        starts = [d for d in (self.outpatient_from, self.emergency_from, self.inpatient_from) if d is not None]
        if self.enddate is not None and any(self.enddate < d for d in starts):
            raise DomainError("enddate", f"{self.enddate} 早于开始日期")

    def start_for(self, kind: str, emergency: bool) -> date | None:
        if emergency:
            return self.emergency_from
        return self.inpatient_from if kind == "inpatient" else self.outpatient_from

    def in_force(self, kind: str, emergency: bool, first_day: date, last_day: date | None = None) -> bool:
        """Free of filing for this kind of visit on some day from ``first_day`` to ``last_day``."""
        start = self.start_for(kind, emergency)
        last = first_day if last_day is None else last_day
        return start is not None and start <= last and (self.enddate is None or first_day <= self.enddate)

    def takes_in(self, admdvs: str) -> bool:
        return any(area_covers(area, admdvs) for area in self.regions)


@frozen
class Filing:
    """One filing (备案) of an insured person for care in another region, kept by the insured region."""

    filing_id: str
    """trt_dcla_detl_sn, the number 2501 answers and 2502 names."""
    psn_no: str
    insutype: str
    filing_type: FilingType
    mdtrtarea_admdvs: str
    """Where the person will be treated (6 digits; xx0000 a province, xxxx00 a city)."""
    begndate: date
    enddate: date | None
    """None: open-ended (long-term residence)."""
    status: FilingStatus
    filed_by: FiledBy
    created_at: datetime
    """UTC."""
    fixmedins_code: str = ""
    """The institution that filed it (2501), if one did."""
    reflin_medins_no: str = ""
    """Referral: the institution referred to (转入医疗机构)."""
    reflin_medins_name: str = ""
    refl_type: str = ""
    diag_code: str = ""
    diag_name: str = ""
    reason: str = ""
    """refl_rea, or what the person wrote."""
    decided_at: datetime | None = None
    decided_by: str = ""
    memo: str = ""

    def covers(self, admdvs: str, first_day: date, last_day: date) -> bool:
        """Approved, for ``admdvs``, and in force on some day of the visit ``first_day``..``last_day``.

        A filing made after admission but before the discharge settlement begins within the stay and
        so still covers it (入院后出院结算前补备案可直接结算)."""
        return (
            self.status == FilingStatus.APPROVED
            and area_covers(self.mdtrtarea_admdvs, admdvs)
            and self.begndate <= last_day
            and (self.enddate is None or first_day <= self.enddate)
        )


def visit_flags(
    *,
    insuplc_admdvs: str,
    mdtrtarea_admvs: str,
    kind: str,
    emergency: bool,
    first_day: date,
    setl_date: date,
    zones: Iterable[Zone],
    filings: Sequence[Filing],
) -> tuple[str, ...]:
    """The cross-region flags of one visit (see the module's docstring): () inside the pooling region.

    A zone counts when it is free of filing for the visit's kind (an emergency: the zone's emergency
    start) on some day from ``first_day`` (the visit's first local day) to ``setl_date``; a filing
    when it is approved now and in force on some day of that stretch. ``filings`` are the person's, of
    the insurance type being settled.
    """
    if kind not in KINDS:
        raise DomainError("kind", f"{kind} 不是 outpatient、inpatient 或 pharmacy")
    if same_pool(insuplc_admdvs, mdtrtarea_admvs):
        return ()
    last_day = max(first_day, setl_date)
    for zone in zones:
        if (
            zone.in_force(kind, emergency, first_day, last_day)
            and zone.takes_in(insuplc_admdvs)
            and zone.takes_in(mdtrtarea_admvs)
        ):
            return (CROSS_REGION, ZONE)
    covering = {f.filing_type for f in filings if f.covers(mdtrtarea_admvs, first_day, last_day)}
    for filing_type in PRECEDENCE:
        if filing_type in covering:
            return (CROSS_REGION, TYPE_FLAGS[filing_type])
    return (CROSS_REGION, EMERGENCY if emergency else UNFILED)
