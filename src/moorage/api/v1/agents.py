"""The agent-facing API: enrolment, reports, action results. Agents authenticate with
their credential (``Authorization: Bearer …``), never with a user's."""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from fastapi import APIRouter, Request, Response, WebSocket
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from moorage.api.deps import ContextDep
from moorage.api.errors import validation_error
from moorage.context import Context
from moorage.db.engine import write_session
from moorage.errors import InvalidInput, MoorageError, PayloadTooLarge, RuntimeUnavailable
from moorage.observability.metrics import AGENT_REPORTS
from moorage.schemas.fleet import MAX_REPORT_BYTES, ActionResult, EnrollRequest, Report
from moorage.security.access import Agent
from moorage.security.throttle import throttled
from moorage.services.audit import client_address
from moorage.services.docker.agent_environments import ensure_agent_environment
from moorage.services.fleet.actions import record_result
from moorage.services.fleet.catalog import MAX_FILE_BYTES, store_file
from moorage.services.fleet.enrolment import enroll_node

__all__ = ["read_body", "report_answer", "router"]

router = APIRouter(tags=["agents"])
NO_ACTIONS = b'{"actions":[]}'


def _parse(body: bytes, model: type[Any], limit: int) -> Any:
    """``body`` validated as ``model``. Raises PayloadTooLarge, InvalidInput."""
    if len(body) > limit:
        raise PayloadTooLarge(f"the body is {len(body)} bytes; at most {limit}")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise validation_error(RequestValidationError(exc.errors())) from exc


async def read_body(request: Request, model: type[Any], limit: int) -> Any:
    """The request's JSON body validated as ``model``, refused before reading when its
    declared length is over ``limit`` bytes. Raises PayloadTooLarge, InvalidInput."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {declared} bytes; at most {limit}")
    return _parse(await request.body(), model, limit)


async def report_answer(
    context: Context, authorization: str | None, body: bytes
) -> tuple[int, bytes]:
    """Status and JSON body for one report; shared by the route and the ASGI fast
    path (:class:`moorage.api.fast_path.AgentReportFastPath`)."""
    try:
        node = await context.ingest.authenticate(authorization)
        report: Report = _parse(body, Report, MAX_REPORT_BYTES)
        actions = await context.ingest.accept(node, report)
    except MoorageError as exc:
        AGENT_REPORTS.labels(exc.code).inc()
        return exc.status_code, json.dumps(exc.to_dict()).encode()
    AGENT_REPORTS.labels("ingested").inc()
    if not actions:
        return 200, NO_ACTIONS
    return 200, json.dumps({"actions": actions}).encode()


@router.post("/agents/enroll", status_code=201, dependencies=[Agent])
async def enroll(request: Request, context: ContextDep) -> dict[str, str]:
    """``{"token", "hostname", "os"?}`` → ``{"node_id", "name", "credential"}``. The
    credential is shown once; the agent keeps it in its config file.

    401 for an unknown, expired or used-up token (the message says which). Guessing
    is throttled like sign-ins, per client address (``enrolment@<address>``): after
    5 failures, growing delays, then 429 ``too_many_attempts`` with ``Retry-After``."""
    body: EnrollRequest = await read_body(request, EnrollRequest, 4096)
    address = request.client.host if request.client else "unknown"
    async with (
        throttled(request, f"enrolment@{address}"),
        write_session(context.sessionmaker) as db,
    ):
        node, credential = await enroll_node(db, body.token, body.hostname, body.os)
        answer = {"node_id": node.id, "name": node.name, "credential": credential}
    await context.ingest.bump()
    return answer


@router.post("/agents/report", dependencies=[Agent])
async def report(request: Request, context: ContextDep) -> Response:
    """One report (:class:`moorage.schemas.fleet.Report`, at most 64 KiB). Answers
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


@router.post("/agents/actions/{run_id}/result", status_code=204, dependencies=[Agent])
async def action_result(run_id: str, request: Request, context: ContextDep) -> Response:
    """The agent's result of a run it was handed: ``{"state", "exit_code", "output"}``.
    401 bad credential; 404 not this node's run; 409 the run is not waiting for one."""
    node = await context.ingest.authenticate(request.headers.get("authorization"))
    body: ActionResult = await read_body(request, ActionResult, 128 * 1024)
    await record_result(context.sessionmaker, node, run_id, body)
    return Response(status_code=204)


@router.post("/agents/actions/{run_id}/file", status_code=204, dependencies=[Agent])
async def action_file(
    run_id: str, request: Request, context: ContextDep, name: str = "logs.zip"
) -> Response:
    """The file a built-in run collected (``collect_logs``' zip), as the raw body
    (at most 9 MiB), named ``name``; before the run's result. 401 bad credential; 404
    not this node's run; 409 the run takes no file now; 413 too big; 422 bad name."""
    node = await context.ingest.authenticate(request.headers.get("authorization"))
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", name):
        raise InvalidInput("name: letters, digits, '_', '.', '-' (up to 128)", field="name")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_FILE_BYTES:
        raise PayloadTooLarge(f"the file is {declared} bytes; at most {MAX_FILE_BYTES}")
    content = b""
    async for chunk in request.stream():
        content += chunk
        if len(content) > MAX_FILE_BYTES:
            raise PayloadTooLarge(f"the file is over {MAX_FILE_BYTES} bytes")
    await store_file(context.sessionmaker, node, run_id, name, content)
    return Response(status_code=204)


@router.websocket("/agents/tunnel", dependencies=[Agent])
async def tunnel(websocket: WebSocket) -> None:
    """The Docker tunnel of ``moorage agent run --docker``: binary frames carry an SSH
    connection on which the agent is the server (:mod:`moorage.agent.docker_tunnel`,
    :mod:`moorage.drivers.docker.agent_tunnel`). Send the node's credential as
    ``Authorization: Bearer …``; a bad one is refused before the upgrade (HTTP 403).
    The first tunnel of a node adds the cordoned environment ``agent://<node>``.
    Close codes: 1011 the handshake over the tunnel failed."""
    context: Context = websocket.app.state.context
    try:
        node = await context.ingest.authenticate(websocket.headers.get("authorization"))
    except MoorageError:
        await websocket.close(code=4401)
        return
    environment = await ensure_agent_environment(
        context.sessionmaker, node.org_id, node.name, client_address(websocket)
    )
    await websocket.accept()

    async def check_now() -> None:  # the environments page shows it reachable at once
        await context.environment_status.check(environment)

    async def receive() -> bytes | None:
        message = await websocket.receive()
        return message.get("bytes") if message["type"] == "websocket.receive" else None

    try:
        await context.agent_connections.serve(
            node.org_id, node.name, receive, websocket.send_bytes, check_now
        )
    except RuntimeUnavailable as exc:
        with contextlib.suppress(RuntimeError, OSError):
            await websocket.close(code=1011, reason=exc.message[:120])
