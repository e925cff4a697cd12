"""Alembic environment. Moorage runs migrations through :func:`moorage.db.migrate.upgrade`,
which hands a live connection in ``config.attributes["connection"]`` (the
"sharing a connection" recipe of the Alembic cookbook)."""

from __future__ import annotations

from alembic import context

import moorage.models  # noqa: F401  (registers every table)
from moorage.db.base import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `moorage db upgrade` or moorage.db.migrate.upgrade()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
