"""The Store over SQLAlchemy Core: one SqlStore per database transaction."""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields, replace
from datetime import date, datetime
from decimal import Decimal
from functools import cache, cached_property
from operator import attrgetter
from typing import Any, TypeVar, get_args, get_type_hints

import orjson
from sqlalchemy import Connection, Table, and_, case, func, insert, select, update
from sqlalchemy.dialects import postgresql

from yibao.app.commands import ClearingApply, TotalStatement
from yibao.app.ports import ReadAhead, Totals
from yibao.app.privacy import CLEAR_ANSWERS
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
    VisitRecord,
)
from yibao.domain.catalog import EMPTY_CATALOG, Catalog
from yibao.domain.classification import LineResult
from yibao.domain.codes import FundPayType
from yibao.domain.frozen import frozen
from yibao.domain.ledger import (
    Code,
    LedgerFacts,
    Transfer,
    clearing_account,
    credit_balance,
    fund_account,
    payable_account,
    personal_account,
)
from yibao.domain.money import Fen, fen_to_yuan, yuan_to_fen
from yibao.domain.policy import Policy
from yibao.files import catalog_item_from_data, policy_from_json
from yibao.store import libpq
from yibao.store import reference as ref_store
from yibao.store import tables as t
from yibao.store.accounts import SqlAccounts
from yibao.store.audit_cases import SqlAuditCases
from yibao.store.clearing import SqlClearing
from yibao.store.contributions import SqlContributions
from yibao.store.contributions import ledger_facts as contribution_facts
from yibao.store.federation import SqlFederation
from yibao.store.filings import SqlFilings
from yibao.store.manual_claims import SqlManualClaims
from yibao.store.manual_claims import ledger_facts as manual_claim_facts
from yibao.store.online import SqlOnlineOrders
from yibao.store.personal import READ_COLUMNS, PersonalData, personal_for
from yibao.store.services import SqlServices
from yibao.store.supervision import SqlSupervision
from yibao.store.transfers import SqlTransfers
from yibao.store.transfers import ledger_facts as transfer_facts
from yibao.store.voucher import SqlVouchers

AMOUNTS = [c.name for c in t.settlement.columns if c.type.__class__.__name__ == "BigInteger"]
_counter = itertools.count(int.from_bytes(os.urandom(2), "big"))


class ConfigCache:
    """Policies and catalogues parsed once per process, reloaded when a load bumps the stamp.

    The stamp is read at most once a second, so a settlement does not pay for it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None
        self._checked = 0.0
        self.policies: list[Policy] = []
        self.catalogs: dict[str, Catalog] = {}

    def refresh(self, conn: Connection) -> None:
        now = time.monotonic()
        if now - self._checked < 1.0 and self._version is not None:
            return
        version = conn.execute(select(t.config_stamp.c.version).where(t.config_stamp.c.name == "config")).scalar()
        with self._lock:
            self._checked = now
            if version == self._version and self._version is not None:
                return
            self.policies = [
                policy_from_json(body, f"policy_version {vid}")
                for vid, body in conn.execute(select(t.policy_version.c.id, t.policy_version.c.body))
            ]
            items: dict[str, dict[str, Any]] = {}
            versions: dict[str, str] = {}
            for admdvs, version_name, body in conn.execute(
                select(t.catalog_item.c.admdvs, t.catalog_item.c.version, t.catalog_item.c.body)
            ):
                item = catalog_item_from_data(json.loads(body))
                items.setdefault(admdvs, {})[item.med_list_codg] = item
                versions[admdvs] = version_name
            self.catalogs = {a: Catalog(a, versions[a], entries) for a, entries in items.items()}
            self._version = version

    def invalidate(self) -> None:
        with self._lock:
            self._version = None


class SqlStore(  # see store.*
    SqlAccounts,
    SqlVouchers,
    SqlFederation,
    SqlOnlineOrders,
    SqlFilings,
    SqlClearing,
    SqlSupervision,
    SqlAuditCases,
    SqlManualClaims,
    SqlTransfers,
    SqlServices,
    SqlContributions,
):
    def __init__(self, conn: Connection, cache: ConfigCache, *, reading: bool = False, durable: bool = True) -> None:
        self.conn = conn
        self.cache = cache
        self.postgres = conn.dialect.name == "postgresql"
        # a reading transaction sends its statements through libpq (mostly its one read-ahead) without
        # BEGIN and COMMIT, one round trip less: each reads its own snapshot
        self._begin = not reading
        # read more than once in one transaction; the registry does not change under a settlement
        self._institutions: dict[str, InstitutionRecord | None] = {}
        self._persons: dict[str, PersonRecord | None] = {}
        # rows read ahead (read_ahead), each served once; a write through the driver drops them all
        self._ahead: dict[tuple[str, ...], Any] = {}
        self._pending: list[tuple[str, Sequence[Any]]] = []
        self.durable = durable
        """PostgreSQL: the commit waits until the transaction is on disk. Lowered for messages that move
        no money (a visit, its fee lines); raised again by anything that does (``post``, a settlement)."""

    # ---------------------------------------------------------------- the driver, on the hot path
    # SQLAlchemy Core costs several times the driver's CPU for a small statement; the statements a
    # settlement runs go to the driver directly, inside the same transaction. Written with ? marks.
    # On PostgreSQL they go through libpq itself (yibao.store.libpq), and the writes whose results
    # nobody reads wait (``write``) and go in one pipeline with the next statement or the COMMIT
    # (``flush``): a settlement's BEGIN, reads, nine writes and commit take three round trips instead
    # of fourteen, and the rows it locks (the fund's ledger accounts, which every settlement updates)
    # are held for one.

    @cached_property
    def driver(self) -> Any:
        return self.conn.connection.driver_connection

    def sql(self, statement: str, params: Sequence[Any] = ()) -> Any:
        """A psycopg (or sqlite3) cursor over the statement's answer, for the statements off the hot path."""
        if not statement.startswith("SELECT"):
            self._ahead.clear()
        cursor = self.driver.cursor()
        if self.postgres:
            if self._pending:
                self.flush()
            cursor.execute(_pg(statement), params)
        else:
            cursor.execute(statement, [_sqlite_value(v) for v in params])
        return cursor

    def rows(self, statement: str, params: Sequence[Any] = ()) -> list[libpq.Row]:
        """PostgreSQL: the statement's rows as text, sent through libpq after the waiting writes."""
        if not statement.startswith("SELECT"):
            self._ahead.clear()
        pending = self._pending
        self.discard()
        commands = [*pending, (statement, params)]
        return libpq.run(self.driver, self.conn.connection.info, commands, begin=self._begin or bool(pending))

    def write(self, statement: str, params: Sequence[Any] = ()) -> None:
        """A write whose result is not read: on PostgreSQL it waits for the next statement or the
        commit and goes with them in one pipeline; its error, if any, comes from there."""
        if not self.postgres:
            self.sql(statement, params)
            return
        self._ahead.clear()
        if not self._pending:
            self.conn.info[PENDING] = self  # so that a Core statement flushes first (see Database)
        self._pending.append((statement, params))

    def flush(self, commit: bool = False) -> None:
        """PostgreSQL: send the waiting writes (and the COMMIT) in one pipeline."""
        pending = self._pending
        self.discard()
        if self.postgres and (pending or (commit and libpq.in_transaction(self.driver))):
            if commit and not self.durable:
                pending.append((ASYNC_COMMIT, ()))
            libpq.run(self.driver, self.conn.connection.info, pending, commit=commit)

    def insert_rows(self, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]], tail: str = "") -> Any:
        """Rows into ``table`` in one statement (``tail``: ON CONFLICT … or RETURNING …); the cursor
        (None for no rows): with ON CONFLICT … DO NOTHING its rowcount is the rows inserted. On
        PostgreSQL the rows travel as one JSON parameter: the same statement and plan whatever their
        number, and the cheapest way to send them (psycopg's arrays and multi-row VALUES are adapted
        value by value in Python, at two to four times the CPU)."""
        if not rows:
            return None
        if self.postgres:
            return self.sql(*_json_insert(table, names, rows, tail))
        one = f"({', '.join('?' * len(names))})"
        head = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES "
        if tail.startswith("RETURNING"):
            return self.sql(f"{head}{', '.join([one] * len(rows))} {tail}", [v for r in rows for v in r])
        self._ahead.clear()
        cursor = self.driver.cursor()
        cursor.executemany(f"{head}{one} {tail}", [[_sqlite_value(v) for v in row] for row in rows])
        return cursor

    def discard(self) -> None:
        """Forget the waiting writes (their transaction failed). Also done by flush: the connection goes
        back to the pool with nothing of this store on it."""
        self._pending = []
        self.conn.info.pop(PENDING, None)

    def write_rows(self, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]], tail: str = "") -> None:
        """insert_rows whose result is not read (``write``)."""
        if self.postgres and rows:
            self.write(*_json_insert(table, names, rows, tail))
        else:
            self.insert_rows(table, names, rows, tail)

    def record(self, cls: type[R], statement: str, params: Sequence[Any]) -> R | None:
        row = self.sql(statement, params).fetchone()
        return None if row is None else _make(cls, row, self.postgres)

    def read_ahead(self, rows: ReadAhead) -> None:
        """On PostgreSQL, fetch the reads of ``rows`` in one statement (each as a JSON value) and keep
        them for the reads that follow; on SQLite (in-process, no round trips) there is nothing to gain."""
        if not self.postgres:
            return
        reads: list[tuple[tuple[str, ...], Read]] = []
        if rows.institution and rows.institution not in self._institutions:
            reads.append((("institution", rows.institution), self._institution_read(rows.institution)))
        if rows.person and rows.person not in self._persons:
            reads.append((("person", rows.person), self._person_read(rows.person)))
        if rows.visit:
            reads.append((("visit", rows.visit), self._visit_read(rows.visit)))
        if rows.insurance:
            reads.append((("insurance", *rows.insurance), self._insurance_read(*rows.insurance)))
        if rows.unsettled_lines:
            reads.append((("lines", rows.unsettled_lines), self._lines_read(rows.unsettled_lines)))
        if rows.line_sns:
            reads.append((("line_sns", rows.line_sns), self._line_sns_read(rows.line_sns)))
        if rows.counters:
            psn_no, insutype, periods = rows.counters
            reads.append((("counters", psn_no, insutype, *periods), self._counters_read(psn_no, insutype, periods)))
        if rows.identities:
            reads.append((("identities", rows.identities), self._identities_read(rows.identities)))
        if rows.account:
            reads.append((("account", rows.account), self._account_read(rows.account)))
        if rows.diagnoses:
            reads.append((("diagnoses", rows.diagnoses), self._diagnoses_read(rows.diagnoses)))
        if rows.fee_line_ids:
            ids = Read("nextval('fee_line_id_seq') AS id", "generate_series(1, ?::int)", (rows.fee_line_ids,), _ids)
            reads.append((("fee_line_ids",), ids))
        if not reads:
            return
        statement = "SELECT " + ", ".join(read.as_json() for _, read in reads)
        (values,) = self.rows(statement, [p for _, read in reads for p in read.params])
        for (key, read), value in zip(reads, values, strict=True):
            found = read.make(_json_rows(value), False)
            if key[0] == "institution":
                self._institutions[key[1]] = found
            elif key[0] == "person":
                self._persons[key[1]] = found
            else:
                self._ahead[key] = found

    def _read(self, key: tuple[str, ...], read: Read) -> Any:
        found = self._ahead.pop(key, _MISSING)
        return self.run(read) if found is _MISSING else found

    def run(self, read: Read) -> Any:
        return read.make(self.sql(read.statement(), read.params).fetchall(), self.postgres)

    # ---------------------------------------------------------------- identifiers and locks

    def new_id(self, prefix: str, admdvs: str) -> str:
        """admdvs(6) + prefix + UTC time to the second + process and sequence digits: 29 characters."""
        seq = next(_counter) % 100_000
        return (
            f"{admdvs[:6]:0<6}{prefix}{time.strftime('%Y%m%d%H%M%S', time.gmtime())}{os.getpid() % 1000:03d}{seq:05d}"
        )

    def lock_person(self, psn_no: str) -> None:
        # SQLite: BEGIN IMMEDIATE already holds the database's write lock for this transaction.
        # PostgreSQL: the lock goes with the next statement, the read-ahead mostly, in one pipeline;
        # that statement starts, and takes its snapshot, once the lock is held.
        if self.postgres:
            self.write("SELECT 1 FROM person WHERE psn_no = ? FOR UPDATE", (psn_no,))
            self._persons.pop(psn_no, None)

    # ---------------------------------------------------------------- registry and configuration

    @cached_property
    def personal(self) -> PersonalData:
        """The keys of this database's personal data (yibao.store.personal)."""
        return personal_for(self.conn.engine.url)

    def _person_read(self, psn_no: str) -> Read:
        opened = self.personal.open_person
        return Read(
            _PERSON_COLUMNS,
            "person WHERE psn_no = ?",
            (psn_no,),
            lambda rows, typed: _make(PersonRecord, opened(rows[0]), typed) if rows else None,
        )

    def person(self, psn_no: str) -> PersonRecord | None:
        if psn_no not in self._persons:
            self._persons[psn_no] = self.run(self._person_read(psn_no))
        return self._persons[psn_no]

    def person_by_certno(self, certno: str) -> PersonRecord | None:
        return self._person_by("certno_hash", certno, lambda p: p.certno == certno)

    def person_by_card(self, card_no: str) -> PersonRecord | None:
        return self._person_by("card_no_hash", card_no, lambda p: p.card_no == card_no)

    def _person_by(self, column: str, value: str, same: Callable[[PersonRecord], bool]) -> PersonRecord | None:
        """By the keyed hash of an ID or card number (the clear value is not stored), checked once opened."""
        statement = f"SELECT {_PERSON_COLUMNS} FROM person WHERE {column} IN (?, ?) ORDER BY psn_no"
        rows = self.sql(statement, self.personal.lookups(value)).fetchall()
        found = [_make(PersonRecord, self.personal.open_person(row), self.postgres) for row in rows]
        return next((p for p in found if same(p)), None)

    def _insurance_read(self, psn_no: str, insutype: str) -> Read:
        source = "insurance WHERE psn_no = ? AND insutype = ?"
        return Read(columns(InsuranceRecord), source, (psn_no, insutype), one(InsuranceRecord))

    def insurance(self, psn_no: str, insutype: str) -> InsuranceRecord | None:
        return self._read(("insurance", psn_no, insutype), self._insurance_read(psn_no, insutype))  # type: ignore[no-any-return]

    def insurances(self, psn_no: str) -> list[InsuranceRecord]:
        rows = self.conn.execute(
            select(t.insurance).where(t.insurance.c.psn_no == psn_no).order_by(t.insurance.c.insutype)
        )
        return [InsuranceRecord(**r._mapping) for r in rows]

    def _identities_read(self, psn_no: str) -> Read:
        return Read(columns(IdentityRecord), "identity WHERE psn_no = ?", (psn_no,), every(IdentityRecord))

    def identities(self, psn_no: str) -> list[IdentityRecord]:
        return self._read(("identities", psn_no), self._identities_read(psn_no))  # type: ignore[no-any-return]

    def _institution_read(self, fixmedins_code: str) -> Read:
        source = "institution WHERE fixmedins_code = ?"
        return Read(columns(InstitutionRecord), source, (fixmedins_code,), one(InstitutionRecord))

    def institution(self, fixmedins_code: str) -> InstitutionRecord | None:
        if fixmedins_code not in self._institutions:
            self._institutions[fixmedins_code] = self.run(self._institution_read(fixmedins_code))
        return self._institutions[fixmedins_code]

    def institutions(self, code: str, name: str, kind: str) -> list[InstitutionRecord]:
        q = select(t.institution).order_by(t.institution.c.fixmedins_code).limit(100)
        if code:
            q = q.where(t.institution.c.fixmedins_code == code)
        if name:
            q = q.where(t.institution.c.fixmedins_name.contains(name))
        if kind:
            q = q.where(t.institution.c.fixmedins_type == kind)
        return [InstitutionRecord(**r._mapping) for r in self.conn.execute(q)]

    def policies(self) -> Sequence[Policy]:
        self.cache.refresh(self.conn)
        return self.cache.policies

    def catalog(self, admdvs: str) -> Catalog:
        self.cache.refresh(self.conn)
        return self.cache.catalogs.get(admdvs, EMPTY_CATALOG)

    # ---------------------------------------------------------------- sign-in and message log

    def insert_sign_in(
        self, sign_no: str, fixmedins_code: str, opter_no: str, mac: str, ip: str, now: datetime
    ) -> None:
        self.conn.execute(
            insert(t.sign_in).values(
                sign_no=sign_no,
                fixmedins_code=fixmedins_code,
                opter_no=opter_no,
                mac=mac,
                ip=ip,
                sign_time=now,
            )
        )

    def sign_in(self, sign_no: str) -> SignInRecord | None:
        sql = f"SELECT {columns(SignInRecord)} FROM sign_in WHERE sign_no = ?"
        return self.record(SignInRecord, sql, (sign_no,))

    def sign_out(self, sign_no: str, fixmedins_code: str, now: datetime) -> bool:
        result = self.conn.execute(
            update(t.sign_in)
            .where(
                t.sign_in.c.sign_no == sign_no,
                t.sign_in.c.fixmedins_code == fixmedins_code,
                t.sign_in.c.signout_time.is_(None),
            )
            .values(signout_time=now)
        )
        return result.rowcount == 1

    def logged(self, fixmedins_code: str, msgid: str) -> LoggedMessage | None:
        sql = "SELECT infno, body_hash, response, ref FROM message_log WHERE fixmedins_code = ? AND msgid = ?"
        done = self.record(LoggedMessage, sql, (fixmedins_code, msgid))
        if done is None:
            return None
        return replace(done, response=logged_answer(self.personal, fixmedins_code, msgid, done.infno, done.response))

    def log_message(self, fixmedins_code: str, msgid: str, message: LoggedMessage, now: datetime) -> None:
        # a duplicate that ran meanwhile fails this transaction on the primary key: nothing of it is
        # kept, and the caller replays the first
        sql = (
            "INSERT INTO message_log (fixmedins_code, msgid, infno, body_hash, response, ref, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        response = message.response
        if message.infno not in CLEAR_ANSWERS:
            response = self.personal.seal(response, f"message_log/{fixmedins_code}/{msgid}")
        self.write(sql, (fixmedins_code, msgid, message.infno, message.body_hash, response, message.ref, now))

    # ---------------------------------------------------------------- visits and fee lines

    def _visit_read(self, mdtrt_id: str) -> Read:
        def make(rows: Rows, typed: bool) -> VisitRecord | None:
            return self._opened(_make(VisitRecord, rows[0], typed)) if rows else None

        return Read(columns(VisitRecord), "visit WHERE mdtrt_id = ?", (mdtrt_id,), make)

    def _sealed(self, visit: VisitRecord) -> VisitRecord:
        """The visit as stored: the certificate number shown (an ID or card number) sealed."""
        if not visit.mdtrt_cert_no:
            return visit
        return replace(visit, mdtrt_cert_no=self.personal.seal(visit.mdtrt_cert_no, f"mdtrt_cert_no/{visit.mdtrt_id}"))

    def _opened(self, visit: VisitRecord) -> VisitRecord:
        if not visit.mdtrt_cert_no:
            return visit
        return replace(visit, mdtrt_cert_no=self.personal.open(visit.mdtrt_cert_no, f"mdtrt_cert_no/{visit.mdtrt_id}"))

    def visit(self, mdtrt_id: str) -> VisitRecord | None:
        return self._read(("visit", mdtrt_id), self._visit_read(mdtrt_id))  # type: ignore[no-any-return]

    def insert_visit(self, visit: VisitRecord, now: datetime) -> None:
        names = field_names(VisitRecord)
        sql = f"INSERT INTO visit ({', '.join(names)}, created_at) VALUES ({', '.join('?' * (len(names) + 1))})"
        stored = self._sealed(visit)
        self.write(sql, (*(getattr(stored, n) for n in names), now))

    def update_visit(self, visit: VisitRecord) -> None:
        values = visit_values(self._sealed(visit))
        self.conn.execute(update(t.visit).where(t.visit.c.mdtrt_id == visit.mdtrt_id).values(**values))

    def open_stay(self, psn_no: str, fixmedins_code: str) -> bool:
        v = t.visit.c
        q = select(v.mdtrt_id).where(
            v.psn_no == psn_no, v.fixmedins_code == fixmedins_code, v.kind == "inpatient", v.status == "open"
        )
        return self.conn.execute(q.limit(1)).first() is not None

    def admission_seq(self, visit: VisitRecord) -> int:
        v = t.visit.c
        year_start = visit.begntime.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        q = select(func.count()).where(
            v.psn_no == visit.psn_no,
            v.kind == "inpatient",
            v.status != "cancelled",
            v.begntime >= year_start,
            v.begntime <= visit.begntime,
        )
        return max(1, int(self.conn.execute(q).scalar_one()))

    def visits_of(
        self,
        psn_no: str,
        fixmedins_code: str,
        begin: datetime | None,
        end: datetime | None,
        med_type: str | None,
    ) -> list[VisitRecord]:
        v = t.visit.c
        q = select(t.visit).where(v.psn_no == psn_no, v.fixmedins_code == fixmedins_code).order_by(v.begntime)
        if begin:
            q = q.where(v.begntime >= begin)
        if end:
            q = q.where(v.begntime <= end)
        if med_type:
            q = q.where(v.med_type == med_type)
        return [self._opened(visit_record(r._mapping)) for r in self.conn.execute(q.limit(500))]

    def replace_diagnoses(self, mdtrt_id: str, diseinfo: Sequence[dict[str, object]]) -> None:
        self.conn.execute(t.diagnosis.delete().where(t.diagnosis.c.mdtrt_id == mdtrt_id))
        rows = [
            {
                "mdtrt_id": mdtrt_id,
                "diag_srt_no": int(str(d.get("diag_srt_no") or i + 1)),
                "diag_type": str(d.get("diag_type") or "1"),
                "diag_code": str(d.get("diag_code") or ""),
                "diag_name": str(d.get("diag_name") or ""),
                "maindiag_flag": str(d.get("maindiag_flag") or "0"),
            }
            for i, d in enumerate(diseinfo)
        ]
        if rows:
            self.conn.execute(insert(t.diagnosis), rows)

    def _diagnoses_read(self, mdtrt_id: str) -> Read:
        def make(rows: Rows, _typed: bool) -> list[dict[str, object]]:
            return [dict(zip(_DIAGNOSIS, row, strict=True)) for row in rows]

        return Read(", ".join(_DIAGNOSIS), "diagnosis WHERE mdtrt_id = ?", (mdtrt_id,), make, "diag_srt_no")

    def diagnoses(self, mdtrt_id: str) -> list[dict[str, object]]:
        return self._read(("diagnoses", mdtrt_id), self._diagnoses_read(mdtrt_id))  # type: ignore[no-any-return]

    def _line_sns_read(self, mdtrt_id: str) -> Read:
        source = "fee_line WHERE mdtrt_id = ? AND status != 'cancelled'"
        return Read("feedetl_sn", source, (mdtrt_id,), lambda rows, _: {row[0] for row in rows})

    def live_line_sns(self, mdtrt_id: str) -> set[str]:
        return self._read(("line_sns", mdtrt_id), self._line_sns_read(mdtrt_id))  # type: ignore[no-any-return]

    def insert_fee_lines(self, lines: Sequence[FeeLineRecord]) -> list[int]:
        if not lines:
            return []
        names = field_names(FeeLineRecord)[:-1]  # not the row id
        rows = list(map(values_of(names), lines))
        ids: list[int] = self._ahead.pop(("fee_line_ids",), [])
        if len(ids) == len(lines):  # drawn with the read-ahead: nothing to wait for
            self.write(*_json_insert(t.fee_line, (*names, "id"), [(*r, i) for r, i in zip(rows, ids, strict=True)], ""))
            return ids
        tail = "RETURNING id, mdtrt_id, feedetl_sn"
        if self.postgres:
            made = self.rows(*_json_insert(t.fee_line, names, rows, tail))
            returned = [(int(i), m.decode(), sn.decode()) for i, m, sn in made]
        else:
            returned = self.insert_rows(t.fee_line, names, rows, tail).fetchall()
        stored = {(m, sn): i for i, m, sn in returned}
        return [stored[x.mdtrt_id, x.feedetl_sn] for x in lines]

    def _lines_read(self, mdtrt_id: str) -> Read:
        source = "fee_line WHERE mdtrt_id = ? AND status = 'uploaded' AND setl_id IS NULL"
        return Read(columns(FeeLineRecord), source, (mdtrt_id,), every(FeeLineRecord), "fee_ocur_time, feedetl_sn")

    def unsettled_lines(self, mdtrt_id: str, chrg_bchno: str | None) -> list[FeeLineRecord]:
        lines: list[FeeLineRecord] = self._read(("lines", mdtrt_id), self._lines_read(mdtrt_id))
        return lines if chrg_bchno is None else [line for line in lines if line.chrg_bchno == chrg_bchno]

    def cancel_lines(self, mdtrt_id: str, chrg_bchno: str | None, sns: Sequence[str] | None = None) -> None:
        f = t.fee_line.c
        q = update(t.fee_line).where(f.mdtrt_id == mdtrt_id, f.status == "uploaded", f.setl_id.is_(None))
        if chrg_bchno is not None:
            q = q.where(f.chrg_bchno == chrg_bchno)
        if sns is not None:
            q = q.where(f.feedetl_sn.in_(list(sns)))
        self.conn.execute(q.values(status="cancelled"))

    def mark_lines_settled(self, mdtrt_id: str, sns: Sequence[str], setl_id: str) -> None:
        if not sns:  # the insured side of a cross-region settlement has no lines
            return
        # the serial numbers as one JSON parameter: one statement, prepared once, however many lines;
        # on PostgreSQL made one array, once (``IN (SELECT …)`` expanded them again for every line)
        sns_in = (
            "= ANY (ARRAY(SELECT jsonb_array_elements_text(?::jsonb)))"
            if self.postgres
            else "IN (SELECT value FROM json_each(?))"
        )
        sql = f"UPDATE fee_line SET setl_id = ? WHERE mdtrt_id = ? AND status = 'uploaded' AND feedetl_sn {sns_in}"
        self.write(sql, (setl_id, mdtrt_id, orjson.dumps(list(sns)).decode()))

    def unmark_lines(self, mdtrt_id: str, setl_id: str) -> None:
        f = t.fee_line.c
        self.conn.execute(update(t.fee_line).where(f.mdtrt_id == mdtrt_id, f.setl_id == setl_id).values(setl_id=None))

    def settled_lines_of(
        self, psn_no: str, med_type: str, begin: datetime | None, end: datetime | None
    ) -> list[SettledLine]:
        f, s = t.fee_line.c, t.settlement.c
        q = (
            select(
                f.mdtrt_id,
                s.fixmedins_code,
                s.mdtrtarea_admvs,
                f.med_list_codg,
                f.cnt,
                f.pric,
                f.det_item_fee_sumamt,
                f.fee_ocur_time,
                f.setl_id,
            )
            .select_from(t.fee_line.join(t.settlement, and_(s.mdtrt_id == f.mdtrt_id, s.setl_id == f.setl_id)))
            .where(s.psn_no == psn_no, s.med_type == med_type, f.status == "uploaded")
            .order_by(f.fee_ocur_time, f.feedetl_sn)
        )
        if begin:
            q = q.where(f.fee_ocur_time >= begin)
        if end:
            q = q.where(f.fee_ocur_time <= end)
        return [
            SettledLine(m, code, admvs, item, Decimal(cnt), Decimal(pric), amount, at, setl)
            for m, code, admvs, item, cnt, pric, amount, at, setl in self.conn.execute(q.limit(1000))
        ]

    def fee_lines_of(self, mdtrt_id: str) -> list[dict[str, object]]:
        f, s = t.fee_line.c, t.setl_line.c
        q = (
            select(
                t.fee_line,
                s.fulamt_ownpay_amt,
                s.overlmt_amt,
                s.preselfpay_amt,
                s.inscp_scp_amt,
                s.chrgitm_lv,
            )
            .select_from(t.fee_line.outerjoin(t.setl_line, and_(s.setl_id == f.setl_id, s.feedetl_sn == f.feedetl_sn)))
            .where(f.mdtrt_id == mdtrt_id)
            .order_by(f.feedetl_sn, f.id)
        )
        out = []
        for r in self.conn.execute(q):
            m = r._mapping
            row: dict[str, object] = {
                "feedetl_sn": m["feedetl_sn"],
                "mdtrt_id": m["mdtrt_id"],
                "psn_no": m["psn_no"],
                "med_list_codg": m["med_list_codg"],
                "medins_list_codg": m["medins_list_codg"],
                "cnt": Decimal(m["cnt"]),
                "pric": Decimal(m["pric"]),
                "det_item_fee_sumamt": fen_to_yuan(m["det_item_fee_sumamt"]),
                "fee_ocur_time": m["fee_ocur_time"],
                "chrg_bchno": m["chrg_bchno"],
                "vali_flag": "0" if m["status"] == "cancelled" else "1",
                "setl_id": m["setl_id"],
            }
            if m["setl_id"] is not None and m["chrgitm_lv"] is not None:
                for name in ("fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt", "inscp_scp_amt"):
                    row[name] = fen_to_yuan(m[name])
                row["chrgitm_lv"] = m["chrgitm_lv"]
            out.append(row)
        return out

    # ---------------------------------------------------------------- settlements and counters

    def insert_settlement(
        self,
        row: SettlementRow,
        details: Sequence[FundRowRecord],
        lines: Sequence[LineResult],
        counter_deltas: dict[tuple[str, str], Fen],
    ) -> None:
        self.durable = True  # money: its commit waits for the disk, whatever the message asked
        names = [n for n in field_names(SettlementRow) if n != "amounts"]
        values = [getattr(row, n) for n in names]
        names += list(row.amounts)
        values += list(row.amounts.values())
        self.write(f"INSERT INTO settlement ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", values)
        detail_names = field_names(FundRowRecord)
        self.write_rows(t.setl_detail, detail_names, list(map(values_of(detail_names), details)))
        self.write_rows(
            t.setl_line,
            SETL_LINE,
            [
                (
                    row.setl_id,
                    x.feedetl_sn,
                    x.med_list_codg,
                    x.chrgitm_lv,
                    None if x.pric_uplmt_amt is None else str(x.pric_uplmt_amt),
                    str(x.selfpay_prop),
                    x.det_item_fee_sumamt,
                    x.fulamt_ownpay_amt,
                    x.overlmt_amt,
                    x.preselfpay_amt,
                    x.inscp_scp_amt,
                    x.memo[:200],
                )
                for x in lines
            ],
        )
        self.write_rows(
            t.counter_delta,
            ("psn_no", "insutype", "period", "key", "delta", "setl_id"),
            [
                (row.psn_no, row.insutype, period, key, delta, row.setl_id)
                for (key, period), delta in counter_deltas.items()
            ],
        )

    def settlement(self, setl_id: str) -> SettlementRow | None:
        row = self.conn.execute(select(t.settlement).where(t.settlement.c.setl_id == setl_id)).first()
        if row is None:
            return None
        m = dict(row._mapping)
        amounts = {name: m.pop(name) for name in AMOUNTS}
        return SettlementRow(**m, amounts=amounts)

    def reversal_of(self, setl_id: str) -> str | None:
        s = t.settlement.c
        return self.conn.execute(select(s.setl_id).where(s.revs_setl_id == setl_id)).scalar()

    def has_live_settlement(self, mdtrt_id: str, final_only: bool = False) -> bool:
        s = t.settlement.c
        reversed_ids = select(s.revs_setl_id).where(s.mdtrt_id == mdtrt_id, s.revs_setl_id.is_not(None))
        q = select(s.setl_id).where(s.mdtrt_id == mdtrt_id, s.revs_setl_id.is_(None), s.setl_id.not_in(reversed_ids))
        if final_only:
            q = q.where(s.mid_setl_flag.is_(False))
        return self.conn.execute(q.limit(1)).first() is not None

    def fund_rows(self, setl_id: str) -> list[FundRowRecord]:
        rows = self.conn.execute(select(t.setl_detail).where(t.setl_detail.c.setl_id == setl_id))
        return [FundRowRecord(**r._mapping) for r in rows]

    def visit_deductible_paid(self, mdtrt_id: str) -> Fen:
        row = self.sql("SELECT coalesce(sum(act_pay_dedc), 0) FROM settlement WHERE mdtrt_id = ?", (mdtrt_id,))
        return int(row.fetchone()[0])

    def _counters_read(self, psn_no: str, insutype: str, periods: Sequence[str]) -> Read:
        source = (
            f"counter_delta WHERE psn_no = ? AND insutype = ? AND period IN ({', '.join('?' * len(periods))}) "
            'GROUP BY "key", period'
        )
        return Read('"key", period, sum(delta) AS total', source, (psn_no, insutype, *periods), _totals)

    def counters(self, psn_no: str, insutype: str, periods: Iterable[str]) -> dict[tuple[str, str], Fen]:
        wanted = tuple(periods)
        key = ("counters", psn_no, insutype, *wanted)
        return self._read(key, self._counters_read(psn_no, insutype, wanted))  # type: ignore[no-any-return]

    def counter_deltas_of(self, setl_id: str) -> dict[tuple[str, str], Fen]:
        c = t.counter_delta.c
        rows = self.conn.execute(select(c.key, c.period, c.delta).where(c.setl_id == setl_id))
        return {(key, period): int(delta) for key, period, delta in rows}

    def counter_totals(self, psn_no: str, year: str) -> list[tuple[str, str, str, Fen]]:
        return counter_totals(self.conn, psn_no, year)

    def totals(
        self, fixmedins_code: str, insutype: str | None, clr_type: str, begin: datetime, end: datetime
    ) -> Totals:
        s = t.settlement.c
        q = select(
            func.coalesce(func.sum(s.medfee_sumamt), 0),
            func.coalesce(func.sum(s.fund_pay_sumamt), 0),
            func.coalesce(func.sum(s.acct_pay), 0),
            func.coalesce(func.sum(case((s.revs_setl_id.is_(None), 1), else_=-1)), 0),
        ).where(
            s.fixmedins_code == fixmedins_code,
            s.clr_type == clr_type,
            s.setl_time >= begin,
            s.setl_time < end,
        )
        if insutype:
            q = q.where(s.insutype == insutype)
        medfee, fund, acct, count = self.conn.execute(q).one()
        return Totals(int(medfee), int(fund), int(acct), int(count))

    # ---------------------------------------------------------------- the fund ledger

    def post(self, posting_id: str, transfers: Sequence[Transfer], now: datetime) -> None:
        """Write a posting: its transfers and the cumulative totals of the accounts they touch."""
        if not transfers:
            return
        self.durable = True  # money: its commit waits for the disk, whatever the message asked
        moves: dict[str, list[Fen]] = {}
        for x in transfers:
            moves.setdefault(x.debit, [0, 0])[0] += x.amount
            moves.setdefault(x.credit, [0, 0])[1] += x.amount
        # a fixed order of accounts: two postings never wait for each other in opposite orders
        self.write_rows(
            t.ledger_account,
            ("code", "debits_posted", "credits_posted"),
            sorted((code, debit, credit) for code, (debit, credit) in moves.items()),
            "ON CONFLICT (code) DO UPDATE SET debits_posted = ledger_account.debits_posted + excluded.debits_posted, "
            "credits_posted = ledger_account.credits_posted + excluded.credits_posted",
        )
        self.write_rows(
            t.ledger_transfer,
            ("posting_id", "debit_account", "credit_account", "amount", "code", "created_at"),
            [(posting_id, x.debit, x.credit, x.amount, x.code, now) for x in transfers],
        )

    def transfers_of(self, posting_id: str) -> list[Transfer]:
        x = t.ledger_transfer.c
        rows = self.conn.execute(
            select(x.debit_account, x.credit_account, x.amount, x.code).where(x.posting_id == posting_id).order_by(x.id)
        )
        return [Transfer(*r) for r in rows]

    def _account_read(self, psn_no: str) -> Read:
        source = "ledger_account WHERE code = ?"
        return Read("debits_posted, credits_posted", source, (personal_account(psn_no),), _balance)

    def account_balance(self, psn_no: str) -> Fen:
        return self._read(("account", psn_no), self._account_read(psn_no))  # type: ignore[no-any-return]

    def ledger_facts(self) -> LedgerFacts:
        a, x, s, d = t.ledger_account.c, t.ledger_transfer.c, t.settlement.c, t.setl_detail.c
        accounts = {
            code: (int(dr), int(cr))
            for code, dr, cr in self.conn.execute(select(a.code, a.debits_posted, a.credits_posted))
        }
        totals: dict[str, tuple[Fen, Fen]] = {}
        for code, dr in self.conn.execute(select(x.debit_account, func.sum(x.amount)).group_by(x.debit_account)):
            totals[code] = (int(dr), totals.get(code, (0, 0))[1])
        for code, cr in self.conn.execute(select(x.credit_account, func.sum(x.amount)).group_by(x.credit_account)):
            totals[code] = (totals.get(code, (0, 0))[0], int(cr))
        settled = x.code.in_([Code.SETTLEMENT, Code.REVERSAL])
        net: dict[str, Fen] = {}
        for code, amount in self.conn.execute(
            select(x.debit_account, func.sum(x.amount)).where(settled).group_by(x.debit_account)
        ):
            net[code] = net.get(code, 0) + int(amount)
        for code, amount in self.conn.execute(
            select(x.credit_account, func.sum(x.amount)).where(settled).group_by(x.credit_account)
        ):
            net[code] = net.get(code, 0) - int(amount)
        expected: dict[str, Fen] = {}
        paid_here = s.cross_region != "T"  # treated here for another region: that region's clearing pays
        funds = (
            select(s.insuplc_admdvs, d.fund_pay_type, func.sum(d.fund_payamt))
            .select_from(t.setl_detail.join(t.settlement, s.setl_id == d.setl_id))
            .where(d.fund_pay_type != FundPayType.EMPLOYEE_ACCOUNT.value, paid_here)
            .group_by(s.insuplc_admdvs, d.fund_pay_type)
        )
        for admdvs, fund, amount in self.conn.execute(funds):
            expected[fund_account(admdvs, fund)] = int(amount)
        accounts_paid = select(s.psn_no, func.sum(s.acct_pay)).where(paid_here).group_by(s.psn_no)
        for psn_no, amount in self.conn.execute(accounts_paid):
            expected[personal_account(psn_no)] = int(amount)
        paid = func.sum(s.fund_pay_sumamt + s.acct_pay)
        payables = select(s.fixmedins_code, paid).where(s.cross_region != "I").group_by(s.fixmedins_code)
        for code, amount in self.conn.execute(payables):
            expected[payable_account(code)] = -int(amount)
        for role, region, sign in (("T", s.insuplc_admdvs, 1), ("I", s.mdtrtarea_admvs, -1)):
            owed = select(region, paid).where(s.cross_region == role).group_by(region)
            for admdvs, amount in self.conn.execute(owed):
                key = clearing_account(admdvs)
                expected[key] = expected.get(key, 0) + sign * int(amount)
        bad = [
            f"transfer {tid}: {dr} → {cr} 金额 {amount}"
            for tid, dr, cr, amount in self.conn.execute(
                select(x.id, x.debit_account, x.credit_account, x.amount).where(
                    (x.amount <= 0) | (x.debit_account == x.credit_account)
                )
            )
        ]
        recovery_net: dict[str, Fen] = {}
        recovered = x.code == Code.RECOVERY
        for column, sign in ((x.debit_account, 1), (x.credit_account, -1)):
            for code, amount in self.conn.execute(
                select(column, func.sum(x.amount)).where(recovered, column.like("payable:%")).group_by(column)
            ):
                recovery_net[code] = recovery_net.get(code, 0) + sign * int(amount)
        c = t.audit_case.c
        expected_recovery = {
            payable_account(code): int(amount)
            for code, amount in self.conn.execute(
                select(c.fixmedins_code, func.sum(c.recovered_amount))
                .where(c.shared_from == "")  # a shared case is recovered (and posted) where it was opened
                .group_by(c.fixmedins_code)
            )
        }
        # 零星报销, 转移接续, 征缴
        recorded = [manual_claim_facts(self.conn), transfer_facts(self.conn), contribution_facts(self.conn)]
        return LedgerFacts(
            accounts,
            totals,
            {k: v for k, v in net.items() if v},
            {k: v for k, v in expected.items() if v},
            bad,
            {k: v for k, v in recovery_net.items() if v},
            {k: v for k, v in expected_recovery.items() if v},
            {k: v for posted, _ in recorded for k, v in posted.items() if v},
            {k: v for _, wanted in recorded for k, v in wanted.items() if v},
        )

    # ---------------------------------------------------------------- files

    def save_file(
        self, file_qury_no: str, fixmedins_code: str, filename: str, content: bytes, now: datetime, until: datetime
    ) -> None:
        self.conn.execute(
            insert(t.stored_file).values(
                file_qury_no=file_qury_no,
                fixmedins_code=fixmedins_code,
                filename=filename,
                content=content,
                created_at=now,
                dld_endtime=until,
            )
        )

    def stored_file(self, file_qury_no: str) -> tuple[str, str, bytes, datetime] | None:
        f = t.stored_file.c
        row = self.conn.execute(
            select(f.fixmedins_code, f.filename, f.content, f.dld_endtime).where(f.file_qury_no == file_qury_no)
        ).first()
        return (row[0], row[1], bytes(row[2]), row[3]) if row else None

    # ---------------------------------------------------------------- reference lists (1303, 1304, 1307–1317)

    def reference_entries(
        self, q: ref_store.ReferenceQuery, offset: int = 0, limit: int | None = None
    ) -> tuple[int, list[ref_store.ReferenceEntry]]:
        return ref_store.entries(self.conn, q, offset, limit)

    # ---------------------------------------------------------------- reconciliation and clearing

    def settlement_lines(self, fixmedins_code: str, begin: datetime, end: datetime) -> dict[str, tuple[Fen, Fen, Fen]]:
        s = t.settlement.c
        q = select(s.setl_id, s.medfee_sumamt, s.fund_pay_sumamt, s.acct_pay).where(
            s.fixmedins_code == fixmedins_code, s.setl_time >= begin, s.setl_time < end
        )
        return {sid: (int(m), int(f), int(a)) for sid, m, f, a in self.conn.execute(q)}

    def insert_statement(
        self, fixmedins_code: str, cmd: TotalStatement, result: str, description: str, now: datetime
    ) -> None:
        self.conn.execute(
            insert(t.statement).values(
                fixmedins_code=fixmedins_code,
                insutype=cmd.insutype,
                clr_type=cmd.clr_type,
                stmt_begndate=cmd.stmt_begndate,
                stmt_enddate=cmd.stmt_enddate,
                stmt_rslt=result,
                stmt_rslt_dscr=description,
                created_at=now,
            )
        )

    def open_clearing(self, fixmedins_code: str, clr_type: str, setlym: str) -> bool:
        c = t.clearing_application.c
        q = select(c.clr_appy_evt_id).where(
            c.fixmedins_code == fixmedins_code, c.clr_type == clr_type, c.setlym == setlym, c.status == "1"
        )
        return self.conn.execute(q).first() is not None

    def insert_clearing(self, evt_id: str, fixmedins_code: str, cmd: ClearingApply, now: datetime) -> None:
        self.conn.execute(
            insert(t.clearing_application).values(
                clr_appy_evt_id=evt_id,
                fixmedins_code=fixmedins_code,
                clr_type=cmd.clr_type,
                setlym=cmd.setlym,
                medfee_sumamt=yuan_to_fen(cmd.medfee_sumamt),
                fund_appy_sum=yuan_to_fen(cmd.fund_appy_sum),
                acct_pay=yuan_to_fen(cmd.acct_pay),
                cash_payamt=yuan_to_fen(cmd.cash_payamt),
                psntime=cmd.psntime,
                status="1",
                created_at=now,
            )
        )

    def cancel_clearing(self, evt_id: str, fixmedins_code: str) -> bool:
        c = t.clearing_application.c
        result = self.conn.execute(
            update(t.clearing_application)
            .where(c.clr_appy_evt_id == evt_id, c.fixmedins_code == fixmedins_code, c.status == "1")
            .values(status="0")
        )
        return result.rowcount == 1


R = TypeVar("R")
_PG_SQL: dict[str, str] = {}
_DIAGNOSIS = tuple(c.name for c in t.diagnosis.c)
_JSON_INSERT: dict[tuple[str, ...], str] = {}
PENDING = "yibao.pending_writes"
"""Connection.info key of the store whose writes wait for the next statement."""
ASYNC_COMMIT = "SELECT set_config('synchronous_commit', 'off', true)"
"""Sent before the COMMIT of a transaction that is not ``durable``: that commit alone does not wait for
the WAL's flush (docs/reliability.md, promise 8)."""


def logged_answer(personal: PersonalData, fixmedins_code: str, msgid: str, infno: str, stored: str) -> str:
    """A logged answer as it was given: sealed, or kept in clear (CLEAR_ANSWERS; those logged before
    they were kept in clear are sealed)."""
    if infno in CLEAR_ANSWERS and stored.startswith("{"):
        return stored
    return personal.open(stored, f"message_log/{fixmedins_code}/{msgid}")


def _json_rows(value: bytes | None) -> list[list[Any]]:
    """The rows of a read made one JSON value (Read.as_json), as libpq gives it: NULL for none."""
    return orjson.loads(value) if value else []


def _pg(statement: str) -> str:
    """A statement written with ? marks, as psycopg takes it."""
    return _PG_SQL.get(statement) or _PG_SQL.setdefault(statement, statement.replace("?", "%s"))


def _json_insert(table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]], tail: str) -> tuple[str, Any]:
    """PostgreSQL: the rows as one JSON parameter of one statement (see SqlStore.insert_rows). As jsonb,
    parsed once: ``->>`` on a json value parses its text again each time, which for 20 rows of 22
    columns cost the backend 550 µs against 100 µs."""
    key = (table.name, *names, tail)
    if (statement := _JSON_INSERT.get(key)) is None:
        values = ", ".join(f"(x->>{i})::{table.c[n].type.compile(dialect=PG)}" for i, n in enumerate(names))
        into = f"INSERT INTO {table.name} ({', '.join(names)})"
        statement = _JSON_INSERT[key] = f"{into} SELECT {values} FROM jsonb_array_elements(?::jsonb) x {tail}"
    return statement, (orjson.dumps(rows, default=str).decode(),)


_PERSON_COLUMNS = ", ".join(READ_COLUMNS)  # PersonRecord's fields, sealed ones as stored
_MISSING = object()
PG = postgresql.dialect()  # type: ignore[no-untyped-call]
SETL_LINE = [c.name for c in t.setl_line.columns]


Rows = Sequence[Sequence[Any]]


@frozen
class Read:
    """One read of the hot path: SELECT ``columns`` FROM ``source``, and how its answer is made from the
    rows (``typed``: as PostgreSQL's driver returns them; else text dates and numbers, as SQLite and
    JSON give them)."""

    columns: str
    source: str
    params: Sequence[Any]
    make: Callable[[Rows, bool], Any]
    order: str = ""

    def statement(self) -> str:
        return f"SELECT {self.columns} FROM {self.source}" + (f" ORDER BY {self.order}" if self.order else "")

    def as_json(self) -> str:
        """The read as one JSON value, a list of rows, each a list of its values (PostgreSQL)."""
        return _json_read(self.columns, self.source, self.order)


@cache
def _json_read(columns: str, source: str, order: str) -> str:
    """Read.as_json, made once (9 of them cost 37 µs to write out, at every read-ahead). Arrays cost the
    server and the client less than objects with their keys: 20 fee lines 228 → 183 µs a read."""
    names = ", ".join(f"x.{c.rpartition(' AS ')[2].strip()}" for c in columns.split(","))
    ordered = f" ORDER BY {', '.join(f'x.{c.strip()}' for c in order.split(','))}" if order else ""
    return f"(SELECT json_agg(json_build_array({names}){ordered}) FROM (SELECT {columns} FROM {source}) x)"


def one(cls: type[R]) -> Callable[[Rows, bool], R | None]:
    return lambda rows, typed: _make(cls, rows[0], typed) if rows else None


def every(cls: type[R]) -> Callable[[Rows, bool], list[R]]:
    return lambda rows, typed: [_make(cls, row, typed) for row in rows]


def _totals(rows: Rows, _typed: bool) -> dict[tuple[str, str], Fen]:
    return {(key, period): int(total) for key, period, total in rows}


def _ids(rows: Rows, _typed: bool) -> list[int]:
    return [int(row[0]) for row in rows]


def _balance(rows: Rows, _typed: bool) -> Fen:
    return credit_balance(int(rows[0][0]), int(rows[0][1])) if rows else 0


_CONVERTERS: dict[tuple[type[Any], bool], list[tuple[int, Any]]] = {}


def counter_totals(conn: Connection, psn_no: str, year: str) -> list[tuple[str, str, str, Fen]]:
    """A person's year-to-date counters: (insutype, period, key, total), for 5206 and the console."""
    c = t.counter_delta.c
    q = (
        select(c.insutype, c.period, c.key, func.sum(c.delta))
        .where(c.psn_no == psn_no, c.period.startswith(year))
        .group_by(c.insutype, c.period, c.key)
        .order_by(c.insutype, c.period, c.key)
    )
    return [(i, p, k, int(total)) for i, p, k, total in conn.execute(q)]


@cache
def field_names(cls: Any) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@cache
def values_of(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A record's values of ``names`` (two or more), in one call."""
    return attrgetter(*names)


@cache
def columns(cls: Any) -> str:
    return ", ".join(field_names(cls))


def _sqlite_value(value: Any) -> Any:
    """What SQLAlchemy would have stored in SQLite for this value (so both ways of writing read alike)."""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S.%f}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _make(cls: type[R], row: Sequence[Any], postgres: bool) -> R:
    """A record from a row in field order: exact decimals kept as text come back as Decimal, and on
    SQLite text dates and integer booleans become dates and booleans."""
    converters = _CONVERTERS.get((cls, postgres))
    if converters is None:
        converters = _CONVERTERS[cls, postgres] = _converters(cls, postgres)
    values = list(row)
    for i, convert in converters:
        if values[i] is not None:
            values[i] = convert(values[i])
    return cls(*values)


def _converters(cls: type[Any], postgres: bool) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    for i, hint in enumerate(get_type_hints(cls).values()):
        kinds = {hint, *get_args(hint)}
        if Decimal in kinds:
            out.append((i, Decimal))
        elif postgres:
            continue
        elif datetime in kinds:
            out.append((i, datetime.fromisoformat))
        elif date in kinds:
            out.append((i, date.fromisoformat))
        elif bool in kinds:
            out.append((i, bool))
    return out


def visit_values(visit: VisitRecord) -> dict[str, object]:
    return {f.name: getattr(visit, f.name) for f in fields(VisitRecord)}


def visit_record(m: Any) -> VisitRecord:
    return VisitRecord(**{f.name: m[f.name] for f in fields(VisitRecord)})
