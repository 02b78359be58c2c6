"""One test (or a few) per rule of the policy schema: a policy, a claim, the expected amounts."""

from __future__ import annotations

import pytest

from tests.helpers import acc, claim, policy, settle, yuan
from yibao.domain.errors import ClaimError, PolicyError

INPATIENT = """
[[policy.benefits]]
name = "住院"
med_types = ["21"]
pool = "inpatient"
ratios = [
  {{ ratio = 0.90, match = {{ hosp_lv = [1] }} }},
  {{ ratio = 0.85, match = {{ hosp_lv = [2], psn_type = ["11"] }} }},
  {{ ratio = 0.895, match = {{ hosp_lv = [2], psn_type = ["12"] }} }},
  {{ ratio = 0.80, match = {{ hosp_lv = [3] }} }},
]
{extra}
[policy.benefits.deductible]
period = "admission"
{deductible}
rows = [
  {{ amount = 0, match = {{ specialty = ["psychiatric"] }} }},
  {{ amount = 500, repeat_days = 90, match = {{ hosp_lv = [2] }} }},
  {{ amount = 1000 }},
]
"""


def inpatient(extra: str = "", deductible: str = "") -> str:
    return INPATIENT.format(extra=extra, deductible=deductible)


# ------------------------------------------------------------------ deductible (起付线)


def test_deductible_and_ratio_by_hospital_level_and_person_type() -> None:
    p = policy(inpatient())
    s = settle(p, claim("10000", hosp_lv=2, psn_type="1101"))
    assert (yuan(s, "act_pay_dedc"), yuan(s, "hifp_pay"), yuan(s, "pool_prop_selfpay")) == (
        "500.00",
        "8075.00",
        "1425.00",
    )
    retired = settle(p, claim("10000", hosp_lv=2, psn_type="1201"))
    assert yuan(retired, "hifp_pay") == "8502.50"  # (10000 - 500) × 89.5%
    level3 = settle(p, claim("10000", hosp_lv=3))
    assert (yuan(level3, "act_pay_dedc"), yuan(level3, "hifp_pay")) == ("1000.00", "7200.00")


def test_deductible_never_exceeds_the_in_policy_amount() -> None:
    s = settle(policy(inpatient()), claim("300", hosp_lv=2))
    assert (yuan(s, "act_pay_dedc"), yuan(s, "hifp_pay"), yuan(s, "psn_part_amt")) == (
        "300.00",
        "0.00",
        "300.00",
    )


def test_specialty_hospital_row_goes_first_and_charges_no_deductible() -> None:
    s = settle(policy(inpatient()), claim("10000", hosp_lv=2, specialty="psychiatric"))
    assert (yuan(s, "act_pay_dedc"), yuan(s, "hifp_pay")) == ("0.00", "8500.00")


def test_deductible_charged_again_for_every_further_90_days_of_one_stay() -> None:
    p = policy(inpatient())
    assert yuan(settle(p, claim("50000", los_days=90)), "act_pay_dedc") == "500.00"
    assert yuan(settle(p, claim("50000", los_days=91)), "act_pay_dedc") == "1000.00"
    assert yuan(settle(p, claim("50000", los_days=200)), "act_pay_dedc") == "1500.00"
    # an interim settlement already charged the first period: the final one charges the rest
    assert yuan(settle(p, claim("50000", los_days=100, stay_dedc_paid="500")), "act_pay_dedc") == "500.00"


def test_repeat_admissions_pay_a_fraction_of_the_deductible() -> None:
    p = policy(inpatient(deductible="admission_fractions = [1, 0.75, 0.5]"))
    assert yuan(settle(p, claim("10000", admission_seq=1)), "act_pay_dedc") == "500.00"
    assert yuan(settle(p, claim("10000", admission_seq=2)), "act_pay_dedc") == "375.00"
    assert yuan(settle(p, claim("10000", admission_seq=3)), "act_pay_dedc") == "250.00"
    assert yuan(settle(p, claim("10000", admission_seq=7)), "act_pay_dedc") == "250.00"


def test_annual_cap_on_deductibles() -> None:
    p = policy(inpatient(deductible="annual_cap = 1200"))
    s = settle(p, claim("10000", hosp_lv=3, acc={"inpatient.dedc": "500"}))
    assert yuan(s, "act_pay_dedc") == "700.00"
    assert acc(s, "inpatient.dedc") == "1200.00"
    done = settle(p, claim("10000", hosp_lv=3, acc={"inpatient.dedc": "1200"}))
    assert yuan(done, "act_pay_dedc") == "0.00"


OUTPATIENT_YEAR = """
[[policy.benefits]]
name = "门诊统筹"
med_types = ["11"]
pool = "outpatient"
ratios = [{ ratio = 0.5 }]
deductible = { period = "year", rows = [{ amount = 200 }] }
ceiling = { key = "outpatient_year", rows = [{ amount = 1000 }] }
"""


def test_annual_deductible_is_paid_once_a_year() -> None:
    p = policy(OUTPATIENT_YEAR)
    first = settle(p, claim("150", med_type="11"))
    assert (yuan(first, "act_pay_dedc"), yuan(first, "hifp_pay")) == ("150.00", "0.00")
    second = settle(p, claim("150", med_type="11", acc={"outpatient.dedc": "150"}))
    assert (yuan(second, "act_pay_dedc"), yuan(second, "hifp_pay")) == ("50.00", "50.00")
    assert acc(second, "outpatient.dedc") == "200.00"


def test_visit_deductible_is_charged_every_visit() -> None:
    p = policy(OUTPATIENT_YEAR.replace('period = "year"', 'period = "visit"'))
    s = settle(p, claim("300", med_type="11", acc={"outpatient.dedc": "2000"}))
    assert yuan(s, "act_pay_dedc") == "200.00"


# ------------------------------------------------------------------ ratios


def test_age_linked_ratio() -> None:
    p = policy(
        """
[[policy.benefits]]
name = "住院"
med_types = ["21"]
pool = "inpatient"
ratios = [{ ratio = 0.75, per_year_of_age = 0.002 }]
deductible = { period = "admission", rows = [] }
"""
    )
    assert yuan(settle(p, claim("1000", age=40)), "hifp_pay") == "830.00"
    assert yuan(settle(p, claim("1000", age=70)), "hifp_pay") == "890.00"
    assert yuan(settle(p, claim("1000", age=200)), "hifp_pay") == "1000.00"  # never above 100%


def test_downgrade_for_a_visit_flag() -> None:
    p = policy(inpatient(extra='adjustments = [{ flag = "no_referral", points = -0.15 }]'))
    s = settle(p, claim("10500", hosp_lv=2, flags=("no_referral",)))
    assert yuan(s, "hifp_pay") == "7000.00"  # (10500 - 500) × 70%
    assert yuan(settle(p, claim("10500", hosp_lv=2)), "hifp_pay") == "8500.00"


def test_first_fitting_row_picks_the_ratio_by_flag() -> None:
    p = policy(
        """
[[policy.benefits]]
name = "门诊"
med_types = ["11"]
pool = "outpatient"
ratios = [
  { ratio = 0.80, match = { flags = ["designated_community"] } },
  { ratio = 0.55, match = { flags = ["referral"] } },
  { ratio = 0.45 },
]
deductible = { period = "visit", rows = [] }
"""
    )
    assert yuan(settle(p, claim("100", med_type="11", flags=("designated_community",))), "hifp_pay") == "80.00"
    assert yuan(settle(p, claim("100", med_type="11", flags=("referral",))), "hifp_pay") == "55.00"
    assert yuan(settle(p, claim("100", med_type="11")), "hifp_pay") == "45.00"


BANDS = """
[[policy.benefits]]
name = "住院"
med_types = ["21"]
pool = "inpatient"
band_basis = "{basis}"
deductible = {{ period = "admission", rows = [] }}
ratios = [{{ bands = [
  {{ lower = 0, upper = 10000, ratio = 0.80 }},
  {{ lower = 10000, upper = 50000, ratio = 0.85 }},
  {{ lower = 50000, ratio = 0.90 }},
] }}]
"""


def test_spend_bands_over_the_visit() -> None:
    p = policy(BANDS.format(basis="visit"))
    s = settle(p, claim("60000", acc={"inpatient.eligible": "99999"}))
    assert yuan(s, "hifp_pay") == "51000.00"  # 8000 + 34000 + 9000


def test_spend_bands_over_the_year() -> None:
    p = policy(BANDS.format(basis="year"))
    s = settle(p, claim("20000", acc={"inpatient.eligible": "5000"}))
    assert yuan(s, "hifp_pay") == "16750.00"  # 5000 × 80% + 15000 × 85%
    assert acc(s, "inpatient.eligible") == "25000.00"


def test_no_ratio_row_for_the_visit_is_a_policy_error() -> None:
    p = policy(inpatient())
    with pytest.raises(PolicyError) as err:
        settle(p, claim("100", hosp_lv=2, psn_type="1501"))
    assert "ratios" in err.value.field


def test_med_type_outside_the_policy_is_refused() -> None:
    with pytest.raises(PolicyError) as err:
        settle(policy(inpatient()), claim("100", med_type="14"))
    assert err.value.field == "med_type"


# ------------------------------------------------------------------ ceilings (封顶线)

CEILING = """
[[policy.benefits]]
name = "住院"
med_types = ["21", "14"]
pool = "inpatient"
ratios = [{ ratio = 0.8 }]
deductible = { period = "admission", rows = [{ amount = 1000 }] }
ceiling = { key = "basic_year", rows = [
  { amount = 100000, match = { contrib_months_min = 12 } },
  { amount = 50000 },
] }
"""


def test_ceiling_reached_mid_claim() -> None:
    p = policy(CEILING)
    s = settle(p, claim("21000", contrib_months=24, acc={"basic_year": "90000"}))
    # 20000 eligible × 80% = 16000, but only 10000 of the ceiling is left
    assert yuan(s, "hifp_pay") == "10000.00"
    assert yuan(s, "pool_prop_selfpay") == "2500.00"  # the 20% co-pay on the 12500 the fund covered
    assert yuan(s, "psn_part_amt") == "11000.00"  # deductible 1000 + co-pay 2500 + 7500 above the ceiling
    assert acc(s, "basic_year") == "100000.00"
    assert s.setldetail[0].crt_payb_lmt_amt == 1_000_000


def test_ceiling_depends_on_months_of_contribution() -> None:
    p = policy(CEILING)
    short = settle(p, claim("101000", contrib_months=3))
    long = settle(p, claim("101000", contrib_months=12))
    assert (yuan(short, "hifp_pay"), yuan(long, "hifp_pay")) == ("50000.00", "80000.00")


def test_exhausted_ceiling_pays_nothing() -> None:
    s = settle(policy(CEILING), claim("5000", acc={"basic_year": "50000"}))
    assert (yuan(s, "hifp_pay"), yuan(s, "psn_part_amt")) == ("0.00", "5000.00")


def test_monthly_ceiling_uses_its_own_key() -> None:
    p = policy(
        """
[[policy.benefits]]
name = "门诊"
med_types = ["11"]
pool = "outpatient"
ratios = [{ ratio = 0.8 }]
deductible = { period = "visit", rows = [] }
ceiling = { key = "outpatient_month", period = "month", rows = [{ amount = 300 }] }
"""
    )
    s = settle(p, claim("500", med_type="11", acc={"outpatient_month": "250"}))
    assert (yuan(s, "hifp_pay"), acc(s, "outpatient_month")) == ("50.00", "300.00")


# ------------------------------------------------------------------ layers: 大病, 大额, 救助, 公务员

LAYERS = """
[[policy.benefits]]
name = "住院"
med_types = ["21"]
pool = "inpatient"
ratios = [{ ratio = 0.5 }]
deductible = { period = "admission", rows = [{ amount = 1000 }] }
ceiling = { key = "basic_year", rows = [{ amount = 20000 }] }

[[policy.layers]]
name = "大病保险"
key = "serious"
fund_pay_type = "390200"
setl_field = "hifmi_pay"
[[policy.layers.rows]]
threshold = 5000
basis = "BASIS"
segments = [{ lower = LOWER, upper = UPPER, ratio = 0.6 }, { lower = UPPER, ratio = 0.7 }]

[[policy.layers]]
name = "医疗救助"
key = "assistance"
fund_pay_type = "610100"
setl_field = "maf_pay"
[[policy.layers.rows]]
match = { idet_type = ["2301"] }  # 特困: no threshold, 100%, 1000 a year
basis = "above_threshold"
segments = [{ lower = 0, ratio = 1 }]
cap = 1000
[[policy.layers.rows]]
match = { idet_type = ["2303"] }  # 低保边缘: 3000 threshold, 70%
threshold = 3000
basis = "above_threshold"
segments = [{ lower = 0, ratio = 0.7 }]
cap = 100000
"""


def layers(basis: str = "cumulative") -> str:
    """Segments 60% then 70%, bounded at 15000 cumulative, or at 10000 above the 5000 threshold."""
    lower, upper = {"cumulative": ("5000", "15000"), "above_threshold": ("0", "10000")}[basis]
    return LAYERS.replace("BASIS", basis).replace("LOWER", lower).replace("UPPER", upper)


def test_serious_illness_pays_in_cumulative_segments() -> None:
    p = policy(layers(), insutype="390")
    s = settle(p, claim("21000", insutype="390", psn_type="1501"))
    # basic: (21000 - 1000) × 50% = 10000; burden 11000 → segment 5000–11000 at 60% = 3600
    assert (yuan(s, "hifp_pay"), yuan(s, "hifmi_pay")) == ("10000.00", "3600.00")
    assert yuan(s, "psn_part_amt") == "7400.00"
    later = settle(p, claim("21000", insutype="390", psn_type="1501", acc={"serious.base": "11000"}))
    # year so far 11000 → 22000: 4000 at 60% + 7000 at 70%
    assert yuan(later, "hifmi_pay") == "7300.00"
    assert later.segments["serious"] == (240000, 490000)


def test_serious_illness_on_the_amount_above_the_threshold() -> None:
    p = policy(layers("above_threshold"), insutype="390")
    s = settle(p, claim("21000", insutype="390", psn_type="1501", acc={"serious.base": "11000"}))
    # above the threshold: 6000 → 17000: 4000 at 60% + 7000 at 70%
    assert yuan(s, "hifmi_pay") == "7300.00"


def test_medical_assistance_by_category_after_serious_illness() -> None:
    p = policy(layers(), insutype="390")
    s = settle(p, claim("21000", insutype="390", psn_type="1501", idet_types=("2303",)))
    # burden after 大病: 11000 - 3600 = 7400; 低保边缘: (7400 - 3000) × 70% = 3080
    assert (yuan(s, "maf_pay"), yuan(s, "psn_part_amt")) == ("3080.00", "4320.00")
    poorest = settle(p, claim("21000", insutype="390", psn_type="1501", idet_types=("2301",)))
    assert yuan(poorest, "maf_pay") == "1000.00"  # 100%, but capped at 1000 a year
    assert acc(poorest, "assistance.paid") == "1000.00"
    nobody = settle(p, claim("21000", insutype="390", psn_type="1501"))
    assert yuan(nobody, "maf_pay") == "0.00"


def test_employee_large_amount_pays_only_above_the_basic_ceiling() -> None:
    p = policy(
        CEILING
        + """
[[policy.layers]]
name = "职工大额"
key = "large"
fund_pay_type = "330100"
setl_field = "hifob_pay"
base = "over_ceiling"
rows = [{ segments = [{ lower = 0, ratio = 0.9 }], cap = 400000 }]
"""
    )
    s = settle(p, claim("21000", acc={"basic_year": "40000"}))
    # eligible 20000; ceiling left 10000 covers 12500 of it; 7500 above the ceiling × 90% = 6750
    assert (yuan(s, "hifp_pay"), yuan(s, "hifob_pay")) == ("10000.00", "6750.00")
    assert yuan(s, "psn_part_amt") == "4250.00"
    below = settle(p, claim("21000"))
    assert yuan(below, "hifob_pay") == "0.00"


def test_civil_servant_supplement_matches_the_civil_servant_flag() -> None:
    p = policy(
        inpatient()
        + """
[[policy.layers]]
name = "公务员医疗补助"
key = "cvlserv"
fund_pay_type = "320100"
setl_field = "cvlserv_pay"
rows = [{ segments = [{ lower = 0, ratio = 0.5 }], match = { flags = ["cvlserv"] } }]
"""
    )
    s = settle(p, claim("10500", hosp_lv=2, cvlserv_flag=True))
    assert yuan(s, "cvlserv_pay") == "1000.00"  # half of deductible 500 + co-pay 1500
    assert yuan(settle(p, claim("10500", hosp_lv=2)), "cvlserv_pay") == "0.00"


# ------------------------------------------------------------------ personal account (个人账户)

ACCOUNT = """
account = {{ covers = {covers}, med_types = ["11", "21"] }}
[[policy.benefits]]
name = "门诊"
med_types = ["11", "13"]
pool = "outpatient"
ratios = [{{ ratio = 0.5 }}]
deductible = {{ period = "visit", rows = [] }}
"""


def test_account_pays_the_personal_share_up_to_its_balance() -> None:
    p = policy(ACCOUNT.format(covers='["in_policy", "fulamt"]'))
    s = settle(p, claim("1000", med_type="11", acct_balc="300"))
    assert (yuan(s, "acct_pay"), yuan(s, "psn_cash_pay"), yuan(s, "balc")) == ("300.00", "200.00", "0.00")


def test_account_pays_only_what_the_policy_lets_it() -> None:
    from decimal import Decimal

    from yibao.domain.claim import Amounts

    p = policy(ACCOUNT.format(covers='["in_policy"]'))
    bill = Amounts(medfee_sumamt=Decimal(1200), fulamt_ownpay_amt=Decimal(200), inscp_scp_amt=Decimal(1000))
    s = settle(p, claim(med_type="11", acct_balc="5000", amounts=bill))
    assert (yuan(s, "acct_pay"), yuan(s, "psn_cash_pay"), yuan(s, "balc")) == ("500.00", "200.00", "4500.00")


def test_account_not_used_when_the_visit_says_so_or_for_other_med_types() -> None:
    p = policy(ACCOUNT.format(covers='["in_policy"]'))
    assert yuan(settle(p, claim("1000", med_type="11", acct_balc="900", acct_used_flag=False)), "acct_pay") == "0.00"
    assert yuan(settle(p, claim("1000", med_type="13", acct_balc="900")), "acct_pay") == "0.00"


def test_no_account_section_means_no_account() -> None:
    s = settle(policy(inpatient()), claim("1000", acct_balc="900"))
    assert yuan(s, "acct_pay") == "0.00"


# ------------------------------------------------------------------ claim checks


def test_claim_insutype_must_match_the_policy() -> None:
    with pytest.raises(ClaimError) as err:
        settle(policy(inpatient()), claim("100", insutype="390"))
    assert err.value.field == "person.insutype"


def test_negative_accumulator_is_refused() -> None:
    with pytest.raises(ClaimError) as err:
        settle(policy(inpatient()), claim("100", acc={"inpatient.dedc": "-1"}))
    assert err.value.field == "accumulators.inpatient.dedc"


def test_chronic_outpatient_has_its_own_deductible_ratio_and_cap() -> None:
    p = policy(
        CEILING.replace('med_types = ["21", "14"]', 'med_types = ["21"]')
        + """
[[policy.benefits]]
name = "门诊慢特病"
med_types = ["14"]
pool = "chronic"
ratios = [{ ratio = 0.5 }]
deductible = { period = "year", rows = [{ amount = 200 }] }
ceiling = { key = "chronic_year", rows = [{ amount = 3000 }] }
"""
    )
    s = settle(p, claim("1200", med_type="14", acc={"basic_year": "50000", "chronic_year": "2800"}))
    # its own deductible 200 and 50%, within its own 3000 cap, untouched by the spent inpatient ceiling
    assert (yuan(s, "act_pay_dedc"), yuan(s, "hifp_pay")) == ("200.00", "200.00")
    assert (acc(s, "chronic.dedc"), acc(s, "chronic_year"), acc(s, "basic_year")) == (
        "200.00",
        "3000.00",
        "50000.00",
    )
