"""The vectorised replay (yibao.analytics.replay) gives the real-time calculator's answer, claim by claim.

The reference is ``domain.settlement.calculate`` itself, called once per claim in each person's order, with
the year-to-date counters it returned last time (kept per period as the settlement service keeps them:
monthly ceilings by month, the rest by year) and the account balance it left plus the month's transfer.
The claims are the replay generator's (yibao.sim.replay_claims), filtered to what each policy covers.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from yibao.analytics.replay import OUTCOME_FIELDS, Claims, Replay, ReplayError, Vocab
from yibao.analytics.simulation import claims_from_table
from yibao.domain.catalog import EMPTY_CATALOG
from yibao.domain.claim import Amounts, Claim, Person, Visit
from yibao.domain.money import Fen, fen_to_yuan
from yibao.domain.policy import Policy
from yibao.domain.settlement import calculate
from yibao.files.loader import load_policy, parse_policy
from yibao.sim.replay_claims import chunk

ROOT = Path(__file__).resolve().parents[2]
EPOCH = date(1970, 1, 1)

EVERYTHING = """
[policy]
admdvs = "999999"
insutype = "310"
name = "测试：每一种规则"
begndate = 2000-01-01
fund_pay_type = "310100"
account = { med_types = ["11", "21"], covers = ["in_policy", "preselfpay"] }

[[policy.benefits]]
name = "住院"
med_types = ["21"]
pool = "inpatient"
band_basis = "year"
ratios = [
  { match = { psn_type = ["11"] }, bands = [
    { lower = 0, upper = 8000, ratio = 0.815 },
    { lower = 8000, upper = 30000, ratio = 0.877 },
    { lower = 30000, ratio = 0.93 },
  ] },
  { ratio = 0.6, per_year_of_age = 0.0033 },
]
adjustments = [{ flag = "no_referral", points = -0.15 }, { flag = "cross_region_temporary", points = -0.05 }]
first_selfpay = [
  { share = 0.1, match = { flags = ["cross_region_referral"] } },
  { share = 0.37, match = { flags = ["cross_region_unfiled"] } },
]
[policy.benefits.deductible]
period = "admission"
admission_fractions = [1, 0.5, 0.333]
annual_cap = 1500
rows = [
  { amount = 0, match = { specialty = ["psychiatric"] } },
  { amount = 777.77, repeat_days = 15, match = { specialty = ["tuberculosis"] } },
  { amount = 300, match = { hosp_lv = [1] } },
  { amount = 650.5, match = { hosp_lv = [2], contrib_months_min = 120 } },
  { amount = 900 },
]
[policy.benefits.ceiling]
key = "basic_year"
rows = [{ amount = 12000, match = { age_min = 60 } }, { amount = 25000 }]

[[policy.benefits]]
name = "门诊"
med_types = ["11"]
pool = "outpatient"
ratios = [
  { ratio = 0.8, match = { flags = ["designated_community"] } },
  { ratio = 0.55, match = { age_max = 17 } },
  { ratio = 0.5 },
]
adjustments = [{ flag = "cross_region_emergency", points = -0.2 }]
deductible = { period = "year", rows = [{ amount = 200, match = { psn_type = ["12"] } }, { amount = 500 }] }
ceiling = { key = "outpatient_month", period = "month", rows = [{ amount = 250 }] }

[[policy.benefits]]
name = "药店"
med_types = ["41"]
pool = "pharmacy"
ratios = [{ ratio = 0.25 }]
deductible = { period = "visit", rows = [{ amount = 30 }] }
ceiling = { key = "pharmacy_visit", period = "visit", rows = [{ amount = 40 }] }

[[policy.layers]]
name = "大额（累计分段）"
key = "large"
fund_pay_type = "310200"
setl_field = "hifmi_pay"
base = "personal_burden"
[[policy.layers.rows]]
threshold = 3000
basis = "cumulative"
segments = [{ lower = 3000, upper = 10000, ratio = 0.55 }, { lower = 10000, ratio = 0.75 }]
cap = 9000

[[policy.layers]]
name = "超封顶（超出部分）"
key = "over"
fund_pay_type = "330100"
setl_field = "hifob_pay"
base = "over_ceiling"
med_types = ["21"]
[[policy.layers.rows]]
threshold = 500
basis = "above_threshold"
segments = [{ lower = 0, upper = 2000, ratio = 0.5 }, { lower = 2000, ratio = 0.85 }]

[[policy.layers]]
name = "公务员补助（同一累计）"
key = "large"
fund_pay_type = "320100"
setl_field = "cvlserv_pay"
[[policy.layers.rows]]
match = { flags = ["cvlserv"] }
segments = [{ lower = 0, ratio = 0.3 }]
cap = 4000
"""


def forever(policy: Policy) -> Policy:
    """In force on every day of the claims (the replay does not look at validity dates; calculate does)."""
    return replace(policy, begndate=date(2000, 1, 1), enddate=None)


def claims_table(persons: int, seed: int, insutype: str, med_types: tuple[str, ...], year: int = 2024) -> pa.Table:
    table = chunk(0, persons, year, np.random.default_rng([seed, 0]))
    keep = pc.and_(
        pc.equal(table["insutype"].cast(pa.string()), insutype),
        pc.is_in(table["med_type"].cast(pa.string()), pa.array(med_types)),
    )
    return table.filter(keep)


def replayed(table: pa.Table, policy: Policy) -> tuple[Claims, Vocab, dict[str, np.ndarray], np.ndarray]:
    vocab = Vocab()
    claims, _ = claims_from_table(table, vocab)
    claims.check()
    replay = Replay([policy], vocab)
    layout = replay.lay_out(claims)
    outcome = replay.run(layout, policy)
    amounts = {name: layout.original(values) for name, values in outcome.amounts.items()}
    return claims, vocab, amounts, layout.original(outcome.ceiling_reached)


def calculated(claims: Claims, vocab: Vocab, policy: Policy) -> dict[str, list[Fen]]:
    """Each claim through calculate(), the counters and the balance carried from the one before."""
    words = vocab.values
    out: dict[str, list[Fen]] = {name: [] for name in OUTCOME_FIELDS}
    stored: dict[tuple[str, str], Fen] = {}
    balance = 0
    for i in range(len(claims)):
        day = EPOCH + timedelta(days=int(claims.day[i]))
        if i == 0 or claims.psn_no[i] != claims.psn_no[i - 1]:
            stored, balance = {}, int(claims.acct_balc[i])
        balance += int(claims.acct_credit[i])
        before = {key: v for (key, period), v in stored.items() if policy.counter_period(key, day) == period}
        claim = Claim(
            person=Person(
                psn_no=str(claims.psn_no[i]),
                insutype=policy.insutype,
                psn_type=words["psn_type"][claims.psn_type[i]],
                age=int(claims.age[i]),
                idet_types=tuple(words["idet_types"][claims.idet_types[i]].split()),
                contrib_months=int(claims.contrib_months[i]),
                cvlserv_flag=bool(claims.cvlserv_flag[i]),
                acct_balc=fen_to_yuan(balance),
            ),
            visit=Visit(
                med_type=words["med_type"][claims.med_type[i]],
                hosp_lv=int(claims.hosp_lv[i]),
                setl_date=day,
                specialty=words["specialty"][claims.specialty[i]],
                admission_seq=int(claims.admission_seq[i]),
                los_days=int(claims.los_days[i]),
                stay_dedc_paid=fen_to_yuan(int(claims.stay_dedc_paid[i])),
                flags=tuple(words["flags"][claims.flags[i]].split()),
                acct_used_flag=bool(claims.acct_used_flag[i]),
            ),
            amounts=Amounts(
                medfee_sumamt=fen_to_yuan(int(claims.medfee_sumamt[i])),
                fulamt_ownpay_amt=fen_to_yuan(int(claims.fulamt_ownpay_amt[i])),
                overlmt_selfpay=fen_to_yuan(int(claims.overlmt_selfpay[i])),
                preselfpay_amt=fen_to_yuan(int(claims.preselfpay_amt[i])),
                inscp_scp_amt=fen_to_yuan(int(claims.inscp_scp_amt[i])),
            ),
            accumulators={key: fen_to_yuan(v) for key, v in before.items()},
        )
        result = calculate(claim, policy, EMPTY_CATALOG)
        for key, value in result.accumulators.items():
            stored[(key, policy.counter_period(key, day))] = value
        balance = result.setlinfo.balc
        for name in OUTCOME_FIELDS:
            out[name].append(getattr(result.setlinfo, name))
    return out


CASES: dict[str, tuple[Path | str, str, tuple[str, ...], int]] = {
    # policy file or text, insutype, med_types it covers, persons
    "guangzhou-2021": (ROOT / "examples/guangzhou/employee-2021.toml", "310", ("11", "21"), 1300),
    "guangzhou-resident": (ROOT / "examples/guangzhou/resident-illustrative.toml", "390", ("11", "21"), 2000),
    "qingpu": (ROOT / "examples/qingpu/employee-2024.toml", "310", ("11", "21", "41"), 700),
    "wujiang": (ROOT / "examples/wujiang/employee-2024.toml", "310", ("11", "21", "41"), 700),
    "everything": (EVERYTHING, "310", ("11", "21", "41"), 1300),
}


FEATURES = {
    "guangzhou-2021": ["ceiling", "account", "deductible"],
    "guangzhou-resident": ["ceiling", "layers", "deductible"],
    "qingpu": ["account", "deductible"],
    "wujiang": ["ceiling", "account", "deductible"],
    "everything": ["ceiling", "layers", "account", "deductible"],
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_replay_equals_the_calculator_claim_by_claim(case: str) -> None:
    source, insutype, med_types, persons = CASES[case]
    policy = forever(load_policy(source) if isinstance(source, Path) else parse_policy(source))
    table = claims_table(persons, seed=len(case), insutype=insutype, med_types=med_types)
    claims, vocab, amounts, reached = replayed(table, policy)
    expected = calculated(claims, vocab, policy)
    assert len(claims) >= 2000
    for name in OUTCOME_FIELDS:
        got = amounts[name].tolist()
        wrong = [i for i, (a, b) in enumerate(zip(got, expected[name], strict=True)) if a != b]
        assert not wrong, (
            f"{case} {name}: claim {wrong[0]}: replay {got[wrong[0]]}, calculate {expected[name][wrong[0]]}"
        )
    # the claims reach the rules that matter: ceilings are met, layers and the account pay
    features = {
        "ceiling": bool(reached.any()),
        "layers": bool((amounts["fund_pay_sumamt"] > amounts["hifp_pay"]).any()),
        "account": bool(amounts["acct_pay"].any()),
        "deductible": bool(amounts["act_pay_dedc"].any()),
    }
    assert [name for name, seen in features.items() if seen] == FEATURES[case]


def test_counters_start_again_each_year_and_month_as_the_service_keeps_them() -> None:
    """Claims from July to June: the year's counters start again on 1 January, the monthly ceiling's each month."""
    policy = forever(parse_policy(EVERYTHING))
    table = claims_table(800, seed=11, insutype="310", med_types=("11", "21", "41"))
    later = pa.array(table["setl_date"].to_numpy() + np.timedelta64(182, "D"), pa.date32())
    table = table.set_column(table.schema.get_field_index("setl_date"), "setl_date", later)
    claims, vocab, amounts, _ = replayed(table, policy)
    assert {(EPOCH + timedelta(days=int(d))).year for d in claims.day} == {2024, 2025}
    expected = calculated(claims, vocab, policy)
    assert {name: values.tolist() for name, values in amounts.items()} == expected


def test_the_sample_is_more_than_ten_thousand_claims() -> None:
    total = 0
    for _, insutype, med_types, persons in CASES.values():
        total += claims_table(persons, seed=0, insutype=insutype, med_types=med_types).num_rows
    assert total >= 10_000


def test_a_small_case_by_hand() -> None:
    """One person, three stays under a year deductible of 1,000, 80%, a ceiling of 10,000 and a layer that
    pays 50% of the year's burden above 2,000:

    1. 5,000 in policy: deductible 1,000, fund 3,200, copay 800; burden 1,800 (below 2,000): layer 0.
    2. 8,000: no deductible left, fund 6,400, copay 1,600; burden so far 3,400: layer 50% × 1,400 = 700.
    3. 2,000: the fund would pay 1,600 but only 400 of the ceiling is left; covered 2,000 × 400 / 1,600 = 500,
       copay 100, above the ceiling 1,500; burden 1,600 more: layer 800.
    """
    policy = parse_policy(
        """
[policy]
admdvs = "999999"
insutype = "390"
name = "手算"
begndate = 2024-01-01
fund_pay_type = "390100"
[[policy.benefits]]
name = "住院"
med_types = ["21"]
pool = "inpatient"
ratios = [{ ratio = 0.8 }]
deductible = { period = "year", rows = [{ amount = 1000 }] }
ceiling = { key = "basic", rows = [{ amount = 10000 }] }
[[policy.layers]]
name = "大病"
key = "serious"
fund_pay_type = "390200"
setl_field = "hifmi_pay"
[[policy.layers.rows]]
threshold = 2000
segments = [{ lower = 2000, ratio = 0.5 }]
"""
    )
    inscp = [500_000, 800_000, 200_000]
    table = pa.table(
        {
            "psn_no": [7, 7, 7],
            "insutype": ["390"] * 3,
            "setl_date": [date(2024, 3, 1), date(2024, 6, 1), date(2024, 9, 1)],
            "med_type": ["21"] * 3,
            "hosp_lv": [2] * 3,
            "psn_type": ["1501"] * 3,
            "age": [50] * 3,
            "medfee_sumamt": inscp,
            "fulamt_ownpay_amt": [0] * 3,
            "overlmt_selfpay": [0] * 3,
            "preselfpay_amt": [0] * 3,
            "inscp_scp_amt": inscp,
        }
    )
    claims, vocab, amounts, reached = replayed(table, policy)
    assert amounts["act_pay_dedc"].tolist() == [100_000, 0, 0]
    assert amounts["hifp_pay"].tolist() == [320_000, 640_000, 40_000]
    assert amounts["pool_prop_selfpay"].tolist() == [80_000, 160_000, 10_000]
    assert amounts["hifmi_pay"].tolist() == [0, 70_000, 80_000]
    assert amounts["psn_cash_pay"].tolist() == [180_000, 90_000, 80_000]
    assert reached.tolist() == [False, False, True]
    assert calculated(claims, vocab, policy) == {name: values.tolist() for name, values in amounts.items()}


def test_what_the_replay_cannot_take_is_refused_by_name() -> None:
    policy = forever(load_policy(ROOT / "examples/guangzhou/employee-2021.toml"))  # no pharmacy benefit
    table = claims_table(200, seed=3, insutype="310", med_types=("11", "21", "41"))
    with pytest.raises(ReplayError, match="med_type: 41 不在"):
        replayed(table, policy)
    unsorted = table.take(pa.array(list(range(table.num_rows))[::-1]))
    vocab = Vocab()
    claims, _ = claims_from_table(unsorted, vocab)
    with pytest.raises(ReplayError, match=r"psn_no: row \d+: claims must be sorted"):
        claims.check()
    bad = table.set_column(table.schema.get_field_index("inscp_scp_amt"), "inscp_scp_amt",
                           pc.add(table["inscp_scp_amt"], 1))  # fmt: skip
    claims, _ = claims_from_table(bad, Vocab())
    with pytest.raises(ReplayError, match="medfee_sumamt: row 0: ≠"):
        claims.check()
    policy = parse_policy(EVERYTHING.replace("{ ratio = 0.5 },", "{ ratio = 0.5, match = { hosp_lv = [7] } },"))
    with pytest.raises(ReplayError, match="ratios: 没有适用"):
        replayed(claims_table(100, seed=4, insutype="310", med_types=("11",)), forever(policy))


def test_money_taken_out_of_the_account_between_claims() -> None:
    """A negative acct_credit (a manual claim paid from the account, a transfer out) lowers the balance the
    next claim sees, never below an empty account: pharmacy purchases of 30 the account pays in full."""
    policy = forever(load_policy(ROOT / "examples/guangzhou/employee-2022-12.toml"))
    table = pa.table(
        {
            "psn_no": [5, 5, 5],
            "insutype": ["310"] * 3,
            "setl_date": [date(2024, 3, 1), date(2024, 4, 1), date(2024, 5, 1)],
            "med_type": ["41"] * 3,
            "hosp_lv": [0] * 3,
            "psn_type": ["1101"] * 3,
            "age": [40] * 3,
            "medfee_sumamt": [3_000] * 3,
            "fulamt_ownpay_amt": [0] * 3,
            "overlmt_selfpay": [0] * 3,
            "preselfpay_amt": [0] * 3,
            "inscp_scp_amt": [3_000] * 3,
            "acct_balc": [10_000, 0, 0],
            "acct_credit": [0, -5_000, -1_000],
        }
    )
    _, _, amounts, _ = replayed(table, policy)
    assert amounts["acct_pay"].tolist() == [3_000, 2_000, 0]
    assert amounts["balc"].tolist() == [7_000, 0, 0]
    assert amounts["psn_cash_pay"].tolist() == [0, 1_000, 3_000]
