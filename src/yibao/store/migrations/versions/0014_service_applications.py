"""service items and applications: a region's adopted list, applications and their tasks

Revision ID: 0014
Revises: 0013

``service_list`` (a region's list: the unified items offered there and its local ones, each as JSON),
``service_application`` (an application with a copy of its item, its form and materials, its clock and
trips) and ``service_task`` (one step's task per party; the closed submit and done tasks are the
history) — docs/services.md.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_list",
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("local", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("version", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("item", sa.Text(), nullable=False),
        sa.Column("adopted_at", sa.DateTime(), nullable=False),
        sa.Column("adopted_by", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("admdvs", "code", name=op.f("pk_service_list")),
    )
    op.create_table(
        "service_application",
        sa.Column("application_id", sa.String(length=40), nullable=False),
        sa.Column("item_code", sa.String(length=30), nullable=False),
        sa.Column("item_name", sa.String(length=200), nullable=False),
        sa.Column("item_version", sa.String(length=20), nullable=False),
        sa.Column("item", sa.Text(), nullable=False),
        sa.Column("time_limit", sa.Integer(), nullable=False),
        sa.Column("psn_no", sa.String(length=30), nullable=False),
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("step", sa.String(length=10), nullable=False),
        sa.Column("form", sa.Text(), server_default="{}", nullable=False),
        sa.Column("materials", sa.Text(), server_default="[]", nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("trips", sa.Integer(), server_default="0", nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=50), nullable=False),
        sa.Column("updated_by", sa.String(length=50), nullable=False),
        sa.Column("result", sa.Text(), server_default="{}", nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("application_id", name=op.f("pk_service_application")),
    )
    op.create_index(op.f("ix_service_application_psn_no"), "service_application", ["psn_no"])
    op.create_index(op.f("ix_service_application_admdvs"), "service_application", ["admdvs"])
    op.create_index(op.f("ix_service_application_status"), "service_application", ["status"])
    op.create_table(
        "service_task",
        sa.Column("application_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=10), nullable=False),
        sa.Column("party", sa.String(length=10), server_default="", nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=10), server_default="", nullable=False),
        sa.Column("actor", sa.String(length=50), server_default="", nullable=False),
        sa.Column("channel", sa.String(length=10), server_default="", nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["service_application.application_id"],
            name=op.f("fk_service_task_application_id_service_application"),
        ),
        sa.PrimaryKeyConstraint("application_id", "seq", name=op.f("pk_service_task")),
    )
    op.create_index(op.f("ix_service_task_party"), "service_task", ["party"])


def downgrade() -> None:
    op.drop_index(op.f("ix_service_task_party"), table_name="service_task")
    op.drop_table("service_task")
    op.drop_index(op.f("ix_service_application_status"), table_name="service_application")
    op.drop_index(op.f("ix_service_application_admdvs"), table_name="service_application")
    op.drop_index(op.f("ix_service_application_psn_no"), table_name="service_application")
    op.drop_table("service_application")
    op.drop_table("service_list")
