"""Groups: named sets of users of an org (a class, a team), who may launch a
template or reserve from a pool, and their quotas.

A template or pool with no group is open to the whole org; once restricted to
groups, only their members (and admins) may launch or reserve from it, and the
catalog shows members only what they may launch. Memberships, restrictions and
quotas are changed by admins; every change is audited here, in the caller's
transaction (not committed), so the API and the pages share the rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.errors import Conflict, Forbidden, InvalidInput, NotFound
from moorage.models.group import Group, GroupMember, PoolGroup, TemplateGroup
from moorage.models.pool import Pool
from moorage.models.quota import QUOTA_FIELDS, OrgQuota
from moorage.models.template import Template
from moorage.models.user import Role, User
from moorage.security.rbac import has_role, require_role
from moorage.services.audit import audit_in

__all__ = [
    "GROUP_NAME_PATTERN",
    "check_may_launch",
    "check_may_reserve",
    "create_group",
    "delete_group",
    "find_group",
    "group_names_of",
    "groups_of",
    "launchable",
    "member_names_of",
    "org_quota",
    "pool_group_names",
    "set_org_quota",
    "set_pool_groups",
    "set_template_groups",
    "set_user_groups",
    "template_group_names",
    "update_group",
]

GROUP_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


async def groups_of(db: AsyncSession, user: User) -> list[Group]:
    """The groups of ``user``'s org, by name (anyone may list them: names only
    matter to admins, but a member sees which group a template needs)."""
    return list(
        await db.scalars(select(Group).where(Group.org_id == user.org_id).order_by(Group.name))
    )


async def find_group(db: AsyncSession, user: User, name: str) -> Group:
    """The group ``name`` of ``user``'s org.

    Raises:
        NotFound: no such group (code ``group_not_found``).
    """
    group = await db.scalar(select(Group).where(Group.org_id == user.org_id, Group.name == name))
    if group is None:
        raise NotFound("no group named %(name)r", params={"name": name}, code="group_not_found")
    return group


def _check_quotas(quotas: dict[str, Any]) -> None:
    for field, value in quotas.items():
        if field not in QUOTA_FIELDS:
            raise InvalidInput("%(field)s is not a quota", params={"field": field}, field=field)
        if value is not None and value < 0:
            raise InvalidInput(
                "%(field)s must be 0 or more (or null: no limit)",
                params={"field": field},
                field=field,
            )


async def create_group(
    db: AsyncSession, admin: User, name: str, *, display_name: str = "", **quotas: Any
) -> Group:
    """Add a group to the admin's org with optional quotas (audited ``group.create``).

    Raises:
        Forbidden: not an admin. InvalidInput: a bad name or quota.
        Conflict: the name is taken (``group_exists``).
    """
    require_role(admin, Role.ADMIN)
    if not GROUP_NAME_PATTERN.match(name):
        raise InvalidInput(
            "name must be 1-64 lowercase letters, digits, '_', '.' or '-'", field="name"
        )
    _check_quotas(quotas)
    if await db.scalar(select(Group.id).where(Group.org_id == admin.org_id, Group.name == name)):
        raise Conflict("a group named %(name)r exists", params={"name": name}, code="group_exists")
    group = Group(org_id=admin.org_id, name=name, display_name=display_name or name, **quotas)
    db.add(group)
    await db.flush()
    audit_in(db, admin, "group.create", "group", name)
    return group


async def update_group(db: AsyncSession, admin: User, name: str, **changes: Any) -> Group:
    """Change a group's ``display_name`` and quotas (a quota set to None: no limit);
    audited ``group.update`` with the fields changed.

    Raises:
        Forbidden: not an admin. NotFound: no such group. InvalidInput: a bad quota.
    """
    require_role(admin, Role.ADMIN)
    group = await find_group(db, admin, name)
    display_name = changes.pop("display_name", None)
    _check_quotas(changes)
    if display_name is not None:
        group.display_name = display_name or group.name
    for field, value in changes.items():
        setattr(group, field, value)
    fields = ", ".join([*(["display_name"] if display_name is not None else []), *changes])
    audit_in(db, admin, "group.update", "group", name, detail=fields)
    return group


async def delete_group(db: AsyncSession, admin: User, name: str) -> None:
    """Remove a group: its memberships and restrictions go with it (a template only
    restricted to it becomes open to the org). Audited ``group.delete``.

    Raises:
        Forbidden: not an admin. NotFound: no such group.
    """
    require_role(admin, Role.ADMIN)
    group = await find_group(db, admin, name)
    for table in (GroupMember, TemplateGroup, PoolGroup):
        await db.execute(delete(table).where(table.group_id == group.id))
    await db.delete(group)
    audit_in(db, admin, "group.delete", "group", name)


async def _groups_named(db: AsyncSession, admin: User, names: Sequence[str]) -> list[Group]:
    wanted = sorted(set(names))
    found = list(
        await db.scalars(select(Group).where(Group.org_id == admin.org_id, Group.name.in_(wanted)))
    )
    unknown = sorted(set(wanted) - {g.name for g in found})
    if unknown:
        raise InvalidInput(f"no group named {', '.join(map(repr, unknown))}", field="groups")
    return found


async def group_names_of(db: AsyncSession, user_id: str) -> list[str]:
    """The names of the groups user ``user_id`` is in, sorted."""
    query = (
        select(Group.name)
        .join(GroupMember, GroupMember.group_id == Group.id)
        .where(GroupMember.user_id == user_id)
        .order_by(Group.name)
    )
    return list(await db.scalars(query))


async def member_names_of(db: AsyncSession, group: Group) -> list[str]:
    """The usernames of ``group``'s members, sorted."""
    query = (
        select(User.username)
        .join(GroupMember, GroupMember.user_id == User.id)
        .where(GroupMember.group_id == group.id, User.deleted_at.is_(None))
        .order_by(User.username)
    )
    return list(await db.scalars(query))


async def set_user_groups(db: AsyncSession, admin: User, user: User, names: Sequence[str]) -> None:
    """Make ``user`` a member of exactly the groups ``names`` (of the admin's org);
    audited ``user.groups`` with the new list.

    Raises:
        Forbidden: not an admin. InvalidInput: an unknown group (field ``groups``).
    """
    require_role(admin, Role.ADMIN)
    groups = await _groups_named(db, admin, names)
    await db.execute(delete(GroupMember).where(GroupMember.user_id == user.id))
    for group in groups:
        db.add(GroupMember(group_id=group.id, user_id=user.id))
    await db.flush()
    detail = ", ".join(sorted(g.name for g in groups)) or "none"
    audit_in(db, admin, "user.groups", "user", user.username, detail=detail)


async def _restricted_names(db: AsyncSession, table: Any, column: Any, object_id: str) -> list[str]:
    query = (
        select(Group.name)
        .join(table, table.group_id == Group.id)
        .where(column == object_id)
        .order_by(Group.name)
    )
    return list(await db.scalars(query))


async def template_group_names(db: AsyncSession, template: Template) -> list[str]:
    """The groups whose members may launch ``template``; empty when it is open."""
    return await _restricted_names(db, TemplateGroup, TemplateGroup.template_id, template.id)


async def pool_group_names(db: AsyncSession, pool: Pool) -> list[str]:
    """The groups whose members may reserve from ``pool``; empty when it is open."""
    return await _restricted_names(db, PoolGroup, PoolGroup.pool_id, pool.id)


async def set_template_groups(
    db: AsyncSession, admin: User, template: Template, names: Sequence[str]
) -> None:
    """Restrict ``template`` to the groups ``names`` (empty: open to the org);
    audited ``template.groups``.

    Raises:
        Forbidden: not an admin. InvalidInput: an unknown group (field ``groups``).
    """
    require_role(admin, Role.ADMIN)
    groups = await _groups_named(db, admin, names)
    await db.execute(delete(TemplateGroup).where(TemplateGroup.template_id == template.id))
    for group in groups:
        db.add(TemplateGroup(template_id=template.id, group_id=group.id))
    await db.flush()
    detail = ", ".join(sorted(g.name for g in groups)) or "everyone"
    audit_in(db, admin, "template.groups", "template", template.name, detail=detail)


async def set_pool_groups(db: AsyncSession, admin: User, pool: Pool, names: Sequence[str]) -> None:
    """Restrict ``pool`` to the groups ``names`` (empty: open to the org); audited
    ``pool.groups``.

    Raises:
        Forbidden: not an admin. InvalidInput: an unknown group (field ``groups``).
    """
    require_role(admin, Role.ADMIN)
    groups = await _groups_named(db, admin, names)
    await db.execute(delete(PoolGroup).where(PoolGroup.pool_id == pool.id))
    for group in groups:
        db.add(PoolGroup(pool_id=pool.id, group_id=group.id))
    await db.flush()
    detail = ", ".join(sorted(g.name for g in groups)) or "everyone"
    audit_in(db, admin, "pool.groups", "pool", pool.name, detail=detail)


def launchable(user: User) -> ColumnElement[bool]:
    """A condition on :class:`Template` rows: ``user`` may launch it (open to the
    org, or restricted to a group ``user`` is in). True for admins."""
    if has_role(user, Role.ADMIN):
        return Template.id.is_not(None)
    mine = select(GroupMember.group_id).where(GroupMember.user_id == user.id)
    return or_(
        ~exists().where(TemplateGroup.template_id == Template.id),
        exists().where(TemplateGroup.template_id == Template.id, TemplateGroup.group_id.in_(mine)),
    )


async def _check_member(db: AsyncSession, user: User, needed: list[str], what: str) -> None:
    if not needed or has_role(user, Role.ADMIN):
        return
    if set(needed) & set(await group_names_of(db, user.id)):
        return
    names = " or ".join(repr(n) for n in needed)
    raise Forbidden(
        f"{what} is for members of the group {names}; ask an admin to add you",
        code="group_required",
        groups=needed,
    )


async def check_may_launch(db: AsyncSession, user: User, template: Template) -> None:
    """Raise unless ``user`` may launch ``template`` (open, a member of one of its
    groups, or an admin).

    Raises:
        Forbidden: 403, code ``group_required``, naming the groups (``groups``).
    """
    await _check_member(
        db, user, await template_group_names(db, template), f"template {template.name}"
    )


async def check_may_reserve(db: AsyncSession, user: User, pool: Pool) -> None:
    """Raise unless ``user`` may reserve from ``pool`` (open, a member of one of its
    groups, or an admin).

    Raises:
        Forbidden: 403, code ``group_required``, naming the groups (``groups``).
    """
    await _check_member(db, user, await pool_group_names(db, pool), f"pool {pool.name}")


async def org_quota(db: AsyncSession, user: User) -> OrgQuota:
    """The quota row of ``user``'s org (a new, unsaved one with no limits when none
    is set)."""
    return await db.get(OrgQuota, user.org_id) or OrgQuota(org_id=user.org_id)


async def set_org_quota(db: AsyncSession, admin: User, **quotas: Any) -> OrgQuota:
    """Set the admin's org's quotas (a field set to None: no limit; absent: kept);
    audited ``org.quota`` with the fields.

    Raises:
        Forbidden: not an admin. InvalidInput: a bad quota.
    """
    require_role(admin, Role.ADMIN)
    _check_quotas(quotas)
    row = await db.get(OrgQuota, admin.org_id)
    if row is None:
        row = OrgQuota(org_id=admin.org_id)
        db.add(row)
    for field, value in quotas.items():
        setattr(row, field, value)
    await db.flush()
    audit_in(db, admin, "org.quota", "org", admin.org_id, detail=", ".join(quotas) or "none")
    return row
