"""the electronic voucher: vouchers, activation codes, codes used (with their ecTokens); cert type of a settlement

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("settlement") as batch:
        batch.add_column(sa.Column("mdtrt_cert_type", sa.String(length=3), server_default="", nullable=False))
    op.create_table(
        "voucher",
        sa.Column("ec_index_no", sa.String(length=32), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=1), nullable=False),
        sa.Column("activated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("ec_index_no", name=op.f("pk_voucher")),
        sa.UniqueConstraint("psn_no", name=op.f("uq_voucher_psn_no")),
    )
    op.create_table(
        "voucher_activation",
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("tries", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("psn_no", name=op.f("pk_voucher_activation")),
    )
    op.create_table(
        "voucher_use",
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("ec_index_no", sa.String(length=32), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("business_type", sa.String(length=5), nullable=False),
        sa.Column("ec_token", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "nonce", name=op.f("pk_voucher_use")),
        sa.UniqueConstraint("ec_token", name=op.f("uq_voucher_use_ec_token")),
    )
    op.create_index("ix_voucher_use_psn", "voucher_use", ["psn_no", "used_at"])
    op.create_index("ix_voucher_use_time", "voucher_use", ["used_at"])


def downgrade() -> None:
    op.drop_table("voucher_use")
    op.drop_table("voucher_activation")
    op.drop_table("voucher")
    with op.batch_alter_table("settlement") as batch:
        batch.drop_column("mdtrt_cert_type")
