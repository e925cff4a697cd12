"""The agent-facing API: enrolment, reports, action results (agents authenticate with
their credential, ``Authorization: Bearer …``, never with a user's); install links
and the files they serve."""

from __future__ import annotations

import asyncio
import json
import shlex
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from moorage.api.deps import ContextDep
from moorage.api.errors import validation_error
from moorage.api.v1._docker import Operator
from moorage.context import Context
from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.errors import Conflict, Gone, MoorageError, NotFound, PayloadTooLarge
from moorage.fleet import agent as agent_module
from moorage.fleet.schemas import MAX_REPORT_BYTES, ActionResult, EnrollRequest, Report
from moorage.fleet.service import create_enrollment_token, enroll_node
from moorage.models.audit import AuditEvent
from moorage.models.fleet import ActionRun, InstallLink
from moorage.models.user import User
from moorage.security.tokens import generate_token, parse_prefix, token_matches
from moorage.services.audit import audit_in

router = APIRouter(tags=["agents"])
INSTALL_CONTEXT = "fleet.install_link"
NO_ACTIONS = b'{"actions":[]}'


def _parse(body: bytes, model: type[Any], limit: int) -> Any:
    """``body`` validated as ``model``. Raises PayloadTooLarge, InvalidInput."""
    if len(body) > limit:
        raise PayloadTooLarge(f"the body is {len(body)} bytes; at most {limit}")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise validation_error(RequestValidationError(exc.errors())) from exc


async def _body(request: Request, model: type[Any], limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {declared} bytes; at most {limit}")
    return _parse(await request.body(), model, limit)


async def report_answer(
    context: Context, authorization: str | None, body: bytes
) -> tuple[int, bytes]:
    """Status and JSON body for one report; shared by the route and the ASGI fast
    path (:func:`moorage.app.agent_report_fast_path`)."""
    try:
        node = await context.ingest.authenticate(authorization)
        report: Report = _parse(body, Report, MAX_REPORT_BYTES)
        actions = await context.ingest.accept(node, report)
    except MoorageError as exc:
        return exc.status_code, json.dumps(exc.to_dict()).encode()
    if not actions:
        return 200, NO_ACTIONS
    return 200, json.dumps({"actions": actions}).encode()


@router.post("/agents/enroll", status_code=201)
async def enroll(request: Request, context: ContextDep) -> dict[str, str]:
    """``{"token", "hostname", "os"?}`` → ``{"node_id", "name", "credential"}``. The
    credential is shown once; the agent keeps it in its config file.

    401 for an unknown, expired or used-up token (the message says which)."""
    body: EnrollRequest = await _body(request, EnrollRequest, 4096)
    async with write_session(context.sessionmaker) as db:
        node, credential = await enroll_node(db, body.token, body.hostname, body.os)
        answer = {"node_id": node.id, "name": node.name, "credential": credential}
    await context.ingest.bump()
    return answer


@router.post("/agents/report")
async def report(request: Request, context: ContextDep) -> Response:
    """One report (format: :mod:`moorage.fleet.agent`, at most 64 KiB). Answers
    ``{"actions": [{id, action, argv, timeout_seconds}]}``: what the agent should
    run (only when it reported ``allow_actions``). 401 bad credential, 413 too big,
    422 bad schema or a ``collected_at`` outside what the hub keeps."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_REPORT_BYTES:
        raise PayloadTooLarge(f"the body is {declared} bytes; at most {MAX_REPORT_BYTES}")
    status, answer = await report_answer(
        context, request.headers.get("authorization"), await request.body()
    )
    return Response(answer, status_code=status, media_type="application/json")


@router.post("/agents/actions/{run_id}/result", status_code=204)
async def action_result(run_id: str, request: Request, context: ContextDep) -> Response:
    """The agent's result of a run it was handed: ``{"state", "exit_code", "output"}``."""
    node = await context.ingest.authenticate(request.headers.get("authorization"))
    body: ActionResult = await _body(request, ActionResult, 128 * 1024)
    async with write_session(context.sessionmaker) as db:
        run = await db.scalar(
            select(ActionRun).where(ActionRun.id == run_id, ActionRun.node_id == node.id)
        )
        if run is None:
            raise NotFound(f"no action run {run_id} for this node")
        if run.state != "sent":
            raise Conflict(f"action run {run_id} is {run.state}, not waiting for a result")
        run.state = body.state
        run.exit_code = body.exit_code
        run.output = body.output
        run.finished_at = utcnow()
        db.add(
            AuditEvent(
                org_id=node.org_id,
                username=f"agent:{node.name}",
                action="action.result",
                object_type="node",
                object_id=node.id,
                detail=f"{run.action}: {body.state} (exit {body.exit_code})",
            )
        )
    return Response(status_code=204)


# -- installing -------------------------------------------------------------------------

DEPLOY = Path(__file__).resolve().parents[4] / "deploy"


class InstallLinkCreate(BaseModel):
    """``POST /api/v1/install-links``: the link's life (seconds) and the enrolled node's tags."""

    model_config = ConfigDict(extra="forbid")

    ttl_seconds: int = Field(3600, ge=60, le=7 * 86400)
    tags: list[str] = Field(default_factory=list, max_length=16)


@router.post("/install-links", status_code=201)
async def create_install_link(
    body: InstallLinkCreate, request: Request, context: ContextDep, user: User = Operator
) -> dict[str, Any]:
    """A one-time link (valid ``ttl_seconds``) that serves the install script with a
    fresh single-use enrolment token inside: ``{"url", "command", "expires_at"}``."""
    enrollment, token = create_enrollment_token(
        user.org_id,
        name="install link",
        ttl_seconds=body.ttl_seconds,
        max_uses=1,
        tags=body.tags,
        created_by=user.username,
    )
    link = generate_token()
    row = InstallLink(
        org_id=user.org_id,
        prefix=link.prefix,
        token_hash=link.hash,
        enrollment_sealed=context.keyring.seal(token.plaintext, INSTALL_CONTEXT),
        expires_at=enrollment.expires_at,
    )
    async with write_session(context.sessionmaker) as db:
        db.add_all([enrollment, row])
        audit_in(db, user, "install_link.create", "install_link", link.prefix)
    url = f"{str(request.base_url).rstrip('/')}/api/v1/install/{link.plaintext}"
    return {
        "url": url,
        "command": f"curl -fsSL {url} | sudo sh",
        "expires_at": row.expires_at.isoformat(),
    }


@router.get("/install/{token}", response_class=PlainTextResponse)
async def install_script(token: str, request: Request, context: ContextDep) -> Response:
    """The install script with the hub URL and an enrolment token filled in. The link
    works once: a second fetch, or one after it expired, is 410."""
    prefix = parse_prefix(token)
    async with write_session(context.sessionmaker) as db:
        row = None
        if prefix is not None:
            row = await db.scalar(select(InstallLink).where(InstallLink.prefix == prefix))
        if row is None or not token_matches(token, row.token_hash):
            raise NotFound("no such install link")
        if row.used_at is not None:
            raise Gone("this install link was already used; create a new one")
        if row.expires_at <= utcnow():
            raise Gone("this install link expired; create a new one")
        row.used_at = utcnow()
        enrollment = context.keyring.open(row.enrollment_sealed, INSTALL_CONTEXT)
    server = str(request.base_url).rstrip("/")
    script = await asyncio.to_thread((DEPLOY / "install-agent.sh").read_text)
    preset = f"MOORAGE_SERVER={shlex.quote(server)}\nMOORAGE_TOKEN={shlex.quote(enrollment)}\n"
    script = script.replace("set -eu\n", f"set -eu\n{preset}", 1)
    return PlainTextResponse(script, media_type="text/x-shellscript")


@router.get("/agent.py", response_class=PlainTextResponse)
def agent_file() -> Response:
    """The agent as one file (standard library, psutil and httpx)."""
    return PlainTextResponse(Path(agent_module.__file__).read_text(), media_type="text/x-python")


@router.get("/agent.service", response_class=PlainTextResponse)
def agent_unit() -> Response:
    """The agent's systemd unit."""
    return PlainTextResponse((DEPLOY / "moorage-agent.service").read_text())
