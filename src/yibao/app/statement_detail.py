"""Detail reconciliation (3202 对明细账): the institution's settlements line by line against ours.

The institution uploads (9101) a tab-separated file, optionally zipped, one settlement a line:
setl_id, mdtrt_id, psn_no, medfee_sumamt, fund_pay_sumamt, acct_pay, refd_setl_flag (0 settlement,
1 reversal). The answer is a file (fetched with 9102) listing every difference, and the totals.
"""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal, InvalidOperation

from yibao.app.commands import DetailStatement
from yibao.app.errors import NotFound, Refused
from yibao.app.files import file_answer
from yibao.app.ports import Store
from yibao.app.reconcile import utc_bounds
from yibao.app.records import Context
from yibao.domain.money import fen_to_yuan, yuan_to_fen

FIELDS = ("setl_id", "mdtrt_id", "psn_no", "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "refd_setl_flag")


def read_lines(content: bytes) -> list[str]:
    if content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            content = b"".join(zf.read(name) for name in zf.namelist())
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("gbk")
    return [row for row in text.splitlines() if row.strip()]


def parse(content: bytes) -> dict[str, tuple[int, int, int]]:
    """setl_id → (medfee, fund, acct) in fen, reversals negative, as the institution sees them."""
    theirs: dict[str, tuple[int, int, int]] = {}
    for n, row in enumerate(read_lines(content), start=1):
        cells = [c.strip() for c in row.split("\t")]
        if cells[0] == FIELDS[0]:
            continue  # header
        if len(cells) < len(FIELDS):
            raise Refused("input.data.file_qury_no", f"明细文件第{n}行应有{len(FIELDS)}列，实有{len(cells)}列")
        try:
            amounts = tuple(yuan_to_fen(Decimal(c)) for c in cells[3:6])
        except InvalidOperation:
            raise Refused("input.data.file_qury_no", f"明细文件第{n}行金额不是数字") from None
        setl_id = cells[0]
        if setl_id in theirs:
            raise Refused("input.data.file_qury_no", f"明细文件第{n}行 {setl_id} 重复")
        theirs[setl_id] = amounts  # type: ignore[assignment]
    return theirs


def detail_statement(store: Store, ctx: Context, cmd: DetailStatement) -> dict[str, object]:
    found = store.stored_file(cmd.file_qury_no)
    if found is None or found[0] != ctx.fixmedins_code:
        raise NotFound("input.data.file_qury_no", f"{cmd.file_qury_no} 文件不存在，请先用9101上传")
    theirs = parse(found[2])
    ours = store.settlement_lines(ctx.fixmedins_code, *utc_bounds(cmd.stmt_begndate, cmd.stmt_enddate))
    rows = ["setl_id\tstmt_rslt\tmemo"]
    for setl_id in sorted(set(theirs) | set(ours)):
        mine, their = ours.get(setl_id), theirs.get(setl_id)
        if their is None:
            rows.append(f"{setl_id}\t1\t中心有、机构无")
        elif mine is None:
            rows.append(f"{setl_id}\t1\t机构有、中心无")
        elif mine != their:
            shown = "/".join(str(fen_to_yuan(v)) for v in mine)
            rows.append(f"{setl_id}\t1\t金额不符 中心 {shown}")
    differences = len(rows) - 1
    totals = [sum(v[i] for v in ours.values()) for i in range(3)]
    rows.append(f"# 中心合计\t{len(ours)}\t{'/'.join(str(fen_to_yuan(v)) for v in totals)}")
    name = f"3202_{ctx.fixmedins_code}_{cmd.stmt_begndate:%Y%m%d}_{cmd.stmt_enddate:%Y%m%d}.txt"
    answer = file_answer(store, ctx, name, ("\n".join(rows) + "\n").encode("utf-8"))
    return answer | {"stmt_rslt": "1" if differences else "0", "diff_cnt": differences, "setl_optins": cmd.setl_optins}
