"""The materials of a service application the platform fills in from its data (docs/services.md).

Materials the platform holds are filled in from its data (``FETCHERS``); the person only provides the
rest, or signs a promise where the item allows (``fill``; ``prefill`` for the form before it is filled).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING

from yibao.app.privacy import mask_certno, mask_name
from yibao.domain.codes import Insutype, PsnCertType, PsnIdetType
from yibao.domain.filings import FilingStatus
from yibao.domain.money import fen_to_yuan
from yibao.domain.services import FETCHED, MISSING, PROMISED, PROVIDED, MaterialState, ServiceItem, needed

if TYPE_CHECKING:
    from yibao.app.ports import Store


Fetcher = Callable[["Store", str, Mapping[str, str], date], str | None]


def _identity(store: Store, psn_no: str, form: Mapping[str, str], today: date) -> str | None:
    person = store.person(psn_no) if psn_no else None
    if person is None:
        return None
    cert = PsnCertType.describe(person.psn_cert_type)
    return f"{cert} {mask_certno(person.certno)} · {mask_name(person.psn_name)}"


def _active(store: Store, psn_no: str, form: Mapping[str, str]) -> list[tuple[str, str, date, int]]:
    wanted = form.get("insutype", "")
    return [
        (i.insutype, i.insuplc_admdvs, i.psn_insu_date, i.contrib_months)
        for i in (store.insurances(psn_no) if psn_no else [])
        if i.psn_insu_stas == "1" and (not wanted or i.insutype == wanted)
    ]


def _insurance(store: Store, psn_no: str, form: Mapping[str, str], today: date) -> str | None:
    rows = _active(store, psn_no, form)
    return "；".join(f"{Insutype.describe(t)} · {a} · {d.isoformat()} 起参保" for t, a, d, _ in rows) or None


def _contribution(store: Store, psn_no: str, form: Mapping[str, str], today: date) -> str | None:
    rows = [r for r in _active(store, psn_no, form) if r[3] > 0]
    return "；".join(f"{Insutype.describe(t)} 累计缴费 {m} 个月" for t, _, _, m in rows) or None


def _account(store: Store, psn_no: str, form: Mapping[str, str], today: date) -> str | None:
    if not any(t == Insutype.EMPLOYEE_BASIC for t, *_ in _active(store, psn_no, {})):
        return None
    return f"个人账户余额 {fen_to_yuan(store.account_balance(psn_no)):,.2f} 元"


def _filings(store: Store, psn_no: str, form: Mapping[str, str], today: date) -> str | None:
    held = [
        f
        for f in (store.filings_of(psn_no) if psn_no else [])
        if f.status == FilingStatus.APPROVED and f.begndate <= today and (f.enddate is None or today <= f.enddate)
    ]
    return "；".join(f"{f.filing_type.label} · {f.mdtrtarea_admdvs} · {f.filing_id}" for f in held) or None


def _special_identity(store: Store, psn_no: str, form: Mapping[str, str], today: date) -> str | None:
    known = {c.value for c in PsnIdetType}
    held = [i for i in (store.identities(psn_no) if psn_no else []) if i.psn_idet_type in known and i.valid_on(today)]
    return "；".join(PsnIdetType.describe(i.psn_idet_type) for i in held) or None


FETCHERS: dict[str, Fetcher] = {
    "identity": _identity,
    "insurance": _insurance,
    "contribution": _contribution,
    "account": _account,
    "filings": _filings,
    "special_identity": _special_identity,
}
"""How each ``yibao.domain.services.SOURCES`` entry is read: a masked summary, or None (not held)."""


def fill(
    store: Store,
    item: ServiceItem,
    psn_no: str,
    form: Mapping[str, str],
    provided: Mapping[str, str],
    promised: Sequence[str],
    today: date,
) -> tuple[MaterialState, ...]:
    """Each material the application needs: fetched from the platform's data where it holds it (the
    person brings nothing the platform knows), else promised (where allowed), provided (with the
    person's reference, e.g. an invoice number), or missing."""
    states = []
    for m in needed(item, form):
        value = FETCHERS[m.source](store, psn_no, form, today) if m.source in FETCHERS else None
        if value:
            states.append(MaterialState(m.code, m.name, FETCHED, value[:300]))
        elif m.promise and m.code in promised:
            states.append(MaterialState(m.code, m.name, PROMISED, "本人已签署告知承诺书"))
        elif m.code in provided:
            states.append(MaterialState(m.code, m.name, PROVIDED, provided[m.code].strip()[:200] or "已提交"))
        else:
            states.append(MaterialState(m.code, m.name, MISSING))
    return tuple(states)


def prefill(store: Store, item: ServiceItem, psn_no: str, today: date) -> dict[str, str]:
    """What the form of ``item`` shows the person before they fill anything: code → the platform's data
    for each material it holds (shown as 平台已有，无需提供)."""
    return {s.code: s.value for s in fill(store, item, psn_no, {}, {}, (), today) if s.how == FETCHED}
