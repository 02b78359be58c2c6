"""Filings (备案) and filing-free zones in SQLAlchemy Core (part of ``SqlStore``), and `yibao load-zones`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select, update

from yibao.domain.filings import FiledBy, Filing, FilingStatus, FilingType, Zone
from yibao.files.zones import load_zones
from yibao.store import tables as t

if TYPE_CHECKING:
    from yibao.store.database import Database

f = t.filing.c
z = t.filing_zone.c
ZONE_FIELDS = ("code", "name", "outpatient_from", "emergency_from", "inpatient_from", "enddate")


def _filing(row: Any) -> Filing:
    m = dict(row._mapping)
    return Filing(
        **{
            **m,
            "filing_type": FilingType(m["filing_type"]),
            "status": FilingStatus(m["status"]),
            "filed_by": FiledBy(m["filed_by"]),
        }
    )


def _filing_values(filing: Filing) -> dict[str, Any]:
    values = {name: getattr(filing, name) for name in filing.__dataclass_fields__}
    for name in ("filing_type", "status", "filed_by"):
        values[name] = str(values[name].value)
    return values


def _zone(row: Any) -> Zone:
    m = row._mapping
    return Zone(
        **{name: m[name] for name in ZONE_FIELDS},
        regions=tuple(json.loads(m["regions"])),
        sources=tuple(json.loads(m["sources"])),
    )


def _zone_values(zone: Zone, now: datetime) -> dict[str, Any]:
    return {
        **{name: getattr(zone, name) for name in ZONE_FIELDS},
        "regions": json.dumps(list(zone.regions)),
        "sources": json.dumps(list(zone.sources), ensure_ascii=False),
        "loaded_at": now,
    }


class SqlFilings:
    """Mixed into SqlStore: the methods of ``yibao.app.filings.FilingStore`` over ``self.conn``."""

    conn: Connection

    def zones(self) -> list[Zone]:
        return [_zone(r) for r in self.conn.execute(select(t.filing_zone).order_by(z.code))]

    def save_zone(self, zone: Zone) -> None:
        self.conn.execute(delete(t.filing_zone).where(z.code == zone.code))
        self.conn.execute(insert(t.filing_zone).values(**_zone_values(zone, datetime.now(UTC).replace(tzinfo=None))))

    def add_filing(self, filing: Filing) -> None:
        self.conn.execute(insert(t.filing).values(**_filing_values(filing)))

    def save_filing(self, filing: Filing) -> None:
        values = _filing_values(filing)
        self.conn.execute(update(t.filing).where(f.filing_id == values.pop("filing_id")).values(**values))

    def filing(self, filing_id: str) -> Filing | None:
        row = self.conn.execute(select(t.filing).where(f.filing_id == filing_id)).first()
        return _filing(row) if row else None

    def filings_of(self, psn_no: str, insutype: str | None = None) -> list[Filing]:
        q = select(t.filing).where(f.psn_no == psn_no)
        if insutype is not None:
            q = q.where(f.insutype == insutype)
        return [_filing(r) for r in self.conn.execute(q.order_by(f.created_at.desc(), f.filing_id.desc()))]

    def filings_awaiting(self, limit: int) -> list[Filing]:
        q = select(t.filing).where(f.status == FilingStatus.APPLIED.value).order_by(f.created_at, f.filing_id)
        return [_filing(r) for r in self.conn.execute(q.limit(limit))]


def load_zones_file(db: Database, path: Path) -> list[str]:
    """Load the zones a file holds (a zone replaces the stored one of the same code); their codes."""
    zones = load_zones(path)  # refuse a bad file before touching the database
    with db.transaction() as store:
        for zone in zones:
            store.save_zone(zone)
    return [zone.code for zone in zones]
