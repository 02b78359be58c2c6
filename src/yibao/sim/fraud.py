"""Known truth: schemes planted in the synthetic claims at known rates, each one labelled.

``Injector(rate=0.03, colluders=K)`` is the ``Planter`` of ``yibao.sim.claims.generate``: about ``rate`` of
the visits carry a plant, spread over the schemes by ``SHARES``; K colluding institutions (2–3 % of them
by default) each run three or four schemes at ``boost`` times the rate. The truth written with the claims:

- ``truth/claims.parquet``: mdtrt_id, feedetl_sn ("" for a visit-level plant), scheme;
- ``truth/institutions.parquet``: fixmedins_code, schemes (the colluders).

The schemes (../shared/domain/supervision.md):

- split_admission (分解住院, visit): a stay cut in two, the second begun 0–4 days after the first ended, same
  diagnosis and institution; the second stay is labelled;
- phantom_bed_days (挂床住院, visit): 3–7 days after the treatment ended that bill only bed and nursing;
- outpatient_during_stay (挂床住院, visit): an outpatient visit of the patient strictly inside a stay;
- upcoded_service (高套, line): a dearer item of the same kind (service group, drug group) instead of the one given;
- duplicate_line (重复收费, line): the same line twice;
- exclusive_pair (重复收费, line): the second item of a pair that may not be charged together, on the same day;
- over_quantity (超量开药, line): days of supply, or a count a day or a visit, above the item's limit;
- early_refill (超量开药, line): the same drug again (a new visit) before the last supply ran out;
- swapped_item (串换, line): billed as another item — a 丙类 item as a covered one at its own price, or an
  item outside its sex, age, indication or insurance-type limits;
- price_above_cap (超标准收费, line): a unit price above the item's cap.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np

from yibao.sim.city import city_data
from yibao.sim.claims import (
    DEFAULT,
    I32,
    INPATIENT,
    OUTPATIENT,
    PHARMACY,
    Knowledge,
    Lines,
    Visits,
    World,
    month_bounds,
)

SCHEMES = (
    "split_admission", "phantom_bed_days", "outpatient_during_stay", "upcoded_service", "duplicate_line",
    "exclusive_pair", "over_quantity", "early_refill", "swapped_item", "price_above_cap",
)  # fmt: skip
SHARES = {
    "split_admission": 0.07, "phantom_bed_days": 0.06, "outpatient_during_stay": 0.07, "upcoded_service": 0.12,
    "duplicate_line": 0.14, "exclusive_pair": 0.10, "over_quantity": 0.12, "early_refill": 0.08,
    "swapped_item": 0.14, "price_above_cap": 0.10,
}  # fmt: skip
CAUGHT_BY = {
    "split_admission": ("readmission",),
    "phantom_bed_days": ("bed_days_without_treatment",),
    "outpatient_during_stay": ("outpatient_during_stay",),
    "upcoded_service": (),
    "duplicate_line": ("duplicate_line",),
    "exclusive_pair": ("exclusive_pair",),
    "over_quantity": ("days_supply", "day_quantity", "visit_quantity"),
    "early_refill": ("early_refill",),
    "swapped_item": ("sex", "age", "indication", "insutype", "hosp_level", "med_type"),
    "price_above_cap": ("price_cap",),
}
"""The logics meant to catch each scheme (docs/supervision.md); an upcoded service keeps every rule."""
SETTING = {OUTPATIENT: "o", INPATIENT: "i", PHARMACY: "p"}


def code(scheme: str) -> int:
    """The label stored with a plant (0: none)."""
    return SCHEMES.index(scheme) + 1


def default_colluders(institutions: int) -> int:
    """2.5 % of the institutions, at least one."""
    return max(1, round(institutions * 0.025))


@dataclass
class Injector:
    rate: float = 0.03
    """Share of the visits that carry a plant."""
    colluders: int | None = None
    """Colluding institutions; None: default_colluders(institutions)."""
    boost: float = 15.0
    """How much likelier a colluder's visit is to carry one of its schemes."""
    seed: int = 1
    schemes: tuple[str, ...] = SCHEMES
    shares: dict[str, float] = field(default_factory=lambda: dict(SHARES))
    colluding: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """Institution index → its schemes (made on first use)."""

    # ------------------------------------------------------------------------------------ who plants what

    def _prepare(self, world: World) -> None:
        if self.colluding or self.rate <= 0:
            return
        rng = np.random.default_rng([self.seed, 9])
        n = self.colluders if self.colluders is not None else default_colluders(len(world.inst_codes))
        big = [int(h) for h in world.hospitals if world.inst_lv[h] >= 2 and not world.inst_specialty[h]]
        pool = big if len(big) >= n else [int(h) for h in world.hospitals]
        for inst in rng.choice(pool, size=min(n, len(pool)), replace=False):
            k = int(rng.integers(3, 5))
            self.colluding[int(inst)] = tuple(sorted(rng.choice(SCHEMES, size=k, replace=False).tolist()))

    def institutions(self, world: World) -> list[tuple[str, list[str]]]:
        self._prepare(world)
        return sorted((world.inst_codes[i], list(s)) for i, s in self.colluding.items())

    def _count(self, scheme: str, visits: int) -> int:
        return round(self.rate * self.shares.get(scheme, 0.0) * visits)

    def _choose(self, rng: np.random.Generator, candidates: np.ndarray, inst: np.ndarray, scheme: str, n: int
                ) -> np.ndarray:  # fmt: skip
        """n of the candidates, a colluder's (for this scheme) ``boost`` times likelier (weighted, no repeats)."""
        if n <= 0 or not len(candidates):
            return np.zeros(0, dtype=candidates.dtype)
        mine = np.array([scheme in self.colluding.get(int(i), ()) for i in range(int(inst.max()) + 1)])[inst]
        weight = np.where(mine, self.boost, 1.0)
        keys = np.log(rng.random(len(candidates))) / weight
        if n >= len(candidates):
            return candidates
        return candidates[np.argpartition(-keys, n)[:n]]

    # ------------------------------------------------------------------------------------ stays

    def plant_stays(self, world: World, stays: Visits, rng: np.random.Generator) -> Visits:
        """Split admissions and idle bed-days, over the year's stays."""
        self._prepare(world)
        if self.rate <= 0:
            return stays
        total = world.config.visits
        first, last = month_bounds(world.config, 0)[0], month_bounds(world.config, world.config.months - 1)[1]
        # both halves within the months written: the readmission is in the claims
        split = np.nonzero((stays.treat >= 4) & (stays.begn >= first) & (stays.end + 4 <= last))[0]
        split = self._choose(rng, split, stays.inst[split], "split_admission", self._count("split_admission", total))
        second = stays.take(split)
        cut = (2 + rng.random(len(split)) * (stays.treat[split] - 3)).astype(I32)
        gap = rng.integers(0, 5, len(split)).astype(I32)
        stays.end[split] = stays.begn[split] + cut
        stays.treat[split] = cut
        second.begn = stays.end[split] + gap
        second.treat = second.treat - cut
        second.end = second.begn + second.treat
        second.scheme[:] = code("split_admission")
        free = np.nonzero((stays.scheme == 0) & ~np.isin(np.arange(len(stays)), split) & (stays.treat >= 2))[0]
        idle = self._choose(rng, free, stays.inst[free], "phantom_bed_days", self._count("phantom_bed_days", total))
        stays.idle[idle] = world.knowledge.idle_min_days + rng.integers(0, 5, len(idle))
        stays.end[idle] += stays.idle[idle]
        stays.scheme[idle] = code("phantom_bed_days")
        return Visits.concat([stays, second])

    # ------------------------------------------------------------------------------------ visits

    def plant_visits(self, world: World, visits: Visits, stays: Visits, month: tuple[int, int],
                     rng: np.random.Generator) -> Visits:  # fmt: skip
        """Outpatient visits of patients strictly inside one of their stays (billed as any outpatient visit)."""
        if self.rate <= 0:
            return Visits.empty()
        first, last = month
        lo, hi = np.maximum(stays.begn + 1, first), np.minimum(stays.end - 1, last)
        settled = stays.end <= month_bounds(world.config, world.config.months - 1)[1]  # its stay is in the claims
        ok = np.nonzero((hi >= lo) & settled)[0]
        chosen = self._choose(rng, ok, stays.inst[ok], "outpatient_during_stay",
                              self._count("outpatient_during_stay", len(visits)))  # fmt: skip
        day = lo[chosen] + (rng.random(len(chosen)) * (hi[chosen] - lo[chosen] + 1)).astype(I32)
        out = Visits.new(stays.person[chosen], stays.inst[chosen], stays.dx[chosen], OUTPATIENT, day)
        out.scheme[:] = code("outpatient_during_stay")
        return out

    # ------------------------------------------------------------------------------------ lines

    def plant_lines(self, world: World, visits: Visits, lines: Lines, month: tuple[int, int],
                    rng: np.random.Generator) -> tuple[Visits, Lines]:  # fmt: skip
        if self.rate <= 0:
            return visits, lines
        n = len(visits)
        touched = visits.scheme > 0
        added: list[Lines] = []
        inst = visits.inst[lines.visit]

        def pick(mask: np.ndarray, scheme: str) -> np.ndarray:
            """Lines of untouched visits meeting ``mask``: at most one per visit, then the scheme's count."""
            cand = np.nonzero(mask & ~touched[lines.visit])[0]
            _, first = np.unique(lines.visit[cand[rng.permutation(len(cand))]], return_index=True)
            cand = cand[rng.permutation(len(cand))][first]
            got = self._choose(rng, cand, inst[cand], scheme, self._count(scheme, n))
            touched[lines.visit[got]] = True
            return got

        kind = visits.kind[lines.visit]
        hospital = kind != PHARMACY
        # duplicate line: the same line again
        got = pick(hospital, "duplicate_line")
        copy = lines.take(got)
        copy.scheme[:] = code("duplicate_line")
        added.append(copy)
        # price above the cap
        got = pick(world.cap[lines.item] > 0, "price_above_cap")
        lines.pric[got] = (world.cap[lines.item[got]] * (1.05 + 0.45 * rng.random(len(got)))).astype(np.int64) + 1
        lines.scheme[got] = code("price_above_cap")
        # over quantity: days of supply, or counts above a day's or a visit's limit
        supply = (lines.days > 0) & world.drug[lines.item]
        counted = (world.max_day[lines.item] < 1 << 30) | (world.max_visit[lines.item] < 1 << 30)
        got = pick(supply | counted, "over_quantity")
        long = lines.days[got] > 0
        limit = np.minimum(world.max_days[lines.item[got]], world.knowledge.max_days)
        lines.days[got] = np.where(long, limit + rng.integers(5, 61, len(got)), lines.days[got])
        most = np.minimum(world.max_day[lines.item[got]], world.max_visit[lines.item[got]])
        lines.cnt[got] = np.where(long, lines.cnt[got], most + rng.integers(1, 4, len(got)))
        lines.scheme[got] = code("over_quantity")
        # upcoded: a dearer sibling of the same kind, at the institution's price of it
        dearer = _dearer(world)
        got = pick(hospital & (dearer[lines.item] >= 0), "upcoded_service")
        lines.item[got] = dearer[lines.item[got]]
        lines.pric[got] = world.price[visits.inst[lines.visit[got]], lines.item[got]]
        lines.scheme[got] = code("upcoded_service")
        # swapped: a 丙类 item billed as a covered one at its own price, or an item outside its limits
        got = pick(np.ones(len(lines), bool), "swapped_item")
        for j in got:
            v = int(lines.visit[j])
            swap = _swap(world, visits, v, int(lines.item[j]), rng)
            if swap < 0:
                continue
            if world.covered[lines.item[j]] > 0:
                lines.pric[j] = world.price[visits.inst[v], swap]
            lines.item[j] = swap
            lines.scheme[j] = code("swapped_item")
        # exclusive pair: the second item of a pair on a day the first is (or is added) on the visit
        added.append(self._pairs(world, visits, lines, touched, rng))
        # early refill: a new visit of the patient before the supply of a drug ran out
        visits, refill = self._refills(world, visits, lines, touched, month, rng)
        added.append(refill)
        return visits, Lines.concat([lines, *added])

    def _pairs(self, world: World, visits: Visits, lines: Lines, touched: np.ndarray, rng: np.random.Generator
               ) -> Lines:  # fmt: skip
        pairs = [(world.item_index.get(a, -1), world.item_index.get(b, -1)) for a, b in world.knowledge.pairs]
        pairs = [(a, b) for a, b in pairs if a >= 0 and b >= 0]
        rows: list[tuple[int, int, int, int, int, int]] = []
        if pairs:
            hosp = np.nonzero((visits.kind != PHARMACY) & ~touched)[0]
            order = np.argsort(lines.visit, kind="stable")
            starts = np.searchsorted(lines.visit[order], np.arange(len(visits) + 1))
            chosen = self._choose(
                rng, hosp, visits.inst[hosp], "exclusive_pair", self._count("exclusive_pair", len(visits))
            )
            for v in chosen:
                setting = SETTING[int(visits.kind[v])]
                fit = [(a, b) for a, b in pairs if setting in world.items[a].settings + world.items[b].settings]
                if not fit:
                    continue
                a, b = fit[int(rng.integers(0, len(fit)))]
                own = order[starts[v] : starts[v + 1]]
                mine = lines.item[own]
                days = lines.day[own][mine == a]
                day = int(days[0]) if len(days) else int(visits.begn[v])
                if a not in mine:
                    rows.append((v, a, day, 1, int(world.price[visits.inst[v], a]), 0))
                rows.append((v, b, day, -1, int(world.price[visits.inst[v], b]), code("exclusive_pair")))
                touched[v] = True
        return _lines(rows)

    def _refills(self, world: World, visits: Visits, lines: Lines, touched: np.ndarray, month: tuple[int, int],
                 rng: np.random.Generator) -> tuple[Visits, Lines]:  # fmt: skip
        _, last = month
        grace = world.knowledge.refill_grace
        room = np.minimum(lines.days - grace - 1, last - lines.day)
        ok = (visits.kind[lines.visit] == OUTPATIENT) & world.drug[lines.item] & (room >= 1) & ~touched[lines.visit]
        cand = np.nonzero(ok)[0]
        _, first = np.unique(lines.visit[cand], return_index=True)
        cand = cand[first]
        got = self._choose(rng, cand, visits.inst[lines.visit[cand]], "early_refill",
                           self._count("early_refill", len(visits)))  # fmt: skip
        if not len(got):
            return visits, _lines([])
        src = lines.visit[got]
        new = visits.take(src)
        day = lines.day[got] + 1 + (rng.random(len(got)) * room[got]).astype(I32)
        new.begn, new.end, new.scheme = day, day.copy(), np.zeros(len(got), np.int8)
        rows = np.arange(len(visits), len(visits) + len(got), dtype=I32)
        refill = lines.take(got)
        refill.visit, refill.day = rows, day
        refill.scheme[:] = code("early_refill")
        # the consultation of the new visit: its first service line, as on the first visit
        services = np.nonzero(np.isin(lines.visit, src) & ~world.drug[lines.item])[0]
        _, first = np.unique(lines.visit[services], return_index=True)
        consult = lines.take(services[first])
        where = {int(s): int(r) for s, r in zip(src, rows, strict=True)}
        consult.visit = np.array([where[int(s)] for s in consult.visit], dtype=I32)
        consult.day = new.begn[consult.visit - len(visits)]
        consult.scheme[:] = 0
        return Visits.concat([visits, new]), Lines.concat([refill, consult])


def _lines(rows: list[tuple[int, int, int, int, int, int]]) -> Lines:
    """Lines from (visit, item, day, cnt (−1: one), fen a unit, scheme)."""
    a = np.array(rows, dtype=np.int64).reshape(-1, 6)
    return Lines(a[:, 0].astype(I32), a[:, 1].astype(I32), a[:, 2].astype(I32), np.abs(a[:, 3]).astype(I32),
                 a[:, 4].copy(), np.zeros(len(a), I32), a[:, 5].astype(np.int8))  # fmt: skip


def _kind_key(world: World, i: int) -> str:
    item = world.items[i]
    code_ = item.med_list_codg
    if item.list_type == "201":
        return "201:" + code_[2:8]
    if item.list_type == "101":
        return "101:" + code_[1:5]
    return ""


def _unrestricted(world: World, i: int) -> bool:
    it = world.items[i]
    return (it.sex is None and it.age_min is None and it.age_max is None and not it.inpatient_only
            and not it.dx_prefixes and not it.insutypes
            and it.min_hosp_lv is None and world.covered[i] > 0)  # fmt: skip


def _dearer(world: World) -> np.ndarray:
    """For each item, a dearer item of the same kind without restrictions (-1: none): what upcoding bills."""
    cached = world.cache.get("dearer")
    if cached is not None:
        return np.asarray(cached)
    out = np.full(len(world.items), -1, I32)
    by_kind: dict[str, list[int]] = {}
    for i in range(len(world.items)):
        if _kind_key(world, i):
            by_kind.setdefault(_kind_key(world, i), []).append(i)
    for group in by_kind.values():
        for i in group:
            mean = float(world.items[i].price_lo + world.items[i].price_hi)
            up = [j for j in group if j != i and _unrestricted(world, j) and not world.items[j].daily
                  and float(world.items[j].price_lo + world.items[j].price_hi) > 1.3 * mean
                  and world.items[j].settings == world.items[i].settings]  # fmt: skip
            if up and not world.items[i].daily:
                out[i] = min(up, key=lambda j: float(world.items[j].price_lo))
    world.cache["dearer"] = out
    return out


def _swap(world: World, visits: Visits, v: int, item: int, rng: np.random.Generator) -> int:
    """What an item is billed as when swapped (-1: nothing fits)."""
    it = world.items[item]
    setting = SETTING[int(visits.kind[v])]
    if it.chrgitm_lv == "03":  # a 丙类 item billed as a covered one of the same type
        same = [j for j, x in enumerate(world.items) if x.list_type == it.list_type and x.chrgitm_lv != "03"
                and setting in x.settings and _unrestricted(world, j)]  # fmt: skip
        return int(same[int(rng.integers(0, len(same)))]) if same else -1
    person = int(visits.person[v])
    sex, age = str(int(world.gend[person])), int(world.age[person])
    ins = ("310", "390")[int(world.insutype[person])]
    dx = world.dxs[int(visits.dx[v])].code
    outside = [
        j
        for j, x in enumerate(world.items)
        if setting in x.settings
        and (
            (x.sex is not None and x.sex != sex)
            or (x.age_max is not None and age > x.age_max)
            or (x.age_min is not None and age < x.age_min)
            or (x.insutypes and ins not in x.insutypes)
            or (x.dx_prefixes and not dx.startswith(x.dx_prefixes))
        )
    ]
    return int(outside[int(rng.integers(0, len(outside)))]) if outside else -1


# ---------------------------------------------------------------------------------------- the HIS traffic's bills

FEE_SCHEMES = ("duplicate_line", "over_quantity", "price_above_cap", "exclusive_pair")
"""The line-level schemes a simulated HIS plants in the fee lines it uploads (``yibao sim traffic --fraud-rate``)."""
FeeLine = tuple[str, int, Decimal, int]
"""A bill's line as the traffic makes it: code, count, price, and the fee's day (days before the upload)."""
"""(med_list_codg, cnt, pric in yuan)."""


class FeeFraud:
    """Plants line-level schemes in a bill of the HIS traffic and records the truth as JSON lines.

    ``plant`` gives a bill (``rate`` of them) one scheme, the first of FEE_SCHEMES in a random order that
    the bill allows; ``record`` writes {"mdtrt_id", "feedetl_sn", "scheme"} for each plant once the visit
    is settled (the traffic numbers fee lines from 1 in bill order). Thread-safe.
    """

    def __init__(self, rate: float, truth: Path, knowledge: Knowledge = DEFAULT) -> None:
        self.rate = rate
        self.knowledge = knowledge
        self.items = {i.med_list_codg: i for i in city_data().catalogue}
        self.lock = threading.Lock()
        truth.parent.mkdir(parents=True, exist_ok=True)
        self.file = truth.open("w", encoding="utf-8")
        self.planted = 0

    def plant(self, rng: random.Random, lines: Sequence[FeeLine], setting: str
              ) -> tuple[list[FeeLine], list[tuple[int, str]]]:  # fmt: skip
        """The bill with a plant (or as it was) and the positions of the planted lines with their scheme."""
        out = list(lines)
        if not out or rng.random() >= self.rate:
            return out, []
        for scheme in rng.sample(FEE_SCHEMES, len(FEE_SCHEMES)):
            got = getattr(self, f"_{scheme}")(rng, out, setting)
            if got is not None:
                return out, [(got, scheme)]
        return out, []

    def _duplicate_line(self, rng: random.Random, out: list[FeeLine], setting: str) -> int | None:
        out.append(out[rng.randrange(len(out))])
        return len(out) - 1

    def _price_above_cap(self, rng: random.Random, out: list[FeeLine], setting: str) -> int | None:
        capped = [j for j, (c, _, _, _) in enumerate(out) if c in self.items and self.items[c].price_cap]
        if not capped:
            return None
        j = rng.choice(capped)
        code_, cnt, _, day = out[j]
        cap = self.items[code_].price_cap or Decimal(0)
        out[j] = (code_, cnt, (cap * Decimal(rng.randint(105, 150)) / 100).quantize(Decimal("0.01")), day)
        return j

    def _over_quantity(self, rng: random.Random, out: list[FeeLine], setting: str) -> int | None:
        def limit(c: str) -> int | None:
            it = self.items.get(c)
            return None if it is None else it.max_cnt_per_day or it.max_cnt

        limited = [j for j, (c, _, _, _) in enumerate(out) if limit(c)]
        if not limited:
            return None
        j = rng.choice(limited)
        code_, _, pric, day = out[j]
        out[j] = (code_, (limit(code_) or 0) + rng.randint(1, 3), pric, day)
        return j

    def _exclusive_pair(self, rng: random.Random, out: list[FeeLine], setting: str) -> int | None:
        items = self.items
        known = [(a, b) for a, b in self.knowledge.pairs if a in items and b in items]
        fit = [(a, b) for a, b in known if setting in items[a].settings and setting in items[b].settings]
        if not fit:
            return None
        a, b = rng.choice(fit)
        day = next((d for c, _, _, d in out if c == a), 0)  # the pair is charged on one day
        for code_ in (a, b) if a not in {c for c, _, _, _ in out} else (b,):
            it = items[code_]
            lo, hi = int(it.price_lo * 100), int(it.price_hi * 100)
            out.append((code_, 1, Decimal(lo + rng.randrange(hi - lo + 1)) / 100, day))
        return len(out) - 1

    def record(self, mdtrt_id: str, plants: Sequence[tuple[int, str]]) -> None:
        if not plants:
            return
        rows = "".join(
            json.dumps({"mdtrt_id": mdtrt_id, "feedetl_sn": str(1 + j), "scheme": s}) + "\n" for j, s in plants
        )
        with self.lock:
            self.file.write(rows)
            self.file.flush()
            self.planted += len(plants)

    def close(self) -> None:
        self.file.close()
