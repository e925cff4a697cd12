"""Templates: everyone reads what they may launch; admins write."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from moorage.api.deps import AdminUser, CurrentUser, DbDep, WriteDbDep
from moorage.api.pagination import Page
from moorage.models.user import Role
from moorage.schemas.template import TemplateCreate, TemplatePublic, TemplateUpdate
from moorage.security.access import Allow
from moorage.services import templates

router = APIRouter(prefix="/templates", tags=["templates"])


@router.get("", response_model=list[TemplatePublic], dependencies=[Allow(Role.VIEWER)])
async def list_templates(
    db: DbDep, user: CurrentUser, page: Page, request: Request, response: Response
):
    """Templates the caller may launch (admins also see disabled ones). Pages: ``limit``
    and ``cursor``, the next page's URL in ``Link``."""
    return page.apply(request, response, await templates.visible_templates(db, user))


@router.get("/{ref}", response_model=TemplatePublic, dependencies=[Allow(Role.VIEWER)])
async def get_template(ref: str, db: DbDep, user: CurrentUser):
    """One template by id or name; 404 when unknown (or disabled, for non-admins)."""
    return await templates.find_template(db, ref, user)


@router.post("", status_code=201, response_model=TemplatePublic, dependencies=[Allow(Role.ADMIN)])
async def create_template(body: TemplateCreate, db: WriteDbDep, admin: AdminUser):
    """Admins: add a template. 409 when the name is taken."""
    template = await templates.create_template(db, admin, body)
    await db.commit()
    return template


@router.patch("/{ref}", response_model=TemplatePublic, dependencies=[Allow(Role.ADMIN)])
async def update_template(ref: str, body: TemplateUpdate, db: WriteDbDep, admin: AdminUser):
    """Admins: change the given fields. Running sessions keep their limits until they
    end. 422 for a null field or a default duration over the maximum."""
    template = await templates.update_template(db, admin, ref, body)
    await db.commit()
    return template


@router.delete("/{ref}", status_code=204, dependencies=[Allow(Role.ADMIN)])
async def delete_template(ref: str, db: WriteDbDep, admin: AdminUser) -> Response:
    """Admins: remove a template that no session ever used; otherwise 409 (disable it
    instead)."""
    await templates.delete_template(db, admin, ref)
    await db.commit()
    return Response(status_code=204)
