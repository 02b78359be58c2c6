"""零星报销 and 转移接续: manual claims, their fund rows, and insurance transfers

Revision ID: 0015
Revises: 0014

``manual_claim`` (a bill paid in full, settled by the calculator and paid to the person; a reversal is a
new row naming it), ``manual_claim_fund`` (each fund's share) and ``insurance_transfer`` (one side of a
transfer between pooling regions: months carried, the balance moved) — docs/services.md. A manual claim
counts toward the year-to-date counters like a settlement, so ``counter_delta.setl_id`` no longer points
at ``settlement`` only: its foreign key is dropped.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

AMOUNTS = (
    "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc",
    "hifp_pay", "pool_prop_selfpay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay",
    "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay", "hosp_part_amt", "balc", "acct_mulaid_pay",
)  # fmt: skip


def money(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("counter_delta", schema=None) as batch_op:
        batch_op.drop_constraint("fk_counter_delta_setl_id_settlement", type_="foreignkey")
    op.create_table(
        "manual_claim",
        sa.Column("claim_id", sa.String(length=30), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("revs_claim_id", sa.String(length=30), nullable=True),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("med_type", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("insuplc_admdvs", sa.String(length=6), nullable=False),
        sa.Column("mdtrtarea_admvs", sa.String(length=6), server_default="", nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), server_default="", nullable=False),
        sa.Column("fixmedins_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("hosp_lv", sa.Integer(), server_default="0", nullable=False),
        sa.Column("begndate", sa.Date(), nullable=False),
        sa.Column("enddate", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), server_default="", nullable=False),
        sa.Column("flags", sa.String(length=200), server_default="", nullable=False),
        sa.Column("catalog", sa.String(length=60), server_default="", nullable=False),
        sa.Column("policy_name", sa.String(length=200), nullable=False),
        *(money(name) for name in AMOUNTS),
        sa.Column("lines", sa.Text(), server_default="[]", nullable=False),
        sa.Column("setl_proc_info", sa.Text(), server_default="", nullable=False),
        sa.Column("created_by", sa.String(length=50), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_manual_claim")),
        sa.UniqueConstraint("request_id", name=op.f("uq_manual_claim_request_id")),
        sa.UniqueConstraint("revs_claim_id", name=op.f("uq_manual_claim_revs_claim_id")),
    )
    op.create_index(op.f("ix_manual_claim_psn_no"), "manual_claim", ["psn_no"])
    op.create_table(
        "manual_claim_fund",
        sa.Column("claim_id", sa.String(length=30), nullable=False),
        sa.Column("fund_pay_type", sa.String(length=10), nullable=False),
        money("inscp_scp_amt"),
        sa.Column("crt_payb_lmt_amt", sa.BigInteger(), nullable=True),
        money("fund_payamt"),
        sa.Column("setl_proc_info", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["manual_claim.claim_id"], name=op.f("fk_manual_claim_fund_claim_id_manual_claim")
        ),
        sa.PrimaryKeyConstraint("claim_id", "fund_pay_type", name=op.f("pk_manual_claim_fund")),
    )
    op.create_table(
        "insurance_transfer",
        sa.Column("transfer_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=3), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("from_admdvs", sa.String(length=6), nullable=False),
        sa.Column("to_admdvs", sa.String(length=6), nullable=False),
        sa.Column("transfer_date", sa.Date(), nullable=False),
        sa.Column("first_month", sa.Date(), nullable=False),
        sa.Column("last_month", sa.Date(), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("months_before", sa.Integer(), server_default="0", nullable=False),
        sa.Column("overlap", sa.Integer(), server_default="0", nullable=False),
        sa.Column("months_after", sa.Integer(), server_default="0", nullable=False),
        sa.Column("gap", sa.Integer(), server_default="0", nullable=False),
        money("amount"),
        sa.Column("paid_months", sa.Text(), server_default="[]", nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("created_by", sa.String(length=50), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("transfer_id", "role", name=op.f("pk_insurance_transfer")),
    )
    op.create_index(op.f("ix_insurance_transfer_psn_no"), "insurance_transfer", ["psn_no"])


def downgrade() -> None:
    op.drop_index(op.f("ix_insurance_transfer_psn_no"), table_name="insurance_transfer")
    op.drop_table("insurance_transfer")
    op.drop_table("manual_claim_fund")
    op.execute("DELETE FROM counter_delta WHERE setl_id IN (SELECT claim_id FROM manual_claim)")
    op.drop_index(op.f("ix_manual_claim_psn_no"), table_name="manual_claim")
    op.drop_table("manual_claim")
    with op.batch_alter_table("counter_delta", schema=None) as batch_op:
        batch_op.create_foreign_key("fk_counter_delta_setl_id_settlement", "settlement", ["setl_id"], ["setl_id"])
