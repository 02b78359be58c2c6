"""cross-region filings (备案) and filing-free zones

Revision ID: 0008
Revises: 0007

``filing``: a person insured here filed for care in another region (2501 by an institution, or in
the portal with the bureau's approval); ``filing_zone``: the filing-free zones `yibao load-zones`
loads (docs/cross-region.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "filing_zone",
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("regions", sa.Text(), nullable=False),
        sa.Column("outpatient_from", sa.Date(), nullable=True),
        sa.Column("emergency_from", sa.Date(), nullable=True),
        sa.Column("inpatient_from", sa.Date(), nullable=True),
        sa.Column("enddate", sa.Date(), nullable=True),
        sa.Column("sources", sa.Text(), server_default="[]", nullable=False),
        sa.Column("loaded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_filing_zone")),
    )
    op.create_table(
        "filing",
        sa.Column("filing_id", sa.String(length=30), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("insutype", sa.String(length=6), nullable=False),
        sa.Column("filing_type", sa.String(length=12), nullable=False),
        sa.Column("mdtrtarea_admdvs", sa.String(length=6), nullable=False),
        sa.Column("begndate", sa.Date(), nullable=False),
        sa.Column("enddate", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("filed_by", sa.String(length=12), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), server_default="", nullable=False),
        sa.Column("reflin_medins_no", sa.String(length=30), server_default="", nullable=False),
        sa.Column("reflin_medins_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("refl_type", sa.String(length=6), server_default="", nullable=False),
        sa.Column("diag_code", sa.String(length=30), server_default="", nullable=False),
        sa.Column("diag_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("memo", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("filing_id", name=op.f("pk_filing")),
    )
    op.create_index("ix_filing_psn", "filing", ["psn_no", "insutype"])
    op.create_index("ix_filing_status", "filing", ["status", "created_at"])


def downgrade() -> None:
    op.drop_table("filing")
    op.drop_table("filing_zone")
