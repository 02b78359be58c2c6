"""Service applications' records and their store (经办服务; docs/services.md): an application and its
tasks, an item of a region's adopted list, what the board reads, and ``ServiceStore``, the Store port's
part for them.

Every submission, decision and view of an application is written to the audit log in its transaction
(``ServiceAction``). The application keeps a copy of the item as it was when submitted: a later list
changes nothing in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from yibao.domain.frozen import frozen
from yibao.domain.services import (
    DEPARTMENTS,
    FINISHED,
    OUTCOME_LABELS,
    REFUSED,
    RETURNED,
    STATUS_LABELS,
    STEP_LABELS,
    Calendar,
    Catalogue,
    MaterialState,
    ServiceItem,
)


class ServiceAction(StrEnum):
    """The audit log's actions of the service modules."""

    SUBMIT = "service.submit"
    RESUBMIT = "service.resubmit"
    DECIDE = "service.decide"
    VIEW = "service.view"
    INBOX = "service.inbox"
    ADOPT = "service.adopt"


@frozen
class Application:
    application_id: str
    item: ServiceItem
    """The item as it was when submitted."""
    psn_no: str
    """"" for an institution's application (定点医药机构申请)."""
    admdvs: str
    """The handling region (where it was submitted)."""
    channel: str
    """online or counter: where it was first submitted."""
    status: str
    step: str
    """The step it waits at (submit while returned; done when finished or refused)."""
    form: dict[str, str]
    materials: tuple[MaterialState, ...]
    due_date: date
    """The time limit's last working day, from the latest acceptance."""
    trips: int
    """Counter visits of the person (submissions and resubmissions at a counter)."""
    submitted_at: datetime
    accepted_at: datetime
    """The latest (re)submission: the clock starts again there. Naive UTC, as are the others."""
    updated_at: datetime
    created_by: str
    updated_by: str
    finished_at: datetime | None = None
    result: dict[str, str] = field(default_factory=dict)
    """What approval's effect did (a filing number, amounts paid …)."""
    note: str = ""
    """The latest return or refusal: what is missing, or why."""

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def step_label(self) -> str:
        return STEP_LABELS.get(self.step, self.step)

    @property
    def open(self) -> bool:
        return self.status not in (FINISHED, REFUSED, RETURNED)


@frozen
class Task:
    """One step's work for one party (the handling office "", a region, a department); also the
    history: a (re)submission is a closed submit task, a finished application a closed done task."""

    application_id: str
    seq: int
    step: str
    party: str
    opened_at: datetime
    due_date: date
    closed_at: datetime | None = None
    outcome: str = ""
    actor: str = ""
    channel: str = ""
    """online or counter, on submit tasks."""
    note: str = ""

    @property
    def step_label(self) -> str:
        return STEP_LABELS.get(self.step, self.step)

    @property
    def party_label(self) -> str:
        return DEPARTMENTS.get(self.party, self.party)

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS.get(self.outcome, self.outcome)


@frozen
class RegionItem:
    """An item of a region's adopted list."""

    admdvs: str
    item: ServiceItem
    local: bool
    """Added by the region (not on the unified list)."""
    adopted_at: datetime
    adopted_by: str


@frozen
class ApplicationQuery:
    """Which applications; empty fields do not filter."""

    region: str = ""
    """An admdvs prefix: handled there, or with a task of a region there."""
    psn_no: str = ""
    status: str = ""
    item_code: str = ""
    limit: int = 200


@frozen
class ClockRow:
    """What the board's clock figures need of one application."""

    item_code: str
    status: str
    channel: str
    trips: int
    time_limit: int
    accepted_at: datetime
    finished_at: datetime | None


@frozen
class StatusCount:
    item_code: str
    item_name: str
    status: str
    admdvs: str
    channel: str
    count: int


class ServiceStore(Protocol):
    def service_catalogue(self) -> Catalogue:
        """The shipped list (src/yibao/files/service_items.toml), read once."""

    def service_calendar(self) -> Calendar:
        """The shipped holidays (src/yibao/files/holidays.toml), read once."""

    def region_items(self, admdvs: str) -> list[RegionItem]:
        """The region's adopted list ([] if it has not adopted one), by code."""

    def adopted_regions(self) -> list[str]: ...
    def save_region_items(self, admdvs: str, items: Sequence[RegionItem]) -> None:
        """Replace the region's list with these."""

    def insert_application(self, application: Application) -> None: ...
    def update_application(self, application: Application) -> None:
        """Everything but the id, the item, who created it and when."""

    def application(self, application_id: str, lock: bool = False) -> Application | None:
        """``lock``: hold the row until the transaction ends (two clerks passing the last two parallel
        tasks at once must not both see the other's still open)."""

    def applications(self, q: ApplicationQuery) -> list[Application]:
        """The newest first."""

    def add_task(self, task: Task) -> None: ...
    def close_task(self, task: Task) -> None:
        """Its closed_at, outcome, actor and note."""

    def tasks(self, application_id: str) -> list[Task]:
        """By seq."""

    def open_tasks(self, region: str, limit: int) -> list[tuple[Task, Application]]:
        """Tasks not closed that a clerk of ``region`` may do (a region task there, or a task of the
        handling office or a department of an application handled there), the oldest first."""

    def service_counts(self, region: str) -> list[StatusCount]:
        """Applications handled in ``region`` by item, status, handling region and channel."""

    def service_clock(self, region: str, limit: int) -> list[ClockRow]:
        """The newest ``limit`` applications handled in ``region``."""
