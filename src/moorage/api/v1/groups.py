"""Groups, who may launch a template or reserve from a pool, and quotas (admins)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.api.deps import AdminUser, DbDep, WriteDbDep
from moorage.errors import NotFound
from moorage.models.group import Group
from moorage.models.user import Role
from moorage.schemas.group import (
    GroupCreate,
    GroupList,
    GroupPublic,
    GroupUpdate,
    QuotaFields,
    QuotaPublic,
)
from moorage.security.access import Allow
from moorage.services import groups
from moorage.services.machines import find_pool
from moorage.services.orgs import find_org
from moorage.services.templates import find_template

router = APIRouter(tags=["groups"])


async def _public(db: AsyncSession, group: Group) -> GroupPublic:
    members = await groups.member_names_of(db, group)
    return GroupPublic.model_validate(group).model_copy(update={"members": members})


@router.get("/groups", response_model=list[GroupPublic], dependencies=[Allow(Role.ADMIN)])
async def list_groups(db: DbDep, admin: AdminUser):
    """Admins: the org's groups by name, with their members and quotas."""
    return [await _public(db, g) for g in await groups.groups_of(db, admin)]


@router.post(
    "/groups", status_code=201, response_model=GroupPublic, dependencies=[Allow(Role.ADMIN)]
)
async def add_group(body: GroupCreate, db: WriteDbDep, admin: AdminUser):
    """Admins: a new group with optional quotas (audited ``group.create``); 409 when
    the name is taken."""
    quotas = body.model_dump(exclude={"name", "display_name"})
    group = await groups.create_group(
        db, admin, body.name, display_name=body.display_name, **quotas
    )
    await db.commit()
    return await _public(db, group)


@router.get("/groups/{name}", response_model=GroupPublic, dependencies=[Allow(Role.ADMIN)])
async def get_group(name: str, db: DbDep, admin: AdminUser):
    """Admins: one group; 404 when unknown."""
    return await _public(db, await groups.find_group(db, admin, name))


@router.patch("/groups/{name}", response_model=GroupPublic, dependencies=[Allow(Role.ADMIN)])
async def update_group(name: str, body: GroupUpdate, db: WriteDbDep, admin: AdminUser):
    """Admins: change a group's display name and quotas (null: no limit; absent:
    kept); audited ``group.update``. 404 when unknown."""
    group = await groups.update_group(db, admin, name, **body.model_dump(exclude_unset=True))
    await db.commit()
    return await _public(db, group)


@router.delete("/groups/{name}", status_code=204, dependencies=[Allow(Role.ADMIN)])
async def delete_group(name: str, db: WriteDbDep, admin: AdminUser) -> Response:
    """Admins: remove a group (its memberships and restrictions go too; audited
    ``group.delete``). 404 when unknown."""
    await groups.delete_group(db, admin, name)
    await db.commit()
    return Response(status_code=204)


@router.get("/templates/{ref}/groups", response_model=GroupList, dependencies=[Allow(Role.ADMIN)])
async def get_template_groups(ref: str, db: DbDep, admin: AdminUser):
    """Admins: the groups that may launch a template (empty: everyone of the org)."""
    template = await find_template(db, ref, admin)
    return GroupList(groups=await groups.template_group_names(db, template))


@router.put("/templates/{ref}/groups", response_model=GroupList, dependencies=[Allow(Role.ADMIN)])
async def put_template_groups(ref: str, body: GroupList, db: WriteDbDep, admin: AdminUser):
    """Admins: restrict a template to these groups (empty: open to everyone of the
    org); audited ``template.groups``. 404 unknown template, 422 unknown group."""
    template = await find_template(db, ref, admin)
    await groups.set_template_groups(db, admin, template, body.groups)
    await db.commit()
    return GroupList(groups=await groups.template_group_names(db, template))


@router.get("/pools/{name}/groups", response_model=GroupList, dependencies=[Allow(Role.ADMIN)])
async def get_pool_groups(name: str, db: DbDep, admin: AdminUser):
    """Admins: the groups that may reserve from a pool (empty: everyone of the org)."""
    pool = await find_pool(db, admin.org_id, name)
    return GroupList(groups=await groups.pool_group_names(db, pool))


@router.put("/pools/{name}/groups", response_model=GroupList, dependencies=[Allow(Role.ADMIN)])
async def put_pool_groups(name: str, body: GroupList, db: WriteDbDep, admin: AdminUser):
    """Admins: restrict a pool to these groups (empty: open to everyone of the org);
    audited ``pool.groups``. 404 unknown pool, 422 unknown group."""
    pool = await find_pool(db, admin.org_id, name)
    await groups.set_pool_groups(db, admin, pool, body.groups)
    await db.commit()
    return GroupList(groups=await groups.pool_group_names(db, pool))


async def _own_org(db: AsyncSession, admin: AdminUser, name: str) -> None:
    """Quotas are set by the org's own admins (a platform admin signs in to it)."""
    org = await find_org(db, name)
    if org.id != admin.org_id:
        raise NotFound("no org named %(name)s", params={"name": name}, code="org_not_found")


@router.get("/orgs/{name}/quota", response_model=QuotaPublic, dependencies=[Allow(Role.ADMIN)])
async def get_org_quota(name: str, db: DbDep, admin: AdminUser):
    """Admins of org ``name``: its quotas (null: no limit). 404 for another org."""
    await _own_org(db, admin, name)
    return await groups.org_quota(db, admin)


@router.patch("/orgs/{name}/quota", response_model=QuotaPublic, dependencies=[Allow(Role.ADMIN)])
async def update_org_quota(name: str, body: QuotaFields, db: WriteDbDep, admin: AdminUser):
    """Admins of org ``name``: set its quotas (null: no limit; absent: kept); audited
    ``org.quota``. 404 for another org."""
    await _own_org(db, admin, name)
    row = await groups.set_org_quota(db, admin, **body.model_dump(exclude_unset=True))
    await db.commit()
    return row
