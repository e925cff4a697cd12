"""Installing the agent: one-time install links (operators) and the files a machine
fetches without credentials (the install script for ``sh`` or PowerShell, the agent as
one file, its systemd unit)."""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse

from moorage.agent.bundle import single_file
from moorage.api.deps import ContextDep
from moorage.api.v1._docker import Operator
from moorage.models.user import Role, User
from moorage.schemas.fleet import InstallLinkCreate
from moorage.security.access import Agent, Allow, Public
from moorage.services.fleet import enrolment

router = APIRouter(tags=["agents"])

DEPLOY = Path(__file__).resolve().parents[4] / "deploy"
# The line of install-agent.ps1 that the install link replaces with its two values.
PS_PRESET = "# (the install link puts the hub's URL and an enrolment token here)\n"


def ps_quote(value: str) -> str:
    """``value`` as a PowerShell single-quoted string (no expansion; ``'`` doubled, and
    the typographic single quotes PowerShell also accepts as delimiters)."""
    for quote in ("'", "\u2018", "\u2019", "\u201a", "\u201b"):
        value = value.replace(quote, quote * 2)
    return f"'{value}'"


def powershell_command(url: str, hosts: int) -> str:
    """The one-liner that runs the served PowerShell script in an elevated PowerShell;
    with several ``hosts`` it pushes to the machines named after ``-Targets``."""
    run = f"& ([scriptblock]::Create((irm {ps_quote(url)})))"
    if hosts > 1:
        run += " -Targets HOST1,HOST2 -Source .\\moorage-agent.exe"
    return f'powershell -NoProfile -ExecutionPolicy Bypass -Command "{run}"'


@router.post("/install-links", status_code=201, dependencies=[Allow(Role.OPERATOR)])
async def create_install_link(
    body: InstallLinkCreate, request: Request, context: ContextDep, user: User = Operator
) -> dict[str, Any]:
    """A one-time link (valid ``ttl_seconds``) that serves the install script with a
    fresh enrolment token inside, good for ``hosts`` machines: ``{"url", "command",
    "powershell_url", "powershell_command", "hosts", "expires_at"}`` (``command`` for
    Linux as root, ``powershell_command`` for Windows as Administrator; either fetch
    spends the link)."""
    token, expires_at = await enrolment.create_install_link(
        context.sessionmaker,
        context.keyring,
        user,
        ttl_seconds=body.ttl_seconds,
        tags=body.tags,
        hosts=body.hosts,
    )
    url = f"{str(request.base_url).rstrip('/')}/api/v1/install/{token}"
    powershell_url = f"{url}?shell=powershell"
    return {
        "url": url,
        "command": f"curl -fsSL {url} | sudo sh",
        "powershell_url": powershell_url,
        "powershell_command": powershell_command(powershell_url, body.hosts),
        "hosts": body.hosts,
        "expires_at": expires_at.isoformat(),
    }


@router.get("/install/{token}", response_class=PlainTextResponse, dependencies=[Agent])
async def install_script(
    token: str,
    request: Request,
    context: ContextDep,
    shell: Literal["sh", "powershell"] = Query("sh", description="The script's language."),
) -> Response:
    """The install script (``deploy/install-agent.sh``, or ``install-agent.ps1`` with
    ``?shell=powershell``) with the hub URL and an enrolment token filled in. The link
    works once, whichever the shell: a second fetch, or one after it expired, is 410;
    404 when unknown; 422 for another ``shell``."""
    enrollment = await enrolment.redeem_install_link(context.sessionmaker, context.keyring, token)
    server = str(request.base_url).rstrip("/")
    if shell == "powershell":
        script = await asyncio.to_thread((DEPLOY / "install-agent.ps1").read_text)
        preset = (
            f"if (-not $Server) {{ $Server = {ps_quote(server)} }}\n"
            f"if (-not $Token) {{ $Token = {ps_quote(enrollment)} }}\n"
        )
        if PS_PRESET not in script:
            raise RuntimeError("deploy/install-agent.ps1 lost its preset line")
        return PlainTextResponse(script.replace(PS_PRESET, preset, 1), media_type="text/plain")
    script = await asyncio.to_thread((DEPLOY / "install-agent.sh").read_text)
    preset = f"MOORAGE_SERVER={shlex.quote(server)}\nMOORAGE_TOKEN={shlex.quote(enrollment)}\n"
    script = script.replace("set -eu\n", f"set -eu\n{preset}", 1)
    return PlainTextResponse(script, media_type="text/x-shellscript")


@router.get("/agent.py", response_class=PlainTextResponse, dependencies=[Public])
def agent_file() -> Response:
    """The agent as one file (standard library, psutil and httpx), built from the
    :mod:`moorage.agent` package by :func:`moorage.agent.bundle.single_file`."""
    return PlainTextResponse(single_file(), media_type="text/x-python")


@router.get("/agent.service", response_class=PlainTextResponse, dependencies=[Public])
def agent_unit() -> Response:
    """The agent's systemd unit."""
    return PlainTextResponse((DEPLOY / "moorage-agent.service").read_text())
