"""转移接续: a person's basic medical insurance moved from one pooling region to another.

The rule, kept simple and stated (after 《基本医疗保险关系转移接续暂行办法》, 医保发〔2021〕43号):

- Every month of contribution the region left holds for the person is carried, and the new region
  counts it with its own (缴费年限累计计算). A month paid in both regions (the month of the move, say)
  counts once: where both regions hold their months month by month (contribution records), the months
  they have in common; otherwise the overlap of the two spans of months, at most the smaller count.
- The months between the last month paid in the old region and the first paid in the new one are a
  gap. A gap of more than three months is an interruption (中断): the months before it still count,
  and the transfer records it (a waiting period, where the new region has one, is its policy's business).
- The personal account's balance moves whole, to the fen: one posting where the person leaves
  (``acct:<psn_no>`` → ``transfer:<new region>``) and the mirror posting where they arrive
  (``transfer:<old region>`` → ``acct:<psn_no>``), code ``transfer``. The pooled funds stay where
  they are (统筹基金不转移).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from yibao.domain.errors import DomainError
from yibao.domain.frozen import frozen
from yibao.domain.ledger import Code, Transfer, personal_account, transfer_account
from yibao.domain.money import Fen

MAX_GAP = 3
"""Months without contribution between the two regions beyond which the transfer is an interruption."""


def month_index(day: date) -> int:
    """The month a date falls in, as a count of months (to subtract months from months)."""
    return day.year * 12 + day.month - 1


@frozen
class Span:
    """A person's contribution months in one region: how many, and the first and last month they fall in
    (any day of each month). ``months`` may exceed the span's length when it holds months carried in
    from an earlier region."""

    months: int
    first: date
    last: date

    def __post_init__(self) -> None:
        if self.months < 0:
            raise DomainError("months", f"缴费月数不能为负: {self.months}")
        if month_index(self.first) > month_index(self.last):
            raise DomainError("first", f"首次缴费月 {self.first:%Y-%m} 晚于末次缴费月 {self.last:%Y-%m}")


@frozen
class Carried:
    """What a transfer makes of the months (see the module's rule)."""

    months_out: int
    """Carried from the region left."""
    months_before: int
    """The new region's own, before the transfer."""
    overlap: int
    """Months paid in both regions, counted once."""
    months_after: int
    """The new region's count after the transfer."""
    gap: int
    """Months with no contribution between the last one paid out and the first one paid in."""

    @property
    def interrupted(self) -> bool:
        return self.gap > MAX_GAP


def carry(
    out: Span, into: Span | None, arrival: date, paid_out: Collection[str] = (), paid_in: Collection[str] = ()
) -> Carried:
    """The months the new region counts after the transfer. ``into``: the person's own months in the new
    region, if any; ``arrival``: the transfer's date, the first month paid in when ``into`` is None;
    ``paid_out``, ``paid_in``: the months ("YYYY-MM") each region records month by month, if any."""
    overlap = 0
    if into is not None and into.months and out.months:
        if paid_out and paid_in:
            common = len(set(paid_out) & set(paid_in))
        else:
            start = max(month_index(out.first), month_index(into.first))
            common = max(0, min(month_index(out.last), month_index(into.last)) - start + 1)
        overlap = min(out.months, into.months, common)
    first_in = month_index(into.first) if into is not None and into.months else month_index(arrival)
    gap = max(0, first_in - month_index(out.last) - 1) if out.months else 0
    before = into.months if into is not None else 0
    return Carried(out.months, before, overlap, before + out.months - overlap, gap)


def transfer_out_posting(psn_no: str, to_admdvs: str, amount: Fen) -> list[Transfer]:
    """Where the person leaves: the personal account's balance goes to what is owed the new region."""
    if amount < 0:
        raise DomainError("amount", f"转出金额不能为负: {amount}")
    return [Transfer(personal_account(psn_no), transfer_account(to_admdvs), amount, Code.TRANSFER)] if amount else []


def transfer_in_posting(psn_no: str, from_admdvs: str, amount: Fen) -> list[Transfer]:
    """Where the person arrives: what the old region sent becomes the personal account's balance."""
    if amount < 0:
        raise DomainError("amount", f"转入金额不能为负: {amount}")
    return [Transfer(transfer_account(from_admdvs), personal_account(psn_no), amount, Code.TRANSFER)] if amount else []
