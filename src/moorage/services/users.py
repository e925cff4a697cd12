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
from moorage.models.org import DEFAULT_ORG, Org
from moorage.models.token import ApiToken, TokenKind, TokenScope
from moorage.models.user import AuthSource, Role, User
from moorage.observability.metrics import LOGIN_FAILURES
from moorage.security.auth import authenticate_token
from moorage.security.crypto import Keyring
from moorage.security.passwords import hash_password, verify_password
from moorage.security.rbac import require_role
from moorage.security.throttle import SignInThrottle
from moorage.security.tokens import generate_token, parse_prefix, token_matches
from moorage.services.audit import audit, audit_in, record
from moorage.services.two_factor import check_second_factor, has_second_factor

__all__ = [
    "authenticate_password",
    "authenticate_token",
    "create_api_token",
    "create_token",
    "create_user",
    "find_user",
    "lift_sign_in_lock",
    "revoke_token",
    "sign_in",
    "sign_out",
    "users_of",
]

USERNAME_PATTERN = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
# A dummy hash so a login with an unknown username costs as much as a wrong password.
_DUMMY_HASH = hash_password("moorage-timing-equaliser")


async def find_user(db: AsyncSession, username: str) -> User:
    """Raises NotFound when there is no such user."""
    user = await db.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(
            "no user named %(username)r", params={"username": username}, code="user_not_found"
        )
    return user


async def create_user(
    db: AsyncSession,
    *,
    org_id: str,
    username: str,
    password: str,
    role: Role = Role.MEMBER,
    display_name: str = "",
    email: str | None = None,
    by: User | None = None,
    actor: str | None = None,
    source: str | None = None,
) -> User:
    """Add a user (not committed).

    ``by`` is the admin acting (checked, and written to the audit log in the same
    transaction as ``user.create``); None for the first start and the host's
    command line, which have no user. ``actor`` is the name recorded instead when
    there is no ``by`` (:data:`~moorage.services.audit.COMMAND_LINE`); with neither
    (the first start) nothing is recorded. ``source``: the client's address.

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
        raise Conflict(
            "the username %(username)r is taken",
            params={"username": username},
            code="username_taken",
        )
    user = User(
        org_id=org_id,
        username=username,
        password_hash=await asyncio.to_thread(hash_password, password),
        role=role.value,
        display_name=display_name or username,
        email=email,
    )
    db.add(user)
    await db.flush()
    if by is not None:
        audit_in(db, by, "user.create", "user", username, detail=role.value, source=source)
    elif actor is not None:
        record(db, org_id, actor, "user.create", "user", username, detail=role.value)
    return user


async def users_of(db: AsyncSession, admin: User) -> list[User]:
    """The users of ``admin``'s org, by username (deleted ones left out).

    Raises:
        Forbidden: ``admin`` is not an admin.
    """
    require_role(admin, Role.ADMIN)
    query = (
        select(User)
        .where(User.org_id == admin.org_id, User.deleted_at.is_(None))
        .order_by(User.username)
    )
    return list(await db.scalars(query))


async def authenticate_password(db: AsyncSession, username: str, password: str) -> User:
    """The active user with these credentials. Reads only; Argon2 runs in a worker
    thread, not on the event loop.

    Raises:
        Unauthenticated: unknown user, wrong password or disabled account (one
            message for all three, so usernames cannot be probed).
    """
    user, _ = await _check_password(db, username, password)
    if user is None:
        raise Unauthenticated("wrong username or password", code="bad_credentials")
    return user


async def _check_password(
    db: AsyncSession, username: str, password: str
) -> tuple[User | None, str]:
    """``(user, "")`` for good credentials of an active user, else ``(None, why)``:
    ``unknown user``, ``wrong password`` or ``account disabled``. The reason is for
    the audit log only: callers answer the same to all three."""
    # PostgreSQL refuses NUL in text: such a name is nobody's, without asking it.
    user = (
        None
        if "\x00" in username
        else await db.scalar(select(User).where(User.username == username))
    )
    if user is None:
        await asyncio.to_thread(verify_password, _DUMMY_HASH, password)
        return None, "unknown user"
    if user.auth_source != AuthSource.LOCAL.value:  # LDAP or OIDC checks it, not Moorage
        return None, f"{user.auth_source} user"
    if not await asyncio.to_thread(verify_password, user.password_hash, password):
        return None, "wrong password"
    if not user.is_active:
        return None, "account disabled"
    return user, ""


async def create_token(
    db: AsyncSession,
    user: User,
    *,
    name: str = "",
    kind: TokenKind = TokenKind.API,
    ttl: timedelta | None = None,
    now: datetime | None = None,
    scope: TokenScope = TokenScope.WRITE,
) -> str:
    """Store a new token for ``user`` (not committed) and return its plaintext, shown
    once. ``scope`` ``read`` limits it to reading (see
    :func:`~moorage.security.auth.authenticate_token`)."""
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
            scope=scope.value,
        )
    )
    await db.flush()
    return token.plaintext


async def create_api_token(
    db: AsyncSession,
    user: User,
    *,
    name: str = "",
    source: str | None = None,
    actor: str | None = None,
    ttl: timedelta | None = None,
    scope: TokenScope = TokenScope.WRITE,
) -> str:
    """A new API token for ``user`` (not committed), audited ``token.create`` (object:
    the token's prefix, detail: its name, and ``read only`` for that scope) as done
    by ``user`` from client address ``source``, or by ``actor`` when given (the
    host's command line making a token for a user). It expires after ``ttl``
    (None: never) and has ``scope``. Returns the plaintext, shown once."""
    plaintext = await create_token(db, user, name=name, ttl=ttl, scope=scope)
    prefix = parse_prefix(plaintext) or "-"
    record(
        db,
        user.org_id,
        actor or user.username,
        "token.create",
        "token",
        prefix,
        detail=f"{name or 'unnamed'} for {user.username}"
        + (", read only" if scope == TokenScope.READ else ""),
        source=source,
    )
    return plaintext


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
    keyring: Keyring,
    code: str | None = None,
    source: str | None = None,
) -> tuple[User, str]:
    """Check a password and store a new login token valid for ``ttl``; audited as
    ``user.sign_in`` or ``user.sign_in_failed`` (the username tried, never the
    password; the detail says ``unknown user``, ``wrong password`` or ``account
    disabled``), from the client address ``source``.

    The password is checked in a read-only transaction, so the Argon2 work never
    holds (or waits for) SQLite's write lock; the token, or the failure's audit
    event, is written afterwards in a short transaction of its own. A failure is
    recorded in the org of the user tried, or the default org for an unknown name.
    Attempts refused by the throttle before any check are not recorded here.

    Only after a right password: a user with two-factor sign-in enabled must also
    give ``code``, a TOTP code or a recovery code (:mod:`moorage.services.two_factor`,
    whose secrets ``keyring`` opens); a wrong one is audited ``user.sign_in_failed``
    (``wrong second factor``).

    Names of no local user go to the directory (:mod:`.ldap_accounts`); locals never do.

    Returns:
        The user and the login token's plaintext (for the cookie).

    Raises:
        Unauthenticated: as :func:`authenticate_password`; after a right password,
            ``second_factor_required`` (no code given) or ``second_factor_invalid``.
    """
    tried = username.replace("\x00", "\\0")  # storable in any database's text
    async with sessionmaker() as db:
        user, reason = await _check_password(db, username, password)
        org_id = await _org_of_attempt(db, tried)
    if reason in ("unknown user", "ldap user"):  # never for local (nor OIDC) users
        from moorage.services.ldap_accounts import sign_in_with_directory

        user, reason, org_id = await sign_in_with_directory(
            sessionmaker, keyring, username, password, org_id=org_id, source=source
        )
    if user is not None:
        async with sessionmaker() as db:
            needs_code = await has_second_factor(db, user)
    if user is None:
        LOGIN_FAILURES.labels((reason or "unknown").replace(" ", "_")).inc()
        if org_id is not None:
            async with write_session(sessionmaker) as db:
                record(
                    db,
                    org_id,
                    tried,
                    "user.sign_in_failed",
                    "user",
                    tried,
                    detail=reason,
                    source=source,
                )
        raise Unauthenticated("wrong username or password", code="bad_credentials")
    if needs_code:
        await _second_factor_step(sessionmaker, keyring, user, code, source=source)
    async with write_session(sessionmaker) as db:
        token = await create_token(db, user, name="login", kind=TokenKind.LOGIN, ttl=ttl)
        audit_in(db, user, "user.sign_in", "user", user.username, source=source)
    return user, token


async def _second_factor_step(
    sessionmaker: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    user: User,
    code: str | None,
    *,
    source: str | None,
) -> None:
    """Accept ``code`` for ``user`` (committed: the step or recovery code is spent) or
    raise Unauthenticated; a wrong code is audited in the same transaction."""
    if not code or not code.strip():
        raise Unauthenticated(
            "enter the code of your authenticator app, or one of your recovery codes",
            code="second_factor_required",
        )
    async with write_session(sessionmaker) as db:
        accepted = await check_second_factor(db, keyring, user, code.strip(), source=source)
        if not accepted:
            record(
                db,
                user.org_id,
                user.username,
                "user.sign_in_failed",
                "user",
                user.username,
                detail="wrong second factor",
                source=source,
            )
    if not accepted:
        LOGIN_FAILURES.labels("wrong_second_factor").inc()
        raise Unauthenticated(
            "the code is not right (or was used already)", code="second_factor_invalid"
        )


async def _org_of_attempt(db: AsyncSession, username: str) -> str | None:
    """The org a sign-in attempt is recorded in: the tried user's, or the default org."""
    org_id = await db.scalar(select(User.org_id).where(User.username == username))
    return org_id or await db.scalar(select(Org.id).where(Org.name == DEFAULT_ORG))


async def sign_out(
    db: AsyncSession, user: User, credential: str | None, *, source: str | None = None
) -> None:
    """End ``user``'s login: revoke the token they authenticated with (``credential``,
    the login cookie's or a bearer token; nothing for None) and record
    ``user.sign_out`` from the client address ``source`` (not committed)."""
    if credential:
        await revoke_token(db, credential)
    audit_in(db, user, "user.sign_out", "user", user.username, source=source)


async def lift_sign_in_lock(
    sessionmaker: async_sessionmaker[AsyncSession],
    admin: User,
    username: str,
    throttle: SignInThrottle,
    *,
    source: str | None = None,
) -> None:
    """Forget the failed sign-ins of ``username`` in ``throttle`` (admins; see
    :meth:`SignInThrottle.unlock`), audited ``user.unlock_sign_in``.

    Raises:
        Forbidden: ``admin`` is not an admin.
        NotFound: no such user in ``admin``'s org (code ``user_not_found``).
    """
    require_role(admin, Role.ADMIN)
    async with sessionmaker() as db:
        user = await find_user(db, username)
    if user.org_id != admin.org_id:
        raise NotFound(
            "no user named %(username)r", params={"username": username}, code="user_not_found"
        )
    await throttle.unlock(user.username)
    await audit(sessionmaker, None, admin, "user.unlock_sign_in", "user", username, source=source)
