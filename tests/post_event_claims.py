"""Random claims over the synthetic city's catalogue that make every logic of a rule library fire.

Lines draw restricted items often, with wrong sexes, ages, levels, med_types, insurance types and
diagnoses; the codes the rules name (pairs, required items, never-paid codes, bed codes) are sprinkled in;
and the cross-visit schemes (readmission, outpatient during a stay, same-day repeats, a practitioner's
crowded day, early refills) are planted per person.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from yibao.domain.catalog import Catalog, CatalogItem
from yibao.domain.codes import ChrgitmLv, ListType
from yibao.domain.supervision.encounter import Encounter, Line
from yibao.domain.supervision.rules import RuleLibrary
from yibao.files.loader import load_catalog
from yibao.sim.city import catalogue_toml

ADMDVS = "440100"
START = date(2026, 1, 5)
DXS = ("E11.9", "I10", "J18.0", "K29.7", "N39.0", "O80", "C34.9", "M54.5", "")
INSTITUTIONS = [(f"H4401000000{i:02d}", lv) for i, lv in enumerate((1, 1, 2, 2, 3, 3, 3, 2))]


def city_catalog() -> Catalog:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catalog.toml"
        path.write_text(catalogue_toml(ADMDVS, "city-1"), encoding="utf-8")
        return load_catalog(path)


def named_codes(library: RuleLibrary) -> list[str]:
    """The codes (and code prefixes) the rules' params name."""
    out: list[str] = []
    for rule in library.rules:
        p = rule.params
        for pair in p.get("pairs", []):
            out += pair
        out += [p["item"]] if "item" in p else []
        for key in ("requires", "codes", "bed_codes", "nursing_codes"):
            out += list(p.get(key, []))
    return out


def catalog_for(library: RuleLibrary) -> Catalog:
    """The city's catalogue, and an item for each code a rule names that it lacks (herbs, say)."""
    city = city_catalog()
    items = dict(city.items)
    for rule in library.rules:
        p = rule.params
        codes = [c for pair in p.get("pairs", []) for c in pair] + list(p.get("codes", []))
        codes += [p["item"]] if "item" in p and len(p["item"]) >= 15 else []
        for code in codes:
            if code not in items:
                kind = ListType(rule.list_types[0] if rule.list_types else "201")
                items[code] = CatalogItem(code, f"item {code}", kind, ChrgitmLv.CLASS_B, pric_uplmt_amt=Decimal(30))
    return Catalog.of(city.admdvs, city.version, items.values())


class Builder:
    def __init__(self, library: RuleLibrary, catalog: Catalog, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.items = sorted(catalog.items.values(), key=lambda i: i.med_list_codg)
        r = [i for i in self.items if _restricted(i)]
        self.restricted = r
        self.drugs = [i for i in self.items if i.list_type == "101"]
        self.named = sorted(set(named_codes(library)))
        self.partner = {b: a for r in library.rules for a, b in r.params.get("pairs", [])}
        self.dx_prefixes = sorted({p for i in self.items for p in i.restrictions.dx_prefixes})
        self.max_visits = max([int(r.params["max_visits"]) for r in library.rules if "max_visits" in r.params] or [5])
        self.n = 0

    def next_id(self) -> str:
        self.n += 1
        return f"M{self.n:07d}"

    def line(self, sn: int, day: date, item: CatalogItem | None = None, code: str = "") -> Line:
        rng = self.rng
        code = code or (item.med_list_codg if item else "")
        cap = item.pric_uplmt_amt if item and item.pric_uplmt_amt else Decimal("50")
        pric = (cap * Decimal(rng.choice((50, 90, 100, 101, 130))) / 100).quantize(Decimal("0.0001"))
        cnt = Decimal(rng.choice(("1", "2", "0.5", "3", "4", "7")))
        amount = int((pric * cnt * 100).to_integral_value())
        if rng.random() < 0.04:
            amount += rng.choice((-5, 2, 1, 40))
        days = rng.choice((0, 0, 5, 7, 10, 30, 45)) if item is not None and item.list_type == "101" else 0
        return Line(f"{sn}", code, day, cnt, pric, amount, days)

    def bill(self, begn: date, end: date | None, k: int) -> tuple[Line, ...]:
        rng, lines = self.rng, []
        span = max(0, ((end or begn) - begn).days)
        for sn in range(1, k + 1):
            day = begn + timedelta(days=rng.randint(0, span))
            if rng.random() < 0.03:
                day += timedelta(days=rng.choice((-2, span + 1)))
            roll = rng.random()
            if roll < 0.45:
                ln = self.line(sn, day, rng.choice(self.restricted))
            elif roll < 0.60:
                code = rng.choice(self.named)
                item = next((i for i in self.items if i.med_list_codg == code), None)
                ln = self.line(sn, day, item, code if item else code.ljust(15, "0"))
                if code in self.partner:  # and the other of its pair, the same day
                    other = self.partner[code]
                    lines.append(self.line(100 + sn, day, None, other))
            elif roll < 0.63:
                ln = self.line(sn, day, None, f"X{rng.randint(0, 99):013d}")
            else:
                ln = self.line(sn, day, rng.choice(self.items))
            lines.append(ln)
            if rng.random() < 0.05:  # the same line again
                lines.append(Line(f"{k + sn}", ln.med_list_codg, ln.fee_date, ln.cnt, ln.pric, ln.amount, ln.days))
        return tuple(lines)

    def visit(self, psn: tuple[str, str, int, str], kind: str, begn: date, end: date | None, **kw: object) -> Encounter:
        rng = self.rng
        psn_no, gend, age, insutype = psn
        chosen = kw.pop("inst", None)
        inst, lv = chosen if isinstance(chosen, tuple) else rng.choice(INSTITUTIONS)
        med_type = {"outpatient": rng.choice(("11", "11", "14")), "inpatient": "21", "pharmacy": "41"}[kind]
        dx = str(kw.pop("dx", rng.choice(DXS + tuple(self.dx_prefixes))))
        lines = self.bill(begn, end, rng.randint(2, 14 if kind == "inpatient" else 6))
        fields: dict[str, object] = {
            "atddr_no": f"D{inst[-2:]}{rng.randint(0, 3)}",
            "diagnoses": tuple(rng.sample(DXS[:-1], rng.choice((0, 0, 1)))),
            "cross_region": rng.random() < 0.05,
            **kw,
        }
        return Encounter(
            mdtrt_id=self.next_id(), psn_no=psn_no, gend=gend, age=age, insutype=insutype, fixmedins_code=inst,
            hosp_lv=lv, med_type=med_type, kind=kind, begn_date=begn, end_date=end, main_dx=dx, lines=lines,
            admdvs=ADMDVS, medfee_sumamt=sum(ln.amount for ln in lines), **fields,  # type: ignore[arg-type]
        )  # fmt: skip

    def person(self, i: int) -> Iterator[Encounter]:
        rng = self.rng
        psn = (f"P{i:06d}", rng.choice(("1", "2", "2", "9")), rng.choice((3, 12, 30, 45, 70, 88)),
               rng.choice(("310", "310", "390", "510")))  # fmt: skip
        day = START + timedelta(days=rng.randint(0, 20))
        for _ in range(rng.randint(1, 4)):
            kind = rng.choice(("outpatient", "outpatient", "outpatient", "pharmacy", "inpatient"))
            end = day + timedelta(days=rng.randint(2, 9)) if kind == "inpatient" else day
            yield self.visit(psn, kind, day, end)
            if kind == "inpatient" and rng.random() < 0.4:  # outpatient during the stay
                yield self.visit(psn, "outpatient", day + timedelta(days=1), day + timedelta(days=1))
            day = (end or day) + timedelta(days=rng.randint(0, 12))
        scheme = rng.random()
        if scheme < 0.15:  # readmission: same institution and main diagnosis soon after
            inst, dx = rng.choice(INSTITUTIONS), rng.choice(DXS[:-1])
            first_end = day + timedelta(days=4)
            yield self.visit(psn, "inpatient", day, first_end, inst=inst, dx=dx)
            again = first_end + timedelta(days=rng.randint(0, 20))
            yield self.visit(psn, "inpatient", again, again + timedelta(days=3), inst=inst, dx=dx)
        elif scheme < 0.3:  # same-day repeats at one institution
            inst = rng.choice(INSTITUTIONS)
            for _ in range(rng.randint(2, 3)):
                yield self.visit(psn, "outpatient", day, day, inst=inst)
        elif scheme < 0.35:
            yield self.idle_stay(psn, day)
        elif scheme < 0.5:  # a chronic drug fetched again and again
            drug = rng.choice(self.drugs)
            for _ in range(3):
                ln = self.line(1, day, drug)
                ln = Line("1", ln.med_list_codg, day, ln.cnt, ln.pric, ln.amount, 30)
                yield Encounter(
                    mdtrt_id=self.next_id(), psn_no=psn[0], gend=psn[1], age=psn[2], insutype=psn[3],
                    fixmedins_code=INSTITUTIONS[0][0], hosp_lv=1, med_type="11", kind="outpatient", begn_date=day,
                    end_date=day, main_dx="I10", lines=(ln,), admdvs=ADMDVS, medfee_sumamt=ln.amount,
                )  # fmt: skip
                day += timedelta(days=rng.choice((10, 20, 28, 35)))

    def idle_stay(self, psn: tuple[str, str, int, str], day: date) -> Encounter:
        """A stay billing only its bed (and nursing) day after day."""
        stay = self.visit(psn, "inpatient", day, day + timedelta(days=5))
        beds = [c for c in self.named if c.startswith("00110")] or ["001102000010000"]
        lines = tuple(
            self.line(i + 1, day + timedelta(days=i), None, beds[i % len(beds)].ljust(15, "0")) for i in range(5)
        )
        return Encounter(**{**{f: getattr(stay, f) for f in stay.__dataclass_fields__}, "lines": lines})

    def crowded_day(self) -> Iterator[Encounter]:
        """One practitioner seeing more outpatients in a day than the rules allow."""
        day, inst = START + timedelta(days=40), INSTITUTIONS[2]
        for i in range(self.max_visits + 2):
            psn = (f"Q{i:06d}", "1", 40, "310")
            yield self.visit(psn, "outpatient", day, day, inst=inst, atddr_no="D-BUSY")

    def claims(self, persons: int) -> list[Encounter]:
        out = [e for i in range(persons) for e in self.person(i)]
        return out + list(self.crowded_day())


def _restricted(item: CatalogItem) -> bool:
    r = item.restrictions
    return bool(
        r.sex or r.age_min is not None or r.age_max is not None or r.min_hosp_lv is not None or r.med_types
        or r.dx_prefixes or r.insutypes or r.max_cnt_per_day is not None or r.max_cnt_per_visit is not None
        or r.max_days is not None
    )  # fmt: skip
