"""Cross-region settlement (异地就医直接结算): 就医地目录、参保地政策、就医地管理.

A node serves some pooling regions. When a person insured in another region is treated here, the
treating node (this one, "T") keeps the visit, the fee lines and their classification under its own
catalogue, and asks the insured node ("I"), through the national hub, for everything the insured
region's policy decides: the deductible, ratios, ceilings, layers, accumulators and the personal
account. The insured node settles its side (counters, account, funds → ``clearing:<treating region>``)
and answers; the treating node records the same amounts (``clearing:<insured region>`` → the
institution's payable). Calls carry a message id derived from the institution's own msgid, so a
retried 2207 gets the insured node's first answer and nothing is settled twice; a 2601 or 2208 asks
the insured node to reverse its side by the same id.

The network is an adapter's business: the use cases are handed a ``Federation`` (Context.federation).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from yibao.app.errors import Refused
from yibao.app.records import (
    Context,
    FeeLineRecord,
    IdentityRecord,
    InstitutionRecord,
    InsuranceRecord,
    PersonRecord,
    VisitRecord,
    local_time,
)
from yibao.domain.claim import FeeLine, age_on
from yibao.domain.classification import LineContext, LineResult, classify_line
from yibao.domain.codes import FundPayType
from yibao.domain.money import fen_to_yuan, yuan_to_fen
from yibao.domain.settlement import SETLINFO_FIELDS, FundRow, SetlInfo, Settlement

if TYPE_CHECKING:
    from yibao.app.ports import Store


class Unreachable(Refused):
    """The hub or the insured node did not answer: nothing was settled here."""


class Federation(Protocol):
    node_id: str

    def serves(self, admdvs: str) -> bool:
        """This node serves the pooling region (its own registry, policies and funds)."""
        ...

    def call(self, op: str, to_admdvs: str, msgid: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The answer of the node serving ``to_admdvs``; Refused with its reason, or Unreachable."""
        ...


def remote_region(ctx: Context, insuplc_admdvs: str) -> bool:
    return ctx.federation is not None and bool(insuplc_admdvs) and not ctx.federation.serves(insuplc_admdvs)


def visit_id(ctx: Context, admdvs: str) -> str:
    """A visit id made from the message (the same in every attempt of it), for a visit opened in the
    message that settles it across regions (2102): the insured node keeps the visit under it too."""
    digest = int(hashlib.sha256(f"{ctx.fixmedins_code}|{ctx.msgid}".encode()).hexdigest()[:12], 16)
    return f"{admdvs[:6]:0<6}M{local_time(ctx.now):%Y%m%d%H%M%S}{digest % 10**8:08d}"


def hub_msgid(op: str, fixmedins_code: str, msgid: str) -> str:
    """The id of a hub call made for an institution's message: the same for every retry of it."""
    return f"{op}:{hashlib.sha256(f'{fixmedins_code}|{msgid}'.encode()).hexdigest()[:40]}"


class HubNeeded(Exception):
    """Raised inside a writing transaction that needs the hub: the caller (the dispatcher) rolls the
    transaction back, makes the call with no lock held, and runs the message again with the answer in
    ``Context.hub_answers``. A node never waits for another node while holding its own write lock —
    two nodes settling each other's insured at once would otherwise wait for each other."""

    def __init__(self, op: str, to_admdvs: str, msgid: str, payload: dict[str, Any]) -> None:
        super().__init__(f"{op} {msgid}")
        self.op, self.to_admdvs, self.msgid, self.payload = op, to_admdvs, msgid, payload


READ_OPS = frozenset({"person", "registry", "presettle"})
"""Calls that write nothing at the other node: it answers them without its write lock, so they may be
made while this node holds its own."""


def ask_hub(ctx: Context, op: str, to_admdvs: str, msgid: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The hub's answer: asked now if the other node writes nothing for it (or this use case writes
    nothing), else the answer the dispatcher got between two attempts (``HubNeeded`` the first time)."""
    if ctx.hub_answers is None or op in READ_OPS:
        assert ctx.federation is not None
        return ctx.federation.call(op, to_admdvs, msgid, payload)
    found = ctx.hub_answers.get(msgid)
    if found is None:
        raise HubNeeded(op, to_admdvs, msgid, payload)
    asked, answer = found
    if asked != payload:  # the lines changed between the attempts: what the hub answered is not this
        raise Refused("input.data.mdtrt_id", "就诊的费用明细在结算过程中发生变化，请重新结算")
    return answer


# ---------------------------------------------------------------- the treating node: who is this?


def remote_person_info(ctx: Context, insuplc_admdvs: str, query: dict[str, Any]) -> dict[str, object]:
    """1101 for a person insured elsewhere: the insured node answers (its registry, its account)."""
    return ask_hub(ctx, "person", insuplc_admdvs, hub_msgid("person", ctx.fixmedins_code, ctx.msgid), query)


def guest(store: Store, ctx: Context, psn_no: str, node: str) -> PersonRecord | None:
    """A person insured elsewhere, fetched from their insured node and kept here (the registry part a
    visit needs: person, insurance, identities), refreshed at each registration. None if not remote."""
    region = ctx.insuplc_admdvs or psn_no[:6]
    if not region.isdigit() or not remote_region(ctx, region):
        return None
    answer = ask_hub(ctx, "registry", region, hub_msgid("registry", ctx.fixmedins_code, ctx.msgid), {"psn_no": psn_no})
    person = _person_record(answer["person"])
    if person.psn_no != psn_no:
        raise Refused(f"{node}.psn_no", f"参保地返回的人员 {person.psn_no} 与 {psn_no} 不符")
    store.save_guest(
        person,
        [_insurance_record(i) for i in answer["insurance"]],
        [_identity_record(i) for i in answer.get("identities", [])],
    )
    return person


# ---------------------------------------------------------------- the treating node: settle through the hub


def remote_calculation(
    store: Store,
    ctx: Context,
    visit: VisitRecord,
    insurance: InsuranceRecord,
    lines: list[FeeLineRecord],
    med_type: str,
    acct_used_flag: bool,
    *,
    commit: bool,
    mid_setl_flag: bool = False,
) -> tuple[Settlement, PersonRecord]:
    """The settlement the insured node makes of these lines, classified here (就医地目录). With
    ``commit`` the insured node settles its side; without, it only says what it would be (2206)."""
    person = store.person(visit.psn_no)
    institution = store.institution(visit.fixmedins_code)
    assert person is not None and institution is not None
    line_results = classify_here(store, person, institution, visit, lines, med_type, ctx.today)
    payload: dict[str, Any] = {
        "psn_no": person.psn_no,
        "insutype": insurance.insutype,
        "med_type": med_type,
        "kind": visit.kind,
        "mdtrt_id": visit.mdtrt_id,
        "begntime": visit.begntime.isoformat(),
        "setl_date": ctx.today.isoformat(),
        "acct_used_flag": acct_used_flag,
        "mid_setl_flag": mid_setl_flag,
        "institution": {
            "fixmedins_code": institution.fixmedins_code,
            "fixmedins_name": institution.fixmedins_name,
            "fixmedins_type": institution.fixmedins_type,
            "hosp_lv": institution.hosp_lv,
            "specialty": institution.specialty,
            "admdvs": institution.admdvs,
        },
        "amounts": {
            "medfee_sumamt": str(fen_to_yuan(sum(r.det_item_fee_sumamt for r in line_results))),
            "fulamt_ownpay_amt": str(fen_to_yuan(sum(r.fulamt_ownpay_amt for r in line_results))),
            "overlmt_selfpay": str(fen_to_yuan(sum(r.overlmt_amt for r in line_results))),
            "preselfpay_amt": str(fen_to_yuan(sum(r.preselfpay_amt for r in line_results))),
            "inscp_scp_amt": str(fen_to_yuan(sum(r.inscp_scp_amt for r in line_results))),
        },
        "infno": ctx.infno,
    }
    op = "settle" if commit else "presettle"
    answer = ask_hub(ctx, op, insurance.insuplc_admdvs, hub_msgid(op, ctx.fixmedins_code, ctx.msgid), payload)
    info = SetlInfo(**{name: yuan_to_fen(Decimal(str(answer["setlinfo"][name]))) for name in SETLINFO_FIELDS})
    detail = tuple(
        FundRow(
            FundPayType(str(d["fund_pay_type"])),
            yuan_to_fen(Decimal(str(d["inscp_scp_amt"]))),
            None if d.get("crt_payb_lmt_amt") is None else yuan_to_fen(Decimal(str(d["crt_payb_lmt_amt"]))),
            yuan_to_fen(Decimal(str(d["fund_payamt"]))),
            str(d.get("setl_proc_info", "")),
        )
        for d in answer["setldetail"]
    )
    trace = (f"异地就医：参保地 {insurance.insuplc_admdvs} 按参保地政策计算，本地按就医地目录分类", *answer["trace"])
    return Settlement(info, detail, tuple(line_results), {}, trace, str(answer["policy_name"])), person


def classify_here(
    store: Store,
    person: PersonRecord,
    institution: InstitutionRecord,
    visit: VisitRecord,
    lines: list[FeeLineRecord],
    med_type: str,
    day: date,
) -> list[LineResult]:
    """The lines under this region's catalogue (就医地目录), as the calculator would classify them."""
    catalog = store.catalog(visit.mdtrtarea_admvs)
    lctx = LineContext(
        admdvs=visit.mdtrtarea_admvs,
        day=day,
        gend=person.gend,
        age=age_on(person.brdy, day),
        hosp_lv=institution.hosp_lv,
        med_type=med_type,
    )
    return [
        classify_line(
            FeeLine(line.feedetl_sn, line.med_list_codg, line.cnt, line.pric, fen_to_yuan(line.det_item_fee_sumamt)),
            catalog.get(line.med_list_codg),
            lctx,
            f"feedetail[{i}]",
        )
        for i, line in enumerate(lines)
    ]


def reverse_remote(ctx: Context, insuplc_admdvs: str, fixmedins_code: str, settled_msgid: str) -> dict[str, Any]:
    """Ask the insured node to reverse its side of the settlement made by an institution's message
    (a no-op there if it never settled it)."""
    return ask_hub(
        ctx,
        "reverse",
        insuplc_admdvs,
        hub_msgid("reverse", fixmedins_code, settled_msgid),
        {"settle_msgid": hub_msgid("settle", fixmedins_code, settled_msgid), "fixmedins_code": fixmedins_code},
    )


def reverse_lost(store: Store, ctx: Context, psn_no: str, omsgid: str) -> None:
    """2601 of a settlement this node has no record of: if the person is insured at another node, that
    node may have settled its side before the answer was lost; it reverses it (or finds nothing)."""
    regions = {i.insuplc_admdvs for i in store.insurances(psn_no)} | {ctx.insuplc_admdvs} - {""}
    for region in sorted(regions):
        if remote_region(ctx, region):
            reverse_remote(ctx, region, ctx.fixmedins_code, omsgid)


# ---------------------------------------------------------------- registry records on the wire


def plain(record: Any) -> dict[str, Any]:
    """A registry record as JSON values (dates as ISO text)."""
    out = {}
    for name in record.__dataclass_fields__:
        value = getattr(record, name)
        out[name] = value.isoformat() if isinstance(value, date | datetime) else value
    return out


def _day(value: Any) -> date | None:
    return None if value in (None, "") else date.fromisoformat(str(value))


def _person_record(d: dict[str, Any]) -> PersonRecord:
    brdy = _day(d["brdy"])
    assert brdy is not None
    return PersonRecord(**{**d, "brdy": brdy})


def _insurance_record(d: dict[str, Any]) -> InsuranceRecord:
    psn_insu_date = _day(d["psn_insu_date"])
    assert psn_insu_date is not None
    return InsuranceRecord(**{**d, "psn_insu_date": psn_insu_date, "paus_insu_date": _day(d.get("paus_insu_date"))})


def _identity_record(d: dict[str, Any]) -> IdentityRecord:
    return IdentityRecord(**{**d, "begntime": _day(d.get("begntime")), "endtime": _day(d.get("endtime"))})
