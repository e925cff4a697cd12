"""Fresh databases for tests: SQLite in a temporary folder by default, or a new
database on the PostgreSQL or MariaDB server that ``MOORAGE_DATABASE_URL``
points at (created for the run, dropped afterwards).

With ``CI=true`` a server that cannot be reached fails the run; elsewhere
the tests that need it are skipped with a message.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine


def server_url() -> str | None:
    """The database server under test, or None for SQLite."""
    url = os.environ.get("MOORAGE_DATABASE_URL", "").strip()
    return url or None


def backend_name() -> str:
    url = server_url()
    return "sqlite" if url is None else make_url(url).get_backend_name()


@asynccontextmanager
async def fresh_database(tmp: Path) -> AsyncIterator[str]:
    """Yield the URL of an empty database; drop it afterwards (server backends)."""
    base = server_url()
    if base is None:
        yield f"sqlite+aiosqlite:///{tmp / 'moorage.db'}"
        return
    url = make_url(base)
    name = f"moorage_test_{secrets.token_hex(4)}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # the server is down or refuses us
        await admin.dispose()
        message = f"database server {url.render_as_string(hide_password=True)} unusable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            if url.get_backend_name() == "postgresql":
                await connection.execute(
                    text(
                        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                    )
                )
            await connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        await admin.dispose()
