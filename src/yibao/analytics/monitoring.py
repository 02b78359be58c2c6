"""Monitoring against peers (统计监测): indicators per institution, department or practitioner, robust scores.

``monitor(data_dir: Path, level: str = "institution", *, min_visits: int = 30, min_peers: int = 5)
-> list[Score]`` computes the indicators (``INDICATORS``) with SQL on DuckDB over the Parquet claims,
groups each entity with its peers (same hosp_lv and specialty — for departments the dept_code — or the
hosp_lv alone when that group has fewer than ``min_peers``), and scores each indicator by a robust z
(median and MAD × 1.4826; when the MAD is 0, the mean absolute deviation × 1.2533; when that is 0 too,
z = 0). Every indicator is one-sided: only high is suspicious. An entity's score is the root of the sum
of its squared positive z; its reasons are the indicators with the highest z.

``score_rows(rows: Sequence[Mapping], *, min_peers: int = 5) -> list[Score]`` scores rows already made
(keys: entity, hosp_lv, specialty, visits and the indicators), with numpy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from yibao.analytics.on_duckdb import connect
from yibao.domain.frozen import frozen

LEVELS = {
    "institution": ("fixmedins_code", "specialty"),
    "department": ("fixmedins_code || '/' || dept_code", "dept_code"),
    "practitioner": ("atddr_no", "specialty"),
}
"""level → (the entity, what its peers share besides the hospital level)."""

INDICATORS = {
    "outpatient_cost": "门诊次均费用 (元)",
    "inpatient_cost": "住院次均费用 (元)",
    "drug_share": "药占比",
    "readmission_rate": "15日内同病种再入院率",
    "class_bc_share": "乙类、丙类费用占比",
    "repeat_rate": "同日重复就诊率",
    "weekend_share": "周末结算占比",
    "night_share": "夜间结算占比 (22–6时)",
    "length_of_stay": "平均住院日",
    "visits_per_person": "人次人头比",
}
MAD_SCALE = 1.4826
MEAN_AD_SCALE = 1.2533
"""Make the spread comparable to a standard deviation for normal data."""


@frozen
class Reason:
    indicator: str
    value: float
    peer_median: float
    z: float


@frozen
class Score:
    entity: str
    hosp_lv: int
    specialty: str
    visits: int
    peers: str
    """The peer group: "lv/specialty" or "lv" when the specialty group was too small."""
    peer_count: int
    score: float
    reasons: tuple[Reason, ...]
    """The indicators with a positive z, highest first."""


def indicator_sql(level: str) -> str:
    entity, peer = LEVELS[level]
    where = "WHERE atddr_no <> ''" if level == "practitioner" else ""
    return f"""
WITH v AS (SELECT *, {entity} AS entity, {peer} AS peer FROM visits {where}),
lc AS (
    SELECT l.mdtrt_id, SUM(l.amount) AS total,
           SUM(CASE WHEN i.list_type IN ('101', '102') THEN l.amount ELSE 0 END) AS drug,
           SUM(CASE WHEN COALESCE(i.chrgitm_lv, '03') IN ('02', '03') THEN l.amount ELSE 0 END) AS bc
    FROM lines l LEFT JOIN items i ON i.med_list_codg = l.med_list_codg GROUP BY l.mdtrt_id),
stays AS (SELECT mdtrt_id, psn_no, begn_date, end_date, substr(main_dx, 1, 3) AS dx3 FROM visits
          WHERE kind = 'inpatient'),
readmitted AS (
    SELECT DISTINCT s.mdtrt_id FROM stays s JOIN stays p ON p.psn_no = s.psn_no AND p.dx3 = s.dx3
    WHERE s.dx3 <> '' AND p.end_date IS NOT NULL AND date_diff('day', p.end_date, s.begn_date) BETWEEN 0 AND 15
      AND (p.begn_date < s.begn_date OR (p.begn_date = s.begn_date AND p.mdtrt_id < s.mdtrt_id))),
repeats AS (
    SELECT mdtrt_id, ROW_NUMBER() OVER (PARTITION BY psn_no, fixmedins_code, begn_date ORDER BY mdtrt_id) AS n
    FROM visits WHERE kind = 'outpatient')
SELECT v.entity, MIN(v.hosp_lv) AS hosp_lv, MIN(v.peer) AS specialty, COUNT(*) AS visits,
       AVG(CASE WHEN v.kind = 'outpatient' THEN v.medfee_sumamt END) / 100.0 AS outpatient_cost,
       AVG(CASE WHEN v.kind = 'inpatient' THEN v.medfee_sumamt END) / 100.0 AS inpatient_cost,
       SUM(lc.drug) / NULLIF(SUM(lc.total), 0) AS drug_share,
       AVG(CASE WHEN v.kind = 'inpatient' THEN CASE WHEN r.mdtrt_id IS NULL THEN 0.0 ELSE 1.0 END END)
           AS readmission_rate,
       SUM(lc.bc) / NULLIF(SUM(lc.total), 0) AS class_bc_share,
       AVG(CASE WHEN v.kind = 'outpatient' THEN CASE WHEN rp.n >= 2 THEN 1.0 ELSE 0.0 END END) AS repeat_rate,
       AVG(CASE WHEN isodow(v.setl_time) >= 6 THEN 1.0 ELSE 0.0 END) AS weekend_share,
       AVG(CASE WHEN hour(v.setl_time) >= 22 OR hour(v.setl_time) < 6 THEN 1.0 ELSE 0.0 END) AS night_share,
       AVG(CASE WHEN v.kind = 'inpatient' AND v.end_date IS NOT NULL
                THEN date_diff('day', v.begn_date, v.end_date) END) AS length_of_stay,
       COUNT(*) * 1.0 / COUNT(DISTINCT v.psn_no) AS visits_per_person
FROM v LEFT JOIN lc ON lc.mdtrt_id = v.mdtrt_id LEFT JOIN readmitted r ON r.mdtrt_id = v.mdtrt_id
LEFT JOIN repeats rp ON rp.mdtrt_id = v.mdtrt_id
GROUP BY v.entity ORDER BY v.entity"""


def indicators(data_dir: Path, level: str = "institution", *, min_visits: int = 30) -> list[dict[str, Any]]:
    if level not in LEVELS:
        raise ValueError(f"level: {level!r} is not one of {', '.join(LEVELS)}")
    con = connect(data_dir)
    try:
        cursor = con.execute(indicator_sql(level))
        names = [d[0] for d in cursor.description]
        return [row for values in cursor.fetchall() if (row := dict(zip(names, values, strict=True)))["visits"]
                >= min_visits]  # fmt: skip
    finally:
        con.close()


def monitor(data_dir: Path, level: str = "institution", *, min_visits: int = 30, min_peers: int = 5) -> list[Score]:
    return score_rows(indicators(data_dir, level, min_visits=min_visits), min_peers=min_peers)


def robust_z(values: np.ndarray) -> np.ndarray:
    """(x − median) / spread over the non-missing values; NaN stays NaN, no spread gives 0."""
    z = np.full(values.shape, np.nan)
    present = ~np.isnan(values)
    if not present.any():
        return z
    x = values[present]
    median = np.median(x)
    spread = np.median(np.abs(x - median)) * MAD_SCALE
    if spread == 0:
        spread = np.mean(np.abs(x - median)) * MEAN_AD_SCALE
    z[present] = 0.0 if spread == 0 else (x - median) / spread
    return z


def score_rows(rows: Sequence[Mapping[str, Any]], *, min_peers: int = 5) -> list[Score]:
    by_group: dict[tuple[int, str], list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_group[(int(row["hosp_lv"]), str(row["specialty"] or ""))].append(i)
    by_level: dict[int, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_level[int(row["hosp_lv"])].append(i)
    names = list(INDICATORS)
    values = np.array([[_float(row.get(n)) for n in names] for row in rows], dtype=float).reshape(len(rows), len(names))
    out: list[Score] = []
    for (lv, specialty), members in by_group.items():
        group, label = (members, f"{lv}/{specialty}") if len(members) >= min_peers else (by_level[lv], f"{lv}")
        block = values[group]
        z = np.column_stack([robust_z(block[:, k]) for k in range(len(names))]) if group else block
        medians = [float(np.nanmedian(block[:, k])) if (~np.isnan(block[:, k])).any() else float("nan")
                   for k in range(len(names))]  # fmt: skip
        position = {m: j for j, m in enumerate(group)}
        for i in members:
            zi = np.nan_to_num(z[position[i]], nan=0.0)
            positive = np.clip(zi, 0, None)
            order = sorted((k for k in range(len(names)) if positive[k] > 0), key=lambda k: -positive[k])
            reasons = tuple(Reason(names[k], float(values[i, k]), medians[k], float(zi[k])) for k in order)
            row = rows[i]
            out.append(Score(str(row["entity"]), lv, specialty, int(row["visits"]), label, len(group),
                             float(np.sqrt(np.sum(positive**2))), reasons))  # fmt: skip
    return sorted(out, key=lambda s: (-s.score, s.entity))


def _float(value: Any) -> float:
    return float("nan") if value is None else float(value)
