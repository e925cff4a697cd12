"""share links (observer or peer access to one session) and the grants opened with them

Only the SHA-256 of a link's token is stored (token_prefix finds the row). See
moorage.services.shares.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 23:47:32.025399
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import moorage.db.base

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "share_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_ids", sa.JSON(), nullable=True),
        sa.Column("created_at", moorage.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", moorage.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", moorage.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_share_links_org_id_orgs")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_share_links_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_links")),
        sa.UniqueConstraint("token_prefix", name=op.f("uq_share_links_token_prefix")),
    )
    with op.batch_alter_table("share_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_share_links_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_share_links_session_id"), ["session_id"], unique=False)

    op.create_table(
        "share_grants",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("link_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("created_at", moorage.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", moorage.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["share_links.id"],
            name=op.f("fk_share_grants_link_id_share_links"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_share_grants_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_grants")),
    )
    with op.batch_alter_table("share_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_share_grants_link_id"), ["link_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("share_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_grants_link_id"))

    op.drop_table("share_grants")
    with op.batch_alter_table("share_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_links_session_id"))
        batch_op.drop_index(batch_op.f("ix_share_links_org_id"))

    op.drop_table("share_links")
