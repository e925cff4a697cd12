"""fleet: the built-in action catalog's enablements, runs of built-ins, collected files

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import moorage.db.base

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# MariaDB and MySQL turn BLOB(n) into the smallest type that holds n bytes
# (MEDIUMBLOB here); PostgreSQL (bytea) and SQLite ignore the length.
FILE_BYTES = 16 * 1024 * 1024


def upgrade() -> None:
    op.add_column(
        "fleet_action_runs",
        sa.Column("builtin", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("fleet_action_runs", sa.Column("params", sa.JSON(), nullable=True))
    op.create_table(
        "fleet_action_enablements",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=True),
        sa.Column("tag", sa.String(length=64), nullable=True),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", moorage.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_fleet_action_enablements_org_id_orgs")
        ),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["fleet_nodes.id"],
            name=op.f("fk_fleet_action_enablements_node_id_fleet_nodes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_action_enablements")),
    )
    with op.batch_alter_table("fleet_action_enablements") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fleet_action_enablements_org_id"), ["org_id"], unique=False
        )
    op.create_table(
        "fleet_action_files",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(length=FILE_BYTES), nullable=False),
        sa.Column("created_at", moorage.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["fleet_action_runs.id"],
            name=op.f("fk_fleet_action_files_run_id_fleet_action_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fleet_action_files")),
        sa.UniqueConstraint("run_id", name=op.f("uq_fleet_action_files_run_id")),
    )


def downgrade() -> None:
    op.drop_table("fleet_action_files")
    with op.batch_alter_table("fleet_action_enablements") as batch_op:
        batch_op.drop_index(batch_op.f("ix_fleet_action_enablements_org_id"))
    op.drop_table("fleet_action_enablements")
    with op.batch_alter_table("fleet_action_runs") as batch:
        batch.drop_column("params")
        batch.drop_column("builtin")
