"""The admins' templates page: every template with its warm pool, and the forms that
add, change and remove templates. The rules (admin role, validation, audit log) are
the service's (:mod:`moorage.services.templates`), as for the API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from moorage.api.deps import ContextDep, DbDep, WriteDbDep
from moorage.models.user import Role
from moorage.schemas.template import TemplateCreate, TemplateUpdate
from moorage.security.access import Allow
from moorage.security.auth import AdminUser
from moorage.services import templates as template_service
from moorage.services.templates import visible_templates
from moorage.web.pages import _invalid, _redirect, _same_origin, templates

__all__ = ["CHECKBOXES", "router"]

router = APIRouter(include_in_schema=False)


@router.get("/admin/templates", response_class=HTMLResponse, dependencies=[Allow(Role.ADMIN)])
async def templates_page(
    request: Request, user: AdminUser, db: DbDep, context: ContextDep
) -> Response:
    """Admins: every template, with forms to add, change and remove them, and each
    warm pool (target, warm, starting), counted apart from sessions."""
    pools = context.warm_pools
    return templates.TemplateResponse(
        request,
        "admin_templates.html",
        {
            "user": user,
            "templates": await visible_templates(db, user),
            "warm": (await pools.status(db))["templates"] if pools is not None else {},
        },
    )


CHECKBOXES = ("enabled", "recording", "record_input")


def _form_fields(form) -> dict[str, object]:
    """A template form as the schema's input: empty fields left out (the schema's
    defaults apply), the :data:`CHECKBOXES` as booleans, ``idle_ignore_paths`` one
    pattern a line, ``warm`` a number."""
    fields: dict[str, object] = {k: v for k, v in form.items() if v != "" and k not in CHECKBOXES}
    for box in CHECKBOXES:
        fields[box] = form.get(box) in ("on", "true", "1")
    if "idle_ignore_paths" in fields:  # one regular expression a line
        lines = str(fields["idle_ignore_paths"]).splitlines()
        fields["idle_ignore_paths"] = [line.strip() for line in lines if line.strip()]
    warm = fields.get("warm")
    if isinstance(warm, str) and warm.isdigit():
        fields["warm"] = int(warm)  # the form's number; a schedule is set through the API
    return fields


@router.post("/admin/templates", dependencies=[Allow(Role.ADMIN)])
async def template_create_submit(request: Request, user: AdminUser, db: WriteDbDep) -> Response:
    """Admins: add a template from the form (the API's rules, audited)."""
    _same_origin(request)
    try:
        body = TemplateCreate.model_validate(_form_fields(await request.form()))
    except ValidationError as exc:
        raise _invalid(exc, TemplateCreate.model_fields) from exc
    await template_service.create_template(db, user, body)
    await db.commit()
    return _redirect(request, "/admin/templates")


@router.post("/admin/templates/{ref}", dependencies=[Allow(Role.ADMIN)])
async def template_update_submit(
    ref: str, request: Request, user: AdminUser, db: WriteDbDep
) -> Response:
    """Admins: change a template from the form (the API's rules, audited)."""
    _same_origin(request)
    try:
        body = TemplateUpdate.model_validate(_form_fields(await request.form()))
    except ValidationError as exc:
        raise _invalid(exc, TemplateUpdate.model_fields) from exc
    await template_service.update_template(db, user, ref, body)
    await db.commit()
    return _redirect(request, "/admin/templates")


@router.post("/admin/templates/{ref}/delete", dependencies=[Allow(Role.ADMIN)])
async def template_delete_submit(
    ref: str, request: Request, user: AdminUser, db: WriteDbDep
) -> Response:
    """Admins: remove a template no session used (the API's rules, audited)."""
    _same_origin(request)
    await template_service.delete_template(db, user, ref)
    await db.commit()
    return _redirect(request, "/admin/templates")
