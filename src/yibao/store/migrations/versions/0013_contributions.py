"""contributions: employers, their monthly bills and declarations, personal-account credits, residents'
annual contributions, and the suspensions of the arrears rule

Revision ID: 0013
Revises: 0012

docs/contributions.md. Money rows are inserted; a bill's deferral and payment are the only updates.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def money(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)


def upgrade() -> None:
    op.create_table(
        "employer",
        sa.Column("emp_no", sa.String(length=30), nullable=False),
        sa.Column("emp_name", sa.String(length=200), nullable=False),
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("emp_no", name=op.f("pk_employer")),
    )
    op.create_index(op.f("ix_employer_admdvs"), "employer", ["admdvs"])
    op.create_table(
        "contribution_bill",
        sa.Column("emp_no", sa.String(length=30), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        sa.Column("headcount", sa.Integer(), nullable=False),
        money("base_total"),
        sa.Column("employer_rate", sa.String(length=12), nullable=False),
        sa.Column("employee_rate", sa.String(length=12), nullable=False),
        sa.Column("reductions", sa.String(length=200), server_default="", nullable=False),
        sa.Column("reserve_months", sa.String(length=12), nullable=True),
        money("employer_amt"),
        money("employee_amt"),
        money("to_account"),
        money("to_pool"),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("deferred_until", sa.Date(), nullable=True),
        sa.Column("paid_on", sa.Date(), nullable=True),
        money("late_fee"),
        sa.Column("months_counted", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("declared_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["emp_no"], ["employer.emp_no"], name=op.f("fk_contribution_bill_emp_no_employer")),
        sa.PrimaryKeyConstraint("emp_no", "month", "insutype", name=op.f("pk_contribution_bill")),
    )
    op.create_index("ix_contribution_bill_month", "contribution_bill", ["month", "admdvs"])
    op.create_table(
        "contribution_line",
        sa.Column("emp_no", sa.String(length=30), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        money("wage"),
        money("base"),
        money("employer_amt"),
        money("employee_amt"),
        money("to_account"),
        money("to_pool"),
        sa.PrimaryKeyConstraint("emp_no", "month", "insutype", "psn_no", name=op.f("pk_contribution_line")),
    )
    op.create_index(op.f("ix_contribution_line_psn_no"), "contribution_line", ["psn_no"])
    op.create_table(
        "account_credit",
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        money("amount"),
        sa.Column("posting_id", sa.String(length=60), nullable=False),
        sa.Column("credited_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("psn_no", "month", "source", name=op.f("pk_account_credit")),
    )
    op.create_table(
        "resident_contribution",
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        money("individual_amt"),
        money("subsidy_amt"),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("posting_id", sa.String(length=60), nullable=False),
        sa.PrimaryKeyConstraint("psn_no", "year", name=op.f("pk_resident_contribution")),
    )
    op.create_index(op.f("ix_resident_contribution_admdvs"), "resident_contribution", ["admdvs"])
    op.create_table(
        "arrears_suspension",
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("emp_no", sa.String(length=30), nullable=False),
        sa.Column("restored_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("psn_no", "insutype", "since", name=op.f("pk_arrears_suspension")),
    )
    op.create_index(op.f("ix_arrears_suspension_emp_no"), "arrears_suspension", ["emp_no"])


def downgrade() -> None:
    op.drop_index(op.f("ix_arrears_suspension_emp_no"), table_name="arrears_suspension")
    op.drop_table("arrears_suspension")
    op.drop_index(op.f("ix_resident_contribution_admdvs"), table_name="resident_contribution")
    op.drop_table("resident_contribution")
    op.drop_table("account_credit")
    op.drop_index(op.f("ix_contribution_line_psn_no"), table_name="contribution_line")
    op.drop_table("contribution_line")
    op.drop_index("ix_contribution_bill_month", table_name="contribution_bill")
    op.drop_table("contribution_bill")
    op.drop_index(op.f("ix_employer_admdvs"), table_name="employer")
    op.drop_table("employer")
