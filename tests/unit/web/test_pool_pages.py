"""The machine forms of the UI pass the same operator guard as the API, and audit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from moorage.models.audit import AuditEvent
from moorage.models.machine import Machine

MACHINE = {"name": "m1", "host": "127.0.0.1", "port": 22, "user": "root", "password": "pw-123"}


async def machine_names(app) -> list[str]:
    async with app.context.sessionmaker() as db:
        return list(await db.scalars(select(Machine.name).order_by(Machine.name)))


async def audited(app, action: str) -> list[str]:
    async with app.context.sessionmaker() as db:
        rows = await db.scalars(select(AuditEvent).where(AuditEvent.action == action))
        return [f"{row.username}:{row.object_id}" for row in rows]


@pytest.fixture
async def machine(app):
    response = await app.client.post("/api/v1/machines", json=MACHINE)
    assert response.status_code == 201, response.text
    return app


@pytest.mark.parametrize("role", ["member", "viewer", "instructor"])
async def test_below_operator_the_delete_form_is_403_and_deletes_nothing(machine, login_as, role):
    client = await login_as(role)
    response = await client.post("/ui/machines/m1/delete")
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert "operator" in response.text
    assert await machine_names(machine) == ["m1"]
    assert await audited(machine, "machine.delete") == []


@pytest.mark.parametrize("role", ["member", "viewer"])
async def test_below_operator_the_other_machine_forms_are_403(machine, login_as, role):
    client = await login_as(role)
    maintenance = await client.post("/ui/machines/m1/maintenance")
    imported = await client.post("/ui/machines/import", data={"text": "m2 127.0.0.2 22 root pw"})
    page = await client.get("/machines")
    assert (maintenance.status_code, imported.status_code, page.status_code) == (403, 403, 403)
    assert await machine_names(machine) == ["m1"]
    async with machine.context.sessionmaker() as db:
        assert (await db.scalar(select(Machine.status))) != "maintenance"


async def test_an_operators_delete_form_deletes_and_is_audited(machine, login_as):
    operator = await login_as("operator")
    response = await operator.post("/ui/machines/m1/delete")
    assert response.status_code == 303 and response.headers["location"] == "/machines"
    assert await machine_names(machine) == []
    assert await audited(machine, "machine.delete") == ["operator-0:m1"]


async def test_an_operators_maintenance_and_import_forms_work_and_are_audited(machine, login_as):
    operator = await login_as("operator")
    assert (await operator.post("/ui/machines/m1/maintenance")).status_code == 303
    async with machine.context.sessionmaker() as db:
        assert await db.scalar(select(Machine.status)) == "maintenance"
    imported = await operator.post("/ui/machines/import", data={"text": "m2 127.0.0.2 22 root pw"})
    assert imported.status_code == 303
    assert await machine_names(machine) == ["m1", "m2"]
    assert await audited(machine, "machine.update") == ["operator-0:m1"]
    assert await audited(machine, "machine.import") == ["operator-0:m2"]


async def test_a_cross_site_form_post_is_refused_even_for_an_operator(machine, login_as):
    operator = await login_as("operator")
    response = await operator.post(
        "/ui/machines/m1/delete", headers={"Origin": "http://evil.example"}
    )
    assert response.status_code == 403
    assert await machine_names(machine) == ["m1"]


async def test_a_bad_import_line_names_the_forms_textarea_and_imports_nothing(app):
    response = await app.client.post(
        "/ui/machines/import",
        data={"text": "ok-1 127.0.0.1 22 root pw\nbroken-line", "pool": "default"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert 'data-error-field="text"' in response.text
    assert "line 2" in response.text
    assert await machine_names(app) == []
