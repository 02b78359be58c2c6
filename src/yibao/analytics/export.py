"""The stored claims as Parquet for analytics (docs/supervision.md, "Claims for analytics").

``export_claims(engine_or_url: Engine | str, out_dir: Path, *, batch: int = 50_000) -> ExportCounts``
streams the settled visits (reversed settlements and the reversals left out), their live fee lines and
diagnoses, and the catalogue into the layout of ``yibao.analytics.layout``.

A visit with several settlements (中途结算) is one row: its amounts summed, the last settlement's id,
time and places; its lines and diagnoses sit in the partition of that last settlement.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine, Row, Select, and_, exists, func, select

from yibao.analytics.layout import DIAGNOSES, LINES, VISITS, PartitionedWriter, write_items
from yibao.app.records import local_date, local_time
from yibao.app.supervision import days_of_supply
from yibao.domain.catalog import CatalogItem
from yibao.domain.claim import age_on
from yibao.domain.frozen import frozen
from yibao.files import catalog_item_from_data
from yibao.store import tables as t
from yibao.store.engine import make_engine


@frozen
class ExportCounts:
    visits: int
    lines: int
    diagnoses: int
    items: int


def _kept() -> Select[Any]:
    """Settlements that stand: not a reversal, and not reversed."""
    s, rev = t.settlement, t.settlement.alias("rev")
    return select(s).where(s.c.revs_setl_id.is_(None), ~exists().where(rev.c.revs_setl_id == s.c.setl_id))


def _month(utc: datetime) -> str:
    return f"{local_time(utc):%Y-%m}"


def export_claims(engine_or_url: Engine | str, out_dir: Path, *, batch: int = 50_000) -> ExportCounts:
    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    kept = _kept().subquery("kept")
    last = (
        select(kept.c.mdtrt_id, func.max(kept.c.setl_time).label("last_time"))
        .group_by(kept.c.mdtrt_id)
        .subquery("last")
    )
    place = (
        select(kept.c.mdtrt_id, kept.c.mdtrtarea_admvs.label("admdvs"), last.c.last_time)
        .join(last, and_(last.c.mdtrt_id == kept.c.mdtrt_id, last.c.last_time == kept.c.setl_time))
        .subquery("place")
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    with engine.connect() as conn:
        items: dict[str, CatalogItem] = {}
        for (body,) in conn.execute(select(t.catalog_item.c.body).order_by(t.catalog_item.c.admdvs)):
            item = catalog_item_from_data(json.loads(body))
            items.setdefault(item.med_list_codg, item)  # one row per code: the first region's item
        n_items = write_items(items.values(), out_dir)

        def stream(query: Select[Any], make: Callable[[Sequence[Row[Any]]], pa.Table], w: PartitionedWriter) -> int:
            result = conn.execution_options(stream_results=True, yield_per=batch).execute(query)
            for rows in result.partitions():
                w.write(make(rows))
            return w.rows

        with PartitionedWriter(out_dir, "visits", VISITS) as w:
            # Rows come ordered by visit; the last visit of a batch may go on in the next one.
            result = conn.execution_options(stream_results=True, yield_per=batch).execute(_visits_query(kept))
            pending: list[Row[Any]] = []
            for rows in result.partitions():
                groups = list(_visit_groups([*pending, *rows]))
                pending = groups.pop()
                w.write(_visits_table(groups))
            if pending:
                w.write(_visits_table([pending]))
            n_visits = w.rows
        f = t.fee_line.c
        line_columns = [f.mdtrt_id, f.feedetl_sn, f.med_list_codg, f.fee_ocur_time, f.cnt, f.pric]
        lines = (
            select(*line_columns, f.det_item_fee_sumamt, f.body, place.c.admdvs, place.c.last_time)
            .join(place, place.c.mdtrt_id == t.fee_line.c.mdtrt_id)
            .where(t.fee_line.c.status != "cancelled", t.fee_line.c.setl_id.in_(select(kept.c.setl_id)))
        )
        with PartitionedWriter(out_dir, "lines", LINES) as w:
            n_lines = stream(lines, _lines_table, w)
        diagnoses = select(
            t.diagnosis.c.mdtrt_id,
            t.diagnosis.c.diag_code,
            t.diagnosis.c.maindiag_flag,
            place.c.admdvs,
            place.c.last_time,
        ).join(place, place.c.mdtrt_id == t.diagnosis.c.mdtrt_id)
        with PartitionedWriter(out_dir, "diagnoses", DIAGNOSES) as w:
            n_diagnoses = stream(diagnoses, _diagnoses_table, w)
    return ExportCounts(n_visits, n_lines, n_diagnoses, n_items)


def _visits_query(kept: Any) -> Select[Any]:
    v, p, i, d = t.visit, t.person, t.institution, t.diagnosis
    main_dx = (
        select(func.min(d.c.diag_code)).where(d.c.mdtrt_id == v.c.mdtrt_id, d.c.maindiag_flag == "1").scalar_subquery()
    )
    k = kept.c
    settled = [k.setl_id, k.setl_time, k.insuplc_admdvs, k.mdtrtarea_admvs, k.cross_region, k.medfee_sumamt,
               k.fund_pay_sumamt, k.psn_cash_pay]  # fmt: skip
    visited = [v.c.mdtrt_id, v.c.psn_no, v.c.insutype, v.c.fixmedins_code, v.c.dept_code, v.c.atddr_no,
               v.c.med_type, v.c.kind, v.c.begntime, v.c.endtime]  # fmt: skip
    facts = [func.coalesce(main_dx, v.c.dise_codg).label("main_dx"), p.c.gend, p.c.brdy, i.c.hosp_lv, i.c.specialty]
    return (
        select(*settled, *visited, *facts)
        .join(v, v.c.mdtrt_id == kept.c.mdtrt_id)
        .join(p, p.c.psn_no == v.c.psn_no)
        .join(i, i.c.fixmedins_code == v.c.fixmedins_code)
        .order_by(v.c.mdtrt_id, kept.c.setl_time, kept.c.setl_id)
    )


def _visit_groups(rows: Sequence[Row[Any]]) -> Iterator[list[Row[Any]]]:
    group: list[Row[Any]] = []
    for row in rows:
        if group and group[0].mdtrt_id != row.mdtrt_id:
            yield group
            group = []
        group.append(row)
    if group:
        yield group


def _visits_table(groups: Sequence[list[Row[Any]]]) -> pa.Table:
    out: list[dict[str, Any]] = []
    for group in groups:
        first, final = group[0], group[-1]
        begn = local_date(first.begntime)
        out.append(
            {
                "setl_id": final.setl_id,
                "mdtrt_id": first.mdtrt_id,
                "psn_no": first.psn_no,
                "gend": first.gend,
                "age": age_on(first.brdy, begn),
                "insutype": first.insutype,
                "fixmedins_code": first.fixmedins_code,
                "hosp_lv": first.hosp_lv,
                "specialty": first.specialty,
                "dept_code": first.dept_code,
                "atddr_no": first.atddr_no,
                "med_type": first.med_type,
                "kind": first.kind,
                "cross_region": final.cross_region != "" or final.insuplc_admdvs != final.mdtrtarea_admvs,
                "begn_date": begn,
                "end_date": local_date(first.endtime) if first.endtime else None,
                "setl_time": local_time(final.setl_time),
                "main_dx": first.main_dx or "",
                "insuplc_admdvs": final.insuplc_admdvs,
                "medfee_sumamt": sum(r.medfee_sumamt for r in group),
                "fund_pay_sumamt": sum(r.fund_pay_sumamt for r in group),
                "psn_cash_pay": sum(r.psn_cash_pay for r in group),
                "admdvs": final.mdtrtarea_admvs,
                "month": _month(final.setl_time),
            }
        )
    return pa.Table.from_pylist(out)


def _lines_table(rows: Sequence[Row[Any]]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "mdtrt_id": r.mdtrt_id,
                "feedetl_sn": r.feedetl_sn,
                "med_list_codg": r.med_list_codg,
                "fee_date": local_date(r.fee_ocur_time),
                "cnt": float(Decimal(r.cnt)),
                "pric": float(Decimal(r.pric)),
                "amount": r.det_item_fee_sumamt,
                "days": days_of_supply(r.body),
                "admdvs": r.admdvs,
                "month": _month(r.last_time),
            }
            for r in rows
        ]
    )


def _diagnoses_table(rows: Sequence[Row[Any]]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "mdtrt_id": r.mdtrt_id,
                "diag_code": r.diag_code,
                "maindiag": r.maindiag_flag == "1",
                "admdvs": r.admdvs,
                "month": _month(r.last_time),
            }
            for r in rows
        ]
    )
