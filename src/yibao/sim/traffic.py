"""HIS traffic: hospitals and pharmacies of the synthetic city talking to a running ``yibao serve``.

``run_traffic(url, rate, duration, db_url)`` plays, over HTTP and only against 127.0.0.1, complete
interface conversations at about ``rate`` settlements a second for ``duration`` seconds, then stops:

- every HIS signs in (9001) once, before its first message;
- an outpatient visit: 1101 by ID card, 2201, 2204, 2206, 2207 (most bills small); for a person with an
  activated electronic voucher, most often by voucher: the phone's code (signed with the authority's key
  on this machine, as the phone would be handed it) read at the counter (ec.query, business type 01101)
  for 1101 and 2201, a second code read for 01301 for 2206 and 2207 (mdtrt_cert_type 01);
- an inpatient stay: 1101, 2401, 2301, 2303, sometimes an interim 2304 (mid_setl_flag 1) and more
  2301 lines, 2402, 2303, 2304 — a long tail of large bills;
- a pharmacy purchase: 1101, 2102 (employees, from the personal account), by voucher (02121) likewise;
- now and then a reversal: 2208 of an outpatient settlement, or 2305 of a stay followed by its
  settlement again.

Diagnoses come from the city's ICD-10 list and fee lines from its catalogue (``city.py``), drawn
from plausible distributions. Persons and institutions are sampled from the database (a few thousand
rows, never the whole table). The report counts calls per transaction, settlements per second,
latency percentiles per code and every error with its first messages.
"""

from __future__ import annotations

import bisect
import functools
import http.client
import itertools
import json
import math
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine, text

from yibao.api.fsi.gateway import SM3, Gateway, Signer
from yibao.app.records import LOCAL
from yibao.app.voucher import CodeIssuer
from yibao.domain.frozen import frozen
from yibao.sim.city import CatalogueEntry, Diagnosis, city_data
from yibao.sim.fraud import FeeFraud
from yibao.sim.his import EC_QUERY, HisClient, KeepAlive
from yibao.store.engine import make_engine
from yibao.store.personal import personal_for

LOOPBACK = ("127.0.0.1", "localhost", "::1")
CODES = ("9001", "ec.query", "1101", "2201", "2204", "2206", "2207", "2208", "2401", "2301", "2303", "2304", "2402",
         "2305", "2102")  # fmt: skip
SETTLING = ("2207", "2304", "2102")
CENT = Decimal("0.01")
ZERO = Decimal(0)


# ---------------------------------------------------------------------------------------- who and where


@frozen
class Patient:
    psn_no: str
    certno: str
    insutype: str
    ec_index_no: str | None = None
    """The person's active electronic voucher, if they activated one."""
    insuplc: str = ""
    """A guest's insured region (异地就医): the envelopes of their visit name it (insuplc_admdvs)."""


@frozen
class Doctor:
    prac_code: str
    prac_name: str
    dept_code: str


@frozen
class Site:
    """A designated institution: a hospital (hosp_lv 1–3) or a pharmacy."""

    code: str
    name: str
    pharmacy: bool
    hosp_lv: int
    specialty: str
    doctors: tuple[Doctor, ...]


@frozen
class Sample:
    """What the simulator knows of the city: a sample of its insured, all its institutions, its catalogue."""

    employees: tuple[Patient, ...]
    residents: tuple[Patient, ...]
    hospitals: tuple[Site, ...]
    pharmacies: tuple[Site, ...]
    items: tuple[CatalogueEntry, ...]


def sample_city(db_url: str | None, region: str = "440100", size: int = 20_000, seed: int = 1) -> Sample:
    """About ``size`` insured persons in force (by sampling, without reading the whole table), every
    institution in service and practitioner, and the catalogue items the region's catalogue holds."""
    engine = make_engine(db_url)
    try:
        patients = _sample_persons(engine, region, size, seed)
        with engine.connect() as conn:
            doctors: dict[str, list[Doctor]] = {}
            for prac_code, prac_name, code, dept in conn.execute(
                text("SELECT prac_code, prac_name, fixmedins_code, dept_code FROM practitioner ORDER BY prac_code")
            ):
                doctors.setdefault(code, []).append(Doctor(prac_code, prac_name, dept))
            sites = [
                Site(code, name, kind == "2", int(lv), specialty or "", tuple(doctors.get(code, ())))
                for code, name, kind, lv, specialty in conn.execute(
                    text("SELECT fixmedins_code, fixmedins_name, fixmedins_type, hosp_lv, specialty FROM institution "
                         "WHERE status = '1' AND admdvs = :region ORDER BY fixmedins_code"),
                    {"region": region},
                )
            ]  # fmt: skip
            codes = {
                c
                for (c,) in conn.execute(
                    text("SELECT med_list_codg FROM catalog_item WHERE admdvs = :region"), {"region": region}
                )
            }
    finally:
        engine.dispose()
    items = tuple(item for item in city_data().catalogue if item.med_list_codg in codes)
    hospitals = tuple(s for s in sites if not s.pharmacy and s.hosp_lv > 0)
    pharmacies = tuple(s for s in sites if s.pharmacy)
    if not items:
        raise ValueError(f"the catalogue of {region} holds none of the city's items: build the city first")
    if not hospitals:
        raise ValueError(f"no hospital of {region} in service")
    employees = tuple(p for p in patients if p.insutype == "310")
    residents = tuple(p for p in patients if p.insutype == "390")
    if not employees and not residents:
        raise ValueError(f"no insured person of {region} in force")
    return Sample(employees, residents, hospitals, pharmacies, items)


def sample_guests(db_url: str | None, region: str, size: int = 2_000, seed: int = 1) -> tuple[Patient, ...]:
    """About ``size`` employees (310) insured in ``region``, sampled from that region's database, as
    guests treated elsewhere: by ID card, their visits naming ``region`` as the insured region."""
    engine = make_engine(db_url)
    try:
        found = _sample_persons(engine, region, size, seed)
    finally:
        engine.dispose()
    return tuple(Patient(p.psn_no, p.certno, p.insutype, None, region) for p in found if p.insutype == "310")


def _sample_persons(engine: Engine, region: str, size: int, seed: int) -> list[Patient]:
    columns = (
        "SELECT p.psn_no, p.certno_enc, i.insutype, v.ec_index_no FROM person p{sample} "
        "JOIN insurance i ON i.psn_no = p.psn_no LEFT JOIN voucher v ON v.psn_no = p.psn_no AND v.status = '1' "
        "WHERE i.psn_insu_stas = '1' AND i.insuplc_admdvs = :region AND i.insutype IN ('310', '390')"
    )
    out: list[Patient] = []
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'person'::regclass")).scalar()
            total = int(rows or 0)
            if total <= 0:
                total = int(conn.execute(text("SELECT count(*) FROM person")).scalar_one())
            share = min(100.0, 100.0 * size * 1.5 / max(total, 1))
            query = columns.format(sample=f" TABLESAMPLE SYSTEM ({share:.6f}) REPEATABLE ({seed % 2**31})")
            result = conn.execute(text(query + " ORDER BY p.psn_no LIMIT :size"), {"region": region, "size": size})
            out = [Patient(*r) for r in result]
        else:
            top = int(conn.execute(text("SELECT coalesce(max(rowid), 0) FROM person")).scalar_one())
            rowids = sorted(random.Random(f"{seed}:sample").sample(range(1, top + 1), min(size, top)))
            for start in range(0, len(rowids), 500):
                chunk = rowids[start : start + 500]
                marks = ", ".join(str(r) for r in chunk)  # integers of our own making
                query = columns.format(sample="") + f" AND p.rowid IN ({marks})"
                out += [Patient(*r) for r in conn.execute(text(query), {"region": region})]
    sealed = personal_for(engine.url)  # the simulated HIS reads the ID card; here, the sealed number
    return [Patient(p.psn_no, sealed.open(p.certno, f"certno/{p.psn_no}"), p.insutype, p.ec_index_no) for p in out]


# ---------------------------------------------------------------------------------------- bills


@frozen
class Line:
    code: str
    cnt: int
    pric: Decimal
    days_ago: int = 0
    """The day of the fee before the bill's upload (a stay's daily items are billed day by day)."""

    @property
    def amount(self) -> Decimal:
        return self.pric * self.cnt


ANAESTHESIA = {
    "op_caesarean": "op_spinal", "op_hernia": "op_spinal", "op_fracture": "op_spinal", "op_hip": "op_spinal",
    "op_appendix": "op_major", "op_appendix_open": "op_spinal", "op_gallbladder": "op_major", "op_breast": "op_major",
    "op_colon": "op_major", "op_brain": "op_major",
}  # fmt: skip


class Biller:
    """Draws diagnoses and fee lines from the catalogue the way a HIS bills them."""

    def __init__(self, items: Sequence[CatalogueEntry], diagnoses: Sequence[Diagnosis], departments: dict[str, str]):
        self.items = tuple(items)
        self.diagnoses = tuple(diagnoses)
        self.departments = departments
        self.groups = {code: tags for code, _, tags in city_data().departments}

    def price(self, rng: random.Random, item: CatalogueEntry) -> Decimal:
        """Within the HIS's range and never above the price cap (charging above it is a scheme: sim.fraud)."""
        lo, hi = int(item.price_lo * 100), int(item.price_hi * 100)
        if item.price_cap is not None:
            hi = max(min(lo, int(item.price_cap * 100)), min(hi, int(item.price_cap * 100)))
            lo = min(lo, hi)
        return Decimal(lo + rng.randrange(hi - lo + 1)) / 100

    def line(self, rng: random.Random, item: CatalogueEntry) -> Line:
        return Line(item.med_list_codg, self.count(rng, item), self.price(rng, item))

    def count(self, rng: random.Random, item: CatalogueEntry) -> int:
        cnt = rng.randint(item.cnt_lo, item.cnt_hi)
        return max(1, min(cnt, item.max_cnt_per_day or cnt, item.max_cnt or cnt))

    def daily(self, rng: random.Random, item: CatalogueEntry, days: int, last: int) -> list[Line]:
        """A line a day for ``days`` days of a stay of ``last`` days (a HIS uploads the day's charges daily)."""
        price = self.price(rng, item)
        return [Line(item.med_list_codg, self.count(rng, item), price, last - d) for d in range(days)]

    def diagnosis(self, rng: random.Random, inpatient: bool, gend: str, age: int, specialty: str = "") -> Diagnosis:
        wanted = {"psychiatric": "psych", "tuberculosis": "tb"}.get(specialty)
        fits = [d for d in self.diagnoses if d.fits(gend, age) and (wanted is None or wanted in d.tags)]
        weights = [d.inpatient_weight if inpatient else d.outpatient_weight for d in fits]
        if not fits or sum(weights) == 0:
            fits = [d for d in self.diagnoses if d.fits(gend, age)] or list(self.diagnoses)
            weights = [d.inpatient_weight + d.outpatient_weight + 1 for d in fits]
        return rng.choices(fits, weights)[0]

    def fitting(self, setting: str, tags: frozenset[str], gend: str, age: int, hosp_lv: int,
                kinds: tuple[str, ...] = ("101", "201", "301"), dx: str = "") -> list[CatalogueEntry]:  # fmt: skip
        """Items an honest bill may carry: their restrictions (docs/supervision.md's knowledge) hold."""
        return [
            i
            for i in self.items
            if setting in i.settings
            and i.list_type in kinds
            and (i.tags & tags)
            and (i.sex is None or i.sex == gend)
            and (i.age_min is None or age >= i.age_min)
            and (i.age_max is None or age <= i.age_max)
            and (i.min_hosp_lv is None or hosp_lv >= i.min_hosp_lv)
            and (not i.dx_prefixes or dx.startswith(i.dx_prefixes))
            and not i.insutypes
        ]

    def pick(self, rng: random.Random, pool: Sequence[CatalogueEntry], k: int) -> list[CatalogueEntry]:
        return rng.sample(list(pool), min(k, len(pool))) if pool else []

    def pick_drugs(self, rng: random.Random, pool: Sequence[CatalogueEntry], k: int) -> list[CatalogueEntry]:
        """``k`` drugs of different groups (two of one group in a visit is 同类药品重复使用)."""
        groups: set[str] = set()
        out: list[CatalogueEntry] = []
        for item in self.pick(rng, pool, len(pool)):
            if len(out) < k and item.med_list_codg[1:6] not in groups:
                groups.add(item.med_list_codg[1:6])
                out.append(item)
        return out

    def outpatient(self, rng: random.Random, dx: Diagnosis, gend: str, age: int, hosp_lv: int) -> list[Line]:
        """A small bill: the consultation, one to four drugs, sometimes tests, rarely imaging."""
        fit = functools.partial(self.fitting, dx=dx.code)
        visit = (
            "emergency"
            if rng.random() < 0.08
            else "visit_specialist"
            if hosp_lv >= 2 and rng.random() < 0.4
            else "visit"
        )
        chosen = self.pick(rng, fit("o", frozenset({visit}), gend, age, hosp_lv), 1)
        drugs = fit("o", dx.tags, gend, age, hosp_lv, ("101",)) or fit("o", frozenset({"general"}), gend, age,
                                                                            hosp_lv, ("101",))  # fmt: skip
        chosen += self.pick_drugs(rng, drugs, rng.choice((1, 1, 2, 2, 2, 3, 3, 4)))
        tests = [i for i in fit("o", dx.tags | {"lab"}, gend, age, hosp_lv, ("201",)) if i.price_hi < 300]
        if rng.random() < 0.45:
            chosen += self.pick(rng, tests, rng.randint(1, 3))
        if rng.random() < 0.04:
            chosen += self.pick(
                rng, [i for i in fit("o", dx.tags, gend, age, hosp_lv, ("201",)) if i.price_hi >= 300], 1
            )
        if rng.random() < 0.10:
            chosen += self.pick(rng, fit("o", dx.tags | {"all"}, gend, age, hosp_lv, ("301",)), 1)
        return [self.line(rng, item) for item in chosen]

    def stay_days(self, rng: random.Random, dx: Diagnosis) -> int:
        days = rng.randint(max(1, dx.stay_lo), max(1, dx.stay_lo, dx.stay_hi))
        if rng.random() < 0.10:  # complications: the long tail
            days = days * 2 + rng.randint(0, 10)
        return days

    def inpatient(self, rng: random.Random, dx: Diagnosis, days: int, gend: str, age: int,
                  hosp_lv: int) -> list[Line]:  # fmt: skip
        """A stay: bed, nursing and rounds every day, admission tests, drugs, the operation, sometimes ICU."""
        fit = functools.partial(self.fitting, dx=dx.code)
        chosen: list[tuple[CatalogueEntry, int]] = []
        bed = "bed_private" if rng.random() < 0.05 else "bed"
        for tag, k in ((bed, 1), ("stay", 2)):  # one bed a day, rounds and nursing
            chosen += [(i, days) for i in self.pick(rng, fit("i", frozenset({tag}), gend, age, hosp_lv), k)]
        chosen += [
            (i, days) for i in fit("i", frozenset({"all"}), gend, age, hosp_lv) if i.daily and rng.random() < 0.7
        ]
        chosen += [(i, 1) for i in fit("i", frozenset({"adm"}), gend, age, hosp_lv, ("201",)) if rng.random() < 0.8]
        services = [i for i in fit("i", dx.tags, gend, age, hosp_lv, ("201",)) if not i.daily]
        chosen += [(i, 1) for i in self.pick(rng, services, rng.randint(1, 4))]
        drugs = fit("i", dx.tags, gend, age, hosp_lv, ("101",))
        for item in self.pick_drugs(rng, drugs, rng.randint(2, 6)):
            chosen.append((item, days if item.daily else 1))
        if dx.operation and (hosp_lv >= 2 or rng.random() < 0.3):
            tags = frozenset({dx.operation, ANAESTHESIA.get(dx.operation, "")})
            chosen += [(i, 1) for i in fit("i", tags, gend, age, hosp_lv)]
        if "icu" in dx.tags or rng.random() < 0.02:
            icu_days = min(days, rng.randint(1, 5))
            chosen += [(i, icu_days) for i in fit("i", frozenset({"icu"}), gend, age, hosp_lv) if i.daily]
            if rng.random() < 0.5:
                chosen += [(i, 1) for i in fit("i", frozenset({"icu"}), gend, age, hosp_lv) if not i.daily]
        seen: set[str] = set()  # items, and drug groups: one drug of a group (同类药品重复使用 otherwise)
        lines = []
        for item, n in chosen:
            group = item.med_list_codg[1:6] if item.list_type == "101" else item.med_list_codg
            if item.med_list_codg not in seen and group not in seen:
                seen |= {item.med_list_codg, group}
                if item.daily:
                    lines += self.daily(rng, item, n, days)
                else:
                    lines.append(replace(self.line(rng, item), days_ago=rng.randint(0, days)))
        return sorted(lines, key=lambda x: -x.days_ago)  # in the order of the days, as a HIS uploads them

    def pharmacy(self, rng: random.Random, gend: str, age: int) -> list[Line]:
        """One to three drugs over the counter (and now and then something the fund does not cover)."""
        dx = self.diagnosis(rng, False, gend, age)
        drugs = self.fitting("p", dx.tags | {"general"}, gend, age, 0, ("101",), dx.code)
        chosen = self.pick_drugs(rng, [i for i in drugs if i.chrgitm_lv != "03"], rng.choice((1, 1, 2, 2, 3)))
        if rng.random() < 0.15:
            chosen += self.pick(rng, [i for i in drugs if i.chrgitm_lv == "03"], 1)
        if not chosen:
            chosen = self.pick(rng, [i for i in self.items if "p" in i.settings], 1)
        return [self.line(rng, item) for item in chosen]

    def doctor(self, rng: random.Random, site: Site, dx: Diagnosis) -> Doctor:
        if not site.doctors:
            return Doctor("", "", "")
        fit = [d for d in site.doctors if self.groups.get(d.dept_code, frozenset()) & dx.tags]
        return rng.choice(fit or list(site.doctors))


# ---------------------------------------------------------------------------------------- the tally


@dataclass
class Tally:
    """What one client thread saw; merged into the run's report."""

    ok: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    messages: dict[str, Counter[str]] = field(default_factory=dict)
    latency: dict[str, list[float]] = field(default_factory=dict)
    kinds: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    settlements: int = 0
    by_voucher: int = 0
    """Settlements made with an ecToken (mdtrt_cert_type 01)."""
    interim: int = 0
    reversals: int = 0
    cross_region: int = 0
    """Settlements of guests insured in another region."""
    cut_short: int = 0
    """Conversations the end of the run stopped half way (not errors)."""
    checks: Counter[str] = field(default_factory=Counter)
    money: dict[str, Decimal] = field(default_factory=dict)
    last_settlement: float = 0.0

    def merge(self, other: Tally) -> None:
        self.ok.update(other.ok)
        self.errors.update(other.errors)
        for code, msgs in other.messages.items():
            self.messages.setdefault(code, Counter()).update(msgs)
        for code, values in other.latency.items():
            self.latency.setdefault(code, []).extend(values)
        self.kinds.update(other.kinds)
        self.failed.update(other.failed)
        self.settlements += other.settlements
        self.by_voucher += other.by_voucher
        self.interim += other.interim
        self.reversals += other.reversals
        self.cross_region += other.cross_region
        self.cut_short += other.cut_short
        self.checks.update(other.checks)
        for k, v in other.money.items():
            self.money[k] = self.money.get(k, ZERO) + v
        self.last_settlement = max(self.last_settlement, other.last_settlement)

    def settled(self, setlinfo: dict[str, Any], sign: int = 1) -> None:
        amounts = {k: Decimal(str(setlinfo[k])) for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay",
                                                           "psn_cash_pay")}  # fmt: skip
        if amounts["fund_pay_sumamt"] + amounts["acct_pay"] + amounts["psn_cash_pay"] != amounts["medfee_sumamt"]:
            self.checks["fund + account + cash ≠ medfee"] += 1
        for k, v in amounts.items():
            self.money[k] = self.money.get(k, ZERO) + v
        self.last_settlement = time.monotonic()
        if sign > 0:
            self.settlements += 1


class CallFailed(Exception):
    pass


class Stopped(Exception):
    """The run's time is up: the conversation is cut short (not an error)."""


# ---------------------------------------------------------------------------------------- the clients


class Hospitals:
    """The HIS of every institution: envelopes (HisClient), signed in once on first use."""

    def __init__(self, base_url: str, gateway: Gateway | None = None) -> None:
        self.base_url = base_url
        self.gateway = gateway
        self.unused = httpx.Client()  # HisClient wants one; messages go over each thread's KeepAlive connection
        self.clients: dict[str, HisClient] = {}
        self.locks: dict[str, threading.Lock] = {}
        self.lock = threading.Lock()

    def his(self, site: Site) -> tuple[HisClient, threading.Lock]:
        with self.lock:
            if site.code not in self.clients:
                signer = self.gateway.signer(SM3, site.code) if self.gateway else None
                self.clients[site.code] = HisClient(self.base_url, site.code, fixmedins_name=site.name,
                                                    client=self.unused, signer=signer)  # fmt: skip
                self.locks[site.code] = threading.Lock()
            return self.clients[site.code], self.locks[site.code]

    def close(self) -> None:
        self.unused.close()


class Caller:
    """One client thread's keep-alive connection; every answer timed and tallied."""

    def __init__(self, host: str, port: int, timeout: float, hospitals: Hospitals, tally: Tally,
                 stop: threading.Event) -> None:  # fmt: skip
        self.hospitals = hospitals
        self.tally = tally
        self.stop = stop
        self.conn = KeepAlive(port, timeout, host)

    def post(self, body: bytes, signer: Signer | None = None, path: str = "/fsi/api/callService") -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(self.conn.post(body, signer.headers(body) if signer else None, path),
                                            parse_float=Decimal)  # fmt: skip
        return answer

    def read_code(self, site: Site, code: str, business_type: str) -> str:
        """ec.query: the counter scans the person's code; the ecToken it gives."""
        if self.stop.is_set():
            raise Stopped
        his, _ = self.hospitals.his(site)
        data = {"orgId": site.code, "businessType": business_type, "ecQrCode": code, "operatorId": his.opter,
                "operatorName": "收费员", "officeId": "", "officeName": "", "deviceType": "1"}  # fmt: skip
        body = json.dumps({"transType": "ec.query", "orgId": site.code, "data": data}, ensure_ascii=False).encode()
        t0 = time.perf_counter()
        try:
            answer = self.post(body, his.signer, EC_QUERY)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self.failed("ec.query", f"(no answer) {type(exc).__name__}: {exc}")
            raise CallFailed from None
        elapsed = time.perf_counter() - t0
        if answer.get("code") != 0 or not isinstance(answer.get("data"), dict):
            self.failed("ec.query", f"{answer.get('code')} {answer.get('message')}")
            raise CallFailed
        self.tally.ok["ec.query"] += 1
        self.tally.latency.setdefault("ec.query", []).append(elapsed)
        return str(answer["data"]["ecToken"])

    def call(self, site: Site, infno: str, data: dict[str, Any], insuplc: str = "") -> Any:
        if self.stop.is_set():
            raise Stopped
        his, lock = self.hospitals.his(site)
        if not his.sign_no and infno != "9001":
            with lock:
                if not his.sign_no:
                    out = self.call(site, "9001", {"signIn": {"opter_no": his.opter, "mac": "00-00-00-00-00-00",
                                                              "ip": "127.0.0.1"}})  # fmt: skip
                    his.sign_no = str(out["signinoutb"]["sign_no"])
        body = json.dumps(his.envelope(infno, data, insuplc_admdvs=insuplc), ensure_ascii=False,
                          default=str).encode()  # fmt: skip
        t0 = time.perf_counter()
        try:
            answer = self.post(body, his.signer)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self.failed(infno, f"(no answer) {type(exc).__name__}: {exc}")
            raise CallFailed from None
        elapsed = time.perf_counter() - t0
        if answer.get("infcode") != 0:
            self.failed(infno, str(answer.get("err_msg")))
            raise CallFailed
        self.tally.ok[infno] += 1
        self.tally.latency.setdefault(infno, []).append(elapsed)
        return answer["output"]

    def failed(self, infno: str, message: str) -> None:
        self.tally.errors[infno] += 1
        self.tally.messages.setdefault(infno, Counter())[message[:300]] += 1

    def close(self) -> None:
        self.conn.close()


# ---------------------------------------------------------------------------------------- conversations


def now_text(delta: timedelta = timedelta()) -> str:
    """A HIS's clock: local (Asia/Shanghai) time."""
    return f"{datetime.now(LOCAL) + delta:%Y-%m-%d %H:%M:%S}"


def money_text(amount: Decimal) -> str:
    return str(amount.quantize(CENT))


@dataclass
class Visit:
    """One conversation to hold: what kind, who, where; its own random stream."""

    kind: str
    patient: Patient
    site: Site
    seed: int


class Conversations:
    def __init__(self, biller: Biller, reversal_share: float = 0.02, interim_share: float = 0.25,
                 codes: CodeIssuer | None = None, voucher_share: float = 0.7, fraud: FeeFraud | None = None
                 ) -> None:  # fmt: skip
        self.biller = biller
        self.fraud = fraud
        """Plants line-level schemes in outpatient and inpatient bills and records them once settled."""
        self.reversal_share = reversal_share
        self.interim_share = interim_share
        self.codes = codes
        self.voucher_share = voucher_share
        """Of the visits of persons with an active voucher, the share made with it (the rest by card)."""

    def planted(self, rng: random.Random, lines: list[Line], setting: str) -> tuple[list[Line], list[tuple[int, str]]]:
        if self.fraud is None:
            return lines, []
        out, plants = self.fraud.plant(rng, [(x.code, x.cnt, x.pric, x.days_ago) for x in lines], setting)
        return [Line(*x) for x in out], plants

    def by_voucher(self, rng: random.Random, patient: Patient) -> bool:
        return self.codes is not None and patient.ec_index_no is not None and rng.random() < self.voucher_share

    def scan(self, caller: Caller, site: Site, patient: Patient, business_type: str) -> tuple[str, str]:
        """The phone shows a fresh code, the counter reads it: ("01", the ecToken)."""
        assert self.codes is not None and patient.ec_index_no is not None
        code = self.codes.issue(patient.ec_index_no, datetime.now(UTC).replace(tzinfo=None))
        return "01", caller.read_code(site, code.text, business_type)

    def hold(self, caller: Caller, visit: Visit) -> None:
        rng = random.Random(visit.seed)
        {"outpatient": self.outpatient, "inpatient": self.inpatient, "pharmacy": self.pharmacy}[visit.kind](
            caller, rng, visit.patient, visit.site
        )
        caller.tally.kinds[visit.kind] += 1

    def person(self, caller: Caller, site: Site, patient: Patient,
               cert: tuple[str, str] | None = None) -> tuple[str, str, str, int]:  # fmt: skip
        """1101 by ID card (or by the ecToken of ``cert``): (psn_no, insutype, gend, age) as the platform answers."""
        query = {"mdtrt_cert_type": "02", "mdtrt_cert_no": patient.certno, "psn_cert_type": "01",
                 "certno": patient.certno, "psn_name": ""}  # fmt: skip
        if cert is not None and cert[0] == "01":
            query = {"mdtrt_cert_type": "01", "mdtrt_cert_no": cert[1], "psn_cert_type": "01"}
        out = caller.call(site, "1101", {"data": query}, patient.insuplc)
        base = out["baseinfo"]
        active = [i for i in out["insuinfo"] if str(i["psn_insu_stas"]) == "1"]
        chosen = next((i for i in active if str(i["insutype"]) == patient.insutype), active[0] if active else None)
        if chosen is None:
            caller.failed("1101", f"{base['psn_no']} 无有效参保")
            raise CallFailed
        return str(base["psn_no"]), str(chosen["insutype"]), str(base["gend"]), int(base["age"])

    def feedetail(self, lines: Sequence[Line], mdtrt_id: str, psn_no: str, doctor: Doctor, dept: str, first: int = 1,
                  batch: str = "") -> list[dict[str, Any]]:  # fmt: skip
        return [
            {
                "feedetl_sn": str(first + n),
                "mdtrt_id": mdtrt_id,
                "psn_no": psn_no,
                "chrg_bchno": batch,
                "med_list_codg": line.code,
                "medins_list_codg": f"HIS{line.code[:12]}",
                "det_item_fee_sumamt": money_text(line.amount),
                "cnt": str(line.cnt),
                "pric": money_text(line.pric),
                "fee_ocur_time": now_text(-timedelta(days=line.days_ago)),
                "bilg_dept_codg": doctor.dept_code,
                "bilg_dept_name": dept,
                "bilg_dr_codg": doctor.prac_code,
                "bilg_dr_name": doctor.prac_name,
            }
            for n, line in enumerate(lines)
        ]

    def diagnosed(self, psn_no: str, dx: Diagnosis, doctor: Doctor, days_ago: int = 0) -> dict[str, str]:
        """The main diagnosis as 2203/2401 carry it (diseinfo)."""
        return {"psn_no": psn_no, "diag_type": "1", "maindiag_flag": "1", "diag_srt_no": "1", "diag_code": dx.code,
                "diag_name": dx.name, "diag_dept": doctor.dept_code, "dise_dor_no": doctor.prac_code,
                "dise_dor_name": doctor.prac_name, "diag_time": now_text(-timedelta(days=days_ago))}  # fmt: skip

    def outpatient(self, caller: Caller, rng: random.Random, patient: Patient, site: Site) -> None:
        voucher = self.by_voucher(rng, patient)
        cert = self.scan(caller, site, patient, "01101") if voucher else ("02", patient.certno)
        psn_no, insutype, gend, age = self.person(caller, site, patient, cert)
        dx = self.biller.diagnosis(rng, False, gend, age, site.specialty)
        doctor = self.biller.doctor(rng, site, dx)
        dept = self.biller.departments.get(doctor.dept_code, "")
        insuplc = patient.insuplc  # a guest's visit names the insured region in every envelope
        out = caller.call(site, "2201", {"data": {
            "psn_no": psn_no, "insutype": insutype, "begntime": now_text(), "mdtrt_cert_type": cert[0],
            "mdtrt_cert_no": cert[1], "ipt_otp_no": f"MZ{rng.randrange(10**10):010d}",
            "atddr_no": doctor.prac_code, "dr_name": doctor.prac_name, "dept_code": doctor.dept_code,
            "dept_name": dept, "caty": doctor.dept_code,
        }}, insuplc)  # fmt: skip
        mdtrt_id = str(out["data"]["mdtrt_id"])
        caller.call(site, "2203", {"mdtrtinfo": {
            "mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "11", "begntime": now_text(),
            "main_cond_dscr": "", "dise_codg": dx.code, "dise_name": dx.name,
        }, "diseinfo": [self.diagnosed(psn_no, dx, doctor)]}, insuplc)  # fmt: skip
        lines, plants = self.planted(rng, self.biller.outpatient(rng, dx, gend, age, site.hosp_lv), "o")
        caller.call(site, "2204", {"feedetail": self.feedetail(lines, mdtrt_id, psn_no, doctor, dept, batch="1")},
                    insuplc)  # fmt: skip
        pay = self.scan(caller, site, patient, "01301") if voucher else cert  # paying is a business of its own
        data = {"data": {
            "psn_no": psn_no, "mdtrt_cert_type": pay[0], "mdtrt_cert_no": pay[1], "med_type": "11",
            "medfee_sumamt": money_text(sum((x.amount for x in lines), ZERO)), "psn_setlway": "01",
            "mdtrt_id": mdtrt_id, "chrg_bchno": "1", "insutype": insutype, "acct_used_flag": "1",
        }}  # fmt: skip
        caller.call(site, "2206", data, insuplc)
        done = caller.call(site, "2207", data, insuplc)["setlinfo"]
        caller.tally.settled(done)
        if self.fraud is not None:
            self.fraud.record(mdtrt_id, plants)
        caller.tally.by_voucher += voucher
        caller.tally.cross_region += bool(insuplc)
        if rng.random() < self.reversal_share:
            back = caller.call(site, "2208", {"data": {"setl_id": done["setl_id"], "mdtrt_id": mdtrt_id,
                                                       "psn_no": psn_no}}, insuplc)  # fmt: skip
            caller.tally.settled(back["setlinfo"], -1)
            caller.tally.reversals += 1

    def inpatient(self, caller: Caller, rng: random.Random, patient: Patient, site: Site) -> None:
        psn_no, insutype, gend, age = self.person(caller, site, patient)
        dx = self.biller.diagnosis(rng, True, gend, age, site.specialty)
        doctor = self.biller.doctor(rng, site, dx)
        dept = self.biller.departments.get(doctor.dept_code, "")
        days = self.biller.stay_days(rng, dx)
        ipt_no = f"ZY{rng.randrange(10**10):010d}"
        diag = self.diagnosed(psn_no, dx, doctor, days)
        out = caller.call(site, "2401", {"mdtrtinfo": {
            "psn_no": psn_no, "insutype": insutype, "begntime": now_text(-timedelta(days=days)),
            "mdtrt_cert_type": "02", "mdtrt_cert_no": patient.certno, "med_type": "21", "ipt_no": ipt_no,
            "medrcdno": ipt_no, "atddr_no": doctor.prac_code, "chfpdr_name": doctor.prac_name,
            "adm_diag_dscr": dx.name, "adm_dept_codg": doctor.dept_code, "adm_dept_name": dept,
            "adm_bed": str(rng.randint(1, 60)), "dscg_maindiag_code": dx.code, "dscg_maindiag_name": dx.name,
        }, "diseinfo": [diag]})  # fmt: skip
        mdtrt_id = str(out["result"]["mdtrt_id"])
        lines, plants = self.planted(rng, self.biller.inpatient(rng, dx, days, gend, age, site.hosp_lv), "i")
        interim = days >= 8 and len(lines) >= 4 and rng.random() < self.interim_share
        first, rest = (lines[: len(lines) // 2], lines[len(lines) // 2 :]) if interim else (lines, [])

        def upload(part: Sequence[Line], start: int) -> None:
            for i in range(0, len(part), 50):
                chunk = self.feedetail(part[i : i + 50], mdtrt_id, psn_no, doctor, dept, first=start + i)
                caller.call(site, "2301", {"feedetail": chunk})

        def settle_data(part: Sequence[Line], mid: bool) -> dict[str, Any]:
            return {"data": {
                "psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": patient.certno,
                "medfee_sumamt": money_text(sum((x.amount for x in part), ZERO)), "psn_setlway": "01",
                "mdtrt_id": mdtrt_id, "insutype": insutype, "acct_used_flag": "1", "mid_setl_flag": "1" if mid else "0",
                "invono": "",
            }}  # fmt: skip

        upload(first, 1)
        if interim:
            caller.call(site, "2303", settle_data(first, True))
            caller.tally.settled(caller.call(site, "2304", settle_data(first, True))["setlinfo"])
            caller.tally.interim += 1
            upload(rest, 1 + len(first))
        final = rest if interim else first
        caller.call(site, "2402", {"dscginfo": {
            "mdtrt_id": mdtrt_id, "psn_no": psn_no, "insutype": insutype, "endtime": now_text(),
            "dise_codg": dx.code, "dise_name": dx.name, "dscg_way": "1",
        }})  # fmt: skip
        if not interim:
            caller.call(site, "2303", settle_data(final, False))
        done = caller.call(site, "2304", settle_data(final, False))["setlinfo"]
        caller.tally.settled(done)
        if self.fraud is not None:
            self.fraud.record(mdtrt_id, plants)
        if rng.random() < self.reversal_share * 2:
            # the bill was wrong: the settlement is reversed (2305) and made again
            back = caller.call(site, "2305", {"data": {"mdtrt_id": mdtrt_id, "setl_id": done["setl_id"],
                                                       "psn_no": psn_no}})  # fmt: skip
            caller.tally.settled(back["setlinfo"], -1)
            caller.tally.reversals += 1
            caller.tally.settled(caller.call(site, "2304", settle_data(final, False))["setlinfo"])

    def pharmacy(self, caller: Caller, rng: random.Random, patient: Patient, site: Site) -> None:
        voucher = self.by_voucher(rng, patient)
        cert = self.scan(caller, site, patient, "02121") if voucher else ("02", patient.certno)
        psn_no, insutype, gend, age = self.person(caller, site, patient, cert)
        lines = self.biller.pharmacy(rng, gend, age)
        doctor = (
            Doctor(site.doctors[0].prac_code, site.doctors[0].prac_name, "") if site.doctors else Doctor("", "", "")
        )
        purchase = {
            "data": {"psn_no": psn_no, "mdtrt_cert_type": cert[0], "mdtrt_cert_no": cert[1], "insutype": insutype,
                     "medfee_sumamt": money_text(sum((x.amount for x in lines), ZERO)), "med_type": "41",
                     "psn_setlway": "01", "acct_used_flag": "1"},
            "feedetail": self.feedetail(lines, "", psn_no, doctor, ""),
        }  # fmt: skip
        caller.tally.settled(caller.call(site, "2102", purchase)["setlinfo"])
        caller.tally.by_voucher += voucher


# ---------------------------------------------------------------------------------------- the run


@frozen
class Mix:
    """Shares of conversations (Guangzhou's go-live day averaged about 690 yuan a settlement)."""

    outpatient: float = 0.82
    inpatient: float = 0.03
    pharmacy: float = 0.15


@dataclass
class TrafficReport:
    url: str
    rate: float
    duration: float
    seed: int
    seconds: float
    planned: int
    not_started: int
    tally: Tally

    @property
    def errors(self) -> int:
        return sum(self.tally.errors.values()) + sum(self.tally.checks.values())

    @property
    def settlements_per_second(self) -> float:
        return self.tally.settlements / max(self.seconds, 1e-9)

    def percentile(self, code: str, q: float) -> float:
        values = sorted(self.tally.latency.get(code, []))
        if not values:
            return math.nan
        return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]

    def lines(self) -> list[str]:
        t = self.tally
        done = sum(t.kinds.values())
        failed = sum(t.failed.values())
        out = [
            f"traffic against {self.url}: {self.rate:g} settlements/s asked for {self.duration:g} s (seed {self.seed})",
            f"  conversations  {self.planned:,} planned, {done:,} completed ({t.kinds['outpatient']:,} outpatient, "
            f"{t.kinds['inpatient']:,} inpatient, {t.kinds['pharmacy']:,} pharmacy), {failed:,} failed, "
            f"{self.not_started:,} not started in time, {t.cut_short:,} cut short at the end",
            f"  settlements    {t.settlements:,} in {self.seconds:.1f} s: {self.settlements_per_second:,.1f}/s "
            f"({t.interim:,} interim), {t.reversals:,} reversed; {t.by_voucher:,} by electronic voucher "
            f"({t.ok.get('ec.query', 0):,} codes read)",
        ]
        if t.cross_region:
            out.append(f"  cross-region   {t.cross_region:,} settlements of persons insured in another region")
        if t.money:
            m = t.money
            out.append(f"  money (yuan)   medical costs {m['medfee_sumamt']:,.2f}: pooled funds "
                       f"{m['fund_pay_sumamt']:,.2f}, personal accounts {m['acct_pay']:,.2f}, "
                       f"cash {m['psn_cash_pay']:,.2f}")  # fmt: skip
        out.append("  calls          code       n    p50 ms    p99 ms   errors")
        for code in [c for c in CODES if t.ok.get(c) or t.errors.get(c)]:
            out.append(f"                 {code}  {t.ok.get(code, 0):6,}  {self.percentile(code, 0.5) * 1e3:8.1f}  "
                       f"{self.percentile(code, 0.99) * 1e3:8.1f}  {t.errors.get(code, 0):7,}")  # fmt: skip
        if self.errors:
            out.append(f"  errors         {self.errors:,}")
            for code in sorted(t.messages):
                for msg, n in t.messages[code].most_common(3):
                    out.append(f"    {code} ×{n}: {msg}")
            for check, n in t.checks.items():
                out.append(f"    check ×{n}: {check}")
        else:
            out.append("  errors         none")
        return out


def loopback(url: str) -> tuple[str, int]:
    """(host, port) of an http:// URL on this machine; anything else is refused."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        raise ValueError(f"{url}: the simulator only talks to http://127.0.0.1 (or localhost)")
    return parts.hostname, parts.port or 80


def run_traffic(
    url: str,
    rate: float,
    duration: float,
    db_url: str | None = None,
    *,
    seed: int = 1,
    region: str = "440100",
    concurrency: int = 32,
    sample: int = 20_000,
    mix: Mix = Mix(),
    reversal_share: float = 0.02,
    interim_share: float = 0.25,
    timeout: float = 30.0,
    grace: float = 30.0,
    progress: Callable[[float, int], None] | None = None,
    city: Sample | None = None,
    max_settlements: int | None = None,
    gateway: Gateway | None = None,
    codes: CodeIssuer | None = None,
    voucher_share: float = 0.7,
    guests: Sequence[Patient] = (),
    guest_share: float = 0.0,
    fraud: FeeFraud | None = None,
) -> TrafficReport:
    """Hold conversations at about ``rate`` settlements a second for ``duration`` seconds, then stop.

    Conversations still running at the end get ``grace`` seconds to finish; the run never takes longer
    than ``duration + grace`` (+ one call's ``timeout``). ``progress(elapsed, settlements)`` is called
    about once a second. With ``max_settlements`` it stops starting conversations once that many settled.
    ``gateway``: sign every request (SM3-HMAC, each institution with its own secret from the gateway's key).
    ``codes`` issues the voucher codes the phones show (the authority's keys on this machine, loaded when
    a sampled person has an active voucher); ``voucher_share`` of those persons' outpatient visits and
    purchases are made with the voucher. ``guest_share`` of the visits are outpatient visits of ``guests``
    (``sample_guests``: persons insured in another region, settled through the hub). ``fraud`` plants
    line-level schemes in outpatient and inpatient bills and records the truth (yibao.sim.fraud.FeeFraud).
    """
    host, port = loopback(url)
    if rate <= 0 or duration <= 0 or concurrency < 1:
        raise ValueError("rate and duration must be positive, concurrency at least 1")
    city = city or sample_city(db_url, region, sample, seed)
    data = city_data()
    biller = Biller(city.items, data.diagnoses, {code: name for code, name, _ in data.departments})
    everyone = city.employees + city.residents
    if codes is None and voucher_share > 0 and any(p.ec_index_no for p in everyone):
        from yibao.voucher.authority import Authority  # the SM2 backend loads only when it is needed

        codes = Authority.load()
    talks = Conversations(biller, reversal_share, interim_share, codes if voucher_share > 0 else None, voucher_share,
                          fraud)  # fmt: skip
    kinds = [("outpatient", mix.outpatient), ("inpatient", mix.inpatient),
             ("pharmacy", mix.pharmacy if city.pharmacies and city.employees else 0.0)]  # fmt: skip
    kind_cum = list(itertools.accumulate(w for _, w in kinds))
    share = {kind: w / kind_cum[-1] for kind, w in kinds}
    # settlements a conversation makes: one, and a second for a stay settled in the middle (days ≥ 8: about half)
    per_visit = share["outpatient"] + share["pharmacy"] + share["inpatient"] * (1 + interim_share * 0.5)
    visit_rate = rate / per_visit
    outpatient_w = list(itertools.accumulate(_weight(s, False) for s in city.hospitals))
    inpatient_w = list(itertools.accumulate(_weight(s, True) for s in city.hospitals))

    rng = random.Random(f"{seed}:traffic")
    busy: set[str] = set()
    busy_lock = threading.Lock()
    tasks: queue.Queue[Visit | None] = queue.Queue()
    stop = threading.Event()
    hospitals = Hospitals(url.rstrip("/"), gateway)
    tallies: list[Tally] = []

    def worker() -> None:
        tally = Tally()
        tallies.append(tally)
        caller = Caller(host, port, timeout, hospitals, tally, stop)
        try:
            while True:
                visit = tasks.get()
                if visit is None:
                    return
                try:
                    talks.hold(caller, visit)
                except CallFailed:
                    tally.failed[visit.kind] += 1
                except Stopped:
                    tally.cut_short += 1
                except Exception as exc:  # an answer of an unexpected shape: count it, keep going
                    caller.failed("client", f"{visit.kind}: {type(exc).__name__}: {exc}")
                    tally.failed[visit.kind] += 1
                finally:
                    with busy_lock:
                        busy.discard(visit.patient.psn_no)
        finally:
            caller.close()

    threads = [threading.Thread(target=worker, name=f"his-{i}", daemon=True) for i in range(concurrency)]
    for th in threads:
        th.start()
    planned = not_started = 0
    start = time.monotonic()
    last_progress = start
    try:
        while True:
            now = time.monotonic()
            if now - start >= duration:
                break
            if max_settlements is not None and sum(t.settlements for t in tallies) >= max_settlements:
                break
            due = int((now - start) * visit_rate) + 1
            while planned < due:
                r = rng.random() * kind_cum[-1]
                kind = kinds[bisect.bisect_right(kind_cum, r)][0]
                pool: Sequence[Patient] = city.employees if kind == "pharmacy" else everyone
                if guests and rng.random() < guest_share:
                    kind, pool = "outpatient", guests
                patient = pool[rng.randrange(len(pool))]
                with busy_lock:
                    for _ in range(20):
                        if patient.psn_no not in busy:
                            break
                        patient = pool[rng.randrange(len(pool))]
                    busy.add(patient.psn_no)
                if kind == "pharmacy":
                    site = city.pharmacies[rng.randrange(len(city.pharmacies))]
                else:
                    weights = inpatient_w if kind == "inpatient" else outpatient_w
                    site = city.hospitals[bisect.bisect_right(weights, rng.random() * weights[-1])]
                tasks.put(Visit(kind, patient, site, rng.randrange(2**62)))
                planned += 1
            if progress and now - last_progress >= 1.0:
                last_progress = now
                progress(now - start, sum(t.settlements for t in tallies))
            time.sleep(min(0.01, max(0.0, start + planned / visit_rate - time.monotonic())))
        # time is up: what no client has taken yet is not started; the rest may finish within the grace
        while True:
            try:
                visit = tasks.get_nowait()
            except queue.Empty:
                break
            if visit is not None:
                not_started += 1
                with busy_lock:
                    busy.discard(visit.patient.psn_no)
        for _ in threads:
            tasks.put(None)
        deadline = time.monotonic() + grace
        for th in threads:
            th.join(timeout=max(0.0, deadline - time.monotonic()))
        stop.set()
        for th in threads:
            th.join(timeout=timeout + 5)
    finally:
        stop.set()
        for _ in threads:
            tasks.put(None)
        hospitals.close()
    total = Tally()
    for t in tallies:
        total.merge(t)
    seconds = max(duration, total.last_settlement - start)
    if progress:
        progress(time.monotonic() - start, total.settlements)
    return TrafficReport(url, rate, duration, seed, seconds, planned, not_started, total)


def _weight(site: Site, inpatient: bool) -> float:
    """How many of the city's visits an institution sees: most go to the big hospitals."""
    if site.specialty:
        return 2.0
    if inpatient:
        return {1: 0.5, 2: 10.0, 3: 30.0}.get(site.hosp_lv, 1.0)
    return {1: 3.0, 2: 12.0, 3: 40.0}.get(site.hosp_lv, 1.0)
