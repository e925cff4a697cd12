"""orgs' LDAP / Active Directory settings (issue 13)

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import moorage.db.base

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ldap_directories",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("url", sa.String(length=255), nullable=False),
        sa.Column("start_tls", sa.Boolean(), nullable=False),
        sa.Column("ca_pem", sa.Text(), nullable=True),
        sa.Column("bind_dn", sa.String(length=512), nullable=False),
        sa.Column("bind_password_sealed", sa.String(length=1024), nullable=True),
        sa.Column("user_base", sa.String(length=512), nullable=False),
        sa.Column("user_filter", sa.String(length=1024), nullable=False),
        sa.Column("username_attribute", sa.String(length=64), nullable=False),
        sa.Column("display_name_attribute", sa.String(length=64), nullable=False),
        sa.Column("email_attribute", sa.String(length=64), nullable=False),
        sa.Column("group_base", sa.String(length=512), nullable=False),
        sa.Column("group_filter", sa.String(length=1024), nullable=False),
        sa.Column("group_member_attribute", sa.String(length=64), nullable=False),
        sa.Column("nested_groups", sa.Boolean(), nullable=False),
        sa.Column("group_rules", sa.JSON(), nullable=False),
        sa.Column("default_role", sa.String(length=16), nullable=False),
        sa.Column("sync_interval_minutes", sa.Integer(), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", moorage.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", moorage.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_sync_at", moorage.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_sync_report", sa.JSON(), nullable=True),
        sa.Column("last_sync_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_ldap_directories_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ldap_directories")),
    )
    with op.batch_alter_table("ldap_directories") as batch:
        batch.create_index(batch.f("ix_ldap_directories_org_id"), ["org_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("ldap_directories") as batch:
        batch.drop_index(batch.f("ix_ldap_directories_org_id"))
    op.drop_table("ldap_directories")
