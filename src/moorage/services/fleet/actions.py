"""Remote actions: the org's allow-list of action definitions, runs requested by
operators and handed to agents with their next report, the agents' results, and
runs that never got one. Changes are audited."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.agent.actions import CATALOG
from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.errors import Conflict, InvalidInput, NotFound
from moorage.models.audit import AuditEvent
from moorage.models.fleet import ActionDefinition, ActionRun, Node
from moorage.models.user import Role, User
from moorage.schemas.fleet import ActionCreate, ActionResult
from moorage.security.rbac import require_role
from moorage.services.audit import audit_in
from moorage.services.fleet.catalog import enabled_services, files_of
from moorage.services.fleet.ingest import Ingest, NodeRef
from moorage.services.fleet.nodes import find_node

__all__ = [
    "ACTION_GRACE",
    "define_action",
    "expire_action_runs",
    "list_actions",
    "list_runs",
    "record_result",
    "remove_action",
    "request_run",
    "run_public",
]

ACTION_GRACE = timedelta(seconds=60)


def run_public(run: ActionRun, file: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{id, action, argv, builtin, params, state, exit_code, output, requested_by,
    created_at, finished_at, file}``; ``file`` is ``{"name", "size_bytes"}`` of what
    the run collected, or None."""
    return {
        "id": run.id,
        "action": run.action,
        "argv": run.argv,
        "builtin": bool(run.builtin),
        "params": run.params,
        "file": file,
        "state": run.state,
        "exit_code": run.exit_code,
        "output": run.output,
        "requested_by": run.requested_by,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


async def _definition(db: AsyncSession, org_id: str, name: str) -> ActionDefinition | None:
    return await db.scalar(
        select(ActionDefinition).where(
            ActionDefinition.org_id == org_id, ActionDefinition.name == name
        )
    )


async def list_actions(db: AsyncSession, user: User) -> list[dict[str, Any]]:
    """The allow-list by name: ``[{name, argv, timeout_seconds, description}]``.
    Raises Forbidden (not an operator)."""
    require_role(user, Role.OPERATOR)
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


async def define_action(db: AsyncSession, user: User, name: str, body: ActionCreate) -> None:
    """Add or replace the allow-listed action ``name`` (audited, committed).

    Raises:
        Forbidden: not an operator.
        InvalidInput: ``name`` and ``body.name`` differ.
    """
    require_role(user, Role.OPERATOR)
    if body.name != name:
        raise InvalidInput("the name in the path and the body differ", field="name")
    row = await _definition(db, user.org_id, name)
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


async def remove_action(db: AsyncSession, user: User, name: str) -> None:
    """Remove an allow-listed action (audited, committed). Raises Forbidden, NotFound."""
    require_role(user, Role.OPERATOR)
    row = await _definition(db, user.org_id, name)
    if row is None:
        raise NotFound(f"no action {name!r}")
    await db.delete(row)
    audit_in(db, user, "action.remove", "action", name)
    await db.commit()


async def request_run(
    db: AsyncSession,
    ingest: Ingest,
    user: User,
    ref: str,
    action: str,
    *,
    service: str | None = None,
) -> dict[str, Any]:
    """Queue ``action`` on node ``ref`` (audited, committed): an org's allow-listed
    action, else a built-in of the catalog (:mod:`moorage.services.fleet.catalog`)
    enabled for the node or one of its tags (``restart_service`` with ``service``
    from the enablement's list). The agent picks it up with its next report.
    Returns :func:`run_public`.

    Raises:
        Forbidden: not an operator.
        NotFound: no such node, or no such action (``action_not_found``).
        Conflict: the built-in is not enabled for the node (``action_not_enabled``),
            or the node's agent runs without ``--allow-actions``.
        InvalidInput: a service missing, not allowed, or given to another action
            (field ``service``).
    """
    require_role(user, Role.OPERATOR)
    node = await find_node(db, user.org_id, ref)
    definition = await _definition(db, user.org_id, action)
    if definition is not None:
        if service is not None:
            raise InvalidInput(f"{action} takes no service", field="service")
        run = ActionRun(
            node_id=node.id,
            action=definition.name,
            argv=list(definition.argv),
            timeout_seconds=definition.timeout_seconds,
            requested_by=user.username,
        )
    else:
        run = await _builtin_run(db, user, node, action, service)
    if not node.allow_actions:
        raise Conflict(
            f"the agent on {node.name} was not started with --allow-actions",
            code="actions_not_allowed",
        )
    db.add(run)
    audit_in(db, user, "action.run", "node", node.name, detail=_detail(run))
    await db.commit()
    ingest.actions_queued(node.id)
    return run_public(run)


def _detail(run: ActionRun) -> str:
    service = (run.params or {}).get("service")
    return f"{run.action} {service}" if service else run.action


async def _builtin_run(
    db: AsyncSession, user: User, node: Node, action: str, service: str | None
) -> ActionRun:
    builtin = CATALOG.get(action)
    if builtin is None:
        raise NotFound(
            f"no action {action!r} in the allow-list or the built-in catalog",
            code="action_not_found",
        )
    allowed = await enabled_services(db, node, action)
    if allowed is None:
        raise Conflict(
            f"{action} is not enabled for {node.name}; an operator enables it for the "
            "node or one of its tags (PUT /api/v1/action-catalog/{name})",
            code="action_not_enabled",
        )
    params: dict[str, str] | None = None
    if "service" in builtin.params:
        if service is None or service not in allowed:
            listed = ", ".join(sorted(allowed)) or "none"
            raise InvalidInput(f"service must be one of: {listed}", field="service")
        params = {"service": service}
    elif service is not None:
        raise InvalidInput(f"{action} takes no service", field="service")
    return ActionRun(
        node_id=node.id,
        action=action,
        argv=[],
        builtin=True,
        params=params,
        timeout_seconds=builtin.timeout_seconds,
        requested_by=user.username,
    )


async def list_runs(db: AsyncSession, user: User, ref: str) -> list[dict[str, Any]]:
    """Node ``ref``'s last 100 runs, newest first (:func:`run_public`). Raises
    Forbidden, NotFound."""
    require_role(user, Role.OPERATOR)
    node = await find_node(db, user.org_id, ref)
    runs = list(
        await db.scalars(
            select(ActionRun)
            .where(ActionRun.node_id == node.id)
            .order_by(ActionRun.created_at.desc())
            .limit(100)
        )
    )
    files = await files_of(db, [r.id for r in runs])
    return [run_public(r, files.get(r.id)) for r in runs]


async def record_result(
    sessionmaker: async_sessionmaker[AsyncSession], node: NodeRef, run_id: str, body: ActionResult
) -> None:
    """Store an agent's result of a run it was handed (audited as ``agent:<node>``).

    Raises:
        NotFound: no run ``run_id`` for this node.
        Conflict: the run is not waiting for a result (not ``sent``).
    """
    async with write_session(sessionmaker) as db:
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


async def expire_action_runs(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime | None = None
) -> int:
    """Mark runs handed to an agent that never reported back (it died or lost the
    hub) ``timed_out`` once their timeout plus :data:`ACTION_GRACE` has passed.
    Returns how many; a reconciler job."""
    now = now or utcnow()
    expired = 0
    async with write_session(sessionmaker) as db:
        runs = await db.scalars(select(ActionRun).where(ActionRun.state == "sent"))
        for run in runs:
            if (
                run.sent_at
                and now - run.sent_at > timedelta(seconds=run.timeout_seconds) + ACTION_GRACE
            ):
                run.state, run.finished_at = "timed_out", now
                run.output = (run.output or "") + "no result from the agent"
                expired += 1
    return expired
