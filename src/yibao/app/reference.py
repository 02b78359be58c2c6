"""The national reference lists through the interface: files for 1303 and 1307–1315 (fetched with 9102),
paged queries for 1304, 1316 and 1317, and 1901 字典表查询 from the code tables.

A download takes the version the HIS holds (``ver``, "0" for everything) and gives the rows of a newer
version: new rows, changed rows and rows that left the list (``vali_flag`` 0). The answer's ``ver`` is
the newest version in the file, which the HIS sends next time. Regional lists (1309) give the national
rows and those of the caller's region.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable

from yibao.app import commands as c
from yibao.app.access import caller
from yibao.app.errors import NotFound, Refused
from yibao.app.files import file_answer
from yibao.app.ports import ReferenceQuery, Store
from yibao.app.records import Context, local_time
from yibao.domain.codes import CodeTable
from yibao.domain.reference import LISTS, ROW_STATE, ReferenceEntry, ReferenceList, normal_version, version_key

MAX_PAGE = 1000
DOWNLOADS = {infno: ref.title for infno, ref in LISTS.items() if not ref.query}
"""1303, 1307–1311, 1313–1315: answered with a file."""


def download(store: Store, ctx: Context, infno: str, ver: str) -> dict[str, object]:
    """1303, 1307–1315: the rows newer than ``ver`` as a zipped tab-separated file (first row: the field names)."""
    inst = caller(store, ctx, hospital=False)
    ref = LISTS[infno]
    asked = version(ver, "input.data.ver")
    regions = ("", inst.admdvs) if ref.admdvs else None
    _, rows = store.reference_entries(ReferenceQuery(infno, newer_than=asked, admdvs=regions))
    lines = ["\t".join((*ref.fields, *ROW_STATE))]
    lines += ["\t".join(_clean(v) for v in file_row(ref, row)) for row in rows]
    newest = max((row.ver for row in rows), key=version_key, default=asked)
    name = f"{infno}_{inst.admdvs}_{newest}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{name}.txt", ("\n".join(lines) + "\n").encode("utf-8"))
    answer = file_answer(store, ctx, f"{name}.zip", buffer.getvalue())
    return answer | {"title": ref.title, "ver": newest, "data_cnt": len(rows)}


def file_row(ref: ReferenceList, row: ReferenceEntry) -> tuple[str, ...]:
    updated = f"{local_time(row.updt_time):%Y-%m-%d %H:%M:%S}" if row.updt_time else ""
    return (*(row.values.get(f, "") for f in ref.fields), row.vali_flag, updated, row.ver)


def _clean(value: str) -> str:
    """A field on one line of the file: tabs and line breaks become spaces."""
    return value.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def ethnic_drugs(store: Store, ctx: Context, q: c.EthnicDrugQuery) -> dict[str, object]:
    """1304 民族药品目录查询."""
    caller(store, ctx, hospital=False)
    query = ReferenceQuery(
        "1304",
        newer_than=version(q.ver, "input.data.ver"),
        code=q.med_list_codg,
        name=q.drug_genname,
        vali_flag=flag(q.vali_flag),
        updated_since=q.updt_time,
    )

    def keep(e: ReferenceEntry) -> bool:
        return (not q.genname_codg or e.values.get("genname_codg") == q.genname_codg) and (
            not q.drug_prodname or q.drug_prodname in e.values.get("drug_prodname", "")
        )

    return page(store, query, q.page_num, q.page_size, keep if (q.genname_codg or q.drug_prodname) else None)


def list_matches(store: Store, ctx: Context, q: c.ListMatchQuery) -> dict[str, object]:
    """1316 医疗目录与医保目录匹配信息查询: national rows and those of ``insu_admdvs`` (default: the caller's)."""
    inst = caller(store, ctx, hospital=False)
    admdvs = region(q.insu_admdvs, "input.data.insu_admdvs") or inst.admdvs
    query = ReferenceQuery(
        "1316",
        code=q.med_list_codg,
        ref_code=q.hilist_code,
        list_type=q.list_type,
        vali_flag=flag(q.vali_flag),
        admdvs=("", admdvs),
        updated_since=q.updt_time,
        valid_on=q.query_date,
    )
    return page(store, query, q.page_num, q.page_size)


def institution_matches(store: Store, ctx: Context, q: c.InstitutionMatchQuery) -> dict[str, object]:
    """1317 医药机构目录匹配信息查询: the calling institution's own catalogue matched to the national one."""
    caller(store, ctx, hospital=False)
    if q.fixmedins_code and q.fixmedins_code != ctx.fixmedins_code:
        raise Refused("input.data.fixmedins_code", f"{q.fixmedins_code} 只能查询本机构的目录匹配信息")
    admdvs = region(q.insu_admdvs, "input.data.insu_admdvs")
    query = ReferenceQuery(
        "1317",
        code=q.medins_list_codg,
        ref_code=q.med_list_codg,
        name=q.medins_list_name,
        list_type=q.list_type,
        vali_flag=flag(q.vali_flag),
        admdvs=(admdvs,) if admdvs else None,
        fixmedins_code=ctx.fixmedins_code,
        updated_since=q.updt_time,
        valid_on=q.query_date,
    )
    return page(store, query, q.page_num, q.page_size)


def page(
    store: Store,
    query: ReferenceQuery,
    page_num: int,
    page_size: int,
    keep: Callable[[ReferenceEntry], bool] | None = None,
) -> dict[str, object]:
    """One page of a list, shaped like 1312's answer; ``keep`` filters on fields the store does not index."""
    if page_num < 1:
        raise Refused("input.data.page_num", "从1开始")
    if not 1 <= page_size <= MAX_PAGE:
        raise Refused("input.data.page_size", f"应在1到{MAX_PAGE}之间")
    ref = LISTS[query.infno]
    start = (page_num - 1) * page_size
    if keep is not None:
        _, everything = store.reference_entries(query)
        matching = [e for e in everything if keep(e)]
        total, rows = len(matching), matching[start : start + page_size]
    else:
        total, rows = store.reference_entries(query, start, page_size)
    return {
        "data": [output_row(ref, row) for row in rows],
        "page_num": page_num,
        "page_size": page_size,
        "total_count": total,
        "pages": -(-total // page_size),
    }


def output_row(ref: ReferenceList, row: ReferenceEntry) -> dict[str, object]:
    out: dict[str, object] = {f: row.values.get(f) for f in ref.fields}
    out.update(vali_flag=row.vali_flag, updt_time=row.updt_time, ver=row.ver)
    return out


def version(ver: str, where: str) -> str:
    try:
        return normal_version(ver)
    except ValueError:
        raise Refused(where, f"{ver} 不是有效的版本号（应为数字）") from None


def flag(vali_flag: str) -> str:
    if vali_flag not in ("", "0", "1"):
        raise Refused("input.data.vali_flag", f"{vali_flag} 应为0或1")
    return vali_flag


def region(admdvs: str, where: str) -> str:
    if admdvs and not (len(admdvs) == 6 and admdvs.isdigit()):
        raise Refused(where, f"{admdvs} 不是有效的医保区划（6位数字）")
    return admdvs


# ---------------------------------------------------------------- 1901 字典表查询


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


DICTIONARIES: dict[str, type[CodeTable]] = {_snake(cls.__name__): cls for cls in CodeTable.__subclasses__()}
"""The national code tables by their field names: insutype, med_type, psn_type, fund_pay_type ..."""


def dictionary(store: Store, ctx: Context, q: c.DictionaryQuery) -> dict[str, object]:
    """1901: a code table's values and labels (valiFlag 0 asks for withdrawn codes: there are none)."""
    caller(store, ctx, hospital=False)
    table = DICTIONARIES.get(q.type)
    if table is None:
        raise NotFound("input.data.type", f"{q.type} 字典类型不存在（可用：{'、'.join(sorted(DICTIONARIES))}）")
    if q.valiFlag not in ("", "0", "1"):
        raise Refused("input.data.valiFlag", f"{q.valiFlag} 应为0或1")
    if q.parentValue:
        return {"list": []}  # the national code tables are flat
    members = [] if q.valiFlag == "0" else list(table)
    return {
        "list": [
            {"type": q.type, "label": m.label, "value": m.value, "parentValue": "", "sort": i, "valiFlag": "1"}
            for i, m in enumerate(members, start=1)
        ]
    }
