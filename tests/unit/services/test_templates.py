"""Template changes check the admin role in the service, whoever calls it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from moorage.db.engine import write_session
from moorage.errors import Forbidden
from moorage.models.audit import AuditEvent
from moorage.models.user import Role
from moorage.schemas.template import TemplateCreate, TemplateUpdate
from moorage.services import templates
from moorage.services.users import create_user, find_user


async def test_only_admins_change_templates_and_each_change_is_audited(app):
    async with write_session(app.context.sessionmaker) as db:
        admin = await find_user(db, "admin")
        operator = await create_user(
            db, org_id=admin.org_id, username="olga", password="olga-password", role=Role.OPERATOR
        )
        body = TemplateCreate(name="lab", display_name="Lab", image="moorage/terminal:latest")
        for change in (
            templates.create_template(db, operator, body),
            templates.update_template(db, operator, "debian-shell", TemplateUpdate(enabled=False)),
            templates.delete_template(db, operator, "debian-shell"),
        ):
            with pytest.raises(Forbidden):
                await change
        await templates.create_template(db, admin, body)
    async with app.context.sessionmaker() as db:
        changes = select(AuditEvent.action).where(AuditEvent.action.startswith("template."))
        events = list(await db.scalars(changes))
    assert events == ["template.create"]
