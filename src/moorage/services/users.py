"""Users and their credentials: password login, API tokens, login cookies.

Token authentication itself is :func:`moorage.security.auth.authenticate_token`
(re-exported here).
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.db.base import utcnow
from moorage.db.engine import write_session
from moorage.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from moorage.models.token import ApiToken, TokenKind
from moorage.models.user import Role, User
from moorage.security.auth import authenticate_token
from moorage.security.passwords import hash_password, verify_password
from moorage.security.rbac import require_role
from moorage.security.tokens import generate_token, parse_prefix, token_matches
from moorage.services.audit import audit_in

__all__ = [
    "authenticate_password",
    "authenticate_token",
    "create_token",
    "create_user",
    "find_user",
    "revoke_token",
    "sign_in",
]

USERNAME_PATTERN = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
# A dummy hash so a login with an unknown username costs as much as a wrong password.
_DUMMY_HASH = hash_password("moorage-timing-equaliser")


async def find_user(db: AsyncSession, username: str) -> User:
    """Raises NotFound when there is no such user."""
    user = await db.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named {username!r}", code="user_not_found")
    return user


async def create_user(
    db: AsyncSession,
    *,
    org_id: str,
    username: str,
    password: str,
    role: Role = Role.MEMBER,
    display_name: str = "",
    by: User | None = None,
) -> User:
    """Add a user (not committed).

    ``by`` is the admin acting (checked, and written to the audit log in the same
    transaction as ``user.create``); None for the first start and the host's
    command line, which have no user.

    Raises:
        Forbidden: ``by`` is not an admin.
        InvalidInput: a username outside ``[a-z_][a-z0-9_.-]{0,31}`` or a password
            shorter than 8 characters.
        Conflict: the username is taken.
    """
    if by is not None:
        require_role(by, Role.ADMIN)
    if not USERNAME_PATTERN.match(username):
        raise InvalidInput(
            "username must be 1-32 lowercase letters, digits, '_', '.' or '-', "
            "starting with a letter or '_'",
            field="username",
        )
    if len(password) < 8:
        raise InvalidInput("password must be at least 8 characters", field="password")
    if await db.scalar(select(User.id).where(User.username == username)):
        raise Conflict(f"the username {username!r} is taken", code="username_taken")
    user = User(
        org_id=org_id,
        username=username,
        password_hash=await asyncio.to_thread(hash_password, password),
        role=role.value,
        display_name=display_name or username,
    )
    db.add(user)
    await db.flush()
    if by is not None:
        audit_in(db, by, "user.create", "user", username, detail=role.value)
    return user


async def authenticate_password(db: AsyncSession, username: str, password: str) -> User:
    """The active user with these credentials. Reads only; Argon2 runs in a worker
    thread, not on the event loop.

    Raises:
        Unauthenticated: unknown user, wrong password or disabled account (one
            message for all three, so usernames cannot be probed).
    """
    user = await db.scalar(select(User).where(User.username == username))
    if user is None:
        await asyncio.to_thread(verify_password, _DUMMY_HASH, password)
        raise Unauthenticated("wrong username or password", code="bad_credentials")
    matches = await asyncio.to_thread(verify_password, user.password_hash, password)
    if not matches or not user.is_active:
        raise Unauthenticated("wrong username or password", code="bad_credentials")
    return user


async def create_token(
    db: AsyncSession,
    user: User,
    *,
    name: str = "",
    kind: TokenKind = TokenKind.API,
    ttl: timedelta | None = None,
    now: datetime | None = None,
) -> str:
    """Store a new token for ``user`` (not committed) and return its plaintext, shown once."""
    now = now or utcnow()
    token = generate_token()
    db.add(
        ApiToken(
            user_id=user.id,
            name=name,
            kind=kind.value,
            prefix=token.prefix,
            token_hash=token.hash,
            created_at=now,
            expires_at=now + ttl if ttl else None,
        )
    )
    await db.flush()
    return token.plaintext


async def revoke_token(db: AsyncSession, plaintext: str) -> bool:
    """Delete the token whose whole hash matches ``plaintext`` (not committed).

    Returns:
        True when a token was deleted; False for an unknown or malformed token (a
        token that only shares the prefix is left alone).
    """
    prefix = parse_prefix(plaintext)
    if prefix is None:
        return False
    token = await db.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    if token is None or not token_matches(plaintext, token.token_hash):
        return False
    await db.delete(token)
    await db.flush()
    return True


async def sign_in(
    sessionmaker: async_sessionmaker[AsyncSession],
    username: str,
    password: str,
    *,
    ttl: timedelta,
) -> tuple[User, str]:
    """Check a password and store a new login token valid for ``ttl``.

    The password is checked in a read-only transaction, so a failed sign-in
    writes nothing and never waits for (or holds) SQLite's write lock; only a
    correct one opens a write transaction for the token.

    Returns:
        The user and the login token's plaintext (for the cookie).

    Raises:
        Unauthenticated: as :func:`authenticate_password`.
    """
    async with sessionmaker() as db:
        user = await authenticate_password(db, username, password)
    async with write_session(sessionmaker) as db:
        token = await create_token(db, user, name="login", kind=TokenKind.LOGIN, ttl=ttl)
    return user, token
