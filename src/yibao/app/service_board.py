"""The service board (docs/services.md).

``board``: applications by item, status and region, working days against the time limit, the share
handled online, trips per finished application, and what is overdue.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from yibao.app.accounts import covers
from yibao.app.records import local_date
from yibao.app.service_reading import INBOX_LIMIT, clock
from yibao.app.service_records import Application, ApplicationQuery
from yibao.domain.frozen import frozen
from yibao.domain.services import FINISHED, ONLINE, REFUSED, RETURNED, STATUS_LABELS, Timing, timing

if TYPE_CHECKING:
    from yibao.app.ports import Store


BOARD_LIMIT = 50_000
"""Applications the board reads for its clock figures (the newest first)."""


@frozen
class ItemFigures:
    item_code: str
    item_name: str
    time_limit: int
    total: int
    finished: int
    open: int
    returned: int
    refused: int
    online: int
    avg_days: Decimal | None
    """Working days from acceptance to done, on average."""
    on_time: int
    """Finished within the time limit."""
    overdue: int
    """Open and past the due date."""


@frozen
class Board:
    total: int
    by_status: dict[str, int]
    by_region: dict[str, int]
    items: list[ItemFigures]
    online: int
    finished: int
    """Finished applications the clock read (all of them up to ``BOARD_LIMIT``)."""
    trips: int
    """Counter visits of those."""
    at_most_one_trip: int
    on_time: int
    overdue: list[tuple[Application, Timing]]
    due_soon: int

    @property
    def online_share(self) -> Decimal | None:
        return _percent(self.online, self.total)

    @property
    def avg_trips(self) -> Decimal | None:
        return (
            None
            if not self.finished
            else (Decimal(self.trips) / self.finished).quantize(Decimal("0.01"), ROUND_HALF_UP)
        )

    @property
    def one_trip_share(self) -> Decimal | None:
        return _percent(self.at_most_one_trip, self.finished)

    @property
    def on_time_share(self) -> Decimal | None:
        return _percent(self.on_time, self.finished)


def _percent(part: int, whole: int) -> Decimal | None:
    return None if not whole else (Decimal(100 * part) / whole).quantize(Decimal("0.1"), ROUND_HALF_UP)


def board(store: Store, region: str, now: datetime) -> Board:
    """The service board of the applications handled in ``region`` (an admdvs prefix, "" all)."""
    cal, today = store.service_calendar(), local_date(now)
    counts = store.service_counts(region)
    by_status: dict[str, int] = {s: 0 for s in STATUS_LABELS}
    by_region: dict[str, int] = {}
    names: dict[str, str] = {}
    per_item: dict[str, dict[str, int]] = {}
    for c in counts:
        by_status[c.status] = by_status.get(c.status, 0) + c.count
        by_region[c.admdvs] = by_region.get(c.admdvs, 0) + c.count
        names.setdefault(c.item_code, c.item_name)
        tally = per_item.setdefault(c.item_code, {})
        tally[c.status] = tally.get(c.status, 0) + c.count
        tally["online"] = tally.get("online", 0) + (c.count if c.channel == ONLINE else 0)
    days: dict[str, list[int]] = {}
    on_time: dict[str, int] = {}
    overdue_by_item: dict[str, int] = {}
    limits: dict[str, int] = {}
    trips = one_trip = due_soon = clocked = 0
    for row in store.service_clock(region, BOARD_LIMIT):
        limits.setdefault(row.item_code, row.time_limit)
        if row.status == FINISHED and row.finished_at is not None:
            t = timing(cal, local_date(row.accepted_at), row.time_limit, today, local_date(row.finished_at))
            days.setdefault(row.item_code, []).append(t.used)
            on_time[row.item_code] = on_time.get(row.item_code, 0) + (not t.overdue)
            trips += row.trips
            one_trip += row.trips <= 1
            clocked += 1
        elif row.status not in (FINISHED, REFUSED, RETURNED):
            t = timing(cal, local_date(row.accepted_at), row.time_limit, today)
            overdue_by_item[row.item_code] = overdue_by_item.get(row.item_code, 0) + t.overdue
            due_soon += t.due_soon
    items = []
    for code, tally in sorted(per_item.items()):
        spent = days.get(code, [])
        waiting = sum(v for k, v in tally.items() if k not in (FINISHED, REFUSED, RETURNED, "online"))
        items.append(
            ItemFigures(
                code, names[code], limits.get(code, 0), sum(v for k, v in tally.items() if k != "online"),
                tally.get(FINISHED, 0), waiting,
                tally.get(RETURNED, 0), tally.get(REFUSED, 0), tally.get("online", 0),
                (Decimal(sum(spent)) / len(spent)).quantize(Decimal("0.1"), ROUND_HALF_UP) if spent else None,
                on_time.get(code, 0), overdue_by_item.get(code, 0),
            )
        )  # fmt: skip
    overdue = []
    for application in store.applications(ApplicationQuery(region=region, status="open", limit=INBOX_LIMIT)):
        late = clock(cal, application, today)
        if late is not None and late.overdue and covers(region, application.admdvs):
            overdue.append((application, late))
    return Board(
        total=sum(by_status.values()), by_status=by_status, by_region=dict(sorted(by_region.items())), items=items,
        online=sum(i.online for i in items), finished=clocked, trips=trips, at_most_one_trip=one_trip,
        on_time=sum(on_time.values()), overdue=sorted(overdue, key=lambda p: p[1].left), due_soon=due_soon,
    )  # fmt: skip
