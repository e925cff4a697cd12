"""placement: environments' labels, state and capacity; templates' environment
labels; orgs' placement policy

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 14:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("environments") as batch:
        batch.add_column(sa.Column("labels", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("state", sa.String(length=16), nullable=False, server_default="active")
        )
        batch.add_column(sa.Column("engine_cpus", sa.Float(), nullable=True))
        batch.add_column(sa.Column("engine_memory_mb", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("cpu_capacity", sa.Float(), nullable=True))
        batch.add_column(sa.Column("memory_capacity_mb", sa.Integer(), nullable=True))
    with op.batch_alter_table("templates") as batch:
        batch.add_column(sa.Column("environment_labels", sa.JSON(), nullable=True))
    with op.batch_alter_table("orgs") as batch:
        batch.add_column(
            sa.Column(
                "placement_policy", sa.String(length=8), nullable=False, server_default="spread"
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("orgs") as batch:
        batch.drop_column("placement_policy")
    with op.batch_alter_table("templates") as batch:
        batch.drop_column("environment_labels")
    with op.batch_alter_table("environments") as batch:
        for column in (
            "memory_capacity_mb",
            "cpu_capacity",
            "engine_memory_mb",
            "engine_cpus",
            "state",
            "labels",
        ):
            batch.drop_column(column)
