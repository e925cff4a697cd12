"""``moorage machines …``: import a machines.txt, provision a pool with Ansible."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from moorage.cli._common import DataDirOption, run_with_db, settings_for
from moorage.config import Settings
from moorage.db.engine import create_engine, create_sessionmaker
from moorage.db.migrate import upgrade
from moorage.errors import InvalidInput, MoorageError
from moorage.models.org import DEFAULT_ORG, Org
from moorage.models.user import User
from moorage.security.crypto import Keyring, load_keyring

app = typer.Typer(help="Pool machines: import, provision.", no_args_is_help=True)


def _keyring(settings: Settings) -> Keyring:
    return load_keyring(
        settings.data_dir,
        settings.secret_key.get_secret_value() if settings.secret_key else None,
        settings.old_secret_keys.get_secret_value() if settings.old_secret_keys else None,
    )


async def _default_org(db) -> str:
    org = await db.scalar(select(Org).where(Org.name == DEFAULT_ORG))
    if org is None:
        typer.echo("error: start `moorage serve` once first to create the default org", err=True)
        raise typer.Exit(1)
    return org.id


@app.command("import")
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="machines.txt: name host port user password.",
        ),
    ],
    pool: Annotated[str, typer.Option(help="Pool to put the machines in.")] = "default",
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the good lines even if some are bad.")
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Register machines from FILE. Bad lines are listed with their numbers; nothing is
    imported unless --skip-invalid. The server probes them on its next pass."""
    from moorage.services.audit import COMMAND_LINE
    from moorage.services.machine_import import import_machines

    settings = settings_for(data_dir)
    keyring = _keyring(settings)
    text = file.read_text()

    async def work(db):
        return await import_machines(
            db,
            keyring,
            await _default_org(db),
            text,
            pool=pool,
            skip_invalid=skip_invalid,
            actor=COMMAND_LINE,
        )

    try:
        imported, skipped = run_with_db(settings, work, report=False)
    except InvalidInput as exc:
        typer.echo("error: nothing imported; bad lines:", err=True)
        for line in exc.details.get("lines", []):
            typer.echo(f"  line {line['line']}: {line['message']}", err=True)
        raise typer.Exit(1) from exc
    for line in skipped:
        typer.echo(f"skipped line {line.line}: {line.message}", err=True)
    typer.echo(f"imported {len(imported)} machines into pool {pool}: {', '.join(imported)}")


@app.command()
def provision(
    pool: Annotated[str, typer.Argument(help="Pool to provision.")],
    playbook: Annotated[
        Path,
        typer.Option(exists=True, dir_okay=False, readable=True, help="Ansible playbook file."),
    ],
    extra_var: Annotated[
        list[str] | None,
        typer.Option("--extra-var", "-e", help="KEY=VALUE passed to the playbook (repeatable)."),
    ] = None,
    user: Annotated[str, typer.Option(help="User recorded as starting the run.")] = "admin",
    data_dir: DataDirOption = None,
) -> None:
    """Run PLAYBOOK on every machine of POOL (not in maintenance) and print its output."""
    from moorage.services.provisioning import Provisioner

    settings = settings_for(data_dir)
    extra: dict[str, str] = {}
    for item in extra_var or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            typer.echo(f"error: --extra-var {item!r} is not KEY=VALUE", err=True)
            raise typer.Exit(2)
        extra[key] = value

    async def go() -> int:
        engine = create_engine(settings.resolved_database_url)
        try:
            await upgrade(engine)
            sessionmaker = create_sessionmaker(engine)
            async with sessionmaker() as db:
                starter = await db.scalar(select(User).where(User.username == user))
            if starter is None:
                typer.echo(f"error: no user named {user!r}", err=True)
                return 1
            provisioner = Provisioner(sessionmaker, _keyring(settings), settings.data_dir)
            run = await provisioner.start(starter, pool, playbook.resolve(), extra)
            typer.echo(f"run {run.id}: {playbook.name} on pool {pool}")
            run = await provisioner.wait(run.id, timeout_seconds=3600)
            typer.echo(run.output)
            typer.echo(f"run {run.id}: {run.status} (exit code {run.return_code})")
            return 0 if run.status == "successful" else 1
        finally:
            await engine.dispose()

    try:
        code = asyncio.run(go())
    except MoorageError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    raise typer.Exit(code)
