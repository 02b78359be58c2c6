"""A node's own year of settlements as the policy replay's claims, and its pooled funds from its ledger
(docs/policy-simulation.md, "A year of a node's own claims").

``export_replay_claims(engine_or_url, out, year)`` writes the live settlements of a local calendar year
(reversed ones and the reversals left out, and settlements made here for persons insured elsewhere,
cross_region "T") in the replay's claims format, with what the settlement service knew at each one:

- the classified amounts as stored on the settlement, its med_type and local day;
- the person's age on that day, the identities valid on it, the insurance's psn_type, months of
  contribution and civil-servant flag, the institution's level and specialty, the visit's flags (the
  registry keeps no history: these are today's, the identities by their dates);
- for a stay, the n-th admission of the year, the days since admission and the deductible the stay's
  earlier settlements charged (store.admission_seq / visit_deductible_paid, counted the same way);
- the personal account: the balance before each claim is the stored ``balc`` (after it) plus its
  ``acct_pay``; ``acct_credit`` is that balance minus the balance the person's claim before left, i.e.
  whatever moved the account in between (contributions, retirees' credits, a reversal; negative for a
  manual claim or a transfer out); ``acct_used_flag`` is whether the calculator's trace shows the
  account paying (the flag itself is not stored: where the account did not apply it reads as false).

So replayed under the policy that settled them, the claims give the stored amounts claim by claim
(tests/integration/test_policy_replay_stored.py), unless a registry fact changed since or a manual
claim (零星报销, not a settlement) moved the person's counters in between.

``ledger_reserves(url, funds)`` gives each pooled fund's balance and average monthly outgo from the
ledger, as app.contributions' fund indicators (and /console/funds) compute them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine, Row, Select, and_, case, exists, extract, func, select

from yibao.app import contributions as ca
from yibao.app.records import LOCAL, IdentityRecord, local_date
from yibao.domain.claim import age_on
from yibao.domain.contribution import POOLED_FUND, month_of
from yibao.domain.frozen import frozen
from yibao.domain.money import Fen
from yibao.store import tables as t
from yibao.store.database import Database
from yibao.store.engine import make_engine

AMOUNTS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt")
ACCOUNT_PAID = "个人账户支付"
"""The calculator's trace line when the personal account was used (domain.settlement.calculate)."""
SCHEMA = pa.schema(
    [
        ("psn_no", pa.int64()),
        ("insutype", pa.string()),
        ("setl_date", pa.date32()),
        ("med_type", pa.string()),
        ("hosp_lv", pa.int8()),
        ("psn_type", pa.string()),
        ("age", pa.int16()),
        *((name, pa.int64()) for name in AMOUNTS),
        ("contrib_months", pa.int16()),
        ("specialty", pa.string()),
        ("idet_types", pa.string()),
        ("flags", pa.string()),
        ("cvlserv_flag", pa.bool_()),
        ("admission_seq", pa.int16()),
        ("los_days", pa.int32()),
        ("stay_dedc_paid", pa.int64()),
        ("acct_used_flag", pa.bool_()),
        ("acct_balc", pa.int64()),
        ("acct_credit", pa.int64()),
        ("setl_id", pa.string()),
        ("insuplc_admdvs", pa.string()),
    ]
)


@frozen
class ClaimsExport:
    claims: int
    persons: int
    by_region: dict[str, int]
    """Claims by insured region (insuplc_admdvs): the policies to replay them under are that region's."""
    by_insutype: dict[str, int]


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """The local calendar year as naive UTC times [start, end), how settlement times are stored."""
    if not 1900 <= year <= 9998:
        raise ValueError(f"year: {year} is not a year")
    start, end = (datetime(y, 1, 1, tzinfo=LOCAL).astimezone(UTC).replace(tzinfo=None) for y in (year, year + 1))
    return start, end


def _query(year: int, admdvs: Sequence[str]) -> Select[Any]:
    s, v, p, i, inst = t.settlement.c, t.visit.c, t.person.c, t.insurance.c, t.institution.c
    rev, earlier = t.settlement.alias("rev"), t.settlement.alias("earlier")
    # what the visit's settlements before this one charged of the deductible, reversals included, as
    # store.visit_deductible_paid read it at the time
    stay_paid = (
        select(func.coalesce(func.sum(earlier.c.act_pay_dedc), 0))
        .where(earlier.c.mdtrt_id == s.mdtrt_id, earlier.c.setl_time < s.setl_time)
        .scalar_subquery()
    )
    # the n-th admission of the year of its admission, as store.admission_seq counts it
    other = t.visit.alias("other").c
    admission_seq = (
        select(func.count())
        .where(
            other.psn_no == v.psn_no,
            other.kind == "inpatient",
            other.status != "cancelled",
            other.begntime <= v.begntime,
            extract("year", other.begntime) == extract("year", v.begntime),
        )
        .scalar_subquery()
    )
    start, end = year_bounds(year)
    query = (
        select(
            s.setl_id,
            s.psn_no,
            s.insutype,
            s.med_type,
            s.setl_time,
            s.insuplc_admdvs,
            *(s[a] for a in AMOUNTS),
            s.acct_pay,
            s.balc,
            s.setl_proc_info.like(f"%{ACCOUNT_PAID}%").label("acct_used"),
            v.kind,
            v.begntime,
            v.flags,
            p.brdy,
            i.psn_type,
            i.contrib_months,
            i.cvlserv_flag,
            inst.hosp_lv,
            inst.specialty,
            case((v.kind == "inpatient", stay_paid), else_=0).label("stay_paid"),
            case((v.kind == "inpatient", admission_seq), else_=1).label("admission_seq"),
        )
        .join(t.visit, v.mdtrt_id == s.mdtrt_id)
        .join(t.person, p.psn_no == s.psn_no)
        .join(t.insurance, and_(i.psn_no == s.psn_no, i.insutype == s.insutype))
        .join(t.institution, inst.fixmedins_code == v.fixmedins_code)
        .where(
            s.revs_setl_id.is_(None),
            ~exists().where(rev.c.revs_setl_id == s.setl_id),
            s.cross_region != "T",  # settled here for another region's insured: their fund, their claims
            s.setl_time >= start,
            s.setl_time < end,
        )
        .order_by(s.psn_no, s.setl_time, s.setl_id)
    )
    if admdvs:
        query = query.where(s.insuplc_admdvs.in_(list(admdvs)))
    return query


@dataclass
class _Person:
    """The person being written: their number, identities, and the account each insutype's claims left."""

    psn_no: str = ""
    number: int = 0
    identities: list[IdentityRecord] = field(default_factory=list)
    left: dict[str, Fen] = field(default_factory=dict)


def _identities(conn: Any) -> dict[str, list[IdentityRecord]]:
    c = t.identity.c
    out: dict[str, list[IdentityRecord]] = {}
    for row in conn.execute(select(c.psn_no, c.psn_idet_type, c.begntime, c.endtime)):
        out.setdefault(row.psn_no, []).append(IdentityRecord(row.psn_no, row.psn_idet_type, row.begntime, row.endtime))
    return out


def export_replay_claims(
    engine_or_url: Engine | str, out: Path, year: int, *, admdvs: Iterable[str] = (), batch: int = 50_000
) -> ClaimsExport:
    """Write the year's live settlements (of the insured regions ``admdvs``, all if none) to ``out``."""
    query = _query(year, tuple(admdvs))
    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    out.parent.mkdir(parents=True, exist_ok=True)
    person = _Person()
    regions: Counter[str] = Counter()
    insutypes: Counter[str] = Counter()
    claims = 0
    with engine.connect() as conn:
        identities = _identities(conn)
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(query)
        # the file is made once the query runs: none from a database it cannot read
        with pq.ParquetWriter(out, SCHEMA) as writer:
            for rows in result.partitions():
                records = []
                for row in rows:
                    if row.psn_no != person.psn_no:  # rows come by person: number them in that order
                        person = _Person(row.psn_no, person.number + 1, identities.get(row.psn_no, []))
                    records.append(_claim(row, person))
                regions.update(r["insuplc_admdvs"] for r in records)
                insutypes.update(r["insutype"] for r in records)
                writer.write_table(pa.Table.from_pylist(records, SCHEMA))
                claims += len(records)
    return ClaimsExport(claims, person.number, dict(sorted(regions.items())), dict(sorted(insutypes.items())))


@lru_cache(maxsize=4096)
def _local_day(utc_day: date, hour: int) -> date:
    """The local date of a UTC hour (Asia/Shanghai's offset is whole hours): local_date once an hour."""
    return local_date(datetime.combine(utc_day, time(hour)))


def _claim(row: Row[Any], person: _Person) -> dict[str, Any]:
    day = _local_day(row.setl_time.date(), row.setl_time.hour)
    inpatient = row.kind == "inpatient"
    before = int(row.balc) + int(row.acct_pay)  # the balance the calculator saw
    first = row.insutype not in person.left
    credit = 0 if first else before - person.left[row.insutype]
    person.left[row.insutype] = int(row.balc)
    return {
        "psn_no": person.number,
        "insutype": row.insutype,
        "setl_date": day,
        "med_type": row.med_type,
        "hosp_lv": row.hosp_lv,
        "psn_type": row.psn_type,
        "age": age_on(row.brdy, day),
        "medfee_sumamt": row.medfee_sumamt,
        "fulamt_ownpay_amt": row.fulamt_ownpay_amt,
        "overlmt_selfpay": row.overlmt_selfpay,
        "preselfpay_amt": row.preselfpay_amt,
        "inscp_scp_amt": row.inscp_scp_amt,
        "contrib_months": row.contrib_months,
        "specialty": row.specialty,
        "idet_types": " ".join(i.psn_idet_type for i in person.identities if i.valid_on(day)),
        "flags": row.flags,
        "cvlserv_flag": bool(row.cvlserv_flag),
        "admission_seq": max(1, int(row.admission_seq)) if inpatient else 1,
        "los_days": max(1, (day - local_date(row.begntime)).days) if inpatient else 1,
        "stay_dedc_paid": int(row.stay_paid) if inpatient else 0,
        "acct_used_flag": bool(row.acct_used),
        "acct_balc": before,
        "acct_credit": credit,
        "setl_id": row.setl_id,
        "insuplc_admdvs": row.insuplc_admdvs,
    }


# ------------------------------------------------------------------------------------------- the funds


@frozen
class LedgerReserve:
    """A pooled fund at the end of ``month``, from the ledger (app.contributions.fund_series)."""

    admdvs: str
    insutype: str
    month: str
    balance: Fen
    monthly_outgo: Fen | None
    """The average of spending + credits to personal accounts over ``months_averaged`` months (the
    months of reserve's divisor); None when there was none."""
    months_averaged: int


def ledger_reserves(
    url: str | None, funds: Iterable[tuple[str, str]], today: date | None = None
) -> list[LedgerReserve]:
    """The pooled funds (admdvs, insutype) found in the ledger, as of ``today``'s month (local)."""
    db = Database(make_engine(url))
    month = month_of(today or local_date(datetime.now(UTC).replace(tzinfo=None)))
    out = []
    try:
        with db.transaction(write=False) as store:
            for admdvs, insutype in funds:
                if insutype not in POOLED_FUND:
                    continue
                months = ca.fund_series(store, admdvs, insutype, month)
                if not months:
                    continue
                last = months[-1]
                window = months[len(months) - last.months_averaged :]
                outgo = sum(m.spending + m.to_accounts for m in window)
                monthly = int((Decimal(outgo) / len(window)).quantize(Decimal(1), ROUND_HALF_UP)) if outgo > 0 else None
                out.append(LedgerReserve(admdvs, insutype, last.month, last.balance, monthly, len(window)))
    finally:
        db.dispose()
    return out
