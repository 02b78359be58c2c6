"""The synthetic city: a reproducible pooling region written straight into yibao's database.

``build_city(url, region="440100", persons=N, institutions=M, seed=S)`` writes

- the region, its institutions (hospitals of levels 1–3 and pharmacies, coded H/P + the district's
  admdvs + a serial, all registered under the city's admdvs because policies and the catalogue are
  per pooling region) and their practitioners in the national 科别 departments;
- N insured persons with a realistic sex and age structure and insurance mix (employees in service
  1101/1102/1103, retired 1201, residents 1501, students 1403/1404, minors 1402/1405), 18-digit ID
  numbers of the region's districts with a valid GB 11643 check digit, synthetic Chinese names, social
  security card numbers, some residents in 医疗救助 categories (2301/2302/2303), and the employees'
  opening personal-account balances as opening ledger postings (opening:personal_accounts → acct:<psn_no>,
  exactly as ``yibao load-registry`` brings them in, with the accounts' cumulative totals);
- the catalogue (a few hundred drugs, services and consumables from ``city_data.toml``), written as a
  catalogue file and loaded with the ordinary loader, and the region's policies (the Guangzhou employee
  files and the illustrative resident file in examples/guangzhou).

Persons are generated and written in batches (never all in memory): COPY on PostgreSQL, big
``executemany`` batches in one transaction on SQLite. The same seed gives the same rows, whatever the
batch size; ``as_of`` is the date the city describes (ages, contribution months, balances).
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
import queue
import random
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Engine, insert, select

from yibao.domain.frozen import frozen
from yibao.domain.ledger import Code, opening_account
from yibao.store import loading, migrate
from yibao.store import tables as t
from yibao.store.database import Database
from yibao.store.engine import make_engine
from yibao.store.personal import STORED_COLUMNS, PersonalData, personal_for, sealed_batches

DATA_FILE = Path(__file__).with_name("city_data.toml")
POLICY_DIR = Path(__file__).resolve().parents[3] / "examples" / "guangzhou"
POLICY_FILES = ("employee-2021.toml", "employee-2022-12.toml", "resident-illustrative.toml")
REFERENCE_FILE = "reference.toml"
"""The national reference lists (diagnoses, operations, 门诊慢特病种 ...): the same sample as the tests load."""
AS_OF = date(2026, 1, 1)
"""The day the default city describes: ages, contribution months and opening balances are as of it."""

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): stages "setup", "institutions", "persons", "indexes"."""

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
INPATIENT_MED_TYPES = ("21", "22", "23", "24", "25")
OPENING = opening_account("personal_accounts")


def id_check_digit(first17: str) -> str:
    """GB 11643-1999: the 18th character of a citizen ID number (ISO 7064 MOD 11-2)."""
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def id_number_valid(certno: str) -> bool:
    return len(certno) == 18 and certno[:17].isdigit() and id_check_digit(certno[:17]) == certno[17]


# ---------------------------------------------------------------------------------------- the data file


@frozen
class District:
    admdvs: str
    name: str
    population: int
    places: tuple[str, ...]


@frozen
class CatalogueEntry:
    """A catalogue item with how a HIS bills it (price range, counts, where, for which diagnoses)."""

    med_list_codg: str
    name: str
    list_type: str
    chrgitm_lv: str
    selfpay_prop: Decimal
    price_cap: Decimal | None
    price_lo: Decimal
    price_hi: Decimal
    cnt_lo: int
    cnt_hi: int
    settings: str
    """o outpatient, i inpatient, p pharmacy."""
    tags: frozenset[str]
    daily: bool
    """Billed for every day of a stay."""
    sex: str | None = None
    min_hosp_lv: int | None = None
    inpatient_only: bool = False
    max_cnt: int | None = None
    age_min: int | None = None
    age_max: int | None = None
    dx_prefixes: tuple[str, ...] = ()
    """限适应症: ICD-10 prefixes ("dx=E10,E11")."""
    max_cnt_per_day: int | None = None
    """At most this many a day ("day=N")."""
    max_days: int | None = None
    """Days of supply a line may carry ("days=N")."""
    insutypes: tuple[str, ...] = ()
    """限生育 "insu=510", 限工伤 "insu=work_injury"."""


@frozen
class Diagnosis:
    """An ICD-10 医保版 diagnosis and how often it is seen, for whom, and what a stay for it involves."""

    code: str
    name: str
    outpatient_weight: int
    inpatient_weight: int
    tags: frozenset[str]
    operation: str
    stay_lo: int
    stay_hi: int
    sex: str
    age_min: int
    age_max: int

    def fits(self, gend: str, age: int) -> bool:
        return (not self.sex or self.sex == gend) and self.age_min <= age <= self.age_max


@frozen
class CityData:
    admdvs: str
    name: str
    districts: tuple[District, ...]
    surnames: str
    male_given: str
    female_given: str
    ages: tuple[tuple[int, int, int], ...]
    companies: tuple[str, ...]
    industries: tuple[str, ...]
    agencies: tuple[str, ...]
    departments: tuple[tuple[str, str, frozenset[str]], ...]
    catalogue: tuple[CatalogueEntry, ...]
    diagnoses: tuple[Diagnosis, ...]
    city: str = "广州市"
    """The city institution and employer names start with."""
    short: str = "广州"


@frozen
class OtherRegion:
    """A pooling region other than the data file's, for the multi-region demo (`yibao demo --regions 3`):
    one district, the same people, catalogue and diagnoses, its own policies from examples/."""

    name: str
    city: str
    short: str
    district: District
    policy_dir: Path
    policy_files: tuple[str, ...]


EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
OTHER_REGIONS = {
    "310118": OtherRegion(
        "上海市青浦区", "上海市", "青浦",
        District("310118", "青浦区", 127, ("朱家角", "练塘", "金泽", "赵巷", "徐泾", "华新", "重固", "白鹤", "夏阳")),
        EXAMPLES / "qingpu", ("employee-2024.toml",),
    ),
    "320509": OtherRegion(
        "苏州市吴江区", "苏州市", "吴江",
        District("320509", "吴江区", 154, ("松陵", "盛泽", "震泽", "同里", "黎里", "平望", "七都", "桃源", "汾湖")),
        EXAMPLES / "wujiang", ("employee-2024.toml",),
    ),
}  # fmt: skip
"""Regions a city can be built for besides Guangzhou (populations in 10,000s, 7th census, 2020). Their
examples hold only the employees' policy (310): their residents are built but cannot settle."""


def regions() -> tuple[str, ...]:
    """The regions ``build_city`` can build."""
    return (city_data().admdvs, *OTHER_REGIONS)


@cache
def city_data(region: str = "") -> CityData:
    """The data file's city, or (``region`` one of OTHER_REGIONS) the same made over for that region."""
    base = _city_data()
    if not region or region == base.admdvs:
        return base
    other = OTHER_REGIONS.get(region)
    if other is None:
        raise ValueError(f"region {region}: only {', '.join(regions())} have districts and policies to build")
    return replace(base, admdvs=region, name=other.name, districts=(other.district,), city=other.city,
                   short=other.short)  # fmt: skip


@cache
def _city_data() -> CityData:
    raw = tomllib.loads(DATA_FILE.read_text(encoding="utf-8"), parse_float=Decimal)
    region, people = raw["region"], raw["people"]
    places = {admdvs: tuple(names.split()) for admdvs, names in region["places"]}
    return CityData(
        admdvs=region["admdvs"],
        name=region["name"],
        districts=tuple(District(a, n, int(p), places[a]) for a, n, p in region["districts"]),
        surnames=people["surnames"],
        male_given=people["male_given"],
        female_given=people["female_given"],
        ages=tuple((int(lo), int(hi), int(w)) for lo, hi, w in people["ages"]),
        companies=tuple(people["companies"].split()),
        industries=tuple(people["industries"].split()),
        agencies=tuple(people["agencies"].split()),
        departments=tuple((c, n, frozenset(g.split())) for c, n, g in raw["hospital"]["departments"]),
        catalogue=tuple(_catalogue(raw["catalogue"])),
        diagnoses=tuple(
            Diagnosis(c, n, int(wo), int(wi), frozenset(g.split()), op, int(lo), int(hi), sex, int(amin), int(amax))
            for c, n, wo, wi, g, op, lo, hi, sex, amin, amax in raw["medicine"]["diagnoses"]
        ),
    )


def diagnoses() -> tuple[Diagnosis, ...]:
    """The diagnoses the traffic simulator draws from (ICD-10 医保版 codes with names)."""
    return city_data().diagnoses


def catalogue() -> tuple[CatalogueEntry, ...]:
    """The city's catalogue, with how each item is billed."""
    return city_data().catalogue


CLASSES = {"甲": "01", "乙": "02", "丙": "03"}


def _catalogue(raw: dict[str, Any]) -> Iterator[CatalogueEntry]:
    serial = itertools.count(1)
    groups = (("drugs", "101", "X", 23), ("patent", "101", "Z", 23), ("services", "201", "", 15),
              ("consumables", "301", "C", 20))  # fmt: skip
    seen: set[str] = set()
    for group, list_type, letter, length in groups:
        for n, (code, name, cls, prop, cap, lo, hi, cnt_lo, cnt_hi, where, tags, flags) in enumerate(raw[group], 1):
            s = next(serial)
            if len(code) >= length - 2:  # a full national code, kept as it is
                full = code
            elif list_type == "101":  # X/Z + group(5) + name(4) + form(4) + spec(4) + maker(5)
                form = "B002" if "注射" in name else "A001"
                full = f"{letter}{code}A{n:03d}{form}0101{s * 7919 % 100000:05d}"
            elif list_type == "201":  # "00" + the 9-digit item + "0000"
                full = f"00{code}0000"
            else:  # C + group(4) + item(3) + 12 digits
                full = f"C{code}{n:03d}{s * 104729 % 10**12:012d}"
            assert full not in seen, full
            seen.add(full)
            words = flags.split()
            options = dict(w.split("=", 1) for w in words if "=" in w)
            age_min = next((int(w[5:]) for w in words if w.startswith("age>=")), None)
            age_max = next((int(w[5:]) for w in words if w.startswith("age<=")), None)
            yield CatalogueEntry(
                med_list_codg=full,
                name=name,
                list_type=list_type,
                chrgitm_lv=CLASSES[cls],
                selfpay_prop=Decimal(str(prop)),
                price_cap=Decimal(str(cap)) if cap else None,
                price_lo=Decimal(str(lo)),
                price_hi=Decimal(str(hi)),
                cnt_lo=int(cnt_lo),
                cnt_hi=int(cnt_hi),
                settings=where,
                tags=frozenset(tags.split()),
                daily="daily" in words,
                sex=options.get("sex"),
                min_hosp_lv=int(options["lv"]) if "lv" in options else None,
                inpatient_only="ipt" in words,
                max_cnt=int(options["cnt"]) if "cnt" in options else None,
                age_min=age_min,
                age_max=age_max,
                dx_prefixes=tuple(options["dx"].split(",")) if "dx" in options else (),
                max_cnt_per_day=int(options["day"]) if "day" in options else None,
                max_days=int(options["days"]) if "days" in options else None,
                insutypes=tuple(options["insu"].split(",")) if "insu" in options else (),
            )


def catalogue_toml(admdvs: str, version: str) -> str:
    """The catalogue as a catalogue file (docs/policy-files.md), for ``yibao load-catalog``."""
    out = [
        "# The synthetic city's catalogue, written by `yibao sim city` from src/yibao/sim/city_data.toml.",
        "# Names are real generic names; classes, 先行自付 shares and price caps are illustrative.",
        f'admdvs = "{admdvs}"',
        f'version = "{version}"',
    ]
    for item in catalogue():
        out += ["", "[[items]]", f'med_list_codg = "{item.med_list_codg}"',
                f"name = {json.dumps(item.name, ensure_ascii=False)}", f'list_type = "{item.list_type}"',
                f'chrgitm_lv = "{item.chrgitm_lv}"']  # fmt: skip
        if item.chrgitm_lv == "02" and item.selfpay_prop:
            out.append(f"selfpay_prop = {item.selfpay_prop}")
        if item.price_cap is not None:
            out.append(f"pric_uplmt_amt = {item.price_cap}")
        limits = []
        if item.sex:
            limits.append(f'sex = "{item.sex}"')
        if item.age_min is not None:
            limits.append(f"age_min = {item.age_min}")
        if item.age_max is not None:
            limits.append(f"age_max = {item.age_max}")
        if item.max_cnt is not None:
            limits.append(f"max_cnt_per_visit = {item.max_cnt}")
        if item.min_hosp_lv is not None:
            limits.append(f"min_hosp_lv = {item.min_hosp_lv}")
        if item.inpatient_only:
            limits.append("med_types = [" + ", ".join(f'"{m}"' for m in INPATIENT_MED_TYPES) + "]")
        if item.dx_prefixes:
            limits.append("dx_prefixes = [" + ", ".join(f'"{d}"' for d in item.dx_prefixes) + "]")
        if item.max_cnt_per_day is not None:
            limits.append(f"max_cnt_per_day = {item.max_cnt_per_day}")
        if item.max_days is not None:
            limits.append(f"max_days = {item.max_days}")
        if item.insutypes:
            limits.append("insutypes = [" + ", ".join(f'"{i}"' for i in item.insutypes) + "]")
        if limits:
            out.append("restrictions = { " + ", ".join(limits) + " }")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------- institutions


@frozen
class Institution:
    fixmedins_code: str
    fixmedins_name: str
    fixmedins_type: str
    hosp_lv: int
    specialty: str
    district: str


@frozen
class Practitioner:
    prac_code: str
    prac_name: str
    fixmedins_code: str
    dept_code: str


def institution_counts(total: int) -> dict[str, int]:
    """How many of ``total`` are level-3, level-2, level-1 hospitals and pharmacies (at least one each from 4)."""
    if total < 4:
        order = ("2", "P", "3")
        return {kind: int(kind in order[:total]) for kind in ("3", "2", "1", "P")}
    n3 = max(1, (total * 6 + 50) // 100)
    n2 = max(1, (total * 12 + 50) // 100)
    np_ = max(1, (total * 30 + 50) // 100)
    return {"3": n3, "2": n2, "1": total - n3 - n2 - np_, "P": np_}


PHARMACY_BRANDS = ("穗康", "百草堂", "仁心", "济民", "华康", "益寿", "康宁", "惠民", "民安", "福寿")
PRACTITIONERS = {"3": 30, "2": 12, "1": 4, "P": 1}
FIRST_SERIAL = 101
"""Institution and practitioner serials of a district start here: the demo registry's 00001–00099 stay free."""


def make_institutions(data: CityData, total: int, seed: int) -> tuple[list[Institution], list[Practitioner]]:
    rng = random.Random(f"{seed}:institutions")
    weights = list(itertools.accumulate(d.population for d in data.districts))
    serials = {d.admdvs: {"H": FIRST_SERIAL, "P": FIRST_SERIAL, "D": FIRST_SERIAL, "Y": FIRST_SERIAL}
               for d in data.districts}  # fmt: skip
    institutions: list[Institution] = []
    practitioners: list[Practitioner] = []
    for kind, count in institution_counts(total).items():
        for i in range(count):
            d = data.districts[bisect.bisect_right(weights, rng.random() * weights[-1])]
            place = rng.choice(d.places)
            letter = "P" if kind == "P" else "H"
            code = f"{letter}{d.admdvs}{serials[d.admdvs][letter]:05d}"
            serials[d.admdvs][letter] += 1
            specialty = ""
            if kind == "3":
                if i % 12 == 11:
                    specialty, name = "psychiatric", f"{data.city}{place}精神卫生中心"
                elif i % 20 == 19:
                    specialty, name = "tuberculosis", f"{data.city}{place}胸科医院"
                else:
                    name = rng.choice((f"{data.short}{place}医院", f"{data.city}{d.name}{place}人民医院",
                                       f"{data.short}{place}中医医院", f"{d.name}{place}妇幼保健院"))  # fmt: skip
            elif kind == "2":
                name = rng.choice(
                    (f"{d.name}{place}医院", f"{data.short}{place}中西医结合医院", f"{d.name}第{i + 2}人民医院")
                )
            elif kind == "1":
                name = rng.choice((f"{d.name}{place}街社区卫生服务中心", f"{d.name}{place}镇卫生院",
                                   f"{d.name}{place}门诊部"))  # fmt: skip
            else:
                name = f"{rng.choice(PHARMACY_BRANDS)}大药房（{place}{i + 1}店）"
            inst = Institution(code, name, "2" if kind == "P" else "1", 0 if kind == "P" else int(kind), specialty,
                               d.admdvs)  # fmt: skip
            institutions.append(inst)
            depts = _departments(data, kind, specialty)
            for k in range(PRACTITIONERS[kind]):
                role = "Y" if kind == "P" else "D"
                prac_code = f"{role}{d.admdvs}{serials[d.admdvs][role]:06d}"
                serials[d.admdvs][role] += 1
                gend = rng.choice("12")
                dept = "" if kind == "P" else depts[k % len(depts)]
                practitioners.append(Practitioner(prac_code, person_name(rng, data, gend), code, dept))
    return institutions, practitioners


def _departments(data: CityData, kind: str, specialty: str) -> list[str]:
    if specialty == "psychiatric":
        return ["A15", "A03"]
    if specialty == "tuberculosis":
        return ["A17", "A03"]
    if kind == "1":
        return ["A02", "A03", "A07", "A50"]
    if kind == "2":
        return ["A03", "A04", "A05", "A07", "A20", "A02", "A50", "A10", "A11", "A12", "A13"]
    return [code for code, _, _ in data.departments if code not in ("A15", "A17")]


def person_name(rng: random.Random, data: CityData, gend: str) -> str:
    surname = data.surnames[min(int(rng.random() ** 2.2 * len(data.surnames)), len(data.surnames) - 1)]
    pool = data.male_given if gend == "1" else data.female_given
    given = rng.choice(pool) if rng.random() < 0.25 else rng.choice(pool) + rng.choice(pool)
    return surname + given


# ---------------------------------------------------------------------------------------- persons


@dataclass(slots=True)
class PersonBatch:
    """Rows of one batch, in the column order of the tables (dates as ISO text, booleans as bool)."""

    person: list[tuple[Any, ...]] = field(default_factory=list)
    insurance: list[tuple[Any, ...]] = field(default_factory=list)
    identity: list[tuple[Any, ...]] = field(default_factory=list)
    accounts: list[tuple[str, int]] = field(default_factory=list)
    """(acct:<psn_no>, opening balance in fen) for balances above zero."""
    voucher: list[tuple[Any, ...]] = field(default_factory=list)
    """Activated electronic vouchers (VOUCHER_COLUMNS)."""


PERSON_COLUMNS = ("psn_no", "psn_cert_type", "certno", "psn_name", "gend", "brdy", "naty", "card_no", "card_sn")
"""The rows PersonMaker makes, in clear; they are stored sealed (STORED_COLUMNS, yibao.store.personal)."""
PERSON_MARKS = ", ".join("?" * len(STORED_COLUMNS))
INSURANCE_COLUMNS = ("psn_no", "insutype", "psn_type", "psn_insu_stas", "insuplc_admdvs", "psn_insu_date",
                     "paus_insu_date", "cvlserv_flag", "emp_name", "contrib_months")  # fmt: skip
IDENTITY_COLUMNS = ("psn_no", "psn_idet_type", "begntime", "endtime", "memo")
IDENTITY_MEMO = {"2301": "特困供养人员", "2302": "低保对象", "2303": "低保边缘家庭成员"}
VOUCHER_COLUMNS = ("ec_index_no", "psn_no", "device_id", "status", "activated_at", "updated_at")
VOUCHER_SHARES = ((15, 0.03), (40, 0.45), (60, 0.35), (200, 0.15))
"""(up to this age, share of persons with an activated electronic voucher): the young activate it in an
app, the old mostly show a card (about 3 in 10 in all, the adoption gap the console shows)."""
VOUCHER_SUSPENDED = 0.01
BALANCE_BUCKETS = {  # opening balance in yuan: (share in 1/1000, low, high)
    "work": ((30, 0, 0), (270, 1, 1_000), (400, 1_000, 5_000), (220, 5_000, 15_000), (80, 15_000, 50_000)),
    "retired": ((30, 0, 0), (370, 1, 2_000), (450, 2_000, 8_000), (150, 8_000, 30_000)),
}
CARD_LETTERS = "ABCDEFGHJKLMN"


def psn_no_of(region: str, index: int) -> str:
    """The i-th person of a city (0-based): admdvs + "01" + 12 digits, clear of the demo registry's numbers."""
    return f"{region}01{index + 1:012d}"


class PersonMaker:
    """Generates the city's persons in order; the same seed gives the same persons."""

    def __init__(self, data: CityData, region: str, seed: int, as_of: date) -> None:
        self.data = data
        self.region = region
        self.as_of = as_of
        self.rng = random.Random(f"{seed}:persons")
        self.voucher_rng = random.Random(f"{seed}:vouchers")  # its own stream: the persons stay as they were
        self.base = as_of.toordinal()
        self.districts = data.districts
        self.district_cum = list(itertools.accumulate(d.population for d in data.districts))
        self.district_sums = [sum(int(c) * w for c, w in zip(d.admdvs, ID_WEIGHTS[:6], strict=True))
                              for d in data.districts]  # fmt: skip
        self.age_cum = list(itertools.accumulate(w for _, _, w in data.ages))
        self.surname_n = len(data.surnames)
        self.taken: dict[int, int] = {}
        """(district, birth date, sex) → ID numbers given out: the sequence code of the next one."""
        self.days: dict[int, tuple[str, str, int]] = {}
        self.months: dict[int, str] = {}
        self.company_names = [f"{data.short}{c}{i}" for c in data.companies for i in data.industries]

    def day(self, ordinal: int) -> tuple[str, str, int]:
        """(ISO date, YYYYMMDD, the date's share of the ID check sum) of a day, kept once made."""
        got = self.days.get(ordinal)
        if got is None:
            d = date.fromordinal(ordinal)
            compact = f"{d:%Y%m%d}"
            got = (d.isoformat(), compact, sum(int(c) * w for c, w in zip(compact, ID_WEIGHTS[6:14], strict=True)))
            self.days[ordinal] = got
        return got

    def first_of_month(self, months_back: int) -> str:
        """The first day of the month ``months_back`` months before as_of's month."""
        got = self.months.get(months_back)
        if got is None:
            y, m = divmod(self.as_of.year * 12 + self.as_of.month - 1 - months_back, 12)
            got = self.months[months_back] = date(y, m + 1, 1).isoformat()
        return got

    def batch(self, start: int, count: int) -> PersonBatch:
        out = PersonBatch()
        rng, data, region = self.rng, self.data, self.region
        rand = rng.random
        days = self.days
        ages, age_cum, total_age = data.ages, self.age_cum, self.age_cum[-1]
        dist_cum, total_pop = self.district_cum, self.district_cum[-1]
        surnames, n_surnames = data.surnames, self.surname_n
        male_given, female_given = data.male_given, data.female_given
        n_male, n_female = len(male_given), len(female_given)
        for index in range(start, start + count):
            psn_no = f"{region}01{index + 1:012d}"
            # sex, age and birth date
            male = rand() < 0.515
            lo, hi, _ = ages[bisect.bisect_right(age_cum, rand() * total_age)]
            age = lo + int(rand() * (hi - lo + 1))
            ordinal = self.base - age * 365 - age // 4 - 1 - int(rand() * 365)
            district = bisect.bisect_right(dist_cum, rand() * total_pop)
            # ID number: area, birth date, a sequence code odd for men and even for women, check digit
            while True:
                key = ((district * 100_000 + self.base - ordinal) << 1) | male
                k = self.taken.get(key, 0)
                if k < 500:
                    break
                ordinal -= 1  # this day of this district is full for this sex: the day before
            self.taken[key] = k + 1
            seq = (k * 7 + key) % 500 * 2 + male
            iso, compact, day_sum = days.get(ordinal) or self.day(ordinal)
            s = self.district_sums[district] + day_sum + (seq // 100) * 8 + (seq // 10 % 10) * 4 + (seq % 10) * 2
            certno = f"{self.districts[district].admdvs}{compact}{seq:03d}{ID_CHECK[s % 11]}"
            gend = "1" if male else "2"
            # name
            surname = surnames[min(int(rand() ** 2.2 * n_surnames), n_surnames - 1)]
            if male:
                given = male_given[int(rand() * n_male)]
                if rand() < 0.75:
                    given += male_given[int(rand() * n_male)]
            else:
                given = female_given[int(rand() * n_female)]
                if rand() < 0.75:
                    given += female_given[int(rand() * n_female)]
            # social security card: most insured have one
            if rand() < 0.97:
                n = (index * 7919 + 104_729) % 100_000_000
                card_no: str | None = f"{CARD_LETTERS[n % 13]}{n:08d}"
                card_sn: str | None = f"{region}D156000005{index % 1_000_000_000:09d}"
            else:
                card_no = card_sn = None
            out.person.append((psn_no, "01", certno, surname + given, gend, iso, "01", card_no, card_sn))
            self._insurance(out, psn_no, male, age, iso, district)
            self._voucher(out, psn_no, age)
        return out

    def _voucher(self, out: PersonBatch, psn_no: str, age: int) -> None:
        """An electronic voucher activated on some day of the two years before as_of, for a share by age."""
        rand = self.voucher_rng.random
        if rand() >= next(share for top, share in VOUCHER_SHARES if age <= top):
            return
        bits = self.voucher_rng.getrandbits
        ago = timedelta(seconds=1 + self.voucher_rng.randrange(730 * 86400))
        at = datetime(self.as_of.year, self.as_of.month, self.as_of.day) - ago
        stamp = f"{at:%Y-%m-%d %H:%M:%S}.000000"
        status = "2" if rand() < VOUCHER_SUSPENDED else "1"
        out.voucher.append((f"{self.region}EC{bits(96):024X}", psn_no, f"sim-{bits(48):012x}", status, stamp, stamp))

    def _insurance(self, out: PersonBatch, psn_no: str, male: bool, age: int, brdy: str, district: int) -> None:
        rng, region = self.rng, self.region
        rand = rng.random
        retire_age = 60 if male else 50
        if age <= 5:
            psn_type = "1402"
        elif age <= 17:
            psn_type = "1403" if rand() < 0.96 else "1405"
        elif age <= 22:
            r = rand()
            psn_type = "1404" if r < 0.45 else ("1501" if r < 0.65 else "employee")
        elif age < retire_age:
            psn_type = "employee" if rand() < 0.80 else "1501"
        else:
            psn_type = "1201" if rand() < 0.75 else "1501"
        if psn_type == "employee":
            r = rand()
            psn_type = "1101" if r < 0.84 else ("1103" if r < 0.96 else "1102")
        # whole months from the first of the month after the birthday to as_of's month
        born_months_ago = (self.as_of.year - int(brdy[:4])) * 12 + self.as_of.month - int(brdy[5:7]) - 1
        if psn_type[:2] in ("11", "12"):
            # contributing since 20–25, not before 1994; retirees stopped at retirement
            start_back = max(0, min(born_months_ago - (20 + int(rand() * 6)) * 12 - int(rand() * 12),
                                    (self.as_of.year - 1994) * 12 + self.as_of.month - 1))  # fmt: skip
            if start_back == 0:
                start_back = 1 + int(rand() * 6)
            months = start_back
            if psn_type == "1201":
                months = max(12, start_back - max(0, born_months_ago - retire_age * 12))
            stas, paused = "1", None
            if psn_type in ("1101", "1103") and rand() < 0.006:
                stas, paused = "2", self.first_of_month(1 + int(rand() * 24))
            company = self.company_names[int(rand() * len(self.company_names))]
            if psn_type == "1102":
                agencies = self.data.agencies
                emp = f"{self.data.city}{self.districts[district].name}{agencies[int(rand() * len(agencies))]}"
            elif psn_type == "1103":
                emp = "灵活就业人员"
            else:
                emp = company
            out.insurance.append((psn_no, "310", psn_type, stas, region, self.first_of_month(start_back), paused,
                                  psn_type == "1102", emp, months))  # fmt: skip
            buckets = BALANCE_BUCKETS["retired" if psn_type == "1201" else "work"]
            r = int(rand() * 1000)
            bucket = buckets[-1]
            for candidate in buckets:
                if r < candidate[0]:
                    bucket = candidate
                    break
                r -= candidate[0]
            _, low, high = bucket
            if high > 0:
                fen = low * 100 + (rng.getrandbits(32) * (high - low) * 100 >> 32) + 1  # integer fen
                out.accounts.append((f"acct:{psn_no}", fen))
        else:
            # residents since birth (children) or for a number of years, not before 2008
            since = min(born_months_ago, (self.as_of.year - 2008) * 12 + self.as_of.month - 1)
            start_back = since if age < 18 else 1 + int(rand() * max(1, since))
            out.insurance.append((psn_no, "390", psn_type, "1", region, self.first_of_month(start_back), None, False,
                                  "", start_back))  # fmt: skip
            if rand() < 0.02:
                r = rand()
                idet = "2301" if r < 0.1 else ("2302" if r < 0.7 else "2303")
                out.identity.append((psn_no, idet, f"{self.as_of.year - int(rand() * 6)}-01-01", None,
                                     IDENTITY_MEMO[idet]))  # fmt: skip


# ---------------------------------------------------------------------------------------- writing


@dataclass
class CityReport:
    region: str
    seed: int
    counts: dict[str, int]
    seconds: float
    database: str

    @property
    def rows(self) -> int:
        """Rows written: a person's opening balance is a ledger account and a transfer."""
        c = self.counts
        kinds = ("regions", "policies", "catalogue", "reference", "institutions", "practitioners", "persons",
                 "insurance", "identities", "vouchers")  # fmt: skip
        return sum(c.get(k, 0) for k in kinds) + 2 * c["accounts"]

    def lines(self) -> list[str]:
        c = self.counts
        return [
            f"city {self.region} (seed {self.seed}) in {self.database}: {self.seconds:.1f} s, "
            f"{self.rows:,} rows ({self.rows / max(self.seconds, 1e-9):,.0f} rows/s)",
            f"  {c['persons']:,} persons with {c['insurance']:,} insurance records, {c['identities']:,} 医疗救助 "
            f"identities and {c['accounts']:,} opening personal accounts; {c.get('vouchers', 0):,} electronic "
            f"vouchers activated",
            f"  {c['institutions']:,} institutions ({c['pharmacies']:,} pharmacies), {c['practitioners']:,} "
            f"practitioners",
            f"  {c['catalogue']:,} catalogue items, {c.get('reference', 0):,} reference list rows, "
            f"{c['policies']:,} policies",
        ]


class CityExists(RuntimeError):
    """The database already holds (part of) this city."""


def build_city(
    db_url: str | None,
    region: str = "440100",
    persons: int = 200_000,
    institutions: int = 130,
    seed: int = 1,
    progress: Progress | None = None,
    *,
    batch_size: int = 20_000,
    as_of: date = AS_OF,
    policy_dir: Path | None = None,
    work_dir: Path | None = None,
) -> CityReport:
    """Build a synthetic city into the database at ``db_url`` (migrated first); see the module docstring.

    ``work_dir`` keeps the catalogue file written on the way (a temporary directory otherwise). ``region``:
    Guangzhou, or one of OTHER_REGIONS with the policies of its examples/ folder (``policy_dir`` replaces
    the folder the policy files are read from).
    """
    data = city_data(region)
    other = OTHER_REGIONS.get(region)
    policy_files = other.policy_files if other else POLICY_FILES
    policy_dir = policy_dir or (other.policy_dir if other else POLICY_DIR)
    if persons < 0 or institutions < 1 or batch_size < 1:
        raise ValueError("persons must be ≥ 0, institutions and batch_size ≥ 1")
    report = progress or (lambda stage, done, total: None)
    started = time.perf_counter()
    engine = make_engine(db_url)
    db = Database(engine)
    try:
        report("setup", 0, 1)
        migrate.upgrade(engine)
        insts, pracs = make_institutions(data, institutions, seed)
        _refuse_existing(engine, region, insts)
        counts = {"regions": 0}
        with engine.begin() as conn:
            if conn.execute(select(t.region.c.admdvs).where(t.region.c.admdvs == region)).first() is None:
                conn.execute(insert(t.region).values(admdvs=region, name=data.name))
                counts["regions"] = 1
        counts["policies"] = len([loading.load_policy_file(db, policy_dir / name) for name in policy_files])
        with tempfile.TemporaryDirectory(prefix="yibao-city-") as tmp:
            folder = work_dir or Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"catalog-{region}.toml"
            path.write_text(catalogue_toml(region, f"city-{region}-1"), encoding="utf-8")
            counts["catalogue"] = loading.load_catalog_file(db, path)
        counts["reference"] = sum(loading.load_reference_file(db, POLICY_DIR / REFERENCE_FILE).values())
        report("setup", 1, 1)
        report("institutions", 0, len(insts))
        with engine.begin() as conn:
            conn.execute(insert(t.institution), [
                {"fixmedins_code": i.fixmedins_code, "fixmedins_name": i.fixmedins_name, "fixmedins_type":
                 i.fixmedins_type, "hosp_lv": i.hosp_lv, "specialty": i.specialty, "admdvs": region, "status": "1"}
                for i in insts
            ])  # fmt: skip
            conn.execute(insert(t.practitioner), [
                {"prac_code": p.prac_code, "prac_name": p.prac_name, "fixmedins_code": p.fixmedins_code,
                 "dept_code": p.dept_code}
                for p in pracs
            ])  # fmt: skip
        counts["institutions"] = len(insts)
        counts["pharmacies"] = sum(1 for i in insts if i.fixmedins_type == "2")
        counts["practitioners"] = len(pracs)
        report("institutions", len(insts), len(insts))
        maker = PersonMaker(data, region, seed, as_of)
        # ID numbers, names and card numbers are sealed on the way (yibao.store.personal), in worker
        # processes for a big city (one per core: measured faster than leaving one to this process)
        workers = min(4, os.cpu_count() or 1) if persons >= 50_000 else 0
        batches = _sealed(_batches(maker, persons, batch_size), personal_for(engine.url), workers)
        created = datetime(as_of.year, as_of.month, as_of.day)
        posting = f"opening-city-{region}-{seed}"
        write = _write_postgres if engine.dialect.name == "postgresql" else _write_sqlite
        counts.update(write(engine, batches, posting, created, persons, report))
        db.cache.invalidate()
        return CityReport(region, seed, counts, time.perf_counter() - started, engine.url.render_as_string())
    finally:
        db.dispose()


def _refuse_existing(engine: Engine, region: str, insts: Sequence[Institution]) -> None:
    with engine.connect() as conn:
        person = conn.execute(select(t.person.c.psn_no).where(t.person.c.psn_no == psn_no_of(region, 0))).first()
        codes = [i.fixmedins_code for i in insts]
        clash = conn.execute(
            select(t.institution.c.fixmedins_code).where(t.institution.c.fixmedins_code.in_(codes[:1000])).limit(1)
        ).first()
    if person is not None or clash is not None:
        found = person[0] if person is not None else clash[0] if clash is not None else ""
        raise CityExists(f"the database already holds a city of {region} ({found}): build into a fresh database")


def _batches(maker: PersonMaker, persons: int, size: int) -> Iterator[tuple[int, PersonBatch]]:
    """(persons done after it, the batch), in order."""
    for start in range(0, persons, size):
        count = min(size, persons - start)
        yield start + count, maker.batch(start, count)


def _sealed(batches: Iterator[tuple[int, PersonBatch]], personal: PersonalData, workers: int
            ) -> Iterator[tuple[int, PersonBatch]]:  # fmt: skip
    """The batches with their person rows as stored (STORED_COLUMNS): sealed, with lookup hashes."""
    for (done, b), rows in sealed_batches(personal, batches, lambda item: item[1].person, workers=workers):
        b.person = rows
        yield done, b


T = TypeVar("T")


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


def prefetched(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """``items`` made by a thread of their own, at most ``depth`` ahead of the consumer.

    The database driver waits for the server without the GIL, so the next batch is generated while
    the server stores this one; memory stays bounded by the queue.
    """
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failed(exc))

    thread = threading.Thread(target=run, name="city-generator", daemon=True)
    thread.start()
    try:
        while True:
            got = q.get()
            if got is _DONE:
                return
            if isinstance(got, _Failed):
                raise got.exc
            yield cast(T, got)
    finally:
        stop.set()
        thread.join(timeout=10)


Counts = dict[str, int]
Transfers = list[tuple[str, str, str, int, str, str]]
Loaded = Iterator[tuple[int, PersonBatch, Transfers]]
BULK_TABLES = ("person", "insurance", "identity", "ledger_account", "ledger_transfer")
TRANSFER_COLUMNS = ("posting_id", "debit_account", "credit_account", "amount", "code", "created_at")


def _with_transfers(batches: Iterator[tuple[int, PersonBatch]], posting: str, stamp: str) -> Loaded:
    """Each batch with its opening transfers: one posting per batch, one transfer per account."""
    for n, (done, b) in enumerate(batches):
        pid = f"{posting}-{n:05d}"
        yield done, b, [(pid, OPENING, code, fen, Code.OPENING, stamp) for code, fen in b.accounts]


def _tally(counts: Counts, b: PersonBatch) -> int:
    counts["persons"] += len(b.person)
    counts["insurance"] += len(b.insurance)
    counts["identities"] += len(b.identity)
    counts["accounts"] += len(b.accounts)
    counts["vouchers"] += len(b.voucher)
    return sum(fen for _, fen in b.accounts)


def _write_postgres(engine: Engine, batches: Iterator[tuple[int, PersonBatch]], posting: str, created: datetime,
                    total: int, report: Progress) -> Counts:  # fmt: skip
    """COPY, batch by batch, in one transaction on the engine's raw psycopg connection.

    Into an empty person table the foreign keys and secondary indexes of the loaded tables are dropped
    first and made again at the end, in the same transaction (building an index once is many times
    cheaper than growing it row by row); they come back exactly as they were (pg_get_constraintdef,
    pg_indexes).
    """
    counts = {"persons": 0, "insurance": 0, "identities": 0, "accounts": 0, "vouchers": 0}
    opening_total = 0
    stamp = f"{created:%Y-%m-%d %H:%M:%S}"

    def bodies(loaded: Loaded) -> Iterator[tuple[int, PersonBatch, list[tuple[str, Sequence[str], str]]]]:
        for finished, b, transfers in loaded:
            copies = [("person", STORED_COLUMNS, _copy_body(b.person)),
                      ("insurance", INSURANCE_COLUMNS, _copy_body(b.insurance)),
                      ("identity", IDENTITY_COLUMNS, _copy_body(b.identity)),
                      ("ledger_account", ("code", "debits_posted", "credits_posted"),
                       "".join(f"{code}\t0\t{fen}\n" for code, fen in b.accounts)),
                      ("ledger_transfer", TRANSFER_COLUMNS, _copy_body(transfers)),
                      ("voucher", VOUCHER_COLUMNS, _copy_body(b.voucher))]  # fmt: skip
            yield finished, b, [c for c in copies if c[2]]

    raw = engine.raw_connection()
    try:
        pg: Any = raw.driver_connection
        with pg.cursor() as cur:
            cur.execute("SET LOCAL synchronous_commit = off")
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
            bulk = cur.execute("SELECT NOT EXISTS (SELECT 1 FROM person)").fetchone()[0]
            foreign_keys: list[tuple[str, str, str]] = []
            indexes: list[tuple[str, str]] = []
            if bulk:
                foreign_keys = cur.execute(
                    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)",
                    (list(BULK_TABLES),),
                ).fetchall()
                indexes = cur.execute(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                    "AND tablename = ANY(%s) AND indexname NOT IN (SELECT conname FROM pg_constraint)",
                    (list(BULK_TABLES),),
                ).fetchall()
                for table, name, _ in foreign_keys:
                    cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                for name, _ in indexes:
                    cur.execute(f'DROP INDEX "{name}"')
            report("persons", 0, total)
            for finished, b, copies in prefetched(bodies(_with_transfers(batches, posting, stamp))):
                if b.accounts and not opening_total:  # the other side of every opening balance, once
                    cur.execute(
                        "INSERT INTO ledger_account (code, debits_posted, credits_posted) VALUES (%s, 0, 0) "
                        "ON CONFLICT (code) DO NOTHING",
                        (OPENING,),
                    )
                for table, columns, body in copies:
                    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        copy.write(body)
                opening_total += _tally(counts, b)
                report("persons", finished, total)
            cur.execute(
                "UPDATE ledger_account SET debits_posted = debits_posted + %s WHERE code = %s", (opening_total, OPENING)
            )
            report("indexes", 0, 1)
            for _, ddl in indexes:
                cur.execute(ddl)
            for table, name, definition in foreign_keys:
                cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        raw.commit()
        pg.autocommit = True
        try:
            with pg.cursor() as cur:
                for table in BULK_TABLES:
                    cur.execute(f"ANALYZE {table}")
        finally:
            pg.autocommit = False
        report("indexes", 1, 1)
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
    return counts


def _copy_body(rows: Sequence[tuple[Any, ...]]) -> str:
    """Rows in COPY's text format (no value of ours holds a tab, newline or backslash)."""
    return "".join(
        "\t".join(["\\N" if v is None else "t" if v is True else "f" if v is False else str(v) for v in row]) + "\n"
        for row in rows
    )


def _write_sqlite(engine: Engine, batches: Iterator[tuple[int, PersonBatch]], posting: str, created: datetime,
                  total: int, report: Progress) -> Counts:  # fmt: skip
    """Big executemany batches in one transaction, with the journal and syncing a bulk load wants.

    Into an empty person table the secondary indexes of the loaded tables are dropped first and made
    again at the end of the same transaction, from their own CREATE INDEX statements.
    """
    counts = {"persons": 0, "insurance": 0, "identities": 0, "accounts": 0, "vouchers": 0}
    opening_total = 0
    stamp = f"{created:%Y-%m-%d %H:%M:%S.%f}"
    engine.dispose()  # no other connection of ours may hold the file while the journal mode changes
    raw = engine.raw_connection()
    try:
        db: Any = raw.driver_connection
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        # a rollback journal keeps only the pages that existed before: new pages are not written twice
        db.execute("PRAGMA journal_mode=TRUNCATE")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA foreign_keys=OFF")  # the rows are made consistent; checking each costs a lookup
        db.execute("PRAGMA cache_size=-262144")  # 256 MiB
        db.execute("BEGIN IMMEDIATE")
        try:
            indexes: list[tuple[str, str]] = []
            if db.execute("SELECT NOT EXISTS (SELECT 1 FROM person)").fetchone()[0]:
                marks = ", ".join("?" * len(BULK_TABLES))
                indexes = db.execute(
                    f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                    f"AND tbl_name IN ({marks})",
                    BULK_TABLES,
                ).fetchall()
                for name, _ in indexes:
                    db.execute(f'DROP INDEX "{name}"')
            report("persons", 0, total)
            for finished, b, transfers in prefetched(_with_transfers(batches, posting, stamp)):
                if b.accounts and not opening_total:  # the other side of every opening balance, once
                    db.execute(
                        "INSERT INTO ledger_account (code, debits_posted, credits_posted) VALUES (?, 0, 0) "
                        "ON CONFLICT (code) DO NOTHING",
                        (OPENING,),
                    )
                db.executemany(f"INSERT INTO person ({', '.join(STORED_COLUMNS)}) VALUES ({PERSON_MARKS})",
                               b.person)  # fmt: skip
                db.executemany(
                    f"INSERT INTO insurance ({', '.join(INSURANCE_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    b.insurance,
                )
                db.executemany(f"INSERT INTO identity ({', '.join(IDENTITY_COLUMNS)}) VALUES (?, ?, ?, ?, ?)",
                               b.identity)  # fmt: skip
                db.executemany(
                    "INSERT INTO ledger_account (code, debits_posted, credits_posted) VALUES (?, 0, ?)", b.accounts
                )
                db.executemany(
                    f"INSERT INTO ledger_transfer ({', '.join(TRANSFER_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)", transfers
                )
                db.executemany(f"INSERT INTO voucher ({', '.join(VOUCHER_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)",
                               b.voucher)  # fmt: skip
                opening_total += _tally(counts, b)
                report("persons", finished, total)
            db.execute(
                "UPDATE ledger_account SET debits_posted = debits_posted + ? WHERE code = ?", (opening_total, OPENING)
            )
            report("indexes", 0, 1)
            for _, ddl in indexes:
                db.execute(ddl)
            db.execute("COMMIT")
            report("indexes", 1, 1)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.execute(f"PRAGMA journal_mode={mode}")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
    finally:
        raw.invalidate()  # its settings differ from the pool's: never hand it out again
        raw.close()
    return counts
