"""Remote actions (operators): the allow-list, the built-in catalog and where it is
enabled, runs on a node, and the files runs collected."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from moorage.api.deps import ContextDep, DbDep, WriteDbDep
from moorage.api.v1._docker import Operator
from moorage.models.user import Role, User
from moorage.schemas.fleet import ActionCreate, ActionRequest, CatalogEnable, NodeEnable
from moorage.security.access import Allow
from moorage.services.fleet import actions, catalog

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
    """Queue an allow-listed action, or a built-in enabled for the node (``service``
    for ``restart_service``); the agent picks it up with its next report. Answers the
    run (``{id, action, argv, builtin, state, …}``). 404 unknown node or action; 409
    a built-in not enabled for the node, or its agent runs without
    ``--allow-actions``; 422 a service not allowed."""
    return await actions.request_run(
        db, context.ingest, user, ref, body.action, service=body.service
    )


@router.get("/nodes/{ref}/actions", dependencies=[Allow(Role.OPERATOR)])
async def list_runs(ref: str, db: DbDep, user: User = Operator) -> list[dict[str, Any]]:
    """The node's last 100 action runs, newest first, each with the ``file`` it
    collected (``{"name", "size_bytes"}``) or null."""
    return await actions.list_runs(db, user, ref)


@router.get(
    "/nodes/{ref}/actions/{run_id}/file",
    response_class=Response,
    dependencies=[Allow(Role.OPERATOR)],
)
async def run_file(ref: str, run_id: str, db: DbDep, user: User = Operator) -> Response:
    """The file a run collected (``collect_logs``: a zip), as a download. 404 when
    the node, the run or its file is unknown."""
    row = await catalog.get_file(db, user, ref, run_id)
    headers = {"Content-Disposition": f'attachment; filename="{row.filename}"'}
    return Response(row.content, media_type="application/zip", headers=headers)


@router.get("/action-catalog", dependencies=[Allow(Role.OPERATOR)])
async def list_catalog(db: DbDep, user: User = Operator) -> list[dict[str, Any]]:
    """The built-in actions: ``[{name, description, platforms, params,
    timeout_seconds, enabled: [{node, tag, services}]}]``. Each is off until enabled
    for a node or a tag."""
    return await catalog.list_catalog(db, user)


@router.put("/action-catalog/{name}", dependencies=[Allow(Role.OPERATOR)])
async def set_enablement(
    name: str, body: CatalogEnable, db: WriteDbDep, user: User = Operator
) -> dict[str, Any]:
    """Enable built-in ``name`` for exactly these ``nodes`` and ``tags`` (empty
    lists: off), with the ``services`` ``restart_service`` may restart. Answers its
    catalog entry. 404 unknown action or node; 422 names a bad field."""
    return await catalog.set_enablement(db, user, name, body)


@router.post(
    "/nodes/{ref}/action-catalog/{name}", status_code=204, dependencies=[Allow(Role.OPERATOR)]
)
async def enable_for_node(
    ref: str, name: str, body: NodeEnable, db: WriteDbDep, user: User = Operator
) -> Response:
    """Enable built-in ``name`` for this node too (where else it is enabled stays),
    with the ``services`` ``restart_service`` may restart. 404 unknown action or
    node; 422 names a bad field."""
    await catalog.enable_for_node(db, user, name, ref, body.services)
    return Response(status_code=204)
