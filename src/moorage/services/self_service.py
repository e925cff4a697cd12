"""What every user does to their own account: change their password, and keep
their own API tokens (create with a name, an expiry and a scope; list; revoke).

Nobody sees or revokes another user's tokens here: a token id of someone else
is "not found". (Two-factor set-up joins this page later.)
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from moorage.errors import Conflict, InvalidInput, NotFound
from moorage.models.token import ApiToken, TokenKind, TokenScope
from moorage.models.user import AuthSource, User
from moorage.security.passwords import hash_password, verify_password
from moorage.security.tokens import parse_prefix
from moorage.services.audit import audit_in
from moorage.services.users import create_api_token

__all__ = [
    "MAX_TOKEN_DAYS",
    "change_password",
    "create_own_token",
    "own_tokens",
    "refuse_directory_password",
    "revoke_own_token",
    "set_locale",
]

MAX_TOKEN_DAYS = 3650
MIN_PASSWORD = 8


def refuse_directory_password(user: User) -> None:
    """Raise Conflict ``directory_password`` for a user whose password a directory
    keeps (``auth_source`` not ``local``): Moorage cannot change it."""
    if user.auth_source != AuthSource.LOCAL.value:
        raise Conflict(
            "this account's password is kept by the organisation's directory: change it there",
            code="directory_password",
        )


async def change_password(
    db: AsyncSession,
    user: User,
    current: str,
    new: str,
    *,
    keep: str | None = None,
    source: str | None = None,
) -> None:
    """Set ``user``'s password to ``new`` after checking ``current`` (Argon2 in a
    worker thread); every other login of theirs ends (their login tokens are
    revoked, except the credential ``keep`` they are using now); their API tokens
    stay. Audited ``user.password`` (not committed). Callers throttle it like a
    sign-in, since it tries a password.

    Raises:
        InvalidInput: ``current`` is wrong (field ``current_password``), or ``new`` is
            under 8 characters or equal to ``current`` (field ``new_password``).
        Conflict ``directory_password``: ``user`` signs in through a directory.
    """
    refuse_directory_password(user)
    row = await db.get(User, user.id)
    if row is None or not await asyncio.to_thread(verify_password, row.password_hash, current):
        raise InvalidInput("the current password is wrong", field="current_password")
    if len(new) < MIN_PASSWORD:
        raise InvalidInput(
            f"the new password must be at least {MIN_PASSWORD} characters", field="new_password"
        )
    if new == current:
        raise InvalidInput("the new password is the current one", field="new_password")
    row.password_hash = await asyncio.to_thread(hash_password, new)
    others = delete(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.kind == TokenKind.LOGIN.value
    )
    kept = parse_prefix(keep) if keep else None
    if kept is not None:
        others = others.where(ApiToken.prefix != kept)
    await db.execute(others)
    audit_in(db, user, "user.password", "user", user.username, source=source)


async def create_own_token(
    db: AsyncSession,
    user: User,
    *,
    name: str,
    scope: TokenScope,
    expires_in_days: int | None,
    source: str | None = None,
) -> str:
    """A new API token of ``user`` (not committed; audited ``token.create``) named
    ``name``, of ``scope``, expiring after ``expires_in_days`` days (None: never).
    Returns its plaintext, shown once.

    Raises:
        InvalidInput: ``expires_in_days`` outside 1-3650 (field ``expires_in_days``).
    """
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise InvalidInput(
            f"expires_in_days must be 1-{MAX_TOKEN_DAYS} (or absent: never)",
            field="expires_in_days",
        )
    ttl = timedelta(days=expires_in_days) if expires_in_days else None
    return await create_api_token(db, user, name=name, source=source, ttl=ttl, scope=scope)


async def own_tokens(db: AsyncSession, user: User) -> list[ApiToken]:
    """``user``'s API tokens (not their login cookies), newest first."""
    query = (
        select(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.kind == TokenKind.API.value)
        .order_by(ApiToken.created_at.desc())
    )
    return list(await db.scalars(query))


async def revoke_own_token(
    db: AsyncSession, user: User, token_id: str, *, source: str | None = None
) -> None:
    """Delete ``user``'s API token ``token_id`` (not committed; audited
    ``token.revoke`` with its prefix).

    Raises:
        NotFound: no such token of ``user`` (another user's is not found either).
    """
    token = await db.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.kind != TokenKind.API.value:
        raise NotFound(f"no token {token_id} of yours", code="token_not_found")
    await db.delete(token)
    audit_in(
        db, user, "token.revoke", "token", token.prefix, detail=token.name or None, source=source
    )


async def set_locale(
    sessionmaker: async_sessionmaker[AsyncSession], user_id: str, language: str | None
) -> None:
    """Store the language a user chose (``moorage.i18n.LANGUAGES``; None: follow the
    browser). Not audited: a display preference, like the colour theme."""
    async with sessionmaker() as db:
        await db.execute(update(User).where(User.id == user_id).values(locale=language))
        await db.commit()
