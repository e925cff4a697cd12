"""Top-level commands: serve, worker, admin, db; the other groups (images, machines,
agent, backup) come from their own modules."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from moorage.cli._common import DataDirOption, migrate_in_child, run_with_db, settings_for
from moorage.cli.agent import app as agent_app
from moorage.cli.backup import app as backup_app
from moorage.cli.images import app as images_app
from moorage.cli.machines import app as machines_app
from moorage.config import Settings
from moorage.models.user import Role
from moorage.observability.logs import configure_logging

app = typer.Typer(
    help="Moorage: workspaces in the browser, leases that end on time.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
admin_app = typer.Typer(help="Administration: users and API tokens.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
admin_app.add_typer(token_app, name="token")
admin_app.add_typer(user_app, name="user")
app.add_typer(images_app, name="images")
app.add_typer(db_app, name="db")
app.add_typer(machines_app, name="machines")
app.add_typer(agent_app, name="agent")
app.add_typer(backup_app, name="backup")


GRACE_SECONDS = 6
"""On SIGTERM, connections still open after this long are closed (websockets with
1012, Service Restart), so the process is gone well within systemd's and Docker's
10 s; streams (SSE) end at once."""


def _logging(level: str) -> None:
    # MOORAGE_LOG_FORMAT=json: JSON lines with the request id (Settings.log_format).
    configure_logging(level, os.environ.get("MOORAGE_LOG_FORMAT", "text").strip().lower())


@app.command()
def serve(
    data_dir: DataDirOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
    access_log: Annotated[
        bool, typer.Option(help="Log every request (uvicorn's access log).")
    ] = True,
    workers: Annotated[
        int | None,
        typer.Option(help="Server processes (PostgreSQL or MariaDB only); MOORAGE_WORKERS."),
    ] = None,
) -> None:
    """Run the server: API, web UI and the reconciler (embedded default)."""
    import uvicorn

    from moorage.app import create_app

    _logging(log_level)
    settings = settings_for(data_dir)
    workers = workers or settings.workers

    def announce(message: str) -> None:
        typer.echo(message)

    from moorage.api.compat import exposure_error

    refusal = exposure_error(settings, host)
    if refusal:
        typer.echo(f"error: {refusal}", err=True)
        raise typer.Exit(2)
    if workers > 1 and settings.workspace_port:
        typer.echo(
            "error: MOORAGE_WORKSPACE_PORT needs one server process; "
            "use MOORAGE_WORKSPACE_DOMAIN with several workers",
            err=True,
        )
        raise typer.Exit(2)
    if workers > 1:
        if settings.is_sqlite:
            typer.echo("error: several workers need PostgreSQL or MariaDB", err=True)
            raise typer.Exit(2)
        # Migrate and do first-start set-up once, then let every worker open its own
        # context; they elect one reconciler through the lease row.
        from moorage.runtime import open_context

        async def prepare() -> None:
            async with open_context(settings, run_reconciler=False, announce=announce):
                pass

        asyncio.run(prepare())
        os.environ["MOORAGE_DATA_DIR"] = str(settings.data_dir)
        # Every worker's counters in files there, summed by GET /metrics (multiprocess mode).
        from moorage.observability.metrics import prepare_multiprocess

        prepare_multiprocess(settings.data_dir / "prometheus")
        uvicorn.run(
            "moorage.app:create_app",
            factory=True,
            workers=workers,
            # A worker answers its supervisor's pings only once it has started; on a
            # busy machine that can take longer than uvicorn's 5 s, which then kills it
            # and starts another, for ever.
            timeout_worker_healthcheck=60,
            host=host,
            port=port,
            log_level=log_level,
            access_log=access_log,
            ws="websockets-sansio",
            proxy_headers=False,  # the app's ForwardedHeaders, with X-Forwarded-Host
            root_path=settings.root_path,
            timeout_graceful_shutdown=GRACE_SECONDS,
        )
        return
    migrate_in_child(settings)  # keeps Alembic out of the server's memory
    main = create_app(settings, announce=announce)
    if not settings.workspace_port:
        uvicorn.run(
            main,
            host=host,
            port=port,
            log_level=log_level,
            access_log=access_log,
            ws="websockets-sansio",
            proxy_headers=False,  # the app's ForwardedHeaders, with X-Forwarded-Host
            root_path=settings.root_path,
            timeout_graceful_shutdown=GRACE_SECONDS,
        )
        return
    asyncio.run(_serve_with_workspace_port(main, settings, host, port, log_level, access_log))


async def _serve_with_workspace_port(
    main: Any, settings: Settings, host: str, port: int, log_level: str, access_log: bool
) -> None:
    """Moorage on ``port`` and the workspace origin (web apps only) on
    ``MOORAGE_WORKSPACE_PORT``: two uvicorn servers in one event loop, sharing
    Moorage's context. Either one stopping stops both."""
    import uvicorn

    from moorage.gateway.workspace_app import workspace_app

    def config(
        app: Any, listen_port: int, lifespan: Literal["on", "off"], root_path: str = ""
    ) -> uvicorn.Config:
        return uvicorn.Config(
            app,
            host=host,
            port=listen_port,
            log_level=log_level,
            access_log=access_log,
            ws="websockets-sansio",
            proxy_headers=bool(settings.trusted_proxy_networks),
            forwarded_allow_ips=",".join(map(str, settings.trusted_proxy_networks)) or None,
            root_path=root_path,
            lifespan=lifespan,
            timeout_graceful_shutdown=GRACE_SECONDS,
        )

    assert settings.workspace_port is not None
    workspaces = workspace_app(main, settings, moorage_origin=f"http://{{host}}:{port}")
    servers = [
        uvicorn.Server(config(main, port, "on", settings.root_path)),
        uvicorn.Server(config(workspaces, settings.workspace_port, "off")),
    ]
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)


@app.command()
def worker(
    data_dir: DataDirOption = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
    health_file: Annotated[
        Path | None, typer.Option(help="Touched every 5 s while running (container health).")
    ] = None,
) -> None:
    """Run the reconciler alone (deployments with several API replicas started with
    MOORAGE_RUN_RECONCILER=false). Replicas elect one acting reconciler through a
    lease row in the database; the others stand by."""
    import signal

    from moorage.errors import MoorageError
    from moorage.runtime import open_context

    _logging(log_level)
    settings = settings_for(data_dir)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with open_context(settings, run_reconciler=True, announce=typer.echo):
            logging.getLogger("moorage.worker").info("reconciler worker running")
            while not stop.is_set():
                if health_file is not None:
                    health_file.touch()
                try:
                    await asyncio.wait_for(stop.wait(), 5)
                except TimeoutError:
                    pass

    try:
        asyncio.run(run())
    except MoorageError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option("--user", help="Username the token acts as.")],
    name: Annotated[str, typer.Option("--name", help="A label for the token.")] = "",
    data_dir: DataDirOption = None,
) -> None:
    """Print a new API token for USER (shown once; use as `Authorization: Bearer …`)."""
    from moorage.services.audit import COMMAND_LINE
    from moorage.services.users import create_api_token, find_user

    async def work(db):
        owner = await find_user(db, user)
        return await create_api_token(db, owner, name=name or "cli", actor=COMMAND_LINE)

    typer.echo(run_with_db(settings_for(data_dir), work))


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="Login name.")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="MOORAGE_NEW_PASSWORD",
            help="Password (prompted when not given).",
        ),
    ],
    role: Annotated[Role, typer.Option(help="Role.")] = Role.MEMBER,
    data_dir: DataDirOption = None,
) -> None:
    """Add a user to the default org."""
    from sqlalchemy import select

    from moorage.models.org import DEFAULT_ORG, Org
    from moorage.services.audit import COMMAND_LINE
    from moorage.services.users import create_user

    async def work(db):
        org = await db.scalar(select(Org).where(Org.name == DEFAULT_ORG))
        if org is None:
            typer.echo(
                "error: start `moorage serve` once first to create the default org", err=True
            )
            raise typer.Exit(1)
        return await create_user(
            db,
            org_id=org.id,
            username=username,
            password=password,
            role=role,
            actor=COMMAND_LINE,
        )

    created = run_with_db(settings_for(data_dir), work)
    typer.echo(f"created {created.username} ({created.role})")


@db_app.command("upgrade")
def db_upgrade(
    data_dir: DataDirOption = None,
    setup: Annotated[
        bool, typer.Option(help="Also do first-start set-up (org, admin, `local` environment).")
    ] = False,
) -> None:
    """Apply the database migrations (a deployment's one-shot job, before its servers)."""
    if setup:
        from moorage.runtime import open_context

        async def prepare() -> None:
            async with open_context(settings_for(data_dir), run_reconciler=False):
                pass

        asyncio.run(prepare())
    else:
        run_with_db(settings_for(data_dir), lambda db: asyncio.sleep(0))
    typer.echo("database is up to date")


@app.command()
def top(
    interval: Annotated[float, typer.Option(help="Seconds between samples.")] = 2.0,
    export_csv: Annotated[Path | None, typer.Option(help="Append samples to this CSV.")] = None,
    export_jsonl: Annotated[Path | None, typer.Option(help="Append samples as JSONL.")] = None,
    web: Annotated[
        bool,
        typer.Option(help="Serve a live page with history (exports default to ~/moorage-top/)."),
    ] = False,
    host: Annotated[str, typer.Option(help="With --web: address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="With --web: port.")] = 8765,
    no_export: Annotated[bool, typer.Option(help="With --web: write no files.")] = False,
) -> None:
    """This machine's CPU, memory, disk, load and network, every interval (local mode),
    printed or, with --web, served as a page with history."""
    # Dispatched to moorage.agent.top by moorage.cli.main before Typer loads.


def main() -> None:
    app()
