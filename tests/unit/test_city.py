"""The synthetic city's generator, without a database: valid ID numbers, the same city from the same
seed, a believable population, a catalogue and diagnoses the loaders and the traffic can use."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from yibao.files import load_catalog, load_policy
from yibao.sim.city import (
    AS_OF,
    POLICY_DIR,
    PersonBatch,
    PersonMaker,
    catalogue,
    catalogue_toml,
    city_data,
    diagnoses,
    id_check_digit,
    id_number_valid,
    institution_counts,
    make_institutions,
)

N = 4000


def people(seed: int = 1, n: int = N, batch: int = 1000) -> PersonBatch:
    maker = PersonMaker(city_data(), "440100", seed, AS_OF)
    out = PersonBatch()
    for start in range(0, n, batch):
        b = maker.batch(start, min(batch, n - start))
        out.person += b.person
        out.insurance += b.insurance
        out.identity += b.identity
        out.accounts += b.accounts
    return out


@pytest.fixture(scope="module")
def city() -> PersonBatch:
    return people()


def age_on(brdy: str, day: date) -> int:
    born = date.fromisoformat(brdy)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def test_check_digit_follows_gb_11643() -> None:
    assert id_check_digit("11010519491231002") == "X"  # the standard's own example
    assert id_number_valid("11010519491231002X")
    assert not id_number_valid("110105194912310021")
    assert not id_number_valid("11010519491231002")


def test_id_numbers_are_valid_unique_and_agree_with_the_person(city: PersonBatch) -> None:
    districts = {d.admdvs for d in city_data().districts}
    certnos = [row[2] for row in city.person]
    assert len(set(certnos)) == N
    for psn_no, cert_type, certno, name, gend, brdy, _, _, _ in city.person:
        assert cert_type == "01"
        assert id_number_valid(certno), certno
        assert certno[:6] in districts
        assert certno[6:14] == brdy.replace("-", "")
        assert int(certno[16]) % 2 == (1 if gend == "1" else 0), certno  # odd for men, even for women
        assert 2 <= len(name) <= 3
        assert re.fullmatch(r"44010001\d{12}", psn_no)
    assert len({row[0] for row in city.person}) == N
    assert len({row[7] for row in city.person if row[7]}) == sum(1 for row in city.person if row[7])  # card numbers


def test_the_same_seed_builds_the_same_city_whatever_the_batch_size() -> None:
    a, b, c = people(7, 1500, 1500), people(7, 1500, 400), people(8, 1500, 1500)
    for field in ("person", "insurance", "identity", "accounts"):
        assert getattr(a, field) == getattr(b, field)
    assert a.person != c.person
    assert make_institutions(city_data(), 40, 7) == make_institutions(city_data(), 40, 7)
    assert make_institutions(city_data(), 40, 7) != make_institutions(city_data(), 40, 8)
    assert catalogue_toml("440100", "v") == catalogue_toml("440100", "v")


def test_sex_age_and_insurance_mix_are_believable(city: PersonBatch) -> None:
    gend = {row[0]: row[4] for row in city.person}
    brdy = {row[0]: date.fromisoformat(row[5]) for row in city.person}
    age = {row[0]: age_on(row[5], AS_OF) for row in city.person}
    assert 0.45 < sum(1 for g in gend.values() if g == "1") / N < 0.58
    assert all(0 <= a <= 100 for a in age.values())
    assert 30 < sum(age.values()) / N < 45

    types = Counter(row[2] for row in city.insurance)
    share = {t: n / N for t, n in types.items()}
    assert set(types) <= {"1101", "1102", "1103", "1201", "1402", "1403", "1404", "1405", "1501"}
    assert 0.35 < share["1101"] + share["1102"] + share["1103"] < 0.60  # employees in service
    assert 0.005 < share["1102"] < 0.05 and 0.02 < share["1103"] < 0.12
    assert 0.08 < share["1201"] < 0.22  # retired
    assert 0.08 < share["1501"] < 0.25  # adult residents
    assert 0.12 < sum(v for t, v in share.items() if t.startswith("14")) < 0.30  # students and minors
    assert all(types[t] for t in ("1402", "1403", "1404", "1405"))

    for psn_no, insutype, psn_type, stas, region, insu_date, paused, cvlserv, emp, months in city.insurance:
        a = age[psn_no]
        assert region == "440100" and stas in ("1", "2")
        assert insutype == ("310" if psn_type[:2] in ("11", "12") else "390")
        assert cvlserv == (psn_type == "1102")
        assert date.fromisoformat(insu_date) <= AS_OF and months >= 0
        assert (paused is not None) == (stas == "2")
        if psn_type == "1402":
            assert a <= 5
        elif psn_type in ("1403", "1405"):
            assert 6 <= a <= 17
        elif psn_type == "1404":
            assert 18 <= a <= 22
        elif psn_type == "1201":
            assert a >= 50 and months >= 12
        elif psn_type.startswith("11"):
            assert 18 <= a < 60 and emp
        assert date.fromisoformat(insu_date) > brdy[psn_no]  # insured after birth


def test_medical_assistance_identities_and_opening_balances(city: PersonBatch) -> None:
    insutype = {row[0]: row[1] for row in city.insurance}
    assert {row[1] for row in city.identity} <= {"2301", "2302", "2303"}
    assert all(insutype[row[0]] == "390" for row in city.identity)
    residents = sum(1 for v in insutype.values() if v == "390")
    assert 0.005 < len(city.identity) / residents < 0.04

    employees = sum(1 for v in insutype.values() if v == "310")
    assert all(code.startswith("acct:") and insutype[code[5:]] == "310" for code, _ in city.accounts)
    assert 0.9 < len(city.accounts) / employees <= 1.0  # a few employees start with an empty account
    balances = [fen for _, fen in city.accounts]
    assert all(isinstance(fen, int) and 0 < fen <= 5_000_000 for fen in balances)
    assert 100_000 < sorted(balances)[len(balances) // 2] < 600_000  # a median of 1,000–6,000 yuan


def test_institutions_of_every_level_and_pharmacies() -> None:
    assert institution_counts(1307) == {"3": 78, "2": 157, "1": 680, "P": 392}
    assert all(n >= 1 for n in institution_counts(4).values())
    insts, pracs = make_institutions(city_data(), 60, 1)
    districts = {d.admdvs for d in city_data().districts}
    assert len({i.fixmedins_code for i in insts}) == 60
    for i in insts:
        assert re.fullmatch(r"[HP]\d{11}", i.fixmedins_code) and i.fixmedins_code[1:7] in districts
        assert (i.fixmedins_code[0] == "P") == (i.fixmedins_type == "2") == (i.hosp_lv == 0)
        assert int(i.fixmedins_code[7:]) >= 101  # clear of the demo registry's H44010600001
    assert {i.hosp_lv for i in insts} == {0, 1, 2, 3}
    owners = {p.fixmedins_code for p in pracs}
    assert owners == {i.fixmedins_code for i in insts}
    assert len({p.prac_code for p in pracs}) == len(pracs)
    assert all(p.dept_code for p in pracs if p.prac_code.startswith("D"))


def test_the_catalogue_loads_with_the_ordinary_loader(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(catalogue_toml("440100", "city-test"), encoding="utf-8")
    loaded = load_catalog(path)
    assert 200 <= len(loaded.items) == len(catalogue()) <= 500
    by_type = Counter(item.list_type.value for item in loaded.items.values())
    assert by_type["101"] > 100 and by_type["201"] > 40 and by_type["301"] > 10
    assert {item.chrgitm_lv.value for item in loaded.items.values()} == {"01", "02", "03"}
    for code, item in loaded.items.items():
        if item.list_type.value == "101":
            assert re.fullmatch(r"[XZ][0-9A-Z]{21,22}", code), code
        elif item.list_type.value == "201":
            assert re.fullmatch(r"\d{15}", code), code
        else:
            assert re.fullmatch(r"C\d{19}", code), code
        if item.chrgitm_lv.value == "02":
            assert 0 < item.selfpay_prop < 1
    assert sum(1 for i in loaded.items.values() if i.pric_uplmt_amt is not None) >= 10
    # the demo catalogue's items keep their codes, so the demo conversations still settle in a city
    demo = load_catalog(POLICY_DIR / "catalog.toml")
    assert set(demo.items) <= set(loaded.items)


def test_diagnoses_are_icd10_codes_the_traffic_can_draw() -> None:
    dx = diagnoses()
    assert len(dx) >= 50 and len({d.code for d in dx}) == len(dx)
    for d in dx:
        assert re.fullmatch(r"[A-Z]\d{2}\.[\dx]\d{2}", d.code), d.code
        assert d.name and d.age_min <= d.age_max and d.stay_lo <= d.stay_hi
    assert any(d.code == "K35.800" and d.operation for d in dx)
    assert sum(d.inpatient_weight for d in dx) > 0 and sum(d.outpatient_weight for d in dx) > 0


def test_the_resident_policy_says_it_is_illustrative() -> None:
    path = POLICY_DIR / "resident-illustrative.toml"
    policy = load_policy(path)
    assert (policy.admdvs, policy.insutype.value, policy.fund_pay_type.value) == ("440100", "390", "390100")
    assert policy.account is None
    assert "示意" in policy.name
    body = path.read_text(encoding="utf-8")
    assert "NOT VERIFIED" in body and "Not verified" in body
    assert {m for b in policy.benefits for m in b.med_types} >= {"11", "21"}
