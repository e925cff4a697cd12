"""From an OpenID Connect identity to a Moorage user (issue 13).

Once :mod:`moorage.services.oidc_sign_in` has checked the ID token, the person is
known by their provider and their ``sub`` (OpenID Connect Core 1.0, section 2: a
locally unique, never reassigned identifier within the issuer). That pair, and
nothing else, binds them to a Moorage user: ``users.external_id`` is
``<provider id>:<sub>`` with ``auth_source`` ``oidc``. A username or e-mail claim
never does: a provider's user whose username claim names an existing Moorage
account that is not bound to them (a local account, an LDAP one, another
provider's) is refused (``oidc_username_taken``), never signed in as it.

At the first sign-in the user is created in the provider's org with an unusable
local password (they sign in through the provider only); at every sign-in their
role and managed group memberships are set again from the provider's groups claim
through the provider's rules (:mod:`moorage.services.directory_rules`), and their
display name and e-mail from the claims.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.errors import Forbidden, Unauthenticated
from moorage.models.oidc import OidcProvider
from moorage.models.user import AuthSource, Role, User
from moorage.services.audit import record
from moorage.services.directory_rules import apply_outcome, managed_groups, resolve
from moorage.services.oidc_providers import provider_rules

__all__ = ["UNUSABLE_PASSWORD_PREFIX", "external_id_of", "groups_of", "sign_in_user", "username_of"]

UNUSABLE_PASSWORD_PREFIX = "!oidc:"
"""Start of the password hash of an OIDC user: not an Argon2 string, so no password
ever matches it (:func:`moorage.security.passwords.verify_password` answers False)."""

_USERNAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
_MAX_SUB = 255 - 37  # users.external_id holds "<36-character id>:<sub>"


def external_id_of(provider: OidcProvider, sub: str) -> str:
    """``users.external_id`` of the person ``sub`` of ``provider``.

    Raises:
        Unauthenticated: a ``sub`` empty or longer than 218 characters
            (``oidc_bad_sub``; OpenID Connect Core allows 255, Moorage keeps the
            provider's id beside it).
    """
    if not sub or len(sub) > _MAX_SUB:
        raise Unauthenticated("the provider's sub claim is empty or too long", code="oidc_bad_sub")
    return f"{provider.id}:{sub}"


def username_of(provider: OidcProvider, claims: Mapping[str, Any]) -> str:
    """The Moorage username the ``username_claim`` gives, lowercased.

    Raises:
        Unauthenticated: the claim is missing, or not a valid Moorage username
            (``oidc_bad_username``; the message names the claim, so an admin can
            choose another one).
    """
    value = claims.get(provider.username_claim)
    username = value.strip().lower() if isinstance(value, str) else ""
    if not _USERNAME.match(username):
        raise Unauthenticated(
            "the provider's %(claim)s claim does not give a valid username (1-32 "
            "lowercase letters, digits, '_', '.' or '-'); an admin can choose another claim",
            params={"claim": provider.username_claim},
            code="oidc_bad_username",
        )
    return username


def groups_of(provider: OidcProvider, claims: Mapping[str, Any]) -> list[str]:
    """The values of the ``groups_claim``: a list of strings (other items dropped), a
    single string as a list of one, anything else or nothing as no group."""
    value = claims.get(provider.groups_claim)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _text(claims: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = claims.get(name)
    return value.strip()[:limit] if isinstance(value, str) and value.strip() else None


async def sign_in_user(
    db: AsyncSession,
    provider: OidcProvider,
    claims: Mapping[str, Any],
    *,
    source: str | None = None,
) -> User:
    """The user ``claims`` (checked ID token claims merged with UserInfo's) belong to,
    created at their first sign-in, with role and managed groups set from the groups
    claim (flushed, not committed; the creation is audited ``user.create``, detail
    ``oidc <provider>``).

    Raises:
        Unauthenticated: a bad ``sub`` or username claim (see above), or a disabled or
            deleted account (``account_disabled``).
        Forbidden: first sign-in of a person whose username is already another
            account's (``oidc_username_taken``).
    """
    external_id = external_id_of(provider, str(claims.get("sub") or ""))
    user = await db.scalar(
        select(User).where(
            User.auth_source == AuthSource.OIDC.value, User.external_id == external_id
        )
    )
    if user is None:
        username = username_of(provider, claims)
        if await db.scalar(select(User.id).where(User.username == username)):
            raise Forbidden(
                "an account named %(username)r exists already and is not linked to "
                "%(provider)s; an admin must rename or remove it first",
                params={"username": username, "provider": provider.display_name},
                code="oidc_username_taken",
            )
        user = User(
            org_id=provider.org_id,
            username=username,
            display_name=_text(claims, "name", 128) or username,
            email=_text(claims, "email", 255),
            password_hash=UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(24),
            role=provider.default_role,
            auth_source=AuthSource.OIDC.value,
            external_id=external_id,
        )
        db.add(user)
        await db.flush()
        record(
            db,
            provider.org_id,
            username,
            "user.create",
            "user",
            username,
            detail=f"oidc {provider.name}",
            source=source,
        )
    elif not user.is_active or user.deleted_at is not None:
        raise Unauthenticated("this account is disabled", code="account_disabled")
    else:
        user.display_name = _text(claims, "name", 128) or user.display_name
        user.email = _text(claims, "email", 255) or user.email
    rules = provider_rules(provider)
    outcome = resolve(rules, groups_of(provider, claims), Role(provider.default_role))
    await apply_outcome(db, user, outcome, managed_groups(rules))
    return user
