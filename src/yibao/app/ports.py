"""The store the use cases work on: one object per database transaction (the unit of work).

The use cases see only this interface; ``yibao.store.sql.SqlStore`` implements it over SQLAlchemy
Core. Everything one use case writes is committed together or not at all by whoever opened it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Protocol

from yibao.app.accounts import AccountStore
from yibao.app.audit import AuditStore
from yibao.app.audit_cases import AuditCaseStore
from yibao.app.clearing import ClearingStore
from yibao.app.commands import ClearingApply, TotalStatement
from yibao.app.contributions import ContributionStore
from yibao.app.filings import FilingStore
from yibao.app.manual_claims import ManualClaimStore
from yibao.app.online_orders import OnlineOrderStore
from yibao.app.records import (
    FeeLineRecord,
    FundRowRecord,
    IdentityRecord,
    InstitutionRecord,
    InsuranceRecord,
    LoggedMessage,
    PersonRecord,
    SettledLine,
    SettlementRow,
    SignInRecord,
    StoredFinding,
    VisitRecord,
)
from yibao.app.service_records import ServiceStore
from yibao.app.transfers import TransferStore
from yibao.app.voucher import VoucherStore
from yibao.domain.catalog import Catalog
from yibao.domain.classification import LineResult
from yibao.domain.frozen import frozen
from yibao.domain.ledger import LedgerFacts, Transfer
from yibao.domain.money import Fen
from yibao.domain.policy import Policy
from yibao.domain.reference import ReferenceEntry
from yibao.domain.supervision.rules import RuleLibrary


@frozen
class ReadAhead:
    """The rows a use case is about to read, by key. A store may fetch them together (PostgreSQL: in
    one round trip) and serve the next read of each from what it fetched; a write drops them."""

    institution: str | None = None
    person: str | None = None
    visit: str | None = None
    insurance: tuple[str, str] | None = None
    """(psn_no, insutype)"""
    unsettled_lines: str | None = None
    """mdtrt_id: its lines not yet settled, of every batch"""
    line_sns: str | None = None
    """mdtrt_id: the serial numbers of its live lines"""
    counters: tuple[str, str, tuple[str, ...]] | None = None
    """(psn_no, insutype, periods)"""
    identities: str | None = None
    account: str | None = None
    """psn_no: the personal account's balance"""
    diagnoses: str | None = None
    """mdtrt_id"""
    fee_line_ids: int = 0
    """Row ids for this many fee lines about to be stored: drawn with the reads, the lines need not
    wait for the ids their insert would return"""


@frozen
class Totals:
    medfee_sumamt: Fen
    fund_pay_sumamt: Fen
    acct_pay: Fen
    count: int


@frozen
class ReferenceQuery:
    """Which rows of a reference list (1303, 1304, 1307–1317) to read; empty fields do not filter."""

    infno: str
    newer_than: str = "0"
    """Only rows of a version newer than this one (digits, no leading zeros; "0" for all)."""
    code: str = ""
    ref_code: str = ""
    name: str = ""
    """Rows whose name contains this."""
    list_type: str = ""
    vali_flag: str = ""
    admdvs: tuple[str, ...] | None = None
    """Rows of these regions ("" = national rows); None for any."""
    fixmedins_code: str | None = None
    updated_since: datetime | None = None
    """UTC."""
    valid_on: date | None = None
    """Rows whose begndate..enddate holds this date."""


@frozen
class PastVisit:
    """A visit of a person's recent history, with what the cross-visit rules read (docs/supervision.md)."""

    visit: VisitRecord
    hosp_lv: int
    main_dx: str
    """The main diagnosis (maindiag_flag 1), else the visit's dise_codg."""
    diagnoses: tuple[str, ...]
    lines: tuple[FeeLineRecord, ...]
    """Not cancelled."""


class SupervisionStore(Protocol):
    """Findings of the rule engine (``yibao.app.supervision``, docs/supervision.md)."""

    def add_findings(self, findings: Sequence[StoredFinding], *, count: bool = True) -> int:
        """Store those not stored yet (by stage, run, rule, visit and line); returns how many were new
        (0 with ``count=False``, which lets the rows go with the commit)."""
        ...

    def rule_library(self) -> RuleLibrary:
        """The rule library in force (the shipped src/yibao/files/supervision_rules.toml), read once."""
        ...

    def recent_visits(self, psn_no: str, since: datetime) -> list[PastVisit]:
        """The person's visits not cancelled that began at or after ``since`` (UTC) or had not ended by then."""
        ...


class Store(
    AccountStore,
    AuditStore,
    VoucherStore,
    OnlineOrderStore,
    FilingStore,
    ClearingStore,
    SupervisionStore,
    AuditCaseStore,
    ManualClaimStore,
    TransferStore,
    ServiceStore,
    ContributionStore,
    Protocol,
):
    """Also the console's accounts, sessions and audit log (``yibao.app.accounts``, ``yibao.app.audit``),
    the electronic vouchers (``yibao.app.voucher``) and online orders (``yibao.app.online_orders``)."""

    # ---- identifiers and locks
    def new_id(self, prefix: str, admdvs: str) -> str: ...
    def lock_person(self, psn_no: str) -> None:
        """Serialise settlements of one person until the transaction ends."""

    def read_ahead(self, rows: ReadAhead) -> None:
        """A hint: these rows will be read next (a store that gains nothing from it may ignore it)."""

    # ---- registry and configuration
    def person(self, psn_no: str) -> PersonRecord | None: ...
    def person_by_certno(self, certno: str) -> PersonRecord | None: ...
    def person_by_card(self, card_no: str) -> PersonRecord | None: ...
    def insurance(self, psn_no: str, insutype: str) -> InsuranceRecord | None: ...
    def insurances(self, psn_no: str) -> list[InsuranceRecord]: ...
    def identities(self, psn_no: str) -> list[IdentityRecord]: ...
    def institution(self, fixmedins_code: str) -> InstitutionRecord | None: ...
    def institutions(self, code: str, name: str, kind: str) -> list[InstitutionRecord]: ...
    def policies(self) -> Sequence[Policy]: ...
    def catalog(self, admdvs: str) -> Catalog: ...

    # ---- the interface's own records
    def insert_sign_in(
        self, sign_no: str, fixmedins_code: str, opter_no: str, mac: str, ip: str, now: datetime
    ) -> None: ...
    def sign_in(self, sign_no: str) -> SignInRecord | None: ...
    def sign_out(self, sign_no: str, fixmedins_code: str, now: datetime) -> bool: ...
    def logged(self, fixmedins_code: str, msgid: str) -> LoggedMessage | None: ...
    def log_message(self, fixmedins_code: str, msgid: str, message: LoggedMessage, now: datetime) -> None: ...

    # ---- visits and fee lines
    def visit(self, mdtrt_id: str) -> VisitRecord | None: ...
    def insert_visit(self, visit: VisitRecord, now: datetime) -> None: ...
    def update_visit(self, visit: VisitRecord) -> None: ...
    def open_stay(self, psn_no: str, fixmedins_code: str) -> bool: ...
    def admission_seq(self, visit: VisitRecord) -> int:
        """This stay is the person's n-th (not cancelled) admission of its calendar year."""

    def visits_of(
        self,
        psn_no: str,
        fixmedins_code: str,
        begin: datetime | None,
        end: datetime | None,
        med_type: str | None,
    ) -> list[VisitRecord]: ...
    def replace_diagnoses(self, mdtrt_id: str, diseinfo: Sequence[dict[str, object]]) -> None: ...
    def diagnoses(self, mdtrt_id: str) -> list[dict[str, object]]: ...
    def live_line_sns(self, mdtrt_id: str) -> set[str]:
        """The serial numbers of the visit's lines that are not cancelled (settled or not)."""

    def insert_fee_lines(self, lines: Sequence[FeeLineRecord]) -> list[int]:
        """Store the lines; their row ids, in order."""

    def unsettled_lines(self, mdtrt_id: str, chrg_bchno: str | None) -> list[FeeLineRecord]: ...
    def cancel_lines(self, mdtrt_id: str, chrg_bchno: str | None, sns: Sequence[str] | None = None) -> None: ...
    def mark_lines_settled(self, mdtrt_id: str, sns: Sequence[str], setl_id: str) -> None: ...
    def unmark_lines(self, mdtrt_id: str, setl_id: str) -> None: ...
    def fee_lines_of(self, mdtrt_id: str) -> list[dict[str, object]]: ...
    def settled_lines_of(
        self, psn_no: str, med_type: str, begin: datetime | None, end: datetime | None
    ) -> list[SettledLine]:
        """The person's fee lines that a standing settlement of ``med_type`` paid, by time."""

    # ---- settlements and counters (insert only)
    def insert_settlement(
        self,
        row: SettlementRow,
        details: Sequence[FundRowRecord],
        lines: Sequence[LineResult],
        counter_deltas: dict[tuple[str, str], Fen],
    ) -> None: ...
    def settlement(self, setl_id: str) -> SettlementRow | None: ...
    def reversal_of(self, setl_id: str) -> str | None: ...
    def has_live_settlement(self, mdtrt_id: str, final_only: bool = False) -> bool:
        """A settlement of the visit that is not reversed (final_only: not an interim one)."""

    def fund_rows(self, setl_id: str) -> list[FundRowRecord]: ...
    def visit_deductible_paid(self, mdtrt_id: str) -> Fen:
        """Deductible charged by the visit's settlements that still stand (interim settlements of a stay)."""

    def counters(self, psn_no: str, insutype: str, periods: Iterable[str]) -> dict[tuple[str, str], Fen]: ...
    def counter_deltas_of(self, setl_id: str) -> dict[tuple[str, str], Fen]: ...
    def counter_totals(self, psn_no: str, year: str) -> list[tuple[str, str, str, Fen]]: ...
    def totals(
        self, fixmedins_code: str, insutype: str | None, clr_type: str, begin: datetime, end: datetime
    ) -> Totals: ...

    # ---- the fund ledger
    def post(self, posting_id: str, transfers: Sequence[Transfer], now: datetime) -> None: ...
    def transfers_of(self, posting_id: str) -> list[Transfer]: ...
    def account_balance(self, psn_no: str) -> Fen:
        """The personal account's balance (credits − debits)."""

    def ledger_facts(self) -> LedgerFacts: ...

    # ---- cross-region settlement (yibao.app.cross_region)
    def save_guest(
        self, person: PersonRecord, insurances: list[InsuranceRecord], identities: list[IdentityRecord]
    ) -> None:
        """Keep (or refresh) the registry rows of a person insured at another node."""

    def save_foreign_institution(self, institution: InstitutionRecord) -> None:
        """Register another region's institution here (once), to name visits this node's insured made there."""

    def settlement_ids_by_msgid(self, msgid: str) -> list[str]: ...

    # ---- files (9101/9102)
    def save_file(
        self, file_qury_no: str, fixmedins_code: str, filename: str, content: bytes, now: datetime, until: datetime
    ) -> None: ...
    def stored_file(self, file_qury_no: str) -> tuple[str, str, bytes, datetime] | None:
        """(fixmedins_code, filename, content, dld_endtime)."""

    # ---- the reference lists (1303, 1304, 1307–1317)
    def reference_entries(
        self, q: ReferenceQuery, offset: int = 0, limit: int | None = None
    ) -> tuple[int, list[ReferenceEntry]]:
        """(how many rows match, the rows from ``offset``, at most ``limit``), in the order of their codes."""

    # ---- reconciliation and clearing
    def settlement_lines(self, fixmedins_code: str, begin: datetime, end: datetime) -> dict[str, tuple[Fen, Fen, Fen]]:
        """setl_id → (medfee_sumamt, fund_pay_sumamt, acct_pay) of each settlement and reversal in the period."""

    def insert_statement(
        self, fixmedins_code: str, cmd: TotalStatement, result: str, description: str, now: datetime
    ) -> None: ...
    def open_clearing(self, fixmedins_code: str, clr_type: str, setlym: str) -> bool: ...
    def insert_clearing(self, evt_id: str, fixmedins_code: str, cmd: ClearingApply, now: datetime) -> None: ...
    def cancel_clearing(self, evt_id: str, fixmedins_code: str) -> bool: ...


class UnitOfWork(Protocol):
    def transaction(self, *, write: bool = True, durable: bool = True) -> AbstractContextManager[Store]:
        """A Store over one database transaction: committed when the block ends, rolled back on error.
        Not ``durable``: the commit may return before it is on disk (PostgreSQL's asynchronous commit),
        for messages that move no money; one that posts to the ledger or settles waits all the same."""
