"""Nodes: machines known to the fleet through their agent. Finding, listing, filtering
and sorting them, their tags, removing them, and marking silent ones offline.
Operator-facing functions check the role; changes are audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.errors import Conflict, InvalidInput, NotFound
from moorage.models.audit import AuditEvent
from moorage.models.fleet import Alert, Node
from moorage.models.user import Role, User
from moorage.security.rbac import require_role
from moorage.security.tokens import generate_token
from moorage.services.audit import audit_in
from moorage.services.fleet.ingest import Ingest, NodeRef

__all__ = [
    "SORTS",
    "filter_nodes",
    "find_node",
    "get_node",
    "list_nodes",
    "mark_offline",
    "node_public",
    "org_nodes",
    "remove_node",
    "reporting_node",
    "set_tags",
]

SORTS = {"name", "status", "health", "cpu_percent", "memory_percent", "disk_percent", "last_seen"}
STATUS_ORDER = {"critical": 0, "offline": 1, "warn": 2, "unknown": 3, "ok": 4}


async def find_node(db: AsyncSession, org_id: str, ref: str) -> Node:
    """The node with id or name ``ref`` in ``org_id``. Raises NotFound."""
    node = await db.scalar(
        select(Node).where(Node.org_id == org_id, (Node.id == ref) | (Node.name == ref))
    )
    if node is None:
        raise NotFound(f"no node {ref!r}", code="node_not_found")
    return node


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


async def list_nodes(db: AsyncSession, user: User, ttl: float) -> list[dict[str, Any]]:
    """Every node of ``user``'s org as :func:`node_public`, unsorted. Raises Forbidden
    (not an operator)."""
    require_role(user, Role.OPERATOR)
    return [
        node_public(n, ttl)
        for n in await db.scalars(select(Node).where(Node.org_id == user.org_id))
    ]


async def org_nodes(db: AsyncSession, user: User) -> list[Node]:
    """Every node of ``user``'s org, by name. Raises Forbidden (not an operator)."""
    require_role(user, Role.OPERATOR)
    return list(
        await db.scalars(select(Node).where(Node.org_id == user.org_id).order_by(Node.name))
    )


def filter_nodes(
    rows: list[dict[str, Any]],
    *,
    status: str | None = None,
    tag: str | None = None,
    search: str | None = None,
    sort: str = "name",
    desc: bool = False,
) -> list[dict[str, Any]]:
    """``rows`` (from :func:`node_public`) with ``status``, with ``tag``, and with
    ``search`` in their name or OS, sorted by ``sort`` (one of :data:`SORTS`).

    Raises:
        InvalidInput: an unknown ``sort``.
    """
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


async def get_node(db: AsyncSession, user: User, ref: str, ttl: float) -> dict[str, Any]:
    """:func:`node_public` of one node plus ``alerts``: its last 50, newest first
    (``[{id, severity, state, message, opened_at, resolved_at}]``).

    Raises:
        Forbidden: not an operator.
        NotFound: no node ``ref`` in the org.
    """
    require_role(user, Role.OPERATOR)
    node = await find_node(db, user.org_id, ref)
    alerts = await db.scalars(
        select(Alert).where(Alert.node_id == node.id).order_by(Alert.opened_at.desc()).limit(50)
    )
    return {
        **node_public(node, ttl),
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


async def set_tags(
    db: AsyncSession, user: User, ref: str, tags: list[str], ttl: float
) -> dict[str, Any]:
    """Replace a node's tags (deduplicated, sorted); audited and committed. Returns
    :func:`node_public`. Raises Forbidden, NotFound."""
    require_role(user, Role.OPERATOR)
    node = await find_node(db, user.org_id, ref)
    node.tags = sorted(set(tags))
    audit_in(db, user, "node.update", "node", node.name, detail=",".join(node.tags))
    await db.commit()
    return node_public(node, ttl)


async def remove_node(db: AsyncSession, ingest: Ingest, user: User, ref: str) -> str:
    """Forget a node with its samples and alerts (audited, committed); its credential
    stops working at once. Returns its name. Raises Forbidden, NotFound."""
    require_role(user, Role.OPERATOR)
    node = await find_node(db, user.org_id, ref)
    await db.delete(node)
    audit_in(db, user, "node.remove", "node", node.name)
    await db.commit()
    ingest.forget(node.id)
    return node.name


async def mark_offline(
    sessionmaker: async_sessionmaker[AsyncSession], ttl: timedelta, now: datetime | None = None
) -> int:
    """Mark nodes silent for longer than ``ttl`` offline (health 0); returns how many.
    A reconciler job."""
    now = now or utcnow()
    async with write_session(sessionmaker) as db:
        result = await db.execute(
            update(Node)
            .where(Node.last_seen_at < now - ttl, Node.status != "offline")
            .values(status="offline", health=0)
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def reporting_node(
    sessionmaker: async_sessionmaker[AsyncSession],
    org_id: str,
    name: str,
    *,
    actor: str,
    tags: list[str] | None = None,
) -> NodeRef:
    """The node named ``name`` in ``org_id``, registered on first sight, for agents
    that report without enrolling (the seed DashFleet's agents, which send a machine
    id and a shared token: :mod:`moorage.api.compat.dashfleet`).

    A registered node gets ``tags`` and a credential nobody holds (it never reports
    through ``/api/v1/agents/report``); the registration is audited ``node.register``
    by ``actor``. An existing node of that name must carry ``tags`` (it was
    registered this way): a shared token cannot write into an enrolled agent's node.

    Raises:
        Conflict: a node of that name without ``tags`` exists (``node_name_taken``).
    """
    async with write_session(sessionmaker) as db:
        node = await db.scalar(select(Node).where(Node.org_id == org_id, Node.name == name))
        if node is not None and not set(tags or []) <= set(node.tags or []):
            raise Conflict(
                f"a node named {name!r} is enrolled with the Moorage agent; "
                "give this machine another machine_id",
                code="node_name_taken",
            )
        if node is None:
            credential = generate_token()
            node = Node(
                org_id=org_id,
                name=name,
                credential_prefix=credential.prefix,
                credential_hash=credential.hash,
                tags=sorted(set(tags or [])),
                status="unknown",
            )
            db.add(node)
            await db.flush()
            db.add(
                AuditEvent(
                    org_id=org_id,
                    username=actor,
                    action="node.register",
                    object_type="node",
                    object_id=node.id,
                    detail=name,
                )
            )
        return NodeRef(node.id, node.org_id, node.name, node.credential_hash)
