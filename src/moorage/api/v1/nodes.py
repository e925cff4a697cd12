"""Nodes (operators): the fleet list with filters and sorting, its live stream, one
node with its alerts, its tags, and removing it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from moorage.api.deps import ContextDep, DbDep, WriteDbDep
from moorage.api.event_stream import event_stream
from moorage.api.pagination import Page
from moorage.api.v1._docker import Operator
from moorage.models.user import Role, User
from moorage.schemas.fleet import NodeUpdate
from moorage.security.access import Allow
from moorage.services.fleet import nodes

router = APIRouter(tags=["fleet"])


@router.get("/nodes", dependencies=[Allow(Role.OPERATOR)])
async def list_nodes(
    db: DbDep,
    context: ContextDep,
    user: User = Operator,
    status: str | None = None,
    tag: str | None = None,
    search: str | None = None,
    sort: str = "name",
    desc: bool = False,
    *,
    page: Page,
    request: Request,
    response: Response,
) -> list[dict[str, Any]]:
    """Nodes, filtered by ``status``, ``tag`` and ``search`` (in name and OS), sorted
    by ``sort`` (name, status, health, cpu_percent, memory_percent, disk_percent,
    last_seen). 422 for another ``sort``. Pages: ``limit`` and ``cursor``, the next
    page's URL in ``Link``."""
    rows = await nodes.list_nodes(db, user, context.settings.fleet_ttl_seconds)
    rows = nodes.filter_nodes(rows, status=status, tag=tag, search=search, sort=sort, desc=desc)
    return page.apply(request, response, rows)


@router.get("/nodes/stream", response_model=None, dependencies=[Allow(Role.OPERATOR)])
async def stream_nodes(
    request: Request, context: ContextDep, user: User = Operator
) -> EventSourceResponse:
    """Server-sent event ``nodes`` whenever reports were written or a node changed
    (at most every 2 s; at least every 15 s)."""

    async def events() -> AsyncIterator[ServerSentEvent]:
        version = -1
        while not await request.is_disconnected():
            version = await context.ingest.wait_changed(version, 15.0)
            yield ServerSentEvent(json.dumps({"version": version}), event="nodes")
            await asyncio.sleep(2.0)

    return event_stream(events())


@router.get("/nodes/{ref}", dependencies=[Allow(Role.OPERATOR)])
async def get_node(ref: str, db: DbDep, context: ContextDep, user: User = Operator) -> dict:
    """One node (by id or name) with its last 50 alerts. 404 when unknown."""
    return await nodes.get_node(db, user, ref, context.settings.fleet_ttl_seconds)


@router.patch("/nodes/{ref}", dependencies=[Allow(Role.OPERATOR)])
async def update_node(
    ref: str, body: NodeUpdate, db: WriteDbDep, context: ContextDep, user: User = Operator
) -> dict:
    """Replace a node's tags; answers ``node_public``. 404 when unknown."""
    return await nodes.set_tags(db, user, ref, body.tags, context.settings.fleet_ttl_seconds)


@router.delete("/nodes/{ref}", status_code=204, dependencies=[Allow(Role.OPERATOR)])
async def remove_node(
    ref: str, db: WriteDbDep, context: ContextDep, user: User = Operator
) -> Response:
    """Forget a node, its samples and alerts; its credential stops working at once, and
    its agent's Docker tunnel is closed."""
    name = await nodes.remove_node(db, context.ingest, user, ref)
    context.agent_connections.drop(user.org_id, name)
    return Response(status_code=204)
