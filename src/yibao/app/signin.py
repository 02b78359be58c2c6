"""Sign-in and sign-out of an operator's device (9001/9002)."""

from __future__ import annotations

from yibao.app.access import caller
from yibao.app.commands import SignIn, SignOut
from yibao.app.errors import NotFound
from yibao.app.ports import Store
from yibao.app.records import Context


def sign_in(store: Store, ctx: Context, cmd: SignIn) -> dict[str, object]:
    inst = caller(store, ctx, hospital=False)
    sign_no = store.new_id("N", inst.admdvs)
    store.insert_sign_in(sign_no, ctx.fixmedins_code, cmd.opter_no, cmd.mac, cmd.ip, ctx.now)
    return {"signinoutb": {"sign_time": ctx.now, "sign_no": sign_no}}


def sign_out(store: Store, ctx: Context, cmd: SignOut) -> dict[str, object]:
    if not store.sign_out(cmd.sign_no, ctx.fixmedins_code, ctx.now):
        raise NotFound("input.signOut.sign_no", f"{cmd.sign_no} 签到记录不存在或已签退")
    return {"signoutoutb": {"sign_time": ctx.now}}
