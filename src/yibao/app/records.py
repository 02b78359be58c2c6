"""What the use cases read from and write to the store: plain records, amounts in fen."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from yibao.domain.codes import FundPayType
from yibao.domain.frozen import frozen
from yibao.domain.money import Fen, fen_to_yuan

if TYPE_CHECKING:
    from yibao.app.cross_region import Federation
    from yibao.app.voucher import CodeVerifier

OFFSET = timedelta(hours=8)
LOCAL = timezone(OFFSET, "Asia/Shanghai")  # no daylight saving
"""Dates of settlements, years of counters and the interface's times are local; the database keeps UTC."""


def local_time(utc: datetime) -> datetime:
    """A naive UTC time (as stored) as naive local (Asia/Shanghai) wall-clock time."""
    return utc + OFFSET  # a fixed offset: the arithmetic of astimezone at 1 % of its cost


def local_date(utc: datetime) -> date:
    """The local (Asia/Shanghai) date of a naive UTC time."""
    return local_time(utc).date()


@frozen
class Context:
    """Who is calling and when: the envelope's facts that every use case needs."""

    fixmedins_code: str
    msgid: str
    infno: str
    now: datetime
    """UTC."""
    today: date
    """The local (Asia/Shanghai) date: settlement dates and years are local."""
    mdtrtarea_admvs: str = ""
    opter: str = ""
    codes: CodeVerifier | None = None
    """What verifies voucher codes (1162), if this node reads them."""
    federation: Federation | None = None
    """The hub and the other nodes, if this node is one of several (docs/cross-region.md)."""
    insuplc_admdvs: str = ""
    """The envelope's 参保地: where the person is insured, as the institution says."""
    hub_answers: dict[str, tuple[dict[str, Any], dict[str, Any]]] | None = None
    """In a writing transaction of a node of several: the hub's answers the dispatcher got between
    attempts, by hub msgid: (what was asked, the answer) — yibao.app.cross_region.ask_hub."""


@frozen
class InstitutionRecord:
    fixmedins_code: str
    fixmedins_name: str
    fixmedins_type: str
    """1 医疗机构, 2 零售药店."""
    hosp_lv: int
    specialty: str
    admdvs: str
    status: str

    @property
    def is_pharmacy(self) -> bool:
        return self.fixmedins_type == "2"


@frozen
class PersonRecord:
    psn_no: str
    psn_cert_type: str
    certno: str
    psn_name: str
    gend: str
    brdy: date
    naty: str
    card_no: str | None = None
    card_sn: str | None = None


@frozen
class InsuranceRecord:
    psn_no: str
    insutype: str
    psn_type: str
    psn_insu_stas: str
    insuplc_admdvs: str
    psn_insu_date: date
    paus_insu_date: date | None
    cvlserv_flag: bool
    emp_name: str
    contrib_months: int


@frozen
class IdentityRecord:
    psn_no: str
    psn_idet_type: str
    begntime: date
    endtime: date | None
    memo: str = ""

    def valid_on(self, day: date) -> bool:
        return self.begntime <= day and (self.endtime is None or day <= self.endtime)


@frozen
class VisitRecord:
    mdtrt_id: str
    psn_no: str
    insutype: str
    fixmedins_code: str
    med_type: str
    kind: str
    """outpatient, inpatient or pharmacy."""
    status: str
    """open, discharged or cancelled."""
    ipt_otp_no: str
    begntime: datetime
    endtime: datetime | None
    mdtrt_cert_type: str
    mdtrt_cert_no: str
    insuplc_admdvs: str
    mdtrtarea_admvs: str
    dept_code: str = ""
    dept_name: str = ""
    atddr_no: str = ""
    dr_name: str = ""
    dise_codg: str = ""
    dise_name: str = ""
    flags: str = ""


@frozen
class FeeLineRecord:
    mdtrt_id: str
    feedetl_sn: str
    psn_no: str
    chrg_bchno: str
    med_list_codg: str
    medins_list_codg: str
    cnt: Decimal
    pric: Decimal
    det_item_fee_sumamt: Fen
    fee_ocur_time: datetime
    status: str
    setl_id: str | None
    body: str = "{}"
    id: int | None = None
    """The stored row (None before it is stored): a cancelled line's number may be used again, its row not."""


@frozen
class SettlementRow:
    """A stored settlement (or reversal, with revs_setl_id set and opposite amounts)."""

    setl_id: str
    mdtrt_id: str
    psn_no: str
    fixmedins_code: str
    insutype: str
    med_type: str
    clr_type: str
    insuplc_admdvs: str
    mdtrtarea_admvs: str
    setl_time: datetime
    msgid: str
    infno: str
    mid_setl_flag: bool
    revs_setl_id: str | None
    policy_name: str
    amounts: dict[str, Fen]
    """setlinfo amounts by national field name."""
    setl_proc_info: str = ""
    mdtrt_cert_type: str = ""
    """The certificate shown at settlement: 01 voucher (ecToken), 02 ID card, 03 social security card."""
    cross_region: str = ""
    """"" local; "T" treated here, insured elsewhere; "I" insured here, treated elsewhere (docs/cross-region.md)."""


@frozen
class FundRowRecord:
    setl_id: str
    fund_pay_type: str
    inscp_scp_amt: Fen
    crt_payb_lmt_amt: Fen | None
    fund_payamt: Fen
    setl_proc_info: str

    def setldetail(self) -> dict[str, Any]:
        """As a line of a stored settlement's or a manual claim's setldetail (5203, 2208, 2207 answers), in yuan."""
        return {
            "fund_pay_type": self.fund_pay_type,
            "fund_pay_type_name": FundPayType.describe(self.fund_pay_type),
            "inscp_scp_amt": fen_to_yuan(self.inscp_scp_amt),
            "crt_payb_lmt_amt": None if self.crt_payb_lmt_amt is None else fen_to_yuan(self.crt_payb_lmt_amt),
            "fund_payamt": fen_to_yuan(self.fund_payamt),
            "setl_proc_info": self.setl_proc_info,
        }


@frozen
class SignInRecord:
    """A device's sign-in (9001): valid for its institution until signed out (9002) or a day has passed."""

    sign_no: str
    fixmedins_code: str
    opter_no: str
    sign_time: datetime
    signout_time: datetime | None


@frozen
class LoggedMessage:
    infno: str
    body_hash: str
    response: str
    ref: str | None


@frozen
class SettledLine:
    """A settled fee line with where it was settled (5205)."""

    mdtrt_id: str
    fixmedins_code: str
    mdtrtarea_admvs: str
    med_list_codg: str
    cnt: Decimal
    pric: Decimal
    det_item_fee_sumamt: Fen
    fee_ocur_time: datetime
    setl_id: str


@frozen
class StoredFinding:
    """A rule that fired, as ``supervision_finding`` keeps it (docs/supervision.md)."""

    stage: str
    run_id: str
    rule_id: str
    rule_version: str
    result: str
    mdtrt_id: str
    feedetl_sn: str
    med_list_codg: str
    setl_id: str | None
    fixmedins_code: str
    psn_no: str
    insuplc_admdvs: str
    mdtrtarea_admvs: str
    amount: Fen
    message: str
    created_at: datetime
    """UTC."""
