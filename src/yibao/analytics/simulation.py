"""The what-if simulation (政策测算) of a benefit-policy proposal over a period's claims.

``simulate(claims_file, baselines, proposals)`` reads the claims (Parquet, docs/policy-simulation.md's
columns) in chunks of whole persons, replays every claim under the baseline and the proposal
(``yibao.analytics.replay``), and sums the two answers into a report: totals and changes by fund, the
patients' own share (个人负担, of it the account and the cash), by hospital level, person type, med_type
and annual cost band of the person, the persons who reach the basic ceiling, and the months of reserve of
the pooled fund before and after. Money in the report is integer fen; it is plain JSON, for the console.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from yibao.analytics.replay import OUTCOME_FIELDS, Claims, Layout, Outcome, Replay, ReplayError, Vocab
from yibao.domain.codes import Insutype, MedType, PsnType
from yibao.domain.policy import Policy

REPORT_KIND = "yibao.policy-simulation"
REPORT_VERSION = 1
AMOUNTS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt")
REQUIRED = ("psn_no", "insutype", "setl_date", "med_type", "hosp_lv", "psn_type", "age", *AMOUNTS)
DEFAULTS: dict[str, Any] = {
    "contrib_months": 0, "specialty": "", "idet_types": "", "flags": "", "cvlserv_flag": False,
    "admission_seq": 1, "los_days": 1, "stay_dedc_paid": 0, "acct_used_flag": True, "acct_balc": 0,
    "acct_credit": 0,
}  # fmt: skip
STRINGS = ("med_type", "psn_type", "specialty", "idet_types", "flags")
BOOLS = ("cvlserv_flag", "acct_used_flag")
COST_BANDS = (0, 1_000, 5_000, 20_000, 50_000, 100_000, 300_000)
"""Lower bounds (yuan) of the bands of a person's medical costs over the period (年度医疗费用分段)."""
SIDE_MEASURES = ("fund_pay_sumamt", "hifp_pay", "psn_part_amt", "acct_pay", "psn_cash_pay")
"""What each breakdown shows under each policy."""


# ------------------------------------------------------------------------------------------- reading


@dataclass
class Chunk:
    """Claims of whole persons (every insurance type), their insurance types as codes, their first row."""

    claims: Claims
    insutype: np.ndarray
    first_row: int


def _strings(column: pa.ChunkedArray, name: str, vocab: Vocab, default: str | None) -> np.ndarray:
    parts = []
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_decode() if chunk.null_count else chunk
        if chunk.null_count:
            if default is None:
                raise ReplayError(f"{name}: empty values ({chunk.null_count})")
            chunk = pc.fill_null(chunk, default)
        if not pa.types.is_dictionary(chunk.type):
            chunk = chunk.cast(pa.string()).dictionary_encode()
        mapping = vocab.codes(name, chunk.dictionary.to_pylist())
        parts.append(mapping[chunk.indices.to_numpy(zero_copy_only=False)])
    return np.concatenate(parts) if parts else np.zeros(0, np.int32)


def _numbers(column: pa.ChunkedArray, name: str, dtype: type, default: Any) -> np.ndarray:
    if column.null_count:
        if default is None:
            raise ReplayError(f"{name}: empty values ({column.null_count})")
        column = pc.fill_null(column, default)
    if dtype is not bool and not pa.types.is_integer(column.type):
        raise ReplayError(f"{name}: integer column expected, found {column.type}")
    return np.asarray(column.to_numpy(), dtype=dtype)


def _days(column: pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_timestamp(column.type) or pa.types.is_date64(column.type):
        column = column.cast(pa.date32())
    if not pa.types.is_date32(column.type):
        raise ReplayError(f"setl_date: date column expected, found {column.type}")
    if column.null_count:
        raise ReplayError(f"setl_date: empty values ({column.null_count})")
    return np.asarray(column.to_numpy(), dtype="datetime64[D]").astype(np.int32)


def claims_from_table(table: pa.Table, vocab: Vocab) -> tuple[Claims, np.ndarray]:
    """A table of docs/policy-simulation.md's columns as Claims (checked by the caller) and insutype codes."""
    names = set(table.column_names)

    def get(name: str) -> pa.ChunkedArray:
        if name in names:
            return table[name]
        return pa.chunked_array([pa.array([DEFAULTS[name]] * len(table))])

    if not pa.types.is_integer(table["psn_no"].type):
        raise ReplayError("psn_no: an integer column is expected (number the persons)")
    columns: dict[str, np.ndarray] = {"psn_no": _numbers(table["psn_no"], "psn_no", np.int64, None),
                                      "day": _days(table["setl_date"])}  # fmt: skip
    for name in STRINGS:
        columns[name] = _strings(get(name), name, vocab, DEFAULTS.get(name))
    for name in BOOLS:
        columns[name] = _numbers(get(name), name, bool, DEFAULTS[name])
    for name, dtype in (("hosp_lv", np.int8), ("age", np.int16), ("contrib_months", np.int16),
                        ("admission_seq", np.int32), ("los_days", np.int32)):  # fmt: skip
        columns[name] = _numbers(get(name), name, dtype, DEFAULTS.get(name))
    for name in (*AMOUNTS, "stay_dedc_paid", "acct_balc", "acct_credit"):
        columns[name] = _numbers(get(name), name, np.int64, DEFAULTS.get(name))
    insutype = _strings(table["insutype"], "insutype", vocab, None)
    return Claims(**columns), insutype


def read_chunks(path: Path, vocab: Vocab, chunk_claims: int) -> Iterator[Chunk]:
    """The claims file in chunks of about ``chunk_claims`` claims, each of whole persons, checked."""
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ReplayError(f"{path}: {exc}") from None
    present = parquet.schema_arrow.names
    missing = [c for c in REQUIRED if c not in present]
    if missing:
        raise ReplayError(f"{path}: {missing[0]}: column missing (docs/policy-simulation.md)")
    wanted = [c for c in (*REQUIRED, *DEFAULTS) if c in present]
    pending: list[pa.RecordBatch] = []
    rows, first_row, last_psn = 0, 0, None

    def emit(table: pa.Table) -> Chunk:
        nonlocal first_row, last_psn
        claims, insutype = claims_from_table(table, vocab)
        claims.check(first_row)
        if last_psn is not None and len(claims) and int(claims.psn_no[0]) <= last_psn:
            raise ReplayError(f"psn_no: row {first_row}: claims must be sorted by psn_no, then setl_date")
        chunk = Chunk(claims, insutype, first_row)
        first_row += len(claims)
        last_psn = int(claims.psn_no[-1]) if len(claims) else last_psn
        return chunk

    # row group by row group: iter_batches' memory grew with every batch read (pyarrow 26), this does not
    batches = (
        batch
        for group in range(parquet.metadata.num_row_groups)
        for batch in parquet.read_row_group(group, columns=wanted).to_batches(min(chunk_claims, 1 << 20))
    )
    for batch in batches:
        pending.append(batch)
        rows += batch.num_rows
        if rows < chunk_claims:
            continue
        table = pa.Table.from_batches(pending)
        psn = table["psn_no"].to_numpy()
        cut = int(np.flatnonzero(psn != psn[-1])[-1]) + 1 if (psn != psn[-1]).any() else 0
        if cut == 0:
            continue  # one person so far: read on
        chunk = emit(table.slice(0, cut))
        pending = table.slice(cut).to_batches()
        rows = len(table) - cut
        del table, psn  # the chunk's arrays are copies: the Arrow buffers can go while it is replayed
        yield chunk
    if rows:
        yield emit(pa.Table.from_batches(pending))


# ------------------------------------------------------------------------------------------- sums


def group_sum(groups: np.ndarray, values: np.ndarray, size: int, bound: int) -> np.ndarray:
    """Exact int64 sums of ``values`` by group 0..size-1, given ``bound`` ≥ the sum of their magnitudes
    (bincount adds in float64, exact below 2**53; above, the values are split in two halves)."""
    if bound < 2**53:
        sums: np.ndarray = np.rint(np.bincount(groups, weights=values, minlength=size)).astype(np.int64)
        return sums
    high, low = np.divmod(values, 1 << 26)
    high_bound, low_bound = (bound >> 26) + len(values), len(values) << 26
    split: np.ndarray = group_sum(groups, high, size, high_bound) * (1 << 26) + group_sum(groups, low, size, low_bound)
    return split


CELL = (("insutype", 1 << 17), ("med_type", 1 << 11), ("psn_type", 1 << 3), ("hosp_lv", 1))
"""A claim's cell: insutype, med_type (< 64), psn_type (< 256) and hospital level (< 8) codes in one number."""


class Sums:
    """Sums by cell of claims (CELL) and by cost band of persons: for each, a dict of measure → int."""

    def __init__(self) -> None:
        self.cells: dict[int, dict[str, int]] = {}
        self.bands: dict[int, dict[str, int]] = {}

    @staticmethod
    def add(table: dict[int, dict[str, int]], groups: np.ndarray, measures: dict[str, np.ndarray], bound: int) -> None:
        size = int(groups.max()) + 1 if len(groups) else 0
        present = np.flatnonzero(np.bincount(groups, minlength=size))
        sums = {name: group_sum(groups, values, size, bound)[present] for name, values in measures.items()}
        for i, g in enumerate(present.tolist()):
            row = table.setdefault(g, {})
            for name, totals in sums.items():
                row[name] = row.get(name, 0) + int(totals[i])

    def by(self, dimension: str) -> dict[int, dict[str, int]]:
        """The claims' sums by one part of their cell."""
        unit = dict(CELL)[dimension]
        width = {"insutype": 1 << 30, "med_type": 1 << 6, "psn_type": 1 << 8, "hosp_lv": 1 << 3}[dimension]
        out: dict[int, dict[str, int]] = {}
        for cell, row in self.cells.items():
            total = out.setdefault(cell // unit % width, {})
            for name, value in row.items():
                total[name] = total.get(name, 0) + value
        return out


def band_of(fen: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.array(COST_BANDS, np.int64) * 100, fen, side="right") - 1


# ------------------------------------------------------------------------------------------- the run


@dataclass
class Pair:
    insutype: str
    baseline: Policy
    proposal: Policy


def pairs_of(baselines: Sequence[Policy], proposals: Sequence[Policy]) -> list[Pair]:
    """One baseline per insurance type; its proposal, or itself where the proposal leaves the type alone."""
    found: dict[str, Pair] = {}
    for p in baselines:
        if p.insutype in found:
            raise ReplayError(f"--baseline: two policies for insutype {p.insutype}")
        found[p.insutype] = Pair(p.insutype, p, p)
    seen: set[str] = set()
    for p in proposals:
        if p.insutype not in found:
            raise ReplayError(f"--proposal: {p.name}: no baseline for insutype {p.insutype}")
        if p.insutype in seen:
            raise ReplayError(f"--proposal: two policies for insutype {p.insutype}")
        seen.add(p.insutype)
        found[p.insutype].proposal = p
    if not found:
        raise ReplayError("--baseline: at least one policy")
    return list(found.values())


@dataclass
class Reserve:
    """An insurance type's pooled fund: its balance and, if known, its monthly spending (fen); spending
    defaults to the baseline's pooled-fund spending (hifp_pay) per month of the claims."""

    balance: int
    monthly_spending: int | None = None
    source: str = "given"
    """Where the figures come from: "given" (options), or "ledger YYYY-MM" (the fund's month in the ledger)."""


def simulate(
    claims_file: Path,
    baselines: Sequence[Policy],
    proposals: Sequence[Policy],
    *,
    chunk_claims: int = 2_000_000,
    reserves: Mapping[str, Reserve] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Replay the claims under both sides and return the report (see the module's docstring)."""
    started = time.perf_counter()
    pairs = pairs_of(baselines, proposals)
    policies = [p for pair in pairs for p in (pair.baseline, pair.proposal)]
    vocab = Vocab()
    replay = Replay(policies, vocab)
    sums = Sums()
    totals: dict[str, int] = {}
    skipped: dict[str, int] = {}
    counts = {"claims": 0, "persons": 0, "chunks": 0}
    months: set[int] = set()
    span: list[int] = []
    for chunk in read_chunks(claims_file, vocab, chunk_claims):
        counts["chunks"] += 1
        names = vocab.values["insutype"]
        combo = replay.combos.ids(chunk.claims)
        for code in np.unique(chunk.insutype).tolist():
            rows = np.flatnonzero(chunk.insutype == code)
            pair = next((p for p in pairs if p.insutype == names[code]), None)
            if pair is None:
                skipped[names[code]] = skipped.get(names[code], 0) + len(rows)
                continue
            layout = replay.lay_out(chunk.claims, None if len(rows) == len(chunk.claims) else rows, combo)
            base = replay.run(layout, pair.baseline)
            prop = base if pair.proposal is pair.baseline else replay.run(layout, pair.proposal)
            add_chunk(sums, totals, layout, chunk.claims, code, base, prop)
            counts["claims"] += len(layout.order)
            counts["persons"] += layout.persons
            months.update(np.unique(layout.columns["month"]).tolist())
            span += [int(chunk.claims.day[rows].min()), int(chunk.claims.day[rows].max())]
            del layout, base, prop  # before the next insurance type's are made
        if progress:
            progress(chunk.first_row + len(chunk.claims))
    seconds = time.perf_counter() - started
    return report(claims_file, pairs, vocab, sums, totals, counts, skipped, months, span, reserves or {}, seconds)


def add_chunk(sums: Sums, totals: dict[str, int], layout: Layout, claims: Claims, insutype: int, base: Outcome,
              prop: Outcome) -> None:  # fmt: skip
    cols, order = layout.columns, layout.order
    medfee = cols["medfee_sumamt"]
    bound = int(medfee.sum())  # every measure is a part of the bill: at most the bill
    cell = (insutype * CELL[0][1] + claims.med_type[order].astype(np.int64) * CELL[1][1]
            + claims.psn_type[order].astype(np.int64) * CELL[2][1] + claims.hosp_lv[order])  # fmt: skip
    claim_measures = {"claims": np.ones(len(order), np.int64), "medfee_sumamt": medfee}
    for side, outcome in (("baseline", base), ("proposal", prop)):
        for name in SIDE_MEASURES:
            claim_measures[f"{side}.{name}"] = outcome.amounts[name]
    sums.add(sums.cells, cell, claim_measures, bound)
    # persons: by the band of their costs over the period, and who reached the ceiling
    person = layout.person_of_claim()
    costs = group_sum(person, medfee, layout.persons, bound)
    person_measures = {"persons": np.ones(layout.persons, np.int64), "medfee_sumamt": costs}
    for side, outcome in (("baseline", base), ("proposal", prop)):
        for name in SIDE_MEASURES:
            person_measures[f"{side}.{name}"] = group_sum(person, outcome.amounts[name], layout.persons, bound)
        person_measures[f"{side}.ceiling_persons"] = (
            np.bincount(person, weights=outcome.ceiling_reached, minlength=layout.persons) > 0
        ).astype(np.int64)
    sums.add(sums.bands, band_of(costs), person_measures, bound)
    for name in AMOUNTS:
        totals[name] = totals.get(name, 0) + int(cols[name].sum())
    for side, outcome in (("baseline", base), ("proposal", prop)):
        for name in OUTCOME_FIELDS:
            if name != "balc":
                totals[f"{side}.{name}"] = totals.get(f"{side}.{name}", 0) + int(outcome.amounts[name].sum())
        reached = person_measures[f"{side}.ceiling_persons"]
        totals[f"{side}.ceiling_persons"] = totals.get(f"{side}.ceiling_persons", 0) + int(reached.sum())


# ------------------------------------------------------------------------------------------- the report


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sides(row: dict[str, int], names: Sequence[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {"baseline": {}, "proposal": {}, "change": {}}
    for name in names:
        b, p = row.get(f"baseline.{name}", 0), row.get(f"proposal.{name}", 0)
        out["baseline"][name], out["proposal"][name], out["change"][name] = b, p, p - b
    return out


def breakdown(groups: dict[int, dict[str, int]], label: Callable[[int], tuple[str, str]], count: str
              ) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    for g, row in sorted(groups.items(), key=lambda item: label(item[0])[0]):
        key, name = label(g)
        rows.append({"key": key, "label": name, count: row[count], "medfee_sumamt": row["medfee_sumamt"],
                     **sides(row, SIDE_MEASURES)})  # fmt: skip
    return rows


def band_label(g: int) -> tuple[str, str]:
    lower = COST_BANDS[g]
    upper = COST_BANDS[g + 1] if g + 1 < len(COST_BANDS) else None
    return f"{g:02d}", f"{lower:,}–{upper:,}" if upper else f"≥ {lower:,}"


def months_of(balance: int, monthly: int) -> float | None:
    if monthly <= 0:
        return None
    return float((Decimal(balance) / Decimal(monthly)).quantize(Decimal("0.01"), ROUND_HALF_UP))


def report(claims_file: Path, pairs: list[Pair], vocab: Vocab, sums: Sums, totals: dict[str, int],
           counts: dict[str, int], skipped: dict[str, int], months: set[int], span: list[int],
           reserves: Mapping[str, Reserve], seconds: float) -> dict[str, Any]:  # fmt: skip
    words = vocab.values
    fields = [f for f in OUTCOME_FIELDS if f != "balc"]
    n_months = len(months)
    epoch = date(1970, 1, 1)
    period = {"first": (epoch + timedelta(days=min(span))).isoformat() if span else None,
              "last": (epoch + timedelta(days=max(span))).isoformat() if span else None,
              "months": n_months}  # fmt: skip
    by_insutype = {words["insutype"][g]: row for g, row in sums.by("insutype").items()}
    reserve_out = []
    for insutype, reserve in sorted(reserves.items()):
        row = by_insutype.get(insutype)
        if row is None or not n_months:
            continue
        base_pool = row["baseline.hifp_pay"]
        monthly = reserve.monthly_spending if reserve.monthly_spending is not None else round(base_pool / n_months)
        after = monthly + round((row["proposal.hifp_pay"] - base_pool) / n_months)
        reserve_out.append(
            {
                "insutype": insutype,
                "balance": reserve.balance,
                "monthly_spending": monthly,
                "monthly_spending_after": after,
                "months_before": months_of(reserve.balance, monthly),
                "months_after": months_of(reserve.balance, after),
                "source": reserve.source,
            }
        )
    return {
        "kind": REPORT_KIND,
        "version": REPORT_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "claims_file": str(claims_file),
        "policies": [
            {
                "insutype": p.insutype,
                "admdvs": p.baseline.admdvs,
                "baseline": p.baseline.name,
                "proposal": p.proposal.name,
            }
            for p in pairs
        ],
        "period": period,
        "claims": counts["claims"],
        "persons": counts["persons"],
        "skipped": [
            {"insutype": k, "claims": v, "why": "no policy of this insutype given"} for k, v in skipped.items()
        ],
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(peak_rss_mib()),
        "totals": {"claim": {name: totals.get(name, 0) for name in AMOUNTS}, **sides(totals, fields)},
        "ceiling_persons": {
            "baseline": totals.get("baseline.ceiling_persons", 0),
            "proposal": totals.get("proposal.ceiling_persons", 0),
        },
        "reserve": reserve_out,
        "by_hosp_lv": breakdown(sums.by("hosp_lv"), lambda g: (str(g), f"{g}级" if g else "未定级/药店"), "claims"),
        "by_psn_type": breakdown(
            sums.by("psn_type"), lambda g: (words["psn_type"][g], PsnType.describe(words["psn_type"][g])), "claims"
        ),
        "by_med_type": breakdown(
            sums.by("med_type"), lambda g: (words["med_type"][g], MedType.describe(words["med_type"][g])), "claims"
        ),
        "by_insutype": breakdown(
            sums.by("insutype"),
            lambda g: (words["insutype"][g], Insutype.describe(words["insutype"][g])),
            "claims",
        ),
        "by_cost_band": breakdown(sums.bands, band_label, "persons"),
    }
