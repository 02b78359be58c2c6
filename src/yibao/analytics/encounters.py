"""Encounters (the rule engine's visits) written as Parquet claims, for tests and small synthetic runs.

``write_encounters(encounters: Iterable[Encounter], out_dir: Path, *, specialty: Mapping[str, str] = {},
batch: int = 20_000) -> int`` writes visits, lines and diagnoses in docs/supervision.md's layout: a
visit's settlement is ``S`` + mdtrt_id at noon of its last day, in the place of treatment ``admdvs``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, time
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa

from yibao.analytics.layout import DIAGNOSES, LINES, VISITS, PartitionedWriter
from yibao.domain.supervision.encounter import Encounter


def setl_time(e: Encounter) -> datetime:
    return datetime.combine(e.end_date or e.begn_date, time(12))


def write_encounters(
    encounters: Iterable[Encounter], out_dir: Path, *, specialty: Mapping[str, str] | None = None, batch: int = 20_000
) -> int:
    specialty = specialty or {}
    with (
        PartitionedWriter(out_dir, "visits", VISITS) as visits,
        PartitionedWriter(out_dir, "lines", LINES) as lines,
        PartitionedWriter(out_dir, "diagnoses", DIAGNOSES) as diagnoses,
    ):
        it = iter(encounters)
        while chunk := list(islice(it, batch)):
            v: list[dict[str, Any]] = []
            ls: list[dict[str, Any]] = []
            ds: list[dict[str, Any]] = []
            for e in chunk:
                when = setl_time(e)
                place = {"admdvs": e.admdvs, "month": f"{when:%Y-%m}"}
                v.append(
                    {
                        "setl_id": f"S{e.mdtrt_id}", "mdtrt_id": e.mdtrt_id, "psn_no": e.psn_no, "gend": e.gend,
                        "age": e.age, "insutype": e.insutype, "fixmedins_code": e.fixmedins_code,
                        "hosp_lv": e.hosp_lv, "specialty": specialty.get(e.fixmedins_code, ""), "dept_code": "",
                        "atddr_no": e.atddr_no, "med_type": e.med_type, "kind": e.kind,
                        "cross_region": e.cross_region, "begn_date": e.begn_date, "end_date": e.end_date,
                        "setl_time": when, "main_dx": e.main_dx, "insuplc_admdvs": e.admdvs,
                        "medfee_sumamt": e.medfee_sumamt, "fund_pay_sumamt": 0, "psn_cash_pay": e.medfee_sumamt,
                        **place,
                    }
                )  # fmt: skip
                ls.extend(
                    {
                        "mdtrt_id": e.mdtrt_id,
                        "feedetl_sn": x.feedetl_sn,
                        "med_list_codg": x.med_list_codg,
                        "fee_date": x.fee_date,
                        "cnt": float(x.cnt),
                        "pric": float(x.pric),
                        "amount": x.amount,
                        "days": x.days,
                        **place,
                    }
                    for x in e.lines
                )
                if e.main_dx:
                    ds.append({"mdtrt_id": e.mdtrt_id, "diag_code": e.main_dx, "maindiag": True, **place})
                ds.extend({"mdtrt_id": e.mdtrt_id, "diag_code": d, "maindiag": False, **place} for d in e.diagnoses)
            visits.write(pa.Table.from_pylist(v, schema=_with_place(VISITS)))
            lines.write(pa.Table.from_pylist(ls, schema=_with_place(LINES)))
            diagnoses.write(pa.Table.from_pylist(ds, schema=_with_place(DIAGNOSES)))
        return visits.rows


def _with_place(schema: pa.Schema) -> pa.Schema:
    return schema.append(pa.field("admdvs", pa.string())).append(pa.field("month", pa.string()))
