"""A year of a city's claims at claim level, for the policy replay (``yibao policy simulate``): fast.

``generate(out, persons=N)`` writes one Parquet file with docs/policy-simulation.md's columns — the
classified amounts of each claim in fen and the facts policy rows match on — sorted by person and day,
made with numpy a chunk of persons at a time (about 8 claims a person; 100 million claims in minutes,
where ``yibao.sim.claims``' fee lines take 25 s a million).

The persons look like a Chinese city's insured: about 60% employees (在职 1101/1102/1103, 退休 1201/1202,
civil servants with their flag) with personal accounts that get a monthly transfer, 40% residents
(children 1402, pupils 1403, students 1404, adults 1501), 2% of them in 医疗救助 categories. Visits per
person vary with age and, much more, from person to person (a gamma-Poisson mix: most persons have a few,
chronic patients hundreds); stays are 3–50% a year by age. Costs have a heavy tail: outpatient bills of a
few hundred yuan, stays of about ten thousand, 3% of stays from fifty thousand to three million. Hospital
levels, specialty hospitals, referral, community and cross-region flags come in realistic shares.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

OUTPATIENT, PHARMACY, INPATIENT = 0, 1, 2
MED_TYPES = ["11", "41", "21"]
PSN_TYPES = ["1101", "1102", "1103", "1201", "1202", "1402", "1403", "1404", "1501"]
SPECIALTIES = ["", "psychiatric", "tuberculosis"]
IDET = ["", "2301", "2302", "2303"]
FLAGS = ["", "designated_community", "referral", "no_referral", "cross_region_referral", "cross_region_emergency",
         "cross_region_temporary", "cross_region_unfiled"]  # fmt: skip
INSUTYPES = ["310", "390"]
SCHEMA = pa.schema(
    [
        ("psn_no", pa.int64()),
        ("insutype", pa.dictionary(pa.int32(), pa.string())),
        ("setl_date", pa.date32()),
        ("med_type", pa.dictionary(pa.int32(), pa.string())),
        ("hosp_lv", pa.int8()),
        ("psn_type", pa.dictionary(pa.int32(), pa.string())),
        ("age", pa.int16()),
        ("contrib_months", pa.int16()),
        ("specialty", pa.dictionary(pa.int32(), pa.string())),
        ("idet_types", pa.dictionary(pa.int32(), pa.string())),
        ("flags", pa.dictionary(pa.int32(), pa.string())),
        ("cvlserv_flag", pa.bool_()),
        ("admission_seq", pa.int16()),
        ("los_days", pa.int16()),
        ("acct_used_flag", pa.bool_()),
        ("acct_balc", pa.int64()),
        ("acct_credit", pa.int64()),
        ("medfee_sumamt", pa.int64()),
        ("fulamt_ownpay_amt", pa.int64()),
        ("overlmt_selfpay", pa.int64()),
        ("preselfpay_amt", pa.int64()),
        ("inscp_scp_amt", pa.int64()),
    ]
)
DICTIONARIES = {"insutype": INSUTYPES, "med_type": MED_TYPES, "psn_type": PSN_TYPES, "specialty": SPECIALTIES,
                "idet_types": IDET, "flags": FLAGS}  # fmt: skip


@dataclass(frozen=True)
class Written:
    persons: int
    claims: int
    seconds: float


def generate(out: Path, persons: int, *, year: int = 2024, seed: int = 1, chunk_persons: int = 500_000) -> Written:
    """Write ``persons`` persons' claims of ``year`` to ``out`` (the same seed, the same file)."""
    started = time.perf_counter()
    claims = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(out, SCHEMA) as writer:
        for i, first in enumerate(range(0, persons, chunk_persons)):
            table = chunk(first, min(persons, first + chunk_persons) - first, year, np.random.default_rng([seed, i]))
            writer.write_table(table, row_group_size=1 << 20)
            claims += table.num_rows
    return Written(persons, claims, time.perf_counter() - started)


def _yuan_lognormal(rng: np.random.Generator, median: float, sigma: float, n: int, cap: float) -> np.ndarray:
    return np.minimum(np.rint(rng.lognormal(np.log(median), sigma, n) * 100), cap * 100).astype(np.int64)


def chunk(first: int, n: int, year: int, rng: np.random.Generator) -> pa.Table:
    """The claims of persons first+1 .. first+n."""
    # ---- persons
    employee = rng.random(n) < 0.6
    retired = employee & (rng.random(n) < 0.25)
    resident_age = np.minimum(rng.gamma(2.2, 17.0, n).astype(np.int64), 100)
    age = np.where(employee, np.where(retired, 55 + rng.integers(0, 41, n), 20 + rng.integers(0, 40, n)), resident_age)
    r = rng.random(n)
    psn_type = np.select(
        [employee & ~retired & (r < 0.84), employee & ~retired & (r < 0.88), employee & ~retired,
         retired & (r < 0.95), retired, age <= 5, age <= 17, (age <= 22) & (r < 0.45)],
        [0, 1, 2, 3, 4, 5, 6, 7], 8,
    )  # fmt: skip
    cvlserv = (psn_type == 1) | (psn_type == 4)
    contrib = np.where(employee, np.minimum(np.maximum(age - 20, 1), 35) * 12, np.minimum(age * 12, 200))
    contrib = contrib + rng.integers(0, 12, n)
    idet = np.where(~employee & (rng.random(n) < 0.02), np.searchsorted([0.1, 0.7], rng.random(n)) + 1, 0)
    median = np.where(retired, 6000.0, 3000.0)
    opening = np.where(employee, np.minimum(np.rint(rng.lognormal(np.log(median), 1.0) * 100), 20_000_000), 0)
    monthly = np.where(employee, np.rint(rng.lognormal(np.log(160.0), 0.4, n) * 100).astype(np.int64), 0)

    # ---- how many claims of each kind
    visits = np.select([age < 6, age < 18, age < 45, age < 60], [7.0, 3.5, 4.0, 6.0], 10.0) * np.where(employee, 1.1, 1)
    out_n = rng.poisson(visits * rng.gamma(0.6, 1 / 0.6, n))
    pharm_n = np.where(employee, rng.poisson(2.5 * rng.gamma(0.5, 1 / 0.5, n)), 0)
    stays = np.select([age < 6, age < 45, age < 60, age < 75], [0.10, 0.07, 0.15, 0.30], 0.50)
    in_n = rng.poisson(stays * rng.gamma(0.4, 1 / 0.4, n))
    counts = np.stack([np.minimum(out_n, 360), np.minimum(pharm_n, 100), np.minimum(in_n, 15)])
    person = np.concatenate([np.repeat(np.arange(n), counts[k]) for k in range(3)])
    kind = np.concatenate([np.full(int(counts[k].sum()), k, np.int8) for k in range(3)])
    m = len(person)
    days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    day = rng.integers(0, days, m)
    order = np.argsort(person * 512 + day, kind="stable")
    person, kind, day = person[order], kind[order], day[order]

    # ---- the visits
    inpatient, outpatient = kind == INPATIENT, kind == OUTPATIENT
    hosp_lv = np.where(
        kind == PHARMACY, 0,
        np.where(inpatient, np.searchsorted([0.12, 0.5], rng.random(m)) + 1,
                 np.searchsorted([0.4, 0.65], rng.random(m)) + 1),
    )  # fmt: skip
    r = rng.random(m)
    specialty = np.where(inpatient & (r < 0.015), 1, np.where(inpatient & (r < 0.022), 2, 0))
    specialty = np.where(outpatient & (r < 0.01), 1, specialty)
    hosp_lv = np.where(specialty > 0, np.maximum(hosp_lv, 2), hosp_lv)
    r = rng.random(m)
    flags = np.select(
        [kind == PHARMACY, r < 0.005, r < 0.01, r < 0.015, r < 0.02,
         outpatient & (hosp_lv == 1) & (r < 0.52), outpatient & (r < 0.07), inpatient & (r < 0.07)],
        [0, 4, 5, 6, 7, 1, 2, 3], 0,
    )  # fmt: skip
    stay_no = np.cumsum(inpatient)
    first_claim = np.searchsorted(person, np.arange(n))  # each person's first row
    before = np.where(first_claim[person] > 0, stay_no[np.maximum(first_claim[person] - 1, 0)], 0)
    admission_seq = np.where(inpatient, stay_no - before, 1)
    los = np.where(inpatient, np.minimum(rng.geometric(1 / 9, m), 200), 1)

    # ---- the bill and its classification (fen)
    medfee = np.where(
        inpatient, _yuan_lognormal(rng, 9000, 0.8, m, 3_000_000),
        np.where(outpatient, _yuan_lognormal(rng, 150, 0.9, m, 50_000), _yuan_lognormal(rng, 120, 0.8, m, 20_000)),
    )  # fmt: skip
    tail = inpatient & (rng.random(m) < 0.03)
    medfee = np.where(tail, np.minimum(np.rint(5_000_000 * (1 + rng.pareto(1.3, m))), 300_000_000), medfee)
    medfee = np.maximum(medfee, 1).astype(np.int64)
    fulamt = np.floor(medfee * rng.beta(0.6, 10, m)).astype(np.int64)
    overlmt = np.where(rng.random(m) < 0.05, np.floor((medfee - fulamt) * rng.beta(1, 30, m)), 0).astype(np.int64)
    preselfpay = np.floor((medfee - fulamt - overlmt) * rng.beta(1, 12, m)).astype(np.int64)
    inscp = medfee - fulamt - overlmt - preselfpay

    # ---- the personal account: an opening balance, a transfer on the first of each month after January
    month = (np.datetime64(f"{year}-01-01") + day).astype("datetime64[M]").astype(np.int64) % 12
    previous = np.concatenate(([0], month[:-1]))
    previous[first_claim[first_claim < m]] = 0
    credit = monthly[person] * (month - previous)
    emp = employee[person]

    def strings(name: str, codes: np.ndarray) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(DICTIONARIES[name]))

    columns = {
        "psn_no": pa.array(first + 1 + person.astype(np.int64)),
        "insutype": strings("insutype", np.where(emp, 0, 1)),
        "setl_date": pa.array((np.datetime64(f"{year}-01-01") + day).astype("datetime64[D]"), pa.date32()),
        "med_type": strings("med_type", kind),
        "hosp_lv": pa.array(hosp_lv.astype(np.int8)),
        "psn_type": strings("psn_type", psn_type[person]),
        "age": pa.array(age[person].astype(np.int16)),
        "contrib_months": pa.array(contrib[person].astype(np.int16)),
        "specialty": strings("specialty", specialty),
        "idet_types": strings("idet_types", idet[person]),
        "flags": strings("flags", flags),
        "cvlserv_flag": pa.array(cvlserv[person]),
        "admission_seq": pa.array(admission_seq.astype(np.int16)),
        "los_days": pa.array(los.astype(np.int16)),
        "acct_used_flag": pa.array(emp & (rng.random(m) < 0.95)),
        "acct_balc": pa.array(opening[person].astype(np.int64)),
        "acct_credit": pa.array(credit.astype(np.int64)),
        "medfee_sumamt": pa.array(medfee),
        "fulamt_ownpay_amt": pa.array(fulamt),
        "overlmt_selfpay": pa.array(overlmt),
        "preselfpay_amt": pa.array(preselfpay),
        "inscp_scp_amt": pa.array(inscp),
    }
    return pa.Table.from_pydict(columns, schema=SCHEMA)
