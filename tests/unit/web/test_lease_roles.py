"""Launching a session and reserving machines need the member role, whichever entry
point asks (the services check it): a viewer gets 403 ``forbidden`` from the API and
the forms, nothing is written, and the pages offer a viewer no launch or reserve form."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from moorage.models.audit import AuditEvent
from moorage.models.reservation import Reservation
from moorage.models.session import WorkspaceSession

POOL = "m1 127.0.0.1 22 root password-1\nm2 127.0.0.2 22 root password-2\n"


async def count(app, model) -> int:
    async with app.context.sessionmaker() as db:
        return await db.scalar(select(func.count()).select_from(model)) or 0


async def lease_events(app) -> int:
    async with app.context.sessionmaker() as db:
        query = select(func.count()).where(
            AuditEvent.action.startswith("session.") | AuditEvent.action.startswith("reservation.")
        )
        return await db.scalar(query.select_from(AuditEvent)) or 0


@pytest.fixture
async def pool(app):
    response = await app.client.post("/api/v1/machines/import", content=POOL)
    assert response.status_code == 201
    await app.context.prober.run()
    return app


async def test_a_viewer_launches_nothing_through_the_api_or_the_form(app, login_as):
    viewer = await login_as("viewer")
    api = await viewer.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "forbidden"
    form = await viewer.post(
        "/ui/sessions", data={"template": "debian-shell", "duration_minutes": "30"}
    )
    assert form.status_code == 403 and "member" in form.text
    assert await count(app, WorkspaceSession) == 0 and not app.driver.containers
    assert await lease_events(app) == 0


async def test_a_viewer_reserves_nothing_through_the_api_or_the_form(pool, login_as):
    viewer = await login_as("viewer")
    api = await viewer.post("/api/v1/reservations", json={"count": 1})
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "forbidden"
    form = await viewer.post(
        "/ui/reservations", data={"pool": "default", "count": "1", "duration_minutes": "60"}
    )
    assert form.status_code == 403 and "member" in form.text
    assert await count(pool, Reservation) == 0 and pool.connector.accounts.get("m1", set()) == set()
    assert await lease_events(pool) == 0


@pytest.mark.parametrize("role", ["member", "instructor", "operator"])
async def test_members_and_above_launch_and_reserve(pool, login_as, role):
    client = await login_as(role)
    launched = await client.post("/api/v1/sessions", json={"template": "debian-shell"})
    reserved = await client.post("/api/v1/reservations", json={"count": 1})
    assert (launched.status_code, reserved.status_code) == (201, 201), reserved.text


async def test_the_pages_offer_a_viewer_no_launch_or_reserve_form(pool, login_as):
    viewer, member = await login_as("viewer"), await login_as("member")
    viewer_dashboard, member_dashboard = await viewer.get("/"), await member.get("/")
    assert viewer_dashboard.status_code == 200 and member_dashboard.status_code == 200
    assert 'hx-post="/ui/sessions"' in member_dashboard.text
    assert 'hx-post="/ui/sessions"' not in viewer_dashboard.text
    assert 'data-template="debian-shell"' in viewer_dashboard.text  # the catalog is still shown
    # As a browser asks (Accept: text/html): Projet-IAC's GET /reservations answers API clients.
    html = {"Accept": "text/html"}
    viewer_page = await viewer.get("/reservations", headers=html)
    member_page = await member.get("/reservations", headers=html)
    assert 'id="reserve-form"' in member_page.text
    assert 'id="reserve-form"' not in viewer_page.text
    assert "needs the member role" in viewer_page.text
