"""Line classification (费用分类): each fee line splits into four parts.

    det_item_fee_sumamt = 全自费 fulamt_ownpay_amt + 超限价 overlmt_amt
                        + 先行自付 preselfpay_amt + 政策范围内 inscp_scp_amt

丙类 and items outside the catalogue are 全自费; so is the part of a line outside the item's
restrictions. What exceeds the price cap is 超限价. Of the rest, a 乙类 item's patient first pays
the 先行自付 share; what remains enters the policy range, where deductibles and ratios apply.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from yibao.domain.catalog import CatalogItem
from yibao.domain.claim import FeeLine
from yibao.domain.codes import ChrgitmLv
from yibao.domain.errors import ClaimError
from yibao.domain.frozen import frozen
from yibao.domain.money import FEN_PER_YUAN, Fen, apply_ratio, round_fen, yuan_to_fen


@frozen
class LineResult:
    """The 2204/2301 answer for one line; amounts in fen."""

    feedetl_sn: str
    med_list_codg: str
    det_item_fee_sumamt: Fen
    cnt: Decimal
    pric: Decimal
    pric_uplmt_amt: Decimal | None
    selfpay_prop: Decimal
    fulamt_ownpay_amt: Fen
    overlmt_amt: Fen
    preselfpay_amt: Fen
    inscp_scp_amt: Fen
    chrgitm_lv: str
    memo: str = ""


@frozen
class LineContext:
    """What restrictions look at: who, where, when."""

    admdvs: str
    day: date
    gend: str
    age: int
    hosp_lv: int
    med_type: str


_ZERO = Decimal(0)  # Decimal with Decimal: no int converted at each comparison


def line_total(line: FeeLine, path: str) -> Fen:
    """The line's total in fen: as given (it may differ from price × count by a fen of rounding), or
    price × count. Refuses counts that are not positive, negative prices and totals that disagree."""
    if line.cnt <= _ZERO:
        raise ClaimError(f"{path}.cnt", "数量必须大于0")
    if line.pric < _ZERO:
        raise ClaimError(f"{path}.pric", "单价不能为负")
    computed = yuan_to_fen(line.pric * line.cnt)
    if line.det_item_fee_sumamt is None:
        return computed
    if line.det_item_fee_sumamt < _ZERO:
        raise ClaimError(f"{path}.det_item_fee_sumamt", "明细项目费用总额不能为负")
    total = yuan_to_fen(line.det_item_fee_sumamt)
    if abs(total - computed) > 1:
        raise ClaimError(f"{path}.det_item_fee_sumamt", f"{line.det_item_fee_sumamt} 不等于单价×数量")
    return total


def restriction_breach(item: CatalogItem, ctx: LineContext) -> str | None:
    """Why the item is not covered for this patient and visit, or None if it is."""
    r = item.restrictions
    if r.sex and ctx.gend != r.sex:
        return f"限定性别 {r.sex}"
    if r.age_min is not None and ctx.age < r.age_min:
        return f"限定年龄 ≥{r.age_min}"
    if r.age_max is not None and ctx.age > r.age_max:
        return f"限定年龄 ≤{r.age_max}"
    if r.min_hosp_lv is not None and ctx.hosp_lv < r.min_hosp_lv:
        return f"限{r.min_hosp_lv}级及以上医疗机构"
    if r.med_types and ctx.med_type not in r.med_types:
        return f"限医疗类别 {','.join(r.med_types)}"
    return None


def classify_line(line: FeeLine, item: CatalogItem | None, ctx: LineContext, path: str) -> LineResult:
    total = line_total(line, path)
    cap = item.price_cap_in(ctx.admdvs) if item else None
    is_b = item is not None and item.chrgitm_lv == ChrgitmLv.CLASS_B
    prop = item.selfpay_prop_in(ctx.admdvs) if item and is_b else Decimal(0)

    def result(fulamt: Fen, overlmt: Fen = 0, preselfpay: Fen = 0, memo: str = "") -> LineResult:
        lv = item.chrgitm_lv if item else ChrgitmLv.CLASS_C
        return LineResult(
            line.feedetl_sn, line.med_list_codg, total, line.cnt, line.pric, cap, prop,
            fulamt, overlmt, preselfpay, total - fulamt - overlmt - preselfpay, lv, memo,
        )  # fmt: skip

    if item is None:
        return result(total, memo="不在医保目录内，全自费")
    if not item.valid_on(ctx.day):
        return result(total, memo="目录项目不在有效期内，全自费")
    if item.chrgitm_lv == ChrgitmLv.CLASS_C:
        return result(total, memo="丙类，全自费")
    breach = restriction_breach(item, ctx)
    if breach:
        return result(total, memo=f"{breach}，全自费")

    memo: list[str] = []
    covered_cnt, fulamt = line.cnt, 0
    max_cnt = item.restrictions.max_cnt_per_visit
    if max_cnt is not None and line.cnt > max_cnt:
        covered_cnt = max_cnt
        fulamt = total - round_fen(Decimal(total) * max_cnt / line.cnt)
        memo.append(f"超出限定数量 {max_cnt} 部分全自费")
    overlmt = 0
    if cap is not None:
        overlmt = max(0, total - fulamt - round_fen(cap * covered_cnt * FEN_PER_YUAN))
        if overlmt:
            memo.append(f"超出限价 {cap} 部分自付")
    preselfpay = 0
    if is_b:
        preselfpay = apply_ratio(total - fulamt - overlmt, prop)
        memo.append(f"乙类先行自付 {prop}")
    return result(fulamt, overlmt, preselfpay, "；".join(memo))
