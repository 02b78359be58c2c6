"""Every transaction the interface answers: its code, name, service path(s) and handler.

A handler takes the Store, the Context and the raw ``input`` and returns the ``output`` and,
for transactions that change something, a reference to what they made (for 2601 冲正).
Per-service paths are those of the public HIS integration code (docs/interface.md); paths
marked [inferred] were not found there and follow the same pattern.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import orjson

from yibao.api.fsi.envelope import EnvelopeError
from yibao.api.fsi.parsing import dicts, many, one
from yibao.app import commands as c
from yibao.app import (
    correct,
    files,
    filings,
    online,
    pharmacy,
    queries,
    reconcile,
    reference,
    registry,
    settle,
    signin,
    statement_detail,
    supervision,
    visits,
    voucher,
)
from yibao.app.ports import Store
from yibao.app.records import Context
from yibao.domain.frozen import frozen

Output = dict[str, object]
Handler = Callable[[Store, Context, dict[str, Any]], tuple[Output, str | None]]


MAX_FEE_LINES = 500
"""Fee lines one 2204/2301 upload (or 2101/2102 purchase) may carry; more go in several batches."""

VISIT_RECORDS = frozenset(
    {"2201", "2202", "2203", "2204", "2205", "2301", "2302", "2401", "2402", "2403", "2404", "2405"}
)
"""Messages that record a visit or its fee lines and move no money: their commits do not wait for the
disk. The next commit that does wait (any settlement's) puts them on disk with it, and PostgreSQL
does so by itself within three times its wal_writer_delay (0.6 s by default); a database crash before
that loses them whole, never a settlement that depends on them (docs/reliability.md, promise 8)."""


@frozen
class Transaction:
    infno: str
    name: str
    handler: Handler
    writes: bool
    """Changes something: runs under the write lock, and its answer is logged for retries and 2601."""
    paths: tuple[str, ...] = ()

    @property
    def durable(self) -> bool:
        """Its commit waits until it is on disk (all but VISIT_RECORDS)."""
        return self.infno not in VISIT_RECORDS


def simple(use_case: Callable[[Store, Context, Any], Output], node: str, cls: type[Any]) -> Handler:
    """A transaction whose input is one node and which makes nothing 2601 would undo."""
    return lambda store, ctx, data: (use_case(store, ctx, one(data, node, cls)), None)


def with_diagnoses(
    use_case: Callable[[Store, Context, Any, list[dict[str, object]]], Output], node: str, cls: type[Any]
) -> Handler:
    return lambda store, ctx, data: (
        use_case(store, ctx, one(data, node, cls), dicts(data, "diseinfo")),
        None,
    )


def making_visit(use_case: Callable[..., Output], node: str, cls: type[Any], out_node: str) -> Handler:
    """2201/2401: the new mdtrt_id is what a 2601 of this message would cancel."""

    def handle(store: Store, ctx: Context, data: dict[str, Any]) -> tuple[Output, str | None]:
        args = (dicts(data, "diseinfo"),) if out_node == "result" else ()
        out = use_case(store, ctx, one(data, node, cls), *args)
        made = out[out_node]
        assert isinstance(made, dict)
        return out, str(made["mdtrt_id"])

    return handle


def upload(kind: str) -> Handler:
    """2204/2301: what a 2601 of this message would cancel are the rows it stored, not their numbers."""

    def handle(store: Store, ctx: Context, data: dict[str, Any]) -> tuple[Output, str | None]:
        lines = many(data, "feedetail", c.FeeLineIn, most=MAX_FEE_LINES)
        out, stored = visits.upload_fees(store, ctx, lines, kind)
        return out, orjson.dumps(stored).decode()

    return handle


def pre_settle(kind: str) -> Handler:
    return lambda store, ctx, data: (settle.pre_settle(store, ctx, one(data, "data", c.SettleIn), kind), None)


def settle_(kind: str) -> Handler:
    return lambda store, ctx, data: settle.settle(store, ctx, one(data, "data", c.SettleIn), kind)


def reverse(kind: str) -> Handler:
    return lambda store, ctx, data: settle.reverse(store, ctx, one(data, "data", c.Reverse), (kind,))


def pharmacy_purchase(commit: bool) -> Handler:
    def handle(store: Store, ctx: Context, data: dict[str, Any]) -> tuple[Output, str | None]:
        cmd, lines = one(data, "data", c.PharmacyIn), many(data, "feedetail", c.FeeLineIn, most=MAX_FEE_LINES)
        return pharmacy.purchase(store, ctx, cmd, lines, commit=commit)

    return handle


def online_upload(store: Store, ctx: Context, data: dict[str, Any]) -> tuple[Output, str | None]:
    """6201: the order's data and its fee lines in one message."""
    cmd, lines = one(data, "data", c.OnlineUpload), many(data, "feedetail", c.FeeLineIn, most=MAX_FEE_LINES)
    return online.upload(store, ctx, cmd, lines)


def online_refund(store: Store, ctx: Context, data: dict[str, Any]) -> tuple[Output, str | None]:
    return online.refund(store, ctx, one(data, "data", c.OrderRef))


def file_referral(store: Store, ctx: Context, data: dict[str, Any]) -> tuple[Output, str | None]:
    """2501: the new filing's number is what the message made."""
    return filings.file_referral(store, ctx, one(data, "refmedin", filings.ReferralIn))


def cancel_outpatient_fees(store: Store, ctx: Context, data: dict[str, Any]) -> tuple[Output, str | None]:
    ref = one(data, "data", c.VisitRef)
    batch = None if ref.chrg_bchno in ("", visits.CANCEL_ALL) else ref.chrg_bchno
    return visits.cancel_fees(store, ctx, ref.mdtrt_id, ref.psn_no, "outpatient", None, batch, "input.data"), None


def cancel_inpatient_fees(store: Store, ctx: Context, data: dict[str, Any]) -> tuple[Output, str | None]:
    return visits.cancel_inpatient_fees(store, ctx, many(data, "data", c.FeeLineCancel)), None


def catalogue_download(infno: str) -> Handler:
    def handle(store: Store, ctx: Context, data: dict[str, Any]) -> tuple[Output, str | None]:
        ver = one(data, "data", c.CatalogueDownload).ver if data.get("data") else "0"
        return files.catalogue_download(store, ctx, infno, ver), None

    return handle


def catalogue_query(store: Store, ctx: Context, data: dict[str, Any]) -> tuple[Output, str | None]:
    q = one(data, "data", c.CatalogueQuery)
    return files.catalogue_query(store, ctx, q.hilist_code, q.page_num, q.page_size), None


def reference_download(infno: str) -> Handler:
    def handle(store: Store, ctx: Context, data: dict[str, Any]) -> tuple[Output, str | None]:
        ver = one(data, "data", c.CatalogueDownload).ver if data.get("data") else "0"
        return reference.download(store, ctx, infno, ver), None

    return handle


def reference_query(use_case: Callable[[Store, Context, Any], Output], cls: type[Any]) -> Handler:
    """1304/1316/1317: every field of ``data`` is optional, so ``data`` itself may be left out."""
    return lambda store, ctx, data: (use_case(store, ctx, one(data, "data", cls) if data.get("data") else cls()), None)


def file_upload(store: Store, ctx: Context, data: dict[str, Any]) -> tuple[Output, str | None]:
    """9101 fsUploadIn{in, filename}: ``in`` is the file as Base64 text or as an array of bytes."""
    node = data.get("fsUploadIn")
    if not isinstance(node, dict):
        raise EnvelopeError("input.fsUploadIn", "不能为空")
    raw = node.get("in")
    try:
        if isinstance(raw, str):
            content = base64.b64decode(raw, validate=True)
        elif isinstance(raw, list):
            content = bytes(int(b) % 256 for b in raw)
        else:
            raise EnvelopeError("input.fsUploadIn.in", "应为Base64文本或字节数组")
    except (binascii.Error, ValueError):
        raise EnvelopeError("input.fsUploadIn.in", "不是有效的Base64") from None
    return files.upload(store, ctx, str(node.get("filename") or ""), content), None


def file_download(store: Store, ctx: Context, data: dict[str, Any]) -> tuple[Any, str | None]:
    return files.download(store, ctx, one(data, "fsDownloadIn", c.FileDownload).file_qury_no), None


OUTPATIENT = "outpatientDocInfoService/"
OUT_SETTLE = "outpatientSettleService/"
QUERY = "fsiIntegratedQueryService/"
PHARMACY = "pharmacySettleService/"  # [inferred]
STMT = "ybSettlementStmtService/"
ONLINE = "onlineSettleService/"  # [inferred]
RISK = "riskConService/"
ANALYZE = supervision.AnalyzeIn
W, R = True, False  # writes / reads

TRANSACTIONS: dict[str, Transaction] = {
    t.infno: t
    for t in [
        Transaction("9001", "签到", simple(signin.sign_in, "signIn", c.SignIn), W, ("signInSignOutService/signIn",)),
        Transaction("9002", "签退", simple(signin.sign_out, "signOut", c.SignOut), W,
                    ("signInSignOutService/signOut",)),
        Transaction("1101", "人员信息获取", simple(registry.person_info, "data", c.PersonQuery), R,
                    ("fsiPsnInfoService/queryPsnInfo",)),
        Transaction("1162", "电子凭证读码", simple(voucher.read_code_1162, "data", c.QrCodeRead), W,
                    ("hsecfc/localQrCodeQuery",)),
        Transaction("1201", "医药机构信息获取", simple(registry.institution_info, "medinsinfo", c.InstitutionQuery), R,
                    ("fsiFixMedInsService/queryFixMedIns",)),
        Transaction("2001", "人员待遇享受检查", simple(registry.benefit_check, "data", c.BenefitCheck), R,
                    ("fsiPsnPriorityInfoService/queryPsnPriorityInfo",)),
        Transaction("2201", "门诊挂号", making_visit(visits.register, "data", c.Register, "data"), W,
                    (OUTPATIENT + "outpatientRregistration",)),
        Transaction("2202", "门诊挂号撤销", simple(visits.cancel_registration, "data", c.VisitRef), W,
                    (OUTPATIENT + "outpatientRegistrationCancel",)),
        Transaction("2203", "门诊就诊信息上传", with_diagnoses(visits.visit_info, "mdtrtinfo", c.VisitInfo), W,
                    (OUTPATIENT + "outpatientMdtrtinfoUp", OUTPATIENT + "outpatientMdtrtinfoUpA")),
        Transaction("2204", "门诊费用明细上传", upload("outpatient"), W, (OUTPATIENT + "outpatientFeeListUp",)),
        Transaction("2205", "门诊费用明细撤销", cancel_outpatient_fees, W, (OUTPATIENT + "outpatientFeeListUpCancel",)),
        Transaction("2206", "门诊预结算", pre_settle("outpatient"), R,
                    (OUT_SETTLE + "preSettletment", OUT_SETTLE + "preSettletmentA")),
        Transaction("2207", "门诊结算", settle_("outpatient"), W,
                    (OUT_SETTLE + "saveSettletmentV2", OUT_SETTLE + "saveSettletment",
                     OUT_SETTLE + "saveSettletmentA")),
        Transaction("2208", "门诊结算撤销", reverse("outpatient"), W, (OUT_SETTLE + "cancleSettletment",)),
        Transaction("2101", "药店预结算", pharmacy_purchase(commit=False), R, (PHARMACY + "preSettletment",)),
        Transaction("2102", "药店结算", pharmacy_purchase(commit=True), W, (PHARMACY + "saveSettletment",)),
        Transaction("2103", "药店结算撤销", reverse("pharmacy"), W, (PHARMACY + "cancleSettletment",)),
        Transaction("2301", "住院费用明细上传", upload("inpatient"), W, ("hospFeeDtlService/feeDtlUp",)),
        Transaction("2302", "住院费用明细撤销", cancel_inpatient_fees, W, ("hospFeeDtlService/feeDtlCl",)),
        Transaction("2303", "住院预结算", pre_settle("inpatient"), R, ("hospSettService/preSett",)),
        Transaction("2304", "住院结算", settle_("inpatient"), W, ("hospSettService/settV2", "hospSettService/sett")),
        Transaction("2305", "住院结算撤销", reverse("inpatient"), W, ("hospSettService/settCl",)),
        Transaction("2401", "入院办理", making_visit(visits.admit, "mdtrtinfo", c.Admission, "result"), W,
                    ("hospitalRegisterService/hospitalRegisterSave",)),
        Transaction("2402", "出院办理", with_diagnoses(visits.discharge, "dscginfo", c.Discharge), W,
                    ("dscgService/dischargeProcess",)),
        Transaction("2403", "住院信息变更", simple(visits.change_admission, "adminfo", c.AdmissionChange), W,
                    ("hospitalRegisterService/hospitalRegisterEdit",)),
        Transaction("2404", "入院撤销", simple(visits.cancel_admission, "data", c.VisitRef), W,
                    ("hospitalRegisterService/hospitalRegisterCancel",)),
        Transaction("2405", "出院撤销", simple(visits.undo_discharge, "data", c.VisitRef), W,
                    ("dscgService/dischargeUndo",)),
        Transaction("2501", "转院备案", file_referral, W, ("reflService/reflAppy",)),  # [inferred]
        Transaction("2502", "转院备案撤销", simple(filings.cancel_referral, "data", filings.ReferralCancel), W,
                    ("reflService/reflAppyCancel",)),  # [inferred]
        Transaction("2601", "冲正交易", simple(correct.correct, "data", c.Correct), W, ("reverseService/revsMethod",)),
        Transaction("3101", "明细审核事前分析服务", simple(supervision.before_analyze, "data", ANALYZE), R,
                    (RISK + "beforeAnalyze",)),
        Transaction("3102", "明细审核事中分析服务", simple(supervision.course_analyze, "data", ANALYZE), W,
                    (RISK + "courseAnalyze",)),
        Transaction("3201", "医药机构费用结算对总账", simple(reconcile.total_statement, "data", c.TotalStatement), W,
                    (STMT + "stmtTotal",)),
        Transaction("3203", "清算申请", simple(reconcile.apply_clearing, "data", c.ClearingApply), W,
                    (STMT + "clrAppy",)),  # [inferred]
        Transaction("3204", "清算申请撤销", simple(reconcile.cancel_clearing, "data", c.ClearingCancel), W,
                    (STMT + "clrAppyCancel",)),  # [inferred]
        Transaction("3202", "医药机构费用结算对明细账",
                    simple(statement_detail.detail_statement, "data", c.DetailStatement), W, (STMT + "stmtDetail",)),
        *[Transaction(infno, title, catalogue_download(infno), W, (f"catalogdownservice/downCatalog{infno}",))
          for infno, (title, _) in files.DOWNLOADS.items()],
        Transaction("1312", "医保目录信息查询", catalogue_query, R, ("catalogqueryservice/queryHilist",)),
        *[Transaction(infno, title, reference_download(infno), W, (f"catalogdownservice/downCatalog{infno}",))
          for infno, title in reference.DOWNLOADS.items()],
        Transaction("1304", "民族药品目录查询", reference_query(reference.ethnic_drugs, c.EthnicDrugQuery), R,
                    ("catalogqueryservice/queryEthnicDrug",)),  # [inferred]
        Transaction("1316", "医疗目录与医保目录匹配信息查询",
                    reference_query(reference.list_matches, c.ListMatchQuery), R,
                    ("catalogqueryservice/queryMedListMatch",)),  # [inferred]
        Transaction("1317", "医药机构目录匹配信息查询",
                    reference_query(reference.institution_matches, c.InstitutionMatchQuery), R,
                    ("catalogqueryservice/queryMedinsListMatch",)),  # [inferred]
        Transaction("1901", "字典表查询", simple(reference.dictionary, "data", c.DictionaryQuery), R,
                    ("catalogqueryservice/queryDataDic",)),
        Transaction("9101", "文件上传", file_upload, W, ("fileupload/upload",)),
        Transaction("9102", "文件下载", file_download, R, ("fileupload/download",)),
        # 互联网+医保 (移动支付): the paths are not in the public code
        Transaction("6201", "线上费用明细上传", online_upload, W, (ONLINE + "uploadFeeDetail",)),  # [inferred]
        Transaction("6203", "医保退费", online_refund, W, (ONLINE + "refundSetl",)),  # [inferred]
        Transaction("6301", "订单结算结果查询", simple(online.query, "data", c.OrderRef), R,
                    (ONLINE + "querySetlResult",)),  # [inferred]
        Transaction("6401", "费用明细上传撤销", simple(online.cancel, "data", c.OrderRef), W,
                    (ONLINE + "revokeFeeDetail",)),  # [inferred]
        Transaction("5201", "就诊信息查询", simple(queries.visits, "data", c.RecordQuery), R,
                    (QUERY + "queryMdtrtInfo",)),  # [inferred]
        Transaction("5202", "诊断信息查询", simple(queries.diagnoses, "data", c.RecordQuery), R,
                    (QUERY + "queryDiseInfo",)),  # [inferred]
        Transaction("5203", "结算信息查询", simple(queries.settlement, "data", c.RecordQuery), R,
                    (QUERY + "querySetlInfo",)),
        Transaction("5204", "费用明细查询", simple(queries.fee_lines, "data", c.RecordQuery), R,
                    (QUERY + "queryFeeList",)),
        Transaction("5205", "人员慢特病用药记录查询", simple(queries.chronic_drugs, "data", c.RecordQuery), R,
                    (QUERY + "queryPsnOpspMedc",)),  # [inferred]
        Transaction("5206", "人员累计信息查询", simple(queries.accumulators, "data", c.RecordQuery), R,
                    (QUERY + "queryPsnCum",)),  # [inferred]
    ]
}  # fmt: skip

PATHS: dict[str, str] = {path: t.infno for t in TRANSACTIONS.values() for path in t.paths}
