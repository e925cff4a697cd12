"""The environment that appears when a node's agent first opens its Docker tunnel
(``moorage agent run --docker``): ``agent://<node>``, cordoned until an operator sets
it ``active`` (``PATCH /api/v1/environments/{name}``), so no session lands on a
machine nobody chose. Docker management works on it at once."""

from __future__ import annotations

import re

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.engine import write_session
from moorage.models.environment import Environment, EnvironmentState
from moorage.services.audit import record

__all__ = ["AGENT_ACTOR", "agent_url", "ensure_agent_environment"]

AGENT_ACTOR = "(agent)"
"""The actor recorded for an environment added by an agent's first tunnel."""


def agent_url(node: str) -> str:
    """The URL of the environment served by ``node``'s tunnel."""
    return f"agent://{node}"


def _name_for(node: str) -> str:
    """An environment name (``^[a-z0-9][a-z0-9-]{0,63}$``) from a node name
    (which may also hold ``_`` and ``.``)."""
    return re.sub(r"[^a-z0-9-]", "-", node.lower())[:64]


async def ensure_agent_environment(
    sessionmaker: async_sessionmaker[AsyncSession], org_id: str, node: str, source: str | None
) -> Environment:
    """The org's environment whose URL is ``agent://<node>[/socket]``, added (cordoned,
    audited as ``environment.add`` by :data:`AGENT_ACTOR` from ``source``) when there is
    none yet. A taken name gets ``-2``, ``-3``… appended."""
    url = agent_url(node)
    mine = (
        Environment.org_id == org_id,
        or_(Environment.url == url, Environment.url.startswith(f"{url}/")),
    )
    async with sessionmaker() as db:
        found = await db.scalar(select(Environment).where(*mine).limit(1))
    if found is not None:
        return found
    async with write_session(sessionmaker) as db:
        found = await db.scalar(select(Environment).where(*mine).limit(1))
        if found is not None:
            return found
        base = _name_for(node)
        taken = set(
            await db.scalars(select(Environment.name).where(Environment.name.startswith(base)))
        )
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base[: 63 - len(str(n))]}-{n}"
        environment = Environment(
            org_id=org_id, name=name, url=url, kind="agent", state=EnvironmentState.CORDONED.value
        )
        db.add(environment)
        record(
            db,
            org_id,
            AGENT_ACTOR,
            "environment.add",
            "environment",
            name,
            detail=f"{url}: cordoned until an operator makes it active",
            source=source,
        )
    return environment
