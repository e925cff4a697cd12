"""Async engine and session factory.

SQLite runs in WAL mode with a busy timeout so the reconciler and the API can
write from one process without ``database is locked`` errors.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
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
    a read-check-write sequence inside it is atomic.

    On SQLite this process's write transactions also queue on one asyncio lock
    first: SQLite's own busy handler makes a waiting writer poll with growing
    sleeps (up to 100 ms each), so many launches at once waited far longer than
    the transactions took (50 warm claims: a launch's request took about twice as
    long). Other processes (the worker) still meet the busy timeout. A write
    transaction opened while one is open in the same task (or a task it started)
    does not queue, and meets SQLite's lock as before rather than waiting on itself.
    """
    async with AsyncExitStack() as stack:
        lock = _sqlite_write_lock(sessionmaker)
        if lock is not None and not _INSIDE_WRITE.get():
            await stack.enter_async_context(lock)
            token = _INSIDE_WRITE.set(True)
            stack.callback(_INSIDE_WRITE.reset, token)
        db = await stack.enter_async_context(sessionmaker())
        await stack.enter_async_context(db.begin())
        await db.connection(execution_options=WRITE_OPTIONS)
        yield db


_INSIDE_WRITE = contextvars.ContextVar("moorage_inside_sqlite_write", default=False)
_WRITE_LOCKS: weakref.WeakKeyDictionary[Any, dict[asyncio.AbstractEventLoop, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _sqlite_write_lock(sessionmaker: async_sessionmaker[AsyncSession]) -> asyncio.Lock | None:
    """The lock of this process's write transactions on ``sessionmaker``'s SQLite
    database (one per engine); None for PostgreSQL and MariaDB, whose row locks need
    no queue."""
    bind = sessionmaker.kw.get("bind")
    if bind is None or bind.dialect.name != "sqlite":
        return None
    # Per engine and event loop: an asyncio lock belongs to one loop, and tests run
    # apps on several.
    locks = _WRITE_LOCKS.setdefault(bind.sync_engine, {})
    loop = asyncio.get_running_loop()
    lock = locks.get(loop)
    if lock is None:
        lock = locks[loop] = asyncio.Lock()
    return lock
