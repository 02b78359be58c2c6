"""reference catalogues (diseases, operations, special drugs, matching)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reference_entry",
        sa.Column("infno", sa.String(length=6), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("ref_code", sa.String(length=50), nullable=False),
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("list_type", sa.String(length=3), server_default="", nullable=False),
        sa.Column("begndate", sa.Date(), nullable=True),
        sa.Column("enddate", sa.Date(), nullable=True),
        sa.Column("vali_flag", sa.String(length=1), server_default="1", nullable=False),
        sa.Column("ver", sa.String(length=30), nullable=False),
        sa.Column("updt_time", sa.DateTime(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "infno", "code", "ref_code", "admdvs", "fixmedins_code", name=op.f("pk_reference_entry")
        ),
    )
    op.create_index("ix_reference_entry_ver", "reference_entry", ["infno", "ver"], unique=False)
    op.create_index("ix_reference_entry_updt", "reference_entry", ["infno", "updt_time"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_reference_entry_updt", table_name="reference_entry")
    op.drop_index("ix_reference_entry_ver", table_name="reference_entry")
    op.drop_table("reference_entry")
