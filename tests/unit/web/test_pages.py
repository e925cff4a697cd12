"""The template forms of the UI pass the same admin guard as the API, and audit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from moorage.models.audit import AuditEvent
from moorage.models.template import Template

FORM = {"name": "py-lab", "display_name": "Python lab", "image": "moorage/terminal:latest"}


async def template(app, name: str) -> Template | None:
    async with app.context.sessionmaker() as db:
        return await db.scalar(select(Template).where(Template.name == name))


async def audited(app, prefix: str) -> list[str]:
    async with app.context.sessionmaker() as db:
        rows = await db.scalars(select(AuditEvent).where(AuditEvent.action.startswith(prefix)))
        return sorted(f"{row.action}:{row.object_id}" for row in rows)


@pytest.mark.parametrize("role", ["member", "viewer", "operator"])
async def test_below_admin_the_template_forms_are_403_and_change_nothing(app, login_as, role):
    client = await login_as(role)
    before = (await template(app, "debian-shell")).display_name
    created = await client.post("/admin/templates", data=FORM)
    updated = await client.post("/admin/templates/debian-shell", data={"display_name": "Pwned"})
    deleted = await client.post("/admin/templates/debian-shell/delete")
    page = await client.get("/admin/templates")
    statuses = [r.status_code for r in (created, updated, deleted, page)]
    assert statuses == [403, 403, 403, 403]
    assert "admin" in deleted.text
    assert await template(app, "py-lab") is None
    kept = await template(app, "debian-shell")
    assert kept is not None and kept.display_name == before
    assert await audited(app, "template.") == []


async def test_an_admins_template_forms_work_and_are_audited(app):
    created = await app.client.post("/admin/templates", data=FORM)
    assert created.status_code == 303, created.text
    assert (await template(app, "py-lab")).display_name == "Python lab"
    updated = await app.client.post("/admin/templates/py-lab", data={"display_name": "Py"})
    assert updated.status_code == 303
    assert (await template(app, "py-lab")).display_name == "Py"
    deleted = await app.client.post("/admin/templates/py-lab/delete")
    assert deleted.status_code == 303
    assert await template(app, "py-lab") is None
    assert await audited(app, "template.") == [
        "template.create:py-lab",
        "template.delete:py-lab",
        "template.update:py-lab",
    ]


async def test_the_api_writes_the_same_audit_events_once(app):
    created = await app.client.post("/api/v1/templates", json=FORM)
    assert created.status_code == 201
    assert (await app.client.delete("/api/v1/templates/py-lab")).status_code == 204
    assert await audited(app, "template.") == ["template.create:py-lab", "template.delete:py-lab"]


async def test_anonymous_template_forms_redirect_to_login(app):
    anonymous = app.client.__class__(
        transport=app.client._transport,
        base_url="http://testserver",
        headers={"origin": "http://testserver"},  # a same-origin form, as a browser sends it
    )
    response = await anonymous.post("/admin/templates", data=FORM)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/admin/templates"
    assert await template(app, "py-lab") is None
