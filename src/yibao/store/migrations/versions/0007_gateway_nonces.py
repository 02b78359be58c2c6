"""gateway nonces shared by the worker processes

Revision ID: 0007
Revises: 0006

The Rio nonces the gateway let in, within its window (yibao.store.nonces), so that a replay is
refused by every worker process, not only by the one that saw the request first.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_nonce",
        sa.Column("caller", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("caller", "nonce", name=op.f("pk_gateway_nonce")),
    )
    op.create_index(op.f("ix_gateway_nonce_signed_at"), "gateway_nonce", ["signed_at"])


def downgrade() -> None:
    op.drop_table("gateway_nonce")
