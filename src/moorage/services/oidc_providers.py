"""OpenID Connect providers of an org: the admins' settings (issue 13).

A provider belongs to one org; its admins list, add, change and remove it, and
nobody else sees it (another org's admin gets 404, as for any object of another
org). The client secret is sealed with the keyring (context
:data:`SECRET_CONTEXT`) like every secret and never leaves the server: the API
and the page only say whether one is set. Every change is audited here
(``oidc_provider.create``, ``.update``, ``.delete``), in the caller's transaction
(not committed), so the API and the page share the rules.

The sign-in itself is :mod:`moorage.services.oidc_sign_in`.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.db.base import utcnow
from moorage.errors import Conflict, InvalidInput, NotFound
from moorage.models.oidc import OidcProvider, OidcSignIn
from moorage.models.user import Role, User
from moorage.security.crypto import Keyring
from moorage.security.rbac import require_role
from moorage.services.audit import audit_in
from moorage.services.directory_rules import GroupRule, parse_rules

__all__ = [
    "DISCOVERY_PATH",
    "SECRET_CONTEXT",
    "client_secret_of",
    "create_provider",
    "delete_provider",
    "discovery_url",
    "enabled_provider",
    "enabled_providers",
    "find_provider",
    "provider_rules",
    "providers_of",
    "update_provider",
]

SECRET_CONTEXT = "oidc.client_secret"
DISCOVERY_PATH = "/.well-known/openid-configuration"
"""Where an issuer publishes its metadata (OpenID Connect Discovery 1.0, section 4)."""

_SETTINGS = (
    "display_name",
    "issuer",
    "client_id",
    "scopes",
    "groups_claim",
    "username_claim",
    "rules",
    "default_role",
    "enabled",
)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_issuer(url: str) -> str:
    """``url`` without a trailing slash, when it is an https URL (http only for a
    loopback host: a provider on the same machine) without query or fragment.

    Raises:
        InvalidInput: anything else (field ``issuer``).
    """
    url = url.strip()
    parts = urlsplit(url)
    secure = parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname or ""))
    if not secure or not parts.hostname or parts.query or parts.fragment:
        raise InvalidInput(
            "issuer must be an https URL (http only on loopback) without query or fragment",
            field="issuer",
        )
    return url.rstrip("/")


def discovery_url(issuer: str) -> str:
    """The URL of the discovery document of ``issuer`` (the setting as stored): the
    setting itself when it names the document, else ``<issuer>`` +
    :data:`DISCOVERY_PATH` (OpenID Connect Discovery 1.0, section 4.1)."""
    if issuer.endswith(DISCOVERY_PATH):
        return issuer
    return issuer + DISCOVERY_PATH


def _check_scopes(scopes: str) -> str:
    words = scopes.split()
    if "openid" not in words:
        raise InvalidInput("scopes must include openid", field="scopes")
    return " ".join(dict.fromkeys(words))


def _check_rules(raw: object) -> list[dict[str, Any]]:
    return [rule.to_dict() for rule in parse_rules(raw, field="rules")]


def provider_rules(provider: OidcProvider) -> list[GroupRule]:
    """The provider's directory group rules, parsed (stored already checked)."""
    return parse_rules(provider.rules, field="rules")


def client_secret_of(keyring: Keyring, provider: OidcProvider) -> str | None:
    """The provider's client secret in clear, or None for a public client.

    Raises:
        SecretError: the sealed value cannot be opened (a key no longer configured).
    """
    if not provider.client_secret_sealed:
        return None
    return keyring.open(provider.client_secret_sealed, SECRET_CONTEXT)


async def providers_of(db: AsyncSession, admin: User) -> list[OidcProvider]:
    """The providers of ``admin``'s org, by name.

    Raises:
        Forbidden: ``admin`` is not an admin.
    """
    require_role(admin, Role.ADMIN)
    query = select(OidcProvider).where(OidcProvider.org_id == admin.org_id)
    return list(await db.scalars(query.order_by(OidcProvider.name)))


async def find_provider(db: AsyncSession, admin: User, name: str) -> OidcProvider:
    """The provider ``name`` of ``admin``'s org.

    Raises:
        Forbidden: ``admin`` is not an admin.
        NotFound: no such provider in their org (``oidc_provider_not_found``).
    """
    require_role(admin, Role.ADMIN)
    provider = await db.scalar(
        select(OidcProvider).where(OidcProvider.org_id == admin.org_id, OidcProvider.name == name)
    )
    if provider is None:
        raise NotFound(
            "no OpenID Connect provider named %(name)r",
            params={"name": name},
            code="oidc_provider_not_found",
        )
    return provider


async def enabled_providers(db: AsyncSession) -> list[OidcProvider]:
    """Every enabled provider of every org, by display name: the login page's buttons."""
    query = select(OidcProvider).where(OidcProvider.enabled.is_(True))
    return list(await db.scalars(query.order_by(OidcProvider.display_name, OidcProvider.name)))


async def enabled_provider(db: AsyncSession, name: str) -> OidcProvider:
    """The enabled provider ``name`` (any org), for a sign-in.

    Raises:
        NotFound: unknown or disabled (``oidc_provider_not_found``).
    """
    provider = await db.scalar(select(OidcProvider).where(OidcProvider.name == name))
    if provider is None or not provider.enabled:
        raise NotFound(
            "no OpenID Connect provider named %(name)r",
            params={"name": name},
            code="oidc_provider_not_found",
        )
    return provider


def _apply(provider: OidcProvider, keyring: Keyring, changes: dict[str, Any]) -> list[str]:
    """Check and set ``changes`` on ``provider``; the names of the fields changed."""
    changed = []
    checks = {
        "issuer": check_issuer,
        "scopes": _check_scopes,
        "rules": _check_rules,
        "default_role": lambda role: Role(role).value,
    }
    for field, check in checks.items():
        if changes.get(field) is not None:
            changes[field] = check(changes[field])
    for field in _SETTINGS:
        if field in changes and changes[field] is not None:
            if getattr(provider, field) != changes[field]:
                changed.append(field)
            setattr(provider, field, changes[field])
    if "client_secret" in changes and changes["client_secret"] is not None:
        secret = changes["client_secret"]
        provider.client_secret_sealed = keyring.seal(secret, SECRET_CONTEXT) if secret else None
        changed.append("client_secret")
    return changed


async def create_provider(
    db: AsyncSession,
    keyring: Keyring,
    admin: User,
    *,
    name: str,
    source: str | None = None,
    **settings: Any,
) -> OidcProvider:
    """Add a provider to ``admin``'s org (not committed), audited
    ``oidc_provider.create``. ``settings``: the columns of
    :class:`~moorage.models.oidc.OidcProvider` by name, and ``client_secret`` in clear
    (sealed here; None or ``""``: a public client).

    Raises:
        Forbidden: ``admin`` is not an admin.
        InvalidInput: a bad issuer URL (``issuer``), scopes without ``openid``
            (``scopes``), malformed rules (``rules[i]…``).
        Conflict: the name is taken (``oidc_provider_name_taken``), in any org: it is
            part of the redirect URI.
    """
    require_role(admin, Role.ADMIN)
    if await db.scalar(select(OidcProvider.id).where(OidcProvider.name == name)):
        raise Conflict(
            "an OpenID Connect provider named %(name)r exists already",
            params={"name": name},
            code="oidc_provider_name_taken",
        )
    provider = OidcProvider(org_id=admin.org_id, name=name, rules=[], client_secret_sealed=None)
    _apply(provider, keyring, dict(settings))
    db.add(provider)
    await db.flush()
    audit_in(
        db,
        admin,
        "oidc_provider.create",
        "oidc_provider",
        name,
        detail=provider.issuer,
        source=source,
    )
    return provider


async def update_provider(
    db: AsyncSession,
    keyring: Keyring,
    admin: User,
    name: str,
    *,
    source: str | None = None,
    **changes: Any,
) -> OidcProvider:
    """Change the provider ``name`` of ``admin``'s org (not committed): fields absent
    or None are kept; ``client_secret`` ``""`` removes the secret. Audited
    ``oidc_provider.update`` with the names of the fields changed (never a value).

    Raises:
        Forbidden, NotFound: as :func:`find_provider`. InvalidInput: as
            :func:`create_provider`.
    """
    provider = await find_provider(db, admin, name)
    changed = _apply(provider, keyring, dict(changes))
    provider.updated_at = utcnow()
    await db.flush()
    audit_in(
        db,
        admin,
        "oidc_provider.update",
        "oidc_provider",
        name,
        detail=", ".join(changed) or "nothing",
        source=source,
    )
    return provider


async def delete_provider(
    db: AsyncSession, admin: User, name: str, *, source: str | None = None
) -> None:
    """Remove the provider ``name`` of ``admin``'s org (not committed), audited
    ``oidc_provider.delete``; sign-ins in progress with it end. Its users stay but can
    no longer sign in (their local password is unusable): they were bound to this
    provider's id, and a provider added again has a new one, whose sign-ins then meet
    their old usernames as taken (refused) until an admin removes those accounts.
    To stop sign-ins for a while, disable the provider instead.

    Raises:
        Forbidden, NotFound: as :func:`find_provider`.
    """
    provider = await find_provider(db, admin, name)
    await db.execute(delete(OidcSignIn).where(OidcSignIn.provider_id == provider.id))
    await db.delete(provider)
    await db.flush()
    audit_in(db, admin, "oidc_provider.delete", "oidc_provider", name, source=source)
