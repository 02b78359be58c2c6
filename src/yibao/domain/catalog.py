"""The medical insurance catalogue (医保目录): drugs, services and consumables.

A catalogue belongs to a place of treatment (就医地目录): the same code can have a different
先行自付 share or price cap from one region to another, which the national interface publishes
as 1318 (限价信息) and 1319 (先自付比例信息). An item carries its national default and the
regional values keyed by admdvs prefix ("44" for a province, "440100" for a city); the longest
matching prefix wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import field
from datetime import date
from decimal import Decimal
from typing import TypeVar

from yibao.domain.codes import ChrgitmLv, ListType
from yibao.domain.frozen import frozen

T = TypeVar("T")


@frozen
class Restrictions:
    """限定支付范围: a line outside these limits is paid fully by the patient (全自费)."""

    sex: str | None = None
    """gend code the item is limited to ("1" male, "2" female)."""
    age_min: int | None = None
    age_max: int | None = None
    max_cnt_per_visit: Decimal | None = None
    """Quantity above this per visit is 全自费; the quantity within it is paid as usual."""
    min_hosp_lv: int | None = None
    """Lowest hospital level (1-3) at which the item is covered."""
    med_types: tuple[str, ...] = ()
    """Only covered for these med_type codes (e.g. inpatient only); empty means all."""
    indication: str = ""
    """限定支付 text (e.g. "限工伤保险"); carried for the reviewer, checked by supervision rules."""
    # What only the supervision rules read (docs/supervision.md); classification ignores them.
    dx_prefixes: tuple[str, ...] = ()
    """限适应症: ICD-10 prefixes of the diagnoses the item is covered for; empty means any."""
    max_cnt_per_day: Decimal | None = None
    """限定频次: the most of the item a visit may bill on one day."""
    max_days: int | None = None
    """限支付疗程: the most days of supply one drug line may carry."""
    insutypes: tuple[str, ...] = ()
    """限工伤/限生育: the insurance types covering the item ("510" 生育保险, "work_injury" 工伤); empty means all."""


@frozen
class CatalogItem:
    """One item of the catalogue: med_list_codg with its class, share paid up front and price cap."""

    med_list_codg: str
    name: str
    list_type: ListType
    chrgitm_lv: ChrgitmLv
    selfpay_prop: Decimal = Decimal(0)
    """先行自付比例 for 乙类 items: the share the patient pays before the rest enters the policy range."""
    pric_uplmt_amt: Decimal | None = None
    """最高支付限价 per unit, in yuan (unit prices have up to six decimals)."""
    selfpay_prop_by_admdvs: Mapping[str, Decimal] = field(default_factory=dict)
    pric_uplmt_by_admdvs: Mapping[str, Decimal] = field(default_factory=dict)
    restrictions: Restrictions = Restrictions()
    begndate: date | None = None
    enddate: date | None = None

    def selfpay_prop_in(self, admdvs: str) -> Decimal:
        return _regional(self.selfpay_prop_by_admdvs, admdvs, self.selfpay_prop)

    def price_cap_in(self, admdvs: str) -> Decimal | None:
        return _regional(self.pric_uplmt_by_admdvs, admdvs, self.pric_uplmt_amt)

    def valid_on(self, day: date) -> bool:
        return (self.begndate is None or self.begndate <= day) and (self.enddate is None or day <= self.enddate)


def _regional(by_admdvs: Mapping[str, T], admdvs: str, default: T) -> T:
    best = ""
    for prefix in by_admdvs:
        if admdvs.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return by_admdvs[best] if best else default


@frozen
class Catalog:
    """The catalogue of one place of treatment (就医地目录), one version."""

    admdvs: str
    version: str
    items: Mapping[str, CatalogItem]

    @classmethod
    def of(cls, admdvs: str, version: str, items: Iterable[CatalogItem]) -> Catalog:
        return cls(admdvs, version, {item.med_list_codg: item for item in items})

    def get(self, med_list_codg: str) -> CatalogItem | None:
        return self.items.get(med_list_codg)


EMPTY_CATALOG = Catalog("", "", {})
"""For claims whose amounts arrive already classified: no line needs looking up."""
