"""``moorage agent``: enrolment tokens (server side) and the agent itself.

``moorage agent enroll`` and ``moorage agent run`` are dispatched to
:func:`moorage.agent.main` before this module loads (see
:mod:`moorage.cli`); they are declared here so ``--help`` lists them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.cli._common import DataDirOption, run_with_db, settings_for

# The agent's own defaults (moorage.agent._common), written out for --help: importing
# the agent here would load httpx and psutil into every `moorage serve`.
CONFIG_HELP = "default: /etc/moorage-agent.json, %ProgramData%\\Moorage\\agent.toml on Windows"
DEFAULT_INTERVAL = 10.0

app = typer.Typer(help="The fleet agent and its enrolment tokens.", no_args_is_help=True)
token_app = typer.Typer(help="Enrolment tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    data_dir: DataDirOption = None,
    name: Annotated[str, typer.Option(help="A label for the token.")] = "",
    ttl_seconds: Annotated[int, typer.Option(help="Valid for this long.")] = 3600,
    max_uses: Annotated[int, typer.Option(help="How many agents it may enrol.")] = 1,
    tag: Annotated[list[str] | None, typer.Option(help="Tag for enrolled nodes.")] = None,
) -> None:
    """Print a new enrolment token (shown once) for `moorage agent enroll`."""
    from sqlalchemy import select

    from moorage.models.org import Org
    from moorage.services.audit import COMMAND_LINE, record
    from moorage.services.fleet.enrolment import create_enrollment_token

    if ttl_seconds < 60 or max_uses < 1:
        raise typer.BadParameter("ttl-seconds must be ≥ 60 and max-uses ≥ 1")

    async def create(db: AsyncSession) -> str:
        org = await db.scalar(select(Org).order_by(Org.created_at).limit(1))
        if org is None:
            raise typer.BadParameter("no organisation yet: start `moorage serve` once")
        row, token = create_enrollment_token(
            org.id,
            name=name,
            ttl_seconds=ttl_seconds,
            max_uses=max_uses,
            tags=tag or [],
            created_by="cli",
        )
        db.add(row)
        record(db, org.id, COMMAND_LINE, "enrollment_token.create", "enrollment_token", row.prefix)
        return token.plaintext

    typer.echo(run_with_db(settings_for(data_dir), create))


@app.command("enroll")
def enroll(
    server: Annotated[str, typer.Option(help="The hub's URL.")],
    token: Annotated[str, typer.Option(help="An enrolment token.")],
    config: Annotated[
        Path | None, typer.Option(help=f"Where to save the credential ({CONFIG_HELP}).")
    ] = None,
) -> None:
    """Exchange an enrolment token for this machine's credential."""


@app.command("run")
def run(
    config: Annotated[
        Path | None, typer.Option(help=f"The enrolled config ({CONFIG_HELP}).")
    ] = None,
    interval: Annotated[float, typer.Option(help="Seconds between reports.")] = DEFAULT_INTERVAL,
    allow_actions: Annotated[bool, typer.Option(help="Run allow-listed actions.")] = False,
    max_backoff: Annotated[float, typer.Option(help="Longest wait between retries (s).")] = 300,
) -> None:
    """Push a report every interval."""
