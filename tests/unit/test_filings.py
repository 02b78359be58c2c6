"""Cross-region flags (yibao.domain.filings), the zone file, and what the insured region's policy
makes of the flags: ratio points (the Guangzhou example files) and the first self-pay share."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from yibao.domain.catalog import EMPTY_CATALOG
from yibao.domain.claim import Amounts, Claim, Person, Visit
from yibao.domain.errors import DomainError
from yibao.domain.filings import (
    FiledBy,
    Filing,
    FilingStatus,
    FilingType,
    Zone,
    area_covers,
    pooling_region,
    temporary_end,
    visit_flags,
)
from yibao.domain.settlement import calculate
from yibao.files import FileError, load_policy, parse_policy
from yibao.files.zones import load_zones

ROOT = Path(__file__).resolve().parents[2]
ZONES = load_zones(ROOT / "examples" / "zones.toml")
QINGPU, WUJIANG, JIASHAN, HUANGPU = "310118", "320509", "330421", "310101"
GUANGZHOU, TIANHE, SHENZHEN = "440100", "440106", "440300"


def flags(
    insuplc: str,
    area: str,
    kind: str = "outpatient",
    first: date = date(2024, 5, 10),
    setl: date | None = None,
    *,
    emergency: bool = False,
    filings: tuple[Filing, ...] = (),
    zones: list[Zone] = ZONES,
) -> tuple[str, ...]:
    return visit_flags(
        insuplc_admdvs=insuplc,
        mdtrtarea_admvs=area,
        kind=kind,
        emergency=emergency,
        first_day=first,
        setl_date=setl or first,
        zones=zones,
        filings=filings,
    )


def filing(
    filing_type: FilingType = FilingType.REFERRAL,
    area: str = "310118",
    begndate: date = date(2024, 5, 1),
    enddate: date | None = date(2024, 10, 31),
    status: FilingStatus = FilingStatus.APPROVED,
) -> Filing:
    return Filing("F1", "P1", "310", filing_type, area, begndate, enddate, status, FiledBy.INSTITUTION,
                  datetime(2024, 5, 1))  # fmt: skip


# ---------------------------------------------------------------- regions and zones


def test_the_pooling_region_is_the_city_or_the_whole_municipality() -> None:
    assert pooling_region(TIANHE) == pooling_region(GUANGZHOU) == "4401"
    assert pooling_region(QINGPU) == pooling_region(HUANGPU) == "31"
    assert flags(GUANGZHOU, TIANHE) == ()
    assert flags(QINGPU, HUANGPU) == ()  # Shanghai's districts are one pool
    assert flags(GUANGZHOU, SHENZHEN) == ("cross_region", "cross_region_unfiled")


def test_an_area_may_be_a_province_a_city_or_a_county() -> None:
    assert area_covers("310000", QINGPU) and area_covers("320500", WUJIANG) and area_covers(WUJIANG, WUJIANG)
    assert not area_covers("320500", "320100") and not area_covers(WUJIANG, "320506")


def test_the_demonstration_zone_frees_outpatient_and_emergency_visits_from_2020_08_24() -> None:
    zone = ("cross_region", "cross_region_zone")
    for a, b in ((QINGPU, WUJIANG), (WUJIANG, JIASHAN), (JIASHAN, QINGPU)):
        assert flags(a, b, first=date(2020, 8, 24)) == zone
        assert flags(a, b, "pharmacy", first=date(2021, 1, 5)) == zone
        assert flags(a, b, first=date(2020, 8, 23)) == ("cross_region", "cross_region_unfiled")
    assert flags(HUANGPU, WUJIANG, first=date(2022, 1, 5)) == ("cross_region", "cross_region_unfiled")  # not in it
    assert flags(QINGPU, "320506", first=date(2022, 1, 5)) == ("cross_region", "cross_region_unfiled")


def test_inpatient_stays_are_free_only_from_the_zones_inpatient_date_and_emergencies_use_theirs() -> None:
    [yrd] = ZONES
    assert yrd.inpatient_from == date(2021, 5, 28)
    before, after = date(2021, 3, 1), date(2021, 6, 1)
    assert flags(QINGPU, JIASHAN, "inpatient", before) == ("cross_region", "cross_region_unfiled")
    assert flags(QINGPU, JIASHAN, "inpatient", after) == ("cross_region", "cross_region_zone")
    # a stay that began before the date and is settled after it: in force on a day of the stay
    assert flags(QINGPU, JIASHAN, "inpatient", before, after) == ("cross_region", "cross_region_zone")
    assert flags(QINGPU, JIASHAN, "inpatient", before, emergency=True) == ("cross_region", "cross_region_zone")
    assert flags(QINGPU, JIASHAN, first=date(2020, 8, 1), emergency=True) == ("cross_region", "cross_region_emergency")
    no_inpatient = [replace(yrd, inpatient_from=None)]
    assert flags(QINGPU, JIASHAN, "inpatient", after, zones=no_inpatient) == ("cross_region", "cross_region_unfiled")
    ended = [replace(yrd, enddate=date(2022, 12, 31))]
    assert flags(QINGPU, JIASHAN, first=date(2023, 1, 1), zones=ended) == ("cross_region", "cross_region_unfiled")
    assert flags(QINGPU, JIASHAN, first=date(2022, 12, 31), zones=ended) == ("cross_region", "cross_region_zone")


def test_a_zone_file_refuses_unknown_keys_and_bad_regions(tmp_path: Path) -> None:
    bad = tmp_path / "zones.toml"
    bad.write_text('[[zone]]\ncode = "z"\nname = "n"\nregions = ["310118", "320509"]\noutpatient_form = 2020-01-01\n')
    with pytest.raises(FileError, match="outpatient_form"):
        load_zones(bad)
    bad.write_text('[[zone]]\ncode = "z"\nname = "n"\nregions = ["3101", "320509"]\n')
    with pytest.raises(FileError, match="regions"):
        load_zones(bad)


# ---------------------------------------------------------------- filings


def test_each_filing_type_gives_its_flag_and_long_term_counts_first() -> None:
    shanghai = "310118"
    for filing_type, flag in (
        (FilingType.LONG_TERM, "cross_region_long_term"),
        (FilingType.REFERRAL, "cross_region_referral"),
        (FilingType.TEMPORARY, "cross_region_temporary"),
    ):
        end = None if filing_type == FilingType.LONG_TERM else date(2024, 10, 31)
        assert flags(GUANGZHOU, shanghai, filings=(filing(filing_type, enddate=end),)) == ("cross_region", flag)
    both = (filing(FilingType.TEMPORARY), filing(FilingType.LONG_TERM, enddate=None), filing(FilingType.REFERRAL))
    assert flags(GUANGZHOU, shanghai, filings=both) == ("cross_region", "cross_region_long_term")
    # a filing for the whole province or city covers its counties, not another city
    assert flags(GUANGZHOU, shanghai, filings=(filing(area="310000"),))[1] == "cross_region_referral"
    assert flags(GUANGZHOU, WUJIANG, filings=(filing(area="320500"),))[1] == "cross_region_referral"
    assert flags(GUANGZHOU, "320100", filings=(filing(area="320500"),))[1] == "cross_region_unfiled"


def test_a_filing_made_after_admission_but_before_the_settlement_still_applies() -> None:
    admitted, settled = date(2024, 5, 10), date(2024, 5, 20)
    late = (filing(begndate=date(2024, 5, 15)),)
    assert flags(GUANGZHOU, QINGPU, "inpatient", admitted, settled, filings=late)[1] == "cross_region_referral"
    too_late = (filing(begndate=date(2024, 5, 21)),)
    assert flags(GUANGZHOU, QINGPU, "inpatient", admitted, settled, filings=too_late)[1] == "cross_region_unfiled"


def test_expired_cancelled_refused_and_pending_filings_count_for_nothing() -> None:
    visit = date(2024, 11, 5)
    expired = filing(enddate=date(2024, 10, 31))
    assert flags(GUANGZHOU, QINGPU, first=visit, filings=(expired,))[1] == "cross_region_unfiled"
    for status in (FilingStatus.CANCELLED, FilingStatus.REFUSED, FilingStatus.APPLIED):
        shown = filing(status=status)
        assert flags(GUANGZHOU, QINGPU, filings=(shown,))[1] == "cross_region_unfiled"
        assert flags(GUANGZHOU, QINGPU, filings=(shown,), emergency=True)[1] == "cross_region_emergency"
    with pytest.raises(DomainError, match="kind"):
        flags(GUANGZHOU, QINGPU, "dental")


def test_a_temporary_filing_lasts_at_least_six_months() -> None:
    assert temporary_end(date(2024, 5, 1), None) == date(2024, 10, 31)
    assert temporary_end(date(2024, 8, 31), None) == date(2025, 2, 27)  # 2025-02-28 is six months on
    assert temporary_end(date(2024, 5, 1), date(2024, 6, 1)) == date(2024, 10, 31)
    assert temporary_end(date(2024, 5, 1), date(2025, 5, 1)) == date(2025, 5, 1)


# ---------------------------------------------------------------- what the policy makes of the flags


def employee_claim(*flags: str, medfee: str = "10000") -> Claim:
    return Claim(
        person=Person(psn_no="P1", insutype="310", psn_type="1101", insuplc_admdvs=GUANGZHOU, age=40),
        visit=Visit(med_type="21", hosp_lv=3, setl_date=date(2023, 5, 18), mdtrtarea_admvs=QINGPU, flags=flags),
        amounts=Amounts(medfee_sumamt=Decimal(medfee)),
    )


def test_guangzhou_reduces_the_inpatient_ratio_of_cross_region_stays_as_its_policy_says() -> None:
    """Level-3 hospital, 在职: 80% at home above a deductible of 1,000; 10,000 in-policy."""
    policy = load_policy(ROOT / "examples" / "guangzhou" / "employee-2022-12.toml")
    fund = {}
    for flag in ("", "cross_region_zone", "cross_region_long_term", "cross_region_referral",
                 "cross_region_emergency", "cross_region_temporary", "cross_region_unfiled"):  # fmt: skip
        claim = employee_claim(*(("cross_region", flag) if flag else ()))
        fund[flag] = calculate(claim, policy, EMPTY_CATALOG).setlinfo.hifp_pay
    assert fund == {
        "": 720000,  # 9,000 × 80%
        "cross_region_zone": 720000,
        "cross_region_long_term": 720000,
        "cross_region_referral": 630000,  # × 70%
        "cross_region_emergency": 630000,
        "cross_region_temporary": 540000,  # × 60%
        "cross_region_unfiled": 540000,
    }


FIRST_SELFPAY = """
[policy]
admdvs = "440100"
insutype = "310"
name = "先自付示例"
begndate = 2023-01-01
fund_pay_type = "310100"

[[policy.benefits]]
name = "住院"
med_types = ["21"]
pool = "inpatient"
ratios = [{ ratio = 0.80 }]
deductible = { period = "admission", rows = [{ amount = 1000 }] }
first_selfpay = [
  { share = 0.10, match = { flags = ["cross_region_referral"] } },
  { share = 0.40, match = { flags = ["cross_region_unfiled"] } },
]
"""


def test_a_first_self_pay_share_comes_before_the_deductible_and_the_ratio() -> None:
    policy = parse_policy(FIRST_SELFPAY)

    def paid(*flags: str, medfee: str = "20000") -> tuple[int, int, int, int]:
        i = calculate(employee_claim(*flags, medfee=medfee), policy, EMPTY_CATALOG).setlinfo
        assert i.psn_part_amt == i.act_pay_dedc + i.pool_prop_selfpay  # all in-policy here
        return i.act_pay_dedc, i.hifp_pay, i.pool_prop_selfpay, i.psn_part_amt

    # at home: 20,000 − 1,000 = 19,000 × 80% = 15,200
    assert paid() == (100000, 1520000, 380000, 480000)
    # unfiled: 40% first = 8,000; 12,000 − 1,000 = 11,000 × 80% = 8,800; co-pay 2,200 + 8,000
    assert paid("cross_region", "cross_region_unfiled") == (100000, 880000, 1020000, 1120000)
    # referral: 10% first = 2,000; 18,000 − 1,000 = 17,000 × 80% = 13,600; co-pay 3,400 + 2,000
    assert paid("cross_region", "cross_region_referral") == (100000, 1360000, 540000, 640000)
    # rounding at the named point: 12,345.67 × 10% = 1,234.567 → 1,234.57; 11,111.10 − 1,000 = 10,111.10
    # × 80% = 8,088.88; co-pay 2,022.22 + 1,234.57 = 3,256.79
    assert paid("cross_region", "cross_region_referral", medfee="12345.67") == (100000, 808888, 325679, 425679)
    trace = calculate(employee_claim("cross_region_unfiled"), policy, EMPTY_CATALOG).setldetail[0].setl_proc_info
    assert trace.startswith("先自付 0.40：4000.00；起付线 1000.00")


def test_a_first_self_pay_share_must_be_a_share() -> None:
    with pytest.raises(FileError, match=r"benefits\.0\.first_selfpay\.1: .*share: 1\.40"):
        parse_policy(FIRST_SELFPAY.replace("share = 0.40", "share = 1.40"))
    with pytest.raises(FileError, match="shar"):
        parse_policy(FIRST_SELFPAY.replace("share = 0.40", "shar = 0.40"))
