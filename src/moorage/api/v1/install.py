"""Installing the agent: one-time install links (operators) and the files a machine
fetches without credentials (the install script, the agent as one file, its
systemd unit)."""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
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


@router.post("/install-links", status_code=201, dependencies=[Allow(Role.OPERATOR)])
async def create_install_link(
    body: InstallLinkCreate, request: Request, context: ContextDep, user: User = Operator
) -> dict[str, Any]:
    """A one-time link (valid ``ttl_seconds``) that serves the install script with a
    fresh single-use enrolment token inside: ``{"url", "command", "expires_at"}``."""
    token, expires_at = await enrolment.create_install_link(
        context.sessionmaker, context.keyring, user, ttl_seconds=body.ttl_seconds, tags=body.tags
    )
    url = f"{str(request.base_url).rstrip('/')}/api/v1/install/{token}"
    return {
        "url": url,
        "command": f"curl -fsSL {url} | sudo sh",
        "expires_at": expires_at.isoformat(),
    }


@router.get("/install/{token}", response_class=PlainTextResponse, dependencies=[Agent])
async def install_script(token: str, request: Request, context: ContextDep) -> Response:
    """The install script with the hub URL and an enrolment token filled in. The link
    works once: a second fetch, or one after it expired, is 410; 404 when unknown."""
    enrollment = await enrolment.redeem_install_link(context.sessionmaker, context.keyring, token)
    server = str(request.base_url).rstrip("/")
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
