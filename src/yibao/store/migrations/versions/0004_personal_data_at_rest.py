"""personal data at rest: sealed ID numbers, names and card numbers, with lookup hashes

Revision ID: 0004
Revises: 0003

The person table's clear ``certno``, ``psn_name`` and ``card_no`` (and their indexes) give way to
``certno_enc``, ``psn_name_enc``, ``card_no_enc`` (SM4-GCM, ``yibao.store.personal``) and the indexed
lookup hashes ``certno_hash`` and ``card_no_hash`` (HMAC-SM3). The visit's ``mdtrt_cert_no`` (an ID or
card number as shown at the counter) and the message log's ``response`` (answers such as 2207's carry
the ID number and name) are kept sealed too; the former becomes text for the longer sealed form.

There are no deployments, so this revision does not convert clear rows: it refuses to run on a
database whose person table holds any (rebuild it: a fresh database, `yibao db init`, load again).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    counted = sa.text("SELECT (SELECT count(*) FROM person) + (SELECT count(*) FROM visit)")
    held = op.get_bind().execute(counted).scalar_one()
    if held:
        raise RuntimeError(
            f"migration 0004: person and visit hold {held} rows in clear; this revision does not encrypt "
            "existing rows (there are no deployments): build a fresh database and load the registry again"
        )
    op.drop_index("ix_person_certno", table_name="person")
    op.drop_index("ix_person_card_no", table_name="person")
    with op.batch_alter_table("person") as batch:  # SQLite: the table is made again
        batch.drop_column("certno")
        batch.drop_column("psn_name")
        batch.drop_column("card_no")
        batch.add_column(sa.Column("certno_enc", sa.Text(), nullable=False))
        batch.add_column(sa.Column("certno_hash", sa.String(length=64), nullable=False))
        batch.add_column(sa.Column("psn_name_enc", sa.Text(), nullable=False))
        batch.add_column(sa.Column("card_no_enc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("card_no_hash", sa.String(length=64), nullable=True))
    op.create_index("ix_person_certno_hash", "person", ["certno_hash"])
    op.create_index("ix_person_card_no_hash", "person", ["card_no_hash"])
    with op.batch_alter_table("visit") as batch:
        batch.alter_column("mdtrt_cert_no", type_=sa.Text(), existing_type=sa.String(length=100))


def downgrade() -> None:
    with op.batch_alter_table("visit") as batch:
        batch.alter_column("mdtrt_cert_no", type_=sa.String(length=100), existing_type=sa.Text())
    op.drop_index("ix_person_card_no_hash", table_name="person")
    op.drop_index("ix_person_certno_hash", table_name="person")
    with op.batch_alter_table("person") as batch:
        batch.drop_column("card_no_hash")
        batch.drop_column("card_no_enc")
        batch.drop_column("psn_name_enc")
        batch.drop_column("certno_hash")
        batch.drop_column("certno_enc")
        batch.add_column(sa.Column("certno", sa.String(length=50), nullable=False))
        batch.add_column(sa.Column("psn_name", sa.String(length=50), nullable=False))
        batch.add_column(sa.Column("card_no", sa.String(length=30), nullable=True))
    op.create_index("ix_person_certno", "person", ["certno"])
    op.create_index("ix_person_card_no", "person", ["card_no"])
