"""online orders of internet hospitals (6201 upload, portal payment, 6203 refund, 6401 cancel)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "online_order",
        sa.Column("pay_ord_id", sa.String(length=30), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("med_org_ord", sa.String(length=30), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("med_type", sa.String(length=6), nullable=False),
        sa.Column("acct_used_flag", sa.Boolean(), nullable=False),
        sa.Column("mdtrt_id", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=1), nullable=False),
        sa.Column("setl_id", sa.String(length=30), nullable=True),
        sa.Column("refund_setl_id", sa.String(length=30), nullable=True),
        sa.Column("medfee_sumamt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fund_pay_sumamt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("acct_pay", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("psn_cash_pay", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("paid_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("pay_ord_id", name=op.f("pk_online_order")),
        sa.UniqueConstraint("fixmedins_code", "med_org_ord", name=op.f("uq_online_order_fixmedins_code")),
    )
    op.create_index("ix_online_order_psn", "online_order", ["psn_no", "created_at"])


def downgrade() -> None:
    op.drop_table("online_order")
