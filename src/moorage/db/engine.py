"""Async engine and session factory.

SQLite runs in WAL mode with a busy timeout so the reconciler and the API can
write from one process without ``database is locked`` errors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

__all__ = ["WRITE_OPTIONS", "create_engine", "create_sessionmaker", "write_session"]

WRITE_OPTIONS = {"moorage_write": True}
"""Connection options of a transaction that will write (``BEGIN IMMEDIATE`` on SQLite)."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, emit BEGIN (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Write transactions start with BEGIN IMMEDIATE, taking the write lock up
    # front: a deferred transaction that reads and then writes fails at once with
    # "database is locked" when another writer committed in between, whatever the
    # busy timeout. Reads stay deferred so they never wait for writers (WAL).
    # Recipe from SQLAlchemy's pysqlite/aiosqlite dialect documentation.
    if connection.get_execution_options().get("moorage_write"):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


def create_engine(url: str) -> AsyncEngine:
    """An async engine for ``url``.

    Drivers: ``sqlite+aiosqlite``, ``postgresql+asyncpg``, ``mysql+asyncmy`` (MariaDB).
    """
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs = {}
    else:
        kwargs["pool_size"] = 10
        kwargs["max_overflow"] = 20
        kwargs["pool_recycle"] = 1800
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (``expire_on_commit=False``)."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def write_session(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A database session in one write transaction, committed on success and rolled
    back on error. On SQLite it holds the write lock from its first statement, so
    a read-check-write sequence inside it is atomic."""
    async with sessionmaker() as db, db.begin():
        await db.connection(execution_options=WRITE_OPTIONS)
        yield db
