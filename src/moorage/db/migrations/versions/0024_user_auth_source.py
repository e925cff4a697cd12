"""users' sign-in source (local, ldap, oidc) and their id in that directory

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 14:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("auth_source", sa.String(length=16), nullable=False, server_default="local")
        )
        batch.add_column(sa.Column("external_id", sa.String(length=255), nullable=True))
        batch.create_index(batch.f("ix_users_external_id"), ["external_id"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_index(batch.f("ix_users_external_id"))
        batch.drop_column("external_id")
        batch.drop_column("auth_source")
