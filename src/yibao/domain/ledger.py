"""The fund ledger (基金账务): accounts and immutable, balanced transfers.

Modelled on TigerBeetle: an account keeps cumulative debits and credits; a transfer moves a
positive amount from one account (debit) to another (credit) and is never changed — a correction
is a new transfer. A posting is the set of transfers one business event makes; they are written
together or not at all. Because every transfer debits and credits the same amount, money is never
created or destroyed: the sum of all balances is always zero.

Account codes say what an account is:

    fund:<admdvs>:<fund_pay_type>   a pooled fund of a region (统筹, 大病, 救助 ...)
    acct:<psn_no>                   a person's personal account (个人账户), owed to the person
    payable:<fixmedins_code>        what the funds owe an institution for its settlements
    clearing:<admdvs>               what another region owes this one (debit balance) or is owed by it
                                    (credit balance) for cross-region settlements, until clearing
    opening:<kind>                  the other side of balances brought in from a legacy system
    clearing:hub                    the national hub's side of a clearing run: the confirmed clearing
                                    balances are moved into it, the run's net payment takes them out
                                    (zero once a run is posted)
    cash:clearing                   clearing money (清算资金): debited when the hub pays this node,
                                    credited when this node pays the hub
    advance:hub                     the advance (预付金) this node's regions paid the hub: credited as
                                    clearing runs draw on it instead of a payment
    bank:<psn_no>                   paid to the person's bank account: what manual reimbursements
                                    (零星报销, code ``manual_claim``) paid out to the person
    transfer:<admdvs>               what this node's regions owe another region (credit balance) or are
                                    owed by it (debit) for personal accounts moved there or from there
                                    (转移接续, code ``transfer``), until a clearing run carries them
    receivable:<emp_no>             what an employer owes of its declared contributions (应收, code ``contribution``)
    assessed:<admdvs>:<insutype>    contributions declared and not yet received: the receivables' other side
    cash:contributions              the collection account (收入户): money received from contributors
    subsidy:<admdvs>                the government's subsidy to the residents' scheme (财政补助)

A cross-region settlement is posted on both nodes. Where the person was treated, the insured region
pays the institution: ``clearing:<insured region>`` → ``payable:<institution>``. Where the person is
insured, the funds and the personal account pay the treating region: ``fund:…``/``acct:…`` →
``clearing:<treating region>``. Monthly clearing closes the two sides against each other: for the
lines the insured node confirmed, ``clearing:hub`` ↔ ``clearing:<region>`` (code ``clearing``), and
the net payment ``cash:clearing`` → ``clearing:hub`` (received) or ``clearing:hub`` →
``cash:clearing``/``advance:hub`` (paid, in part from the advance), one posting per run. The
``transfer:<region>`` balances of the personal accounts moved (转移接续) that the run confirmed close
into ``clearing:hub`` the same way, so the net payment carries them too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import field

from yibao.domain.errors import DomainError
from yibao.domain.frozen import frozen
from yibao.domain.money import Fen


class Code:
    """Why a transfer was made (the transfer's ``code``)."""

    SETTLEMENT = "settlement"
    REVERSAL = "reversal"
    OPENING = "opening"
    CLEARING = "clearing"
    RECOVERY = "recovery"
    MANUAL_CLAIM = "manual_claim"
    TRANSFER = "transfer"
    CONTRIBUTION = "contribution"


HUB_CLEARING = "clearing:hub"
CLEARING_CASH = "cash:clearing"
HUB_ADVANCE = "advance:hub"
CONTRIBUTION_CASH = "cash:contributions"


def fund_account(admdvs: str, fund_pay_type: str) -> str:
    return f"fund:{admdvs}:{fund_pay_type}"


def personal_account(psn_no: str) -> str:
    return f"acct:{psn_no}"


def payable_account(fixmedins_code: str) -> str:
    return f"payable:{fixmedins_code}"


def clearing_account(admdvs: str) -> str:
    return f"clearing:{admdvs}"


def opening_account(kind: str) -> str:
    return f"opening:{kind}"


def bank_account(psn_no: str) -> str:
    return f"bank:{psn_no}"


def transfer_account(admdvs: str) -> str:
    return f"transfer:{admdvs}"


def receivable_account(emp_no: str) -> str:
    return f"receivable:{emp_no}"


def assessed_account(admdvs: str, insutype: str) -> str:
    return f"assessed:{admdvs}:{insutype}"


def subsidy_account(admdvs: str) -> str:
    return f"subsidy:{admdvs}"


@frozen
class Transfer:
    debit: str
    credit: str
    amount: Fen
    code: str

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise DomainError("amount", f"转账金额必须为正: {self.amount}")
        if self.debit == self.credit:
            raise DomainError("credit", f"借贷不能是同一账户 {self.debit}")


def settlement_posting(
    insuplc_admdvs: str,
    psn_no: str,
    fixmedins_code: str,
    fund_payments: Iterable[tuple[str, Fen]],
    acct_pay: Fen,
    *,
    payer: str | None = None,
    payee: str | None = None,
) -> list[Transfer]:
    """Each fund's payment and the personal account's payment become payable to the institution.

    Funds belong to the insured region (参保地): it is their money that the settlement spends.
    Negative amounts (a settlement that gives money back) move the other way. A cross-region
    settlement names a ``payer`` (where treated: the insured region's clearing account pays it all)
    or a ``payee`` (where insured: the treating region's clearing account is paid instead).
    """
    payable = payee or payable_account(fixmedins_code)
    moves = [(payer or fund_account(insuplc_admdvs, fund), amount) for fund, amount in fund_payments]
    moves.append((payer or personal_account(psn_no), acct_pay))
    transfers = []
    for source, amount in moves:
        if amount > 0:
            transfers.append(Transfer(source, payable, amount, Code.SETTLEMENT))
        elif amount < 0:
            transfers.append(Transfer(payable, source, -amount, Code.SETTLEMENT))
    return transfers


def reversal_of(transfers: Sequence[Transfer]) -> list[Transfer]:
    """The exact opposite posting: every transfer back the other way, in reverse order."""
    return [Transfer(t.credit, t.debit, t.amount, Code.REVERSAL) for t in reversed(transfers)]


def clearing_posting(closed: dict[str, Fen], advance: Fen = 0, moved: dict[str, Fen] | None = None) -> list[Transfer]:
    """A clearing run's posting on one node. ``closed``: for each other region, the confirmed lines'
    net (treated here for its insured − this node's insured treated there), which leaves its
    ``clearing:<region>`` balance for ``clearing:hub``; ``moved``: the same for personal accounts moved
    (转移接续: received here from the region − sent here to it), which leaves ``transfer:<region>``. Then
    the net of them all is paid by the hub (> 0) or to it (< 0), ``advance`` of it from the advance paid
    in before."""
    moved = moved or {}
    accounts = [(clearing_account(r), a) for r, a in closed.items()]
    accounts += [(transfer_account(r), a) for r, a in moved.items()]
    transfers = []
    for account, amount in sorted(accounts):
        if amount > 0:
            transfers.append(Transfer(HUB_CLEARING, account, amount, Code.CLEARING))
        elif amount < 0:
            transfers.append(Transfer(account, HUB_CLEARING, -amount, Code.CLEARING))
    net = sum(closed.values()) + sum(moved.values())
    if not 0 <= advance <= max(0, -net):
        raise DomainError("advance", f"预付金抵扣 {advance} 超过应付净额 {max(0, -net)}")
    if net > 0:
        transfers.append(Transfer(CLEARING_CASH, HUB_CLEARING, net, Code.CLEARING))
    elif net < 0:
        if -net - advance > 0:
            transfers.append(Transfer(HUB_CLEARING, CLEARING_CASH, -net - advance, Code.CLEARING))
        if advance > 0:
            transfers.append(Transfer(HUB_CLEARING, HUB_ADVANCE, advance, Code.CLEARING))
    return transfers


def recovery_posting(fixmedins_code: str, credits: dict[str, Fen]) -> list[Transfer]:
    """A joint audit's recovery (追回): what the institution is owed falls and each account that paid
    for the violations (a region's fund, or the clearing account of the region that paid across
    regions) gets its share back."""
    payable = payable_account(fixmedins_code)
    return [Transfer(payable, account, amount, Code.RECOVERY) for account, amount in sorted(credits.items()) if amount]


def balances(transfers: Iterable[Transfer]) -> dict[str, Fen]:
    """Net balance (debits − credits) of every account the transfers touch."""
    net: dict[str, Fen] = {}
    for t in transfers:
        net[t.debit] = net.get(t.debit, 0) + t.amount
        net[t.credit] = net.get(t.credit, 0) - t.amount
    return net


def credit_balance(debits: Fen, credits: Fen) -> Fen:
    """What a liability account (a personal account, a payable) holds: credits − debits."""
    return credits - debits


@frozen
class LedgerFacts:
    """What the ledger holds and what the settlements say it should hold, for `check_ledger`."""

    accounts: dict[str, tuple[Fen, Fen]]
    """Each account's stored cumulative (debits, credits)."""
    transfer_totals: dict[str, tuple[Fen, Fen]]
    """(debits, credits) of each account summed over its transfers."""
    settlement_net: dict[str, Fen]
    """Net debits − credits of each account over settlement and reversal transfers only."""
    expected_net: dict[str, Fen]
    """The same, as the settlements' own amounts say: a fund +its payments, a personal account
    +acct_pay, an institution's payable −(fund_pay_sumamt + acct_pay)."""
    bad_transfers: list[str]
    """Transfers that are not a positive amount between two different accounts."""
    recovery_net: dict[str, Fen] = field(default_factory=dict)
    """Net debits − credits of each institution's payable over recovery transfers."""
    expected_recovery: dict[str, Fen] = field(default_factory=dict)
    """The same, as the recovered audit cases say: a payable +the amounts recovered from it."""
    recorded_net: dict[tuple[str, str], Fen] = field(default_factory=dict)
    """(code, account) → net debits − credits over the transfers of codes whose own records say what
    they posted (``manual_claim``, ``transfer``)."""
    expected_recorded: dict[tuple[str, str], Fen] = field(default_factory=dict)
    """The same, as those records say (manual claims, insurance transfers)."""


def check_ledger(facts: LedgerFacts) -> list[str]:
    """Every difference between the ledger and itself or the settlements; empty means all is well."""
    problems = list(facts.bad_transfers)
    for code in sorted(set(facts.accounts) | set(facts.transfer_totals)):
        stored = facts.accounts.get(code, (0, 0))
        summed = facts.transfer_totals.get(code, (0, 0))
        if stored != summed:
            problems.append(f"{code}: 账户累计 借{stored[0]} 贷{stored[1]} ≠ 转账合计 借{summed[0]} 贷{summed[1]}")
    total = sum(d - c for d, c in facts.transfer_totals.values())
    if total != 0:
        problems.append(f"全部账户借贷差额 {total} ≠ 0")
    for code in sorted(set(facts.settlement_net) | set(facts.expected_net)):
        posted, expected = facts.settlement_net.get(code, 0), facts.expected_net.get(code, 0)
        if posted != expected:
            problems.append(f"{code}: 结算记账净额 {posted} ≠ 结算记录 {expected}")
    for code in sorted(set(facts.recovery_net) | set(facts.expected_recovery)):
        posted, expected = facts.recovery_net.get(code, 0), facts.expected_recovery.get(code, 0)
        if posted != expected:
            problems.append(f"{code}: 追回记账净额 {posted} ≠ 联审案件追回金额 {expected}")
    labels = {Code.MANUAL_CLAIM: "零星报销", Code.TRANSFER: "转移接续", Code.CONTRIBUTION: "征缴"}
    for key in sorted(set(facts.recorded_net) | set(facts.expected_recorded)):
        posted, expected = facts.recorded_net.get(key, 0), facts.expected_recorded.get(key, 0)
        if posted != expected:
            label = labels.get(key[0], key[0])
            problems.append(f"{key[1]}: {label}记账净额 {posted} ≠ {label}记录 {expected}")
    return problems
