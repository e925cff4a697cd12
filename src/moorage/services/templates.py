"""Templates: lookup by id or name, the catalog a user may launch from, and the
admins' changes to it (each checked and written to the audit log here, so the
API, the pages and any other caller get the same rules)."""

from __future__ import annotations

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.errors import Conflict, InvalidInput, NotFound
from moorage.models.lease import LIVE_STATES
from moorage.models.session import WorkspaceSession
from moorage.models.template import Template
from moorage.models.user import User
from moorage.models.warm import WarmWorkspace
from moorage.schemas.template import TemplateCreate, TemplateUpdate
from moorage.schemas.warm import stored_warm
from moorage.security.rbac import Role, has_role, require_role
from moorage.services.audit import audit_in
from moorage.services.groups import launchable

__all__ = [
    "create_template",
    "delete_template",
    "find_template",
    "update_template",
    "visible_templates",
]


async def find_template(db: AsyncSession, ref: str, user: User) -> Template:
    """The template whose id or name is ``ref``, in the user's org.

    Disabled templates are visible to admins only.

    Raises:
        NotFound: no such template, or the user may not see it.
    """
    template = await db.scalar(
        select(Template).where(
            Template.org_id == user.org_id, or_(Template.id == ref, Template.name == ref)
        )
    )
    if template is None or (not template.enabled and not has_role(user, Role.ADMIN)):
        raise NotFound("no template named %(ref)r", params={"ref": ref}, code="template_not_found")
    return template


async def visible_templates(db: AsyncSession, user: User) -> list[Template]:
    """Templates of the user's org that the user may launch, by display name (a
    template restricted to groups only for their members,
    :func:`~moorage.services.groups.launchable`); disabled ones and every group's
    for admins only."""
    query = select(Template).where(Template.org_id == user.org_id, launchable(user))
    if not has_role(user, Role.ADMIN):
        query = query.where(Template.enabled.is_(True))
    return list(await db.scalars(query.order_by(Template.display_name)))


async def create_template(db: AsyncSession, admin: User, body: TemplateCreate) -> Template:
    """Add a template to the admin's org (audited ``template.create``; not committed).

    Raises:
        Forbidden: ``admin`` is not an admin.
        Conflict: the name is taken (``template_exists``).
    """
    require_role(admin, Role.ADMIN)
    if await db.scalar(select(Template.id).where(Template.name == body.name)):
        raise Conflict(
            "a template named %(name)r exists", params={"name": body.name}, code="template_exists"
        )
    template = Template(org_id=admin.org_id, **body.model_dump(exclude={"warm"}))
    template.kind = body.kind.value
    template.idle_timeout_seconds = body.idle_timeout_seconds or None  # 0: never
    template.warm = stored_warm(body.warm)
    db.add(template)
    audit_in(db, admin, "template.create", "template", body.name)
    return template


async def update_template(
    db: AsyncSession, admin: User, ref: str, body: TemplateUpdate
) -> Template:
    """Change the fields set in ``body`` (audited ``template.update`` with the field
    names; not committed). Running sessions keep their limits until they end.

    Raises:
        Forbidden: not an admin. NotFound: no such template.
        InvalidInput: a field set to null, or a default duration over the maximum.
    """
    require_role(admin, Role.ADMIN)
    template = await find_template(db, ref, admin)
    changes = body.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None:
            raise InvalidInput("%(field)s cannot be null", params={"field": field}, field=field)
        if field == "idle_timeout_seconds":
            value = value or None  # 0: never
        if field == "warm":
            template.warm = stored_warm(body.warm or 0)
        else:
            setattr(template, field, value.value if field == "kind" else value)
    if template.default_duration_minutes > template.max_duration_minutes:
        raise InvalidInput(
            "default_duration_minutes must not exceed max_duration_minutes",
            field="default_duration_minutes",
        )
    audit_in(db, admin, "template.update", "template", template.name, detail=", ".join(changes))
    return template


async def delete_template(db: AsyncSession, admin: User, ref: str) -> None:
    """Remove a template no session ever used (audited ``template.delete``; not committed).

    Raises:
        Forbidden: not an admin. NotFound: no such template.
        Conflict: sessions used it (``template_in_use``, naming how many are
            live); disable it instead.
    """
    require_role(admin, Role.ADMIN)
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
    # Its warm workspaces go with it; the warm pools' keeper removes their containers
    # (labelled, no longer owned by a row).
    await db.execute(delete(WarmWorkspace).where(WarmWorkspace.template_id == template.id))
    await db.delete(template)
    audit_in(db, admin, "template.delete", "template", template.name)
