"""The inputs of the use cases, one record per transaction node, with the national field names.

The interface adapter validates each transaction's ``input`` into these records; amounts are yuan
as they arrive, counts and prices exact decimals. Optional fields that real clients leave out or
send empty have defaults.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from yibao.domain.frozen import frozen


@frozen
class SignIn:
    opter_no: str
    mac: str = ""
    ip: str = ""


@frozen
class SignOut:
    opter_no: str
    sign_no: str


@frozen
class PersonQuery:
    """1101 data."""

    mdtrt_cert_type: str
    mdtrt_cert_no: str
    card_sn: str = ""
    begntime: datetime | None = None
    psn_cert_type: str = ""
    certno: str = ""
    psn_name: str = ""


@frozen
class InstitutionQuery:
    """1201 medinsinfo."""

    fixmedins_type: str = ""
    fixmedins_name: str = ""
    fixmedins_code: str = ""


@frozen
class BenefitCheck:
    """2001 data."""

    psn_no: str
    insutype: str
    med_type: str
    begntime: datetime | None = None
    fixmedins_code: str = ""


@frozen
class Register:
    """2201 data: outpatient registration."""

    psn_no: str
    insutype: str
    begntime: datetime
    mdtrt_cert_type: str
    mdtrt_cert_no: str
    ipt_otp_no: str
    atddr_no: str = ""
    dr_name: str = ""
    dept_code: str = ""
    dept_name: str = ""
    caty: str = ""
    med_type: str = "11"


@frozen
class VisitRef:
    """2202, 2205 (with chrg_bchno), 2404, 2405 data."""

    mdtrt_id: str
    psn_no: str
    ipt_otp_no: str = ""
    chrg_bchno: str = ""


@frozen
class VisitInfo:
    """2203 mdtrtinfo: what the doctor found, and the med_type of the visit."""

    mdtrt_id: str
    psn_no: str
    med_type: str
    begntime: datetime | None = None
    main_cond_dscr: str = ""
    dise_codg: str = ""
    dise_name: str = ""


@frozen
class Admission:
    """2401 mdtrtinfo."""

    psn_no: str
    insutype: str
    mdtrt_cert_type: str
    mdtrt_cert_no: str
    med_type: str
    ipt_no: str
    begntime: datetime
    atddr_no: str = ""
    chfpdr_name: str = ""
    adm_dept_codg: str = ""
    adm_dept_name: str = ""
    adm_bed: str = ""
    dscg_maindiag_code: str = ""
    dscg_maindiag_name: str = ""
    dise_codg: str = ""
    dise_name: str = ""
    medrcdno: str = ""
    adm_diag_dscr: str = ""


@frozen
class AdmissionChange:
    """2403 adminfo: fields that may change during a stay."""

    mdtrt_id: str
    psn_no: str
    med_type: str = ""
    begntime: datetime | None = None
    adm_dept_codg: str = ""
    adm_dept_name: str = ""
    atddr_no: str = ""
    chfpdr_name: str = ""
    dise_codg: str = ""
    dise_name: str = ""


@frozen
class Discharge:
    """2402 dscginfo."""

    mdtrt_id: str
    psn_no: str
    endtime: datetime
    insutype: str = ""
    dise_codg: str = ""
    dise_name: str = ""
    dscg_way: str = ""


@frozen
class FeeLineIn:
    """One line of 2204/2301 feedetail (and of a 2101/2102 pharmacy purchase)."""

    feedetl_sn: str
    med_list_codg: str
    det_item_fee_sumamt: Decimal
    cnt: Decimal
    pric: Decimal
    fee_ocur_time: datetime
    mdtrt_id: str = ""
    psn_no: str = ""
    chrg_bchno: str = ""
    medins_list_codg: str = ""
    dise_codg: str = ""
    rxno: str = ""
    rx_circ_flag: str = ""
    sin_dos_dscr: str = ""
    used_frqu_dscr: str = ""
    prd_days: Decimal | None = None
    medc_way_dscr: str = ""
    bilg_dept_codg: str = ""
    bilg_dept_name: str = ""
    bilg_dr_codg: str = ""
    bilg_dr_name: str = ""
    hosp_appr_flag: str = ""
    tcmdrug_used_way: str = ""
    etip_flag: str = ""
    dscg_tkdrug_flag: str = ""
    matn_fee_flag: str = ""


@frozen
class FeeLineCancel:
    """2302 data[] item: cancel one inpatient line ("0000" cancels every unsettled one)."""

    feedetl_sn: str
    mdtrt_id: str
    psn_no: str


@frozen
class SettleIn:
    """2206/2207 and 2303/2304 data."""

    psn_no: str
    mdtrt_id: str
    medfee_sumamt: Decimal
    insutype: str
    mdtrt_cert_type: str = ""
    mdtrt_cert_no: str = ""
    med_type: str = ""
    psn_setlway: str = "01"
    chrg_bchno: str = ""
    acct_used_flag: bool = True
    mid_setl_flag: bool = False
    invono: str = ""
    fulamt_ownpay_amt: Decimal | None = None
    overlmt_selfpay: Decimal | None = None
    preselfpay_amt: Decimal | None = None
    inscp_scp_amt: Decimal | None = None


@frozen
class PharmacyIn:
    """2101/2102 data: a pharmacy purchase, fee lines in the same message."""

    psn_no: str
    mdtrt_cert_type: str
    mdtrt_cert_no: str
    insutype: str
    medfee_sumamt: Decimal
    begntime: datetime | None = None
    med_type: str = "41"
    psn_setlway: str = "01"
    acct_used_flag: bool = True
    invono: str = ""
    ipt_otp_no: str = ""


@frozen
class Reverse:
    """2208/2305/2103 data."""

    setl_id: str
    psn_no: str
    mdtrt_id: str = ""


@frozen
class Correct:
    """2601 data: undo whatever message ``omsgid`` did."""

    psn_no: str
    omsgid: str
    oinfno: str


@frozen
class TotalStatement:
    """3201 data: the institution's own totals for a period, to be compared with ours."""

    insutype: str
    clr_type: str
    setl_optins: str
    stmt_begndate: date
    stmt_enddate: date
    medfee_sumamt: Decimal
    fund_pay_sumamt: Decimal
    acct_pay: Decimal
    fixmedins_setl_cnt: int
    refd_setl_flag: str = ""


@frozen
class ClearingApply:
    """3203 data."""

    clr_type: str
    setlym: str
    psntime: int
    medfee_sumamt: Decimal
    fund_appy_sum: Decimal
    cash_payamt: Decimal
    acct_pay: Decimal
    begndate: date
    enddate: date
    clr_way: str = ""
    med_sumfee: Decimal | None = None


@frozen
class ClearingCancel:
    """3204 data."""

    clr_appy_evt_id: str
    clr_type: str = ""


@frozen
class RecordQuery:
    """5201–5206 data: a person and, optionally, a visit, a settlement or a period."""

    psn_no: str
    mdtrt_id: str = ""
    setl_id: str = ""
    begntime: datetime | None = None
    endtime: datetime | None = None
    med_type: str = ""
    cum_ym: str = ""


@frozen
class DetailStatement:
    """3202 data: reconcile settlements one by one against an uploaded (9101) file."""

    setl_optins: str
    file_qury_no: str
    stmt_begndate: date
    stmt_enddate: date
    medfee_sumamt: Decimal | None = None
    fund_pay_sumamt: Decimal | None = None
    cash_payamt: Decimal | None = None
    fixmedins_setl_cnt: int | None = None


@frozen
class CatalogueDownload:
    """1301–1319 data: the version the HIS already holds ("0" for everything)."""

    ver: str = "0"


@frozen
class CatalogueQuery:
    """1312 data."""

    hilist_code: str = ""
    insu_admdvs: str = ""
    page_num: int = 1
    page_size: int = 100


@frozen
class FileDownload:
    """9102 fsDownloadIn."""

    file_qury_no: str
    filename: str = ""
    fixmedins_code: str = ""


@frozen
class EthnicDrugQuery:
    """1304 民族药品目录查询 data (ver: rows newer than it; updt_time: rows updated since, local time)."""

    med_list_codg: str = ""
    genname_codg: str = ""
    drug_genname: str = ""
    drug_prodname: str = ""
    vali_flag: str = ""
    ver: str = ""
    updt_time: datetime | None = None
    page_num: int = 1
    page_size: int = 100


@frozen
class ListMatchQuery:
    """1316 医疗目录与医保目录匹配信息查询 data."""

    query_date: date | None = None
    med_list_codg: str = ""
    hilist_code: str = ""
    list_type: str = ""
    insu_admdvs: str = ""
    vali_flag: str = ""
    updt_time: datetime | None = None
    page_num: int = 1
    page_size: int = 100


@frozen
class InstitutionMatchQuery:
    """1317 医药机构目录匹配信息查询 data (the calling institution's own matches)."""

    query_date: date | None = None
    fixmedins_code: str = ""
    medins_list_codg: str = ""
    medins_list_name: str = ""
    insu_admdvs: str = ""
    list_type: str = ""
    med_list_codg: str = ""
    vali_flag: str = ""
    updt_time: datetime | None = None
    page_num: int = 1
    page_size: int = 100


Day = date  # 1901 has a field named ``date``


@frozen
class DictionaryQuery:
    """1901 字典表查询 data (the field names are the interface's own camelCase)."""

    type: str
    parentValue: str = ""
    admdvs: str = ""
    date: Day | None = None
    valiFlag: str = ""


@frozen
class QrCodeRead:
    """1162 data: a voucher code read at the counter (the national names, camelCase as in ec.query)."""

    ecQrCode: str = ""
    businessType: str = ""
    mdtrt_cert_type: str = "01"
    termId: str = ""
    termIp: str = ""


@frozen
class OnlineUpload:
    """6201 data: an internet hospital's online order (its fee lines come in ``feedetail``, as 2204's)."""

    psn_no: str
    insutype: str
    med_org_ord: str
    begntime: datetime | None = None
    med_type: str = "11"
    medfee_sumamt: Decimal | None = None
    acct_used_flag: bool = True
    ipt_otp_no: str = ""
    dise_codg: str = ""
    dise_name: str = ""
    dept_code: str = ""
    dept_name: str = ""
    caty: str = ""
    atddr_no: str = ""
    dr_name: str = ""


@frozen
class OrderRef:
    """6203, 6301, 6401 data: an online order, by our pay_ord_id or the institution's med_org_ord."""

    pay_ord_id: str = ""
    med_org_ord: str = ""
    psn_no: str = ""
    refd_rea: str = ""
