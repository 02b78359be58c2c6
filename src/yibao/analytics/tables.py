"""Where the Parquet layout's tables sit under a data directory, and their columns as SQL types."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from yibao.analytics.layout import ITEM_LISTS, ITEMS, PARTITIONED

SOURCES: dict[str, pa.Schema] = {
    **{name: schema.append(pa.field("admdvs", pa.string())).append(pa.field("month", pa.string()))
       for name, schema in PARTITIONED.items()},
    "items": ITEMS,
    "item_lists": ITEM_LISTS,
}  # fmt: skip


def files(data_dir: Path, name: str) -> list[Path]:
    """The table's Parquet files (none: an empty table of its columns)."""
    if name in PARTITIONED:
        return sorted((data_dir / name).glob("admdvs=*/month=*/*.parquet"))
    single = data_dir / f"{name}.parquet"
    return [single] if single.exists() else []


def columns(schema: pa.Schema, types: dict[str, str]) -> list[tuple[str, str]]:
    """(name, SQL type) of each column, by ``types`` keyed by the arrow type's name."""
    return [(f.name, types[str(f.type)]) for f in schema]
