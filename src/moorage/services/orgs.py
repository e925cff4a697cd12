"""Orgs and org API keys.

An **org API key** is a credential of an organisation for scripts and agents
(DESIGN.md, "More concepts"). It is an API token of the org's *service user*,
``<org>-api`` (role ``operator``: fleet, machines, launches; never admin), so it
authenticates wherever a bearer token does, is stored hashed, shown once, and
revoked like any token; the audit log names ``<org>-api`` as the actor. The
service user's password is random and never shown: it cannot sign in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.errors import Conflict, InvalidInput, NotFound
from moorage.models.org import Org
from moorage.models.user import Role, User
from moorage.security.rbac import require_role
from moorage.services.audit import audit_in
from moorage.services.fleet.defaults import add_default_rule
from moorage.services.users import USERNAME_PATTERN, create_token, create_user

__all__ = [
    "NewOrg",
    "create_org",
    "find_org",
    "issue_org_api_key",
    "org_public",
    "service_username",
    "set_two_factor_required_roles",
]

ORG_NAME_LIMIT = 28  # so that "<org>-api" is a valid username (32 characters)


@dataclass(frozen=True)
class NewOrg:
    """A created org and its first API key (plaintext, shown once)."""

    org: Org
    api_key: str


def service_username(org_name: str) -> str:
    """The username of ``org_name``'s service user, which holds its API keys."""
    return f"{org_name}-api"


def org_public(org: Org) -> dict[str, object]:
    """``{"id", "name", "display_name", "created_at", "two_factor_required_roles"}``."""
    return {
        "id": org.id,
        "name": org.name,
        "display_name": org.display_name,
        "created_at": org.created_at.isoformat(),
        "two_factor_required_roles": list(org.two_factor_required_roles or []),
    }


async def _service_user(db: AsyncSession, org: Org, by: User) -> User:
    username = service_username(org.name)
    user = await db.scalar(select(User).where(User.username == username))
    if user is not None:
        if user.org_id != org.id:
            raise Conflict(f"the username {username!r} belongs to another org")
        return user
    return await create_user(
        db,
        org_id=org.id,
        username=username,
        password=secrets.token_urlsafe(32),
        role=Role.OPERATOR,
        display_name=f"{org.display_name} (API key)",
    )


async def issue_org_api_key(
    db: AsyncSession, by: User, org: Org, *, name: str = "org API key", source: str | None = None
) -> str:
    """A new API key for ``org`` (not committed), audited ``org.api_key`` by ``by``;
    returns its plaintext (``mrg_<prefix>_<secret>``), shown once.

    Raises:
        Forbidden: ``by`` is not an admin.
        NotFound: ``org`` is not ``by``'s own org and ``by`` did not just create it
            (the caller passes only orgs the admin may manage).
    """
    require_role(by, Role.ADMIN)
    user = await _service_user(db, org, by)
    key = await create_token(db, user, name=name)
    audit_in(db, by, "org.api_key", "org", org.name, detail=name, source=source)
    return key


async def create_org(
    db: AsyncSession,
    by: User,
    name: str,
    *,
    display_name: str = "",
    source: str | None = None,
) -> NewOrg:
    """Add org ``name`` (not committed) with its service user, a first API key and its
    "health turned critical" alert rule; audited ``org.create``.

    Raises:
        Forbidden: ``by`` is not an admin.
        InvalidInput: ``name`` outside ``[a-z_][a-z0-9_.-]``, 1-28 characters
            (field ``name``).
        Conflict: the name is taken.
    """
    require_role(by, Role.ADMIN)
    if len(name) > ORG_NAME_LIMIT or not USERNAME_PATTERN.match(name):
        raise InvalidInput(
            "an org name is 1-28 lowercase letters, digits, '_', '.' or '-', "
            "starting with a letter or '_'",
            field="name",
        )
    if await db.scalar(select(Org.id).where(Org.name == name)):
        raise Conflict(f"an org named {name!r} exists", code="org_exists")
    org = Org(name=name, display_name=display_name or name)
    db.add(org)
    await db.flush()
    add_default_rule(db, org.id)
    audit_in(db, by, "org.create", "org", name, source=source)
    key = await issue_org_api_key(db, by, org, source=source)
    return NewOrg(org=org, api_key=key)


async def find_org(db: AsyncSession, name: str) -> Org:
    """Raises NotFound when there is no org ``name``."""
    org = await db.scalar(select(Org).where(Org.name == name))
    if org is None:
        raise NotFound(f"no org named {name!r}", code="org_not_found")
    return org


async def set_two_factor_required_roles(
    db: AsyncSession, by: User, org: Org, roles: list[Role], *, source: str | None = None
) -> Org:
    """Require a second factor of the users of ``roles`` in ``org`` (empty: optional
    for all), not committed; audited ``org.update``. Users of those roles who have
    not set it up get only their account page until they do.

    Raises:
        Forbidden: ``by`` is not an admin. NotFound: ``org`` is not ``by``'s.
    """
    require_role(by, Role.ADMIN)
    if org.id != by.org_id:
        raise NotFound(f"no org named {org.name!r}", code="org_not_found")
    ordered = [role.value for role in Role if role in set(roles)]
    org.two_factor_required_roles = ordered
    audit_in(
        db,
        by,
        "org.update",
        "org",
        org.name,
        detail="two-factor required for " + (", ".join(ordered) or "no role"),
        source=source,
    )
    await db.flush()
    return org
