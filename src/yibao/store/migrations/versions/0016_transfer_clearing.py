"""转移接续 in the monthly clearing: what run carried each transfer's money

Revision ID: 0016
Revises: 0015

On a node, ``insurance_transfer.cleared_run_id``: the clearing run that carried the side's personal-account
money between the regions (its ``transfer:<region>`` balance closed into the run's net payment); empty
until then. On the hub, ``hub_clearing_transfer``: each transfer a run saw, as the receiving node sent it
and the paying node answered (docs/cross-region.md "Clearing").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("insurance_transfer") as batch:
        batch.add_column(sa.Column("cleared_run_id", sa.String(length=30), nullable=True))
    op.create_table(
        "hub_clearing_transfer",
        sa.Column("run_id", sa.String(length=30), nullable=False),
        sa.Column("transfer_id", sa.String(length=64), nullable=False),
        sa.Column("in_node", sa.String(length=25), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("from_admdvs", sa.String(length=6), nullable=False),
        sa.Column("to_admdvs", sa.String(length=6), nullable=False),
        sa.Column("transfer_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["hub_clearing_run.run_id"], name=op.f("fk_hub_clearing_transfer_run_id_hub_clearing_run")
        ),
        sa.PrimaryKeyConstraint("run_id", "transfer_id", name=op.f("pk_hub_clearing_transfer")),
    )


def downgrade() -> None:
    op.drop_table("hub_clearing_transfer")
    with op.batch_alter_table("insurance_transfer") as batch:
        batch.drop_column("cleared_run_id")
