"""转移接续: moving a person's basic medical insurance from one pooling region to another — the rule in
``yibao.domain.transfers``, docs/services.md.

The region left (转出地), in one transaction (``transfer_out``): ends the person's insurance there
(终止, on the transfer date), moves the personal account's whole balance ``acct:<psn_no>`` →
``transfer:<new region>``, records its side and answers with the months and the amount (and the
person's registry rows). The new region (转入地), in one transaction (``receive``): keeps the person if
new there, counts the months (its own and those carried, a month paid in both once), makes the
insurance there normal, posts ``transfer:<region left>`` → ``acct:<psn_no>`` and records its side.

The person may apply on either side. Where they arrive, ``transfer_in`` asks the region left (through
the hub, op ``transfer_out``, when another node serves it) and then receives; where they leave,
``transfer_away`` makes its side and then hands the answer to the new region (op ``transfer_in``).
Both regions on this node: ``transfer_local``, one transaction.

Both sides are idempotent by the transfer id (the application's): the hub call's message id is made
from it, so a retry after a lost answer gets the first answer, and a side already recorded is
returned, never posted twice. The calls are made with no transaction open here (a node never waits
for another while holding its write lock); if an answer is lost, the same transfer id again completes
the transfer. ``effect`` is the services' approval (``yibao.app.service_effects``), inside its transaction:
when the other region is another node's it asks (``HubFirst``) for the transfer to be made through the
hub before that transaction, with none open, and then finds it made.

The money stays owed between the regions (``transfer:<region>`` on each node, mirror images) until the
hub's monthly clearing carries it in the net payment (``yibao.app.clearing``; docs/cross-region.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from yibao.app.cross_region import _identity_record, _insurance_record, _person_record, plain
from yibao.app.errors import NotFound, Refused
from yibao.app.records import IdentityRecord, InsuranceRecord, PersonRecord, local_date
from yibao.domain.codes import PsnInsuStas
from yibao.domain.errors import DomainError
from yibao.domain.frozen import frozen
from yibao.domain.money import fen_to_yuan
from yibao.domain.transfers import MAX_GAP, Span, carry, transfer_in_posting, transfer_out_posting

if TYPE_CHECKING:
    from yibao.app.cross_region import Federation
    from yibao.app.ports import Store, UnitOfWork

OUT_OP = "transfer_out"
"""The node op the new region's node sends (through the hub) to the node of the region left."""
IN_OP = "transfer_in"
"""The node op the region left's node sends to the new region's with its side done."""


@frozen
class TransferIn:
    """A person's application, where they arrive, to bring their insurance from ``from_admdvs``."""

    transfer_id: str
    """The application's id: the transfer is made once for it."""
    psn_no: str
    from_admdvs: str
    to_admdvs: str
    transfer_date: date
    """The day the insurance ends where left and starts here (local)."""
    insutype: str = "310"
    emp_name: str = ""
    """The employer here ("" keeps what is known)."""
    psn_type: str = ""
    """人员类别 here ("" keeps the region left's)."""


@frozen
class InsuranceTransfer:
    """One side of a transfer, as stored: ``out`` where the person left, ``in`` where they arrived."""

    transfer_id: str
    role: str
    psn_no: str
    insutype: str
    from_admdvs: str
    to_admdvs: str
    transfer_date: date
    first_month: date
    """The months carried: the first and the last month paid where left."""
    last_month: date
    months: int
    """Carried."""
    months_before: int
    """in: the new region's own months before the transfer."""
    overlap: int
    """in: months paid in both regions, counted once."""
    months_after: int
    """in: the new region's count after the transfer."""
    gap: int
    """Months unpaid between the two regions."""
    amount: int
    """The personal account's balance moved, fen."""
    note: str
    created_by: str
    created_at: datetime
    """UTC."""
    paid_months: tuple[str, ...] = ()
    """The months ("YYYY-MM") the region left recorded month by month (its contribution records, and those
    carried into it before): the history carried."""

    @property
    def interrupted(self) -> bool:
        return self.gap > MAX_GAP


class TransferStore(Protocol):
    def insert_insurance_transfer(self, record: InsuranceTransfer) -> None: ...
    def insurance_transfer(self, transfer_id: str, role: str) -> InsuranceTransfer | None: ...
    def insurance_transfers_of(self, psn_no: str) -> list[InsuranceTransfer]:
        """The person's transfers on this node, both sides, the latest first."""

    def save_insurance(self, insurance: InsuranceRecord) -> None:
        """Insert or replace the person's insurance of its type."""

    def add_person(self, person: PersonRecord, identities: list[IdentityRecord]) -> None:
        """Register a person arriving from another region (nothing if already registered)."""

    def contribution_months(self, psn_no: str, insutype: str, admdvs: str) -> list[str]:
        """The months ("YYYY-MM") the region records the person paid, month by month: the months of its
        employers' paid bills, and those carried into it by transfers. Sorted."""

    def uncleared_transfers(
        self, role: str, *, before: datetime | None = None, transfer_ids: Sequence[str] | None = None
    ) -> list[InsuranceTransfer]:
        """Sides of ``role`` with money moved (amount > 0) that no clearing run has carried yet, recorded
        before ``before`` (UTC) or of the given ids, in the order they were recorded."""

    def mark_transfers_cleared(self, role: str, transfer_ids: Sequence[str], run_id: str) -> None:
        """The clearing run ``run_id`` carried these sides' money."""

    def transfers_cleared_by(self, run_id: str) -> int:
        """How many sides the run carried here."""


# ---------------------------------------------------------------- where the person arrives (转入地)


def transfer_in(
    db: UnitOfWork, federation: Federation | None, cmd: TransferIn, who: str, now: datetime
) -> InsuranceTransfer:
    """Bring the person's insurance here from ``cmd.from_admdvs`` (see the module's docstring); no
    transaction may be open. Refused with the field at fault; ``Unreachable`` if the hub or the other
    node did not answer (try again with the same transfer id)."""
    check(cmd, local_date(now))
    if federation is not None and not federation.serves(cmd.to_admdvs):
        raise Refused("to_admdvs", f"转入地 {cmd.to_admdvs} 不在本节点：请向转入地申请")
    with db.transaction(write=False) as store:
        done = store.insurance_transfer(cmd.transfer_id, "in")
    if done is not None:
        return _same(done, cmd)
    if federation is None or federation.serves(cmd.from_admdvs):
        with db.transaction() as store:
            return transfer_local(store, cmd, who, now)
    key = hashlib.sha256(cmd.transfer_id.encode()).hexdigest()[:32]
    answer = federation.call(OUT_OP, cmd.from_admdvs, f"{OUT_OP}:{key}", out_payload(cmd, who))
    with db.transaction() as store:
        return receive(store, cmd, answer, who, now)


def transfer_away(
    db: UnitOfWork, federation: Federation | None, cmd: TransferIn, who: str, now: datetime
) -> InsuranceTransfer:
    """Move the person's insurance from here (``cmd.from_admdvs``) to ``cmd.to_admdvs``: this side in one
    transaction, then the new region's node receives it (op ``transfer_in``). Returns the new region's
    side (as it answered). No transaction may be open; ``Unreachable``: try again with the same id."""
    check(cmd, local_date(now))
    if federation is None or federation.serves(cmd.to_admdvs):
        with db.transaction() as store:
            return transfer_local(store, cmd, who, now)
    if not federation.serves(cmd.from_admdvs):
        raise Refused("from_admdvs", f"转出地 {cmd.from_admdvs} 不在本节点")
    with db.transaction() as store:
        answer = transfer_out(store, out_payload(cmd, who), now, federation)
    key = hashlib.sha256(cmd.transfer_id.encode()).hexdigest()[:32]
    got = federation.call(IN_OP, cmd.to_admdvs, f"{IN_OP}:{key}", {"transfer": out_payload(cmd, who), "answer": answer})
    try:
        return _transfer_of(got)
    except (KeyError, TypeError, ValueError) as exc:
        raise Refused("answer", f"转入地应答无效：{exc}") from None


def transfer_local(store: Store, cmd: TransferIn, who: str, now: datetime) -> InsuranceTransfer:
    """Both sides in one transaction, both regions served by this node."""
    check(cmd, local_date(now))
    done = store.insurance_transfer(cmd.transfer_id, "in")
    if done is not None:
        return _same(done, cmd)
    return receive(store, cmd, transfer_out(store, out_payload(cmd, who), now), who, now)


def receive(store: Store, cmd: TransferIn, answer: Mapping[str, Any], who: str, now: datetime) -> InsuranceTransfer:
    """The new region's side, from the region left's answer."""
    store.lock_person(cmd.psn_no)
    done = store.insurance_transfer(cmd.transfer_id, "in")
    if done is not None:
        return _same(done, cmd)
    try:
        out = _out_of(answer)
        person = _person_record(answer["person"])
        identities = [_identity_record(i) for i in answer.get("identities", [])]
        old = _insurance_record(answer["insurance"])
    except (KeyError, TypeError, ValueError) as exc:
        raise Refused("answer", f"转出地应答无效：{exc}") from None
    asked = (cmd.transfer_id, cmd.psn_no, cmd.insutype, cmd.from_admdvs, cmd.to_admdvs)
    if (out.transfer_id, out.psn_no, out.insutype, out.from_admdvs, out.to_admdvs) != asked:
        raise Refused("answer", f"转出地应答的转移 {out.transfer_id} {out.psn_no} 与申请不符")
    if store.person(cmd.psn_no) is None:
        store.add_person(person, identities)
    mine = store.insurance(cmd.psn_no, cmd.insutype)
    own = mine if mine and mine.insuplc_admdvs == cmd.to_admdvs and mine.psn_insu_stas == PsnInsuStas.NORMAL else None
    into = Span(own.contrib_months, own.psn_insu_date, max(own.psn_insu_date, cmd.transfer_date)) if own else None
    paid_here = store.contribution_months(cmd.psn_no, cmd.insutype, cmd.to_admdvs) if own else []
    span = Span(out.months, out.first_month, out.last_month)
    carried = carry(span, into, cmd.transfer_date, paid_out=out.paid_months, paid_in=paid_here)
    base = own or old
    store.save_insurance(
        InsuranceRecord(
            psn_no=cmd.psn_no, insutype=cmd.insutype, psn_type=cmd.psn_type or base.psn_type,
            psn_insu_stas=PsnInsuStas.NORMAL.value, insuplc_admdvs=cmd.to_admdvs,
            psn_insu_date=own.psn_insu_date if own else cmd.transfer_date, paus_insu_date=None,
            cvlserv_flag=base.cvlserv_flag if own else False, emp_name=cmd.emp_name or (own.emp_name if own else ""),
            contrib_months=carried.months_after,
        )
    )  # fmt: skip
    store.post(f"transfer:{cmd.transfer_id}:in", transfer_in_posting(cmd.psn_no, cmd.from_admdvs, out.amount), now)
    note = f"自 {cmd.from_admdvs} 转入：缴费 {out.months} 个月，个人账户 {out.amount} 分"
    if carried.overlap:
        note += f"；两地重复缴费 {carried.overlap} 个月只计一次"
    if carried.interrupted:
        note += f"；中断缴费 {carried.gap} 个月（超过 {MAX_GAP} 个月），累计月数照计"
    record = replace(
        out, role="in", months_before=carried.months_before, overlap=carried.overlap,
        months_after=carried.months_after, gap=carried.gap, note=note, created_by=who[:50], created_at=now,
    )  # fmt: skip
    store.insert_insurance_transfer(record)
    return record


def transfer_in_here(
    store: Store, payload: Mapping[str, Any], now: datetime, federation: Federation | None = None
) -> dict[str, Any]:
    """The new region's side for the region left's node (op ``transfer_in``): its side, as plain values."""
    try:
        cmd = _command(payload["transfer"])
        answer = payload["answer"]
        if not isinstance(answer, Mapping):
            raise TypeError("answer is an object")
    except (KeyError, TypeError, ValueError) as exc:
        raise Refused("payload", f"转移接续报文无效：{exc}") from None
    if federation is not None and not federation.serves(cmd.to_admdvs):
        raise Refused("to_admdvs", f"转入地 {cmd.to_admdvs} 不在本节点")
    return plain(receive(store, cmd, answer, str(payload["transfer"].get("who", "")), now))


# ---------------------------------------------------------------- where the person leaves (转出地)


def out_payload(cmd: TransferIn, who: str) -> dict[str, Any]:
    return {
        "transfer_id": cmd.transfer_id, "psn_no": cmd.psn_no, "insutype": cmd.insutype,
        "from_admdvs": cmd.from_admdvs, "to_admdvs": cmd.to_admdvs, "transfer_date": cmd.transfer_date.isoformat(),
        "emp_name": cmd.emp_name, "psn_type": cmd.psn_type, "who": who[:50],
    }  # fmt: skip


def transfer_out(
    store: Store, payload: Mapping[str, Any], now: datetime, federation: Federation | None = None
) -> dict[str, Any]:
    """The region left's side (op ``transfer_out``): end the insurance, move the whole balance, record it,
    answer with the months and the amount. Asked again for the same transfer, the same answer."""
    try:
        cmd = _command(payload)
    except (KeyError, TypeError, ValueError) as exc:
        raise Refused("payload", f"转移接续报文无效：{exc}") from None
    transfer_id, psn_no, insutype = cmd.transfer_id, cmd.psn_no, cmd.insutype
    from_admdvs, to_admdvs, day = cmd.from_admdvs, cmd.to_admdvs, cmd.transfer_date
    store.lock_person(psn_no)
    done = store.insurance_transfer(transfer_id, "out")
    if done is not None:
        if (done.psn_no, done.insutype, done.to_admdvs) != (psn_no, insutype, to_admdvs):
            raise Refused("transfer_id", f"{transfer_id} 已用于另一笔转移")
        return _out_answer(store, done)
    if federation is not None and not federation.serves(from_admdvs):
        raise Refused("from_admdvs", f"转出地 {from_admdvs} 不在本节点")
    person = store.person(psn_no)
    insurance = store.insurance(psn_no, insutype)
    if person is None or insurance is None:
        raise NotFound("psn_no", f"{psn_no} 在转出地 {from_admdvs} 无险种 {insutype} 的参保记录")
    if insurance.insuplc_admdvs != from_admdvs:
        raise Refused("from_admdvs", f"{psn_no} 的参保地为 {insurance.insuplc_admdvs}，不是 {from_admdvs}")
    if insurance.psn_insu_stas != PsnInsuStas.NORMAL:
        status = PsnInsuStas.describe(insurance.psn_insu_stas)
        raise Refused("psn_no", f"{psn_no} 在 {from_admdvs} 参保状态为{status}，不能转出")
    if day < insurance.psn_insu_date:
        raise Refused("transfer_date", f"{day} 早于在 {from_admdvs} 的参保日期 {insurance.psn_insu_date}")
    amount = store.account_balance(psn_no)
    paid = tuple(store.contribution_months(psn_no, insutype, from_admdvs))
    record = InsuranceTransfer(
        transfer_id=transfer_id, role="out", psn_no=psn_no, insutype=insutype, from_admdvs=from_admdvs,
        to_admdvs=to_admdvs, transfer_date=day, first_month=insurance.psn_insu_date, last_month=day,
        months=insurance.contrib_months, months_before=0, overlap=0, months_after=0, gap=0, amount=amount,
        note=f"转出至 {to_admdvs}：缴费 {insurance.contrib_months} 个月，个人账户 {amount} 分；本地参保终止于 {day}",
        created_by=str(payload.get("who", ""))[:50], created_at=now, paid_months=paid,
    )  # fmt: skip
    store.post(f"transfer:{transfer_id}:out", transfer_out_posting(psn_no, to_admdvs, amount), now)
    store.save_insurance(replace(insurance, psn_insu_stas=PsnInsuStas.TERMINATED.value, paus_insu_date=day))
    store.insert_insurance_transfer(record)
    return _out_answer(store, record)


def _out_answer(store: Store, record: InsuranceTransfer) -> dict[str, Any]:
    """The same for every retry (the hub's message log compares them): the record, the registry rows, and
    the insurance here as the transfer ended it."""
    person = store.person(record.psn_no)
    insurance = store.insurance(record.psn_no, record.insutype)
    assert person is not None and insurance is not None
    ended = replace(
        insurance, psn_insu_stas=PsnInsuStas.TERMINATED.value, insuplc_admdvs=record.from_admdvs,
        psn_insu_date=record.first_month, paus_insu_date=record.transfer_date, contrib_months=record.months,
    )  # fmt: skip
    return {
        "transfer": plain(record),
        "person": plain(person),
        "identities": [plain(i) for i in store.identities(record.psn_no)],
        "insurance": plain(ended),
    }


# ---------------------------------------------------------------- reading, and from an application's data


def transfers_of(store: Store, psn_no: str) -> list[InsuranceTransfer]:
    return store.insurance_transfers_of(psn_no)


class Application(Protocol):
    """What ``effect`` reads of a service application (``yibao.app.service_records.Application``)."""

    @property
    def application_id(self) -> str: ...
    @property
    def psn_no(self) -> str: ...
    @property
    def form(self) -> Mapping[str, str]: ...
    @property
    def updated_by(self) -> str: ...


@dataclass(slots=True)
class Hub:
    """What an approval's effect is given on a node of several: its way to the hub, and the transfers made
    through the hub before the approval's transaction (``HubFirst.make``), by transfer id."""

    federation: Federation
    made: dict[str, InsuranceTransfer] = field(default_factory=dict)


class HubFirst(Exception):
    """Raised by ``effect`` in the approval's transaction when the other region is another node's and the
    transfer is not made yet. The caller rolls that transaction back (nothing of it is written), calls
    ``make`` with no transaction open — this node never waits for another while it holds its write lock —
    and approves again: the effect then finds the transfer made. ``make`` is idempotent by the transfer id
    (the application's), so an approval whose second transaction failed completes on the next attempt."""

    def __init__(self, cmd: TransferIn, who: str, now: datetime) -> None:
        super().__init__(f"转移接续 {cmd.transfer_id} 须先经国家平台办理")
        self.cmd, self.who, self.now = cmd, who, now

    def make(self, db: UnitOfWork, hub: Hub) -> InsuranceTransfer:
        """The transfer through the hub: ``transfer_in`` where the person arrives, ``transfer_away`` where
        they leave. Remembered in ``hub.made``; ``Unreachable``: try the approval again."""
        if hub.federation.serves(self.cmd.to_admdvs):
            done = transfer_in(db, hub.federation, self.cmd, self.who, self.now)
        else:
            done = transfer_away(db, hub.federation, self.cmd, self.who, self.now)
        hub.made[self.cmd.transfer_id] = done
        return done


def effect(store: Store, application: Application, now: datetime, hub: Hub | None = None) -> dict[str, str]:
    """The services' approval of a 转移接续 application (form: insutype, from_admdvs, to_admdvs and
    optionally transfer_date, emp_name), in the approval's transaction, on either side. The transfer id
    is the application's. Both regions on this node (or no ``hub``): both sides here, in this
    transaction. Otherwise the transfer is made through the hub before it (``HubFirst``): where the
    person arrives the side recorded here is the result; where they leave, the new region's answer that
    ``make`` remembered (with this node's side recorded)."""
    f = application.form
    data = {**f, "transfer_id": application.application_id, "psn_no": application.psn_no}
    data["transfer_date"] = f.get("transfer_date") or local_date(now).isoformat()
    try:
        cmd = from_data(data)
        check(cmd, local_date(now))
    except DomainError as exc:
        raise Refused(f"form.{exc.field}" if exc.field in f else exc.field, exc.reason) from None
    who = application.updated_by
    if hub is None or (hub.federation.serves(cmd.from_admdvs) and hub.federation.serves(cmd.to_admdvs)):
        done = transfer_local(store, cmd, who, now)
    elif hub.federation.serves(cmd.to_admdvs):
        found = store.insurance_transfer(cmd.transfer_id, "in")
        if found is None:
            raise HubFirst(cmd, who, now)
        done = _same(found, cmd)
    elif hub.federation.serves(cmd.from_admdvs):
        made = hub.made.get(cmd.transfer_id)
        if made is None or store.insurance_transfer(cmd.transfer_id, "out") is None:
            raise HubFirst(cmd, who, now)
        done = _same(made, cmd)
    else:
        raise Refused("form.to_admdvs", f"转出地 {cmd.from_admdvs} 与转入地 {cmd.to_admdvs} 都不在本节点")
    return {
        "transfer_id": done.transfer_id, "months_carried": str(done.months), "months_after": str(done.months_after),
        "account_moved": str(fen_to_yuan(done.amount)), "note": done.note,
    }  # fmt: skip


def check(cmd: TransferIn, today: date) -> None:
    if not 1 <= len(cmd.transfer_id) <= 64:
        raise Refused("transfer_id", "应为 1–64 个字符")
    for name in ("from_admdvs", "to_admdvs"):
        value = getattr(cmd, name)
        if not (len(value) == 6 and value.isdigit()):
            raise Refused(name, f"{value!r} 应为 6 位统筹区代码")
    if cmd.from_admdvs == cmd.to_admdvs:
        raise Refused("to_admdvs", "转入地与转出地相同")
    if cmd.transfer_date > today:
        raise Refused("transfer_date", f"{cmd.transfer_date} 晚于今天 {today}")
    if not cmd.psn_no:
        raise Refused("psn_no", "必填")


def from_data(data: Mapping[str, Any]) -> TransferIn:
    """The application from plain values (dates ISO); a wrong value is refused naming its field."""

    def text(name: str, default: str = "") -> str:
        value = data.get(name)
        return default if value is None or str(value).strip() == "" else str(value).strip()

    raw = text("transfer_date")
    try:
        day = date.fromisoformat(raw[:10])
    except ValueError:
        raise Refused("transfer_date", f"{raw!r} 不是日期（yyyy-mm-dd）") from None
    return TransferIn(
        transfer_id=text("transfer_id"), psn_no=text("psn_no"), from_admdvs=text("from_admdvs"),
        to_admdvs=text("to_admdvs"), transfer_date=day, insutype=text("insutype", "310"), emp_name=text("emp_name"),
        psn_type=text("psn_type"),
    )  # fmt: skip


def _command(payload: Mapping[str, Any]) -> TransferIn:
    return TransferIn(
        transfer_id=str(payload["transfer_id"]), psn_no=str(payload["psn_no"]),
        from_admdvs=str(payload["from_admdvs"]), to_admdvs=str(payload["to_admdvs"]),
        transfer_date=date.fromisoformat(str(payload["transfer_date"])), insutype=str(payload["insutype"]),
        emp_name=str(payload.get("emp_name", "")), psn_type=str(payload.get("psn_type", "")),
    )  # fmt: skip


def _same(done: InsuranceTransfer, cmd: TransferIn) -> InsuranceTransfer:
    if (done.psn_no, done.insutype, done.from_admdvs, done.to_admdvs) != (cmd.psn_no, cmd.insutype, cmd.from_admdvs,
                                                                           cmd.to_admdvs):  # fmt: skip
        used = f"{done.psn_no} {done.from_admdvs}→{done.to_admdvs}"
        raise Refused("transfer_id", f"{cmd.transfer_id} 已用于另一笔转移（{used}）")
    return done


def _out_of(answer: Mapping[str, Any]) -> InsuranceTransfer:
    return _transfer_of(answer["transfer"])


def _transfer_of(record: Mapping[str, Any]) -> InsuranceTransfer:
    d = dict(record)
    for name in ("transfer_date", "first_month", "last_month"):
        d[name] = date.fromisoformat(str(d[name]))
    d["created_at"] = datetime.fromisoformat(str(d["created_at"]))
    d["paid_months"] = tuple(str(m) for m in d.get("paid_months", ()))
    for name in ("months", "months_before", "overlap", "months_after", "gap", "amount"):
        if isinstance(d[name], bool) or int(d[name]) != d[name]:
            raise DomainError(name, f"{d[name]!r} 不是整数")
        d[name] = int(d[name])
    return InsuranceTransfer(**{k: d[k] for k in InsuranceTransfer.__dataclass_fields__})
