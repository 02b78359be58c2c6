"""The Parquet layout of claims for analytics (docs/supervision.md, "Claims for analytics").

Public, for the export and the synthetic-claims generator (yibao.sim.claims) alike:

- ``VISITS``, ``LINES``, ``DIAGNOSES``, ``ITEMS``, ``ITEM_LISTS``: the pyarrow schemas (partition columns
  ``admdvs`` and ``month`` live in the directory names, not in the files).
- ``PartitionedWriter(root, name, schema)``: ``write(table)`` with a table of ``schema`` plus ``admdvs`` and
  ``month`` columns, streamed into ``root/name/admdvs=…/month=…/part-0.parquet``; ``close()`` when done
  (or use it as a context manager).
- ``write_items(items: Iterable[CatalogItem], out_dir: Path) -> int``: ``items.parquet`` and
  ``item_lists.parquet`` from catalogue items; returns how many items.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from yibao.domain.catalog import CatalogItem

VISITS = pa.schema(
    [
        ("setl_id", pa.string()),
        ("mdtrt_id", pa.string()),
        ("psn_no", pa.string()),
        ("gend", pa.string()),
        ("age", pa.int32()),
        ("insutype", pa.string()),
        ("fixmedins_code", pa.string()),
        ("hosp_lv", pa.int32()),
        ("specialty", pa.string()),
        ("dept_code", pa.string()),
        ("atddr_no", pa.string()),
        ("med_type", pa.string()),
        ("kind", pa.string()),
        ("cross_region", pa.bool_()),
        ("begn_date", pa.date32()),
        ("end_date", pa.date32()),
        ("setl_time", pa.timestamp("us")),  # local (Asia/Shanghai) wall-clock time
        ("main_dx", pa.string()),
        ("insuplc_admdvs", pa.string()),
        ("medfee_sumamt", pa.int64()),
        ("fund_pay_sumamt", pa.int64()),
        ("psn_cash_pay", pa.int64()),
    ]
)
LINES = pa.schema(
    [
        ("mdtrt_id", pa.string()),
        ("feedetl_sn", pa.string()),
        ("med_list_codg", pa.string()),
        ("fee_date", pa.date32()),
        ("cnt", pa.float64()),
        ("pric", pa.float64()),
        ("amount", pa.int64()),
        ("days", pa.int32()),
    ]
)
DIAGNOSES = pa.schema([("mdtrt_id", pa.string()), ("diag_code", pa.string()), ("maindiag", pa.bool_())])
ITEMS = pa.schema(
    [
        ("med_list_codg", pa.string()),
        ("name", pa.string()),
        ("list_type", pa.string()),
        ("chrgitm_lv", pa.string()),
        ("price_cap", pa.float64()),
        ("sex", pa.string()),
        ("age_min", pa.int32()),
        ("age_max", pa.int32()),
        ("min_hosp_lv", pa.int32()),
        ("max_cnt_per_visit", pa.float64()),
        ("max_cnt_per_day", pa.float64()),
        ("max_days", pa.int32()),
    ]
)
ITEM_LISTS = pa.schema([("med_list_codg", pa.string()), ("kind", pa.string()), ("value", pa.string())])
PARTITIONED = {"visits": VISITS, "lines": LINES, "diagnoses": DIAGNOSES}


class PartitionedWriter:
    """Streams batches into one Parquet file per (admdvs, month) partition, hive style."""

    def __init__(self, root: Path, name: str, schema: pa.Schema) -> None:
        self.dir = root / name
        self.schema = schema
        self.rows = 0
        self._writers: dict[tuple[str, str], pq.ParquetWriter] = {}

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        places, months = table.column("admdvs").to_pylist(), table.column("month").to_pylist()
        groups: dict[tuple[str, str], list[int]] = {}
        for i, key in enumerate(zip(places, months, strict=True)):
            groups.setdefault(key, []).append(i)
        body = table.select(self.schema.names).cast(self.schema)
        for key, rows in groups.items():
            writer = self._writers.get(key)
            if writer is None:
                folder = self.dir / f"admdvs={key[0]}" / f"month={key[1]}"
                folder.mkdir(parents=True, exist_ok=True)
                writer = self._writers[key] = pq.ParquetWriter(folder / "part-0.parquet", self.schema)
            writer.write_table(body.take(pa.array(rows, pa.int64())))
        self.rows += table.num_rows

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def __enter__(self) -> PartitionedWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def write_items(items: Iterable[CatalogItem], out_dir: Path) -> int:
    """``items.parquet`` and ``item_lists.parquet``: the restrictions the rules read, lists as rows."""
    rows: list[dict[str, Any]] = []
    lists: list[dict[str, str]] = []
    for item in items:
        r = item.restrictions
        rows.append(
            {
                "med_list_codg": item.med_list_codg,
                "name": item.name,
                "list_type": str(item.list_type),
                "chrgitm_lv": str(item.chrgitm_lv),
                "price_cap": _number(item.pric_uplmt_amt),
                "sex": r.sex or None,
                "age_min": r.age_min,
                "age_max": r.age_max,
                "min_hosp_lv": r.min_hosp_lv,
                "max_cnt_per_visit": _number(r.max_cnt_per_visit),
                "max_cnt_per_day": _number(r.max_cnt_per_day),
                "max_days": r.max_days,
            }
        )
        for kind, values in (("dx_prefix", r.dx_prefixes), ("med_type", r.med_types), ("insutype", r.insutypes)):
            lists.extend({"med_list_codg": item.med_list_codg, "kind": kind, "value": v} for v in values)
    out_dir.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=ITEMS), out_dir / "items.parquet")
    pq.write_table(pa.Table.from_pylist(lists, schema=ITEM_LISTS), out_dir / "item_lists.parquet")
    return len(rows)
