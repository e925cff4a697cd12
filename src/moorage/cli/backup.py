"""``moorage backup create`` and ``moorage backup restore`` (:mod:`moorage.backup`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from moorage.cli._common import DataDirOption, settings_for
from moorage.errors import MoorageError

app = typer.Typer(
    help="Back up and restore the database with the data directory's keys and files.",
    no_args_is_help=True,
)


@app.command("create")
def create(
    to: Annotated[
        Path | None,
        typer.Option("--to", help="Archive to write (default ./moorage-backup-<time>.tar.gz)."),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write one archive: the database (SQLite online backup, pg_dump or mariadb-dump)
    and the data directory (secret.key, TLS material, stack files). A running server
    keeps serving. The archive is mode 0600: it holds the keys."""
    from moorage import backup

    target = to or backup.default_archive()
    try:
        manifest = backup.create_backup(settings_for(data_dir), target)
    except MoorageError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"wrote {target} ({manifest.database}, revision {manifest.revision})")


@app.command("restore")
def restore(
    archive: Annotated[Path, typer.Argument(help="An archive of `moorage backup create`.")],
    data_dir: DataDirOption = None,
) -> None:
    """Restore ARCHIVE into an empty data directory and (PostgreSQL, MariaDB) an empty
    database at MOORAGE_DATABASE_URL. Start the server afterwards: it migrates an
    older archive's schema."""
    from moorage import backup

    if not archive.is_file():
        typer.echo(f"error: no archive at {archive}", err=True)
        raise typer.Exit(1)
    try:
        manifest = backup.restore_backup(settings_for(data_dir), archive)
    except MoorageError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"restored {archive} (made {manifest.created_at}, revision {manifest.revision})")
