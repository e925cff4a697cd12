"""The built-in action catalog, the hub's side: each built-in of the agent's
:data:`moorage.agent.actions.CATALOG` is off until an operator enables it for a node
or a tag (and runs only where the agent allows actions); ``restart_service`` also
needs the service in the enablement's list. The files runs upload
(``collect_logs``' zip) are kept with the run. Changes are audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.agent.actions import CATALOG, Builtin
from moorage.db.engine import write_session
from moorage.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from moorage.models.action_catalog import ActionEnablement, ActionFile
from moorage.models.audit import AuditEvent
from moorage.models.fleet import ActionRun, Node
from moorage.models.user import Role, User
from moorage.schemas.fleet import CatalogEnable
from moorage.security.rbac import require_role
from moorage.services.audit import audit_in
from moorage.services.fleet.ingest import NodeRef
from moorage.services.fleet.nodes import find_node

__all__ = [
    "MAX_FILE_BYTES",
    "builtin_of",
    "enable_for_node",
    "enabled_services",
    "files_of",
    "get_file",
    "list_catalog",
    "set_enablement",
    "store_file",
]

MAX_FILE_BYTES = 9 * 1024 * 1024


def builtin_of(name: str) -> Builtin:
    """Raises NotFound (``action_not_found``) for a name not in the catalog."""
    builtin = CATALOG.get(name)
    if builtin is None:
        raise NotFound(f"no built-in action {name!r}", code="action_not_found")
    return builtin


async def _rows(db: AsyncSession, org_id: str, action: str | None = None) -> list[Any]:
    query = (
        select(ActionEnablement, Node.name)
        .outerjoin(Node, Node.id == ActionEnablement.node_id)
        .where(ActionEnablement.org_id == org_id)
        .order_by(ActionEnablement.created_at)
    )
    if action is not None:
        query = query.where(ActionEnablement.action == action)
    return list((await db.execute(query)).all())


def _entry(builtin: Builtin, rows: list[Any]) -> dict[str, Any]:
    return {
        "name": builtin.name,
        "description": builtin.description,
        "platforms": builtin.platforms,
        "params": list(builtin.params),
        "timeout_seconds": builtin.timeout_seconds,
        "enabled": [
            {"node": node_name, "tag": row.tag, "services": row.services or []}
            for row, node_name in rows
            if row.action == builtin.name
        ],
    }


async def list_catalog(db: AsyncSession, user: User) -> list[dict[str, Any]]:
    """Every built-in by name: ``[{name, description, platforms, params,
    timeout_seconds, enabled: [{node, tag, services}]}]`` (``node`` a node's name,
    or ``tag``). Raises Forbidden (not an operator)."""
    require_role(user, Role.OPERATOR)
    rows = await _rows(db, user.org_id)
    return [_entry(CATALOG[name], rows) for name in sorted(CATALOG)]


async def set_enablement(
    db: AsyncSession, user: User, name: str, body: CatalogEnable
) -> dict[str, Any]:
    """Enable built-in ``name`` for exactly ``body.nodes`` and ``body.tags`` (empty
    lists switch it off); audited ``action.enable``, committed. Returns its entry
    (:func:`list_catalog`).

    Raises:
        Forbidden: not an operator.
        NotFound: an unknown built-in or node.
        InvalidInput: ``services`` for a built-in other than ``restart_service``, or
            none for it while it is enabled somewhere (field ``services``).
    """
    require_role(user, Role.OPERATOR)
    builtin = builtin_of(name)
    if body.services and "service" not in builtin.params:
        raise InvalidInput(f"{name} takes no services", field="services")
    if "service" in builtin.params and (body.nodes or body.tags) and not body.services:
        raise InvalidInput(f"name the services {name} may restart", field="services")
    targets = [await find_node(db, user.org_id, ref) for ref in dict.fromkeys(body.nodes)]
    await db.execute(
        delete(ActionEnablement).where(
            ActionEnablement.org_id == user.org_id, ActionEnablement.action == name
        )
    )
    services = sorted(set(body.services))
    for node in targets:
        db.add(_row(user, name, services, node_id=node.id))
    for tag in sorted(set(body.tags)):
        db.add(_row(user, name, services, tag=tag))
    where = [f"node:{n.name}" for n in targets] + [f"tag:{t}" for t in sorted(set(body.tags))]
    audit_in(db, user, "action.enable", "action", name, detail=",".join(where) or "off")
    await db.commit()
    return _entry(builtin, await _rows(db, user.org_id, name))


def _row(
    user: User,
    name: str,
    services: list[str],
    *,
    node_id: str | None = None,
    tag: str | None = None,
) -> ActionEnablement:
    return ActionEnablement(
        org_id=user.org_id,
        action=name,
        node_id=node_id,
        tag=tag,
        services=services,
        created_by=user.username,
    )


async def enable_for_node(
    db: AsyncSession, user: User, name: str, ref: str, services: list[str]
) -> None:
    """Enable built-in ``name`` for node ``ref`` too (the node page's control),
    keeping where it is enabled already; audited ``action.enable``, committed.
    Raises as :func:`set_enablement`."""
    require_role(user, Role.OPERATOR)
    builtin = builtin_of(name)
    node = await find_node(db, user.org_id, ref)
    if services and "service" not in builtin.params:
        raise InvalidInput(f"{name} takes no services", field="services")
    if "service" in builtin.params and not services:
        raise InvalidInput(f"name the services {name} may restart", field="services")
    await db.execute(
        delete(ActionEnablement).where(
            ActionEnablement.org_id == user.org_id,
            ActionEnablement.action == name,
            ActionEnablement.node_id == node.id,
        )
    )
    db.add(_row(user, name, sorted(set(services)), node_id=node.id))
    audit_in(db, user, "action.enable", "action", name, detail=f"node:{node.name}")
    await db.commit()


async def enabled_services(db: AsyncSession, node: Node, name: str) -> set[str] | None:
    """None when built-in ``name`` is not enabled for ``node`` (nor one of its tags);
    otherwise the services it may restart there (empty for other built-ins)."""
    rows = list(
        await db.scalars(
            select(ActionEnablement).where(
                ActionEnablement.org_id == node.org_id, ActionEnablement.action == name
            )
        )
    )
    tags = set(node.tags or [])
    matching = [r for r in rows if r.node_id == node.id or (r.tag and r.tag in tags)]
    if not matching:
        return None
    return {service for row in matching for service in (row.services or [])}


async def store_file(
    sessionmaker: async_sessionmaker[AsyncSession],
    node: NodeRef,
    run_id: str,
    filename: str,
    content: bytes,
) -> None:
    """Keep the file a run of ``node`` uploads (one per run; a second replaces it),
    audited as ``agent:<node>``.

    Raises:
        PayloadTooLarge: over :data:`MAX_FILE_BYTES`.
        NotFound: no run ``run_id`` of this node.
        Conflict: the run is not one handed to the agent (``sent``) of a built-in
            that collects files.
    """
    if len(content) > MAX_FILE_BYTES:
        raise PayloadTooLarge(f"the file is {len(content)} bytes; at most {MAX_FILE_BYTES}")
    async with write_session(sessionmaker) as db:
        run = await db.scalar(
            select(ActionRun).where(ActionRun.id == run_id, ActionRun.node_id == node.id)
        )
        if run is None:
            raise NotFound(f"no action run {run_id} for this node")
        builtin = CATALOG.get(run.action)
        if run.state != "sent" or not run.builtin or builtin is None or not builtin.collects:
            raise Conflict(f"action run {run_id} does not take a file now")
        await db.execute(delete(ActionFile).where(ActionFile.run_id == run_id))
        db.add(
            ActionFile(run_id=run_id, filename=filename, size_bytes=len(content), content=content)
        )
        db.add(
            AuditEvent(
                org_id=node.org_id,
                username=f"agent:{node.name}",
                action="action.file",
                object_type="node",
                object_id=node.id,
                detail=f"{run.action}: {filename} ({len(content)} bytes)",
            )
        )


async def files_of(db: AsyncSession, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    """``{run_id: {"name", "size_bytes"}}`` of the runs among ``run_ids`` that have
    a file."""
    if not run_ids:
        return {}
    rows = await db.execute(
        select(ActionFile.run_id, ActionFile.filename, ActionFile.size_bytes).where(
            ActionFile.run_id.in_(run_ids)
        )
    )
    return {row.run_id: {"name": row.filename, "size_bytes": row.size_bytes} for row in rows}


async def get_file(db: AsyncSession, user: User, ref: str, run_id: str) -> ActionFile:
    """The file run ``run_id`` of node ``ref`` collected. Raises Forbidden, NotFound."""
    require_role(user, Role.OPERATOR)
    node = await find_node(db, user.org_id, ref)
    row = await db.scalar(
        select(ActionFile)
        .join(ActionRun, ActionRun.id == ActionFile.run_id)
        .where(ActionFile.run_id == run_id, ActionRun.node_id == node.id)
    )
    if row is None:
        raise NotFound(f"run {run_id} of {node.name} has no file")
    return row
