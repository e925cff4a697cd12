"""OpenID Connect providers of orgs, and sign-ins in progress with them (issue 13)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import moorage.db.base

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_providers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("issuer", sa.String(length=512), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret_sealed", sa.String(length=1024), nullable=True),
        sa.Column("scopes", sa.String(length=512), nullable=False),
        sa.Column("groups_claim", sa.String(length=128), nullable=False),
        sa.Column("username_claim", sa.String(length=128), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("default_role", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", moorage.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", moorage.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_oidc_providers_org_id_orgs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_providers")),
        sa.UniqueConstraint("name", name=op.f("uq_oidc_providers_name")),
    )
    op.create_index(op.f("ix_oidc_providers_org_id"), "oidc_providers", ["org_id"])
    op.create_table(
        "oidc_sign_ins",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=36), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("code_verifier_sealed", sa.String(length=512), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("next", sa.String(length=2048), nullable=False),
        sa.Column("created_at", moorage.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", moorage.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["oidc_providers.id"],
            name=op.f("fk_oidc_sign_ins_provider_id_oidc_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_oidc_sign_ins")),
    )
    op.create_index(op.f("ix_oidc_sign_ins_provider_id"), "oidc_sign_ins", ["provider_id"])
    op.create_index(op.f("ix_oidc_sign_ins_expires_at"), "oidc_sign_ins", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_oidc_sign_ins_expires_at"), table_name="oidc_sign_ins")
    op.drop_index(op.f("ix_oidc_sign_ins_provider_id"), table_name="oidc_sign_ins")
    op.drop_table("oidc_sign_ins")
    op.drop_index(op.f("ix_oidc_providers_org_id"), table_name="oidc_providers")
    op.drop_table("oidc_providers")
