"""The electronic voucher (医保电子凭证): activation, reading a code (ec.query, 1162), ecTokens.

A person activates their voucher once (ID number, name, and a one-time code sent to them), binding
it to a device. The device shows a short-lived code signed by the issuing authority; a counter scans
it and asks the platform who it is (``read_code``). Each code is used once: the platform answers
with the person and an ``ecToken`` bound to the institution and the business type (用码业务类型),
which the institution then sends as ``mdtrt_cert_no`` with ``mdtrt_cert_type`` "01" in 1101 and in
the transactions of that business (``check_ec_token``). See docs/voucher.md.

Signing and verifying codes are adapter concerns (``yibao.voucher``): the use cases are handed a
``CodeVerifier`` / ``CodeIssuer``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from yibao.app.commands import QrCodeRead
from yibao.app.errors import NotFound, Refused
from yibao.app.privacy import mask_certno
from yibao.app.records import Context, PersonRecord
from yibao.domain.frozen import frozen

if TYPE_CHECKING:
    from yibao.app.ports import Store

ACTIVE, SUSPENDED = "1", "2"
ACTIVATION_TTL = timedelta(minutes=5)
ACTIVATION_TRIES = 5
EC_TOKEN_TTL = timedelta(minutes=30)
"""How long an ecToken is good for after its code was read: long enough for one business at the
counter (registration, or pre-settlement then settlement), short enough to be useless if it leaks."""

BUSINESS_TYPES: dict[str, str] = {
    "01101": "挂号",
    "01102": "住院建档",
    "01103": "入院登记",
    "01104": "缴纳预缴金",
    "01201": "问诊",
    "01202": "预约检查",
    "01203": "检查",
    "01204": "治疗",
    "01301": "结算",
    "01302": "取药",
    "01303": "取报告",
    "01304": "打印票据和清单",
    "01305": "病历材料复印",
    "02121": "药店购药",
    "02122": "下载外购处方",
    "03131": "医疗类APP线上身份认证",
}
"""用码业务类型 businessType (national code table; docs/interface.md)."""

ACCEPTED_BY: dict[str, frozenset[str]] = {
    "2201": frozenset({"01101", "01201", "01301"}),
    "2401": frozenset({"01102", "01103"}),
    "2206": frozenset({"01301"}),
    "2207": frozenset({"01301"}),
    "2303": frozenset({"01301"}),
    "2304": frozenset({"01301"}),
    "2101": frozenset({"02121", "01302"}),
    "2102": frozenset({"02121", "01302"}),
}
"""The business types whose ecToken a transaction takes as its certificate. 1101 (who is this?) takes
any: every business starts by asking."""


# ---------------------------------------------------------------- what the adapters hand in


class BadCode(Exception):
    """A code that admits nobody; ``reason``: malformed, unknown-key, bad-signature, expired."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


@frozen
class CodeClaims:
    ec_index_no: str
    key_id: int
    nonce: str
    """hex"""
    expires: datetime
    """UTC"""


@frozen
class IssuedCode:
    text: str
    expires: datetime
    """UTC"""


class CodeVerifier(Protocol):
    def verify(self, text: str, now: datetime) -> CodeClaims:
        """The claims of an authentic code still in time, else BadCode."""
        ...


class CodeIssuer(Protocol):
    def issue(self, ec_index_no: str, now: datetime) -> IssuedCode: ...


class CodeAuthority(CodeIssuer, CodeVerifier, Protocol):
    """Issues and verifies codes: the portal shows codes and takes them back to authorise a payment."""


# ---------------------------------------------------------------- records and the store


@frozen
class VoucherRecord:
    ec_index_no: str
    psn_no: str
    device_id: str
    status: str
    activated_at: datetime
    updated_at: datetime


@frozen
class ActivationRecord:
    psn_no: str
    code_hash: str
    device_id: str
    expires_at: datetime
    tries: int


@frozen
class VoucherUse:
    """One code read at a counter, and the ecToken it gave."""

    key_id: int
    nonce: str
    expires_at: datetime
    ec_index_no: str
    psn_no: str
    fixmedins_code: str
    business_type: str
    ec_token: str
    used_at: datetime

    @property
    def ec_token_expires(self) -> datetime:
        return self.used_at + EC_TOKEN_TTL


class VoucherStore(Protocol):
    def voucher(self, ec_index_no: str) -> VoucherRecord | None: ...
    def voucher_of(self, psn_no: str) -> VoucherRecord | None: ...
    def save_voucher(self, voucher: VoucherRecord) -> None:
        """Insert, or replace the row of the same ec_index_no."""

    def activation(self, psn_no: str) -> ActivationRecord | None: ...
    def save_activation(self, activation: ActivationRecord | None, psn_no: str) -> None:
        """Replace the person's pending activation (None: remove it)."""

    def record_use(self, use: VoucherUse) -> bool:
        """Record a code as used: True the first time, False if (key_id, nonce) was used already —
        atomically, across every process."""

    def voucher_use(self, ec_token: str) -> VoucherUse | None: ...
    def voucher_uses(self, psn_no: str, limit: int) -> list[VoucherUse]:
        """The person's latest uses, newest first."""


# ---------------------------------------------------------------- activation


def _code_hash(psn_no: str, code: str) -> str:
    return hashlib.sha256(f"{psn_no}:{code}".encode()).hexdigest()


def start_activation(
    store: Store, certno: str, psn_name: str, device_id: str, now: datetime
) -> tuple[PersonRecord, str] | None:
    """Step one: the person names themselves. Returns (person, the one-time code to send them), or
    None if the ID number and name do not name an insured person (the caller says the same either way)."""
    device_id = _device(device_id)
    person = store.person_by_certno(certno.strip().upper())
    if person is None or person.psn_name != psn_name.strip():
        return None
    code = f"{secrets.randbelow(1_000_000):06d}"
    store.save_activation(
        ActivationRecord(person.psn_no, _code_hash(person.psn_no, code), device_id, now + ACTIVATION_TTL, 0),
        person.psn_no,
    )
    return person, code


def confirm_activation(store: Store, certno: str, code: str, now: datetime) -> VoucherRecord:
    """Step two: the code sent in step one activates the voucher (or moves it to the new device)."""
    person = store.person_by_certno(certno.strip().upper())
    pending = store.activation(person.psn_no) if person else None
    if person is None or pending is None or now >= pending.expires_at or pending.tries >= ACTIVATION_TRIES:
        raise Refused("code", "验证码已失效，请重新获取")
    if not hmac.compare_digest(pending.code_hash, _code_hash(person.psn_no, code.strip())):
        store.save_activation(
            ActivationRecord(
                pending.psn_no, pending.code_hash, pending.device_id, pending.expires_at, pending.tries + 1
            ),
            person.psn_no,
        )
        raise Refused("code", "验证码不正确")
    store.save_activation(None, person.psn_no)
    current = store.voucher_of(person.psn_no)
    if current is not None and current.status == SUSPENDED:
        raise Refused("certno", "医保电子凭证已被暂停使用，请联系参保地经办机构")
    voucher = VoucherRecord(
        ec_index_no=current.ec_index_no if current else new_index_no(store, person.psn_no),
        psn_no=person.psn_no,
        device_id=pending.device_id,
        status=ACTIVE,
        activated_at=current.activated_at if current else now,
        updated_at=now,
    )
    store.save_voucher(voucher)
    return voucher


def _device(device_id: str) -> str:
    d = device_id.strip()
    if not 1 <= len(d) <= 64 or not d.isascii() or not d.isprintable():
        raise Refused("device_id", "设备标识应为 1 至 64 个可打印 ASCII 字符")
    return d


def new_index_no(store: Store, psn_no: str) -> str:
    """The voucher index number (ecIndexNo): the insured region, "EC", 24 random hex digits."""
    insurances = store.insurances(psn_no)
    admdvs = insurances[0].insuplc_admdvs if insurances else "000000"
    return f"{admdvs[:6]:0<6}EC{secrets.token_hex(12).upper()}"


def set_suspended(store: Store, psn_no: str, suspended: bool, now: datetime) -> VoucherRecord:
    """Suspend a voucher (a lost phone, a suspected abuse) or restore it: the bureau's decision."""
    current = store.voucher_of(psn_no)
    if current is None:
        raise NotFound("psn_no", f"{psn_no} 未激活医保电子凭证")
    changed = VoucherRecord(
        current.ec_index_no,
        current.psn_no,
        current.device_id,
        SUSPENDED if suspended else ACTIVE,
        current.activated_at,
        now,
    )
    store.save_voucher(changed)
    return changed


# ---------------------------------------------------------------- the code on the phone


def current_code(store: Store, issuer: CodeIssuer, psn_no: str, now: datetime) -> IssuedCode:
    """A fresh code for the person's active voucher."""
    voucher = store.voucher_of(psn_no)
    if voucher is None:
        raise NotFound("psn_no", "医保电子凭证未激活")
    if voucher.status != ACTIVE:
        raise Refused("psn_no", "医保电子凭证已被暂停使用，请联系参保地经办机构")
    return issuer.issue(voucher.ec_index_no, now)


# ---------------------------------------------------------------- reading a code at the counter


class CodeRefused(Refused):
    """A code the counter cannot use; ``code`` is the number ec.query answers with."""

    def __init__(self, field: str, reason: str, code: int) -> None:
        super().__init__(field, reason)
        self.code = code


MALFORMED = 500159
REFUSALS: dict[str, tuple[int, str]] = {
    "malformed": (MALFORMED, "请使用医保电子凭证二维码"),
    "unknown-key": (500161, "二维码签名无效(未知的签发密钥)"),
    "bad-signature": (500161, "二维码签名无效"),
    "expired": (500162, "二维码已过期，请刷新后重新出示"),
    "used": (500163, "二维码已使用，请刷新后重新出示"),
    "not-activated": (500164, "医保电子凭证未激活"),
    "suspended": (500165, "医保电子凭证已被暂停使用"),
    "other-person": (500166, "二维码不是本人的医保电子凭证"),
    "not-designated": (500170, "机构不是定点医药机构"),
    "business-type": (500171, "用码业务类型不正确"),
    "field": (500100, "缺少必填项"),
}
"""ec.query's refusals: (code, message). The national centre's numbers are not published beyond
500159 "请使用医保电子凭证二维码"; the others are ours, in the same range (docs/voucher.md)."""


def refused(reason: str, field: str, detail: str = "") -> CodeRefused:
    code, message = REFUSALS[reason]
    return CodeRefused(field, f"{message}{'：' + detail if detail else ''}", code)


def read_code(
    store: Store,
    codes: CodeVerifier,
    *,
    org_id: str,
    business_type: str,
    qr_code: str,
    now: datetime,
    node: str = "data",
) -> dict[str, object]:
    """ec.query / 1162: the person behind a scanned code, and an ecToken for this institution and
    business. The code is used up; nothing is written if it is refused."""
    use, person = use_code(
        store, codes, org_id=org_id, business_type=business_type, qr_code=qr_code, now=now, node=node
    )
    insurances = store.insurances(person.psn_no)
    return {
        "userName": person.psn_name,
        "idNo": mask_certno(person.certno, head=6),
        "idType": person.psn_cert_type,
        "insuOrg": insurances[0].insuplc_admdvs if insurances else "",
        "ecIndexNo": use.ec_index_no,
        "ecToken": use.ec_token,
        "gender": person.gend,
        "birthday": person.brdy.isoformat() if person.brdy else "",
        "nationality": person.naty,
        "email": "",
        "chnlId": "yibao-portal",
        "authNo": "",
        "businessType": business_type,
        "expireTime": use.ec_token_expires.isoformat(timespec="seconds") + "Z",
    }


def use_code(
    store: Store,
    codes: CodeVerifier,
    *,
    org_id: str,
    business_type: str,
    qr_code: str,
    now: datetime,
    node: str = "data",
    psn_no: str | None = None,
) -> tuple[VoucherUse, PersonRecord]:
    """Verify a code and use it up for this institution and business: the use recorded (with its new
    ecToken) and the person. With ``psn_no``, the code must show that person's voucher (a payment
    the person authorises in the portal). Nothing is written if it is refused."""
    if not org_id:
        raise refused("field", "orgId", "orgId")
    if not qr_code:
        raise refused("field", f"{node}.ecQrCode", "ecQrCode")
    institution = store.institution(org_id)
    if institution is None or institution.status != "1":
        raise refused("not-designated", "orgId", org_id)
    if business_type not in BUSINESS_TYPES:
        raise refused("business-type", f"{node}.businessType", business_type or "(空)")
    try:
        claims = codes.verify(qr_code, now)
    except BadCode as exc:
        raise refused(exc.reason if exc.reason in REFUSALS else "malformed", f"{node}.ecQrCode") from None
    voucher = store.voucher(claims.ec_index_no)
    if voucher is None:
        raise refused("not-activated", f"{node}.ecQrCode")
    if voucher.status != ACTIVE:
        raise refused("suspended", f"{node}.ecQrCode")
    if psn_no is not None and voucher.psn_no != psn_no:
        raise refused("other-person", f"{node}.ecQrCode")
    person = store.person(voucher.psn_no)
    if person is None:
        raise refused("not-activated", f"{node}.ecQrCode")
    use = VoucherUse(
        key_id=claims.key_id,
        nonce=claims.nonce,
        expires_at=claims.expires,
        ec_index_no=voucher.ec_index_no,
        psn_no=person.psn_no,
        fixmedins_code=org_id,
        business_type=business_type,
        ec_token=f"{institution.admdvs[:6]:0<6}ec{secrets.token_hex(15)}",
        used_at=now,
    )
    if not store.record_use(use):
        raise refused("used", f"{node}.ecQrCode")
    return use, person


# ---------------------------------------------------------------- the ecToken as a certificate


def person_of_ec_token(store: Store, ec_token: str, fixmedins_code: str, now: datetime, node: str) -> str:
    """1101 with mdtrt_cert_type 01: the psn_no an ecToken of this institution names."""
    return _live_use(store, ec_token, fixmedins_code, now, node).psn_no


def check_ec_token(
    store: Store, ec_token: str, fixmedins_code: str, psn_no: str, infno: str, now: datetime, node: str
) -> None:
    """An ecToken shown as the certificate of ``infno``: this institution's, of this person, in time,
    and read for a business this transaction belongs to."""
    use = _live_use(store, ec_token, fixmedins_code, now, node)
    if use.psn_no != psn_no:
        raise Refused(f"{node}.mdtrt_cert_no", "电子凭证令牌与人员不符")
    accepted = ACCEPTED_BY.get(infno)
    if accepted is not None and use.business_type not in accepted:
        names = "、".join(f"{b} {BUSINESS_TYPES[b]}" for b in sorted(accepted))
        raise Refused(
            f"{node}.mdtrt_cert_no",
            f"电子凭证令牌的用码业务类型为 {use.business_type} {BUSINESS_TYPES[use.business_type]}，本交易需要 {names}",
        )


def _live_use(store: Store, ec_token: str, fixmedins_code: str, now: datetime, node: str) -> VoucherUse:
    use = store.voucher_use(ec_token) if ec_token else None
    if use is None or use.fixmedins_code != fixmedins_code:
        raise NotFound(f"{node}.mdtrt_cert_no", "电子凭证令牌无效，请重新扫码")
    if now >= use.ec_token_expires:
        raise Refused(f"{node}.mdtrt_cert_no", "电子凭证令牌已过期，请重新扫码")
    voucher = store.voucher(use.ec_index_no)
    if voucher is None or voucher.status != ACTIVE:
        raise Refused(f"{node}.mdtrt_cert_no", "医保电子凭证已被暂停使用")
    return use


def read_code_1162(store: Store, ctx: Context, q: QrCodeRead) -> dict[str, object]:
    """1162 电子凭证读码: ``read_code`` inside the national envelope; the answer under ``data``."""
    if q.mdtrt_cert_type != "01":
        raise Refused("input.data.mdtrt_cert_type", "读码交易只受理医保电子凭证(01)")
    if ctx.codes is None:
        raise Refused("infno", "本节点未配置电子凭证验签密钥")
    return {
        "data": read_code(
            store,
            ctx.codes,
            org_id=ctx.fixmedins_code,
            business_type=q.businessType,
            qr_code=q.ecQrCode,
            now=ctx.now,
            node="input.data",
        )
    }
