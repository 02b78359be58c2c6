"""cross-region settlement: the side a settlement is on, and the hub's region directory

Revision ID: 0009
Revises: 0008

``settlement.cross_region``: "" local, "T" treated here for a person insured at another node, "I"
this node's insured treated at another node (their postings go to clearing accounts). ``hub_node``:
the national hub's directory of nodes (used by `yibao hub serve` only).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("settlement") as batch:
        batch.add_column(sa.Column("cross_region", sa.String(length=1), server_default="", nullable=False))
    op.create_table(
        "hub_node",
        sa.Column("node_id", sa.String(length=25), nullable=False),
        sa.Column("url", sa.String(length=200), nullable=False),
        sa.Column("regions", sa.String(length=500), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_hub_node")),
    )


def downgrade() -> None:
    op.drop_table("hub_node")
    with op.batch_alter_table("settlement") as batch:
        batch.drop_column("cross_region")
