"""fund supervision: the findings of the rule engine at every stage

Revision ID: 0011
Revises: 0010

``supervision_finding`` keeps each rule that fired, before (3101), during (3102, settlement) or after
settlement (post-event runs), unique per stage, run, rule, visit and line (docs/supervision.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "supervision_finding",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("stage", sa.String(length=6), nullable=False),
        sa.Column("run_id", sa.String(length=50), nullable=False),
        sa.Column("rule_id", sa.String(length=30), nullable=False),
        sa.Column("rule_version", sa.String(length=30), nullable=False),
        sa.Column("result", sa.String(length=10), nullable=False),
        sa.Column("mdtrt_id", sa.String(length=30), nullable=False),
        sa.Column("feedetl_sn", sa.String(length=30), server_default="", nullable=False),
        sa.Column("med_list_codg", sa.String(length=50), server_default="", nullable=False),
        sa.Column("setl_id", sa.String(length=30), nullable=True),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insuplc_admdvs", sa.String(length=6), nullable=False),
        sa.Column("mdtrtarea_admvs", sa.String(length=6), nullable=False),
        sa.Column("amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("message", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_finding")),
        sa.UniqueConstraint(
            "stage", "run_id", "rule_id", "mdtrt_id", "feedetl_sn", name=op.f("uq_supervision_finding_stage")
        ),
    )
    op.create_index("ix_supervision_finding_ins", "supervision_finding", ["fixmedins_code", "rule_id"])


def downgrade() -> None:
    op.drop_index("ix_supervision_finding_ins", table_name="supervision_finding")
    op.drop_table("supervision_finding")
