"""Temporary users: the accounts of an anonymous workshop's participants.

A participant who joins an anonymous workshop gives a display name and gets a user
made for that workshop alone: username ``guest-<10 random hex>``, role ``viewer``
(anyone holding the code may join: the workshop's own seat is launched for them,
and they can launch, reserve or manage nothing else), an unusable password
(nobody can sign in with it), and a login token that lasts until the workshop
ends, set as the ordinary login cookie. Everything else (their
session, its gateway, its page) then works as for anyone signed in.

At the workshop's end they are removed as an admin's deletion removes a user
(:meth:`~moorage.services.user_admin.UserAdmin.delete`): disabled, renamed with
``~<id>``, ``deleted_at`` set, tokens revoked. The row stays for the history of its
sessions and the audit log.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.models.group import GroupMember
from moorage.models.token import ApiToken, TokenKind
from moorage.models.user import Role, User
from moorage.models.workshop import Workshop, WorkshopSeat
from moorage.services.users import create_token

__all__ = ["GUEST_PREFIX", "make_guest", "remove_guests"]

GUEST_PREFIX = "guest-"
# Not a password hash at all: verifying any password against it fails.
_UNUSABLE = f"!{secrets.token_hex(8)}"


async def make_guest(
    db: AsyncSession, workshop: Workshop, display_name: str, *, now: datetime, max_ttl: timedelta
) -> tuple[User, str]:
    """Add a temporary user for ``workshop`` with ``display_name`` and a login token
    valid until the workshop ends (at most ``max_ttl``). Not committed.

    Returns:
        The user and the login token's plaintext (for the login cookie).
    """
    user = User(
        org_id=workshop.org_id,
        username=f"{GUEST_PREFIX}{secrets.token_hex(5)}",
        display_name=display_name,
        password_hash=_UNUSABLE,
        role=Role.VIEWER.value,
        is_active=True,
    )
    db.add(user)
    await db.flush()
    ttl = min(max(workshop.ends_at - now, timedelta(minutes=1)), max_ttl)
    token = await create_token(db, user, name="workshop", kind=TokenKind.LOGIN, ttl=ttl)
    return user, token


async def remove_guests(db: AsyncSession, workshop_id: str, *, now: datetime) -> int:
    """Remove the temporary users of a workshop's seats (idempotent; not committed).
    Returns how many were removed now."""
    guests = list(
        await db.scalars(
            select(User)
            .join(WorkshopSeat, WorkshopSeat.user_id == User.id)
            .where(
                WorkshopSeat.workshop_id == workshop_id,
                WorkshopSeat.anonymous.is_(True),
                User.deleted_at.is_(None),
            )
        )
    )
    for user in guests:
        user.is_active = False
        user.deleted_at = now
        user.username = f"{user.username}~{user.id[:8]}"
        user.email = None
        await db.execute(delete(GroupMember).where(GroupMember.user_id == user.id))
        await db.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    return len(guests)
