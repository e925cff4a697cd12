"""users: groups and their members, groups allowed on templates and pools, quotas of
groups and orgs, a scope on API tokens, users' e-mail and deletion time

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 00:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import moorage.db.base

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def _quota_columns() -> list[sa.Column]:
    return [
        sa.Column("max_live_sessions", sa.Integer(), nullable=True),
        sa.Column("max_cpu_cores", sa.Float(), nullable=True),
        sa.Column("max_memory_mb", sa.Integer(), nullable=True),
        sa.Column("max_reserved_machines", sa.Integer(), nullable=True),
        sa.Column("max_lease_minutes", sa.Integer(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "user_groups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("created_at", moorage.db.base.UTCDateTime(timezone=True), nullable=False),
        *_quota_columns(),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_user_groups_org_id_orgs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_groups")),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_user_groups_org_id")),
    )
    op.create_index(op.f("ix_user_groups_org_id"), "user_groups", ["org_id"])
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["user_groups.id"],
            name=op.f("fk_group_members_group_id_user_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_group_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_group_members")),
    )
    op.create_index(op.f("ix_group_members_user_id"), "group_members", ["user_id"])
    for table, column, target in (
        ("template_groups", "template_id", "templates"),
        ("pool_groups", "pool_id", "pools"),
    ):
        op.create_table(
            table,
            sa.Column(column, sa.String(length=36), nullable=False),
            sa.Column("group_id", sa.String(length=36), nullable=False),
            sa.ForeignKeyConstraint(
                [column],
                [f"{target}.id"],
                name=op.f(f"fk_{table}_{column}_{target}"),
                ondelete="CASCADE",
            ),
            sa.ForeignKeyConstraint(
                ["group_id"],
                ["user_groups.id"],
                name=op.f(f"fk_{table}_group_id_user_groups"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint(column, "group_id", name=op.f(f"pk_{table}")),
        )
        op.create_index(op.f(f"ix_{table}_group_id"), table, ["group_id"])
    op.create_table(
        "org_quotas",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        *_quota_columns(),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_org_quotas_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_org_quotas")),
    )
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(
            sa.Column("scope", sa.String(length=8), nullable=False, server_default="write")
        )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email", sa.String(length=255), nullable=True))
        batch.add_column(
            sa.Column("deleted_at", moorage.db.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("deleted_at")
        batch.drop_column("email")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("scope")
    op.drop_table("org_quotas")
    op.drop_table("pool_groups")
    op.drop_table("template_groups")
    op.drop_table("group_members")
    op.drop_table("user_groups")
