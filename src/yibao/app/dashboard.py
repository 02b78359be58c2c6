"""The bureau's console, read side: today's go-live figures and the pages to look things up.

Reads only, over the ``DashboardStore`` port (``yibao.store.dashboard`` implements it). Every figure
is net of reversals: a reversal is a settlement with the opposite amounts, so sums net themselves and
the count is settlements less reversals. Days and times are local (Asia/Shanghai); the store keeps UTC.
Personal data leaves this module masked (``yibao.app.privacy``).

``region`` is the admdvs prefix the caller sees (``yibao.app.accounts.region_prefix``; "" for all): a
person is theirs when one of the person's insurances is of that region, a settlement when its insured
region is, an institution when it lies in that region; figures count only their settlements.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from typing import Literal, Protocol

from yibao.app.privacy import looks_like_certno, mask_card, mask_certno, mask_name
from yibao.app.reconcile import utc_bounds
from yibao.app.records import (
    FundRowRecord,
    InstitutionRecord,
    InsuranceRecord,
    PersonRecord,
    SettlementRow,
    local_time,
)
from yibao.app.voucher import ACTIVE, BUSINESS_TYPES, SUSPENDED, VoucherRecord, VoucherUse
from yibao.domain.codes import ClrType, FundPayType, Gend, Insutype, MedType, PsnInsuStas, PsnType
from yibao.domain.frozen import frozen
from yibao.domain.money import Fen

MINUTES = 60
TOP = 10

# Names of Guangzhou's districts, for a region table that holds only the city (the demo's registry).
DISTRICT_NAMES = {
    "440100": "广州市",
    "440103": "荔湾区",
    "440104": "越秀区",
    "440105": "海珠区",
    "440106": "天河区",
    "440111": "白云区",
    "440112": "黄埔区",
    "440113": "番禺区",
    "440114": "花都区",
    "440115": "南沙区",
    "440117": "从化区",
    "440118": "增城区",
}

# ---------------------------------------------------------------- records the store returns


@frozen
class Figures:
    """The go-live figures over a period, net of reversals (amounts in fen)."""

    settlements: int
    """Settlements less reversals."""
    institutions: int
    """Institutions with at least one settlement (not counting reversals) in the period."""
    medfee_sumamt: Fen
    hifp_pay: Fen
    fund_pay_sumamt: Fen
    acct_pay: Fen
    psn_cash_pay: Fen


@frozen
class Share:
    """Fund payments of one insutype or med_type."""

    code: str
    label: str
    settlements: int
    fund_pay_sumamt: Fen


@frozen
class InstitutionFigure:
    fixmedins_code: str
    fixmedins_name: str
    settlements: int
    medfee_sumamt: Fen
    fund_pay_sumamt: Fen


@frozen
class Slice:
    """Settlements of a period summed per institution, insured region, insutype and med_type: one scan of
    the day's rows gives every figure and chart of the dashboard (a few thousand slices for a city)."""

    fixmedins_code: str
    insuplc_admdvs: str
    insutype: str
    med_type: str
    settled: int
    """Settlements, not counting reversals."""
    settlements: int
    """Settlements less reversals."""
    medfee_sumamt: Fen
    hifp_pay: Fen
    fund_pay_sumamt: Fen
    acct_pay: Fen
    psn_cash_pay: Fen


@frozen
class DistrictFigure:
    admdvs: str
    name: str
    settlements: int
    institutions: int
    medfee_sumamt: Fen
    fund_pay_sumamt: Fen


@frozen
class SettlementSummary:
    setl_id: str
    setl_time: datetime
    """Local time (Asia/Shanghai)."""
    psn_no: str
    fixmedins_code: str
    fixmedins_name: str
    insutype: str
    med_type: str
    medfee_sumamt: Fen
    fund_pay_sumamt: Fen
    acct_pay: Fen
    psn_cash_pay: Fen
    revs_setl_id: str | None
    """Set on a reversal: the settlement it reverses."""
    reversed: bool
    """A reversal of this settlement exists."""

    @property
    def med_type_label(self) -> str:
        return MedType.describe(self.med_type)

    @property
    def insutype_label(self) -> str:
        return Insutype.describe(self.insutype)


@frozen
class StatementRecord:
    """One 3201 reconciliation the institution asked for."""

    insutype: str
    clr_type: str
    stmt_begndate: date
    stmt_enddate: date
    stmt_rslt: str
    stmt_rslt_dscr: str
    created_at: datetime
    """Local time."""

    @property
    def matched(self) -> bool:
        return self.stmt_rslt == "0"

    @property
    def clr_type_label(self) -> str:
        return ClrType.describe(self.clr_type)


@frozen
class LineRecord:
    """One fee line's classification as the settlement stored it (setl_line)."""

    feedetl_sn: str
    med_list_codg: str
    med_list_name: str
    chrgitm_lv: str
    cnt: str | None
    pric: str | None
    pric_uplmt_amt: str | None
    selfpay_prop: str
    det_item_fee_sumamt: Fen
    fulamt_ownpay_amt: Fen
    overlmt_amt: Fen
    preselfpay_amt: Fen
    inscp_scp_amt: Fen
    memo: str

    @property
    def chrgitm_lv_label(self) -> str:
        return {"01": "甲类", "02": "乙类", "03": "丙类"}.get(self.chrgitm_lv, self.chrgitm_lv)


@frozen
class VisitFacts:
    mdtrt_id: str
    kind: str
    begntime: datetime
    """Local time."""
    endtime: datetime | None
    dept_name: str
    dr_name: str
    dise_codg: str
    dise_name: str


@frozen
class AccountTotals:
    """The ledger's accounts of one kind (fund, acct, payable, opening)."""

    kind: str
    accounts: int
    debits: Fen
    credits: Fen
    overdrawn: int
    """Accounts of a liability kind (acct, payable) whose debits exceed their credits."""

    @property
    def net(self) -> Fen:
        """debits − credits."""
        return self.debits - self.credits


@frozen
class AccountRecord:
    code: str
    debits: Fen
    credits: Fen

    @property
    def net(self) -> Fen:
        return self.debits - self.credits


@frozen
class VoucherCounts:
    """Activated electronic vouchers (one per person)."""

    total: int
    active: int
    suspended: int
    activated_today: int


@frozen
class CrossRegionSlice:
    """Cross-region settlements of a period for one side and region pair, net of reversals (fen)."""

    side: str
    """"T": treated here for another region's insured; "I": this node's insured, treated elsewhere."""
    treated_in: str
    """The treating region (mdtrtarea_admvs)."""
    insured_in: str
    """The insured region (insuplc_admdvs)."""
    settlements: int
    """Settlements less reversals."""
    medfee_sumamt: Fen
    fund_pay_sumamt: Fen
    acct_pay: Fen


@frozen
class CertSlice:
    """The settlements of a period at one institution with one certificate type, net of reversals."""

    fixmedins_code: str
    mdtrt_cert_type: str
    settlements: int
    """Settlements less reversals (as the overview counts them)."""
    medfee_sumamt: Fen


# ---------------------------------------------------------------- the port


class DashboardStore(Protocol):
    """The read-only queries of the console, over one database transaction. Times are naive UTC."""

    def slices(
        self, begin: datetime, end: datetime, fixmedins_code: str | None = None, region: str = ""
    ) -> list[Slice]:
        """Of the settlements whose insured region starts with ``region``."""

    def settlements_per_minute(self, begin: datetime, end: datetime, region: str = "") -> dict[str, int]:
        """Net settlements by UTC minute, keyed ``YYYY-MM-DD HH:MM``."""

    def institutions_by_code(self, codes: Sequence[str]) -> dict[str, InstitutionRecord]: ...
    def region_names(self) -> dict[str, str]: ...

    def person(self, psn_no: str) -> PersonRecord | None: ...
    def person_by_certno(self, certno: str) -> PersonRecord | None: ...
    def person_by_card(self, card_no: str) -> PersonRecord | None: ...
    def insurances(self, psn_no: str) -> list[InsuranceRecord]: ...
    def account_balance(self, psn_no: str) -> Fen | None:
        """The personal account's balance from the ledger (credits − debits); None without an account."""

    def counter_totals(self, psn_no: str, year: str) -> list[tuple[str, str, str, Fen]]:
        """(insutype, period, key, total) of the year's periods."""

    def settlements(
        self, *, psn_no: str | None = None, fixmedins_code: str | None = None, limit: int = 20, region: str = ""
    ) -> list[SettlementSummary]:
        """The most recent first (setl_time in UTC)."""

    def institution(self, fixmedins_code: str) -> InstitutionRecord | None: ...
    def find_institutions(self, text: str, limit: int, region: str = "") -> list[InstitutionRecord]: ...
    def statements(self, fixmedins_code: str, limit: int) -> list[StatementRecord]:
        """The most recent first (created_at in UTC)."""

    def settlement(self, setl_id: str) -> SettlementRow | None: ...
    def reversal_of(self, setl_id: str) -> str | None: ...
    def fund_rows(self, setl_id: str) -> list[FundRowRecord]: ...
    def settlement_lines(self, setl_id: str, catalog_admdvs: str) -> list[LineRecord]: ...
    def visit(self, mdtrt_id: str) -> VisitFacts | None:
        """Times in UTC."""

    def account_totals(self, prefix: str) -> AccountTotals:
        """The accounts whose code starts with ``prefix:``."""

    def accounts(self, prefix: str, limit: int) -> list[AccountRecord]:
        """The busiest accounts of a kind (by debits + credits)."""

    # the electronic voucher (voucher_figures, person_voucher)
    def voucher_counts(self, begin: datetime, end: datetime, region: str = "") -> VoucherCounts:
        """The vouchers of the persons of ``region``; ``activated_today``: activated in [begin, end)."""

    def code_reads(
        self, begin: datetime | None = None, end: datetime | None = None, region: str = ""
    ) -> dict[str, int]:
        """Codes read (voucher_use rows) per business type, read in [begin, end) (None: ever), of the
        persons of ``region``."""

    def cert_slices(self, begin: datetime, end: datetime, region: str = "") -> list[CertSlice]:
        """Settlements per institution and certificate type, of the settlements whose insured region
        starts with ``region``; a reversal counts under the type of the settlement it reverses."""

    def voucher_of(self, psn_no: str) -> VoucherRecord | None: ...
    def voucher_uses(self, psn_no: str, limit: int) -> list[VoucherUse]:
        """The newest first."""

    # cross-region settlements (cross_region_figures)
    def cross_region_slices(self, begin: datetime, end: datetime, region: str = "") -> list[CrossRegionSlice]:
        """Cross-region settlements in [begin, end) per side ("T" treated here, "I" insured here) and region
        pair, net of reversals; of ``region`` as this node's side of the pair (the treating region of a
        "T" row, the insured region of an "I" row)."""


class DashboardSource(Protocol):
    def reading(self) -> AbstractContextManager[DashboardStore]:
        """A DashboardStore over one read-only transaction."""


# ---------------------------------------------------------------- time


def utc_naive(now: datetime) -> datetime:
    """``now`` as the store keeps times: UTC without a zone (a naive ``now`` is taken as UTC)."""
    return now if now.tzinfo is None else now.astimezone(UTC).replace(tzinfo=None)


def local_day(now: datetime) -> date:
    return local_time(utc_naive(now)).date()


def today_bounds(now: datetime) -> tuple[datetime, datetime]:
    day = local_day(now)
    return utc_bounds(day, day)


# ---------------------------------------------------------------- the dashboard


@frozen
class Minute:
    label: str
    """Local HH:MM."""
    settlements: int


@frozen
class Overview:
    day: date
    as_of: datetime
    """Local time of the figures."""
    figures: Figures
    per_minute: list[Minute]
    by_insutype: list[Share]
    by_med_type: list[Share]
    top_institutions: list[InstitutionFigure]
    districts: list[DistrictFigure]
    district_basis: str
    """"institution" (the institutions' regions) or "insured" (the insured persons' regions)."""


def overview(store: DashboardStore, now: datetime, region: str = "") -> Overview:
    """Today's go-live figures with the charts' series, as of ``now``."""
    begin, end = today_bounds(now)
    utc_now = utc_naive(now)
    slices = store.slices(begin, end, region=region)
    institutions = store.institutions_by_code(sorted({x.fixmedins_code for x in slices}))
    basis, districts = district_figures(slices, institutions, store.region_names())
    return Overview(
        day=local_day(now),
        as_of=local_time(utc_now),
        figures=figures_of(slices),
        per_minute=minute_series(store, utc_now, region),
        by_insutype=shares(slices, "insutype", Insutype.describe),
        by_med_type=shares(slices, "med_type", MedType.describe),
        top_institutions=top_institutions(slices, institutions, TOP),
        districts=districts,
        district_basis=basis,
    )


def figures_of(slices: Sequence[Slice]) -> Figures:
    return Figures(
        settlements=sum(x.settlements for x in slices),
        institutions=len({x.fixmedins_code for x in slices if x.settled}),
        medfee_sumamt=sum(x.medfee_sumamt for x in slices),
        hifp_pay=sum(x.hifp_pay for x in slices),
        fund_pay_sumamt=sum(x.fund_pay_sumamt for x in slices),
        acct_pay=sum(x.acct_pay for x in slices),
        psn_cash_pay=sum(x.psn_cash_pay for x in slices),
    )


def shares(slices: Sequence[Slice], field: Literal["insutype", "med_type"], label: Callable[[str], str]) -> list[Share]:
    """Fund payments per insutype or med_type, in code order."""
    sums: dict[str, list[int]] = {}
    for x in slices:
        total = sums.setdefault(getattr(x, field), [0, 0])
        total[0] += x.settlements
        total[1] += x.fund_pay_sumamt
    return [Share(code, label(code), n, amount) for code, (n, amount) in sorted(sums.items())]


def top_institutions(
    slices: Sequence[Slice], institutions: dict[str, InstitutionRecord], limit: int
) -> list[InstitutionFigure]:
    """The institutions with the most settlements (then the largest medical costs)."""
    sums: dict[str, list[int]] = {}
    for x in slices:
        total = sums.setdefault(x.fixmedins_code, [0, 0, 0])
        total[0] += x.settlements
        total[1] += x.medfee_sumamt
        total[2] += x.fund_pay_sumamt
    ranked = sorted(sums.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))[:limit]
    return [
        InstitutionFigure(code, institutions[code].fixmedins_name if code in institutions else code, *total)
        for code, total in ranked
    ]


def minute_series(store: DashboardStore, utc_now: datetime, region: str = "") -> list[Minute]:
    """Net settlements in each of the last 60 minutes, the current one last (empty minutes are 0)."""
    this_minute = utc_now.replace(second=0, microsecond=0)
    first = this_minute - timedelta(minutes=MINUTES - 1)
    counts = store.settlements_per_minute(first, this_minute + timedelta(minutes=1), region)
    series = []
    for i in range(MINUTES):
        minute = first + timedelta(minutes=i)
        series.append(Minute(f"{local_time(minute):%H:%M}", counts.get(f"{minute:%Y-%m-%d %H:%M}", 0)))
    return series


def district_figures(
    slices: Sequence[Slice], institutions: dict[str, InstitutionRecord], names: dict[str, str]
) -> tuple[str, list[DistrictFigure]]:
    """By the insured persons' regions when more than one pooling region settled, else (one city) by the
    institutions' regions — a city's districts. The busiest first."""
    basis = "insured" if len({x.insuplc_admdvs for x in slices}) > 1 else "institution"
    sums: dict[str, list[int]] = {}
    settling: dict[str, set[str]] = {}
    for x in slices:
        place = institutions[x.fixmedins_code].admdvs if x.fixmedins_code in institutions else ""
        key = x.insuplc_admdvs if basis == "insured" else place
        total = sums.setdefault(key, [0, 0, 0])
        total[0] += x.settlements
        total[1] += x.medfee_sumamt
        total[2] += x.fund_pay_sumamt
        if x.settled:
            settling.setdefault(key, set()).add(x.fixmedins_code)
    figures = [
        DistrictFigure(
            admdvs,
            region_name(admdvs, names),
            settlements=n,
            institutions=len(settling.get(admdvs, ())),
            medfee_sumamt=medfee,
            fund_pay_sumamt=fund,
        )
        for admdvs, (n, medfee, fund) in sums.items()
    ]
    figures.sort(key=lambda f: (-f.settlements, -f.medfee_sumamt, f.admdvs))
    return basis, figures


def region_name(admdvs: str, names: dict[str, str]) -> str:
    return names.get(admdvs) or DISTRICT_NAMES.get(admdvs) or admdvs or "—"


# ---------------------------------------------------------------- a person


@frozen
class InsuranceView:
    insutype: str
    insutype_label: str
    psn_type_label: str
    status_label: str
    insuplc_admdvs: str
    region_name: str
    psn_insu_date: date
    emp_name: str
    contrib_months: int
    active: bool


@frozen
class Counter:
    insutype: str
    period: str
    key: str
    amount: Fen


@frozen
class PersonView:
    psn_no: str
    certno: str
    """Masked."""
    name: str
    """Masked."""
    card_no: str
    """Masked."""
    gend: str
    age: int
    insurances: list[InsuranceView]
    balance: Fen | None
    counters: list[Counter]
    settlements: list[SettlementSummary]


def find_person(store: DashboardStore, query: str, region: str = "") -> PersonRecord | None:
    """A person by psn_no, ID number (certno) or social security card number, if of the caller's region."""
    text = query.strip()
    if not text:
        return None
    if looks_like_certno(text):
        found = store.person_by_certno(text.upper()) or store.person(text) or store.person_by_card(text)
    else:
        found = store.person(text) or store.person_by_certno(text) or store.person_by_card(text)
    return found if found is not None and person_in_region(store, found.psn_no, region) else None


def person_in_region(store: DashboardStore, psn_no: str, region: str) -> bool:
    """One of the person's insurances is of the region ("" : every person)."""
    return not region or any(i.insuplc_admdvs.startswith(region) for i in store.insurances(psn_no))


def person_view(
    store: DashboardStore, query: str, now: datetime, settlements: int = 20, region: str = ""
) -> PersonView | None:
    person = find_person(store, query, region)
    if person is None:
        return None
    today = local_day(now)
    names = store.region_names()
    insurances = [
        InsuranceView(
            insutype=i.insutype,
            insutype_label=Insutype.describe(i.insutype),
            psn_type_label=PsnType.describe(i.psn_type),
            status_label=PsnInsuStas.describe(i.psn_insu_stas),
            insuplc_admdvs=i.insuplc_admdvs,
            region_name=region_name(i.insuplc_admdvs, names),
            psn_insu_date=i.psn_insu_date,
            emp_name=i.emp_name,
            contrib_months=i.contrib_months,
            active=i.psn_insu_stas == PsnInsuStas.NORMAL,
        )
        for i in store.insurances(person.psn_no)
    ]
    return PersonView(
        psn_no=person.psn_no,
        certno=mask_certno(person.certno),
        name=mask_name(person.psn_name),
        card_no=mask_card(person.card_no),
        gend=Gend.describe(person.gend),
        age=age_on(person.brdy, today),
        insurances=insurances,
        balance=store.account_balance(person.psn_no),
        counters=[Counter(*row) for row in store.counter_totals(person.psn_no, str(today.year))],
        settlements=[localised(s) for s in store.settlements(psn_no=person.psn_no, limit=settlements, region=region)],
    )


def age_on(birthday: date, day: date) -> int:
    return day.year - birthday.year - ((day.month, day.day) < (birthday.month, birthday.day))


def localised(s: SettlementSummary) -> SettlementSummary:
    return SettlementSummary(
        s.setl_id,
        local_time(s.setl_time),
        s.psn_no,
        s.fixmedins_code,
        s.fixmedins_name,
        s.insutype,
        s.med_type,
        s.medfee_sumamt,
        s.fund_pay_sumamt,
        s.acct_pay,
        s.psn_cash_pay,
        s.revs_setl_id,
        s.reversed,
    )


# ---------------------------------------------------------------- an institution


@frozen
class InstitutionView:
    institution: InstitutionRecord
    kind_label: str
    region_name: str
    today: Figures
    settlements: list[SettlementSummary]
    statements: list[StatementRecord]


def find_institutions(store: DashboardStore, text: str, limit: int = 50, region: str = "") -> list[InstitutionRecord]:
    value = text.strip()
    if not value:
        return []
    exact = store.institution(value)
    if exact is not None and exact.admdvs.startswith(region):
        return [exact]
    return store.find_institutions(value, limit, region)


def institution_view(
    store: DashboardStore, fixmedins_code: str, now: datetime, region: str = ""
) -> InstitutionView | None:
    institution = store.institution(fixmedins_code.strip())
    if institution is None or not institution.admdvs.startswith(region):
        return None
    begin, end = today_bounds(now)
    names = store.region_names()
    level = {1: "一级", 2: "二级", 3: "三级"}.get(institution.hosp_lv, "")
    statements = [
        StatementRecord(
            s.insutype,
            s.clr_type,
            s.stmt_begndate,
            s.stmt_enddate,
            s.stmt_rslt,
            s.stmt_rslt_dscr,
            local_time(s.created_at),
        )
        for s in store.statements(institution.fixmedins_code, 10)
    ]
    return InstitutionView(
        institution=institution,
        kind_label="定点零售药店"
        if institution.is_pharmacy
        else f"定点医疗机构{('（' + level + '）') if level else ''}",
        region_name=region_name(institution.admdvs, names),
        today=figures_of(store.slices(begin, end, institution.fixmedins_code, region)),
        settlements=[
            localised(s) for s in store.settlements(fixmedins_code=institution.fixmedins_code, limit=50, region=region)
        ],
        statements=statements,
    )


# ---------------------------------------------------------------- a settlement


@frozen
class FundLine:
    fund_pay_type: str
    label: str
    inscp_scp_amt: Fen
    crt_payb_lmt_amt: Fen | None
    fund_payamt: Fen
    setl_proc_info: str


@frozen
class SettlementView:
    row: SettlementRow
    setl_time: datetime
    """Local time."""
    institution_name: str
    person_name: str
    """Masked."""
    insutype_label: str
    med_type_label: str
    clr_type_label: str
    reversed_by: str | None
    visit: VisitFacts | None
    funds: list[FundLine]
    lines: list[LineRecord]
    lines_of: str
    """The settlement whose lines are shown: a reversal shows the lines of the one it reverses."""
    explanation: list[str]

    def amount(self, name: str) -> Fen:
        return self.row.amounts.get(name, 0)


def settlement_view(store: DashboardStore, setl_id: str, region: str = "") -> SettlementView | None:
    row = store.settlement(setl_id.strip())
    if row is None or not row.insuplc_admdvs.startswith(region):
        return None
    institution = store.institution(row.fixmedins_code)
    person = store.person(row.psn_no)
    visit = store.visit(row.mdtrt_id)
    if visit is not None:
        visit = VisitFacts(
            visit.mdtrt_id,
            visit.kind,
            local_time(visit.begntime),
            None if visit.endtime is None else local_time(visit.endtime),
            visit.dept_name,
            visit.dr_name,
            visit.dise_codg,
            visit.dise_name,
        )
    lines_of = row.revs_setl_id or row.setl_id
    return SettlementView(
        row=row,
        setl_time=local_time(row.setl_time),
        institution_name=institution.fixmedins_name if institution else row.fixmedins_code,
        person_name=mask_name(person.psn_name) if person else "",
        insutype_label=Insutype.describe(row.insutype),
        med_type_label=MedType.describe(row.med_type),
        clr_type_label=ClrType.describe(row.clr_type),
        reversed_by=None if row.revs_setl_id else store.reversal_of(row.setl_id),
        visit=visit,
        funds=[
            FundLine(
                d.fund_pay_type,
                FundPayType.describe(d.fund_pay_type),
                d.inscp_scp_amt,
                d.crt_payb_lmt_amt,
                d.fund_payamt,
                d.setl_proc_info,
            )
            for d in sorted(store.fund_rows(row.setl_id), key=lambda d: d.fund_pay_type)
        ],
        lines=store.settlement_lines(lines_of, row.mdtrtarea_admvs),
        lines_of=lines_of,
        explanation=[step for step in row.setl_proc_info.splitlines() if step.strip()],
    )


# ---------------------------------------------------------------- the ledger

KINDS = (
    ("fund", "统筹区基金"),
    ("acct", "个人账户"),
    ("payable", "应付定点机构"),
    ("opening", "期初余额"),
)


@frozen
class LedgerView:
    kinds: list[tuple[str, AccountTotals]]
    """(label, totals) per kind of account."""
    funds: list[AccountRecord]
    payables: list[AccountRecord]
    openings: list[AccountRecord]
    balanced: bool
    """All debits equal all credits."""

    @property
    def debits(self) -> Fen:
        return sum(t.debits for _, t in self.kinds)

    @property
    def credits(self) -> Fen:
        return sum(t.credits for _, t in self.kinds)


def ledger_view(store: DashboardStore, limit: int = 50) -> LedgerView:
    kinds = [(label, store.account_totals(kind)) for kind, label in KINDS]
    debits = sum(t.debits for _, t in kinds)
    credits = sum(t.credits for _, t in kinds)
    return LedgerView(
        kinds=kinds,
        funds=store.accounts("fund", limit),
        payables=store.accounts("payable", limit),
        openings=store.accounts("opening", limit),
        balanced=debits == credits,
    )


# ---------------------------------------------------------------- the electronic voucher (issue 6)

CERT_TYPES: dict[str, str] = {"01": "医保电子凭证", "02": "居民身份证", "03": "社会保障卡"}
"""mdtrt_cert_type: the certificate a settlement was made with."""
VOUCHER = "01"
ADOPTION_ROWS = 20
VOUCHER_STATUS = {ACTIVE: "正常", SUSPENDED: "已暂停"}


@frozen
class CertFigures:
    settlements: int
    """Settlements less reversals."""
    medfee_sumamt: Fen


@frozen
class CertRow:
    """Settlements made with one certificate type, today and in the month so far."""

    mdtrt_cert_type: str
    label: str
    today: CertFigures
    month: CertFigures


@frozen
class CodeReads:
    """Voucher codes read at counters for one business type (用码业务类型)."""

    business_type: str
    label: str
    today: int
    total: int


@frozen
class Adoption:
    """One institution's settlements of the month and how many were made with the voucher."""

    fixmedins_code: str
    fixmedins_name: str
    settlements: int
    by_voucher: int

    @property
    def gap(self) -> int:
        """Settlements made with another certificate: what the voucher has yet to win."""
        return self.settlements - self.by_voucher

    @property
    def share(self) -> float:
        """For display only."""
        return self.by_voucher / self.settlements if self.settlements > 0 else 0.0


@frozen
class VoucherFigures:
    """The bureau's view of the electronic voucher: activation, use, and settlements by certificate."""

    day: date
    month_start: date
    as_of: datetime
    """Local time of the figures."""
    vouchers: VoucherCounts
    reads: list[CodeReads]
    """Every business type with a code read, in code order."""
    reads_today: int
    reads_total: int
    by_cert: list[CertRow]
    """01, 02 and 03 always, then any other type that settled."""
    institutions: list[Adoption]
    """The institutions that settled this month, the largest adoption gap first (at most 20)."""

    def cert(self, mdtrt_cert_type: str) -> CertRow | None:
        return next((r for r in self.by_cert if r.mdtrt_cert_type == mdtrt_cert_type), None)

    @property
    def voucher_share_today(self) -> float:
        """The share of today's settlements made with the voucher (display only)."""
        settled = sum(r.today.settlements for r in self.by_cert)
        row = self.cert(VOUCHER)
        return row.today.settlements / settled if row and settled > 0 else 0.0


def voucher_figures(store: DashboardStore, now: datetime, region: str = "") -> VoucherFigures:
    """Vouchers activated, codes read per business type, settlements by certificate type today and in
    the month so far, and the institutions' adoption of the voucher (net of reversals, as ``overview``)."""
    day = local_day(now)
    month_start = day.replace(day=1)
    today_begin, today_end = utc_bounds(day, day)
    month_begin, month_end = utc_bounds(month_start, day)
    today_reads = store.code_reads(today_begin, today_end, region)
    ever_reads = store.code_reads(region=region)
    today = store.cert_slices(today_begin, today_end, region)
    month = store.cert_slices(month_begin, month_end, region)

    def per_type(slices: Sequence[CertSlice]) -> dict[str, CertFigures]:
        sums: dict[str, list[int]] = {}
        for x in slices:
            total = sums.setdefault(x.mdtrt_cert_type, [0, 0])
            total[0] += x.settlements
            total[1] += x.medfee_sumamt
        return {k: CertFigures(n, fen) for k, (n, fen) in sums.items()}

    by_today, by_month = per_type(today), per_type(month)
    none = CertFigures(0, 0)
    others = sorted((set(by_today) | set(by_month)) - set(CERT_TYPES))
    by_cert = [
        CertRow(code, CERT_TYPES.get(code, "其他" if code else "未记录"), by_today.get(code, none),
                by_month.get(code, none))
        for code in [*CERT_TYPES, *others]
    ]  # fmt: skip

    adoption: dict[str, list[int]] = {}
    for x in month:
        total = adoption.setdefault(x.fixmedins_code, [0, 0])
        total[0] += x.settlements
        if x.mdtrt_cert_type == VOUCHER:
            total[1] += x.settlements
    ranked = sorted(
        ((code, n, v) for code, (n, v) in adoption.items() if n > 0),
        key=lambda r: (-(r[1] - r[2]), -r[1], r[0]),
    )[:ADOPTION_ROWS]
    names = store.institutions_by_code([code for code, _, _ in ranked])
    return VoucherFigures(
        day=day,
        month_start=month_start,
        as_of=local_time(utc_naive(now)),
        vouchers=store.voucher_counts(today_begin, today_end, region),
        reads=[CodeReads(b, BUSINESS_TYPES.get(b, b), today_reads.get(b, 0), n) for b, n in sorted(ever_reads.items())],
        reads_today=sum(today_reads.values()),
        reads_total=sum(ever_reads.values()),
        by_cert=by_cert,
        institutions=[
            Adoption(code, names[code].fixmedins_name if code in names else code, n, v) for code, n, v in ranked
        ],
    )


@frozen
class VoucherUseView:
    used_at: datetime
    """Local time."""
    fixmedins_code: str
    fixmedins_name: str
    business_type: str
    business_label: str


@frozen
class PersonVoucher:
    """A person's voucher as the console shows it (the device id is the person's phone's, not personal data
    the console masks)."""

    ec_index_no: str
    device_id: str
    status: str
    status_label: str
    activated_at: datetime
    """Local time."""
    updated_at: datetime
    """Local time."""
    uses: list[VoucherUseView]

    @property
    def suspended(self) -> bool:
        return self.status == SUSPENDED


def person_voucher(store: DashboardStore, psn_no: str, uses: int = 10) -> PersonVoucher | None:
    """The person's voucher and its latest uses, or None if they have not activated one."""
    voucher = store.voucher_of(psn_no)
    if voucher is None:
        return None
    recent = store.voucher_uses(psn_no, uses)
    names = store.institutions_by_code(sorted({u.fixmedins_code for u in recent}))
    return PersonVoucher(
        ec_index_no=voucher.ec_index_no,
        device_id=voucher.device_id,
        status=voucher.status,
        status_label=VOUCHER_STATUS.get(voucher.status, voucher.status),
        activated_at=local_time(voucher.activated_at),
        updated_at=local_time(voucher.updated_at),
        uses=[
            VoucherUseView(
                local_time(u.used_at),
                u.fixmedins_code,
                names[u.fixmedins_code].fixmedins_name if u.fixmedins_code in names else u.fixmedins_code,
                u.business_type,
                BUSINESS_TYPES.get(u.business_type, u.business_type),
            )
            for u in recent
        ],
    )


# ---------------------------------------------------------------- cross-region settlement (issue 7)

TREATED_HERE = "T"
INSURED_HERE = "I"
CLEARING = "clearing"
REGION_NAMES = {"440100": "广州市", "310118": "上海市青浦区", "320509": "苏州市吴江区", "330421": "嘉兴市嘉善县"}
"""Names of the example regions, for pairs whose other region this node's region table does not hold."""


@frozen
class PairFigures:
    settlements: int
    """Settlements less reversals."""
    medfee_sumamt: Fen
    fund_pay_sumamt: Fen
    acct_pay: Fen

    @property
    def cleared(self) -> Fen:
        """What moves between the regions: the funds and the personal account (the cash stays at the counter)."""
        return self.fund_pay_sumamt + self.acct_pay


NO_PAIR = PairFigures(0, 0, 0, 0)


@frozen
class RegionPair:
    """Cross-region settlements between a region of this node and another, today and in the month so far."""

    side: str
    """TREATED_HERE: ``here`` treated the insured of ``other``; INSURED_HERE: the insured of ``here`` were
    treated in ``other``."""
    here: str
    other: str
    other_name: str
    today: PairFigures
    month: PairFigures


@frozen
class ClearingBalance:
    """The balance of a ``clearing:<admdvs>`` account: what that region owes this node or is owed by it."""

    admdvs: str
    name: str
    debits: Fen
    credits: Fen

    @property
    def owed_to_us(self) -> Fen:
        """A debit balance: this node advanced the fund payments of that region's insured."""
        return max(self.debits - self.credits, 0)

    @property
    def owed_by_us(self) -> Fen:
        """A credit balance: that region advanced the fund payments of this node's insured."""
        return max(self.credits - self.debits, 0)


@frozen
class CrossRegionFigures:
    """The bureau's view of cross-region settlement (异地就医直接结算): settlements per region pair and
    the amounts awaiting clearing."""

    day: date
    month_start: date
    as_of: datetime
    """Local time of the figures."""
    treated: list[RegionPair]
    """Treated here for other regions' insured ("T"), the busiest pair of the month first."""
    insured: list[RegionPair]
    """This node's insured treated elsewhere ("I"), the busiest pair of the month first."""
    clearing: list[ClearingBalance] | None
    """The clearing accounts with a balance (the node's books: None for a region-scoped caller)."""

    @staticmethod
    def _sum(pairs: Sequence[RegionPair], month: bool) -> PairFigures:
        rows = [p.month if month else p.today for p in pairs]
        return PairFigures(sum(r.settlements for r in rows), sum(r.medfee_sumamt for r in rows),
                           sum(r.fund_pay_sumamt for r in rows), sum(r.acct_pay for r in rows))  # fmt: skip

    @property
    def treated_today(self) -> PairFigures:
        return self._sum(self.treated, False)

    @property
    def treated_month(self) -> PairFigures:
        return self._sum(self.treated, True)

    @property
    def insured_today(self) -> PairFigures:
        return self._sum(self.insured, False)

    @property
    def insured_month(self) -> PairFigures:
        return self._sum(self.insured, True)

    @property
    def owed_to_us(self) -> Fen:
        return sum(c.owed_to_us for c in self.clearing or ())

    @property
    def owed_by_us(self) -> Fen:
        return sum(c.owed_by_us for c in self.clearing or ())


def cross_region_figures(store: DashboardStore, now: datetime, region: str = "") -> CrossRegionFigures:
    """Cross-region settlements of today and of the month so far per region pair, both sides (net of
    reversals, as ``overview``), and the balances of the clearing accounts (all-region callers only:
    the clearing accounts are the node's, not a region's)."""
    day = local_day(now)
    month_start = day.replace(day=1)
    today_begin, today_end = utc_bounds(day, day)
    month_begin, month_end = utc_bounds(month_start, day)
    stored = {a: n for a, n in store.region_names().items() if n and n != a}  # a guest's region may carry no name
    names = {**REGION_NAMES, **DISTRICT_NAMES, **stored}

    def per_pair(slices: Sequence[CrossRegionSlice]) -> dict[tuple[str, str, str], PairFigures]:
        sums: dict[tuple[str, str, str], list[int]] = {}
        for x in slices:
            here, other = (x.treated_in, x.insured_in) if x.side == TREATED_HERE else (x.insured_in, x.treated_in)
            total = sums.setdefault((x.side, here, other), [0, 0, 0, 0])
            for i, v in enumerate((x.settlements, x.medfee_sumamt, x.fund_pay_sumamt, x.acct_pay)):
                total[i] += v
        return {k: PairFigures(*v) for k, v in sums.items()}

    today = per_pair(store.cross_region_slices(today_begin, today_end, region))
    month = per_pair(store.cross_region_slices(month_begin, month_end, region))

    def pairs(side: str) -> list[RegionPair]:
        keys = sorted({k for k in (*today, *month) if k[0] == side},
                      key=lambda k: (-month.get(k, NO_PAIR).settlements, k))  # fmt: skip
        return [RegionPair(side, here, other, names.get(other, other), today.get(k, NO_PAIR), month.get(k, NO_PAIR))
                for k in keys for _, here, other in [k]]  # fmt: skip

    clearing = None
    if not region:
        accounts = store.accounts(CLEARING, 1000)
        clearing = sorted(
            (ClearingBalance(a.code.split(":", 1)[1], names.get(a.code.split(":", 1)[1], ""), a.debits, a.credits)
             for a in accounts if a.debits != a.credits),
            key=lambda c: c.admdvs,
        )  # fmt: skip
    return CrossRegionFigures(
        day=day,
        month_start=month_start,
        as_of=local_time(utc_naive(now)),
        treated=pairs(TREATED_HERE),
        insured=pairs(INSURED_HERE),
        clearing=clearing,
    )
