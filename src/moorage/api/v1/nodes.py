"""Fleet for operators: enrolment tokens, install links, nodes, their metrics and
exports, the action allow-list and action runs. Changes are audited."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sse_starlette import EventSourceResponse, ServerSentEvent

from moorage.api.deps import ContextDep, DbDep, WriteDbDep
from moorage.api.v1._docker import Operator
from moorage.errors import Conflict, InvalidInput, NotFound
from moorage.fleet.service import create_enrollment_token, find_node, history
from moorage.models.fleet import (
    HOUR,
    MINUTE,
    RAW,
    ActionDefinition,
    ActionRun,
    Alert,
    EnrollmentToken,
    Node,
)
from moorage.models.user import User
from moorage.services.audit import audit_in

router = APIRouter(tags=["fleet"])

SORTS = {"name", "status", "health", "cpu_percent", "memory_percent", "disk_percent", "last_seen"}
STATUS_ORDER = {"critical": 0, "offline": 1, "warn": 2, "unknown": 3, "ok": 4}


class EnrollmentTokenCreate(BaseModel):
    """``POST /api/v1/enrollment-tokens``: label, life (seconds), uses, tags for its nodes."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=128)
    ttl_seconds: int = Field(3600, ge=60, le=30 * 86400, description="Valid for this long.")
    max_uses: int = Field(1, ge=1, le=100_000, description="Nodes it may enrol.")
    tags: list[str] = Field(default_factory=list, max_length=16)


class NodeUpdate(BaseModel):
    """``PATCH /api/v1/nodes/{id}``: the node's tags (replaced)."""

    model_config = ConfigDict(extra="forbid")

    tags: list[str] = Field(max_length=16)


class ActionCreate(BaseModel):
    """An allow-listed action: ``argv`` runs as given, never through a shell."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    argv: list[str] = Field(min_length=1, max_length=64)
    timeout_seconds: int = Field(60, ge=1, le=3600)
    description: str = Field("", max_length=500)


class ActionRequest(BaseModel):
    """``POST /api/v1/nodes/{id}/actions``: the allow-listed action's name."""

    model_config = ConfigDict(extra="forbid")

    action: str = Field(min_length=1, max_length=64)


def node_public(node: Node, ttl: float) -> dict[str, Any]:
    """``{id, name, status, health, tags, os, agent_version, allow_actions,
    last_seen_at, enrolled_at, metrics, ttl_seconds}``; ``metrics`` is the latest report's
    values (percents, bytes/s, counts) plus ``disks``."""
    latest = node.latest or {}
    return {
        "id": node.id,
        "name": node.name,
        "status": node.status,
        "health": node.health,
        "tags": node.tags or [],
        "os": node.os,
        "agent_version": node.agent_version,
        "allow_actions": node.allow_actions,
        "last_seen_at": node.last_seen_at.isoformat() if node.last_seen_at else None,
        "enrolled_at": node.enrolled_at.isoformat(),
        "metrics": latest,
        "ttl_seconds": ttl,
    }


# -- enrolment ------------------------------------------------------------------------


@router.post("/enrollment-tokens", status_code=201)
async def create_token(
    body: EnrollmentTokenCreate, request: Request, db: WriteDbDep, user: User = Operator
) -> dict[str, Any]:
    """A token to enrol agents; ``token`` is shown once."""
    row, token = create_enrollment_token(
        user.org_id,
        name=body.name,
        ttl_seconds=body.ttl_seconds,
        max_uses=body.max_uses,
        tags=body.tags,
        created_by=user.username,
    )
    db.add(row)
    audit_in(db, user, "enrollment_token.create", "enrollment_token", row.prefix)
    await db.commit()
    return {
        "id": row.id,
        "name": row.name,
        "token": token.plaintext,
        "expires_at": row.expires_at.isoformat(),
        "max_uses": row.max_uses,
        "tags": row.tags,
    }


@router.get("/enrollment-tokens")
async def list_tokens(db: DbDep, user: User = Operator) -> list[dict[str, Any]]:
    """The org's enrolment tokens, newest first (never the token itself)."""
    rows = await db.scalars(
        select(EnrollmentToken)
        .where(EnrollmentToken.org_id == user.org_id)
        .order_by(EnrollmentToken.created_at.desc())
    )
    return [
        {
            "id": r.id,
            "name": r.name,
            "prefix": r.prefix,
            "uses": r.uses,
            "max_uses": r.max_uses,
            "tags": r.tags,
            "expires_at": r.expires_at.isoformat(),
            "created_by": r.created_by,
        }
        for r in rows
    ]


@router.delete("/enrollment-tokens/{token_id}", status_code=204)
async def revoke_token(token_id: str, db: WriteDbDep, user: User = Operator) -> Response:
    """Delete a token; nodes it enrolled keep their credentials. 404 when unknown."""
    row = await db.get(EnrollmentToken, token_id)
    if row is None or row.org_id != user.org_id:
        raise NotFound(f"no enrolment token {token_id}")
    await db.delete(row)
    audit_in(db, user, "enrollment_token.revoke", "enrollment_token", row.prefix)
    await db.commit()
    return Response(status_code=204)


# -- nodes ----------------------------------------------------------------------------


@router.get("/nodes")
async def list_nodes(
    db: DbDep,
    context: ContextDep,
    user: User = Operator,
    status: str | None = None,
    tag: str | None = None,
    search: str | None = None,
    sort: str = "name",
    desc: bool = False,
) -> list[dict[str, Any]]:
    """Nodes, filtered by ``status``, ``tag`` and ``search`` (in name and OS), sorted
    by ``sort`` (name, status, health, cpu_percent, memory_percent, disk_percent,
    last_seen)."""
    rows = [
        node_public(n, context.settings.fleet_ttl_seconds)
        for n in await db.scalars(select(Node).where(Node.org_id == user.org_id))
    ]
    return filter_nodes(rows, status=status, tag=tag, search=search, sort=sort, desc=desc)


def filter_nodes(
    rows: list[dict[str, Any]],
    *,
    status: str | None = None,
    tag: str | None = None,
    search: str | None = None,
    sort: str = "name",
    desc: bool = False,
) -> list[dict[str, Any]]:
    """``rows`` (from :func:`node_public`) that match, sorted. Raises InvalidInput for an
    unknown ``sort``."""
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(sorted(SORTS))}", field="sort")
    if status:
        rows = [r for r in rows if r["status"] == status]
    if tag:
        rows = [r for r in rows if tag in r["tags"]]
    if search:
        needle = search.lower()
        rows = [r for r in rows if needle in r["name"].lower() or needle in (r["os"] or "").lower()]

    def key(row: dict[str, Any]) -> Any:
        if sort == "name":
            return row["name"]
        if sort == "status":
            return (STATUS_ORDER.get(row["status"], 9), row["name"])
        if sort == "health":
            return row["health"] if row["health"] is not None else -1
        if sort == "last_seen":
            return row["last_seen_at"] or ""
        value = row["metrics"].get(sort)
        return value if value is not None else -1

    return sorted(rows, key=key, reverse=desc)


@router.get("/nodes/stream", response_model=None)
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

    return EventSourceResponse(events(), ping=15)


@router.get("/nodes/{ref}")
async def get_node(ref: str, db: DbDep, context: ContextDep, user: User = Operator) -> dict:
    """One node with its open alerts."""
    node = await find_node(db, user.org_id, ref)
    alerts = await db.scalars(
        select(Alert).where(Alert.node_id == node.id).order_by(Alert.opened_at.desc()).limit(50)
    )
    return {
        **node_public(node, context.settings.fleet_ttl_seconds),
        "alerts": [
            {
                "id": a.id,
                "severity": a.severity,
                "state": a.state,
                "message": a.message,
                "opened_at": a.opened_at.isoformat(),
                "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
            }
            for a in alerts
        ],
    }


@router.patch("/nodes/{ref}")
async def update_node(
    ref: str, body: NodeUpdate, db: WriteDbDep, context: ContextDep, user: User = Operator
) -> dict:
    """Replace a node's tags; answers ``node_public``."""
    node = await find_node(db, user.org_id, ref)
    node.tags = sorted(set(body.tags))
    audit_in(db, user, "node.update", "node", node.name, detail=",".join(node.tags))
    await db.commit()
    return node_public(node, context.settings.fleet_ttl_seconds)


@router.delete("/nodes/{ref}", status_code=204)
async def remove_node(
    ref: str, db: WriteDbDep, context: ContextDep, user: User = Operator
) -> Response:
    """Forget a node, its samples and alerts; its credential stops working at once."""
    node = await find_node(db, user.org_id, ref)
    await db.delete(node)
    audit_in(db, user, "node.remove", "node", node.name)
    await db.commit()
    context.ingest.forget(node.id)
    return Response(status_code=204)


def _time(value: str | None, default: datetime, field: str) -> datetime:
    if value is None:
        return default
    try:
        if value.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(value), UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"{field} is not an RFC 3339 time or Unix seconds", field=field) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@router.get("/nodes/{ref}/metrics", response_model=None)
async def node_metrics(
    ref: str,
    db: DbDep,
    context: ContextDep,
    user: User = Operator,
    since: str | None = None,
    until: str | None = None,
    step: int | None = None,
    format: str = "json",
) -> Any:
    """History between ``since`` and ``until`` (RFC 3339 or Unix seconds; default the
    last hour), averaged per ``step`` seconds. ``format``: ``json`` (columnar, as
    uPlot takes it), ``csv`` or ``jsonl`` (one row per point)."""
    if format not in ("json", "csv", "jsonl"):
        raise InvalidInput("format must be json, csv or jsonl", field="format")
    now = datetime.now(UTC)
    settings = context.settings
    retention = {
        RAW: timedelta(hours=settings.fleet_raw_retention_hours),
        MINUTE: timedelta(days=settings.fleet_minute_retention_days),
        HOUR: timedelta(days=settings.fleet_hour_retention_days),
    }
    node = await find_node(db, user.org_id, ref)
    data = await history(
        db,
        node,
        since=_time(since, now - timedelta(hours=1), "since"),
        until=_time(until, now, "until"),
        step=step,
        retention=retention,
    )
    if format == "json":
        return data
    metrics = [k for k in data if isinstance(data[k], list) and k != "at"]
    rows = [
        {"at": datetime.fromtimestamp(t, UTC).isoformat(), **{m: data[m][i] for m in metrics}}
        for i, t in enumerate(data["at"])
    ]
    filename = f"{node.name}-metrics.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if format == "jsonl":
        text = "".join(json.dumps(row) + "\n" for row in rows)
        return PlainTextResponse(text, media_type="application/x-ndjson", headers=headers)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["at", *metrics])
    writer.writeheader()
    writer.writerows(rows)
    return PlainTextResponse(out.getvalue(), media_type="text/csv", headers=headers)


# -- actions --------------------------------------------------------------------------


@router.get("/actions")
async def list_actions(db: DbDep, user: User = Operator) -> list[dict[str, Any]]:
    """The allow-list: ``[{name, argv, timeout_seconds, description}]``."""
    rows = await db.scalars(
        select(ActionDefinition)
        .where(ActionDefinition.org_id == user.org_id)
        .order_by(ActionDefinition.name)
    )
    return [
        {
            "name": r.name,
            "argv": r.argv,
            "timeout_seconds": r.timeout_seconds,
            "description": r.description,
        }
        for r in rows
    ]


@router.put("/actions/{name}", status_code=204)
async def define_action(
    name: str, body: ActionCreate, db: WriteDbDep, user: User = Operator
) -> Response:
    """Add or replace an allow-listed action (``name`` in the path and body agree)."""
    if body.name != name:
        raise InvalidInput("the name in the path and the body differ", field="name")
    row = await db.scalar(
        select(ActionDefinition).where(
            ActionDefinition.org_id == user.org_id, ActionDefinition.name == name
        )
    )
    if row is None:
        row = ActionDefinition(org_id=user.org_id, name=name, argv=[])
        db.add(row)
    row.argv, row.timeout_seconds, row.description = (
        body.argv,
        body.timeout_seconds,
        body.description,
    )
    audit_in(db, user, "action.define", "action", name, detail=json.dumps(body.argv))
    await db.commit()
    return Response(status_code=204)


@router.delete("/actions/{name}", status_code=204)
async def remove_action(name: str, db: WriteDbDep, user: User = Operator) -> Response:
    """Remove an allow-listed action; 404 when unknown."""
    row = await db.scalar(
        select(ActionDefinition).where(
            ActionDefinition.org_id == user.org_id, ActionDefinition.name == name
        )
    )
    if row is None:
        raise NotFound(f"no action {name!r}")
    await db.delete(row)
    audit_in(db, user, "action.remove", "action", name)
    await db.commit()
    return Response(status_code=204)


def run_public(run: ActionRun) -> dict[str, Any]:
    """``{id, action, argv, state, exit_code, output, requested_by, created_at,
    finished_at}``."""
    return {
        "id": run.id,
        "action": run.action,
        "argv": run.argv,
        "state": run.state,
        "exit_code": run.exit_code,
        "output": run.output,
        "requested_by": run.requested_by,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


@router.post("/nodes/{ref}/actions", status_code=202)
async def run_action(
    ref: str,
    body: ActionRequest,
    request: Request,
    db: WriteDbDep,
    context: ContextDep,
    user: User = Operator,
) -> dict[str, Any]:
    """Queue an allow-listed action; the agent picks it up with its next report.
    409 when the node's agent runs without ``--allow-actions``."""
    node = await find_node(db, user.org_id, ref)
    definition = await db.scalar(
        select(ActionDefinition).where(
            ActionDefinition.org_id == user.org_id, ActionDefinition.name == body.action
        )
    )
    if definition is None:
        raise NotFound(f"no action {body.action!r} in the allow-list", code="action_not_found")
    if not node.allow_actions:
        raise Conflict(
            f"the agent on {node.name} was not started with --allow-actions",
            code="actions_not_allowed",
        )
    run = ActionRun(
        node_id=node.id,
        action=definition.name,
        argv=list(definition.argv),
        timeout_seconds=definition.timeout_seconds,
        requested_by=user.username,
    )
    db.add(run)
    audit_in(db, user, "action.run", "node", node.name, detail=definition.name)
    await db.commit()
    context.ingest.actions_queued(node.id)
    return run_public(run)


@router.get("/nodes/{ref}/actions")
async def list_runs(ref: str, db: DbDep, user: User = Operator) -> list[dict[str, Any]]:
    """The node's last 100 action runs, newest first."""
    node = await find_node(db, user.org_id, ref)
    runs = await db.scalars(
        select(ActionRun)
        .where(ActionRun.node_id == node.id)
        .order_by(ActionRun.created_at.desc())
        .limit(100)
    )
    return [run_public(r) for r in runs]
