"""Admins' Users and Groups pages.

Users: create, edit (display name, role, groups), disable and re-enable, reset the
password (the new one shown once), delete. Groups: create, edit quotas, delete,
the org's quotas, and which groups may launch each template or reserve from each
pool. The rules, audit and consequences are the services' (the API's too):
:mod:`moorage.services.user_admin`, :mod:`moorage.services.groups`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from moorage.api.deps import ContextDep, DbDep, WriteDbDep
from moorage.context import Context
from moorage.errors import InvalidInput
from moorage.models.pool import Pool
from moorage.models.quota import QUOTA_FIELDS
from moorage.models.user import Role
from moorage.schemas.group import GroupCreate, GroupUpdate, QuotaFields
from moorage.security.access import Allow
from moorage.security.auth import AdminUser
from moorage.security.origin import require_same_origin
from moorage.services import groups as group_service
from moorage.services.audit import client_address
from moorage.services.machines import find_pool
from moorage.services.templates import find_template, visible_templates
from moorage.services.two_factor import required_roles
from moorage.services.user_admin import UserAdmin, UserChanges, find_user_by_id
from moorage.services.users import create_user, users_of
from moorage.web.pages import _invalid, _redirect, templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

ROLES = [role.value for role in Role]


def _user_admin(context: Context) -> UserAdmin:
    return UserAdmin(context.sessionmaker, (context.sessions, context.reservations))


# -- users ------------------------------------------------------------------------


@router.get("/admin/users", response_class=HTMLResponse, dependencies=[Allow(Role.ADMIN)])
async def users_page(request: Request, user: AdminUser, db: DbDep, context: ContextDep) -> Response:
    """Admins: the org's users with their role, groups and what they hold, forms to
    add and edit them, and disable / enable / reset password / delete, each
    confirmed with what it ends."""
    users = await users_of(db, user)
    return templates.TemplateResponse(
        request,
        "admin_users.html",
        {
            "user": user,
            "users": users,
            "groups": [g.name for g in await group_service.groups_of(db, user)],
            "member_of": {u.id: await group_service.group_names_of(db, u.id) for u in users},
            "holding": await _user_admin(context).live_counts(user.org_id),
            "roles": ROLES,
            "two_factor_roles": await required_roles(db, user),
        },
    )


@router.post("/admin/users", dependencies=[Allow(Role.ADMIN)])
async def user_create_submit(
    request: Request,
    user: AdminUser,
    db: WriteDbDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    role: Annotated[Role, Form()] = Role.MEMBER,
    display_name: Annotated[str, Form()] = "",
) -> Response:
    """Admins: add a user (the API's rules, audited ``user.create``)."""
    require_same_origin(request)
    await create_user(
        db,
        org_id=user.org_id,
        username=username.strip(),
        password=password,
        role=role,
        display_name=display_name.strip(),
        by=user,
        source=client_address(request),
    )
    await db.commit()
    return _redirect(request, "/admin/users")


@router.post("/admin/users/{user_id}", dependencies=[Allow(Role.ADMIN)])
async def user_edit_submit(
    user_id: str, request: Request, user: AdminUser, context: ContextDep
) -> Response:
    """Admins: change a user's display name, role and groups (checkboxes ``groups``)."""
    require_same_origin(request)
    form = await request.form()
    role = str(form.get("role") or "")
    if role not in ROLES:
        raise InvalidInput(
            "role must be one of %(roles)s", params={"roles": ", ".join(ROLES)}, field="role"
        )
    changes = UserChanges(
        display_name=str(form.get("display_name") or ""),
        role=Role(role),
        groups=[str(g) for g in form.getlist("groups")],
    )
    await _user_admin(context).update(user, user_id, changes, source=client_address(request))
    return _redirect(request, "/admin/users")


@router.post("/admin/users/{user_id}/disable", dependencies=[Allow(Role.ADMIN)])
async def user_disable_submit(
    user_id: str, request: Request, user: AdminUser, context: ContextDep
) -> Response:
    """Admins: disable a user: their live sessions and reservations end, their tokens
    are revoked (the page asked first)."""
    require_same_origin(request)
    changes = UserChanges(is_active=False)
    await _user_admin(context).update(user, user_id, changes, source=client_address(request))
    return _redirect(request, "/admin/users")


@router.post("/admin/users/{user_id}/enable", dependencies=[Allow(Role.ADMIN)])
async def user_enable_submit(
    user_id: str, request: Request, user: AdminUser, context: ContextDep
) -> Response:
    """Admins: let a disabled user sign in again."""
    require_same_origin(request)
    changes = UserChanges(is_active=True)
    await _user_admin(context).update(user, user_id, changes, source=client_address(request))
    return _redirect(request, "/admin/users")


@router.post(
    "/admin/users/{user_id}/reset-password",
    response_class=HTMLResponse,
    dependencies=[Allow(Role.ADMIN)],
)
async def user_reset_submit(
    user_id: str, request: Request, user: AdminUser, context: ContextDep
) -> Response:
    """Admins: a new random password for a user, answered as a fragment that shows
    it once (it is stored hashed; nothing shows it again)."""
    require_same_origin(request)
    changed, password = await _user_admin(context).reset_password(
        user, user_id, source=client_address(request)
    )
    return templates.TemplateResponse(
        request, "_new_password.html", {"who": changed, "password": password}
    )


@router.post("/admin/users/{user_id}/delete", dependencies=[Allow(Role.ADMIN)])
async def user_delete_submit(
    user_id: str, request: Request, user: AdminUser, context: ContextDep, db: DbDep
) -> Response:
    """Admins: delete a user (their leases end, tokens are revoked; the page asked)."""
    require_same_origin(request)
    await find_user_by_id(db, user, user_id)
    await _user_admin(context).delete(user, user_id, source=client_address(request))
    return _redirect(request, "/admin/users")


# -- groups -----------------------------------------------------------------------


@router.get("/admin/groups", response_class=HTMLResponse, dependencies=[Allow(Role.ADMIN)])
async def groups_page(request: Request, user: AdminUser, db: DbDep) -> Response:
    """Admins: the org's groups with their members and quotas, the org's quotas, and
    which groups may launch each template and reserve from each pool."""
    groups = await group_service.groups_of(db, user)
    template_rows = await visible_templates(db, user)
    pools = list(
        await db.scalars(select(Pool).where(Pool.org_id == user.org_id).order_by(Pool.name))
    )
    return templates.TemplateResponse(
        request,
        "admin_groups.html",
        {
            "user": user,
            "groups": groups,
            "members": {g.id: await group_service.member_names_of(db, g) for g in groups},
            "org_quota": await group_service.org_quota(db, user),
            "quota_fields": QUOTA_FIELDS,
            "templates": [
                (t, await group_service.template_group_names(db, t)) for t in template_rows
            ],
            "pools": [(p, await group_service.pool_group_names(db, p)) for p in pools],
        },
    )


def _quota_form(form: Any) -> dict[str, Any]:
    """The quota fields of a form; an empty box is null (no limit)."""
    return {f: (form.get(f) or None) for f in QUOTA_FIELDS}


@router.post("/admin/groups", dependencies=[Allow(Role.ADMIN)])
async def group_create_submit(request: Request, user: AdminUser, db: WriteDbDep) -> Response:
    """Admins: add a group (audited ``group.create``)."""
    require_same_origin(request)
    form = await request.form()
    fields = {"name": form.get("name", ""), "display_name": form.get("display_name", "")}
    try:
        body = GroupCreate.model_validate({**fields, **_quota_form(form)})
    except ValidationError as exc:
        raise _invalid(exc, GroupCreate.model_fields) from exc
    quotas = body.model_dump(exclude={"name", "display_name"})
    await group_service.create_group(db, user, body.name, display_name=body.display_name, **quotas)
    await db.commit()
    return _redirect(request, "/admin/groups")


@router.post("/admin/groups/{name}", dependencies=[Allow(Role.ADMIN)])
async def group_update_submit(
    name: str, request: Request, user: AdminUser, db: WriteDbDep
) -> Response:
    """Admins: change a group's display name and quotas (an empty box: no limit)."""
    require_same_origin(request)
    form = await request.form()
    try:
        body = GroupUpdate.model_validate(
            {"display_name": form.get("display_name", ""), **_quota_form(form)}
        )
    except ValidationError as exc:
        raise _invalid(exc, GroupUpdate.model_fields) from exc
    await group_service.update_group(db, user, name, **body.model_dump())
    await db.commit()
    return _redirect(request, "/admin/groups")


@router.post("/admin/groups/{name}/delete", dependencies=[Allow(Role.ADMIN)])
async def group_delete_submit(
    name: str, request: Request, user: AdminUser, db: WriteDbDep
) -> Response:
    """Admins: remove a group (the page asked first)."""
    require_same_origin(request)
    await group_service.delete_group(db, user, name)
    await db.commit()
    return _redirect(request, "/admin/groups")


@router.post("/admin/quota", dependencies=[Allow(Role.ADMIN)])
async def org_quota_submit(request: Request, user: AdminUser, db: WriteDbDep) -> Response:
    """Admins: set the org's quotas (an empty box: no limit)."""
    require_same_origin(request)
    try:
        body = QuotaFields.model_validate(_quota_form(await request.form()))
    except ValidationError as exc:
        raise _invalid(exc, QuotaFields.model_fields) from exc
    await group_service.set_org_quota(db, user, **body.model_dump())
    await db.commit()
    return _redirect(request, "/admin/groups")


@router.post("/admin/templates/{ref}/groups", dependencies=[Allow(Role.ADMIN)])
async def template_groups_submit(
    ref: str, request: Request, user: AdminUser, db: WriteDbDep
) -> Response:
    """Admins: the groups that may launch a template (none checked: everyone)."""
    require_same_origin(request)
    template = await find_template(db, ref, user)
    names = [str(g) for g in (await request.form()).getlist("groups")]
    await group_service.set_template_groups(db, user, template, names)
    await db.commit()
    return _redirect(request, "/admin/groups")


@router.post("/admin/pools/{name}/groups", dependencies=[Allow(Role.ADMIN)])
async def pool_groups_submit(
    name: str, request: Request, user: AdminUser, db: WriteDbDep
) -> Response:
    """Admins: the groups that may reserve from a pool (none checked: everyone)."""
    require_same_origin(request)
    pool = await find_pool(db, user.org_id, name)
    names = [str(g) for g in (await request.form()).getlist("groups")]
    await group_service.set_pool_groups(db, user, pool, names)
    await db.commit()
    return _redirect(request, "/admin/groups")
