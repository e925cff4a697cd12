"""recordings and the idle timeout: templates and orgs say what is recorded and for
how long it is kept, templates set an idle timeout, sessions remember their last
activity and why they ended, and recordings get a table

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from moorage.db.base import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("templates") as batch:
        batch.add_column(
            sa.Column("recording", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("record_input", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("idle_timeout_seconds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("idle_ignore_paths", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("idle_cpu_percent", sa.Float(), nullable=False, server_default="20")
        )
    with op.batch_alter_table("orgs") as batch:
        batch.add_column(
            sa.Column("recording_required", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("recording_retention_days", sa.Integer(), nullable=False, server_default="30")
        )
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("last_activity_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("end_reason", sa.String(length=16), nullable=True))
        batch.add_column(
            sa.Column("recorded", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "recordings",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("org_id", sa.String(length=36), sa.ForeignKey("orgs.id"), nullable=False),
        sa.Column(
            "session_id",
            sa.String(length=36),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("user_id", sa.String(length=36), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("with_input", sa.Boolean(), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
    )
    op.create_index("ix_recordings_org_id", "recordings", ["org_id"])
    op.create_index("ix_recordings_session_id", "recordings", ["session_id"])
    op.create_index("ix_recordings_user_id", "recordings", ["user_id"])
    op.create_index("ix_recordings_started_at", "recordings", ["started_at"])


def downgrade() -> None:
    op.drop_table("recordings")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("recorded")
        batch.drop_column("end_reason")
        batch.drop_column("last_activity_at")
    with op.batch_alter_table("orgs") as batch:
        batch.drop_column("recording_retention_days")
        batch.drop_column("recording_required")
    with op.batch_alter_table("templates") as batch:
        batch.drop_column("idle_cpu_percent")
        batch.drop_column("idle_ignore_paths")
        batch.drop_column("idle_timeout_seconds")
        batch.drop_column("record_input")
        batch.drop_column("recording")
