"""The settlement calculator (结算): who pays what of one bill.

``calculate(claim, policy, catalog)`` is a pure function. In order it:

1. classifies each fee line (see classification.py) into 全自费, 超限价, 先行自付 and 政策范围内;
2. takes the share the patient pays first (先自付, e.g. for cross-region visits), if the policy has one,
   and charges the deductible (起付线) on the rest of the in-policy amount;
3. pays the pooled fund (统筹基金) its ratio of the rest, within the remaining ceiling (封顶线);
4. lets each further layer (大病保险/职工大额, 公务员补助, 医疗救助) pay on what the patient still bears;
5. pays what the personal account (个人账户) may, and leaves the rest as cash.

It returns a result shaped like the national 2206/2207 output with the year-to-date totals after
the settlement and a trace that says which rule produced each amount. Identities that always hold:
medfee_sumamt = fund_pay_sumamt + acct_pay + psn_cash_pay, and per line and in total
medfee_sumamt = fulamt_ownpay_amt + overlmt_selfpay + preselfpay_amt + inscp_scp_amt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import field, fields
from decimal import Decimal

from yibao.domain.catalog import Catalog
from yibao.domain.claim import Claim
from yibao.domain.classification import LineContext, LineResult, classify_line
from yibao.domain.codes import FundPayType
from yibao.domain.errors import ClaimError, PolicyError
from yibao.domain.frozen import frozen
from yibao.domain.money import Fen, apply_ratio, fen_to_yuan, round_fen, yuan_to_fen
from yibao.domain.policy import ONE, ZERO, Benefit, Layer, LayerRow, Policy, Segment, first_fit


@frozen
class Facts:
    """The facts policy rows match on (see policy.Match)."""

    hosp_lv: int
    psn_type: str
    age: int
    contrib_months: int
    specialty: str
    idet_types: tuple[str, ...]
    flags: tuple[str, ...]
    med_type: str


@frozen
class SetlInfo:
    """2207 setlinfo amounts, in fen."""

    medfee_sumamt: Fen = 0
    fulamt_ownpay_amt: Fen = 0
    overlmt_selfpay: Fen = 0
    preselfpay_amt: Fen = 0
    inscp_scp_amt: Fen = 0
    act_pay_dedc: Fen = 0
    hifp_pay: Fen = 0
    pool_prop_selfpay: Fen = 0
    cvlserv_pay: Fen = 0
    hifes_pay: Fen = 0
    hifmi_pay: Fen = 0
    hifob_pay: Fen = 0
    maf_pay: Fen = 0
    oth_pay: Fen = 0
    fund_pay_sumamt: Fen = 0
    psn_part_amt: Fen = 0
    acct_pay: Fen = 0
    psn_cash_pay: Fen = 0
    hosp_part_amt: Fen = 0
    balc: Fen = 0
    acct_mulaid_pay: Fen = 0


@frozen
class FundRow:
    """One 2207 setldetail row: what one fund paid and on what."""

    fund_pay_type: FundPayType
    inscp_scp_amt: Fen
    crt_payb_lmt_amt: Fen | None
    """The fund's remaining limit before this settlement (ceiling, cap or account balance)."""
    fund_payamt: Fen
    setl_proc_info: str


@frozen
class Settlement:
    setlinfo: SetlInfo
    setldetail: tuple[FundRow, ...]
    lines: tuple[LineResult, ...]
    accumulators: Mapping[str, Fen]
    """Year-to-date totals after this settlement, by name, in fen."""
    trace: tuple[str, ...]
    policy_name: str
    segments: Mapping[str, tuple[Fen, ...]] = field(default_factory=dict)
    """Per layer, the amount paid in each of its segments (for explaining 分段累计)."""

    def output(self) -> dict[str, object]:
        """The national output: setlinfo, setldetail and per-line results, amounts in yuan."""
        return {"setlinfo": self.setlinfo_output(), "setldetail": self.setldetail_output(),
                "result": [line_output(line) for line in self.lines]}  # fmt: skip

    def setlinfo_output(self) -> dict[str, object]:
        return {name: fen_to_yuan(getattr(self.setlinfo, name)) for name in SETLINFO_FIELDS}

    def setldetail_output(self) -> list[dict[str, object]]:
        return [
            {
                "fund_pay_type": row.fund_pay_type.value,
                "fund_pay_type_name": row.fund_pay_type.label,
                "inscp_scp_amt": fen_to_yuan(row.inscp_scp_amt),
                "crt_payb_lmt_amt": None if row.crt_payb_lmt_amt is None else fen_to_yuan(row.crt_payb_lmt_amt),
                "fund_payamt": fen_to_yuan(row.fund_payamt),
                "setl_proc_info": row.setl_proc_info,
            }
            for row in self.setldetail
        ]


SETLINFO_FIELDS = tuple(f.name for f in fields(SetlInfo))


def line_output(line: LineResult) -> dict[str, object]:
    return {
        "feedetl_sn": line.feedetl_sn,
        "med_list_codg": line.med_list_codg,
        "det_item_fee_sumamt": fen_to_yuan(line.det_item_fee_sumamt),
        "cnt": line.cnt,
        "pric": line.pric,
        "pric_uplmt_amt": line.pric_uplmt_amt,
        "selfpay_prop": line.selfpay_prop,
        "fulamt_ownpay_amt": fen_to_yuan(line.fulamt_ownpay_amt),
        "overlmt_amt": fen_to_yuan(line.overlmt_amt),
        "preselfpay_amt": fen_to_yuan(line.preselfpay_amt),
        "inscp_scp_amt": fen_to_yuan(line.inscp_scp_amt),
        "chrgitm_lv": line.chrgitm_lv,
        "memo": line.memo,
    }


@frozen
class Classified:
    medfee: Fen
    fulamt: Fen
    overlmt: Fen
    preselfpay: Fen
    inscp: Fen
    lines: tuple[LineResult, ...] = ()


def paid_in_segments(start: Fen, end: Fen, segments: Sequence[Segment], shift: Decimal = ZERO) -> list[Fen]:
    """What each segment pays on the stretch [start, end) of a cumulative amount (分段累计).

    A segment [lower, upper) pays its ratio (plus ``shift`` points, within 0..1) on the part of the
    stretch inside it; each segment's share is rounded to the fen.
    """
    paid = []
    for seg in segments:
        lower = yuan_to_fen(seg.lower)
        upper = end if seg.upper is None else yuan_to_fen(seg.upper)
        inside = max(0, min(end, upper) - max(start, lower))
        paid.append(apply_ratio(inside, clamp(seg.ratio + shift)))
    return paid


def clamp(ratio: Decimal) -> Decimal:
    return min(ONE, max(ZERO, ratio))


def classify(claim: Claim, catalog: Catalog, facts: Facts) -> Classified:
    if claim.feedetail and claim.amounts is not None:
        raise ClaimError("feedetail", "费用明细与已分类金额 amounts 只能给其一")
    if claim.amounts is not None:
        return classified_amounts(claim)
    if not claim.feedetail:
        raise ClaimError("feedetail", "没有费用明细")
    ctx = LineContext(
        admdvs=claim.visit.mdtrtarea_admvs or catalog.admdvs,
        day=claim.visit.setl_date,
        gend=claim.person.gend,
        age=facts.age,
        hosp_lv=facts.hosp_lv,
        med_type=facts.med_type,
    )
    seen: set[str] = set()
    lines = []
    for i, line in enumerate(claim.feedetail):
        if line.feedetl_sn in seen:
            raise ClaimError(f"feedetail[{i}].feedetl_sn", f"{line.feedetl_sn} 重复")
        seen.add(line.feedetl_sn)
        lines.append(classify_line(line, catalog.get(line.med_list_codg), ctx, f"feedetail[{i}]"))
    return Classified(
        medfee=sum(r.det_item_fee_sumamt for r in lines),
        fulamt=sum(r.fulamt_ownpay_amt for r in lines),
        overlmt=sum(r.overlmt_amt for r in lines),
        preselfpay=sum(r.preselfpay_amt for r in lines),
        inscp=sum(r.inscp_scp_amt for r in lines),
        lines=tuple(lines),
    )


def classified_amounts(claim: Claim) -> Classified:
    a = claim.amounts
    assert a is not None
    parts = {
        "fulamt_ownpay_amt": yuan_to_fen(a.fulamt_ownpay_amt),
        "overlmt_selfpay": yuan_to_fen(a.overlmt_selfpay),
        "preselfpay_amt": yuan_to_fen(a.preselfpay_amt),
    }
    if a.inscp_scp_amt is not None:
        parts["inscp_scp_amt"] = yuan_to_fen(a.inscp_scp_amt)
    for name, value in parts.items():
        if value < 0:
            raise ClaimError(f"amounts.{name}", "金额不能为负")
    if a.medfee_sumamt is None:
        if "inscp_scp_amt" not in parts:
            raise ClaimError("amounts.medfee_sumamt", "需要医疗费总额 medfee_sumamt 或政策范围内金额 inscp_scp_amt")
        medfee = sum(parts.values())
    else:
        medfee = yuan_to_fen(a.medfee_sumamt)
        rest = medfee - sum(v for k, v in parts.items() if k != "inscp_scp_amt")
        inscp = parts.setdefault("inscp_scp_amt", rest)
        if rest < 0:
            raise ClaimError("amounts.medfee_sumamt", "小于各自付部分之和")
        if inscp != rest:
            raise ClaimError(
                "amounts.medfee_sumamt",
                "≠ fulamt_ownpay_amt + overlmt_selfpay + preselfpay_amt + inscp_scp_amt",
            )
    return Classified(
        medfee,
        parts["fulamt_ownpay_amt"],
        parts["overlmt_selfpay"],
        parts["preselfpay_amt"],
        parts["inscp_scp_amt"],
    )


class Counters:
    """Year-to-date totals in fen, read before and written after this settlement."""

    def __init__(self, start: Mapping[str, Decimal]) -> None:
        self.values: dict[str, Fen] = {}
        for key, value in start.items():
            fen = yuan_to_fen(value)
            if fen < 0:
                raise ClaimError(f"accumulators.{key}", "累计金额不能为负")
            self.values[key] = fen

    def __getitem__(self, key: str) -> Fen:
        return self.values.get(key, 0)

    def add(self, key: str, amount: Fen) -> None:
        self.values[key] = self[key] + amount


def calculate(claim: Claim, policy: Policy, catalog: Catalog) -> Settlement:
    """Settle one claim under ``policy`` (参保地政策) with ``catalog`` (就医地目录)."""
    person, visit = claim.person, claim.visit
    if person.insutype != policy.insutype:
        raise ClaimError("person.insutype", f"{person.insutype} 与政策险种 {policy.insutype.value} 不符")
    if not policy.in_force_on(visit.setl_date):
        raise PolicyError("setl_date", f"{policy.name} 在 {visit.setl_date.isoformat()} 不在有效期内")
    acct_balc = yuan_to_fen(person.acct_balc)
    if acct_balc < 0:
        raise ClaimError("person.acct_balc", "个人账户余额不能为负")
    facts = Facts(
        hosp_lv=visit.hosp_lv,
        psn_type=person.psn_type,
        age=person.age_on(visit.setl_date),
        contrib_months=person.contrib_months,
        specialty=visit.specialty,
        idet_types=person.idet_types,
        flags=visit.flags + (("cvlserv",) if person.cvlserv_flag else ()),
        med_type=visit.med_type,
    )
    benefit = policy.benefit_for(visit.med_type)
    c = classify(claim, catalog, facts)
    acc = Counters(claim.accumulators)
    trace = [f"政策 {policy.name}（{policy.admdvs} {policy.insutype.label}）；待遇 {benefit.name}"]

    basic = basic_fund(benefit, claim, c.inscp, acc, facts, trace)
    details = [FundRow(policy.fund_pay_type, c.inscp, basic.ceiling_left, basic.hifp, trace[-1])]
    layer_pay, burden, segments = pay_layers(policy, basic, acc, facts, details, trace)
    fund_sum = basic.hifp + sum(layer_pay.values())
    psn_part = c.medfee - fund_sum

    acct_pay = 0
    account = policy.account
    if account and visit.acct_used_flag and (not account.med_types or visit.med_type in account.med_types):
        parts = {"in_policy": burden, "preselfpay": c.preselfpay, "overlmt": c.overlmt, "fulamt": c.fulamt}
        payable = sum(parts[p] for p in account.covers)
        acct_pay = min(acct_balc, payable, psn_part)
        trace.append(
            f"个人账户支付 {fen_to_yuan(acct_pay)}（可支付 {fen_to_yuan(payable)}，余额 {fen_to_yuan(acct_balc)}）"
        )
        if acct_pay:
            details.append(FundRow(FundPayType.EMPLOYEE_ACCOUNT, payable, acct_balc, acct_pay, trace[-1]))
    trace.append(f"统筹及各层基金合计 {fen_to_yuan(fund_sum)}；个人负担 {fen_to_yuan(psn_part)}")

    info = SetlInfo(
        medfee_sumamt=c.medfee,
        fulamt_ownpay_amt=c.fulamt,
        overlmt_selfpay=c.overlmt,
        preselfpay_amt=c.preselfpay,
        inscp_scp_amt=c.inscp,
        act_pay_dedc=basic.dedc,
        hifp_pay=basic.hifp,
        pool_prop_selfpay=basic.copay,
        fund_pay_sumamt=fund_sum,
        psn_part_amt=psn_part,
        acct_pay=acct_pay,
        psn_cash_pay=psn_part - acct_pay,
        balc=acct_balc - acct_pay,
        **layer_pay,
    )
    return Settlement(info, tuple(details), c.lines, dict(acc.values), tuple(trace), policy.name, segments)


@frozen
class BasicShare:
    """How the in-policy amount splits under the basic pooled fund."""

    dedc: Fen
    hifp: Fen
    copay: Fen
    """pool_prop_selfpay: the patient's share of the eligible amount the fund covered, plus any 先自付."""
    over_ceiling: Fen
    ceiling_left: Fen | None


def basic_fund(benefit: Benefit, claim: Claim, inscp: Fen, acc: Counters, facts: Facts, trace: list[str]) -> BasicShare:
    """Deductible, ratio and ceiling of the basic pooled fund (统筹基金)."""
    visit = claim.visit
    stay_paid = yuan_to_fen(visit.stay_dedc_paid)
    first, first_text = first_selfpay(benefit, inscp, facts)
    rest = inscp - first
    dedc = min(rest, deductible_due(benefit, visit.admission_seq, visit.los_days, stay_paid, acc, facts, trace))
    eligible = rest - dedc
    fund_raw, ratio_text = pooled_share(benefit, eligible, acc, facts)
    left, ceiling_text = remaining_ceiling(benefit, acc, facts)
    hifp = fund_raw if left is None else min(fund_raw, left)
    # Where the ceiling cuts the fund short, the part of the eligible amount it did cover is
    # eligible × hifp / fund_raw; the rest of the eligible amount lies above the ceiling.
    covered = eligible if hifp == fund_raw else round_fen(Decimal(eligible) * hifp / fund_raw)
    trace.append(
        f"{first_text}起付线 {fen_to_yuan(dedc)}；{ratio_text}；{ceiling_text}；统筹基金支付 {fen_to_yuan(hifp)}"
        + (f"，超封顶线 {fen_to_yuan(eligible - covered)}" if covered < eligible else "")
    )
    acc.add(f"{benefit.pool}.dedc", dedc)
    acc.add(f"{benefit.pool}.eligible", eligible)
    if benefit.ceiling is not None and benefit.ceiling.period != "visit":
        acc.add(benefit.ceiling.key, hifp)
    return BasicShare(dedc, hifp, first + covered - hifp, eligible - covered, left)


def first_selfpay(benefit: Benefit, inscp: Fen, facts: Facts) -> tuple[Fen, str]:
    """The share of the in-policy amount the patient pays first (先自付), before the deductible, and
    how it was found; it counts in pool_prop_selfpay, the patient's in-policy co-payment."""
    row = first_fit(benefit.first_selfpay, facts)
    if row is None or not row.share:
        return 0, ""
    first = apply_ratio(inscp, row.share)
    return first, f"先自付 {row.share}：{fen_to_yuan(first)}；"


def pay_layers(
    policy: Policy, basic: BasicShare, acc: Counters, facts: Facts, details: list[FundRow], trace: list[str]
) -> tuple[dict[str, Fen], Fen, dict[str, tuple[Fen, ...]]]:
    """The layers after the basic fund, in policy order: (paid per setlinfo field, burden left, segments)."""
    paid: dict[str, Fen] = {}
    segments: dict[str, tuple[Fen, ...]] = {}
    burden, above = basic.dedc + basic.copay + basic.over_ceiling, basic.over_ceiling
    for layer in policy.layers:
        row = first_fit(layer.rows, facts)
        if row is None or (layer.med_types and facts.med_type not in layer.med_types):
            continue
        base = burden if layer.base == "personal_burden" else above
        pay, cap_left, parts, text = layer_payment(layer, row, base, acc)
        segments[layer.key] = tuple(parts)
        paid[layer.setl_field] = paid.get(layer.setl_field, 0) + pay
        burden -= pay
        above = min(above - pay if layer.base == "over_ceiling" else above, burden)
        trace.append(text)
        details.append(FundRow(layer.fund_pay_type, base, cap_left, pay, text))
    return paid, burden, segments


def deductible_due(
    benefit: Benefit, admission_seq: int, los_days: int, stay_dedc_paid: Fen, acc: Counters, facts: Facts,
    trace: list[str],
) -> Fen:  # fmt: skip
    """The deductible this settlement must charge, before limiting it to the in-policy amount."""
    rule = benefit.deductible
    row = first_fit(rule.rows, facts)
    if row is None:
        trace.append("起付线：无适用标准，不设起付线")
        return 0
    unit = yuan_to_fen(row.amount)
    paid_this_year = acc[f"{benefit.pool}.dedc"]
    if rule.period == "visit":
        due, why = unit, f"每次起付 {row.amount}"
    elif rule.period == "year":
        due, why = (
            max(0, unit - paid_this_year),
            f"年度起付 {row.amount}，本年已付 {fen_to_yuan(paid_this_year)}",
        )
    else:
        if admission_seq < 1:
            raise ClaimError("visit.admission_seq", "住院次序从1开始")
        fraction = rule.admission_fractions[min(admission_seq, len(rule.admission_fractions)) - 1]
        periods = 1 + (max(los_days, 1) - 1) // row.repeat_days if row.repeat_days else 1
        due = max(0, apply_ratio(unit, fraction) * periods - stay_dedc_paid)
        why = f"第{admission_seq}次住院 起付 {row.amount}×{fraction}" + (f"×{periods}段" if periods > 1 else "")
    if rule.annual_cap is not None:
        room = max(0, yuan_to_fen(rule.annual_cap) - paid_this_year)
        if due > room:
            due, why = room, f"{why}；年度起付累计上限 {rule.annual_cap}"
    trace.append(f"起付线：{why}")
    return due


def pooled_share(benefit: Benefit, eligible: Fen, acc: Counters, facts: Facts) -> tuple[Fen, str]:
    """The pooled fund's share of the eligible amount before the ceiling, and how it was found."""
    row = first_fit(benefit.ratios, facts)
    if row is None:
        raise PolicyError(f"benefit[{benefit.name}].ratios", "没有适用于该人员和医院等级的支付比例")
    shift = sum((a.points for a in benefit.adjustments if a.flag in facts.flags), ZERO)
    shift_text = f"，调整 {shift:+}" if shift else ""
    if row.bands:
        start = acc[f"{benefit.pool}.eligible"] if benefit.band_basis == "year" else 0
        paid = paid_in_segments(start, start + eligible, row.bands, shift)
        return sum(paid), f"分段比例{shift_text}"
    ratio = clamp(row.ratio + row.per_year_of_age * facts.age + shift)
    age_text = f"（{row.ratio}+{row.per_year_of_age}×{facts.age}岁）" if row.per_year_of_age else ""
    return apply_ratio(eligible, ratio), f"支付比例 {ratio}{age_text}{shift_text}"


def remaining_ceiling(benefit: Benefit, acc: Counters, facts: Facts) -> tuple[Fen | None, str]:
    ceiling = benefit.ceiling
    row = first_fit(ceiling.rows, facts) if ceiling else None
    if ceiling is None or row is None:
        return None, "不设封顶线"
    used = 0 if ceiling.period == "visit" else acc[ceiling.key]
    left = max(0, yuan_to_fen(row.amount) - used)
    return left, f"封顶线 {row.amount}，剩余 {fen_to_yuan(left)}"


def layer_payment(layer: Layer, row: LayerRow, base: Fen, acc: Counters) -> tuple[Fen, Fen | None, list[Fen], str]:
    """What a layer pays on ``base`` this time, given the year so far: (pay, cap left, per segment, trace)."""
    before = acc[f"{layer.key}.base"]
    after = before + base
    threshold = yuan_to_fen(row.threshold)
    if row.basis == "above_threshold":
        parts = paid_in_segments(max(0, before - threshold), max(0, after - threshold), row.segments)
    else:
        parts = paid_in_segments(max(before, threshold), max(after, threshold), row.segments)
    pay = sum(parts)  # ≤ base: segments do not overlap and ratios are at most 1
    cap_left = None
    if row.cap is not None:
        cap_left = max(0, yuan_to_fen(row.cap) - acc[f"{layer.key}.paid"])
        pay = min(pay, cap_left)
    acc.add(f"{layer.key}.base", base)
    acc.add(f"{layer.key}.paid", pay)
    shown = " + ".join(str(fen_to_yuan(p)) for p in parts if p)
    text = (
        f"{layer.name}：起付 {row.threshold}，本年累计 {fen_to_yuan(before)}→{fen_to_yuan(after)}，"
        f"分段支付 {shown or '0'}"
        + (f"，年度限额剩余 {fen_to_yuan(cap_left)}" if cap_left is not None else "")
        + f"，支付 {fen_to_yuan(pay)}"
    )
    return pay, cap_left, parts, text
