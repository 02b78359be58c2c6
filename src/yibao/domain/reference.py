"""The national reference lists besides the 医保目录 itself (1303–1317): what each list holds.

Each list is named by the transaction that serves it and keeps the national field names of the
public HIS integration code (newtouch G_yb_*_b tables, the Guangzhou API.GZSI models, binzhe ML13xx):
1307 rows have ``diag_code``/``diag_name``, 1308 ``oprn_oprt_code``/``oprn_oprt_name``, and so on.
A row is identified within its list by ``code`` (+ ``ref_code`` for the lists that pair two codes,
+ its region and institution where the list has them). Every row carries the version (``ver``) of
the load that last changed it, so a HIS that holds version V downloads only the rows newer than V.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from yibao.domain.frozen import frozen


@frozen
class ReferenceList:
    infno: str
    title: str
    section: str
    """The list's key in a reference file."""
    code: str
    """The field that identifies a row."""
    name: str
    """The field that names a row (searched by the queries)."""
    fields: tuple[str, ...]
    """The row's national fields, in the order of the downloaded file."""
    ref_code: str = ""
    """A second identifying field, for lists that pair two codes (a disease and its operation, two catalogues)."""
    admdvs: str = ""
    """The field holding the row's region, for regional lists ("" in a row: national)."""
    fixmedins: str = ""
    """The field holding the institution a row belongs to (1317)."""
    query: bool = False
    """Answered page by page (1304, 1316, 1317) rather than as a file fetched with 9102."""

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f for f in (self.code, self.name, self.ref_code, self.fixmedins) if f)


DRUG = (
    "drug_spec", "dosform", "rute", "used_frqu", "each_dos", "otc_flag", "pacmatl", "pacspec",
    "min_useunt", "min_salunt", "min_unt", "min_pac_cnt", "min_pacunt", "min_prepunt", "drug_expy",
    "min_prcunt", "efcc_atd",
)  # fmt: skip
GUIDE = ("dise_cont", "trt_guide_pagen", "trt_guide_elecacs", "memo")

LISTS: dict[str, ReferenceList] = {
    r.infno: r
    for r in [
        ReferenceList("1303", "医疗机构制剂目录", "preparations", "med_list_codg", "drug_prodname",
                      ("med_list_codg", "drug_prodname", "alis", "eng_name", "dosform_name", "ing", "chrt", *DRUG,
                       "drug_type", "aprvno", "selfprep_pmtno", "prodentp_name", "memo", "begntime", "endtime")),
        ReferenceList("1304", "民族药品目录", "ethnic_drugs", "med_list_codg", "drug_genname",
                      ("med_list_codg", "drug_prodname", "genname_codg", "drug_genname", "ethdrug_type", "chemname",
                       "alis", "eng_name", "nat_drug_no", "used_mtd", "ing", "chrt", "defs", "tabo", "mnan", "stog",
                       *DRUG, "prcunt_type", "manl", "pham_type", "pac_cnt", "begndate", "enddate", "memo"),
                      query=True),
        ReferenceList("1307", "疾病与诊断目录", "diagnoses", "diag_code", "diag_name",
                      ("diag_list_id", "cpr", "cpr_code_scp", "cpr_name", "sec_code_scp", "sec_name", "cgy_code",
                       "cgy_name", "sor_code", "sor_name", "diag_code", "diag_name", "used_std", "natstd_diag_code",
                       "natstd_diag_name", "clnc_diag_code", "clnc_diag_name", "memo")),
        ReferenceList("1308", "手术操作目录", "operations", "oprn_oprt_code", "oprn_oprt_name",
                      ("oprn_std_list_id", "cpr", "cpr_code_scp", "cpr_name", "cgy_code", "cgy_name", "sor_code",
                       "sor_name", "dtls_code", "dtls_name", "oprn_oprt_code", "oprn_oprt_name", "used_std",
                       "rtl_oprn_oprt_code", "rtl_oprn_oprt_name", "clnc_oprn_oprt_code", "clnc_oprn_oprt_name",
                       "memo")),
        ReferenceList("1309", "门诊慢特病种目录", "chronic_diseases", "opsp_dise_code", "opsp_dise_name",
                      ("opsp_dise_code", "opsp_dise_name", "opsp_dise_majcls_code", "opsp_dise_majcls_name",
                       "opsp_dise_subd_clss_name", "admdvs", *GUIDE), admdvs="admdvs"),
        ReferenceList("1310", "按病种付费病种目录", "bydise_diseases", "bydise_setl_list_code", "bydise_setl_dise_name",
                      ("dise_setl_list_id", "bydise_setl_list_code", "bydise_setl_dise_name", "qua_oprn_oprt_code",
                       "qua_oprn_oprt_name", *GUIDE), ref_code="qua_oprn_oprt_code"),
        ReferenceList("1311", "日间手术治疗病种目录", "day_surgeries", "daysrg_dise_list_code", "daysrg_dise_name",
                      ("daysrg_trt_list_id", "daysrg_dise_list_code", "daysrg_dise_name", "qua_oprn_oprt_code",
                       "qua_oprn_oprt_name", *GUIDE), ref_code="qua_oprn_oprt_code"),
        ReferenceList("1313", "肿瘤形态学目录", "tumour_morphology", "mpy_type_code", "mpy_type",
                      ("tmor_mpy_id", "tmor_cell_type_code", "tmor_cell_type", "mpy_type_code", "mpy_type", "memo")),
        ReferenceList("1314", "中医疾病目录", "tcm_diseases", "dise_type_code", "dise_type_name",
                      ("tcm_diag_id", "caty_cgy_code", "caty_cgy_name", "spcy_sys_taxa_code", "spcy_sys_taxa_name",
                       "dise_type_code", "dise_type_name", "memo")),
        ReferenceList("1315", "中医证候目录", "tcm_syndromes", "sds_type_code", "sds_type_name",
                      ("tcmsymp_id", "sds_cgy_code", "sds_cgy_name", "sds_attr_code", "sds_attr", "sds_type_code",
                       "sds_type_name", "memo")),
        ReferenceList("1316", "医疗目录与医保目录匹配信息", "list_matches", "med_list_codg", "hilist_name",
                      ("med_list_codg", "hilist_code", "hilist_name", "list_type", "insu_admdvs", "begndate",
                       "enddate", "memo"), ref_code="hilist_code", admdvs="insu_admdvs", query=True),
        ReferenceList("1317", "医药机构目录匹配信息", "institution_matches", "medins_list_codg", "medins_list_name",
                      ("fixmedins_code", "medins_list_codg", "medins_list_name", "insu_admdvs", "list_type",
                       "med_list_codg", "begndate", "enddate", "aprvno", "dosform", "exct_cont", "item_cont",
                       "prcunt", "spec", "pacspec", "memo"),
                      ref_code="med_list_codg", admdvs="insu_admdvs", fixmedins="fixmedins_code", query=True),
    ]
}  # fmt: skip
"""The lists by transaction: files (9102) for 1303 and 1307–1315, paged queries for 1304, 1316 and 1317."""

SECTIONS: dict[str, ReferenceList] = {r.section: r for r in LISTS.values()}
ROW_STATE = ("vali_flag", "updt_time", "ver")
"""What every row carries after its national fields: 有效标志, 更新时间 and the version that last changed it."""


@frozen
class ReferenceEntry:
    """One row of a reference list as stored: its identifying parts, its state and all its fields as text."""

    infno: str
    code: str
    name: str
    values: Mapping[str, str]
    ref_code: str = ""
    admdvs: str = ""
    fixmedins_code: str = ""
    list_type: str = ""
    begndate: date | None = None
    enddate: date | None = None
    vali_flag: str = "1"
    ver: str = "0"
    updt_time: datetime | None = None
    """UTC."""

    def key(self) -> tuple[str, str, str, str]:
        return (self.code, self.ref_code, self.admdvs, self.fixmedins_code)

    def same_content(self, other: ReferenceEntry) -> bool:
        """The same row with the same fields and validity (its version and time aside)."""
        return (self.name, dict(self.values), self.list_type, self.begndate, self.enddate, self.vali_flag) == (
            other.name,
            dict(other.values),
            other.list_type,
            other.begndate,
            other.enddate,
            other.vali_flag,
        )


def entry_of(ref: ReferenceList, values: Mapping[str, str], vali_flag: str = "1") -> ReferenceEntry:
    """A row of ``ref`` from its national fields (text; empty fields left out)."""
    kept = {k: v for k, v in values.items() if v != ""}
    return ReferenceEntry(
        infno=ref.infno,
        code=kept[ref.code],
        name=kept[ref.name],
        values=kept,
        ref_code=kept.get(ref.ref_code, "") if ref.ref_code else "",
        admdvs=kept.get(ref.admdvs, "") if ref.admdvs else "",
        fixmedins_code=kept.get(ref.fixmedins, "") if ref.fixmedins else "",
        list_type=kept.get("list_type", ""),
        begndate=_date(kept.get("begndate")),
        enddate=_date(kept.get("enddate")),
        vali_flag=vali_flag,
    )


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def version_key(ver: str) -> tuple[int, str]:
    """Versions are digit strings compared as numbers: "0" < "9" < "20230101001"."""
    digits = ver.lstrip("0") or "0"
    return (len(digits), digits)


def normal_version(ver: str) -> str:
    """A version without leading zeros ("" and "0000" are "0"); ValueError if it is not digits."""
    if ver == "":
        return "0"
    if not ver.isdigit() or len(ver) > 30:
        raise ValueError(ver)
    return ver.lstrip("0") or "0"
