"""The database schema (SQLAlchemy Core). Money is integer fen; times are UTC.

Money rows — settlements, their fund rows, accumulator deltas and ledger transfers — are only
ever inserted. A reversal is a new settlement with the opposite amounts that names the one it
reverses; balances and year-to-date totals are sums of those rows.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def money(name: str, **kw: object) -> Column[int]:
    return Column(name, BigInteger, nullable=False, server_default="0", **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------- registry

region = Table(
    "region",
    metadata,
    Column("admdvs", String(6), primary_key=True),
    Column("name", String(100), nullable=False),
)

institution = Table(
    "institution",
    metadata,
    Column("fixmedins_code", String(30), primary_key=True),
    Column("fixmedins_name", String(200), nullable=False),
    Column("fixmedins_type", String(1), nullable=False),  # 1 医疗机构, 2 零售药店
    Column("hosp_lv", Integer, nullable=False, server_default="0"),
    Column("specialty", String(30), nullable=False, server_default=""),
    Column("admdvs", String(6), ForeignKey("region.admdvs"), nullable=False),
    Column("status", String(1), nullable=False, server_default="1"),  # 1 正常, 0 暂停
)

practitioner = Table(
    "practitioner",
    metadata,
    Column("prac_code", String(30), primary_key=True),
    Column("prac_name", String(50), nullable=False),
    Column("fixmedins_code", String(30), ForeignKey("institution.fixmedins_code"), nullable=False),
    Column("dept_code", String(30), nullable=False, server_default=""),
)

person = Table(
    "person",
    metadata,
    Column("psn_no", String(30), primary_key=True),
    Column("psn_cert_type", String(3), nullable=False),
    # ID number, name and card number are sealed (SM4-GCM, yibao.store.personal: "v<key>:<base64>") and
    # looked up by a keyed hash (hex HMAC-SM3); no clear copy is stored.
    Column("certno_enc", Text, nullable=False),
    Column("certno_hash", String(64), nullable=False, index=True),
    Column("psn_name_enc", Text, nullable=False),
    Column("gend", String(1), nullable=False),
    Column("brdy", Date, nullable=False),
    Column("naty", String(3), nullable=False, server_default="01"),
    Column("card_no_enc", Text, nullable=True),  # 社会保障卡卡号 (mdtrt_cert_type 03)
    Column("card_no_hash", String(64), nullable=True, index=True),
    Column("card_sn", String(30), nullable=True),  # 卡识别码
)

insurance = Table(
    "insurance",
    metadata,
    Column("psn_no", String(30), ForeignKey("person.psn_no"), primary_key=True),
    Column("insutype", String(6), primary_key=True),
    Column("psn_type", String(10), nullable=False),
    Column("psn_insu_stas", String(1), nullable=False),
    Column("insuplc_admdvs", String(6), nullable=False),
    Column("psn_insu_date", Date, nullable=False),
    Column("paus_insu_date", Date, nullable=True),
    Column("cvlserv_flag", Boolean, nullable=False, server_default="0"),
    Column("emp_name", String(200), nullable=False, server_default=""),
    Column("contrib_months", Integer, nullable=False, server_default="0"),
)

identity = Table(
    "identity",
    metadata,
    Column("psn_no", String(30), ForeignKey("person.psn_no"), primary_key=True),
    Column("psn_idet_type", String(6), primary_key=True),
    Column("begntime", Date, primary_key=True),
    Column("endtime", Date, nullable=True),
    Column("memo", String(200), nullable=False, server_default=""),
)

policy_version = Table(
    "policy_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("admdvs", String(6), nullable=False),
    Column("insutype", String(6), nullable=False),
    Column("begndate", Date, nullable=False),
    Column("name", String(200), nullable=False),
    Column("body", Text, nullable=False),  # the policy file as loaded (TOML)
    Column("loaded_at", DateTime, nullable=False),
    UniqueConstraint("admdvs", "insutype", "begndate"),
)

config_stamp = Table(
    "config_stamp",
    metadata,
    Column("name", String(30), primary_key=True),  # "config": bumped whenever policies or catalogues load
    Column("version", Integer, nullable=False),
)

catalog_item = Table(
    "catalog_item",
    metadata,
    Column("admdvs", String(6), primary_key=True),
    Column("med_list_codg", String(50), primary_key=True),
    Column("version", String(30), nullable=False),
    Column("med_list_name", String(200), nullable=False),
    Column("list_type", String(3), nullable=False),
    Column("chrgitm_lv", String(2), nullable=False),
    Column("body", Text, nullable=False),  # the item as JSON, with its regional values and restrictions
)

# The other national reference lists (1303, 1304, 1307–1317: diagnoses, operations, 门诊慢特病种, 按病种 and
# 日间手术 lists, tumour morphology, TCM diseases and syndromes, catalogue matches), one row per list entry.
# A reload never deletes: a row that left the list becomes vali_flag 0 under the new version.
reference_entry = Table(
    "reference_entry",
    metadata,
    Column("infno", String(6), primary_key=True),  # the list, by the transaction that serves it
    Column("code", String(50), primary_key=True),  # diag_code, oprn_oprt_code, opsp_dise_code, med_list_codg ...
    Column("ref_code", String(50), primary_key=True),  # the paired code (qua_oprn_oprt_code, hilist_code ...) or ""
    Column("admdvs", String(6), primary_key=True),  # a regional row's admdvs / insu_admdvs, "" when national
    Column("fixmedins_code", String(30), primary_key=True),  # 1317: the institution whose catalogue it is, or ""
    Column("name", String(300), nullable=False),
    Column("list_type", String(3), nullable=False, server_default=""),
    Column("begndate", Date, nullable=True),
    Column("enddate", Date, nullable=True),
    Column("vali_flag", String(1), nullable=False, server_default="1"),
    Column("ver", String(30), nullable=False),  # digits, no leading zeros: the load that last changed the row
    Column("updt_time", DateTime, nullable=False),
    Column("body", Text, nullable=False),  # all the row's national fields, as a JSON object of text
    Index("ix_reference_entry_ver", "infno", "ver"),
    Index("ix_reference_entry_updt", "infno", "updt_time"),
)

# ---------------------------------------------------------------- the interface's own state

sign_in = Table(
    "sign_in",
    metadata,
    Column("sign_no", String(30), primary_key=True),
    Column("fixmedins_code", String(30), nullable=False),
    Column("opter_no", String(30), nullable=False),
    Column("mac", String(50), nullable=False, server_default=""),
    Column("ip", String(50), nullable=False, server_default=""),
    Column("sign_time", DateTime, nullable=False),
    Column("signout_time", DateTime, nullable=True),
)

stored_file = Table(
    "stored_file",
    metadata,
    Column("file_qury_no", String(40), primary_key=True),
    Column("fixmedins_code", String(30), nullable=False),  # who may download it ("" for everyone)
    Column("filename", String(200), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("dld_endtime", DateTime, nullable=False),
)

message_log = Table(
    "message_log",
    metadata,
    Column("fixmedins_code", String(30), primary_key=True),
    Column("msgid", String(50), primary_key=True),
    Column("infno", String(6), nullable=False),
    Column("body_hash", String(64), nullable=False),
    Column("response", Text, nullable=False),
    Column("ref", Text, nullable=True),  # what the message made (mdtrt_id, setl_id, uploaded lines), for 2601
    Column("created_at", DateTime, nullable=False),
)

# ---------------------------------------------------------------- console accounts, sessions, audit log

console_user = Table(
    "console_user",
    metadata,
    Column("username", String(50), primary_key=True),
    Column("display_name", String(100), nullable=False, server_default=""),
    Column("role", String(20), nullable=False),  # admin, clerk, auditor, analyst, readonly
    Column("admdvs", String(6), nullable=False),  # the region the account sees ("000000": all)
    Column("password_hash", String(200), nullable=False),  # argon2id, never the password
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("created_at", DateTime, nullable=False),
    Column("password_changed_at", DateTime, nullable=False),
)

web_session = Table(
    "web_session",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 of the cookie's random id, never the id
    Column("kind", String(10), nullable=False),  # console, portal
    Column("username", String(50), ForeignKey("console_user.username"), nullable=True),  # console sessions
    Column("psn_no", String(30), nullable=True),  # portal sessions: the insured person signed in
    Column("created_at", DateTime, nullable=False),
    Column("seen_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("ip", String(50), nullable=False, server_default=""),
    Index("ix_web_session_username", "username"),
)

# Append only: triggers (migration 0003) refuse UPDATE and DELETE on both databases.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False, index=True),
    Column("actor", String(50), nullable=False),  # console username, or the psn_no signed in to the portal
    Column("actor_kind", String(10), nullable=False),  # console, portal, cli, anonymous
    Column("action", String(40), nullable=False),
    Column("psn_no", String(30), nullable=False, server_default=""),  # the person whose data was seen or changed
    Column("object", String(100), nullable=False, server_default=""),  # setl_id, fixmedins_code, username ...
    Column("ip", String(50), nullable=False, server_default=""),
    Column("detail", String(500), nullable=False, server_default=""),
    Index("ix_audit_log_actor_at", "actor", "at"),
    Index("ix_audit_log_psn_at", "psn_no", "at"),
)

# ---------------------------------------------------------------- visits and fees

visit = Table(
    "visit",
    metadata,
    Column("mdtrt_id", String(30), primary_key=True),
    Column("psn_no", String(30), ForeignKey("person.psn_no"), nullable=False),
    Column("insutype", String(6), nullable=False),
    Column("fixmedins_code", String(30), ForeignKey("institution.fixmedins_code"), nullable=False),
    Column("med_type", String(6), nullable=False),
    Column("kind", String(10), nullable=False),  # outpatient, inpatient, pharmacy
    Column("status", String(12), nullable=False),  # open, cancelled, discharged
    Column("ipt_otp_no", String(30), nullable=False, server_default=""),
    Column("begntime", DateTime, nullable=False),
    Column("endtime", DateTime, nullable=True),
    Column("mdtrt_cert_type", String(3), nullable=False, server_default=""),
    Column("mdtrt_cert_no", Text, nullable=False, server_default=""),  # sealed (yibao.store.personal)
    Column("insuplc_admdvs", String(6), nullable=False),
    Column("mdtrtarea_admvs", String(6), nullable=False),
    Column("dept_code", String(30), nullable=False, server_default=""),
    Column("dept_name", String(100), nullable=False, server_default=""),
    Column("atddr_no", String(30), nullable=False, server_default=""),
    Column("dr_name", String(50), nullable=False, server_default=""),
    Column("dise_codg", String(30), nullable=False, server_default=""),
    Column("dise_name", String(200), nullable=False, server_default=""),
    Column("flags", String(200), nullable=False, server_default=""),  # space-separated visit flags
    Column("created_at", DateTime, nullable=False),
    Index("ix_visit_psn_begn", "psn_no", "begntime"),
    Index("ix_visit_ins_ipt", "fixmedins_code", "ipt_otp_no"),
)

diagnosis = Table(
    "diagnosis",
    metadata,
    Column("mdtrt_id", String(30), ForeignKey("visit.mdtrt_id"), primary_key=True),
    Column("diag_srt_no", Integer, primary_key=True),
    Column("diag_type", String(3), nullable=False, server_default="1"),
    Column("diag_code", String(30), nullable=False),
    Column("diag_name", String(200), nullable=False, server_default=""),
    Column("maindiag_flag", String(1), nullable=False, server_default="0"),
)

fee_line = Table(
    "fee_line",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("mdtrt_id", String(30), ForeignKey("visit.mdtrt_id"), nullable=False),
    Column("feedetl_sn", String(30), nullable=False),
    Column("psn_no", String(30), nullable=False),
    Column("chrg_bchno", String(30), nullable=False, server_default=""),
    Column("med_list_codg", String(50), nullable=False),
    Column("medins_list_codg", String(50), nullable=False, server_default=""),
    Column("cnt", String(24), nullable=False),  # exact decimal text (16,4)
    Column("pric", String(24), nullable=False),  # exact decimal text (16,6)
    money("det_item_fee_sumamt"),
    Column("fee_ocur_time", DateTime, nullable=False),
    Column("status", String(10), nullable=False),  # uploaded, cancelled
    Column("setl_id", String(30), nullable=True),  # the settlement that paid it, if any
    Column("body", Text, nullable=False, server_default="{}"),  # the rest of the uploaded line
    Index("ix_fee_line_mdtrt_id", "mdtrt_id"),  # the partial index below serves no query on SQLite
    # setl_id has no index: settling a line changes no indexed column, so on PostgreSQL, with the room
    # its fill factor of 50 leaves in each page (0018), the update is a HOT one; a settlement's lines
    # are found by its visit
    # a serial number is unique among a visit's live lines; a cancelled line's number may be used again
    Index(
        "uq_fee_line_live_sn",
        "mdtrt_id",
        "feedetl_sn",
        unique=True,
        sqlite_where=text("status != 'cancelled'"),
        postgresql_where=text("status != 'cancelled'"),
    ),
)

# ---------------------------------------------------------------- settlements (insert only)

settlement = Table(
    "settlement",
    metadata,
    Column("setl_id", String(30), primary_key=True),
    Column("mdtrt_id", String(30), ForeignKey("visit.mdtrt_id"), nullable=False, index=True),
    Column("psn_no", String(30), nullable=False, index=True),
    Column("fixmedins_code", String(30), nullable=False),
    Column("insutype", String(6), nullable=False),
    Column("med_type", String(6), nullable=False),
    Column("clr_type", String(6), nullable=False),
    Column("insuplc_admdvs", String(6), nullable=False),
    Column("mdtrtarea_admvs", String(6), nullable=False),
    Column("setl_time", DateTime, nullable=False),
    Column("msgid", String(50), nullable=False),
    Column("infno", String(6), nullable=False),
    Column("mid_setl_flag", Boolean, nullable=False, server_default="0"),
    Column("revs_setl_id", String(30), nullable=True, unique=True),  # set on a reversal: the one it reverses
    Column("policy_name", String(200), nullable=False),
    money("medfee_sumamt"),
    money("fulamt_ownpay_amt"),
    money("overlmt_selfpay"),
    money("preselfpay_amt"),
    money("inscp_scp_amt"),
    money("act_pay_dedc"),
    money("hifp_pay"),
    money("pool_prop_selfpay"),
    money("cvlserv_pay"),
    money("hifes_pay"),
    money("hifmi_pay"),
    money("hifob_pay"),
    money("maf_pay"),
    money("oth_pay"),
    money("fund_pay_sumamt"),
    money("psn_part_amt"),
    money("acct_pay"),
    money("psn_cash_pay"),
    money("hosp_part_amt"),
    money("balc"),
    money("acct_mulaid_pay"),
    Column("setl_proc_info", Text, nullable=False, server_default=""),
    Column("mdtrt_cert_type", String(3), nullable=False, server_default=""),  # 01 voucher, 02 ID card, 03 card
    Column("cross_region", String(1), nullable=False, server_default=""),  # "" local, T treated here, I insured here
    Index("ix_settlement_ins_time", "fixmedins_code", "setl_time"),
    Index("ix_settlement_time", "setl_time"),  # the console's figures of the day
)

setl_detail = Table(
    "setl_detail",
    metadata,
    Column("setl_id", String(30), ForeignKey("settlement.setl_id"), primary_key=True),
    Column("fund_pay_type", String(10), primary_key=True),
    money("inscp_scp_amt"),
    Column("crt_payb_lmt_amt", BigInteger, nullable=True),
    money("fund_payamt"),
    Column("setl_proc_info", Text, nullable=False, server_default=""),
)

setl_line = Table(
    "setl_line",
    metadata,
    Column("setl_id", String(30), ForeignKey("settlement.setl_id"), primary_key=True),
    Column("feedetl_sn", String(30), primary_key=True),
    Column("med_list_codg", String(50), nullable=False),
    Column("chrgitm_lv", String(2), nullable=False),
    Column("pric_uplmt_amt", String(24), nullable=True),
    Column("selfpay_prop", String(12), nullable=False),
    money("det_item_fee_sumamt"),
    money("fulamt_ownpay_amt"),
    money("overlmt_amt"),
    money("preselfpay_amt"),
    money("inscp_scp_amt"),
    Column("memo", String(200), nullable=False, server_default=""),
)

counter_delta = Table(
    "counter_delta",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("psn_no", String(30), nullable=False),
    Column("insutype", String(6), nullable=False),
    Column("period", String(7), nullable=False),  # "2024" or "2024-06"
    Column("key", String(60), nullable=False),
    money("delta"),
    Column("setl_id", String(30), nullable=False),  # a settlement's, or a manual claim's (0015)
    Index("ix_counter_psn", "psn_no", "insutype", "period"),
    Index("ix_counter_delta_setl_id", "setl_id"),  # a reversal restores the counters of its settlement
)

# ---------------------------------------------------------------- the fund ledger (TigerBeetle-style)

ledger_account = Table(
    "ledger_account",
    metadata,
    Column("code", String(60), primary_key=True),
    money("debits_posted"),
    money("credits_posted"),
)

ledger_transfer = Table(
    "ledger_transfer",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("posting_id", String(60), nullable=False, index=True),  # the event: setl_id or a load id
    Column("debit_account", String(60), ForeignKey("ledger_account.code"), nullable=False),
    Column("credit_account", String(60), ForeignKey("ledger_account.code"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("code", String(20), nullable=False),
    Column("created_at", DateTime, nullable=False),
)

# ---------------------------------------------------------------- reconciliation and clearing

statement = Table(
    "statement",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("fixmedins_code", String(30), nullable=False),
    Column("insutype", String(6), nullable=False),
    Column("clr_type", String(6), nullable=False),
    Column("stmt_begndate", Date, nullable=False),
    Column("stmt_enddate", Date, nullable=False),
    Column("stmt_rslt", String(1), nullable=False),
    Column("stmt_rslt_dscr", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

clearing_application = Table(
    "clearing_application",
    metadata,
    Column("clr_appy_evt_id", String(30), primary_key=True),
    Column("fixmedins_code", String(30), nullable=False),
    Column("clr_type", String(6), nullable=False),
    Column("setlym", String(6), nullable=False),
    money("medfee_sumamt"),
    money("fund_appy_sum"),
    money("acct_pay"),
    money("cash_payamt"),
    Column("psntime", Integer, nullable=False),
    Column("status", String(1), nullable=False),  # 1 applied, 0 cancelled
    Column("created_at", DateTime, nullable=False),
)


# ---------------------------------------------------------------- the electronic voucher (docs/voucher.md)

voucher = Table(
    "voucher",
    metadata,
    Column("ec_index_no", String(32), primary_key=True),
    Column("psn_no", String(30), nullable=False, unique=True),
    Column("device_id", String(64), nullable=False),
    Column("status", String(1), nullable=False),  # 1 active, 2 suspended
    Column("activated_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

voucher_activation = Table(
    "voucher_activation",
    metadata,
    Column("psn_no", String(30), primary_key=True),
    Column("code_hash", String(64), nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("tries", Integer, nullable=False, server_default="0"),
)

voucher_use = Table(  # one row per code redeemed: "each code once" is its primary key
    "voucher_use",
    metadata,
    Column("key_id", Integer, primary_key=True),
    Column("nonce", String(16), primary_key=True),  # hex
    Column("expires_at", DateTime, nullable=False),
    Column("ec_index_no", String(32), nullable=False),
    Column("psn_no", String(30), nullable=False),
    Column("fixmedins_code", String(30), nullable=False),
    Column("business_type", String(5), nullable=False),
    Column("ec_token", String(64), nullable=False, unique=True),
    Column("used_at", DateTime, nullable=False),
    Index("ix_voucher_use_psn", "psn_no", "used_at"),
    Index("ix_voucher_use_time", "used_at"),
)

# ---------------------------------------------------------------- online orders of internet hospitals (6201–6401)

online_order = Table(  # an order uploaded by 6201, paid in the portal, refunded by 6203, cancelled by 6401
    "online_order",
    metadata,
    Column("pay_ord_id", String(30), primary_key=True),  # ours
    Column("fixmedins_code", String(30), nullable=False),
    Column("med_org_ord", String(30), nullable=False),  # the institution's order number
    Column("psn_no", String(30), nullable=False),
    Column("insutype", String(6), nullable=False),
    Column("med_type", String(6), nullable=False),
    Column("acct_used_flag", Boolean, nullable=False),
    Column("mdtrt_id", String(30), nullable=False),  # the visit made for the order
    Column("status", String(1), nullable=False),  # 1 awaiting payment, 2 paid, 3 refunded, 4 cancelled
    Column("setl_id", String(30), nullable=True),
    Column("refund_setl_id", String(30), nullable=True),
    money("medfee_sumamt"),  # the pre-settlement's amounts at upload; the settlement's once paid
    money("fund_pay_sumamt"),
    money("acct_pay"),
    money("psn_cash_pay"),
    Column("created_at", DateTime, nullable=False),
    Column("paid_at", DateTime, nullable=True),
    Column("closed_at", DateTime, nullable=True),  # refunded or cancelled
    UniqueConstraint("fixmedins_code", "med_org_ord"),
    Index("ix_online_order_psn", "psn_no", "created_at"),
)

gateway_nonce = Table(  # the Rio nonces the gateway has let in, within its window (store/nonces.py)
    "gateway_nonce",
    metadata,
    Column("caller", String(64), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("signed_at", DateTime, nullable=False, index=True),
)

# ---------------------------------------------------------------- cross-region filings, filing-free zones

filing_zone = Table(  # a filing-free zone (免备案区域), loaded by `yibao load-zones`
    "filing_zone",
    metadata,
    Column("code", String(30), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("regions", Text, nullable=False),  # JSON list of admdvs
    Column("outpatient_from", Date, nullable=True),
    Column("emergency_from", Date, nullable=True),
    Column("inpatient_from", Date, nullable=True),  # null: stays still need a filing
    Column("enddate", Date, nullable=True),
    Column("sources", Text, nullable=False, server_default="[]"),  # JSON list
    Column("loaded_at", DateTime, nullable=False),
)

filing = Table(  # a filing (备案) of a person insured here, for care in another region
    "filing",
    metadata,
    Column("filing_id", String(30), primary_key=True),  # trt_dcla_detl_sn
    Column("psn_no", String(30), nullable=False),
    Column("insutype", String(6), nullable=False),
    Column("filing_type", String(12), nullable=False),  # long_term, referral, temporary
    Column("mdtrtarea_admdvs", String(6), nullable=False),  # xx0000 a province, xxxx00 a city
    Column("begndate", Date, nullable=False),
    Column("enddate", Date, nullable=True),  # null: open-ended (long-term residence)
    Column("status", String(10), nullable=False),  # applied, approved, refused, cancelled
    Column("filed_by", String(12), nullable=False),  # institution, portal, bureau
    Column("fixmedins_code", String(30), nullable=False, server_default=""),  # the filing institution (2501)
    Column("reflin_medins_no", String(30), nullable=False, server_default=""),
    Column("reflin_medins_name", String(200), nullable=False, server_default=""),
    Column("refl_type", String(6), nullable=False, server_default=""),
    Column("diag_code", String(30), nullable=False, server_default=""),
    Column("diag_name", String(200), nullable=False, server_default=""),
    Column("reason", Text, nullable=False, server_default=""),
    Column("memo", Text, nullable=False, server_default=""),
    Column("created_at", DateTime, nullable=False),
    Column("decided_at", DateTime, nullable=True),
    Column("decided_by", String(64), nullable=False, server_default=""),
    Index("ix_filing_psn", "psn_no", "insutype"),
    Index("ix_filing_status", "status", "created_at"),
)

# ---------------------------------------------------------------- the national hub (yibao hub; docs/cross-region.md)

hub_node = Table(  # the region directory: which node serves which admdvs prefixes, and where
    "hub_node",
    metadata,
    Column("node_id", String(25), primary_key=True),
    Column("url", String(200), nullable=False),
    Column("regions", String(500), nullable=False),  # comma-separated admdvs prefixes
    Column("updated_at", DateTime, nullable=False),
)

# ---------------------------------------------------------------- monthly clearing (清算; docs/cross-region.md)

clearing_item = Table(  # on a node: what the hub's clearing runs made of its cross-region settlements
    "clearing_item",
    metadata,
    Column("setl_id", String(30), ForeignKey("settlement.setl_id"), primary_key=True),
    Column("role", String(1), nullable=False),  # T treated here, I insured here (settlement.cross_region)
    Column("status", String(10), nullable=False),  # cleared, disputed (disputed lines come again)
    Column("run_id", String(30), nullable=False, index=True),  # the last run that saw it
    Column("reason", Text, nullable=False, server_default=""),
    Column("updated_at", DateTime, nullable=False),
)

hub_clearing_run = Table(  # the hub: one clearing run of a month (a month may be run again)
    "hub_clearing_run",
    metadata,
    Column("run_id", String(30), primary_key=True),
    Column("month", String(7), nullable=False, index=True),  # yyyy-mm
    Column("status", String(10), nullable=False),  # posting (some nodes still to post), posted
    Column("created_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=True),
)

hub_clearing_line = Table(  # the hub: each line of a run, as the treating node sent it and the insured answered
    "hub_clearing_line",
    metadata,
    Column("run_id", String(30), ForeignKey("hub_clearing_run.run_id"), primary_key=True),
    Column("treating_node", String(25), primary_key=True),
    Column("line_id", String(30), primary_key=True),  # the treating node's setl_id
    Column("mdtrt_id", String(30), nullable=False),
    Column("revs_setl_id", String(30), nullable=True),
    Column("psn_no", String(30), nullable=False),
    Column("certno_masked", String(30), nullable=False),
    Column("treating_admdvs", String(6), nullable=False),
    Column("insured_admdvs", String(6), nullable=False),
    Column("fixmedins_code", String(30), nullable=False),
    Column("setl_time", DateTime, nullable=False),
    money("medfee_sumamt"),
    money("fund_pay_sumamt"),
    money("acct_pay"),
    Column("status", String(10), nullable=False),  # confirmed, disputed
    Column("reason", Text, nullable=False, server_default=""),
    Column("insured_setl_id", String(30), nullable=True),  # the insured node's settlement it matched
)

hub_clearing_net = Table(  # the hub: each region's net in a run, and whether its node has posted it
    "hub_clearing_net",
    metadata,
    Column("run_id", String(30), ForeignKey("hub_clearing_run.run_id"), primary_key=True),
    Column("admdvs", String(6), primary_key=True),
    Column("node_id", String(25), nullable=False),
    money("receivable"),  # confirmed lines treated in this region for the others
    money("payable"),  # confirmed lines of this region's insured treated elsewhere
    money("net"),  # receivable − payable: > 0 receives, < 0 pays
    money("advance"),  # of what it pays, the part taken from its advance (预付金)
    Column("posted_at", DateTime, nullable=True),
)

hub_clearing_transfer = Table(  # the hub: each 转移接续 a run saw, as the receiving node sent it (0016)
    "hub_clearing_transfer",
    metadata,
    Column("run_id", String(30), ForeignKey("hub_clearing_run.run_id"), primary_key=True),
    Column("transfer_id", String(64), primary_key=True),
    Column("in_node", String(25), nullable=False),  # the node of the new region (转入地), which is owed it
    Column("psn_no", String(30), nullable=False),
    Column("from_admdvs", String(6), nullable=False),  # pays
    Column("to_admdvs", String(6), nullable=False),  # receives
    Column("transfer_date", Date, nullable=False),
    money("amount"),  # the personal account's balance moved
    Column("status", String(10), nullable=False),  # confirmed (by the region left's node), disputed
    Column("reason", Text, nullable=False, server_default=""),
)

hub_advance = Table(  # the hub: advances (预付金) regions paid in (+) and clearing runs drew (−)
    "hub_advance",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("admdvs", String(6), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),  # fen, signed
    Column("run_id", String(30), nullable=False, server_default=""),  # "" paid in; else the run that drew it
    Column("created_at", DateTime, nullable=False),
)

# ---------------------------------------------------------------- fund supervision (docs/supervision.md)

supervision_finding = Table(  # a rule that fired, at any stage; imported post-event runs add nothing twice
    "supervision_finding",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("stage", String(6), nullable=False),  # before, during, after
    Column("run_id", String(50), nullable=False),  # the msgid of 3101/3102/2207, or a post-event run's id
    Column("rule_id", String(30), nullable=False),
    Column("rule_version", String(30), nullable=False),
    Column("result", String(10), nullable=False),  # definite, suspicious
    Column("mdtrt_id", String(30), nullable=False),
    Column("feedetl_sn", String(30), nullable=False, server_default=""),  # "" for a visit finding
    Column("med_list_codg", String(50), nullable=False, server_default=""),
    Column("setl_id", String(30), nullable=True),
    Column("fixmedins_code", String(30), nullable=False),
    Column("psn_no", String(30), nullable=False),
    Column("insuplc_admdvs", String(6), nullable=False),
    Column("mdtrtarea_admvs", String(6), nullable=False),
    money("amount"),
    Column("message", Text, nullable=False, server_default=""),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("stage", "run_id", "rule_id", "mdtrt_id", "feedetl_sn"),
    Index("ix_supervision_finding_ins", "fixmedins_code", "rule_id"),
)

# ---------------------------------------------------------------- joint audit cases (docs/supervision.md)

audit_case = Table(  # findings of one institution carried through 智能互查 → 现场联审 → 查实 → 追回
    "audit_case",
    metadata,
    Column("case_id", String(40), primary_key=True),
    Column("fixmedins_code", String(30), nullable=False, index=True),
    Column("fixmedins_name", String(200), nullable=False, server_default=""),
    Column("admdvs", String(6), nullable=False),  # the institution's region
    Column("stage", String(12), nullable=False),  # cross_check, on_site, confirmed, recovered, closed
    Column("title", String(200), nullable=False, server_default=""),
    Column("check_count", Integer, nullable=False, server_default="0"),
    money("check_amount"),  # 智能互查: the findings' amounts
    money("reviewed_amount"),  # 现场联审: the reviewed amounts of the items reviewed on site
    money("confirmed_amount"),  # the reviewed amounts of the items confirmed
    money("recover_amount"),  # 查实: the amount to recover
    money("recovered_amount"),  # 追回: posted in the ledger
    Column("created_by", String(50), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("shared_from", String(40), nullable=False, server_default=""),  # "" opened here
)

audit_case_item = Table(  # one finding under review: a copy of its evidence, and the on-site result
    "audit_case_item",
    metadata,
    Column("case_id", String(40), ForeignKey("audit_case.case_id"), primary_key=True),
    Column("finding_id", BigInteger, primary_key=True, index=True),  # supervision_finding.id where opened
    Column("rule_id", String(30), nullable=False),
    Column("result", String(10), nullable=False),  # definite, suspicious
    Column("mdtrt_id", String(30), nullable=False),
    Column("feedetl_sn", String(30), nullable=False, server_default=""),
    Column("med_list_codg", String(50), nullable=False, server_default=""),
    Column("setl_id", String(30), nullable=True),
    Column("psn_no", String(30), nullable=False),
    Column("insuplc_admdvs", String(6), nullable=False, index=True),
    money("amount"),
    Column("message", Text, nullable=False, server_default=""),
    Column("review", String(10), nullable=False, server_default=""),  # "" not yet, confirmed, cleared
    money("reviewed_amount"),
    Column("note", Text, nullable=False, server_default=""),
)

audit_case_event = Table(  # append only: who moved the case, when, with what amount
    "audit_case_event",
    metadata,
    Column("case_id", String(40), ForeignKey("audit_case.case_id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("stage", String(12), nullable=False),
    Column("actor", String(50), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    money("amount"),
)

# ---------------------------------------------------------------- 零星报销 and 转移接续 (docs/services.md)

SETL_AMOUNTS = (
    "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc",
    "hifp_pay", "pool_prop_selfpay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay",
    "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay", "hosp_part_amt", "balc", "acct_mulaid_pay",
)  # fmt: skip
"""A settlement's setlinfo amounts, which a manual claim keeps too."""

manual_claim = Table(  # 零星报销: a bill paid in full, settled by the calculator, paid to the person (insert only)
    "manual_claim",
    metadata,
    Column("claim_id", String(30), primary_key=True),
    Column("request_id", String(64), nullable=False, unique=True),  # the caller's id: a repeat gets this claim
    Column("request_hash", String(64), nullable=False),
    Column("revs_claim_id", String(30), nullable=True, unique=True),  # set on a reversal: the claim it reverses
    Column("psn_no", String(30), nullable=False, index=True),
    Column("insutype", String(6), nullable=False),
    Column("med_type", String(6), nullable=False),
    Column("kind", String(10), nullable=False),  # outpatient, inpatient
    Column("insuplc_admdvs", String(6), nullable=False),
    Column("mdtrtarea_admvs", String(6), nullable=False, server_default=""),  # "" abroad or unknown
    Column("fixmedins_code", String(30), nullable=False, server_default=""),
    Column("fixmedins_name", String(200), nullable=False, server_default=""),
    Column("hosp_lv", Integer, nullable=False, server_default="0"),
    Column("begndate", Date, nullable=False),
    Column("enddate", Date, nullable=False),
    Column("reason", String(200), nullable=False, server_default=""),
    Column("flags", String(200), nullable=False, server_default=""),
    Column("catalog", String(60), nullable=False, server_default=""),  # the catalogue used: admdvs and version
    Column("policy_name", String(200), nullable=False),
    *(money(name) for name in SETL_AMOUNTS),
    Column("lines", Text, nullable=False, server_default="[]"),  # the bill's lines and their classification (JSON)
    Column("setl_proc_info", Text, nullable=False, server_default=""),
    Column("created_by", String(50), nullable=False),
    Column("created_at", DateTime, nullable=False),
)

manual_claim_fund = Table(  # what each fund paid of a manual claim (as setl_detail for a settlement)
    "manual_claim_fund",
    metadata,
    Column("claim_id", String(30), ForeignKey("manual_claim.claim_id"), primary_key=True),
    Column("fund_pay_type", String(10), primary_key=True),
    money("inscp_scp_amt"),
    Column("crt_payb_lmt_amt", BigInteger, nullable=True),
    money("fund_payamt"),
    Column("setl_proc_info", Text, nullable=False, server_default=""),
)

insurance_transfer = Table(  # 转移接续: one side of a transfer (out where the person left, in where they arrived)
    "insurance_transfer",
    metadata,
    Column("transfer_id", String(64), primary_key=True),
    Column("role", String(3), primary_key=True),  # out, in
    Column("psn_no", String(30), nullable=False, index=True),
    Column("insutype", String(6), nullable=False),
    Column("from_admdvs", String(6), nullable=False),
    Column("to_admdvs", String(6), nullable=False),
    Column("transfer_date", Date, nullable=False),
    Column("first_month", Date, nullable=False),  # the months carried: first and last month paid where left
    Column("last_month", Date, nullable=False),
    Column("months", Integer, nullable=False),  # carried
    Column("months_before", Integer, nullable=False, server_default="0"),  # in: the new region's own before
    Column("overlap", Integer, nullable=False, server_default="0"),  # in: paid in both, counted once
    Column("months_after", Integer, nullable=False, server_default="0"),  # in: the new region's count after
    Column("gap", Integer, nullable=False, server_default="0"),  # months unpaid between the two regions
    money("amount"),  # the personal account's balance moved
    Column("paid_months", Text, nullable=False, server_default="[]"),  # months recorded month by month, carried
    Column("note", Text, nullable=False, server_default=""),
    Column("created_by", String(50), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("cleared_run_id", String(30), nullable=True),  # the clearing run that carried its money (0016)
)

# ---------------------------------------------------------------- contributions and the funds (docs/contributions.md)

employer = Table(  # 参保单位: declares and pays its employees' contributions
    "employer",
    metadata,
    Column("emp_no", String(30), primary_key=True),
    Column("emp_name", String(200), nullable=False),
    Column("admdvs", String(6), nullable=False, index=True),
    Column("created_at", DateTime, nullable=False),
)

contribution_bill = Table(  # an employer's month of one insurance type: assessed, deferred, paid
    "contribution_bill",
    metadata,
    Column("emp_no", String(30), ForeignKey("employer.emp_no"), primary_key=True),
    Column("month", String(7), primary_key=True),  # "2020-03"
    Column("insutype", String(6), primary_key=True),
    Column("admdvs", String(6), nullable=False),
    Column("headcount", Integer, nullable=False),
    money("base_total"),
    Column("employer_rate", String(12), nullable=False),  # the rates applied, exact decimals as text
    Column("employee_rate", String(12), nullable=False),
    Column("reductions", String(200), nullable=False, server_default=""),  # the reductions' ids, comma-separated
    Column("reserve_months", String(12), nullable=True),  # what the rates were decided on ("" none)
    money("employer_amt"),
    money("employee_amt"),
    money("to_account"),
    money("to_pool"),
    Column("due_date", Date, nullable=False),
    Column("deferred_until", Date, nullable=True),  # 缓缴: no late fee and benefits kept until then
    Column("paid_on", Date, nullable=True),
    money("late_fee"),
    Column("months_counted", Boolean, nullable=False, server_default="0"),  # the employees' months counted
    Column("declared_at", DateTime, nullable=False),
    Index("ix_contribution_bill_month", "month", "admdvs"),
)

contribution_line = Table(  # 申报: one employee's month in a bill (the base clamped, the shares)
    "contribution_line",
    metadata,
    Column("emp_no", String(30), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("insutype", String(6), primary_key=True),
    Column("psn_no", String(30), primary_key=True, index=True),
    money("wage"),
    money("base"),
    money("employer_amt"),
    money("employee_amt"),
    money("to_account"),
    money("to_pool"),
)

account_credit = Table(  # each credit of a personal account from contributions: what the portal shows
    "account_credit",
    metadata,
    Column("psn_no", String(30), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("source", String(30), primary_key=True),  # the employer's emp_no, or "retiree" (定额划入)
    Column("admdvs", String(6), nullable=False),
    money("amount"),
    Column("posting_id", String(60), nullable=False),
    Column("credited_at", DateTime, nullable=False),
)

resident_contribution = Table(  # a resident's year: the flat contribution and the government's subsidy
    "resident_contribution",
    metadata,
    Column("psn_no", String(30), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("admdvs", String(6), nullable=False, index=True),
    money("individual_amt"),
    money("subsidy_amt"),
    Column("paid_on", Date, nullable=False),
    Column("posting_id", String(60), nullable=False),
)

arrears_suspension = Table(  # benefits the arrears rule suspended, restored when the employer pays
    "arrears_suspension",
    metadata,
    Column("psn_no", String(30), primary_key=True),
    Column("insutype", String(6), primary_key=True),
    Column("since", Date, primary_key=True),
    Column("emp_no", String(30), nullable=False, index=True),
    Column("restored_on", Date, nullable=True),
)

# ---------------------------------------------------------------- service items and applications (docs/services.md)

service_list = Table(  # a region's adopted list: the unified items offered there and its local ones
    "service_list",
    metadata,
    Column("admdvs", String(6), primary_key=True),
    Column("code", String(30), primary_key=True),
    Column("local", Boolean, nullable=False, server_default="0"),
    Column("version", String(20), nullable=False),
    Column("name", String(200), nullable=False),
    Column("item", Text, nullable=False),  # the item as JSON (yibao.files.services.item_to_json)
    Column("adopted_at", DateTime, nullable=False),
    Column("adopted_by", String(50), nullable=False),
)

service_application = Table(  # an application for a service item, with a copy of the item as submitted
    "service_application",
    metadata,
    Column("application_id", String(40), primary_key=True),
    Column("item_code", String(30), nullable=False),
    Column("item_name", String(200), nullable=False),
    Column("item_version", String(20), nullable=False),
    Column("item", Text, nullable=False),
    Column("time_limit", Integer, nullable=False),
    Column("psn_no", String(30), nullable=False, index=True),  # "" an institution's application
    Column("admdvs", String(6), nullable=False, index=True),  # the handling region
    Column("channel", String(10), nullable=False),  # online, counter
    Column("status", String(12), nullable=False, index=True),
    Column("step", String(10), nullable=False),
    Column("form", Text, nullable=False, server_default="{}"),
    Column("materials", Text, nullable=False, server_default="[]"),
    Column("due_date", Date, nullable=False),
    Column("trips", Integer, nullable=False, server_default="0"),
    Column("submitted_at", DateTime, nullable=False),
    Column("accepted_at", DateTime, nullable=False),  # the latest (re)submission: the clock's start
    Column("updated_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=True),
    Column("created_by", String(50), nullable=False),
    Column("updated_by", String(50), nullable=False),
    Column("result", Text, nullable=False, server_default="{}"),
    Column("note", Text, nullable=False, server_default=""),
)

service_task = Table(  # a step's task for one party; closed submit and done tasks are the history
    "service_task",
    metadata,
    Column("application_id", String(40), ForeignKey("service_application.application_id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("step", String(10), nullable=False),
    Column("party", String(10), nullable=False, server_default="", index=True),  # "" the handling office
    Column("opened_at", DateTime, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("closed_at", DateTime, nullable=True),
    Column("outcome", String(10), nullable=False, server_default=""),
    Column("actor", String(50), nullable=False, server_default=""),
    Column("channel", String(10), nullable=False, server_default=""),
    Column("note", Text, nullable=False, server_default=""),
)
