"""Sign-in and sign-out of an operator's device (9001/9002), and the rule that every other message
names a sign-in of its institution that is still valid."""

from __future__ import annotations

from datetime import datetime, timedelta

from yibao.app.commands import SignIn, SignOut
from yibao.app.errors import NotFound, Refused
from yibao.app.ports import Store
from yibao.app.records import Context, SignInRecord

VALID_FOR = timedelta(days=1)
"""A HIS signs in at the start of its day: a sign-in older than this is refused."""


def sign_in(store: Store, ctx: Context, cmd: SignIn) -> dict[str, object]:
    """A suspended institution may sign in too: each transaction decides whether suspension stops it
    (visits and settlements do; reversals, which give money back, do not)."""
    inst = store.institution(ctx.fixmedins_code)
    if inst is None:
        raise NotFound("fixmedins_code", f"{ctx.fixmedins_code} 定点医药机构不存在")
    sign_no = store.new_id("N", inst.admdvs)
    store.insert_sign_in(sign_no, ctx.fixmedins_code, cmd.opter_no, cmd.mac, cmd.ip, ctx.now)
    return {"signinoutb": {"sign_time": ctx.now, "sign_no": sign_no}}


def sign_out(store: Store, ctx: Context, cmd: SignOut) -> dict[str, object]:
    if not store.sign_out(cmd.sign_no, ctx.fixmedins_code, ctx.now):
        raise NotFound("input.signOut.sign_no", f"{cmd.sign_no} 签到记录不存在或已签退")
    return {"signoutoutb": {"sign_time": ctx.now}}


def signed_in(store: Store, sign_no: str, fixmedins_code: str, now: datetime) -> SignInRecord:
    """The sign-in a message names (envelope ``sign_no``), which must be its institution's and valid."""
    if not sign_no:
        raise Refused("sign_no", "未签到，请先签到(9001)")
    record = store.sign_in(sign_no)
    if record is None or record.fixmedins_code != fixmedins_code:
        raise NotFound("sign_no", f"{sign_no} 签到流水号不存在")
    if record.signout_time is not None:
        raise Refused("sign_no", f"{sign_no} 已签退，请重新签到(9001)")
    if now - record.sign_time > VALID_FOR:
        raise Refused("sign_no", f"{sign_no} 签到已超过 24 小时，请重新签到(9001)")
    return record
