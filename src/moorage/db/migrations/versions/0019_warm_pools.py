"""warm pools: templates.warm and the warm_workspaces table

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 00:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from moorage.db.base import UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("templates") as batch:
        batch.add_column(sa.Column("warm", sa.JSON(), nullable=True))
    op.create_table(
        "warm_workspaces",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("template_id", sa.String(length=36), nullable=False),
        sa.Column("environment_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("container_id", sa.String(length=80), nullable=True),
        sa.Column("ports", sa.JSON(), nullable=True),
        sa.Column("secret_sealed", sa.Text(), nullable=True),
        sa.Column("image_id", sa.String(length=128), nullable=True),
        sa.Column("spec_hash", sa.String(length=32), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("ready_at", UTCDateTime(), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_warm_workspaces_org_id_orgs")
        ),
        sa.ForeignKeyConstraint(
            ["template_id"], ["templates.id"], name=op.f("fk_warm_workspaces_template_id_templates")
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_warm_workspaces_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warm_workspaces")),
    )
    for column in ("org_id", "template_id", "environment_id", "state", "created_at"):
        op.create_index(
            op.f(f"ix_warm_workspaces_{column}"), "warm_workspaces", [column], unique=False
        )


def downgrade() -> None:
    for column in ("org_id", "template_id", "environment_id", "state", "created_at"):
        op.drop_index(op.f(f"ix_warm_workspaces_{column}"), table_name="warm_workspaces")
    op.drop_table("warm_workspaces")
    with op.batch_alter_table("templates") as batch:
        batch.drop_column("warm")
