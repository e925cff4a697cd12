"""workshops: the workshops and workshop_seats tables

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from moorage.db.base import UTCDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workshops",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("template_id", sa.String(length=36), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("join_code", sa.String(length=16), nullable=False),
        sa.Column("prewarm_minutes", sa.Integer(), nullable=False),
        sa.Column("prewarm_share", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("broadcast_message", sa.Text(), nullable=True),
        sa.Column("broadcast_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_workshops_org_id_orgs")),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_workshops_owner_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["template_id"], ["templates.id"], name=op.f("fk_workshops_template_id_templates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workshops")),
        sa.UniqueConstraint("join_code", name=op.f("uq_workshops_join_code")),
    )
    for column in ("org_id", "owner_id", "template_id", "ends_at", "state"):
        op.create_index(op.f(f"ix_workshops_{column}"), "workshops", [column], unique=False)
    op.create_table(
        "workshop_seats",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workshop_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=True),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("joined_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workshop_id"],
            ["workshops.id"],
            name=op.f("fk_workshop_seats_workshop_id_workshops"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_workshop_seats_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workshop_seats")),
        sa.UniqueConstraint("workshop_id", "user_id", name=op.f("uq_workshop_seats_workshop_id")),
    )
    for column in ("workshop_id", "user_id", "session_id"):
        op.create_index(
            op.f(f"ix_workshop_seats_{column}"), "workshop_seats", [column], unique=False
        )


def downgrade() -> None:
    for column in ("workshop_id", "user_id", "session_id"):
        op.drop_index(op.f(f"ix_workshop_seats_{column}"), table_name="workshop_seats")
    op.drop_table("workshop_seats")
    for column in ("org_id", "owner_id", "template_id", "ends_at", "state"):
        op.drop_index(op.f(f"ix_workshops_{column}"), table_name="workshops")
    op.drop_table("workshops")
