"""environments over SSH: sealed login key and pinned host key

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 09:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("environments", sa.Column("ssh_key_sealed", sa.Text(), nullable=True))
    op.add_column("environments", sa.Column("ssh_host_key", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("environments") as batch:
        batch.drop_column("ssh_host_key")
        batch.drop_column("ssh_key_sealed")
