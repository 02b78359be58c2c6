"""The benefit-policy replay (政策测算): every claim of a period settled again under a policy, vectorised.

``Replay(policies).run(claims, policy)`` gives, for the claims of one insurance type (amounts already
classified, in fen; whole persons, sorted by person and settlement day), exactly what
``yibao.domain.settlement.calculate`` gives claim by claim when each person's year-to-date totals and
personal-account balance are carried from one claim to the next. One definition of the rules, run two ways:

- The rules are the policy's own records. For each distinct combination of the facts rows match on
  (med_type, hospital level, person type, age, months of contribution, specialty, identities, flags) the
  domain's ``first_fit`` picks the rows once, with the calculator's ``Facts``; the parameters are broadcast
  to every claim of the combination. Facts no row of the policies looks at are left out of the combination
  (ages only by the bounds rows use, unless a ratio grows with age), so there are few combinations.
- The arithmetic is the calculator's, over int64 arrays of fen, in the same order. ``apply_ratio``'s
  rounding is done exactly on integers: a ratio is an exact fraction num/den, and amount × num/den rounded
  half up is (2·amount·num + den) // (2·den). Where a ceiling cuts the fund short, the covered part
  (eligible × paid / due, rounded) is taken with Python integers for those few claims.
- The year-to-date dependency: persons are ranked by their number of claims, and claims are laid out step
  by step — step k holds the k-th claim of every person who has more than k — so the persons of a step are
  a prefix of the ranking and their counters a prefix of each state array. Counters of a month
  (monthly ceilings) start again each month, the others each year, as the settlement service keeps them.

What the calculator does that a replay of classified amounts cannot is refused with a ``ReplayError``
naming it, never approximated. Policy validity dates are not checked: a what-if applies a proposal to a
past year on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yibao.domain.errors import PolicyError
from yibao.domain.money import yuan_to_fen
from yibao.domain.policy import ZERO, Benefit, Match, Policy, Segment, first_fit
from yibao.domain.settlement import Facts, clamp

I64 = np.int64
INT64_ROOM = 2**62
"""Products of an amount and a ratio's numerator must stay below this (int64 with room for 2·x + den)."""


class ReplayError(ValueError):
    """Claims or a policy the replay cannot take; the message names the column, row or feature."""


# ------------------------------------------------------------------------------------------- the claims

STRING_COLUMNS = ("med_type", "psn_type", "specialty", "idet_types", "flags")
"""String columns, held as codes into a shared :class:`Vocab`; idet_types and flags are space-separated."""


class Vocab:
    """Codes of string columns, shared by every chunk of a run so fact combinations stay the same."""

    def __init__(self) -> None:
        self.values: dict[str, list[str]] = {c: [] for c in STRING_COLUMNS}
        self._index: dict[str, dict[str, int]] = {c: {} for c in STRING_COLUMNS}

    def code(self, column: str, value: str) -> int:
        index = self._index.setdefault(column, {})
        found = index.get(value)
        if found is None:
            found = index[value] = len(index)
            self.values.setdefault(column, []).append(value)
        return found

    def codes(self, column: str, values: Iterable[str]) -> np.ndarray:
        """The code of each of ``values`` (strings seen first get new codes)."""
        return np.fromiter((self.code(column, v) for v in values), dtype=np.int32)


@dataclass(frozen=True)
class Claims:
    """Claims of one insurance type as numpy arrays, sorted by person and then settlement day.

    Amounts are int64 fen. ``acct_balc`` is read on a person's first claim only (the balance before it);
    ``acct_credit`` is what was paid into the account just before each claim (e.g. the monthly transfer),
    or taken out of it when negative (a manual claim, a transfer out: never below an empty account).
    """

    psn_no: np.ndarray
    day: np.ndarray
    """Settlement day as days since 1970-01-01 (int32)."""
    med_type: np.ndarray
    hosp_lv: np.ndarray
    psn_type: np.ndarray
    age: np.ndarray
    contrib_months: np.ndarray
    specialty: np.ndarray
    idet_types: np.ndarray
    flags: np.ndarray
    cvlserv_flag: np.ndarray
    admission_seq: np.ndarray
    los_days: np.ndarray
    stay_dedc_paid: np.ndarray
    acct_used_flag: np.ndarray
    acct_balc: np.ndarray
    acct_credit: np.ndarray
    medfee_sumamt: np.ndarray
    fulamt_ownpay_amt: np.ndarray
    overlmt_selfpay: np.ndarray
    preselfpay_amt: np.ndarray
    inscp_scp_amt: np.ndarray

    def __len__(self) -> int:
        return len(self.psn_no)

    def check(self, first_row: int = 0) -> None:
        """Refuse what the calculator would refuse, naming the column and the row (``first_row`` + i)."""

        def refuse(column: str, bad: np.ndarray, why: str) -> None:
            rows = np.flatnonzero(bad)
            if len(rows):
                raise ReplayError(f"{column}: row {first_row + int(rows[0])}: {why} ({len(rows)} rows)")

        same = self.psn_no[1:] == self.psn_no[:-1]
        refuse("psn_no", self.psn_no[1:] < self.psn_no[:-1], "claims must be sorted by psn_no, then setl_date")
        refuse("setl_date", same & (self.day[1:] < self.day[:-1]), "a person's claims must be in date order")
        for name in ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
                     "stay_dedc_paid", "acct_balc"):  # fmt: skip
            refuse(name, getattr(self, name) < 0, "金额不能为负")
        parts = self.fulamt_ownpay_amt + self.overlmt_selfpay + self.preselfpay_amt + self.inscp_scp_amt
        refuse("medfee_sumamt", parts != self.medfee_sumamt,
               "≠ fulamt_ownpay_amt + overlmt_selfpay + preselfpay_amt + inscp_scp_amt")  # fmt: skip
        refuse("admission_seq", self.admission_seq < 1, "住院次序从1开始")
        refuse("hosp_lv", (self.hosp_lv < 0) | (self.hosp_lv > 7), "hospital level must be 0 to 7")
        refuse("age", (self.age < 0) | (self.age > 150), "age must be 0 to 150")
        refuse("contrib_months", (self.contrib_months < 0) | (self.contrib_months > 4095), "must be 0 to 4095")


# ------------------------------------------------------------------------------------------- fact combinations

# Bits of each fact in a combination's key: codes beyond them are refused by name.
BITS = (("med_type", 6), ("hosp_lv", 3), ("psn_type", 8), ("age", 8), ("contrib_months", 12), ("specialty", 6),
        ("idet_types", 8), ("flags", 10))  # fmt: skip


def policy_matches(policy: Policy) -> Iterator[Match]:
    for b in policy.benefits:
        yield from (r.match for r in b.deductible.rows)
        yield from (r.match for r in b.ratios)
        yield from (r.match for r in b.first_selfpay)
        if b.ceiling:
            yield from (r.match for r in b.ceiling.rows)
    for layer in policy.layers:
        yield from (r.match for r in layer.rows)


def representatives(bounds: set[int], top: int) -> np.ndarray:
    """For each value 0..top the smallest value that every ``>= bound`` test treats alike."""
    cuts = np.array([0, *sorted(b for b in bounds if 0 < b <= top)], dtype=np.int64)
    return cuts[np.searchsorted(cuts, np.arange(top + 1), side="right") - 1]


class Combos:
    """The distinct fact combinations of the claims, numbered across every chunk of a run.

    Only facts some row of ``policies`` looks at take part: an age is replaced by the smallest age its
    rows treat alike, flags and identities no row names are dropped.
    """

    def __init__(self, policies: Sequence[Policy], vocab: Vocab) -> None:
        self.vocab = vocab
        matches = [m for p in policies for m in policy_matches(p)]
        self.uses_hosp_lv = any(m.hosp_lv for m in matches)
        self.uses_psn_type = any(m.psn_type for m in matches)
        self.uses_specialty = any(m.specialty for m in matches)
        self.flag_names = {f for m in matches for f in m.flags} | {
            a.flag for p in policies for b in p.benefits for a in b.adjustments
        }
        self.idet_names = {t for m in matches for t in m.idet_type}
        exact_age = any(r.per_year_of_age for p in policies for b in p.benefits for r in b.ratios)
        ages = {m.age_min for m in matches if m.age_min is not None}
        ages |= {m.age_max + 1 for m in matches if m.age_max is not None}
        self.age_rep = np.arange(256) if exact_age else representatives(ages, 255)
        months = {m.contrib_months_min for m in matches if m.contrib_months_min is not None}
        months |= {m.contrib_months_max + 1 for m in matches if m.contrib_months_max is not None}
        self.contrib_rep = representatives(months, 4095)
        self._ids: dict[int, int] = {}
        self.facts: list[Facts] = []
        # the words that matter of each flags (× cvlserv) and idet_types code, numbered on their own
        self._kept: dict[str, list[int]] = {"flags": [], "idet_types": []}
        self._words: dict[str, dict[str, int]] = {"flags": {}, "idet_types": {}}

    def _reduce(self, column: str, kept: set[str], extra: int = 1) -> np.ndarray:
        """Per vocabulary code (× ``extra`` variants: with "cvlserv"), the number of its words in ``kept``."""
        values, done, numbers = self.vocab.values[column], self._kept[column], self._words[column]
        for i in range(len(done), len(values) * extra):
            code, variant = divmod(i, extra)
            words = " ".join(w for w in values[code].split() + (["cvlserv"] if variant else []) if w in kept)
            done.append(numbers.setdefault(words, len(numbers)))
        return np.array(done, dtype=np.int64)

    def ids(self, c: Claims) -> np.ndarray:
        """The combination number of each claim (new combinations are added)."""
        parts = {
            "med_type": c.med_type,
            "hosp_lv": c.hosp_lv if self.uses_hosp_lv else np.zeros(len(c), np.int64),
            "psn_type": c.psn_type if self.uses_psn_type else np.zeros(len(c), np.int64),
            "age": self.age_rep[c.age],
            "contrib_months": self.contrib_rep[c.contrib_months],
            "specialty": c.specialty if self.uses_specialty else np.zeros(len(c), np.int64),
            "idet_types": self._reduce("idet_types", self.idet_names)[c.idet_types],
            "flags": self._reduce("flags", self.flag_names, 2)[c.flags.astype(np.int64) * 2 + c.cvlserv_flag],
        }
        key = np.zeros(len(c), np.int64)
        for name, bits in BITS:
            values = parts[name].astype(np.int64)
            if len(values) and int(values.max()) >= 1 << bits:
                raise ReplayError(f"{name}: more than {1 << bits} distinct values")
            key = (key << bits) | values
        encoded = pc.dictionary_encode(pa.array(key))  # a hash table: faster than sorting for np.unique
        uniq = encoded.dictionary.to_numpy()
        mapping = np.fromiter((self._id(int(k)) for k in uniq), dtype=np.int64, count=len(uniq))
        ids: np.ndarray = mapping[encoded.indices.to_numpy()]
        return ids

    def _id(self, key: int) -> int:
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self.facts)
            self.facts.append(self._decode(key))
        return found

    def _decode(self, key: int) -> Facts:
        values: dict[str, int] = {}
        for name, bits in reversed(BITS):
            values[name] = key & ((1 << bits) - 1)
            key >>= bits
        words = self.vocab.values
        kept = {column: list(numbers) for column, numbers in self._words.items()}  # in number order
        return Facts(
            hosp_lv=values["hosp_lv"],
            psn_type=words["psn_type"][values["psn_type"]] if self.uses_psn_type else "",
            age=values["age"],
            contrib_months=values["contrib_months"],
            specialty=words["specialty"][values["specialty"]] if self.uses_specialty else "",
            idet_types=tuple(kept["idet_types"][values["idet_types"]].split()),
            flags=tuple(kept["flags"][values["flags"]].split()),
            med_type=words["med_type"][values["med_type"]],
        )


# ------------------------------------------------------------------------------------------- a policy as tables


def fraction(ratio: Decimal) -> tuple[int, int]:
    num, den = ratio.as_integer_ratio()
    return num, den


def open_upper(seg: Segment) -> int:
    return -1 if seg.upper is None else yuan_to_fen(seg.upper)


class Tables:
    """One policy's parameters per fact combination: columns of ints, grown as combinations appear."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.keys: dict[str, int] = {"": 0}  # row 0 of the counters is never added to: "no counter"
        self.monthly: set[int] = set()
        for b in policy.benefits:
            self.key(f"{b.pool}.dedc")
            self.key(f"{b.pool}.eligible")
            if b.ceiling is not None and b.ceiling.period != "visit":
                self.key(b.ceiling.key)
                if b.ceiling.period == "month":
                    self.monthly.add(self.keys[b.ceiling.key])
        self.layer_keys = [(self.key(f"{layer.key}.base"), self.key(f"{layer.key}.paid")) for layer in policy.layers]
        self.fractions = max(len(b.deductible.admission_fractions) for b in policy.benefits) if policy.benefits else 1
        self.bands = max((len(r.bands) for b in policy.benefits for r in b.ratios), default=0)
        self.segments = [max(len(r.segments) for r in layer.rows) if layer.rows else 0 for layer in policy.layers]
        self.columns: dict[str, np.ndarray] = {}
        self.done = np.zeros(0, bool)
        self._arrays: dict[str, np.ndarray | int] = {}
        self.max_num = 1
        self.max_den = 1

    def key(self, name: str) -> int:
        return self.keys.setdefault(name, len(self.keys))

    def ensure(self, ids: np.ndarray, facts: Sequence[Facts]) -> None:
        """Evaluate the combinations ``ids`` not evaluated yet (only those the policy's claims have)."""
        if len(self.done) < len(facts):
            size = max(len(facts), 2 * len(self.done))
            self.done = np.concatenate([self.done, np.zeros(size - len(self.done), bool)])
            for name, values in self.columns.items():
                self.columns[name] = np.concatenate([values, np.zeros(size - len(values), I64)])
        new = ids[~self.done[ids]]
        for i in new.tolist():
            for name, value in self.evaluate(facts[i]).items():
                if name not in self.columns:
                    self.columns[name] = np.zeros(len(self.done), I64)
                self.columns[name][i] = value
        if len(new):
            self.done[new] = True
            self._arrays = {}

    def get(self, name: str) -> np.ndarray | int:
        """A column by combination, or an int when every combination evaluated has the same value."""
        found = self._arrays.get(name)
        if found is None:
            values = self.columns[name]
            known = values[self.done]
            found = self._arrays[name] = int(known[0]) if len(known) and (known == known[0]).all() else values
        return found

    def ratio(self, prefix: str, ratio: Decimal, out: dict[str, int]) -> None:
        num, den = fraction(ratio)
        self.max_num, self.max_den = max(self.max_num, num), max(self.max_den, den)
        out[f"{prefix}num"], out[f"{prefix}den"] = num, den

    def evaluate(self, f: Facts) -> dict[str, int]:
        """The rows that apply to one combination of facts, as the calculator's functions pick them."""
        p = self.policy
        try:
            benefit = p.benefit_for(f.med_type)
        except PolicyError as exc:
            raise ReplayError(f"{p.name}: {exc}") from None
        out: dict[str, int] = {
            "dedc_key": self.keys[f"{benefit.pool}.dedc"],
            "elig_key": self.keys[f"{benefit.pool}.eligible"],
        }
        first = first_fit(benefit.first_selfpay, f)
        self.ratio("fs_", first.share if first else ZERO, out)
        self.deductible(benefit, f, out)
        self.pooled(benefit, f, out)
        ceiling = benefit.ceiling
        row = first_fit(ceiling.rows, f) if ceiling else None
        out["ceil_has"] = int(row is not None)
        out["ceil_amt"] = yuan_to_fen(row.amount) if row else 0
        counted = ceiling is not None and ceiling.period != "visit"
        out["ceil_key"] = self.keys[ceiling.key] if ceiling is not None and counted else 0
        out["ceil_add"] = int(counted)
        for i, layer in enumerate(p.layers):
            lrow = first_fit(layer.rows, f)
            on = lrow is not None and (not layer.med_types or f.med_type in layer.med_types)
            out[f"l{i}_on"] = int(on)
            out[f"l{i}_thr"] = yuan_to_fen(lrow.threshold) if lrow and on else 0
            out[f"l{i}_above"] = int(lrow is not None and lrow.basis == "above_threshold")
            out[f"l{i}_cap"] = yuan_to_fen(lrow.cap) if lrow and on and lrow.cap is not None else -1
            segments = lrow.segments if lrow and on else ()
            for j in range(self.segments[i]):
                seg = segments[j] if j < len(segments) else None
                out[f"l{i}s{j}_lo"] = yuan_to_fen(seg.lower) if seg else 0
                out[f"l{i}s{j}_hi"] = open_upper(seg) if seg else 0
                self.ratio(f"l{i}s{j}_", seg.ratio if seg else ZERO, out)
        account = p.account
        out["acct_on"] = int(account is not None and (not account.med_types or f.med_type in account.med_types))
        return out

    def deductible(self, benefit: Benefit, f: Facts, out: dict[str, int]) -> None:
        rule = benefit.deductible
        row = first_fit(rule.rows, f)
        unit = yuan_to_fen(row.amount) if row else 0
        out["ded_has"] = int(row is not None)
        out["ded_period"] = ("visit", "admission", "year").index(rule.period)
        out["ded_unit"] = unit
        out["ded_repeat"] = (row.repeat_days or 0) if row else 0
        out["ded_cap"] = yuan_to_fen(rule.annual_cap) if rule.annual_cap is not None else -1
        shares = rule.admission_fractions
        for i in range(self.fractions):
            share = shares[min(i, len(shares) - 1)]
            # apply_ratio(unit, fraction), once per combination: the n-th admission's deductible
            num, den = fraction(share)
            out[f"ded_frac{i}"] = (2 * unit * num + den) // (2 * den)

    def pooled(self, benefit: Benefit, f: Facts, out: dict[str, int]) -> None:
        row = first_fit(benefit.ratios, f)
        if row is None:
            raise ReplayError(
                f"{self.policy.name}: benefit[{benefit.name}].ratios: 没有适用于该人员和医院等级的支付比例 "
                f"(med_type {f.med_type}, hosp_lv {f.hosp_lv}, psn_type {f.psn_type or '-'}, age {f.age})"
            )
        shift = sum((a.points for a in benefit.adjustments if a.flag in f.flags), ZERO)
        out["band"] = int(bool(row.bands))
        out["band_year"] = int(benefit.band_basis == "year")
        self.ratio("r_", clamp(row.ratio + row.per_year_of_age * f.age + shift), out)
        for j in range(self.bands):
            seg = row.bands[j] if j < len(row.bands) else None
            out[f"b{j}_lo"] = yuan_to_fen(seg.lower) if seg else 0
            out[f"b{j}_hi"] = open_upper(seg) if seg else 0
            self.ratio(f"b{j}_", clamp(seg.ratio + shift) if seg else ZERO, out)


# ------------------------------------------------------------------------------------------- the step layout


@dataclass
class Layout:
    """The claims of one run in step order: step k is [offsets[k], offsets[k + 1]), person i of a step
    is the i-th most active person. ``order[j]`` is the original row of the j-th claim laid out."""

    order: np.ndarray
    offsets: np.ndarray
    persons: int
    columns: dict[str, np.ndarray]
    combo: np.ndarray
    years: bool
    """Claims of more than one calendar year: counters start again each year."""

    @property
    def steps(self) -> int:
        return len(self.offsets) - 1

    def person_of_claim(self) -> np.ndarray:
        """The rank of each laid-out claim's person."""
        ranks: np.ndarray = np.arange(len(self.order)) - np.repeat(self.offsets[:-1], np.diff(self.offsets))
        return ranks

    def original(self, values: np.ndarray) -> np.ndarray:
        """Laid-out values back in the claims' order."""
        out = np.empty_like(values)
        out[self.order] = values
        return out


LAID_OUT = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
            "admission_seq", "los_days", "stay_dedc_paid", "acct_used_flag", "acct_balc", "acct_credit")  # fmt: skip


def lay_out(c: Claims, combo: np.ndarray, rows: np.ndarray | None = None) -> Layout:
    """Lay out the claims (or those at ``rows``, whole persons in order) step by step; ``combo`` is the
    fact combination of each of the claims."""
    psn_no = c.psn_no if rows is None else c.psn_no[rows]
    n = len(psn_no)
    if n == 0:
        empty = np.zeros(0, np.int64)
        return Layout(empty, np.zeros(1, np.int64), 0, {k: getattr(c, k)[empty] for k in LAID_OUT}, empty, False)
    starts = np.flatnonzero(np.concatenate(([True], psn_no[1:] != psn_no[:-1])))
    counts = np.diff(np.append(starts, n))
    rank = np.argsort(-counts, kind="stable")
    counts, starts = counts[rank], starts[rank]
    active = np.searchsorted(-counts, -np.arange(int(counts[0])), side="left")  # persons with more than k claims
    offsets = np.concatenate(([0], np.cumsum(active)))
    order = np.empty(n, np.int64)
    for k in range(len(active)):
        order[offsets[k] : offsets[k + 1]] = starts[: active[k]] + k
    if rows is not None:
        order = rows[order]
    columns = {k: getattr(c, k)[order] for k in LAID_OUT}
    months = c.day[order].astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    columns["month"] = months
    columns["year"] = months // 12
    years = int(columns["year"].min()) != int(columns["year"].max())
    return Layout(order, offsets, len(starts), columns, combo[order], years)


# ------------------------------------------------------------------------------------------- the replay

OUTCOME_FIELDS = ("act_pay_dedc", "hifp_pay", "pool_prop_selfpay", "cvlserv_pay", "hifes_pay", "hifmi_pay",
                  "hifob_pay", "maf_pay", "oth_pay", "fund_pay_sumamt", "psn_part_amt", "acct_pay",
                  "psn_cash_pay", "balc")  # fmt: skip
"""The 2207 setlinfo amounts the replay gives for each claim (the rest are the claim's own)."""


@dataclass
class Outcome:
    """Per claim, in the layout's order: the setlinfo amounts and whether the basic ceiling was reached."""

    amounts: dict[str, np.ndarray]
    ceiling_reached: np.ndarray
    """The claim met a basic ceiling (封顶线) and left nothing of it."""


def half_up(amount: np.ndarray | int, num: np.ndarray | int, den: np.ndarray | int) -> Any:
    """round_fen(amount × num/den) for amounts ≥ 0: money.apply_ratio on integers."""
    return (2 * amount * num + den) // (2 * den)


@dataclass
class State:
    counters: np.ndarray
    balance: np.ndarray
    month: np.ndarray
    year: np.ndarray
    persons: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.persons = np.arange(self.counters.shape[1])

    def read(self, key: np.ndarray | int, n: int) -> np.ndarray:
        values: np.ndarray = self.counters[key, :n] if isinstance(key, int) else self.counters[key, self.persons[:n]]
        return values

    def add(self, key: np.ndarray | int, n: int, amount: np.ndarray) -> None:
        if isinstance(key, int):
            self.counters[key, :n] += amount
        else:
            self.counters[key, self.persons[:n]] += amount  # each person once a step: no repeated index


class Replay:
    """Replays claims under policies; ``combos`` are shared by all the policies of one run."""

    def __init__(self, policies: Sequence[Policy], vocab: Vocab | None = None) -> None:
        self.vocab = vocab or Vocab()
        self.combos = Combos(policies, self.vocab)
        self.tables = {id(p): Tables(p) for p in policies}

    def lay_out(self, claims: Claims, rows: np.ndarray | None = None, combo: np.ndarray | None = None) -> Layout:
        """The claims (or those at ``rows``) laid out; ``combo`` are the claims' ``combos.ids`` if known."""
        return lay_out(claims, self.combos.ids(claims) if combo is None else combo, rows)

    def run(self, layout: Layout, policy: Policy) -> Outcome:
        t = self.tables[id(policy)]
        t.ensure(np.flatnonzero(np.bincount(layout.combo, minlength=len(self.combos.facts))), self.combos.facts)
        n_all = len(layout.order)
        biggest = int(layout.columns["medfee_sumamt"].max()) if n_all else 0
        if 2 * biggest * t.max_num + t.max_den >= INT64_ROOM:
            raise ReplayError(f"{policy.name}: a ratio with too many decimals for amounts up to {biggest} fen")
        absent = {"cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay"} - {
            layer.setl_field for layer in policy.layers
        }
        nothing = np.zeros(n_all, I64)  # one array of zeros for the layers the policy does not have
        amounts = {name: nothing if name in absent else np.zeros(n_all, I64) for name in OUTCOME_FIELDS}
        reached = np.zeros(n_all, bool)
        state = State(np.zeros((len(t.keys), layout.persons), I64), np.zeros(layout.persons, I64),
                      np.full(layout.persons, -1, I64), np.full(layout.persons, -1, I64))  # fmt: skip
        for k in range(layout.steps):
            s, e = int(layout.offsets[k]), int(layout.offsets[k + 1])
            self.step(t, layout, state, k, s, e, amounts, reached)
        return Outcome(amounts, reached)

    def step(self, t: Tables, layout: Layout, state: State, k: int, s: int, e: int,
             out: dict[str, np.ndarray], reached: np.ndarray) -> None:  # fmt: skip
        """The k-th claim of each of the first e - s persons: calculate(), line by line, over arrays."""
        n, policy, cols = e - s, t.policy, layout.columns
        g = layout.combo[s:e]

        def col(name: str) -> Any:
            values = t.get(name)
            return values if isinstance(values, int) else values[g]

        # counters of a month (and with claims of several years, of a year) start again
        if t.monthly:
            month = cols["month"][s:e]
            new = month != state.month[:n]
            for key in t.monthly:
                state.counters[key, :n][new] = 0
            state.month[:n] = month
        if layout.years:
            year = cols["year"][s:e]
            new = year != state.year[:n]
            for key in set(range(1, len(t.keys))) - t.monthly:
                state.counters[key, :n][new] = 0
            state.year[:n] = year

        inscp = cols["inscp_scp_amt"][s:e]
        # 先自付, then the deductible (deductible_due)
        fs_num = col("fs_num")
        first = half_up(inscp, fs_num, col("fs_den")) if not isinstance(fs_num, int) or fs_num else 0
        rest = inscp - first
        dedc_key = col("dedc_key")
        paid_this_year = state.read(dedc_key, n)
        unit, period = col("ded_unit"), col("ded_period")
        due = np.broadcast_to(np.asarray(unit, I64), (n,))
        if not isinstance(period, int) or period == 2:
            due = np.where(period == 2, np.maximum(0, unit - paid_this_year), due)
        if not isinstance(period, int) or period == 1:
            seq = np.minimum(cols["admission_seq"][s:e], t.fractions) - 1
            share = (
                np.choose(seq, [col(f"ded_frac{i}") for i in range(t.fractions)])
                if t.fractions > 1
                else col("ded_frac0")
            )
            repeat = col("ded_repeat")
            los = np.maximum(cols["los_days"][s:e], 1)
            periods = np.where(repeat > 0, 1 + (los - 1) // np.maximum(repeat, 1), 1)
            admission = np.maximum(0, share * periods - cols["stay_dedc_paid"][s:e])
            due = np.where(period == 1, admission, due)
        cap = col("ded_cap")
        if not isinstance(cap, int) or cap >= 0:
            due = np.where(cap >= 0, np.minimum(due, np.maximum(0, cap - paid_this_year)), due)
        dedc = np.where(col("ded_has") == 1, np.minimum(rest, due), 0)
        eligible = rest - dedc

        # the pooled fund's share (pooled_share): a ratio, or bands over this visit or the year
        elig_key = col("elig_key")
        fund_raw = half_up(eligible, col("r_num"), col("r_den"))
        if t.bands:
            start = np.where(col("band_year") == 1, state.read(elig_key, n), 0)
            end = start + eligible
            banded = np.zeros(n, I64)
            for j in range(t.bands):
                hi = col(f"b{j}_hi")
                inside = np.maximum(0, np.minimum(end, np.where(hi < 0, end, hi)) - np.maximum(start, col(f"b{j}_lo")))
                banded += half_up(inside, col(f"b{j}_num"), col(f"b{j}_den"))
            fund_raw = np.where(col("band") == 1, banded, fund_raw)

        # the ceiling (remaining_ceiling), and the part of the eligible amount it covered
        ceil_has, ceil_key = col("ceil_has"), col("ceil_key")
        hifp = fund_raw
        if not isinstance(ceil_has, int) or ceil_has:
            left = np.maximum(0, col("ceil_amt") - state.read(ceil_key, n))
            hifp = np.where(ceil_has == 1, np.minimum(fund_raw, left), fund_raw)
            reached[s:e] = (ceil_has == 1) & (left == hifp)
        covered = eligible.copy()
        cut = np.flatnonzero(hifp != fund_raw)
        if len(cut):  # eligible × hifp / fund_raw, half up, with Python integers (the product may pass int64)
            triples = zip(eligible[cut].tolist(), hifp[cut].tolist(), fund_raw[cut].tolist(), strict=True)
            covered[cut] = [(2 * a * b + c) // (2 * c) for a, b, c in triples]
        state.add(dedc_key, n, dedc)
        state.add(elig_key, n, eligible)
        if not isinstance(ceil_key, int) or ceil_key:
            state.add(ceil_key, n, hifp * col("ceil_add"))
        copay = first + covered - hifp
        over = eligible - covered

        # the layers (pay_layers / layer_payment), in policy order
        burden, above = dedc + copay + over, over
        fund = hifp.copy()
        for i, layer in enumerate(policy.layers):
            on = col(f"l{i}_on")
            if isinstance(on, int) and not on:
                continue
            base_key, paid_key = t.layer_keys[i]
            base = np.where(on == 1, burden if layer.base == "personal_burden" else above, 0)
            before = state.counters[base_key, :n].copy()
            after = before + base
            thr, above_thr = col(f"l{i}_thr"), col(f"l{i}_above")
            lo = np.where(above_thr == 1, np.maximum(0, before - thr), np.maximum(before, thr))
            hi = np.where(above_thr == 1, np.maximum(0, after - thr), np.maximum(after, thr))
            pay = np.zeros(n, I64)
            for j in range(t.segments[i]):
                up = col(f"l{i}s{j}_hi")
                inside = np.maximum(0, np.minimum(hi, np.where(up < 0, hi, up)) - np.maximum(lo, col(f"l{i}s{j}_lo")))
                pay += half_up(inside, col(f"l{i}s{j}_num"), col(f"l{i}s{j}_den"))
            cap = col(f"l{i}_cap")
            if not isinstance(cap, int) or cap >= 0:
                pay = np.where(cap >= 0, np.minimum(pay, np.maximum(0, cap - state.counters[paid_key, :n])), pay)
            state.counters[base_key, :n] += base
            state.counters[paid_key, :n] += pay
            out[layer.setl_field][s:e] += pay
            fund += pay
            burden = burden - pay
            above = np.minimum(above - pay if layer.base == "over_ceiling" else above, burden)

        # the personal account, and the cash left
        medfee = cols["medfee_sumamt"][s:e]
        psn_part = medfee - fund
        balance = cols["acct_balc"][s:e] if k == 0 else state.balance[:n]
        balance = np.maximum(balance + cols["acct_credit"][s:e], 0)
        acct = np.zeros(n, I64)
        account = policy.account
        if account is not None:
            parts = {"in_policy": burden, "preselfpay": cols["preselfpay_amt"][s:e],
                     "overlmt": cols["overlmt_selfpay"][s:e], "fulamt": cols["fulamt_ownpay_amt"][s:e]}  # fmt: skip
            payable = sum((parts[p] for p in account.covers), np.zeros(n, I64))
            use = (col("acct_on") == 1) & cols["acct_used_flag"][s:e]
            acct = np.where(use, np.minimum(np.minimum(balance, payable), psn_part), 0)
        state.balance[:n] = balance - acct

        out["act_pay_dedc"][s:e] = dedc
        out["hifp_pay"][s:e] = hifp
        out["pool_prop_selfpay"][s:e] = copay
        out["fund_pay_sumamt"][s:e] = fund
        out["psn_part_amt"][s:e] = psn_part
        out["acct_pay"][s:e] = acct
        out["psn_cash_pay"][s:e] = psn_part - acct
        out["balc"][s:e] = balance - acct
