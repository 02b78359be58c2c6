"""零星报销: manual reimbursement of bills the person paid in full (care abroad, before a filing, without
the card) — docs/services.md.

A clerk of the insured region enters the bill: the person, the place of care (a region's admdvs, or ""
for abroad or unknown) and institution, the dates, the med_type, and either the bill's lines (catalogue
codes, quantities, prices) or amounts already classified. The calculator settles it like any settlement
— the policy of the insured region in force on the bill's last day, the catalogue of the place of care
(or the insured region's when this node has none for it), the person's year-to-date counters of that
day — with the flags ``manual_claim`` (and ``abroad``, or the cross-region flags of a filing or its
absence) for the policy to adjust on. In one transaction: the claim, its fund rows, the counter deltas
and the posting: each fund and the personal account (if the person asks) pay ``bank:<psn_no>``, what is
paid to the person's bank account.

A claim is made once per ``request_id`` (the application's id): the same request again gets the
stored claim, another request under the same id is refused. A claim paid in error is reversed: a new
claim with the opposite amounts, the negated counter deltas and the exact opposite posting.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol

from yibao.app.errors import NotFound, Refused
from yibao.app.filings import cross_region_flags
from yibao.app.records import FundRowRecord, InsuranceRecord, local_date
from yibao.domain.claim import Amounts, Claim, FeeLine, Person, Visit
from yibao.domain.codes import FundPayType, PsnInsuStas
from yibao.domain.errors import DomainError, PolicyError
from yibao.domain.filings import EMERGENCY_MED_TYPES
from yibao.domain.frozen import frozen
from yibao.domain.manual_claims import (
    ABROAD_FLAG,
    MANUAL_FLAG,
    check_dates,
    kind_of,
    manual_claim_posting,
    manual_claim_reversal,
)
from yibao.domain.money import Fen, fen_to_yuan
from yibao.domain.policy import select_policy
from yibao.domain.settlement import SETLINFO_FIELDS, calculate

if TYPE_CHECKING:
    from yibao.app.cross_region import Federation
    from yibao.app.ports import Store

ACCOUNT = FundPayType.EMPLOYEE_ACCOUNT.value
MAX_LINES = 2000
AMOUNT_FIELDS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt")


@frozen
class BillLine:
    """One line of the bill, as the clerk enters it (yuan)."""

    med_list_codg: str
    cnt: Decimal
    pric: Decimal
    det_item_fee_sumamt: Decimal | None = None
    """The line's total on the bill; pric × cnt when absent."""
    name: str = ""


@frozen
class ManualClaimIn:
    request_id: str
    """The caller's id of the request (the application's): the same request is settled once."""
    psn_no: str
    insutype: str
    med_type: str
    begndate: date
    enddate: date
    mdtrtarea_admvs: str = ""
    """The region of the place of care; "" abroad or unknown."""
    fixmedins_code: str = ""
    fixmedins_name: str = ""
    hosp_lv: int = 0
    """The institution's level when it is not in this node's registry (0 unrated)."""
    lines: tuple[BillLine, ...] = ()
    amounts: Amounts | None = None
    """Instead of lines: the bill's amounts already classified (yuan)."""
    acct_used_flag: bool = False
    """The personal account pays what the policy lets it (it is paid to the person with the rest)."""
    reason: str = ""
    """零星报销原因: why it was not settled at the counter."""


@frozen
class ManualClaim:
    """A stored manual claim (or its reversal, with ``revs_claim_id`` set and opposite amounts)."""

    claim_id: str
    request_id: str
    request_hash: str
    revs_claim_id: str | None
    psn_no: str
    insutype: str
    med_type: str
    kind: str
    insuplc_admdvs: str
    mdtrtarea_admvs: str
    fixmedins_code: str
    fixmedins_name: str
    hosp_lv: int
    begndate: date
    enddate: date
    reason: str
    flags: str
    catalog: str
    policy_name: str
    amounts: dict[str, Fen]
    """setlinfo amounts by national field name."""
    lines: str
    """The bill's lines and their classification, JSON."""
    setl_proc_info: str
    created_by: str
    created_at: datetime
    """UTC."""

    @property
    def paid(self) -> Fen:
        """Paid to the person's bank account (the funds and the personal account)."""
        return self.amounts["fund_pay_sumamt"] + self.amounts["acct_pay"]


@frozen
class ManualClaimResult:
    claim: ManualClaim
    funds: list[FundRowRecord]
    replayed: bool = False
    """The request was settled before: this is the stored claim."""

    def output(self) -> dict[str, Any]:
        """As a 2207 answer: setlinfo and setldetail in yuan, with the claim's id and the calculator's trace."""
        c = self.claim
        setlinfo: dict[str, Any] = {name: fen_to_yuan(value) for name, value in c.amounts.items()}
        setlinfo.update(
            claim_id=c.claim_id, psn_no=c.psn_no, insutype=c.insutype, med_type=c.med_type,
            insuplc_admdvs=c.insuplc_admdvs, mdtrtarea_admvs=c.mdtrtarea_admvs, policy_name=c.policy_name,
            paid_to_person=fen_to_yuan(c.paid), revs_claim_id=c.revs_claim_id,
        )  # fmt: skip
        details = [d.setldetail() for d in self.funds]
        return {"setlinfo": setlinfo, "setldetail": details, "trace": c.setl_proc_info.split("\n")}


class ManualClaimStore(Protocol):
    def insert_manual_claim(
        self, claim: ManualClaim, funds: Sequence[FundRowRecord], counter_deltas: dict[tuple[str, str], Fen]
    ) -> None:
        """The claim, its fund rows and its counter deltas (``counter_delta`` rows under its id)."""

    def manual_claim(self, claim_id: str) -> ManualClaim | None: ...
    def manual_claim_by_request(self, request_id: str) -> ManualClaim | None: ...
    def manual_claim_funds(self, claim_id: str) -> list[FundRowRecord]: ...
    def manual_claim_reversal(self, claim_id: str) -> str | None:
        """The id of the claim's reversal, if reversed."""

    def manual_claims_of(self, psn_no: str, limit: int = 200) -> list[ManualClaim]:
        """The person's claims and reversals, the latest first."""

    def inpatient_stays_before(self, psn_no: str, begin: datetime) -> int:
        """The person's stays of ``begin``'s calendar year that began before it (naive UTC): visits not
        cancelled and inpatient manual claims not reversed."""


# ---------------------------------------------------------------- settling a bill


def settle_claim(
    store: Store, cmd: ManualClaimIn, who: str, now: datetime, federation: Federation | None = None
) -> ManualClaimResult:
    """Settle the bill and write it all (see the module's docstring); ``now`` is UTC."""
    request_hash = _hash(cmd)
    done = _replay(store, cmd.request_id, request_hash)
    if done is not None:
        return done
    store.lock_person(cmd.psn_no)
    done = _replay(store, cmd.request_id, request_hash)  # a twin committed while this one waited for the lock
    if done is not None:
        return done
    person = store.person(cmd.psn_no)
    if person is None:
        raise NotFound("psn_no", f"{cmd.psn_no} 人员不存在")
    insurance = _insured_then(store, cmd)
    if federation is not None and not federation.serves(insurance.insuplc_admdvs):
        raise Refused("psn_no", f"{cmd.psn_no} 参保地 {insurance.insuplc_admdvs} 不在本节点：零星报销由参保地办理")
    try:
        kind = kind_of(cmd.med_type)
        check_dates(cmd.begndate, cmd.enddate, local_date(now))
        policy = select_policy(store.policies(), insurance.insuplc_admdvs, cmd.insutype, cmd.enddate)
    except PolicyError as exc:
        raise Refused("insutype", exc.reason) from None
    _check_bill(cmd)
    hosp_lv, name = cmd.hosp_lv, cmd.fixmedins_name
    institution = store.institution(cmd.fixmedins_code) if cmd.fixmedins_code else None
    if institution is not None:  # an institution this node knows: its level, name and region
        hosp_lv, name = institution.hosp_lv, name or institution.fixmedins_name
        cmd = replace(cmd, mdtrtarea_admvs=cmd.mdtrtarea_admvs or institution.admdvs)
    catalog = store.catalog(cmd.mdtrtarea_admvs) if cmd.mdtrtarea_admvs else None
    if catalog is None or not catalog.items:
        catalog = store.catalog(insurance.insuplc_admdvs)
    begin = datetime.combine(cmd.begndate, time()) - timedelta(hours=8)  # local midnight, as UTC
    flags = _flags(store, cmd, insurance, kind, begin)
    day = cmd.enddate
    stored = store.counters(cmd.psn_no, cmd.insutype, (f"{day:%Y}", f"{day:%Y-%m}"))  # as settle.counters_before
    before = {key: total for (key, period), total in stored.items() if policy.counter_period(key, day) == period}
    balance = store.account_balance(cmd.psn_no)
    claim = Claim(
        person=Person(
            psn_no=person.psn_no, insutype=cmd.insutype, psn_type=insurance.psn_type,
            insuplc_admdvs=insurance.insuplc_admdvs, brdy=person.brdy, gend=person.gend,
            idet_types=tuple(i.psn_idet_type for i in store.identities(person.psn_no) if i.valid_on(day)),
            contrib_months=insurance.contrib_months, cvlserv_flag=insurance.cvlserv_flag,
            acct_balc=fen_to_yuan(balance),
        ),
        visit=Visit(
            med_type=cmd.med_type, hosp_lv=hosp_lv, setl_date=day,
            mdtrtarea_admvs=catalog.admdvs or insurance.insuplc_admdvs, flags=flags,
            admission_seq=1 + store.inpatient_stays_before(cmd.psn_no, begin) if kind == "inpatient" else 1,
            los_days=max(1, (cmd.enddate - cmd.begndate).days) if kind == "inpatient" else 1,
            acct_used_flag=cmd.acct_used_flag,
        ),
        feedetail=tuple(
            FeeLine(str(i + 1), line.med_list_codg, line.cnt, line.pric, line.det_item_fee_sumamt)
            for i, line in enumerate(cmd.lines)
        ),
        amounts=cmd.amounts,
        accumulators={key: fen_to_yuan(total) for key, total in before.items()},
    )  # fmt: skip
    try:
        result = calculate(claim, policy, catalog)
    except DomainError as exc:
        raise Refused(_field(exc.field), exc.reason) from None
    claim_id = store.new_id("MC", insurance.insuplc_admdvs)
    where = cmd.mdtrtarea_admvs or f"境外或未知地区（按参保地 {insurance.insuplc_admdvs} 目录）"
    trace = (f"零星报销：就医地 {where}，{cmd.begndate}–{cmd.enddate}，按 {day} 的政策和累计", *result.trace)
    names = [line.name for line in cmd.lines]
    record = ManualClaim(
        claim_id=claim_id, request_id=cmd.request_id, request_hash=request_hash, revs_claim_id=None,
        psn_no=cmd.psn_no, insutype=cmd.insutype, med_type=cmd.med_type, kind=kind,
        insuplc_admdvs=insurance.insuplc_admdvs, mdtrtarea_admvs=cmd.mdtrtarea_admvs,
        fixmedins_code=cmd.fixmedins_code, fixmedins_name=name[:200], hosp_lv=hosp_lv, begndate=cmd.begndate,
        enddate=cmd.enddate, reason=cmd.reason.strip()[:200], flags=" ".join(flags),
        catalog=f"{catalog.admdvs} {catalog.version}".strip()[:60], policy_name=result.policy_name,
        amounts={n: getattr(result.setlinfo, n) for n in SETLINFO_FIELDS},
        lines=json.dumps([_line(r, names[i] if i < len(names) else "") for i, r in enumerate(result.lines)],
                         ensure_ascii=False),
        setl_proc_info="\n".join(trace), created_by=who[:50], created_at=now,
    )  # fmt: skip
    funds = [
        FundRowRecord(
            claim_id, d.fund_pay_type.value, d.inscp_scp_amt, d.crt_payb_lmt_amt, d.fund_payamt, d.setl_proc_info
        )
        for d in result.setldetail
    ]
    deltas = {
        (key, policy.counter_period(key, day)): total - before.get(key, 0)
        for key, total in result.accumulators.items()
        if total != before.get(key, 0)
    }
    store.insert_manual_claim(record, funds, deltas)
    paid = [(f.fund_pay_type, f.fund_payamt) for f in funds if f.fund_pay_type != ACCOUNT]
    store.post(claim_id, manual_claim_posting(insurance.insuplc_admdvs, cmd.psn_no, paid, record.amounts["acct_pay"]),
               now)  # fmt: skip
    return ManualClaimResult(record, funds)


def reverse_claim(store: Store, claim_id: str, who: str, now: datetime, reason: str = "") -> ManualClaimResult:
    """Undo a claim paid in error: the opposite amounts, counters and posting, as a new claim naming it.
    At most once (the reversal's request id is the claim's)."""
    original = store.manual_claim(claim_id)
    if original is None:
        raise NotFound("claim_id", f"{claim_id} 零星报销记录不存在")
    if original.revs_claim_id is not None:
        raise Refused("claim_id", f"{claim_id} 本身是撤销记录")
    store.lock_person(original.psn_no)
    if store.manual_claim_reversal(claim_id) is not None:
        raise Refused("claim_id", f"{claim_id} 已撤销")
    new_id = store.new_id("MC", original.insuplc_admdvs)
    amounts = {name: -value for name, value in original.amounts.items()}
    amounts["balc"] = store.account_balance(original.psn_no) + original.amounts["acct_pay"]
    row = ManualClaim(
        **{
            **{f.name: getattr(original, f.name) for f in fields(ManualClaim)},
            "claim_id": new_id,
            "request_id": f"revs:{claim_id}",
            "revs_claim_id": claim_id,
            "amounts": amounts,
            "setl_proc_info": f"撤销零星报销 {claim_id}" + (f"：{reason.strip()[:200]}" if reason.strip() else ""),
            "created_by": who[:50],
            "created_at": now,
        }
    )
    funds = [
        FundRowRecord(new_id, d.fund_pay_type, -d.inscp_scp_amt, d.crt_payb_lmt_amt, -d.fund_payamt, d.setl_proc_info)
        for d in store.manual_claim_funds(claim_id)
    ]
    deltas = {key: -delta for key, delta in store.counter_deltas_of(claim_id).items()}
    store.insert_manual_claim(row, funds, deltas)
    store.post(new_id, manual_claim_reversal(store.transfers_of(claim_id)), now)
    return ManualClaimResult(row, funds)


def claims_of(store: Store, psn_no: str, limit: int = 200) -> list[ManualClaim]:
    return store.manual_claims_of(psn_no, limit)


def claim_result(store: Store, claim_id: str) -> ManualClaimResult:
    claim = store.manual_claim(claim_id)
    if claim is None:
        raise NotFound("claim_id", f"{claim_id} 零星报销记录不存在")
    return ManualClaimResult(claim, store.manual_claim_funds(claim_id))


# ---------------------------------------------------------------- from an application's data


def from_data(data: Mapping[str, Any]) -> ManualClaimIn:
    """The request from plain values (an application's form, JSON): dates ISO, amounts in yuan as text
    or numbers; a wrong value is refused naming its field."""
    lines = data.get("lines") or ()
    if isinstance(lines, str):  # a form's field holds the lines as JSON text
        try:
            lines = json.loads(lines)
        except ValueError:
            raise Refused("lines", "费用明细应为 JSON 列表") from None
    if not isinstance(lines, Sequence) or isinstance(lines, str):
        raise Refused("lines", "应为明细的列表")
    raw = data.get("amounts")
    if not raw and not lines and data.get("medfee_sumamt"):  # a form's flat fields: the bill's amounts
        raw = {name: data[name] for name in AMOUNT_FIELDS if data.get(name)}
    amounts = None
    if raw:
        if not isinstance(raw, Mapping):
            raise Refused("amounts", "应为对象")
        amounts = Amounts(
            medfee_sumamt=_yuan(raw, "medfee_sumamt", "amounts", required=True),
            fulamt_ownpay_amt=_yuan(raw, "fulamt_ownpay_amt", "amounts") or Decimal(0),
            overlmt_selfpay=_yuan(raw, "overlmt_selfpay", "amounts") or Decimal(0),
            preselfpay_amt=_yuan(raw, "preselfpay_amt", "amounts") or Decimal(0),
            inscp_scp_amt=_yuan(raw, "inscp_scp_amt", "amounts"),
        )
    hosp_lv = _text(data, "hosp_lv") or "0"
    if not hosp_lv.isdigit():
        raise Refused("hosp_lv", f"{hosp_lv!r} 应为 0–3 的整数")
    return ManualClaimIn(
        request_id=_text(data, "request_id", required=True),
        psn_no=_text(data, "psn_no", required=True),
        insutype=_text(data, "insutype") or "310",
        med_type=_text(data, "med_type", required=True),
        begndate=_date(data, "begndate"),
        enddate=_date(data, "enddate") if _text(data, "enddate") else _date(data, "begndate"),
        mdtrtarea_admvs=_text(data, "mdtrtarea_admvs") or _text(data, "mdtrtarea_admdvs"),
        fixmedins_code=_text(data, "fixmedins_code"),
        fixmedins_name=_text(data, "fixmedins_name"),
        hosp_lv=int(hosp_lv),
        lines=tuple(_bill_line(i, x) for i, x in enumerate(lines)),
        amounts=amounts,
        acct_used_flag=str(data.get("acct_used_flag", "0")).strip().lower() in ("1", "true", "yes", "on"),
        reason=_text(data, "reason"),
    )


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


def effect(store: Store, application: Application, now: datetime) -> dict[str, str]:
    """The services' approval of a 零星报销 application, in its transaction: the form's bill (insutype,
    med_type, fixmedins_code, mdtrtarea_admdvs, begndate, enddate, medfee_sumamt — or ``lines``, JSON)
    settled under the application's id, by the clerk who approved it. What was paid, as text."""
    f = application.form
    try:
        cmd = from_data({**f, "request_id": application.application_id, "psn_no": application.psn_no})
        done = settle_claim(store, cmd, application.updated_by, now)
    except DomainError as exc:
        name = exc.field.split("[")[0].split(".")[0]
        rest = exc.field[len(name) :]
        name = "mdtrtarea_admdvs" if name == "mdtrtarea_admvs" and name not in f else name  # the form's spelling
        raise Refused(f"form.{name}{rest}" if name in f else exc.field, exc.reason) from None
    c = done.claim
    shown = {name: str(fen_to_yuan(c.amounts[name])) for name in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")}
    return {"claim_id": c.claim_id, **shown, "paid_to_person": str(fen_to_yuan(c.paid)),
            "psn_cash_pay": str(fen_to_yuan(c.amounts["psn_cash_pay"]))}  # fmt: skip


# ---------------------------------------------------------------- helpers


def _replay(store: Store, request_id: str, request_hash: str) -> ManualClaimResult | None:
    found = store.manual_claim_by_request(request_id)
    if found is None:
        return None
    if found.request_hash != request_hash:
        raise Refused("request_id", f"{request_id} 已用于另一份零星报销申请（{found.claim_id}）")
    return ManualClaimResult(found, store.manual_claim_funds(found.claim_id), replayed=True)


def _hash(cmd: ManualClaimIn) -> str:
    return hashlib.sha256(json.dumps(asdict(cmd), sort_keys=True, default=str).encode()).hexdigest()


def _insured_then(store: Store, cmd: ManualClaimIn) -> InsuranceRecord:
    """The person's insurance, in force over the bill's dates (a claim may come after the insurance ended)."""
    insurance = store.insurance(cmd.psn_no, cmd.insutype)
    if insurance is None:
        raise NotFound("insutype", f"人员 {cmd.psn_no} 无险种 {cmd.insutype} 的参保记录")
    if cmd.begndate < insurance.psn_insu_date:
        raise Refused("begndate", f"{cmd.begndate} 早于参保日期 {insurance.psn_insu_date}")
    ended = insurance.paus_insu_date
    if insurance.psn_insu_stas != PsnInsuStas.NORMAL and (ended is None or cmd.enddate > ended):
        status = PsnInsuStas.describe(insurance.psn_insu_stas)
        since = f"（{ended} 起）" if ended else ""
        raise Refused("psn_no", f"{cmd.psn_no} 参保状态为{status}{since}，不能报销")
    return insurance


def _check_bill(cmd: ManualClaimIn) -> None:
    if not 1 <= len(cmd.request_id) <= 64:
        raise Refused("request_id", "应为 1–64 个字符")
    if cmd.mdtrtarea_admvs and not (len(cmd.mdtrtarea_admvs) == 6 and cmd.mdtrtarea_admvs.isdigit()):
        raise Refused("mdtrtarea_admvs", f"{cmd.mdtrtarea_admvs!r} 应为 6 位行政区划代码，境外或未知地区留空")
    if not 0 <= cmd.hosp_lv <= 3:
        raise Refused("hosp_lv", f"{cmd.hosp_lv} 应为 0–3")
    if cmd.lines and cmd.amounts is not None:
        raise Refused("amounts", "费用明细 lines 与分类金额 amounts 只能填一种")
    if not cmd.lines and cmd.amounts is None:
        raise Refused("lines", "请填写费用明细 lines 或分类金额 amounts")
    if len(cmd.lines) > MAX_LINES:
        raise Refused("lines", f"至多 {MAX_LINES} 条明细")
    for i, line in enumerate(cmd.lines):
        if not line.med_list_codg.strip():
            raise Refused(f"lines[{i}].med_list_codg", "医保目录编码不能为空")
        if line.cnt <= 0:
            raise Refused(f"lines[{i}].cnt", f"数量 {line.cnt} 应大于 0")
        if line.pric < 0:
            raise Refused(f"lines[{i}].pric", f"单价 {line.pric} 不能为负")
        if line.det_item_fee_sumamt is not None and line.det_item_fee_sumamt < 0:
            raise Refused(f"lines[{i}].det_item_fee_sumamt", "金额不能为负")
    if cmd.amounts is not None and (cmd.amounts.medfee_sumamt is None or cmd.amounts.medfee_sumamt <= 0):
        raise Refused("amounts.medfee_sumamt", "医疗费总额应大于 0")


def _flags(store: Store, cmd: ManualClaimIn, insurance: InsuranceRecord, kind: str, begin: datetime) -> tuple[str, ...]:
    """``manual_claim``; ``abroad`` for care with no region; else the cross-region flags of the care
    (a filing made after it leaves it ``cross_region_unfiled``)."""
    if not cmd.mdtrtarea_admvs:
        return (MANUAL_FLAG, ABROAD_FLAG)
    cross = cross_region_flags(
        store, psn_no=cmd.psn_no, insutype=cmd.insutype, insuplc_admdvs=insurance.insuplc_admdvs,
        mdtrtarea_admvs=cmd.mdtrtarea_admvs, kind=kind, emergency=cmd.med_type in EMERGENCY_MED_TYPES,
        begntime=begin, setl_date=cmd.enddate,
    )  # fmt: skip
    return (MANUAL_FLAG, *cross)


def _field(name: str) -> str:
    """The calculator's field path as the request names it (its fee lines are ``lines``)."""
    if name.startswith("feedetail"):
        return "lines" + name[len("feedetail") :]
    return name if name.startswith(("lines", "amounts")) else f"claim.{name}"


def _line(r: Any, name: str) -> dict[str, Any]:
    return {
        "feedetl_sn": r.feedetl_sn, "med_list_codg": r.med_list_codg, "name": name[:200], "cnt": str(r.cnt),
        "pric": str(r.pric), "det_item_fee_sumamt": r.det_item_fee_sumamt, "chrgitm_lv": r.chrgitm_lv,
        "fulamt_ownpay_amt": r.fulamt_ownpay_amt, "overlmt_amt": r.overlmt_amt, "preselfpay_amt": r.preselfpay_amt,
        "inscp_scp_amt": r.inscp_scp_amt, "memo": r.memo[:200],
    }  # fmt: skip


def _text(data: Mapping[str, Any], name: str, *, required: bool = False) -> str:
    value = data.get(name)
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise Refused(name, "必填")
    return text


def _date(data: Mapping[str, Any], name: str) -> date:
    text = _text(data, name, required=True)
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise Refused(name, f"{text!r} 不是日期（yyyy-mm-dd）") from None


def _yuan(data: Mapping[str, Any], name: str, where: str, *, required: bool = False) -> Decimal | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise Refused(f"{where}.{name}", "必填")
        return None
    if isinstance(value, float | bool):
        raise Refused(f"{where}.{name}", "金额请用文本或整数，不用浮点数")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise Refused(f"{where}.{name}", f"{value!r} 不是金额") from None
    if not amount.is_finite():
        raise Refused(f"{where}.{name}", f"{value!r} 不是金额")
    return amount


def _bill_line(i: int, x: Any) -> BillLine:
    where = f"lines[{i}]"
    if not isinstance(x, Mapping):
        raise Refused(where, "应为对象")
    cnt, pric = _yuan(x, "cnt", where, required=True), _yuan(x, "pric", where, required=True)
    assert cnt is not None and pric is not None
    return BillLine(
        med_list_codg=_text(x, "med_list_codg"), cnt=cnt, pric=pric,
        det_item_fee_sumamt=_yuan(x, "det_item_fee_sumamt", where), name=_text(x, "name"),
    )  # fmt: skip
