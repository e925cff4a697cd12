"""Remote actions (operators): the allow-list, and runs on a node."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from moorage.api.deps import ContextDep, DbDep, WriteDbDep
from moorage.api.v1._docker import Operator
from moorage.models.user import Role, User
from moorage.schemas.fleet import ActionCreate, ActionRequest
from moorage.security.access import Allow
from moorage.services.fleet import actions

router = APIRouter(tags=["fleet"])


@router.get("/actions", dependencies=[Allow(Role.OPERATOR)])
async def list_actions(db: DbDep, user: User = Operator) -> list[dict[str, Any]]:
    """The allow-list: ``[{name, argv, timeout_seconds, description}]``."""
    return await actions.list_actions(db, user)


@router.put("/actions/{name}", status_code=204, dependencies=[Allow(Role.OPERATOR)])
async def define_action(
    name: str, body: ActionCreate, db: WriteDbDep, user: User = Operator
) -> Response:
    """Add or replace an allow-listed action (``name`` in the path and body agree,
    422 otherwise)."""
    await actions.define_action(db, user, name, body)
    return Response(status_code=204)


@router.delete("/actions/{name}", status_code=204, dependencies=[Allow(Role.OPERATOR)])
async def remove_action(name: str, db: WriteDbDep, user: User = Operator) -> Response:
    """Remove an allow-listed action; 404 when unknown."""
    await actions.remove_action(db, user, name)
    return Response(status_code=204)


@router.post("/nodes/{ref}/actions", status_code=202, dependencies=[Allow(Role.OPERATOR)])
async def run_action(
    ref: str, body: ActionRequest, db: WriteDbDep, context: ContextDep, user: User = Operator
) -> dict[str, Any]:
    """Queue an allow-listed action; the agent picks it up with its next report.
    Answers the run (``{id, action, argv, state, …}``). 404 unknown node or action;
    409 when the node's agent runs without ``--allow-actions``."""
    return await actions.request_run(db, context.ingest, user, ref, body.action)


@router.get("/nodes/{ref}/actions", dependencies=[Allow(Role.OPERATOR)])
async def list_runs(ref: str, db: DbDep, user: User = Operator) -> list[dict[str, Any]]:
    """The node's last 100 action runs, newest first."""
    return await actions.list_runs(db, user, ref)
