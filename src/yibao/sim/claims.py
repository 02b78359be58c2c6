"""A year of the synthetic city's settled claims, straight to Parquet (docs/supervision.md's layout).

``generate(out, ClaimsConfig(visits=N, seed=S))`` writes ``visits``, ``lines`` and ``diagnoses`` partitioned
by place of treatment and month, and ``items.parquet``/``item_lists.parquet`` (the catalogue the rules read).
The claims look like the city of ``city.py``/``city_data.toml``: persons with the city's sex and age
structure, hospitals of levels 1–3 (and the specialty ones) and pharmacies with their practitioners,
diagnoses fitting sex and age, and bills the way ``traffic.py``'s HIS draws them — but honest by
construction: every item fits the diagnosis groups and the item's restrictions (sex, age, hospital level,
med_types, indications, insurance types, quantities per visit and day, days of supply), each institution
charges one price per item within the item's range and never above its cap, a stay bills its bed and
nursing every day and is treated every day, and no person is seen as an outpatient during a stay or
readmitted within the readmission window.

Everything is vectorised with numpy: visits are grouped by what decides their bill (kind, diagnosis,
sex, age band, hospital level, insurance type) and each group's items are drawn at once. Months are made
and written one after the other (memory stays bounded by a month); every month has its own random
stream, so the same seed gives the same files. A ``Planter`` (``yibao.sim.fraud``) plants known schemes
on the way and the truth is written next to the claims.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Protocol, Self

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from yibao.analytics.layout import DIAGNOSES, LINES, VISITS, write_items
from yibao.domain.catalog import Catalog
from yibao.domain.frozen import frozen
from yibao.domain.supervision.rules import RuleLibrary
from yibao.files.loader import load_catalog
from yibao.sim.city import (
    OTHER_REGIONS,
    CatalogueEntry,
    CityData,
    Diagnosis,
    catalogue_toml,
    city_data,
    make_institutions,
    psn_no_of,
)

I32 = np.int32
EPOCH = date(1970, 1, 1).toordinal()
KINDS = ("outpatient", "inpatient", "pharmacy")
OUTPATIENT, INPATIENT, PHARMACY = 0, 1, 2
MED_TYPES = ("11", "21", "41")
AMBULATORY_MIX = (0.82 / 0.97, 0.15 / 0.97)
"""Outpatient and pharmacy shares of the visits that are not stays (traffic.py's Mix: 82/3/15)."""
INPATIENT_SHARE = 0.03
CHRONIC = frozenset({"cardio", "diab", "endo", "psych", "neuro", "renal", "tb"})
"""Diagnosis groups whose drugs are prescribed for weeks (days of supply 14–30), the rest for 3–7 days."""
GUEST_SHARE = 0.02
"""Persons insured in another region (异地就医): their visits are settled across regions."""
SPECIALTIES = ("", "psychiatric", "tuberculosis")
SPECIALTY_TAG = {"psychiatric": "psych", "tuberculosis": "tb"}
OUTPATIENT_WEIGHT = {1: 3.0, 2: 12.0, 3: 40.0}
INPATIENT_WEIGHT = {1: 0.5, 2: 10.0, 3: 30.0}
"""How visits spread over hospitals (traffic.py's _weight): most go to the big ones; specialty hospitals 2."""
FUND_RATE = {(OUTPATIENT, "310"): 0.70, (OUTPATIENT, "390"): 0.50, (INPATIENT, "310"): 0.88,
             (INPATIENT, "390"): 0.70, (PHARMACY, "310"): 0.0, (PHARMACY, "390"): 0.0}  # fmt: skip
"""Illustrative shares of the covered amount the pooled fund pays (a pharmacy purchase: the personal account)."""
ANAESTHESIA = {
    "op_caesarean": "op_spinal", "op_hernia": "op_spinal", "op_fracture": "op_spinal", "op_hip": "op_spinal",
    "op_appendix": "op_major", "op_appendix_open": "op_spinal", "op_gallbladder": "op_major", "op_breast": "op_major",
    "op_colon": "op_major", "op_brain": "op_major",
}  # fmt: skip


# ---------------------------------------------------------------------------------------- what the rules know


@frozen
class Knowledge:
    """The parameters of the rule library an honest bill keeps clear of and the fraud injector plants against."""

    pairs: tuple[tuple[str, str], ...] = (("110400001", "110900001"),)
    """Items not to be charged together on a visit and day (codes or code prefixes)."""
    group_len: int = 5
    """Drugs of one group (code[1:1+group_len]) are not given twice on a day."""
    readmission_days: int = 15
    bed_codes: tuple[str, ...] = ("001102", "00110200")
    nursing_codes: tuple[str, ...] = ("00120100",)
    idle_min_days: int = 3
    refill_grace: int = 2
    max_days: int = 30
    """Days of supply above which a drug line without its own limit is too long."""
    requires: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(item prefix, prefixes of which one must be on the visit too): a consumable needs its procedure."""

    @classmethod
    def of(cls, library: RuleLibrary) -> Knowledge:
        """The knowledge of a rule library; a parameter its rules do not set keeps the default."""
        out: dict[str, Any] = {}
        pairs: list[tuple[str, str]] = []
        requires: list[tuple[str, tuple[str, ...]]] = []
        for rule in library.rules:
            p = rule.params
            if rule.logic == "exclusive_pair":
                pairs += [(str(a), str(b)) for a, b in p.get("pairs", ())]
            elif rule.logic == "requires_item":
                requires.append((str(p["item"]), tuple(str(r) for r in p["requires"])))
            elif rule.logic == "duplicate_group" and "group_len" in p and rule.looks_at("101"):
                out["group_len"] = min(int(p["group_len"]), out.get("group_len", 99))
            elif rule.logic == "readmission" and "days" in p:
                out["readmission_days"] = max(int(p["days"]), out.get("readmission_days", 0))
            elif rule.logic == "bed_days_without_treatment":
                out["bed_codes"] = tuple(p.get("bed_codes", DEFAULT.bed_codes))
                out["nursing_codes"] = tuple(p.get("nursing_codes", DEFAULT.nursing_codes))
                out["idle_min_days"] = int(p.get("min_days", DEFAULT.idle_min_days))
            elif rule.logic == "early_refill" and "grace" in p:
                out["refill_grace"] = int(p["grace"])
            elif rule.logic == "days_supply" and "max_days" in p:
                out["max_days"] = int(p["max_days"])
        if pairs:
            out["pairs"] = tuple(pairs)
        return cls(**out, requires=tuple(requires))


DEFAULT = Knowledge()


# ---------------------------------------------------------------------------------------- the city as arrays


@dataclass(frozen=True)
class ClaimsConfig:
    visits: int
    seed: int = 1
    months: int = 12
    year: int = 2026
    region: str = "440100"
    institutions: int | None = None
    """Default: 130, and one more for every 25,000 visits above 3.25 million (a practitioner's day stays human)."""
    persons: int | None = None
    """Default: a quarter of the visits (about four visits a person a year)."""
    knowledge: Knowledge = Knowledge()


@dataclass
class World:
    """The city's persons, institutions, practitioners and catalogue, as arrays the bills index into."""

    config: ClaimsConfig
    data: CityData
    items: tuple[CatalogueEntry, ...]
    catalog: Catalog
    dxs: tuple[Diagnosis, ...]
    # persons
    gend: np.ndarray
    age: np.ndarray
    insutype: np.ndarray
    """0: 310 employees, 1: 390 residents."""
    guest: np.ndarray
    """-1 a person of the city, else the index of the insured region in OTHER_REGIONS."""
    # institutions
    inst_codes: list[str]
    inst_lv: np.ndarray
    inst_specialty: np.ndarray
    """Index in SPECIALTIES."""
    pharmacies: np.ndarray
    hospitals: np.ndarray
    prac_codes: list[str]
    prac_dept: list[str]
    prac_inst: np.ndarray
    price: np.ndarray
    """Fen a unit: each institution's price of each item (within the item's range, never above its cap)."""
    # items
    item_index: dict[str, int]
    cap: np.ndarray
    """Price cap in fen, or -1."""
    cnt_lo: np.ndarray
    cnt_hi: np.ndarray
    max_visit: np.ndarray
    max_day: np.ndarray
    max_days: np.ndarray
    daily: np.ndarray
    drug: np.ndarray
    covered: np.ndarray
    """Share of an item's amount inside the policy range: 0 for 丙类, 1 − 先行自付 for 乙类."""
    group: np.ndarray
    """Drug group id (code[1:1+group_len]) for the duplicate-group check; -1 for other items."""
    age_edges: np.ndarray
    pools: dict[tuple[Any, ...], np.ndarray] = field(default_factory=dict)
    doctors: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)
    """What a planter works out once for the world."""

    @property
    def knowledge(self) -> Knowledge:
        return self.config.knowledge

    def band(self, age: np.ndarray) -> np.ndarray:
        """Age bands within which every item's age limits give the same answer."""
        return np.searchsorted(self.age_edges, age, side="right").astype(I32)

    def band_age(self, band: int) -> int:
        return 0 if band == 0 else int(self.age_edges[band - 1])

    def pool(self, setting: str, tags: frozenset[str], kinds: tuple[str, ...], dx: int, gend: int, band: int,
             lv: int, insutype: int, *, inpatient: bool = False) -> np.ndarray:  # fmt: skip
        """Indices of the items an honest bill of this setting may hold for this patient and diagnosis."""
        key = (setting, tags, kinds, dx, gend, band, lv, insutype)
        got = self.pools.get(key)
        if got is None:
            age, sex, code, ins = self.band_age(band), str(gend), self.dxs[dx].code, ("310", "390")[insutype]
            got = np.array(
                [
                    i
                    for i, it in enumerate(self.items)
                    if setting in it.settings
                    and it.list_type in kinds
                    and it.tags & tags
                    and (it.sex is None or it.sex == sex)
                    and (it.age_min is None or age >= it.age_min)
                    and (it.age_max is None or age <= it.age_max)
                    and (it.min_hosp_lv is None or lv >= it.min_hosp_lv)
                    and (not it.inpatient_only or inpatient)
                    and (not it.insutypes or ins in it.insutypes)
                    and (not it.dx_prefixes or code.startswith(it.dx_prefixes))
                ],
                dtype=I32,
            )
            self.pools[key] = got
        return got

    def doctors_for(self, inst: int, dx: int) -> np.ndarray:
        """The institution's practitioners whose department sees the diagnosis (all of them if none does)."""
        key = (inst, dx)
        got = self.doctors.get(key)
        if got is None:
            mine = np.nonzero(self.prac_inst == inst)[0].astype(I32)
            groups = {code: tags for code, _, tags in self.data.departments}
            tags = self.dxs[dx].tags
            fit = mine[[bool(groups.get(self.prac_dept[p], frozenset()) & tags) for p in mine]] if len(mine) else mine
            got = self.doctors[key] = fit if len(fit) else mine
        return got


def _cents(value: Any) -> int:
    return round(float(value) * 100)


def build_world(config: ClaimsConfig) -> World:
    data = city_data(config.region)
    rng = np.random.default_rng([config.seed, 0])
    items = data.catalogue
    with tempfile.TemporaryDirectory(prefix="yibao-claims-") as tmp:
        path = Path(tmp) / "catalog.toml"
        path.write_text(catalogue_toml(config.region, f"city-{config.region}-1"), encoding="utf-8")
        catalog = load_catalog(path)
    n_persons = config.persons or max(1_000, config.visits // 4)
    n_inst = config.institutions or max(130, config.visits // 25_000)
    # persons: the city's age structure, sex, insurance by age (as PersonMaker draws them)
    lo, hi, w = (np.array(col) for col in zip(*data.ages, strict=True))
    group = rng.choice(len(w), size=n_persons, p=w / w.sum())
    age = (lo[group] + rng.integers(0, hi[group] - lo[group] + 1)).astype(I32)
    gend = np.where(rng.random(n_persons) < 0.515, 1, 2).astype(np.int8)
    retire = np.where(gend == 1, 60, 50)
    employee_share = np.select([age < 18, age <= 22, age < retire], [0.0, 0.35, 0.80], 0.75)
    insutype = (rng.random(n_persons) >= employee_share).astype(np.int8)
    others = len(OTHER_REGIONS)
    guest = np.where(rng.random(n_persons) < GUEST_SHARE, rng.integers(0, others, n_persons), -1).astype(I32)
    insts, pracs = make_institutions(data, n_inst, config.seed)
    inst_codes = [i.fixmedins_code for i in insts]
    inst_lv = np.array([i.hosp_lv for i in insts], dtype=I32)
    specialty = np.array([SPECIALTIES.index(i.specialty) if i.specialty in SPECIALTIES else 0 for i in insts], I32)
    pharmacy = np.array([i.fixmedins_type == "2" for i in insts])
    where = {code: n for n, code in enumerate(inst_codes)}
    # items
    k = config.knowledge
    lo_c = np.array([_cents(i.price_lo) for i in items], dtype=np.int64)
    hi_c = np.array([_cents(i.price_hi) for i in items], dtype=np.int64)
    cap = np.array([_cents(i.price_cap) if i.price_cap is not None else -1 for i in items], dtype=np.int64)
    price = lo_c + (rng.random((n_inst, len(items))) * (hi_c - lo_c + 1)).astype(np.int64)
    price = np.where(cap >= 0, np.minimum(price, np.where(cap >= 0, cap, 0)), price)
    big = 1 << 30
    max_visit = np.array([i.max_cnt if i.max_cnt is not None else big for i in items], dtype=I32)
    max_day = np.array([i.max_cnt_per_day or big for i in items], dtype=I32)
    max_days = np.array([i.max_days or k.max_days for i in items], dtype=I32)
    drug = np.array([i.list_type == "101" for i in items])
    groups: dict[str, int] = {}
    group_id = np.array(
        [groups.setdefault(i.med_list_codg[1 : 1 + k.group_len], len(groups)) if i.list_type == "101" else -1
         for i in items], dtype=I32,
    )  # fmt: skip
    covered = np.array(
        [0.0 if i.chrgitm_lv == "03" else 1.0 - float(i.selfpay_prop) if i.chrgitm_lv == "02" else 1.0 for i in items]
    )
    edges = sorted({a for i in items for a in (i.age_min, None if i.age_max is None else i.age_max + 1) if a})
    return World(
        config=config, data=data, items=items, catalog=catalog, dxs=data.diagnoses,
        gend=gend, age=age, insutype=insutype, guest=guest,
        inst_codes=inst_codes, inst_lv=inst_lv, inst_specialty=specialty,
        pharmacies=np.nonzero(pharmacy)[0].astype(I32), hospitals=np.nonzero(~pharmacy)[0].astype(I32),
        prac_codes=[p.prac_code for p in pracs], prac_dept=[p.dept_code for p in pracs],
        prac_inst=np.array([where[p.fixmedins_code] for p in pracs], dtype=I32), price=price,
        item_index={i.med_list_codg: n for n, i in enumerate(items)}, cap=cap,
        cnt_lo=np.array([i.cnt_lo for i in items], I32), cnt_hi=np.array([i.cnt_hi for i in items], I32),
        max_visit=max_visit, max_day=max_day, max_days=max_days,
        daily=np.array([i.daily for i in items]), drug=drug, covered=covered, group=group_id,
        age_edges=np.array(edges, dtype=I32),
    )  # fmt: skip


# ---------------------------------------------------------------------------------------- visits and lines


class Columns:
    """Equal-length numpy columns: take rows, append others."""

    def take(self, idx: np.ndarray) -> Self:
        return type(self)(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(getattr(self, fields(self)[0].name))  # type: ignore[arg-type]

    @classmethod
    def concat(cls, parts: Sequence[Self]) -> Self:
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})  # type: ignore[arg-type]


@dataclass
class Visits(Columns):
    person: np.ndarray
    inst: np.ndarray
    dx: np.ndarray
    kind: np.ndarray
    begn: np.ndarray
    """Days since 1970-01-01."""
    end: np.ndarray
    treat: np.ndarray
    """Days of a stay that are treated (0 for a visit that is not a stay)."""
    idle: np.ndarray
    """Days of a stay after the treated ones that bill only bed and nursing (a planted phantom stay)."""
    doctor: np.ndarray
    variant: np.ndarray
    """Outpatient consultation: 0 ordinary, 1 specialist, 2 emergency; inpatient: 1 private room."""
    dx2: np.ndarray
    """A second diagnosis, or -1."""
    scheme: np.ndarray
    """The visit-level scheme planted (fraud.SCHEMES index + 1), 0 none."""

    @classmethod
    def empty(cls) -> Visits:
        return cls.new(np.zeros(0, I32), np.zeros(0, I32), np.zeros(0, I32), OUTPATIENT, np.zeros(0, I32))

    @classmethod
    def new(cls, person: np.ndarray, inst: np.ndarray, dx: np.ndarray, kind: int, day: np.ndarray) -> Visits:
        n = len(person)
        z = np.zeros(n, I32)
        return cls(person.astype(I32), inst.astype(I32), dx.astype(I32), np.full(n, kind, np.int8), day.astype(I32),
                   day.astype(I32), z, z.copy(), np.full(n, -1, I32), np.zeros(n, np.int8), np.full(n, -1, I32),
                   np.zeros(n, np.int8))  # fmt: skip


@dataclass
class Lines(Columns):
    visit: np.ndarray
    """Row of the visit in its month's Visits."""
    item: np.ndarray
    day: np.ndarray
    cnt: np.ndarray
    pric: np.ndarray
    """Fen a unit."""
    days: np.ndarray
    scheme: np.ndarray


class Planter(Protocol):
    """Plants schemes on the way (yibao.sim.fraud.Injector)."""

    schemes: tuple[str, ...]

    def plant_stays(self, world: World, stays: Visits, rng: np.random.Generator) -> Visits: ...

    def plant_visits(
        self, world: World, visits: Visits, stays: Visits, month: tuple[int, int], rng: np.random.Generator
    ) -> Visits:
        """Visits to add to a month's (month: its first and last day), billed as honest ones are."""

    def plant_lines(
        self, world: World, visits: Visits, lines: Lines, month: tuple[int, int], rng: np.random.Generator
    ) -> tuple[Visits, Lines]:
        """The month's visits and lines with schemes planted in them (lines.visit: the row in visits)."""

    def institutions(self, world: World) -> list[tuple[str, list[str]]]: ...


# ---------------------------------------------------------------------------------------- drawing visits


def _weighted_pick(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    cum = np.cumsum(weights)
    out: np.ndarray = np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), len(weights) - 1)
    return out.astype(I32)


def _institution_weights(world: World, inpatient: bool) -> np.ndarray:
    table = INPATIENT_WEIGHT if inpatient else OUTPATIENT_WEIGHT
    hosp = world.hospitals
    return np.array([2.0 if world.inst_specialty[h] else table.get(int(world.inst_lv[h]), 1.0) for h in hosp])


@cache
def _dx_cum(dxs: tuple[Diagnosis, ...], specialty: int, inpatient: bool, gend: int, age: int) -> np.ndarray:
    """Cumulative weights of the diagnoses for a patient (traffic.py's Biller.diagnosis, as a table)."""
    wanted = SPECIALTY_TAG.get(SPECIALTIES[specialty])
    sex = str(gend)
    fits = np.array([d.fits(sex, age) and (wanted is None or wanted in d.tags) for d in dxs])
    w = np.array([d.inpatient_weight if inpatient else d.outpatient_weight for d in dxs], float) * fits
    if w.sum() == 0:
        fits = np.array([d.fits(sex, age) for d in dxs]) if any(d.fits(sex, age) for d in dxs) else np.ones(len(dxs))
        w = np.array([d.inpatient_weight + d.outpatient_weight + 1 for d in dxs], float) * fits
    return np.cumsum(w)


def _diagnoses(world: World, rng: np.random.Generator, person: np.ndarray, inst: np.ndarray, inpatient: bool
               ) -> np.ndarray:  # fmt: skip
    spec = world.inst_specialty[inst] if len(inst) else np.zeros(0, I32)
    key = (spec * 3 + world.gend[person]) * 200 + np.minimum(world.age[person], 199)
    out = np.zeros(len(person), I32)
    u = rng.random(len(person))
    order = np.argsort(key, kind="stable")
    uniq, starts = np.unique(key[order], return_index=True)
    for k, s, e in zip(uniq, starts, [*starts[1:], len(order)], strict=True):
        rows = order[s:e]
        cum = _dx_cum(world.dxs, int(k // 600), inpatient, int(k // 200 % 3), int(k % 200))
        out[rows] = np.minimum(np.searchsorted(cum, u[rows] * cum[-1], side="right"), len(cum) - 1)
    return out


def _second_dx(world: World, rng: np.random.Generator, v: Visits) -> None:
    """Now and then a chronic second diagnosis for patients of 40 and over."""
    codes = [d.code for d in world.dxs]
    hyper, diab = codes.index("I10.x00"), codes.index("E11.900")
    pick = (world.age[v.person] >= 40) & (rng.random(len(v)) < 0.15)
    v.dx2 = np.where(pick, np.where(v.dx == hyper, diab, hyper), -1).astype(I32)
    v.dx2[v.dx2 == v.dx] = -1


def _doctors(world: World, rng: np.random.Generator, v: Visits) -> None:
    key = v.inst.astype(np.int64) * 1000 + v.dx
    order = np.argsort(key, kind="stable")
    uniq, starts = np.unique(key[order], return_index=True)
    u = rng.random(len(v))
    for k, s, e in zip(uniq, starts, [*starts[1:], len(order)], strict=True):
        cand = world.doctors_for(int(k // 1000), int(k % 1000))
        rows = order[s:e]
        if len(cand):
            v.doctor[rows] = cand[(u[rows] * len(cand)).astype(I32)]


def month_bounds(config: ClaimsConfig, m: int) -> tuple[int, int]:
    """(first day, last day) of the m-th month (0-based) as days since the epoch."""
    y, mm = divmod(m, 12)
    first = date(config.year + y, mm + 1, 1)
    y2, mm2 = divmod(m + 1, 12)
    return first.toordinal() - EPOCH, date(config.year + y2, mm2 + 1, 1).toordinal() - EPOCH - 1


def _stay_days(rng: np.random.Generator, world: World, dx: np.ndarray) -> np.ndarray:
    lo = np.array([max(1, d.stay_lo) for d in world.dxs])[dx]
    hi = np.array([max(1, d.stay_lo, d.stay_hi) for d in world.dxs])[dx]
    days = lo + (rng.random(len(dx)) * (hi - lo + 1)).astype(I32)
    tail = rng.random(len(dx)) < 0.10  # complications: the long tail
    out: np.ndarray = np.minimum(np.where(tail, days * 2 + rng.integers(0, 11, len(dx)), days), 90)
    return out.astype(I32)


def make_stays(world: World, n: int, rng: np.random.Generator) -> Visits:
    """The year's stays, discharged within the months; no person is readmitted within the readmission window."""
    config = world.config
    first, _ = month_bounds(config, 0)
    _, last = month_bounds(config, config.months - 1)
    person = rng.integers(0, len(world.age), n).astype(I32)
    inst = world.hospitals[_weighted_pick(rng, _institution_weights(world, True), n)]
    end = rng.integers(first, last + 1, n).astype(I32)
    for _ in range(4):  # a person's stays keep apart: redraw the later one's person
        order = np.lexsort((end, person))
        p, e = person[order], end[order]
        clash = np.zeros(n, bool)
        clash[order[1:]] = (p[1:] == p[:-1]) & (e[1:] - e[:-1] <= 120)
        if not clash.any():
            break
        person[clash] = rng.integers(0, len(world.age), int(clash.sum()))
    dx = _diagnoses(world, rng, person, inst, True)
    days = _stay_days(rng, world, dx)
    v = Visits.new(person, inst, dx, INPATIENT, end - days)
    v.end, v.treat = end, days
    v.variant = (rng.random(n) < 0.05).astype(np.int8)
    return v


def make_ambulatory(world: World, n: int, month: int, stays: Visits, rng: np.random.Generator) -> Visits:
    """Outpatient visits and pharmacy purchases of a month, none of them during one of the person's stays."""
    first, last = month_bounds(world.config, month)
    n_out = round(n * AMBULATORY_MIX[0]) if len(world.pharmacies) else n
    n_ph = n - n_out
    person = rng.integers(0, len(world.age), n).astype(I32)
    day = rng.integers(first, last + 1, n).astype(I32)
    # stays of the persons: a visit strictly inside one is given to someone else
    origin = month_bounds(world.config, 0)[0] - 400
    key = stays.person.astype(np.int64) << 20 | (stays.begn - origin).astype(np.int64)
    order = np.argsort(key)
    keys, ends, persons = key[order], stays.end[order], stays.person[order]
    for _ in range(4):
        probe = person.astype(np.int64) << 20 | (day - origin).astype(np.int64)
        at = np.searchsorted(keys, probe, side="left") - 1
        ok = at >= 0
        inside = np.zeros(n, bool)
        inside[ok] = (persons[at[ok]] == person[ok]) & (ends[at[ok]] >= day[ok])
        if not inside.any():
            break
        person[inside] = rng.integers(0, len(world.age), int(inside.sum()))
    out_inst = world.hospitals[_weighted_pick(rng, _institution_weights(world, False), n_out)]
    ph_inst = world.pharmacies[rng.integers(0, len(world.pharmacies), n_ph)] if n_ph else np.zeros(0, I32)
    out = Visits.new(person[:n_out], out_inst, _diagnoses(world, rng, person[:n_out], out_inst, False), OUTPATIENT,
                     day[:n_out])  # fmt: skip
    lv = world.inst_lv[out.inst]
    r = rng.random(n_out)
    out.variant = np.where(r < 0.08, 2, np.where((lv >= 2) & (r < 0.08 + 0.92 * 0.4), 1, 0)).astype(np.int8)
    ph = Visits.new(person[n_out:], ph_inst, _diagnoses(world, rng, person[n_out:], ph_inst, False), PHARMACY,
                    day[n_out:])  # fmt: skip
    return Visits.concat([out, ph])


# ---------------------------------------------------------------------------------------- bills


@dataclass
class _Entries:
    """Items chosen for visits: (visit row, item, first day offset, days billed)."""

    visit: list[np.ndarray] = field(default_factory=list)
    item: list[np.ndarray] = field(default_factory=list)
    start: list[np.ndarray] = field(default_factory=list)
    ndays: list[np.ndarray] = field(default_factory=list)

    def add(self, rows: np.ndarray, items: np.ndarray | int, start: np.ndarray | int = 0, ndays: np.ndarray | int = 1
            ) -> None:  # fmt: skip
        if len(rows):
            self.visit.append(rows.astype(I32))
            self.item.append(np.broadcast_to(items, rows.shape).astype(I32))
            self.start.append(np.broadcast_to(start, rows.shape).astype(I32))
            self.ndays.append(np.broadcast_to(ndays, rows.shape).astype(I32))


def _pick(rng: np.random.Generator, rows: np.ndarray, pool: np.ndarray, k: np.ndarray | int
          ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Up to k distinct items of the pool for each row: (row of each choice, item)."""
    n, m = len(rows), len(pool)
    if n == 0 or m == 0:
        return np.zeros(0, I32), np.zeros(0, I32)
    kk = np.minimum(np.broadcast_to(k, (n,)), m)
    top = int(kk.max())
    if top == 0:
        return np.zeros(0, I32), np.zeros(0, I32)
    order = np.argsort(rng.random((n, m)), axis=1)[:, :top]
    mask = np.arange(top) < kk[:, None]
    return rows[np.nonzero(mask)[0]], pool[order[mask]]


def _choice(rng: np.random.Generator, options: Sequence[int], n: int) -> np.ndarray:
    return np.asarray(options, dtype=I32)[rng.integers(0, len(options), n)]


def _groups(keys: np.ndarray) -> list[tuple[int, np.ndarray]]:
    order = np.argsort(keys, kind="stable")
    uniq, starts = np.unique(keys[order], return_index=True)
    return [(int(k), order[s:e]) for k, s, e in zip(uniq, starts, [*starts[1:], len(order)], strict=True)]


def _bill_ambulatory(world: World, v: Visits, rows: np.ndarray, rng: np.random.Generator, out: _Entries) -> None:
    """traffic.py's outpatient bill (consultation, 1–4 drugs, tests, rarely imaging or a consumable) and
    pharmacy purchase (1–3 drugs, now and then one the fund does not cover)."""
    gend, band, ins = world.gend[v.person[rows]], world.band(world.age[v.person[rows]]), world.insutype[v.person[rows]]
    lv = world.inst_lv[v.inst[rows]]
    kind = v.kind[rows]
    key = ((((v.dx[rows].astype(np.int64) * 3 + gend) * 64 + band) * 4 + lv) * 2 + ins) * 3 + kind
    for _, g in _groups(key):
        r0 = rows[g]
        dx, k = int(v.dx[r0[0]]), int(kind[g[0]])
        spec = (dx, int(gend[g[0]]), int(band[g[0]]), int(lv[g[0]]), int(ins[g[0]]))
        tags = world.dxs[dx].tags
        if k == PHARMACY:
            drugs = world.pool("p", tags | {"general"}, ("101",), *spec)
            covered = drugs[[world.items[i].chrgitm_lv != "03" for i in drugs]] if len(drugs) else drugs
            out.add(*_pick(rng, r0, covered, _choice(rng, (1, 1, 2, 2, 3), len(r0))))
            extra = r0[rng.random(len(r0)) < 0.15]
            out.add(*_pick(rng, extra, drugs[[world.items[i].chrgitm_lv == "03" for i in drugs]], 1))
            continue
        for variant, tag in enumerate(("visit", "visit_specialist", "emergency")):
            out.add(*_pick(rng, r0[v.variant[r0] == variant], world.pool("o", frozenset({tag}), ("201",), *spec), 1))
        drugs = world.pool("o", tags, ("101",), *spec)
        if not len(drugs):
            drugs = world.pool("o", frozenset({"general"}), ("101",), *spec)
        out.add(*_pick(rng, r0, drugs, _choice(rng, (1, 1, 2, 2, 2, 3, 3, 4), len(r0))))
        services = world.pool("o", tags | {"lab"}, ("201",), *spec)
        cheap = services[np.array([world.items[i].price_hi < 300 for i in services], bool)]
        some = r0[rng.random(len(r0)) < 0.45]
        out.add(*_pick(rng, some, cheap, rng.integers(1, 4, len(some))))
        dear = world.pool("o", tags, ("201",), *spec)
        dear = dear[np.array([world.items[i].price_hi >= 300 for i in dear], bool)] if len(dear) else dear
        out.add(*_pick(rng, r0[rng.random(len(r0)) < 0.04], dear, 1))
        out.add(*_pick(rng, r0[rng.random(len(r0)) < 0.10], world.pool("o", tags | {"all"}, ("301",), *spec), 1))


def _bill_stays(world: World, v: Visits, rows: np.ndarray, rng: np.random.Generator, out: _Entries) -> None:
    """traffic.py's stay, one line a day for daily items: bed, nursing and rounds every day (bed and nursing
    also on idle days), infusions every treated day, admission tests, drugs, the operation, sometimes ICU."""
    p = v.person[rows]
    gend, band, ins, lv = world.gend[p], world.band(world.age[p]), world.insutype[p], world.inst_lv[v.inst[rows]]
    key = (((v.dx[rows].astype(np.int64) * 3 + gend) * 64 + band) * 4 + lv) * 2 + ins
    k = world.knowledge
    for _, g in _groups(key):
        r0 = rows[g]
        dx = world.dxs[int(v.dx[r0[0]])]
        spec = (int(v.dx[r0[0]]), int(gend[g[0]]), int(band[g[0]]), int(lv[g[0]]), int(ins[g[0]]))

        def pool(tags: set[str], kinds: tuple[str, ...] = ("101", "201", "301"), *, s: tuple[int, ...] = spec
                 ) -> np.ndarray:  # fmt: skip
            return world.pool("i", frozenset(tags), kinds, *s, inpatient=True)

        treat, whole = v.treat[r0], v.treat[r0] + v.idle[r0]
        private = v.variant[r0] == 1
        for rows_, tag in ((r0[~private], "bed"), (r0[private], "bed_private")):
            rr, it = _pick(rng, rows_, pool({tag}), 1)
            out.add(rr, it, 0, v.treat[rr] + v.idle[rr])
        for item in pool({"stay"}):
            nursing = world.items[item].med_list_codg.startswith(k.nursing_codes)
            out.add(r0, item, 0, whole if nursing else treat)
        daily = [i for i in pool({"all"}) if world.daily[i]]
        if daily:
            chosen = rng.random((len(r0), len(daily))) < 0.7
            chosen[~chosen.any(axis=1), 0] = True  # every treated day has its treatment
            for j, item in enumerate(daily):
                out.add(r0[chosen[:, j]], item, 0, treat[chosen[:, j]])
        adm = pool({"adm"}, ("201",))
        for item in adm[~world.daily[adm]] if len(adm) else adm:
            out.add(r0[rng.random(len(r0)) < 0.8], item, 0, 1)
        services = pool(set(dx.tags), ("201",))
        services = services[~world.daily[services]] if len(services) else services
        rr, it = _pick(rng, r0, services, rng.integers(1, 5, len(r0)))
        out.add(rr, it, (rng.random(len(rr)) * v.treat[rr]).astype(I32), 1)
        rr, it = _pick(rng, r0, pool(set(dx.tags), ("101",)), rng.integers(2, 7, len(r0)))
        t = v.treat[rr]
        span = np.where(world.daily[it], t - (rng.random(len(rr)) * (t // 2 + 1)).astype(I32), 1)
        out.add(rr, it, np.where(world.daily[it], 0, (rng.random(len(rr)) * t).astype(I32)), np.maximum(span, 1))
        operation = pool({dx.operation, ANAESTHESIA.get(dx.operation, "")}) if dx.operation else np.zeros(0, I32)
        if any(world.items[i].list_type == "201" and dx.operation in world.items[i].tags for i in operation):
            # only where the procedure itself may be done: its anaesthesia and consumables come with it
            op_rows = r0[(lv[g] >= 2) | (rng.random(len(r0)) < 0.3)]
            for item in operation.tolist():
                out.add(op_rows, item, np.minimum(1, v.treat[op_rows] - 1), 1)
        icu_rows = r0 if "icu" in dx.tags else r0[rng.random(len(r0)) < 0.02]
        if len(icu_rows):
            icu = pool({"icu"})
            icu_days = np.minimum(v.treat[icu_rows], rng.integers(1, 6, len(icu_rows)))
            for item in icu:
                if world.daily[item]:
                    out.add(icu_rows, item, 0, icu_days)
                else:
                    out.add(icu_rows[rng.random(len(icu_rows)) < 0.5], item, 0, 1)


def bill(world: World, v: Visits, rng: np.random.Generator) -> Lines:
    """The honest fee lines of visits (lines.visit: the row in ``v``)."""
    out = _Entries()
    stays = np.nonzero(v.kind == INPATIENT)[0].astype(I32)
    _bill_ambulatory(world, v, np.nonzero(v.kind != INPATIENT)[0].astype(I32), rng, out)
    _bill_stays(world, v, stays, rng, out)
    if not out.visit:
        z = np.zeros(0, I32)
        return Lines(z, z, z, z, np.zeros(0, np.int64), z, np.zeros(0, np.int8))
    visit, item = np.concatenate(out.visit), np.concatenate(out.item)
    start, ndays = np.concatenate(out.start), np.maximum(np.concatenate(out.ndays), 1)
    # an item once a visit (the first slot that chose it), then one line a day for daily items
    _, first = np.unique(visit.astype(np.int64) * 100_000 + item, return_index=True)
    first.sort()
    visit, item, start, ndays = visit[first], item[first], start[first], ndays[first]
    total = int(ndays.sum())
    offset = np.arange(total, dtype=I32) - np.repeat(np.cumsum(ndays) - ndays, ndays).astype(I32)
    visit, item = np.repeat(visit, ndays), np.repeat(item, ndays)
    day = v.begn[visit] + np.repeat(start, ndays) + offset
    n = len(visit)
    lo, hi = world.cnt_lo[item], world.cnt_hi[item]
    cnt = lo + (rng.random(n) * (hi - lo + 1)).astype(I32)
    cnt = np.maximum(1, np.minimum(cnt, np.minimum(world.max_day[item], world.max_visit[item])))
    kind = v.kind[visit]
    chronic = np.array([bool(d.tags & CHRONIC) for d in world.dxs])[v.dx[visit]]
    supply = np.where(chronic, rng.integers(14, 31, n), rng.integers(3, 8, n))
    days = np.where(world.drug[item] & (kind != INPATIENT), np.minimum(supply, world.max_days[item]), 0).astype(I32)
    lines = Lines(visit.astype(I32), item.astype(I32), day.astype(I32), cnt.astype(I32),
                  world.price[v.inst[visit], item], days, np.zeros(n, np.int8))  # fmt: skip
    return _honest(world, lines)


def _code_mask(world: World, prefix: str) -> np.ndarray:
    return np.array([i.med_list_codg.startswith(prefix) for i in world.items])


def _honest(world: World, lines: Lines) -> Lines:
    """Drop what an honest HIS would not bill: a second drug of one group on a day, the second of a pair."""
    keep = np.ones(len(lines), bool)
    vd = lines.visit.astype(np.int64) * 1_000_000 + lines.day
    grp = world.group[lines.item]
    drugs = np.nonzero(grp >= 0)[0]
    if len(drugs):
        key = vd[drugs] * 10_000 + grp[drugs]
        order = np.lexsort((lines.item[drugs], key))
        k = key[order]
        dup = np.zeros(len(order), bool)
        dup[1:] = (k[1:] == k[:-1]) & (lines.item[drugs][order][1:] != lines.item[drugs][order][:-1])
        keep[drugs[order[dup]]] = False
    for a, b in world.knowledge.pairs:
        has_a = _code_mask(world, a)[lines.item]
        is_b = _code_mask(world, b)[lines.item]
        if has_a.any() and is_b.any():
            keep &= ~(is_b & np.isin(vd, vd[has_a]))
    for item, needs in world.knowledge.requires:
        is_item = _code_mask(world, item)[lines.item]
        if is_item.any():
            ok = np.zeros(len(world.items), bool)
            for prefix in needs:
                ok |= _code_mask(world, prefix)
            keep &= ~(is_item & ~np.isin(lines.visit, lines.visit[ok[lines.item]]))
    return lines.take(np.nonzero(keep)[0])


# ---------------------------------------------------------------------------------------- writing


class _Strings:
    """pyarrow string columns made once and taken from."""

    def __init__(self, world: World) -> None:
        region = world.config.region
        others = list(OTHER_REGIONS)
        self.psn_no = pa.array(
            [psn_no_of(others[g] if g >= 0 else region, i) for i, g in enumerate(world.guest.tolist())], pa.string()
        )
        self.insuplc = pa.array([region, *others], pa.string())
        self.inst = pa.array(world.inst_codes, pa.string())
        self.prac = pa.array(["", *world.prac_codes], pa.string())
        self.dept = pa.array(["", *world.prac_dept], pa.string())
        self.codes = pa.array([i.med_list_codg for i in world.items], pa.string())
        self.dx = pa.array([d.code for d in world.dxs], pa.string())
        self.specialty = pa.array(list(SPECIALTIES), pa.string())
        self.small = pa.array(["310", "390", *MED_TYPES, *KINDS], pa.string())
        self.sn = pa.array([f"{i:04d}" for i in range(10_000)], pa.string())

    def serial(self, prefix: str, start: int, n: int) -> pa.Array:
        numbers = pc.utf8_lpad(pc.cast(pa.array(np.arange(start, start + n, dtype=np.int64)), pa.string()), 10, "0")
        return pc.binary_join_element_wise(pa.scalar(prefix), numbers, "")

    def sns(self, n: np.ndarray) -> pa.Array:
        if len(n) and int(n.max()) >= len(self.sn):
            self.sn = pa.array([f"{i:04d}" for i in range(int(n.max()) + 1)], pa.string())
        return self.sn.take(pa.array(n))


def _date(days: np.ndarray) -> pa.Array:
    return pa.array(days.astype(I32), pa.date32())


def _fund(world: World, v: Visits, lines: Lines, amount: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    medfee = np.bincount(lines.visit, weights=amount, minlength=len(v)).astype(np.int64)
    covered = np.bincount(lines.visit, weights=amount * world.covered[lines.item], minlength=len(v))
    ins = world.insutype[v.person]
    rate = np.zeros(len(v))
    for (kind, code), r in FUND_RATE.items():
        rate[(v.kind == kind) & (ins == ("310", "390").index(code))] = r
    return medfee, np.floor(covered * rate).astype(np.int64)


class MonthWriter:
    """One Parquet file per table and month, in the hive layout of docs/supervision.md."""

    def __init__(self, out: Path, world: World) -> None:
        self.out, self.world, self.s = out, world, _Strings(world)
        self.next_serial = 1
        self.truth: list[pa.Table] = []

    def write(self, month: int, v: Visits, lines: Lines, schemes: tuple[str, ...]) -> tuple[int, int]:
        w, s, config = self.world, self.s, self.world.config
        first, _ = month_bounds(config, month)
        label = f"{date.fromordinal(first + EPOCH):%Y-%m}"
        order = np.lexsort((lines.day, lines.visit))  # stable: a planted copy comes after its original
        lines = lines.take(order)
        starts = np.searchsorted(lines.visit, np.arange(len(v)))
        sn = (np.arange(len(lines)) - starts[lines.visit] + 1).astype(I32)
        mdtrt = s.serial(f"MD{config.region}", self.next_serial, len(v))
        setl = s.serial(f"ST{config.region}", self.next_serial, len(v))
        self.next_serial += len(v)
        amount = lines.pric * lines.cnt
        medfee, fund = _fund(w, v, lines, amount)
        guest = w.guest[v.person]
        seconds = (8 * 3600 + (np.arange(len(v)) * 7919 % 36_000)).astype(np.int64)
        visits = pa.table(
            {
                "setl_id": setl, "mdtrt_id": mdtrt, "psn_no": s.psn_no.take(pa.array(v.person)),
                "gend": pa.array(np.where(w.gend[v.person] == 1, "1", "2")),
                "age": pa.array(w.age[v.person]), "insutype": s.small.take(pa.array(w.insutype[v.person])),
                "fixmedins_code": s.inst.take(pa.array(v.inst)), "hosp_lv": pa.array(w.inst_lv[v.inst]),
                "specialty": s.specialty.take(pa.array(w.inst_specialty[v.inst])),
                "dept_code": s.dept.take(pa.array(v.doctor + 1)), "atddr_no": s.prac.take(pa.array(v.doctor + 1)),
                "med_type": s.small.take(pa.array(2 + v.kind.astype(I32))),
                "kind": s.small.take(pa.array(5 + v.kind.astype(I32))), "cross_region": pa.array(guest >= 0),
                "begn_date": _date(v.begn), "end_date": _date(v.end),
                "setl_time": pa.array((v.end.astype(np.int64) * 86400 + seconds) * 1_000_000, pa.timestamp("us")),
                "main_dx": s.dx.take(pa.array(v.dx)), "insuplc_admdvs": s.insuplc.take(pa.array(guest + 1)),
                "medfee_sumamt": pa.array(medfee), "fund_pay_sumamt": pa.array(fund),
                "psn_cash_pay": pa.array(medfee - fund),
            },
            schema=VISITS,
        )  # fmt: skip
        line_mdtrt = mdtrt.take(pa.array(lines.visit))
        line_sn = s.sns(sn)
        table = pa.table(
            {
                "mdtrt_id": line_mdtrt, "feedetl_sn": line_sn, "med_list_codg": s.codes.take(pa.array(lines.item)),
                "fee_date": _date(lines.day), "cnt": pa.array(lines.cnt.astype(np.float64)),
                "pric": pa.array(lines.pric / 100.0), "amount": pa.array(amount.astype(np.int64)),
                "days": pa.array(lines.days.astype(I32)),
            },
            schema=LINES,
        )  # fmt: skip
        second = np.nonzero(v.dx2 >= 0)[0]
        dx_rows = np.concatenate([np.arange(len(v)), second])
        diagnoses = pa.table(
            {
                "mdtrt_id": mdtrt.take(pa.array(dx_rows)),
                "diag_code": s.dx.take(pa.array(np.concatenate([v.dx, v.dx2[second]]))),
                "maindiag": pa.array(np.arange(len(dx_rows)) < len(v)),
            },
            schema=DIAGNOSES,
        )
        for name, t in (("visits", visits), ("lines", table), ("diagnoses", diagnoses)):
            folder = self.out / name / f"admdvs={config.region}" / f"month={label}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(t, folder / "part-0.parquet", row_group_size=1 << 20)
        if schemes:
            vs = np.nonzero(v.scheme > 0)[0]
            ls = np.nonzero(lines.scheme > 0)[0]
            names = pa.array(list(schemes), pa.string())
            self.truth.append(
                pa.table(
                    {
                        "mdtrt_id": pa.concat_arrays([mdtrt.take(pa.array(vs)), line_mdtrt.take(pa.array(ls))]),
                        "feedetl_sn": pa.concat_arrays(
                            [pa.array([""] * len(vs), pa.string()), line_sn.take(pa.array(ls))]
                        ),
                        "scheme": names.take(pa.array(np.concatenate([v.scheme[vs], lines.scheme[ls]]) - 1)),
                    }
                )
            )
        return len(v), len(lines)


TRUTH_CLAIMS = pa.schema([("mdtrt_id", pa.string()), ("feedetl_sn", pa.string()), ("scheme", pa.string())])
TRUTH_INSTITUTIONS = pa.schema([("fixmedins_code", pa.string()), ("schemes", pa.list_(pa.string()))])


@dataclass(frozen=True)
class ClaimsReport:
    visits: int
    lines: int
    planted: int
    colluders: int
    seconds: float


def generate(out: Path, config: ClaimsConfig, planter: Planter | None = None,
             progress: Callable[[int, int], None] | None = None) -> ClaimsReport:  # fmt: skip
    """Write the claims (and, with a planter, truth/claims.parquet and truth/institutions.parquet) under ``out``.

    ``progress(months done, months)`` after each month.
    """
    started = time.perf_counter()
    if config.visits < 1 or not 1 <= config.months <= 24:
        raise ValueError("visits must be ≥ 1 and months 1–24")
    world = build_world(config)
    out.mkdir(parents=True, exist_ok=True)
    write_items(world.catalog.items.values(), out)
    n_stays = round(config.visits * INPATIENT_SHARE)
    stays = make_stays(world, n_stays, np.random.default_rng([config.seed, 1]))
    if planter is not None:
        stays = planter.plant_stays(world, stays, np.random.default_rng([config.seed, 2]))
    _doctors(world, np.random.default_rng([config.seed, 3]), stays)
    _second_dx(world, np.random.default_rng([config.seed, 4]), stays)
    ambulatory = config.visits - n_stays
    per_month = [ambulatory // config.months + (m < ambulatory % config.months) for m in range(config.months)]
    writer = MonthWriter(out, world)
    visits = lines = 0
    # a stay is in the month it is settled (discharged); one cut short before the first month is not
    month_of_stay = np.searchsorted([month_bounds(config, m)[1] for m in range(config.months)], stays.end)
    month_of_stay[stays.end < month_bounds(config, 0)[0]] = -1
    for m in range(config.months):
        rng = np.random.default_rng([config.seed, 100 + m])
        v = make_ambulatory(world, per_month[m], m, stays, rng)
        if planter is not None:
            v = Visits.concat([v, planter.plant_visits(world, v, stays, month_bounds(config, m), rng)])
        _doctors(world, rng, v)
        _second_dx(world, rng, v)
        v = Visits.concat([v, stays.take(np.nonzero(month_of_stay == m)[0])])
        ls = bill(world, v, rng)
        if planter is not None:
            v, ls = planter.plant_lines(world, v, ls, month_bounds(config, m), rng)
        nv, nl = writer.write(m, v, ls, planter.schemes if planter else ())
        visits, lines = visits + nv, lines + nl
        if progress:
            progress(m + 1, config.months)
    planted = colluders = 0
    if planter is not None:
        truth = pa.concat_tables(writer.truth).cast(TRUTH_CLAIMS) if writer.truth else TRUTH_CLAIMS.empty_table()
        (out / "truth").mkdir(exist_ok=True)
        pq.write_table(truth, out / "truth" / "claims.parquet")
        rows = planter.institutions(world)
        pq.write_table(
            pa.table(
                {"fixmedins_code": [c for c, _ in rows], "schemes": [s for _, s in rows]}, schema=TRUTH_INSTITUTIONS
            ),
            out / "truth" / "institutions.parquet",
        )
        planted, colluders = len(set(truth.column("mdtrt_id").to_pylist())), len(rows)
    return ClaimsReport(visits, lines, planted, colluders, time.perf_counter() - started)
