"""How well supervision finds what was planted: precision and recall against the known truth.

``evaluate(data_dir, library)`` runs the rule library after settlement (``yibao.analytics.run_rules``) over
claims written by ``yibao sim claims`` and compares the findings with ``truth/``:

- claims: a visit is flagged when any finding (or any definite finding) is on it; precision and recall of
  the flagged visits against the visits carrying a plant;
- schemes: the recall of each scheme by the rules meant to catch it (``fraud.CAUGHT_BY``) — a line-level
  plant is caught by a finding on its line, a visit-level plant by a finding on its visit — and by any rule;
- institutions: institutions ranked by findings per visit, by amount flagged per yuan billed and by their
  monitoring score against peers; precision and recall at top-K (K = the colluders) and ROC-AUC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from yibao.analytics.monitoring import monitor
from yibao.analytics.post_event import FindingRow, run_rules
from yibao.domain.frozen import frozen
from yibao.domain.supervision.rules import RuleLibrary
from yibao.sim.fraud import CAUGHT_BY


@frozen
class Score:
    """Precision and recall of a set of predictions against a set of truths."""

    name: str
    predicted: int
    truth: int
    hits: int

    @property
    def precision(self) -> float:
        return self.hits / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.hits / self.truth if self.truth else 0.0


def score(name: str, predicted: Iterable[object], truth: Iterable[object]) -> Score:
    p, t = set(predicted), set(truth)
    return Score(name, len(p), len(t), len(p & t))


def roc_auc(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray) -> float:
    """The probability that a random positive scores above a random negative (ties count half)."""
    s, y = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    # average ranks over ties (Mann–Whitney U)
    starts = np.r_[0, np.nonzero(np.diff(sorted_s))[0] + 1]
    ends = np.r_[starts[1:], len(s)]
    for a, b in zip(starts, ends, strict=True):
        ranks[order[a:b]] = (a + b + 1) / 2
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def top_k(name: str, keys: Sequence[str], scores: Sequence[float] | np.ndarray, truth: Iterable[str], k: int
          ) -> Score:  # fmt: skip
    """The k highest-scoring keys (ties broken by key) against the truth."""
    order = sorted(range(len(keys)), key=lambda i: (-float(scores[i]), keys[i]))
    return score(name, [keys[i] for i in order[:k]], truth)


@frozen
class InstitutionRanking:
    name: str
    at_k: Score
    auc: float


@frozen
class Evaluation:
    visits: int
    planted_visits: int
    colluders: int
    rule_seconds: float
    claims: tuple[Score, ...]
    schemes: tuple[tuple[str, int, float, float], ...]
    """(scheme, plants, recall by its rules, recall by any finding on the visit)."""
    institutions: tuple[InstitutionRanking, ...]


def scheme_recall(truth: Sequence[tuple[str, str, str]], findings: Sequence[FindingRow], logic_of: Mapping[str, str]
                  ) -> list[tuple[str, int, float, float]]:  # fmt: skip
    """Per scheme: plants, the share caught by the scheme's own logics, the share whose visit has any finding."""
    by_key: dict[tuple[str, str], set[str]] = {}
    flagged: set[str] = set()
    for f in findings:
        by_key.setdefault((f.mdtrt_id, f.feedetl_sn), set()).add(logic_of.get(f.rule_id, ""))
        flagged.add(f.mdtrt_id)
    out = []
    for scheme, meant in CAUGHT_BY.items():
        rows = [(m, sn) for m, sn, s in truth if s == scheme]
        if not rows:
            continue
        own = sum(1 for m, sn in rows if by_key.get((m, sn), set()) & set(meant))
        out.append((scheme, len(rows), own / len(rows), sum(m in flagged for m, _ in rows) / len(rows)))
    return out


def _institution_totals(data_dir: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(fixmedins_code, visits, medfee_sumamt) of every institution in the claims."""
    table = ds.dataset(data_dir / "visits", format="parquet", partitioning="hive").to_table(
        columns=["fixmedins_code", "medfee_sumamt"]
    )
    grouped = table.group_by("fixmedins_code").aggregate([("medfee_sumamt", "count"), ("medfee_sumamt", "sum")])
    codes = grouped.column("fixmedins_code").to_pylist()
    return codes, np.asarray(grouped.column("medfee_sumamt_count")), np.asarray(grouped.column("medfee_sumamt_sum"))


def rank_institutions(codes: Sequence[str], scores: Mapping[str, np.ndarray], colluders: set[str]
                      ) -> list[InstitutionRanking]:  # fmt: skip
    labels = np.array([c in colluders for c in codes])
    k = len(colluders)
    return [
        InstitutionRanking(name, top_k(name, codes, s, colluders, k), roc_auc(s, labels)) for name, s in scores.items()
    ]


def evaluate(data_dir: Path, library: RuleLibrary, *, engine: str = "duckdb") -> Evaluation:
    """Run the library's post-event rules over ``data_dir`` and measure them against ``data_dir/truth``;
    rank the institutions also by their monitoring score against peers (``yibao.analytics.monitoring``)."""
    truth_table = pq.read_table(data_dir / "truth" / "claims.parquet")
    truth = list(zip(*(truth_table.column(c).to_pylist() for c in ("mdtrt_id", "feedetl_sn", "scheme")), strict=True))
    colluders = set(pq.read_table(data_dir / "truth" / "institutions.parquet").column("fixmedins_code").to_pylist())
    run = run_rules(data_dir, library, engine=engine)
    findings = run.rows
    logic_of = {r.id: r.logic for r in library.rules}
    planted = {m for m, _, _ in truth}
    claims = (
        score("any finding", {f.mdtrt_id for f in findings}, planted),
        score("definite finding", {f.mdtrt_id for f in findings if f.result == "definite"}, planted),
    )
    codes, visits, medfee = _institution_totals(data_dir)
    where = {c: i for i, c in enumerate(codes)}
    found, amount = np.zeros(len(codes)), np.zeros(len(codes))
    for f in findings:
        i = where.get(f.fixmedins_code)
        if i is not None:
            found[i] += 1
            amount[i] += f.amount
    scores = {
        "findings per visit": found / np.maximum(visits, 1),
        "amount flagged per yuan": amount / np.maximum(medfee, 1),
    }
    anomaly = {s.entity: s.score for s in monitor(data_dir, "institution")}
    scores["anomaly score (peers)"] = np.array([anomaly.get(c, 0.0) for c in codes])
    return Evaluation(
        visits=int(visits.sum()),
        planted_visits=len(planted),
        colluders=len(colluders),
        rule_seconds=run.seconds,
        claims=claims,
        schemes=tuple(scheme_recall(truth, findings, logic_of)),
        institutions=tuple(rank_institutions(codes, scores, colluders)),
    )
