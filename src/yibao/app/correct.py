"""冲正 (2601): undo whatever an earlier message did, if it did anything.

A HIS that lost the answer to a message cannot know whether it took effect; 2601 makes the
outcome certain. If the message was never carried out there is nothing to undo and the answer is
still success; if it was, its effect is reversed exactly once.
"""

from __future__ import annotations

import json

from yibao.app.commands import Correct, Reverse, VisitRef
from yibao.app.cross_region import reverse_lost
from yibao.app.errors import Refused
from yibao.app.ports import Store
from yibao.app.records import Context
from yibao.app.settle import reverse
from yibao.app.visits import cancel_admission, cancel_fees, cancel_registration

SETTLING = {"2207": ("outpatient",), "2304": ("inpatient",), "2102": ("pharmacy",)}
REVERSIBLE = (*SETTLING, "2201", "2401", "2204", "2301")


def correct(store: Store, ctx: Context, cmd: Correct) -> dict[str, object]:
    oinfno = cmd.oinfno[:4]
    if oinfno not in REVERSIBLE:
        raise Refused("input.data.oinfno", f"{cmd.oinfno} 不是可冲正交易（可冲正：{', '.join(REVERSIBLE)}）")
    done = store.logged(ctx.fixmedins_code, cmd.omsgid)
    if done is None:
        if oinfno in SETTLING:  # a cross-region settlement may stand at the insured node though not here
            reverse_lost(store, ctx, cmd.psn_no, cmd.omsgid)
        return {"data": {"omsgid": cmd.omsgid, "revs_flag": "0", "memo": "原交易未成功，无需冲正"}}
    if done.infno[:4] != oinfno:
        raise Refused("input.data.oinfno", f"原报文 {cmd.omsgid} 的交易是 {done.infno}，不是 {cmd.oinfno}")
    ref = done.ref or ""
    if oinfno in SETTLING:
        if store.reversal_of(ref) is None:
            reverse(store, ctx, Reverse(setl_id=ref, psn_no=cmd.psn_no), SETTLING[oinfno])
    elif oinfno == "2201":
        visit = store.visit(ref)
        if visit is not None and visit.status != "cancelled":
            cancel_registration(store, ctx, VisitRef(mdtrt_id=ref, psn_no=cmd.psn_no))
    elif oinfno == "2401":
        visit = store.visit(ref)
        if visit is not None and visit.status != "cancelled":
            kind_lines = store.unsettled_lines(ref, None)
            if kind_lines:
                cancel_fees(store, ctx, ref, cmd.psn_no, "inpatient", None, None, "input.data")
            cancel_admission(store, ctx, VisitRef(mdtrt_id=ref, psn_no=cmd.psn_no))
    else:  # 2204 / 2301: the lines that message uploaded, those still unsettled
        kind = "outpatient" if oinfno == "2204" else "inpatient"
        by_visit: dict[str, list[tuple[str, int | None]]] = {}
        for mdtrt_id, sn, *row in json.loads(ref):  # row: the stored line's id (absent in older logs)
            by_visit.setdefault(mdtrt_id, []).append((sn, row[0] if row else None))
        for mdtrt_id, uploaded in by_visit.items():
            live = {line.feedetl_sn: line.id for line in store.unsettled_lines(mdtrt_id, None)}
            # a number cancelled and uploaded again by a later message is that message's line now
            if wanted := [sn for sn, row_id in uploaded if sn in live and row_id in (None, live[sn])]:
                cancel_fees(store, ctx, mdtrt_id, cmd.psn_no, kind, wanted, None, "input.data")
    return {"data": {"omsgid": cmd.omsgid, "revs_flag": "1", "memo": "冲正成功"}}
