"""The organisations page, ``/admin/orgs``: platform admins (admins of the default
org) create, rename and remove orgs; an org's own admins see theirs, change its
display name and rotate its API keys. See :mod:`moorage.services.orgs` and
:mod:`moorage.services.org_admin`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from moorage.api.deps import AdminUser, ContextDep, DbDep, WriteDbDep
from moorage.context import Context
from moorage.models.user import Role
from moorage.schemas.org import OrgCreate, OrgUpdate
from moorage.security.access import Allow
from moorage.security.origin import require_same_origin
from moorage.services import orgs
from moorage.services.audit import client_address
from moorage.services.org_admin import OrgRemoval
from moorage.web.pages import _invalid, _redirect, templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def org_removal(context: Context) -> OrgRemoval:
    """The org removal service over the app's lease services and fleet ingest (as the
    API builds it; pages do not import route modules)."""
    return OrgRemoval(
        context.sessionmaker, (context.sessions, context.reservations), context.ingest
    )


@router.get("/admin/orgs", response_class=HTMLResponse, dependencies=[Allow(Role.ADMIN)])
async def orgs_page(request: Request, user: AdminUser, db: DbDep, context: ContextDep) -> Response:
    """Admins: the orgs they manage; for platform admins, with what removing each
    would end (for the confirmation) and the form that creates one."""
    platform = await orgs.is_platform_admin(db, user)
    listed = await orgs.orgs_of(db, user)
    removal = org_removal(context)
    holding = {o.name: await removal.holding(user, o.name) for o in listed} if platform else {}
    return templates.TemplateResponse(
        request,
        "admin_orgs.html",
        {"orgs": listed, "platform": platform, "holding": holding, "own_org_id": user.org_id},
    )


@router.post("/admin/orgs", response_class=HTMLResponse, dependencies=[Allow(Role.ADMIN)])
async def org_create_submit(request: Request, user: AdminUser, db: WriteDbDep) -> Response:
    """Platform admins: add an org (and its first admin when both boxes are filled);
    answered as a fragment that shows its API key once."""
    require_same_origin(request)
    form = await request.form()
    fields: dict[str, Any] = {
        "name": form.get("name", ""),
        "display_name": form.get("display_name", ""),
    }
    admin = {"username": form.get("admin_username", ""), "password": form.get("admin_password", "")}
    if any(admin.values()):
        fields["admin"] = admin
    try:
        body = OrgCreate.model_validate(fields)
    except ValidationError as exc:
        raise _invalid(exc, OrgCreate.model_fields) from exc
    new = await orgs.create_org(
        db,
        user,
        body.name,
        display_name=body.display_name,
        admin_username=body.admin.username if body.admin else None,
        admin_password=body.admin.password if body.admin else None,
        source=client_address(request),
    )
    await db.commit()
    return templates.TemplateResponse(
        request, "_org_api_key.html", {"org": new.org, "api_key": new.api_key, "created": True}
    )


@router.post("/admin/orgs/{name}", dependencies=[Allow(Role.ADMIN)])
async def org_update_submit(
    name: str, request: Request, user: AdminUser, db: WriteDbDep
) -> Response:
    """Admins of the org: its display name; platform admins: also its name."""
    require_same_origin(request)
    form = await request.form()
    fields = {"display_name": form.get("display_name") or None, "name": form.get("name") or None}
    try:
        body = OrgUpdate.model_validate(fields)
    except ValidationError as exc:
        raise _invalid(exc, OrgUpdate.model_fields) from exc
    org = await orgs.find_managed_org(db, user, name)
    source = client_address(request)
    if body.name is not None and body.name != org.name:
        await orgs.rename_org(db, user, org, body.name, source=source)
    if body.display_name is not None:
        orgs.set_display_name(db, user, org, body.display_name, source=source)
    await db.commit()
    return _redirect(request, "/admin/orgs")


@router.post(
    "/admin/orgs/{name}/rotate-key", response_class=HTMLResponse, dependencies=[Allow(Role.ADMIN)]
)
async def org_rotate_key_submit(
    name: str, request: Request, user: AdminUser, db: WriteDbDep
) -> Response:
    """Admins of the org: revoke its API keys and show the one new key once (the
    page asked first)."""
    require_same_origin(request)
    org = await orgs.find_managed_org(db, user, name)
    key, revoked = await orgs.rotate_org_api_keys(db, user, org, source=client_address(request))
    await db.commit()
    return templates.TemplateResponse(
        request, "_org_api_key.html", {"org": org, "api_key": key, "revoked": revoked}
    )


@router.post("/admin/orgs/{name}/delete", dependencies=[Allow(Role.ADMIN)])
async def org_delete_submit(
    name: str, request: Request, user: AdminUser, context: ContextDep
) -> Response:
    """Platform admins: remove an org (the page said what it ends and asked)."""
    require_same_origin(request)
    await org_removal(context).remove(user, name, source=client_address(request))
    return _redirect(request, "/admin/orgs")
