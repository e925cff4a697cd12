"""Removing an org (platform admins): nothing of it keeps running or signing in.

In this order, like deleting a user (:mod:`moorage.services.user_admin`):

1. one transaction stamps the org ``deleted_at`` and renames it ``<name>~<id>``
   (the name is free again), deletes every user of it as an admin would (disabled,
   renamed ``<username>~<id>``), revokes all their tokens
   (login cookies, API tokens, the org's API keys), disables its templates (their
   warm workspaces drain) and revokes its fleet nodes' credentials, and writes the
   audit event ``org.remove`` in the platform admin's org; from its commit on, no
   credential of the org works;
2. every live session and reservation of the org is released (containers
   removed, accounts deleted; the reconciler retries what a runtime refuses).

The rows stay, for the history of the leases and the audit log; the API and pages
no longer show the org. The default org cannot be removed, nor one's own.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.drivers.docker.agent_tunnel import AgentConnections
from moorage.errors import Conflict
from moorage.models.fleet import Node
from moorage.models.lease import LIVE_STATES
from moorage.models.org import DEFAULT_ORG
from moorage.models.template import Template
from moorage.models.token import ApiToken
from moorage.models.user import User
from moorage.security.tokens import hash_token
from moorage.services.audit import audit_in
from moorage.services.fleet.ingest import Ingest
from moorage.services.orgs import find_managed_org, require_platform_admin, service_username
from moorage.services.user_admin import LeaseReleaser

__all__ = ["OrgRemoval"]


class OrgRemoval:
    """Removes orgs; ``leases`` are the lease services to release from (sessions,
    reservations), ``ingest`` the fleet's, whose credential cache it clears, and
    ``agents`` the agents' Docker tunnels, which it closes."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        leases: Sequence[LeaseReleaser],
        ingest: Ingest,
        agents: AgentConnections | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._leases = tuple(leases)
        self._ingest = ingest
        self._agents = agents

    async def holding(self, by: User, name: str) -> dict[str, int]:
        """What removing org ``name`` would end, for the confirmation:
        ``{"users", "sessions", "reservations", "nodes"}`` (people, not the service
        user of its API keys; live leases only).

        Raises:
            NotFound: no org ``name``, or one ``by`` does not manage.
            Forbidden: ``by`` is not a platform admin.
        """
        async with self._sessionmaker() as db:
            org = await find_managed_org(db, by, name)
            await require_platform_admin(db, by)
            counts = {
                "users": await _count(
                    db,
                    select(func.count()).where(
                        User.org_id == org.id,
                        User.deleted_at.is_(None),
                        User.username != service_username(org.name),  # holds its keys
                    ),
                ),
                "nodes": await _count(db, select(func.count()).where(Node.org_id == org.id)),
            }
            for service in self._leases:
                model = service.model
                query = select(func.count()).where(
                    model.org_id == org.id, model.state.in_(LIVE_STATES)
                )
                counts[f"{service.noun}s"] = await _count(db, query)
        return counts

    async def remove(self, by: User, name: str, *, source: str | None = None) -> int:
        """Remove org ``name`` as the module docstring says; returns how many live
        leases were released.

        Raises:
            NotFound: no org ``name``, or one ``by`` does not manage.
            Forbidden: ``by`` is not a platform admin.
            Conflict: the default org (code ``default_org``) or ``by``'s own org
                (code ``own_org``).
        """
        async with write_session(self._sessionmaker) as db:
            org = await find_managed_org(db, by, name)  # another org: 404, as if absent
            await require_platform_admin(db, by)
            if org.name == DEFAULT_ORG:
                raise Conflict("the default org cannot be removed", code="default_org")
            if org.id == by.org_id:
                raise Conflict("you cannot remove your own org", code="own_org")
            members = select(User.id).where(User.org_id == org.id)
            await db.execute(delete(ApiToken).where(ApiToken.user_id.in_(members)))
            now = utcnow()
            for user in await db.scalars(select(User).where(User.org_id == org.id)):
                user.is_active = False
                if user.deleted_at is None:  # as a deleted user: the name is free again
                    user.deleted_at = now
                    user.username = f"{user.username}~{user.id[:8]}"
            await db.execute(
                update(Template).where(Template.org_id == org.id).values(enabled=False)
            )
            node_ids = list(await db.scalars(select(Node.id).where(Node.org_id == org.id)))
            for node_id in node_ids:  # a hash no credential has: agents get 401
                revoked = hash_token(secrets.token_urlsafe(32))
                await db.execute(
                    update(Node).where(Node.id == node_id).values(credential_hash=revoked)
                )
            org.deleted_at = now
            org.name = f"{name}~{org.id[:8]}"
            audit_in(db, by, "org.remove", "org", name, source=source)
        for node_id in node_ids:
            self._ingest.forget(node_id)
        if self._agents is not None:
            self._agents.drop(org.id)
        async with self._sessionmaker() as db:
            ids = [
                (service, lease_id)
                for service in self._leases
                for lease_id in await db.scalars(
                    select(service.model.id).where(
                        service.model.org_id == org.id, service.model.state.in_(LIVE_STATES)
                    )
                )
            ]
        reason = "its org was removed"
        await asyncio.gather(*(s.release_by_id(i, reason=reason) for s, i in ids))
        return len(ids)


async def _count(db: AsyncSession, query: Select[int]) -> int:
    return int(await db.scalar(query) or 0)
