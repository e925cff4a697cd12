"""Registry logins of an org (operators): stored with the password sealed by the
keyring, used when an image is pulled from that registry. Changes are audited as
``registry.<verb>`` in the same transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.engine import write_session
from moorage.drivers.docker.images import split_reference
from moorage.errors import NotFound
from moorage.models.registry import RegistryCredential
from moorage.models.user import Role, User
from moorage.security.crypto import Keyring
from moorage.security.rbac import require_role
from moorage.services.audit import audit_in

__all__ = ["REGISTRY_CONTEXT", "RegistryService"]

REGISTRY_CONTEXT = "registry.password"


class RegistryService:
    """Registry logins. Every method raises Forbidden below operator.

    Args:
        sessionmaker: database sessions.
        keyring: seals and opens the passwords (context :data:`REGISTRY_CONTEXT`).
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], keyring: Keyring) -> None:
        self._sessionmaker = sessionmaker
        self._keyring = keyring

    async def list_logins(self, user: User) -> list[dict[str, str]]:
        """``[{host, username}]`` of the user's org, by host (passwords never leave)."""
        require_role(user, Role.OPERATOR)
        async with self._sessionmaker() as db:
            rows = await db.scalars(
                select(RegistryCredential)
                .where(RegistryCredential.org_id == user.org_id)
                .order_by(RegistryCredential.host)
            )
            return [{"host": row.host, "username": row.username} for row in rows]

    async def store(self, user: User, host: str, username: str, password: str) -> None:
        """Store (or replace) the login for registry ``host`` (e.g. ``127.0.0.1:5000``)."""
        require_role(user, Role.OPERATOR)
        async with write_session(self._sessionmaker) as db:
            row = await db.scalar(select(RegistryCredential).where(RegistryCredential.host == host))
            if row is None:
                row = RegistryCredential(
                    org_id=user.org_id, host=host, username=username, password_sealed=""
                )
                db.add(row)
            row.username = username
            row.password_sealed = self._keyring.seal(password, REGISTRY_CONTEXT)
            audit_in(db, user, "registry.store", "registry", host)

    async def forget(self, user: User, host: str) -> None:
        """Delete the org's login for ``host``.

        Raises:
            NotFound: none stored (code ``registry_not_found``).
        """
        require_role(user, Role.OPERATOR)
        async with write_session(self._sessionmaker) as db:
            row = await db.scalar(
                select(RegistryCredential).where(
                    RegistryCredential.org_id == user.org_id, RegistryCredential.host == host
                )
            )
            if row is None:
                raise NotFound(f"no login stored for {host}", code="registry_not_found")
            await db.delete(row)
            audit_in(db, user, "registry.forget", "registry", host)

    async def auth_for(self, org_id: str, image: str) -> dict[str, str] | None:
        """Docker's ``X-Registry-Auth`` fields (``username``, ``password``,
        ``serveraddress``) stored by org ``org_id`` for ``image``'s registry, or None."""
        host, _, _ = split_reference(image)
        async with self._sessionmaker() as db:
            stored = await db.scalar(
                select(RegistryCredential).where(
                    RegistryCredential.org_id == org_id, RegistryCredential.host == host
                )
            )
        if stored is None:
            return None
        return {
            "username": stored.username,
            "serveraddress": host,
            "password": self._keyring.open(stored.password_sealed, REGISTRY_CONTEXT),
        }
