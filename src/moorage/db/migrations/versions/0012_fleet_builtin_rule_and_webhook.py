"""fleet: built-in alert rules and channels (builtin), channels bound to one rule (rule_id)

Every org gets a "health turned critical" rule (created at start-up by
moorage.services.fleet.defaults, which also manages the MOORAGE_WEBHOOK_URL
channel bound to it).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fleet_alert_rules") as batch:
        batch.add_column(sa.Column("builtin", sa.String(length=32), nullable=True))
        batch.create_unique_constraint("uq_fleet_alert_rules_org_id", ["org_id", "builtin"])
    with op.batch_alter_table("fleet_channels") as batch:
        batch.add_column(sa.Column("rule_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("builtin", sa.String(length=32), nullable=True))
        batch.create_foreign_key(
            "fk_fleet_channels_rule_id_fleet_alert_rules",
            "fleet_alert_rules",
            ["rule_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("fleet_channels") as batch:
        batch.drop_constraint("fk_fleet_channels_rule_id_fleet_alert_rules", type_="foreignkey")
        batch.drop_column("builtin")
        batch.drop_column("rule_id")
    with op.batch_alter_table("fleet_alert_rules") as batch:
        batch.drop_constraint("uq_fleet_alert_rules_org_id", type_="unique")
        batch.drop_column("builtin")
