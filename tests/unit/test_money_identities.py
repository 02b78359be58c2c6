"""Identities that hold for every claim under every policy, checked over random ones (hypothesis)."""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import get_args

from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.domain.catalog import Catalog, CatalogItem, Restrictions
from yibao.domain.claim import Amounts, Claim, FeeLine, Person, Visit
from yibao.domain.codes import ChrgitmLv, FundPayType, Insutype, ListType
from yibao.domain.policy import (
    AccountCover,
    AccountUse,
    Adjustment,
    Benefit,
    Ceiling,
    CeilingRow,
    Deductible,
    DeductibleRow,
    Layer,
    LayerField,
    LayerRow,
    Match,
    Policy,
    RatioRow,
    Segment,
)
from yibao.domain.settlement import SetlInfo, Settlement, calculate

yuan = st.integers(min_value=0, max_value=200_000).map(Decimal)
cents = st.integers(min_value=0, max_value=5_000_000).map(lambda f: Decimal(f) / 100)
small = st.integers(min_value=0, max_value=20_000).map(Decimal)
ratio = st.integers(min_value=0, max_value=1000).map(lambda r: Decimal(r) / 1000)
levels = st.sampled_from([(), (1,), (2,), (3,), (2, 3)])


@st.composite
def segments(draw: st.DrawFn) -> tuple[Segment, ...]:
    bounds = sorted(set(draw(st.lists(st.integers(0, 50_000), min_size=1, max_size=4))))
    segs = [Segment(Decimal(lo), draw(ratio), Decimal(hi)) for lo, hi in pairwise(bounds)]
    return (*segs, Segment(Decimal(bounds[-1]), draw(ratio)))


@st.composite
def layers(draw: st.DrawFn) -> Layer:
    field_name = draw(st.sampled_from(get_args(LayerField)))
    row = LayerRow(
        segments=draw(segments()),
        threshold=draw(small),
        basis=draw(st.sampled_from(["cumulative", "above_threshold"])),
        cap=draw(st.none() | small),
        match=Match(idet_type=draw(st.sampled_from([(), ("2301",)]))),
    )
    return Layer(
        name=field_name,
        key=draw(st.sampled_from(["l1", "l2", "l3"])),
        fund_pay_type=FundPayType.OTHER,
        setl_field=field_name,
        rows=(row,),
        base=draw(st.sampled_from(["personal_burden", "over_ceiling"])),
    )


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    ratios = [
        RatioRow(ratio=draw(ratio), match=Match(hosp_lv=draw(levels))),
        RatioRow(ratio=draw(ratio), per_year_of_age=draw(st.sampled_from([Decimal(0), Decimal("0.002")]))),
    ]
    if draw(st.booleans()):
        ratios.insert(0, RatioRow(bands=draw(segments()), match=Match(flags=("banded",))))
    deductible = Deductible(
        period=draw(st.sampled_from(["visit", "admission", "year"])),
        rows=(
            DeductibleRow(draw(yuan), Match(hosp_lv=draw(levels)), draw(st.none() | st.integers(1, 120))),
            DeductibleRow(draw(yuan)),
        ),
        admission_fractions=tuple(draw(st.lists(ratio, min_size=1, max_size=3))),
        annual_cap=draw(st.none() | yuan),
    )
    ceiling = Ceiling(
        key="basic",
        rows=(CeilingRow(draw(small), Match(contrib_months_min=12)), CeilingRow(draw(small))),
        period=draw(st.sampled_from(["year", "month", "visit"])),
    )
    benefit = Benefit(
        name="住院",
        med_types=("21",),
        pool="inpatient",
        deductible=deductible,
        ratios=tuple(ratios),
        ceiling=draw(st.none() | st.just(ceiling)),
        adjustments=(Adjustment("no_referral", -draw(ratio)), Adjustment("bonus", draw(ratio))),
        band_basis=draw(st.sampled_from(["visit", "year"])),
    )
    covers = draw(st.lists(st.sampled_from(get_args(AccountCover)), unique=True))
    return Policy(
        admdvs="440100",
        insutype=Insutype.EMPLOYEE_BASIC,
        name="random",
        begndate=date(2020, 1, 1),
        fund_pay_type=FundPayType.EMPLOYEE_POOL,
        benefits=(benefit,),
        layers=tuple(draw(st.lists(layers(), max_size=3))),
        account=draw(st.none() | st.just(AccountUse(covers=tuple(covers)))),
    )


@st.composite
def catalog_items(draw: st.DrawFn, code: str) -> CatalogItem:
    return CatalogItem(
        med_list_codg=code,
        name=code,
        list_type=ListType.DRUG,
        chrgitm_lv=draw(st.sampled_from(list(ChrgitmLv))),
        selfpay_prop=draw(ratio),
        pric_uplmt_amt=draw(st.none() | cents),
        restrictions=Restrictions(
            max_cnt_per_visit=draw(st.none() | st.integers(1, 5).map(Decimal)),
            min_hosp_lv=draw(st.none() | st.integers(1, 3)),
        ),
    )


CODES = [f"X{i}" for i in range(6)]


@st.composite
def fee_lines(draw: st.DrawFn) -> tuple[FeeLine, ...]:
    n = draw(st.integers(1, 8))
    return tuple(
        FeeLine(
            feedetl_sn=str(i),
            med_list_codg=draw(st.sampled_from([*CODES, "UNKNOWN"])),
            cnt=Decimal(draw(st.integers(1, 400))) / 4,
            pric=Decimal(draw(st.integers(0, 10**8))) / 10**4,
        )
        for i in range(n)
    )


@st.composite
def amounts(draw: st.DrawFn) -> Amounts:
    parts = [draw(cents) for _ in range(4)]
    return Amounts(sum(parts, Decimal(0)), parts[0], parts[1], parts[2], parts[3])


@st.composite
def claims(draw: st.DrawFn) -> Claim:
    use_lines = draw(st.booleans())
    keys = [
        "inpatient.dedc",
        "inpatient.eligible",
        "basic",
        "l1.base",
        "l1.paid",
        "l2.base",
        "l2.paid",
        "l3.paid",
    ]
    return Claim(
        person=Person(
            psn_no="P",
            insutype="310",
            psn_type=draw(st.sampled_from(["1101", "1201"])),
            age=draw(st.integers(0, 100)),
            idet_types=draw(st.sampled_from([(), ("2301",)])),
            contrib_months=draw(st.integers(0, 40)),
            acct_balc=draw(cents),
        ),
        visit=Visit(
            med_type="21",
            hosp_lv=draw(st.integers(1, 3)),
            setl_date=date(2024, 3, 1),
            mdtrtarea_admvs="440100",
            admission_seq=draw(st.integers(1, 5)),
            los_days=draw(st.integers(1, 400)),
            stay_dedc_paid=draw(st.sampled_from([Decimal(0), Decimal(500)])),
            flags=tuple(draw(st.lists(st.sampled_from(["no_referral", "bonus", "banded"]), unique=True))),
            acct_used_flag=draw(st.booleans()),
        ),
        feedetail=draw(fee_lines()) if use_lines else (),
        amounts=None if use_lines else draw(amounts()),
        accumulators={k: draw(cents) for k in keys if draw(st.booleans())},
    )


@st.composite
def catalogs(draw: st.DrawFn) -> Catalog:
    return Catalog.of("440100", "t", [draw(catalog_items(code)) for code in CODES])


def check_identities(claim: Claim, policy: Policy, s: Settlement) -> None:
    i = s.setlinfo
    for f in fields(SetlInfo):
        assert getattr(i, f.name) >= 0, f.name
    for line in s.lines:
        parts = line.fulamt_ownpay_amt + line.overlmt_amt + line.preselfpay_amt + line.inscp_scp_amt
        assert line.det_item_fee_sumamt == parts
        assert min(line.fulamt_ownpay_amt, line.overlmt_amt, line.preselfpay_amt, line.inscp_scp_amt) >= 0
    assert i.medfee_sumamt == i.fulamt_ownpay_amt + i.overlmt_selfpay + i.preselfpay_amt + i.inscp_scp_amt
    layer_sum = i.hifmi_pay + i.hifob_pay + i.cvlserv_pay + i.maf_pay + i.oth_pay + i.hifes_pay
    assert i.fund_pay_sumamt == i.hifp_pay + layer_sum
    assert i.medfee_sumamt == i.fund_pay_sumamt + i.acct_pay + i.psn_cash_pay
    assert i.psn_part_amt == i.acct_pay + i.psn_cash_pay
    assert i.fund_pay_sumamt <= i.inscp_scp_amt  # funds only ever pay inside the policy range
    assert i.act_pay_dedc + i.hifp_pay + i.pool_prop_selfpay <= i.inscp_scp_amt
    balance = round(claim.person.acct_balc * 100)
    assert i.acct_pay <= balance
    assert i.balc == balance - i.acct_pay
    for row in s.setldetail:
        if row.crt_payb_lmt_amt is not None:
            assert row.fund_payamt <= row.crt_payb_lmt_amt  # no fund pays beyond what it has left
    before = {k: round(v * 100) for k, v in claim.accumulators.items()}
    for key, value in before.items():
        assert s.accumulators.get(key, 0) >= value, key


@settings(max_examples=400, deadline=None)
@given(policies(), claims(), catalogs())
def test_money_is_never_created_or_destroyed(policy: Policy, claim: Claim, catalog: Catalog) -> None:
    check_identities(claim, policy, calculate(claim, policy, catalog))


@settings(max_examples=100, deadline=None)
@given(policies(), claims(), catalogs())
def test_settling_is_deterministic(policy: Policy, claim: Claim, catalog: Catalog) -> None:
    assert calculate(claim, policy, catalog) == calculate(claim, policy, catalog)
