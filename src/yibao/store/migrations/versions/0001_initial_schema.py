"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 09:40:40.943645
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_item",
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        sa.Column("med_list_codg", sa.String(length=50), nullable=False),
        sa.Column("version", sa.String(length=30), nullable=False),
        sa.Column("med_list_name", sa.String(length=200), nullable=False),
        sa.Column("list_type", sa.String(length=3), nullable=False),
        sa.Column("chrgitm_lv", sa.String(length=2), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("admdvs", "med_list_codg", name=op.f("pk_catalog_item")),
    )
    op.create_table(
        "clearing_application",
        sa.Column("clr_appy_evt_id", sa.String(length=30), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("clr_type", sa.String(length=6), nullable=False),
        sa.Column("setlym", sa.String(length=6), nullable=False),
        sa.Column("medfee_sumamt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fund_appy_sum", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("acct_pay", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cash_payamt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("psntime", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=1), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("clr_appy_evt_id", name=op.f("pk_clearing_application")),
    )
    op.create_table(
        "config_stamp",
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_config_stamp")),
    )
    op.create_table(
        "ledger_account",
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_ledger_account")),
    )
    op.create_table(
        "message_log",
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("msgid", sa.String(length=50), nullable=False),
        sa.Column("infno", sa.String(length=6), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("ref", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("fixmedins_code", "msgid", name=op.f("pk_message_log")),
    )
    op.create_table(
        "person",
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("psn_cert_type", sa.String(length=3), nullable=False),
        sa.Column("certno", sa.String(length=50), nullable=False),
        sa.Column("psn_name", sa.String(length=50), nullable=False),
        sa.Column("gend", sa.String(length=1), nullable=False),
        sa.Column("brdy", sa.Date(), nullable=False),
        sa.Column("naty", sa.String(length=3), server_default="01", nullable=False),
        sa.Column("card_no", sa.String(length=30), nullable=True),
        sa.Column("card_sn", sa.String(length=30), nullable=True),
        sa.PrimaryKeyConstraint("psn_no", name=op.f("pk_person")),
    )
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_card_no"), ["card_no"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_certno"), ["certno"], unique=False)

    op.create_table(
        "policy_version",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("begndate", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_version")),
        sa.UniqueConstraint("admdvs", "insutype", "begndate", name=op.f("uq_policy_version_admdvs")),
    )
    op.create_table(
        "region",
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("admdvs", name=op.f("pk_region")),
    )
    op.create_table(
        "sign_in",
        sa.Column("sign_no", sa.String(length=30), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("opter_no", sa.String(length=30), nullable=False),
        sa.Column("mac", sa.String(length=50), server_default="", nullable=False),
        sa.Column("ip", sa.String(length=50), server_default="", nullable=False),
        sa.Column("sign_time", sa.DateTime(), nullable=False),
        sa.Column("signout_time", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("sign_no", name=op.f("pk_sign_in")),
    )
    op.create_table(
        "statement",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("clr_type", sa.String(length=6), nullable=False),
        sa.Column("stmt_begndate", sa.Date(), nullable=False),
        sa.Column("stmt_enddate", sa.Date(), nullable=False),
        sa.Column("stmt_rslt", sa.String(length=1), nullable=False),
        sa.Column("stmt_rslt_dscr", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement")),
    )
    op.create_table(
        "stored_file",
        sa.Column("file_qury_no", sa.String(length=40), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("dld_endtime", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("file_qury_no", name=op.f("pk_stored_file")),
    )
    op.create_table(
        "identity",
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("psn_idet_type", sa.String(length=6), nullable=False),
        sa.Column("begntime", sa.Date(), nullable=False),
        sa.Column("endtime", sa.Date(), nullable=True),
        sa.Column("memo", sa.String(length=200), server_default="", nullable=False),
        sa.ForeignKeyConstraint(["psn_no"], ["person.psn_no"], name=op.f("fk_identity_psn_no_person")),
        sa.PrimaryKeyConstraint("psn_no", "psn_idet_type", "begntime", name=op.f("pk_identity")),
    )
    op.create_table(
        "institution",
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("fixmedins_name", sa.String(length=200), nullable=False),
        sa.Column("fixmedins_type", sa.String(length=1), nullable=False),
        sa.Column("hosp_lv", sa.Integer(), server_default="0", nullable=False),
        sa.Column("specialty", sa.String(length=30), server_default="", nullable=False),
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        sa.Column("status", sa.String(length=1), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["admdvs"], ["region.admdvs"], name=op.f("fk_institution_admdvs_region")),
        sa.PrimaryKeyConstraint("fixmedins_code", name=op.f("pk_institution")),
    )
    op.create_table(
        "insurance",
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("psn_type", sa.String(length=10), nullable=False),
        sa.Column("psn_insu_stas", sa.String(length=1), nullable=False),
        sa.Column("insuplc_admdvs", sa.String(length=6), nullable=False),
        sa.Column("psn_insu_date", sa.Date(), nullable=False),
        sa.Column("paus_insu_date", sa.Date(), nullable=True),
        sa.Column("cvlserv_flag", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("emp_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("contrib_months", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["psn_no"], ["person.psn_no"], name=op.f("fk_insurance_psn_no_person")),
        sa.PrimaryKeyConstraint("psn_no", "insutype", name=op.f("pk_insurance")),
    )
    op.create_table(
        "ledger_transfer",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("posting_id", sa.String(length=60), nullable=False),
        sa.Column("debit_account", sa.String(length=60), nullable=False),
        sa.Column("credit_account", sa.String(length=60), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["credit_account"], ["ledger_account.code"], name=op.f("fk_ledger_transfer_credit_account_ledger_account")
        ),
        sa.ForeignKeyConstraint(
            ["debit_account"], ["ledger_account.code"], name=op.f("fk_ledger_transfer_debit_account_ledger_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transfer")),
    )
    with op.batch_alter_table("ledger_transfer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_transfer_posting_id"), ["posting_id"], unique=False)

    op.create_table(
        "practitioner",
        sa.Column("prac_code", sa.String(length=30), nullable=False),
        sa.Column("prac_name", sa.String(length=50), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("dept_code", sa.String(length=30), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["fixmedins_code"], ["institution.fixmedins_code"], name=op.f("fk_practitioner_fixmedins_code_institution")
        ),
        sa.PrimaryKeyConstraint("prac_code", name=op.f("pk_practitioner")),
    )
    op.create_table(
        "visit",
        sa.Column("mdtrt_id", sa.String(length=30), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("med_type", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("ipt_otp_no", sa.String(length=30), server_default="", nullable=False),
        sa.Column("begntime", sa.DateTime(), nullable=False),
        sa.Column("endtime", sa.DateTime(), nullable=True),
        sa.Column("mdtrt_cert_type", sa.String(length=3), server_default="", nullable=False),
        sa.Column("mdtrt_cert_no", sa.String(length=100), server_default="", nullable=False),
        sa.Column("insuplc_admdvs", sa.String(length=6), nullable=False),
        sa.Column("mdtrtarea_admvs", sa.String(length=6), nullable=False),
        sa.Column("dept_code", sa.String(length=30), server_default="", nullable=False),
        sa.Column("dept_name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("atddr_no", sa.String(length=30), server_default="", nullable=False),
        sa.Column("dr_name", sa.String(length=50), server_default="", nullable=False),
        sa.Column("dise_codg", sa.String(length=30), server_default="", nullable=False),
        sa.Column("dise_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("flags", sa.String(length=200), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fixmedins_code"], ["institution.fixmedins_code"], name=op.f("fk_visit_fixmedins_code_institution")
        ),
        sa.ForeignKeyConstraint(["psn_no"], ["person.psn_no"], name=op.f("fk_visit_psn_no_person")),
        sa.PrimaryKeyConstraint("mdtrt_id", name=op.f("pk_visit")),
    )
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.create_index("ix_visit_ins_ipt", ["fixmedins_code", "ipt_otp_no"], unique=False)
        batch_op.create_index("ix_visit_psn_begn", ["psn_no", "begntime"], unique=False)

    op.create_table(
        "diagnosis",
        sa.Column("mdtrt_id", sa.String(length=30), nullable=False),
        sa.Column("diag_srt_no", sa.Integer(), nullable=False),
        sa.Column("diag_type", sa.String(length=3), server_default="1", nullable=False),
        sa.Column("diag_code", sa.String(length=30), nullable=False),
        sa.Column("diag_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("maindiag_flag", sa.String(length=1), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["mdtrt_id"], ["visit.mdtrt_id"], name=op.f("fk_diagnosis_mdtrt_id_visit")),
        sa.PrimaryKeyConstraint("mdtrt_id", "diag_srt_no", name=op.f("pk_diagnosis")),
    )
    op.create_table(
        "fee_line",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("mdtrt_id", sa.String(length=30), nullable=False),
        sa.Column("feedetl_sn", sa.String(length=30), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("chrg_bchno", sa.String(length=30), server_default="", nullable=False),
        sa.Column("med_list_codg", sa.String(length=50), nullable=False),
        sa.Column("medins_list_codg", sa.String(length=50), server_default="", nullable=False),
        sa.Column("cnt", sa.String(length=24), nullable=False),
        sa.Column("pric", sa.String(length=24), nullable=False),
        sa.Column("det_item_fee_sumamt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fee_ocur_time", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("setl_id", sa.String(length=30), nullable=True),
        sa.Column("body", sa.Text(), server_default="{}", nullable=False),
        sa.ForeignKeyConstraint(["mdtrt_id"], ["visit.mdtrt_id"], name=op.f("fk_fee_line_mdtrt_id_visit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_line")),
    )
    with op.batch_alter_table("fee_line", schema=None) as batch_op:
        batch_op.create_index("ix_fee_line_mdtrt_id", ["mdtrt_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_fee_line_setl_id"), ["setl_id"], unique=False)
        batch_op.create_index(
            "uq_fee_line_live_sn",
            ["mdtrt_id", "feedetl_sn"],
            unique=True,
            sqlite_where=sa.text("status != 'cancelled'"),
            postgresql_where=sa.text("status != 'cancelled'"),
        )

    op.create_table(
        "settlement",
        sa.Column("setl_id", sa.String(length=30), nullable=False),
        sa.Column("mdtrt_id", sa.String(length=30), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("med_type", sa.String(length=6), nullable=False),
        sa.Column("clr_type", sa.String(length=6), nullable=False),
        sa.Column("insuplc_admdvs", sa.String(length=6), nullable=False),
        sa.Column("mdtrtarea_admvs", sa.String(length=6), nullable=False),
        sa.Column("setl_time", sa.DateTime(), nullable=False),
        sa.Column("msgid", sa.String(length=50), nullable=False),
        sa.Column("infno", sa.String(length=6), nullable=False),
        sa.Column("mid_setl_flag", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("revs_setl_id", sa.String(length=30), nullable=True),
        sa.Column("policy_name", sa.String(length=200), nullable=False),
        sa.Column("medfee_sumamt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fulamt_ownpay_amt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("overlmt_selfpay", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("preselfpay_amt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("inscp_scp_amt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("act_pay_dedc", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("hifp_pay", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("pool_prop_selfpay", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cvlserv_pay", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("hifes_pay", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("hifmi_pay", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("hifob_pay", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("maf_pay", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("oth_pay", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fund_pay_sumamt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("psn_part_amt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("acct_pay", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("psn_cash_pay", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("hosp_part_amt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("balc", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("acct_mulaid_pay", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("setl_proc_info", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(["mdtrt_id"], ["visit.mdtrt_id"], name=op.f("fk_settlement_mdtrt_id_visit")),
        sa.PrimaryKeyConstraint("setl_id", name=op.f("pk_settlement")),
        sa.UniqueConstraint("revs_setl_id", name=op.f("uq_settlement_revs_setl_id")),
    )
    with op.batch_alter_table("settlement", schema=None) as batch_op:
        batch_op.create_index("ix_settlement_ins_time", ["fixmedins_code", "setl_time"], unique=False)
        batch_op.create_index(batch_op.f("ix_settlement_mdtrt_id"), ["mdtrt_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_settlement_psn_no"), ["psn_no"], unique=False)
        batch_op.create_index("ix_settlement_time", ["setl_time"], unique=False)

    op.create_table(
        "counter_delta",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("delta", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("setl_id", sa.String(length=30), nullable=False),
        sa.ForeignKeyConstraint(["setl_id"], ["settlement.setl_id"], name=op.f("fk_counter_delta_setl_id_settlement")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counter_delta")),
    )
    with op.batch_alter_table("counter_delta", schema=None) as batch_op:
        batch_op.create_index("ix_counter_psn", ["psn_no", "insutype", "period"], unique=False)

    op.create_table(
        "setl_detail",
        sa.Column("setl_id", sa.String(length=30), nullable=False),
        sa.Column("fund_pay_type", sa.String(length=10), nullable=False),
        sa.Column("inscp_scp_amt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("crt_payb_lmt_amt", sa.BigInteger(), nullable=True),
        sa.Column("fund_payamt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("setl_proc_info", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(["setl_id"], ["settlement.setl_id"], name=op.f("fk_setl_detail_setl_id_settlement")),
        sa.PrimaryKeyConstraint("setl_id", "fund_pay_type", name=op.f("pk_setl_detail")),
    )
    op.create_table(
        "setl_line",
        sa.Column("setl_id", sa.String(length=30), nullable=False),
        sa.Column("feedetl_sn", sa.String(length=30), nullable=False),
        sa.Column("med_list_codg", sa.String(length=50), nullable=False),
        sa.Column("chrgitm_lv", sa.String(length=2), nullable=False),
        sa.Column("pric_uplmt_amt", sa.String(length=24), nullable=True),
        sa.Column("selfpay_prop", sa.String(length=12), nullable=False),
        sa.Column("det_item_fee_sumamt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fulamt_ownpay_amt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("overlmt_amt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("preselfpay_amt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("inscp_scp_amt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("memo", sa.String(length=200), server_default="", nullable=False),
        sa.ForeignKeyConstraint(["setl_id"], ["settlement.setl_id"], name=op.f("fk_setl_line_setl_id_settlement")),
        sa.PrimaryKeyConstraint("setl_id", "feedetl_sn", name=op.f("pk_setl_line")),
    )


def downgrade() -> None:
    op.drop_table("setl_line")
    op.drop_table("setl_detail")
    with op.batch_alter_table("counter_delta", schema=None) as batch_op:
        batch_op.drop_index("ix_counter_psn")

    op.drop_table("counter_delta")
    with op.batch_alter_table("settlement", schema=None) as batch_op:
        batch_op.drop_index("ix_settlement_time")
        batch_op.drop_index(batch_op.f("ix_settlement_psn_no"))
        batch_op.drop_index(batch_op.f("ix_settlement_mdtrt_id"))
        batch_op.drop_index("ix_settlement_ins_time")

    op.drop_table("settlement")
    with op.batch_alter_table("fee_line", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_fee_line_live_sn",
            sqlite_where=sa.text("status != 'cancelled'"),
            postgresql_where=sa.text("status != 'cancelled'"),
        )
        batch_op.drop_index(batch_op.f("ix_fee_line_setl_id"))
        batch_op.drop_index("ix_fee_line_mdtrt_id")

    op.drop_table("fee_line")
    op.drop_table("diagnosis")
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.drop_index("ix_visit_psn_begn")
        batch_op.drop_index("ix_visit_ins_ipt")

    op.drop_table("visit")
    op.drop_table("practitioner")
    with op.batch_alter_table("ledger_transfer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_transfer_posting_id"))

    op.drop_table("ledger_transfer")
    op.drop_table("insurance")
    op.drop_table("institution")
    op.drop_table("identity")
    op.drop_table("stored_file")
    op.drop_table("statement")
    op.drop_table("sign_in")
    op.drop_table("region")
    op.drop_table("policy_version")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_certno"))
        batch_op.drop_index(batch_op.f("ix_person_card_no"))

    op.drop_table("person")
    op.drop_table("message_log")
    op.drop_table("ledger_account")
    op.drop_table("config_stamp")
    op.drop_table("clearing_application")
    op.drop_table("catalog_item")
