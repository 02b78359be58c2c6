"""零星报销: manual reimbursement of bills the person paid in full (abroad, before a filing, without the
card), settled by the calculator under the person's policy and paid to the person's bank account.

What is pure here: the kind of care a med_type is, the dates a bill may carry, the flags a policy sees
(``manual_claim`` always; ``abroad`` for care outside the national regions), and the posting: each fund
and the personal account pay ``bank:<psn_no>`` (code ``manual_claim``); a reversal is the exact opposite
under the same code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date

from yibao.domain.codes import MedType
from yibao.domain.errors import ClaimError
from yibao.domain.ledger import Code, Transfer, bank_account, settlement_posting
from yibao.domain.money import Fen

INPATIENT_MED_TYPES = frozenset({"21", "22", "23", "24", "25", "26", "28", "52"})
MANUAL_FLAG = "manual_claim"
ABROAD_FLAG = "abroad"
MAX_AGE_DAYS = 2 * 366
"""A bill older than this (from its last day) is refused: past any region's filing window."""


def kind_of(med_type: str) -> str:
    """outpatient or inpatient (a manual claim is never a pharmacy's settlement)."""
    if med_type not in {m.value for m in MedType}:
        raise ClaimError("med_type", f"{med_type!r} 不是医疗类别代码")
    return "inpatient" if med_type in INPATIENT_MED_TYPES else "outpatient"


def check_dates(begndate: date, enddate: date, today: date) -> None:
    if begndate > enddate:
        raise ClaimError("enddate", f"结束日期 {enddate} 早于开始日期 {begndate}")
    if enddate > today:
        raise ClaimError("enddate", f"结束日期 {enddate} 晚于今天 {today}")
    if (today - enddate).days > MAX_AGE_DAYS:
        raise ClaimError("enddate", f"费用结束日期 {enddate} 距今超过两年，不予受理")


def manual_claim_posting(
    insuplc_admdvs: str, psn_no: str, fund_payments: Iterable[tuple[str, Fen]], acct_pay: Fen
) -> list[Transfer]:
    """Each fund of the insured region and the personal account pay the person's bank account."""
    moves = settlement_posting(insuplc_admdvs, psn_no, "", fund_payments, acct_pay, payee=bank_account(psn_no))
    return [replace(t, code=Code.MANUAL_CLAIM) for t in moves]


def manual_claim_reversal(transfers: Sequence[Transfer]) -> list[Transfer]:
    """The exact opposite of a manual claim's posting, under the same code (the person returns it)."""
    return [Transfer(t.credit, t.debit, t.amount, Code.MANUAL_CLAIM) for t in reversed(transfers)]
