"""Admins' changes to users: edit, disable and re-enable, reset the password, delete.

Disabling or deleting a user ends what they hold, in this order:

1. one transaction marks them inactive (deleted: also renamed
   ``<username>~<id>`` so the name is free again, and out of every group),
   revokes all their tokens (login cookies and API tokens) and writes the audit
   event; from its commit on, none of their credentials works and a launch or
   reservation they started just before is refused when it locks their row
   (:meth:`~moorage.services.leases.LeaseService._lock_owner`);
2. every live session and reservation of theirs is released (containers
   removed, accounts deleted; the reconciler retries what a runtime refuses).

A deleted user's row stays for the history of their leases and the audit log;
the API and pages no longer show it. An admin cannot change their own role,
disable or delete themselves (another admin must), so an org keeps an admin.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.errors import Conflict, InvalidInput, NotFound
from moorage.models.group import GroupMember
from moorage.models.lease import LIVE_STATES
from moorage.models.token import ApiToken, TokenKind
from moorage.models.user import Role, User
from moorage.security.passwords import generate_password, hash_password
from moorage.security.rbac import require_role
from moorage.services.audit import audit_in
from moorage.services.groups import set_user_groups
from moorage.services.self_service import refuse_directory_password

__all__ = ["LeaseReleaser", "UserAdmin", "UserChanges", "find_user_by_id"]

MIN_PASSWORD = 8


class LeaseReleaser(Protocol):
    """A lease service (sessions, reservations) as user administration uses it."""

    model: Any
    noun: str

    async def release_by_id(self, lease_id: str, *, reason: str | None = None) -> bool: ...


@dataclass(frozen=True)
class UserChanges:
    """What an admin changes; None leaves a field as it is."""

    display_name: str | None = None
    role: Role | None = None
    groups: Sequence[str] | None = None
    is_active: bool | None = None
    password: str | None = None


async def find_user_by_id(db: AsyncSession, admin: User, user_id: str) -> User:
    """User ``user_id`` of ``admin``'s org, not deleted.

    Raises:
        NotFound: no such user there (code ``user_not_found``).
    """
    user = await db.get(User, user_id)
    if user is None or user.org_id != admin.org_id or user.deleted_at is not None:
        raise NotFound("no user %(id)s", params={"id": user_id}, code="user_not_found")
    return user


class UserAdmin:
    """The admins' operations on users, for the API and the pages.

    Args:
        sessionmaker: opens database sessions.
        leases: the lease services whose live leases a disabled or deleted user
            loses (sessions, reservations).
    """

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], leases: Sequence[LeaseReleaser]
    ) -> None:
        self._sessionmaker = sessionmaker
        self._leases = leases

    async def update(
        self, admin: User, user_id: str, changes: UserChanges, *, source: str | None = None
    ) -> User:
        """Apply ``changes`` to a user of the admin's org; audited ``user.update``
        (the fields changed; never the password), plus ``user.groups`` for groups.
        A new password signs the user out everywhere (their login tokens are
        revoked; API tokens stay). ``is_active=False`` disables them as described
        in the module docstring; ``True`` re-enables them.

        Returns:
            The user as changed.

        Raises:
            Forbidden: ``admin`` is not an admin (403).
            NotFound: no such user (404).
            InvalidInput: a password under 8 characters, an empty display name, an
                unknown group (422, naming the field).
            Conflict: an admin changing their own role or disabling themselves
                (409, code ``own_account``); a password for a user whose LDAP
                directory or OIDC provider keeps it (code ``directory_password``).
        """
        require_role(admin, Role.ADMIN)
        async with write_session(self._sessionmaker) as db:
            user = await find_user_by_id(db, admin, user_id)
            _check_own(admin, user, changes)
            fields: list[str] = []
            if changes.display_name is not None:
                name = changes.display_name.strip()
                if not name:
                    raise InvalidInput("display_name must not be empty", field="display_name")
                user.display_name = name
                fields.append("display_name")
            if changes.role is not None and changes.role != user.role:
                user.role = changes.role.value
                fields.append(f"role={changes.role.value}")
            if changes.password is not None:
                refuse_directory_password(user)
                _check_password(changes.password)
                user.password_hash = await asyncio.to_thread(hash_password, changes.password)
                await _revoke_tokens(db, user, logins_only=True)
                fields.append("password")
            disabling = changes.is_active is False and user.is_active
            if changes.is_active is not None and changes.is_active != user.is_active:
                user.is_active = changes.is_active
                fields.append("enabled" if changes.is_active else "disabled")
                if disabling:
                    await _revoke_tokens(db, user)
            if changes.groups is not None:
                await set_user_groups(db, admin, user, changes.groups)
            detail = ", ".join(fields) or "nothing"
            audit_in(db, admin, "user.update", "user", user.username, detail=detail, source=source)
        if disabling:
            await self._release_all(user, "its owner's account was disabled")
        return user

    async def reset_password(
        self, admin: User, user_id: str, *, source: str | None = None
    ) -> tuple[User, str]:
        """Give a user a new random password and sign them out everywhere; audited
        ``user.reset_password``.

        Returns:
            The user and the new password (plaintext, to show once).

        Raises:
            Forbidden: not an admin. NotFound: no such user. Conflict
            ``directory_password``: a directory user (their directory keeps it).
        """
        require_role(admin, Role.ADMIN)
        password = generate_password(12)
        async with write_session(self._sessionmaker) as db:
            user = await find_user_by_id(db, admin, user_id)
            refuse_directory_password(user)
            user.password_hash = await asyncio.to_thread(hash_password, password)
            await _revoke_tokens(db, user, logins_only=True)
            audit_in(db, admin, "user.reset_password", "user", user.username, source=source)
        return user, password

    async def delete(self, admin: User, user_id: str, *, source: str | None = None) -> None:
        """Delete a user: disabled, renamed, out of their groups, tokens revoked,
        leases released (see the module docstring); audited ``user.delete``.

        Raises:
            Forbidden: not an admin. NotFound: no such user.
            Conflict: an admin deleting themselves (code ``own_account``).
        """
        require_role(admin, Role.ADMIN)
        async with write_session(self._sessionmaker) as db:
            user = await find_user_by_id(db, admin, user_id)
            if user.id == admin.id:
                raise Conflict("you cannot delete yourself; ask another admin", code="own_account")
            username = user.username
            user.is_active = False
            user.deleted_at = utcnow()
            user.username = f"{username}~{user.id[:8]}"
            user.email = None
            await db.execute(delete(GroupMember).where(GroupMember.user_id == user.id))
            await _revoke_tokens(db, user)
            audit_in(db, admin, "user.delete", "user", username, source=source)
        await self._release_all(user, "its owner's account was deleted")

    async def live_counts(self, org_id: str) -> dict[str, dict[str, int]]:
        """``{user id: {noun: live leases}}`` in org ``org_id`` (what disabling or
        deleting each user would release, for the pages' confirmations); users
        holding nothing are absent."""
        counts: dict[str, dict[str, int]] = {}
        async with self._sessionmaker() as db:
            for service in self._leases:
                model = service.model
                rows = await db.execute(
                    select(model.user_id, func.count())
                    .where(model.org_id == org_id, model.state.in_(LIVE_STATES))
                    .group_by(model.user_id)
                )
                for owner, count in rows.tuples():
                    counts.setdefault(owner, {})[service.noun] = count
        return counts

    async def _release_all(self, user: User, reason: str) -> None:
        async with self._sessionmaker() as db:
            ids = [(s, i) for s in self._leases for i in await _live_ids(db, s, user)]
        await asyncio.gather(*(s.release_by_id(i, reason=reason) for s, i in ids))


async def _live_ids(db: AsyncSession, service: LeaseReleaser, user: User) -> list[str]:
    model = service.model
    query = select(model.id).where(model.user_id == user.id, model.state.in_(LIVE_STATES))
    return list(await db.scalars(query))


def _check_own(admin: User, user: User, changes: UserChanges) -> None:
    if user.id != admin.id:
        return
    if (changes.role is not None and changes.role != user.role) or changes.is_active is False:
        raise Conflict(
            "you cannot change your own role or disable yourself; ask another admin",
            code="own_account",
        )


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            "password must be at least %(min)s characters",
            params={"min": MIN_PASSWORD},
            field="password",
        )


async def _revoke_tokens(db: AsyncSession, user: User, *, logins_only: bool = False) -> None:
    query = delete(ApiToken).where(ApiToken.user_id == user.id)
    if logins_only:
        query = query.where(ApiToken.kind == TokenKind.LOGIN.value)
    await db.execute(query)
