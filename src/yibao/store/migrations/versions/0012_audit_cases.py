"""joint audit cases: findings of one institution through 智能互查, 现场联审, 查实 and the recovery

Revision ID: 0012
Revises: 0011

``audit_case`` (its stage and amounts per stage), ``audit_case_item`` (a finding's evidence and its
on-site result) and ``audit_case_event`` (append only: who did what, when) — docs/supervision.md.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def money(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)


def upgrade() -> None:
    op.create_table(
        "audit_case",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("fixmedins_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("title", sa.String(length=200), server_default="", nullable=False),
        sa.Column("check_count", sa.Integer(), server_default="0", nullable=False),
        money("check_amount"),
        money("reviewed_amount"),
        money("confirmed_amount"),
        money("recover_amount"),
        money("recovered_amount"),
        sa.Column("created_by", sa.String(length=50), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("shared_from", sa.String(length=40), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_audit_case")),
    )
    op.create_index(op.f("ix_audit_case_fixmedins_code"), "audit_case", ["fixmedins_code"])
    op.create_table(
        "audit_case_item",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("finding_id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.String(length=30), nullable=False),
        sa.Column("result", sa.String(length=10), nullable=False),
        sa.Column("mdtrt_id", sa.String(length=30), nullable=False),
        sa.Column("feedetl_sn", sa.String(length=30), server_default="", nullable=False),
        sa.Column("med_list_codg", sa.String(length=50), server_default="", nullable=False),
        sa.Column("setl_id", sa.String(length=30), nullable=True),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insuplc_admdvs", sa.String(length=6), nullable=False),
        money("amount"),
        sa.Column("message", sa.Text(), server_default="", nullable=False),
        sa.Column("review", sa.String(length=10), server_default="", nullable=False),
        money("reviewed_amount"),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["audit_case.case_id"], name=op.f("fk_audit_case_item_case_id_audit_case")
        ),
        sa.PrimaryKeyConstraint("case_id", "finding_id", name=op.f("pk_audit_case_item")),
    )
    op.create_index(op.f("ix_audit_case_item_finding_id"), "audit_case_item", ["finding_id"])
    op.create_index(op.f("ix_audit_case_item_insuplc_admdvs"), "audit_case_item", ["insuplc_admdvs"])
    op.create_table(
        "audit_case_event",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("actor", sa.String(length=50), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        money("amount"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["audit_case.case_id"], name=op.f("fk_audit_case_event_case_id_audit_case")
        ),
        sa.PrimaryKeyConstraint("case_id", "seq", name=op.f("pk_audit_case_event")),
    )


def downgrade() -> None:
    op.drop_table("audit_case_event")
    op.drop_index(op.f("ix_audit_case_item_insuplc_admdvs"), table_name="audit_case_item")
    op.drop_index(op.f("ix_audit_case_item_finding_id"), table_name="audit_case_item")
    op.drop_table("audit_case_item")
    op.drop_index(op.f("ix_audit_case_fixmedins_code"), table_name="audit_case")
    op.drop_table("audit_case")
