"""Templates: everyone reads what they may launch; admins write."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import func, select

from moorage.api.deps import AdminUser, CurrentUser, DbDep, WriteDbDep
from moorage.errors import Conflict, InvalidInput
from moorage.models.lease import LIVE_STATES
from moorage.models.session import WorkspaceSession
from moorage.models.template import Template
from moorage.schemas.template import TemplateCreate, TemplatePublic, TemplateUpdate
from moorage.services.audit import audit_in
from moorage.services.templates import find_template, visible_templates

router = APIRouter(prefix="/templates", tags=["templates"])


@router.get("", response_model=list[TemplatePublic])
async def list_templates(db: DbDep, user: CurrentUser):
    """Templates the caller may launch (admins also see disabled ones)."""
    return await visible_templates(db, user)


@router.get("/{ref}", response_model=TemplatePublic)
async def get_template(ref: str, db: DbDep, user: CurrentUser):
    return await find_template(db, ref, user)


@router.post("", status_code=201, response_model=TemplatePublic)
async def create_template(body: TemplateCreate, db: WriteDbDep, admin: AdminUser):
    """Add a template. 409 when the name is taken."""
    if await db.scalar(select(Template.id).where(Template.name == body.name)):
        raise Conflict(f"a template named {body.name!r} exists", code="template_exists")
    template = Template(org_id=admin.org_id, **body.model_dump())
    template.kind = body.kind.value
    db.add(template)
    audit_in(db, admin, "template.create", "template", body.name)
    await db.commit()
    return template


@router.patch("/{ref}", response_model=TemplatePublic)
async def update_template(ref: str, body: TemplateUpdate, db: WriteDbDep, admin: AdminUser):
    """Change the given fields. Running sessions keep their limits until they end."""
    template = await find_template(db, ref, admin)
    changes = body.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None:
            raise InvalidInput(f"{field} cannot be null", field=field)
        setattr(template, field, value.value if field == "kind" else value)
    if template.default_duration_minutes > template.max_duration_minutes:
        raise InvalidInput(
            "default_duration_minutes must not exceed max_duration_minutes",
            field="default_duration_minutes",
        )
    audit_in(db, admin, "template.update", "template", template.name, detail=", ".join(changes))
    await db.commit()
    return template


@router.delete("/{ref}", status_code=204)
async def delete_template(ref: str, db: WriteDbDep, admin: AdminUser) -> Response:
    """Remove a template that no session ever used; otherwise 409 (disable it instead)."""
    template = await find_template(db, ref, admin)
    used = await db.scalar(
        select(func.count())
        .select_from(WorkspaceSession)
        .where(WorkspaceSession.template_id == template.id)
    )
    if used:
        live = await db.scalar(
            select(func.count())
            .select_from(WorkspaceSession)
            .where(
                WorkspaceSession.template_id == template.id, WorkspaceSession.state.in_(LIVE_STATES)
            )
        )
        raise Conflict(
            f"{template.name} has {used} sessions in its history ({live} live); disable it instead",
            code="template_in_use",
        )
    await db.delete(template)
    audit_in(db, admin, "template.delete", "template", template.name)
    await db.commit()
    return Response(status_code=204)
