"""git stacks: Compose stacks deployed from a Git repository (issue 19)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import moorage.db.base

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = moorage.db.base.UTCDateTime(timezone=True)
    op.create_table(
        "git_stacks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("environment_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=False),
        sa.Column("ref", sa.String(length=255), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("credential_sealed", sa.Text(), nullable=True),
        sa.Column("known_hosts", sa.Text(), nullable=True),
        sa.Column("policy", sa.String(length=16), nullable=False),
        sa.Column("poll_seconds", sa.Integer(), nullable=True),
        sa.Column("health_timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("stable_seconds", sa.Integer(), nullable=False),
        sa.Column("webhook_secret_sealed", sa.Text(), nullable=False),
        sa.Column("env_text", sa.Text(), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=True),
        sa.Column("previous_commit", sa.String(length=64), nullable=True),
        sa.Column("deployed_at", when, nullable=True),
        sa.Column("deployed_services", sa.Text(), nullable=True),
        sa.Column("checked_at", when, nullable=True),
        sa.Column("check_result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("rolled_back_commit", sa.String(length=64), nullable=True),
        sa.Column("pending_commit", sa.String(length=64), nullable=True),
        sa.Column("pending_diff", sa.Text(), nullable=True),
        sa.Column("drift", sa.Text(), nullable=True),
        sa.Column("busy_until", when, nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_git_stacks_environment_id_environments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_git_stacks_org_id_orgs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_git_stacks")),
        sa.UniqueConstraint("environment_id", "name", name=op.f("uq_git_stacks_environment_id")),
    )
    with op.batch_alter_table("git_stacks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_git_stacks_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_git_stacks_environment_id"), ["environment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("git_stacks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_git_stacks_environment_id"))
        batch_op.drop_index(batch_op.f("ix_git_stacks_org_id"))
    op.drop_table("git_stacks")
