"""image update policies: containers and stacks an operator opted in to registry checks

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 23:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import moorage.db.base

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = moorage.db.base.UTCDateTime(timezone=True)
    op.create_table(
        "image_update_policies",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("environment_id", sa.String(length=36), nullable=False),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_name", sa.String(length=128), nullable=False),
        sa.Column("policy", sa.String(length=16), nullable=False),
        sa.Column("semver_range", sa.String(length=64), nullable=True),
        sa.Column("schedule", sa.String(length=128), nullable=False),
        sa.Column("window_schedule", sa.String(length=128), nullable=True),
        sa.Column("window_minutes", sa.Integer(), nullable=True),
        sa.Column("health_timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("stable_seconds", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("current_digest", sa.String(length=128), nullable=True),
        sa.Column("available_digest", sa.String(length=128), nullable=True),
        sa.Column("available_tag", sa.String(length=128), nullable=True),
        sa.Column("rejected_digest", sa.String(length=128), nullable=True),
        sa.Column("notified_digest", sa.String(length=128), nullable=True),
        sa.Column("checked_at", when, nullable=True),
        sa.Column("next_check_at", when, nullable=True),
        sa.Column("updated_at", when, nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_image_update_policies_org_id_orgs")
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_image_update_policies_environment_id_environments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_update_policies")),
        sa.UniqueConstraint(
            "environment_id",
            "target_kind",
            "target_name",
            name=op.f("uq_image_update_policies_environment_id"),
        ),
    )
    with op.batch_alter_table("image_update_policies") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_image_update_policies_org_id"), ["org_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_image_update_policies_environment_id"), ["environment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("image_update_policies") as batch_op:
        batch_op.drop_index(batch_op.f("ix_image_update_policies_environment_id"))
        batch_op.drop_index(batch_op.f("ix_image_update_policies_org_id"))
    op.drop_table("image_update_policies")
