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

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.errors import Conflict, Forbidden, InvalidInput, NotFound
from moorage.models.org import DEFAULT_ORG, Org
from moorage.models.token import ApiToken, TokenKind
from moorage.models.user import Role, User
from moorage.security.rbac import require_role
from moorage.services.audit import audit_in
from moorage.services.fleet.defaults import add_default_rule
from moorage.services.users import USERNAME_PATTERN, create_token, create_user

__all__ = [
    "NewOrg",
    "check_org_name",
    "create_org",
    "find_managed_org",
    "find_org",
    "is_platform_admin",
    "issue_org_api_key",
    "org_public",
    "orgs_of",
    "rename_org",
    "require_platform_admin",
    "rotate_org_api_keys",
    "service_username",
    "set_display_name",
    "set_placement_policy",
    "set_two_factor_required_roles",
]

ORG_NAME_LIMIT = 28  # so that "<org>-api" is a valid username (32 characters)


async def is_platform_admin(db: AsyncSession, user: User) -> bool:
    """Whether ``user`` is a *platform admin*: an admin of the ``default`` org, the
    one Moorage creates on first start. Platform admins create, rename and remove
    orgs; every other admin manages only their own org."""
    if user.role != Role.ADMIN:
        return False
    return await db.scalar(select(Org.name).where(Org.id == user.org_id)) == DEFAULT_ORG


async def require_platform_admin(db: AsyncSession, user: User) -> None:
    """Raises Forbidden (code ``platform_admin_only``) unless ``user`` is a platform
    admin (:func:`is_platform_admin`)."""
    if not await is_platform_admin(db, user):
        raise Forbidden(
            "only an admin of the default org (a platform admin) may do this",
            code="platform_admin_only",
        )


def check_org_name(name: str, field: str = "name") -> str:
    """``name`` if it is a valid org name, else InvalidInput naming ``field``."""
    if len(name) > ORG_NAME_LIMIT or not USERNAME_PATTERN.match(name):
        raise InvalidInput(
            "an org name is 1-28 lowercase letters, digits, '_', '.' or '-', "
            "starting with a letter or '_'",
            field=field,
        )
    return name


@dataclass(frozen=True)
class NewOrg:
    """A created org and its first API key (plaintext, shown once)."""

    org: Org
    api_key: str


def service_username(org_name: str) -> str:
    """The username of ``org_name``'s service user, which holds its API keys."""
    return f"{org_name}-api"


def org_public(org: Org) -> dict[str, object]:
    """``{"id", "name", "display_name", "created_at", "two_factor_required_roles",
    "placement_policy"}``."""
    return {
        "id": org.id,
        "name": org.name,
        "display_name": org.display_name,
        "created_at": org.created_at.isoformat(),
        "two_factor_required_roles": list(org.two_factor_required_roles or []),
        "placement_policy": org.placement_policy or "spread",
    }


async def _service_user(db: AsyncSession, org: Org, by: User) -> User:
    username = service_username(org.name)
    user = await db.scalar(select(User).where(User.username == username))
    if user is not None:
        if user.org_id != org.id:
            raise Conflict(
                "the username %(username)s belongs to another org", params={"username": username}
            )
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
    admin_username: str | None = None,
    admin_password: str | None = None,
    source: str | None = None,
) -> NewOrg:
    """Add org ``name`` (not committed) with its service user, a first API key and its
    "health turned critical" alert rule; audited ``org.create``. With
    ``admin_username`` and ``admin_password``, also the org's first admin (audited
    ``user.create``), who then manages the org's users, groups and settings.

    Raises:
        Forbidden: ``by`` is not a platform admin (:func:`is_platform_admin`).
        InvalidInput: ``name`` outside ``[a-z_][a-z0-9_.-]``, 1-28 characters
            (field ``name``); the first admin's username or password, as
            :func:`~moorage.services.users.create_user` says.
        Conflict: the name, or the first admin's username, is taken.
    """
    require_role(by, Role.ADMIN)
    await require_platform_admin(db, by)
    check_org_name(name)
    if await db.scalar(select(Org.id).where(Org.name == name)):
        raise Conflict("an org named %(name)s exists", params={"name": name}, code="org_exists")
    org = Org(name=name, display_name=display_name or name)
    db.add(org)
    await db.flush()
    add_default_rule(db, org.id)
    audit_in(db, by, "org.create", "org", name, source=source)
    key = await issue_org_api_key(db, by, org, source=source)
    if admin_username is not None and admin_password is not None:
        await create_user(
            db,
            org_id=org.id,
            username=admin_username,
            password=admin_password,
            role=Role.ADMIN,
            by=by,
            source=source,
        )
    return NewOrg(org=org, api_key=key)


async def find_org(db: AsyncSession, name: str) -> Org:
    """Raises NotFound when there is no org ``name`` (removed ones included)."""
    org = await db.scalar(select(Org).where(Org.name == name, Org.deleted_at.is_(None)))
    if org is None:
        raise NotFound("no org named %(name)s", params={"name": name}, code="org_not_found")
    return org


async def find_managed_org(db: AsyncSession, by: User, name: str) -> Org:
    """Org ``name`` if ``by`` manages it: their own org, or any org for a platform
    admin. Raises NotFound otherwise, as for an org that does not exist, so that
    other orgs' names cannot be probed."""
    org = await find_org(db, name)
    if org.id != by.org_id and not await is_platform_admin(db, by):
        raise NotFound("no org named %(name)s", params={"name": name}, code="org_not_found")
    return org


async def orgs_of(db: AsyncSession, by: User) -> list[Org]:
    """The orgs ``by`` sees, by name: every org (removed ones left out) for a platform
    admin, their own for any other admin.

    Raises:
        Forbidden: ``by`` is not an admin.
    """
    require_role(by, Role.ADMIN)
    query = select(Org).where(Org.deleted_at.is_(None)).order_by(Org.name)
    if not await is_platform_admin(db, by):
        query = query.where(Org.id == by.org_id)
    return list(await db.scalars(query))


async def rename_org(
    db: AsyncSession, by: User, org: Org, new_name: str, *, source: str | None = None
) -> Org:
    """Rename ``org`` (not committed), and its service user with it (the holder of
    its API keys, which keep working); audited ``org.rename``.

    Raises:
        Forbidden: ``by`` is not a platform admin.
        InvalidInput: a bad name (field ``name``); renaming the default org.
        Conflict: the name is taken.
    """
    await require_platform_admin(db, by)
    check_org_name(new_name)
    if new_name == org.name:
        return org
    if org.name == DEFAULT_ORG:
        raise InvalidInput("the default org keeps its name", field="name", code="default_org")
    taken = await db.scalar(select(Org.id).where(Org.name == new_name))
    if taken is not None or await db.scalar(
        select(User.id).where(User.username == service_username(new_name))
    ):
        raise Conflict("an org named %(name)s exists", params={"name": new_name}, code="org_exists")
    service = await db.scalar(select(User).where(User.username == service_username(org.name)))
    if service is not None and service.org_id == org.id:
        service.username = service_username(new_name)
    old = org.name
    org.name = new_name
    audit_in(db, by, "org.rename", "org", new_name, detail=f"{old} -> {new_name}", source=source)
    await db.flush()
    return org


def set_display_name(
    db: AsyncSession, by: User, org: Org, display_name: str, *, source: str | None = None
) -> None:
    """Set ``org``'s display name (not committed; the caller checked ``by`` manages
    it); audited ``org.update`` when it changes."""
    if display_name == org.display_name:
        return
    org.display_name = display_name
    audit_in(db, by, "org.update", "org", org.name, detail="display name", source=source)


def set_placement_policy(
    db: AsyncSession, by: User, org: Org, policy: str, *, source: str | None = None
) -> None:
    """Set how ``org``'s launches pick an environment (``spread`` or ``pack``, see
    :mod:`moorage.services.placement`), not committed; the caller checked ``by``
    manages it. Audited ``org.update`` when it changes."""
    if policy == org.placement_policy:
        return
    org.placement_policy = policy
    audit_in(db, by, "org.update", "org", org.name, detail=f"placement {policy}", source=source)


async def rotate_org_api_keys(
    db: AsyncSession, by: User, org: Org, *, source: str | None = None
) -> tuple[str, int]:
    """Revoke every API key of ``org`` and issue a new one (not committed); audited
    ``org.api_key_rotate``. Returns the new key's plaintext (shown once) and how
    many keys were revoked. Scripts and agents using an old key get 401 from the
    commit on.

    Raises:
        Forbidden: ``by`` is not an admin. NotFound: an org ``by`` does not manage.
    """
    require_role(by, Role.ADMIN)
    org = await find_managed_org(db, by, org.name)
    service = await _service_user(db, org, by)
    revoked = await db.execute(
        delete(ApiToken).where(ApiToken.user_id == service.id, ApiToken.kind == TokenKind.API.value)
    )
    key = await create_token(db, service, name="org API key")
    count = int(getattr(revoked, "rowcount", 0) or 0)
    audit_in(
        db, by, "org.api_key_rotate", "org", org.name, detail=f"{count} revoked", source=source
    )
    return key, count


async def set_two_factor_required_roles(
    db: AsyncSession, by: User, org: Org, roles: list[Role], *, source: str | None = None
) -> Org:
    """Require a second factor of the users of ``roles`` in ``org`` (empty: optional
    for all), not committed; audited ``org.update``. Users of those roles who have
    not set it up get only their account page until they do.

    Raises:
        Forbidden: ``by`` is not an admin. NotFound: an org ``by`` does not manage
            (:func:`find_managed_org`).
    """
    require_role(by, Role.ADMIN)
    org = await find_managed_org(db, by, org.name)
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
