"""Files through the interface: upload (9101), download (9102), catalogue downloads (1301–1319) and the
catalogue query (1312). A downloadable file is kept for a day; its file_qury_no is the key to it."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

from yibao.app.access import caller
from yibao.app.errors import NotFound, Refused
from yibao.app.ports import Store
from yibao.app.records import Context
from yibao.domain.catalog import CatalogItem
from yibao.domain.codes import ListType
from yibao.domain.frozen import frozen

KEEP = timedelta(days=1)
MAX_UPLOAD = 20 * 2**20

# What each catalogue download holds (by list_type); 1318 and 1319 are the regional caps and shares.
DOWNLOADS: dict[str, tuple[str, tuple[str, ...]]] = {
    "1301": ("西药中成药目录", (ListType.DRUG,)),
    "1302": ("中药饮片目录", (ListType.HERBAL,)),
    "1305": ("医疗服务项目目录", (ListType.SERVICE,)),
    "1306": ("医用耗材目录", (ListType.CONSUMABLE,)),
    "1318": ("医保目录限价信息", tuple(ListType)),
    "1319": ("医保目录先自付比例信息", tuple(ListType)),
}
COLUMNS = {
    "1318": ("hilist_code", "hilist_name", "insu_admdvs", "hilist_pric_uplmt_amt", "begndate", "enddate"),
    "1319": ("hilist_code", "hilist_name", "insu_admdvs", "selfpay_prop", "begndate", "enddate"),
}
ITEM_COLUMNS = ("med_list_codg", "med_list_name", "list_type", "chrgitm_lv", "selfpay_prop", "pric_uplmt_amt",
                "lmt_used_flag", "indication", "begndate", "enddate", "ver")  # fmt: skip


@frozen
class FileContent:
    """A file answer (9102): sent as bytes, not as an envelope."""

    filename: str
    content: bytes


def upload(store: Store, ctx: Context, filename: str, content: bytes) -> dict[str, object]:
    """9101: keep an institution's file (e.g. 3202 reconciliation details) and name it by file_qury_no."""
    if not filename:
        raise Refused("input.fsUploadIn.filename", "不能为空")
    if len(content) > MAX_UPLOAD:
        raise Refused("input.fsUploadIn.in", f"文件超过 {MAX_UPLOAD // 2**20} MB")
    return file_answer(store, ctx, filename, content)


def file_answer(store: Store, ctx: Context, filename: str, content: bytes) -> dict[str, object]:
    file_qury_no = store.new_id("F", ctx.mdtrtarea_admvs or "000000")
    store.save_file(file_qury_no, ctx.fixmedins_code, filename, content, ctx.now, ctx.now + KEEP)
    return {"file_qury_no": file_qury_no, "filename": filename, "dld_endtime": ctx.now + KEEP}


def download(store: Store, ctx: Context, file_qury_no: str) -> FileContent:
    """9102: a file this institution made or was given, until its dld_endtime."""
    found = store.stored_file(file_qury_no)
    if found is None or found[0] not in ("", ctx.fixmedins_code) or found[3] < ctx.now:
        raise NotFound("input.fsDownloadIn.file_qury_no", f"{file_qury_no} 文件不存在或已过期")
    return FileContent(found[1], found[2])


def catalogue_download(store: Store, ctx: Context, infno: str, ver: str) -> dict[str, object]:
    """1301–1319: the place of treatment's catalogue as a zipped tab-separated file, fetched with 9102."""
    inst = caller(store, ctx, hospital=False)
    title, kinds = DOWNLOADS[infno]
    catalog = store.catalog(inst.admdvs)
    items = sorted((i for i in catalog.items.values() if i.list_type in kinds), key=lambda i: i.med_list_codg)
    rows: list[tuple[str, ...]] = [COLUMNS.get(infno, ITEM_COLUMNS)]
    for item in items:
        rows.append(catalogue_row(infno, item, inst.admdvs, catalog.version))
    text = "\n".join("\t".join(row) for row in rows) + "\n"
    name = f"{infno}_{inst.admdvs}_{catalog.version or '0'}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{name}.txt", text.encode("utf-8"))
    return file_answer(store, ctx, f"{name}.zip", buffer.getvalue()) | {"title": title, "ver": ver or "0"}


def catalogue_row(infno: str, item: CatalogItem, admdvs: str, version: str) -> tuple[str, ...]:
    begin = item.begndate.isoformat() if item.begndate else ""
    end = item.enddate.isoformat() if item.enddate else ""
    if infno == "1318":
        cap = item.price_cap_in(admdvs)
        return (item.med_list_codg, item.name, admdvs, "" if cap is None else str(cap), begin, end)
    if infno == "1319":
        return (item.med_list_codg, item.name, admdvs, str(item.selfpay_prop_in(admdvs)), begin, end)
    r = item.restrictions
    limited = "1" if (r.sex or r.age_min is not None or r.age_max is not None or r.max_cnt_per_visit is not None
                      or r.min_hosp_lv is not None or r.med_types or r.indication) else "0"  # fmt: skip
    cap = item.price_cap_in(admdvs)
    return (item.med_list_codg, item.name, item.list_type.value, item.chrgitm_lv.value,
            str(item.selfpay_prop_in(admdvs)), "" if cap is None else str(cap), limited, r.indication, begin, end,
            version)  # fmt: skip


def catalogue_query(store: Store, ctx: Context, hilist_code: str, page_num: int, page_size: int) -> dict[str, object]:
    """1312 医保目录信息查询: one page of the place of treatment's catalogue (or one code)."""
    if page_num < 1:
        raise Refused("input.data.page_num", "从1开始")
    if not 1 <= page_size <= 1000:
        raise Refused("input.data.page_size", "应在1到1000之间")
    inst = caller(store, ctx, hospital=False)
    catalog = store.catalog(inst.admdvs)
    items = sorted(catalog.items.values(), key=lambda i: i.med_list_codg)
    if hilist_code:
        items = [i for i in items if i.med_list_codg == hilist_code]
    page = items[(page_num - 1) * page_size : page_num * page_size]
    return {
        "data": [
            {
                "hilist_code": i.med_list_codg,
                "hilist_name": i.name,
                "insu_admdvs": inst.admdvs,
                "list_type": i.list_type.value,
                "chrgitm_lv": i.chrgitm_lv.value,
                "selfpay_prop": i.selfpay_prop_in(inst.admdvs),
                "hilist_pric_uplmt_amt": i.price_cap_in(inst.admdvs),
                "lmt_used_flag": "1" if i.restrictions.indication else "0",
                "begndate": i.begndate,
                "enddate": i.enddate,
                "ver": catalog.version,
            }
            for i in page
        ],
        "page_num": page_num,
        "page_size": page_size,
        "total_count": len(items),
        "pages": -(-len(items) // page_size),
    }
