"""Options and helpers shared by the commands."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.config import Settings
from moorage.db.engine import create_engine, create_sessionmaker, write_session
from moorage.db.migrate import at_head, upgrade
from moorage.errors import MoorageError

T = TypeVar("T")

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="MOORAGE_DATA_DIR",
        help="Data directory (SQLite database, keys). Default ./data.",
    ),
]


def settings_for(data_dir: Path | None) -> Settings:
    """Settings from the environment, with ``--data-dir`` taking precedence."""
    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    return settings


def run_with_db(
    settings: Settings, work: Callable[[AsyncSession], Awaitable[T]], *, report: bool = True
) -> T:
    """Migrate, open one database session, run ``work`` in a transaction, and (with
    ``report``) report :class:`MoorageError` as a one-line message with exit code 1."""

    async def go() -> T:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.resolved_database_url)
        try:
            await upgrade(engine)
            async with write_session(create_sessionmaker(engine)) as db:
                return await work(db)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except MoorageError as exc:
        if not report:
            raise
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc


def migrate_in_child(settings: Settings) -> None:
    """Run the migrations in a child process (``moorage db upgrade``) when the database
    is behind, so that the server which starts next never imports Alembic (about 10 MB
    of resident memory kept for the life of the process). Blocks; call it before the
    server's event loop starts.

    Raises:
        typer.Exit: the migration failed (its output is on standard error).
    """

    async def behind() -> bool:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.resolved_database_url)
        try:
            return not await at_head(engine)
        finally:
            await engine.dispose()

    if not asyncio.run(behind()):
        return
    command = [
        sys.executable,
        "-m",
        "moorage",
        "db",
        "upgrade",
        "--data-dir",
        str(settings.data_dir),
    ]
    if subprocess.run(command, stdout=subprocess.DEVNULL, check=False).returncode != 0:
        raise typer.Exit(1)
