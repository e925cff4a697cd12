"""Apply Alembic migrations to the configured database.

Alembic (with Mako and its operation modules) is imported only when there is
something to migrate: a server starting on a database already at the newest
revision reads ``alembic_version`` with one query and goes on without it, which
keeps it out of the server's memory.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["alembic_config", "at_head", "head_revisions", "upgrade"]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

_REVISION = re.compile(r'^revision\s*=\s*["\']([^"\']+)["\']', re.M)
_DOWN = re.compile(r"^down_revision\s*=\s*(.+)$", re.M)


@cache
def head_revisions() -> frozenset[str]:
    """The revisions no other revision follows, read from the scripts' ``revision`` and
    ``down_revision`` lines (what Alembic calls the heads), without importing Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = script.read_text()
        found = _REVISION.search(source)
        if found is None:
            continue
        revisions.add(found.group(1))
        down = _DOWN.search(source)
        if down is not None:
            parents.update(re.findall(r'["\']([^"\']+)["\']', down.group(1)))
    return frozenset(revisions - parents)


def alembic_config() -> Config:
    """An Alembic config pointing at Moorage's migration scripts (no ini file needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _current(connection: Connection) -> frozenset[str] | None:
    """The revisions recorded in ``alembic_version``; None when it cannot be read (no
    such table yet)."""
    try:
        with connection.begin_nested():
            rows = connection.execute(text("SELECT version_num FROM alembic_version"))
            return frozenset(str(row[0]) for row in rows)
    except DBAPIError:
        return None


async def at_head(engine: AsyncEngine) -> bool:
    """True when the database behind ``engine`` is at the newest revision."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current) == head_revisions()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision`` (default: the newest);
    a no-op without Alembic when it is already at the newest."""
    async with engine.begin() as connection:
        if revision == "head" and await connection.run_sync(_current) == head_revisions():
            return
        await connection.run_sync(_upgrade, revision)
