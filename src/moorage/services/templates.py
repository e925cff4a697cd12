"""Templates: lookup by id or name, and the catalog a user may launch from."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from moorage.errors import NotFound
from moorage.models.template import Template
from moorage.models.user import User
from moorage.security.rbac import Role, has_role

__all__ = ["find_template", "visible_templates"]


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
        raise NotFound(f"no template named {ref!r}", code="template_not_found")
    return template


async def visible_templates(db: AsyncSession, user: User) -> list[Template]:
    """Templates of the user's org, by display name; disabled ones for admins only."""
    query = select(Template).where(Template.org_id == user.org_id)
    if not has_role(user, Role.ADMIN):
        query = query.where(Template.enabled.is_(True))
    return list(await db.scalars(query.order_by(Template.display_name)))
