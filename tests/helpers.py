"""Builders that let a test read like the domain: a policy in TOML, a claim, the expected amounts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from yibao.app.records import LOCAL
from yibao.domain.catalog import EMPTY_CATALOG, Catalog
from yibao.domain.claim import Amounts, Claim, FeeLine, Person, Visit
from yibao.domain.money import fen_to_yuan
from yibao.domain.policy import Policy
from yibao.domain.settlement import Settlement, calculate
from yibao.files import parse_policy

HEADER = """
[policy]
admdvs = "440100"
insutype = "{insutype}"
name = "test policy"
begndate = 2024-01-01
fund_pay_type = "{fund}"
"""


def policy(body: str, insutype: str = "310") -> Policy:
    """A policy from the TOML of its benefits (and layers, account ...), under a standard header."""
    fund = "310100" if insutype == "310" else "390100"
    return parse_policy(HEADER.format(insutype=insutype, fund=fund) + body)


def claim(
    inscp: str | None = None,
    *,
    med_type: str = "21",
    hosp_lv: int = 2,
    psn_type: str = "1101",
    insutype: str = "310",
    age: int = 40,
    gend: str = "1",
    acct_balc: str = "0",
    idet_types: tuple[str, ...] = (),
    contrib_months: int = 0,
    cvlserv_flag: bool = False,
    admission_seq: int = 1,
    los_days: int = 1,
    stay_dedc_paid: str = "0",
    specialty: str = "",
    flags: tuple[str, ...] = (),
    acct_used_flag: bool = True,
    acc: dict[str, str] | None = None,
    lines: list[FeeLine] | None = None,
    amounts: Amounts | None = None,
) -> Claim:
    """A claim of ``inscp`` yuan in the policy range (or the given lines or amounts)."""
    if lines is None and amounts is None:
        amounts = Amounts(inscp_scp_amt=Decimal(inscp or "0"))
    return Claim(
        person=Person(
            psn_no="P1",
            insutype=insutype,
            psn_type=psn_type,
            age=age,
            gend=gend,
            acct_balc=Decimal(acct_balc),
            idet_types=idet_types,
            contrib_months=contrib_months,
            cvlserv_flag=cvlserv_flag,
        ),
        visit=Visit(
            med_type=med_type,
            hosp_lv=hosp_lv,
            setl_date=date(2024, 6, 1),
            mdtrtarea_admvs="440100",
            specialty=specialty,
            admission_seq=admission_seq,
            los_days=los_days,
            stay_dedc_paid=Decimal(stay_dedc_paid),
            flags=flags,
            acct_used_flag=acct_used_flag,
        ),
        feedetail=tuple(lines or ()),
        amounts=amounts,
        accumulators={k: Decimal(v) for k, v in (acc or {}).items()},
    )


def settle(p: Policy, c: Claim, catalog: Catalog = EMPTY_CATALOG) -> Settlement:
    return calculate(c, p, catalog)


def yuan(s: Settlement, field: str) -> str:
    """A setlinfo amount as the national interface prints it, e.g. "6660.00"."""
    return str(fen_to_yuan(getattr(s.setlinfo, field)))


def acc(s: Settlement, key: str) -> str:
    return str(fen_to_yuan(s.accumulators.get(key, 0)))


def local_today() -> date:
    """Today in Asia/Shanghai, as the server dates settlements (UTC's date is yesterday from 16:00 UTC)."""
    return datetime.now(LOCAL).date()
