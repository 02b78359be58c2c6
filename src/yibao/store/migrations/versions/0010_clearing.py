"""monthly clearing (清算): a node's record of cleared and disputed lines; the hub's runs and advances

Revision ID: 0010
Revises: 0009

On a node, ``clearing_item`` says what the hub's clearing runs made of each cross-region settlement
(cleared, or disputed and to come again). On the hub, ``hub_clearing_run``, ``hub_clearing_line`` and
``hub_clearing_net`` keep every run, and ``hub_advance`` the advances (预付金) regions paid in and runs
drew (docs/cross-region.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clearing_item",
        sa.Column("setl_id", sa.String(length=30), nullable=False),
        sa.Column("role", sa.String(length=1), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("run_id", sa.String(length=30), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["setl_id"], ["settlement.setl_id"], name=op.f("fk_clearing_item_setl_id_settlement")),
        sa.PrimaryKeyConstraint("setl_id", name=op.f("pk_clearing_item")),
    )
    op.create_index(op.f("ix_clearing_item_run_id"), "clearing_item", ["run_id"])
    op.create_table(
        "hub_clearing_run",
        sa.Column("run_id", sa.String(length=30), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_hub_clearing_run")),
    )
    op.create_index(op.f("ix_hub_clearing_run_month"), "hub_clearing_run", ["month"])
    op.create_table(
        "hub_clearing_line",
        sa.Column("run_id", sa.String(length=30), nullable=False),
        sa.Column("treating_node", sa.String(length=25), nullable=False),
        sa.Column("line_id", sa.String(length=30), nullable=False),
        sa.Column("mdtrt_id", sa.String(length=30), nullable=False),
        sa.Column("revs_setl_id", sa.String(length=30), nullable=True),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("certno_masked", sa.String(length=30), nullable=False),
        sa.Column("treating_admdvs", sa.String(length=6), nullable=False),
        sa.Column("insured_admdvs", sa.String(length=6), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("setl_time", sa.DateTime(), nullable=False),
        sa.Column("medfee_sumamt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fund_pay_sumamt", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("acct_pay", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("insured_setl_id", sa.String(length=30), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["hub_clearing_run.run_id"], name=op.f("fk_hub_clearing_line_run_id_hub_clearing_run")
        ),
        sa.PrimaryKeyConstraint("run_id", "treating_node", "line_id", name=op.f("pk_hub_clearing_line")),
    )
    op.create_table(
        "hub_clearing_net",
        sa.Column("run_id", sa.String(length=30), nullable=False),
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        sa.Column("node_id", sa.String(length=25), nullable=False),
        sa.Column("receivable", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("payable", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("net", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("advance", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("posted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["hub_clearing_run.run_id"], name=op.f("fk_hub_clearing_net_run_id_hub_clearing_run")
        ),
        sa.PrimaryKeyConstraint("run_id", "admdvs", name=op.f("pk_hub_clearing_net")),
    )
    op.create_table(
        "hub_advance",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.String(length=30), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_advance")),
    )
    op.create_index(op.f("ix_hub_advance_admdvs"), "hub_advance", ["admdvs"])


def downgrade() -> None:
    op.drop_index(op.f("ix_hub_advance_admdvs"), table_name="hub_advance")
    op.drop_table("hub_advance")
    op.drop_table("hub_clearing_net")
    op.drop_table("hub_clearing_line")
    op.drop_index(op.f("ix_hub_clearing_run_month"), table_name="hub_clearing_run")
    op.drop_table("hub_clearing_run")
    op.drop_index(op.f("ix_clearing_item_run_id"), table_name="clearing_item")
    op.drop_table("clearing_item")
