"""Warm pools on the fake driver and a real database (SQLite, or PostgreSQL and
MariaDB through MOORAGE_DATABASE_URL): refills, claims (one winner per warm
workspace under concurrent launches), hand-over of secrets at the claim,
recycling, and no way to reach a warm workspace before its claim."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from moorage.db.base import utcnow
from moorage.models.warm import WarmState, WarmWorkspace
from moorage.reconciler.warm_pools import WarmPoolKeeper
from moorage.services.kinds.ssh import SshKind
from moorage.services.warm_pools import WARM_LABEL
from tests.unit.conftest import App


def keeper(app: App, **options) -> WarmPoolKeeper:
    context = app.context
    assert context.warm_pools is not None
    return WarmPoolKeeper(
        context.sessionmaker,
        context.drivers,
        context.warm_pools,
        max_age_seconds=options.pop("max_age_seconds", 3600),
        **options,
    )


async def warm_rows(app: App, state: str | None = None) -> list[WarmWorkspace]:
    async with app.context.sessionmaker() as db:
        query = select(WarmWorkspace).order_by(WarmWorkspace.created_at)
        if state is not None:
            query = query.where(WarmWorkspace.state == state)
        return list(await db.scalars(query))


async def set_warm(app: App, template: str, warm) -> None:
    response = await app.client.patch(f"/api/v1/templates/{template}", json={"warm": warm})
    assert response.status_code == 200, response.text


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_the_keeper_fills_a_pool_and_a_launch_claims_one_with_its_clock_from_the_claim(
    app: App, member
):
    await set_warm(app, "debian-shell", 2)
    await keeper(app).run()
    warm = await warm_rows(app, WarmState.WARM.value)
    assert len(warm) == 2 and len(app.driver.containers) == 2
    for container in app.driver.containers.values():
        assert container.labels[WARM_LABEL] == container.labels["moorage.session"]
        assert "moorage.user" not in container.labels  # nobody holds it yet
    status = (await app.client.get("/api/v1/reconciler")).json()["warm"]
    assert status["templates"]["debian-shell"] == {
        "target": 2,
        "warm": 2,
        "starting": 0,
        "claimed_last_day": 0,
    }

    before = utcnow()
    launched = await member.post(
        "/api/v1/sessions", json={"template": "debian-shell", "duration_minutes": 30}
    )
    assert launched.status_code == 201, launched.text
    session = launched.json()
    assert session["id"] == warm[0].id  # the oldest warm workspace, its container
    assert len(app.driver.containers) == 2
    assert parse(session["starts_at"]) >= before - timedelta(seconds=1)
    lasting = parse(session["expires_at"]) - parse(session["starts_at"])
    assert abs(lasting - timedelta(minutes=30)) < timedelta(seconds=1)
    (claimed,) = await warm_rows(app, WarmState.CLAIMED.value)
    assert claimed.id == session["id"]

    await keeper(app).run()  # refilled with a new one
    assert len(await warm_rows(app, WarmState.WARM.value)) == 2
    assert len(app.driver.containers) == 3
    # Released: its container goes, and it is never warm again.
    assert (await member.delete(f"/api/v1/sessions/{session['id']}")).status_code == 200
    assert claimed.container_id not in app.driver.containers
    await keeper(app).run()
    assert session["id"] not in {r.id for r in await warm_rows(app, WarmState.WARM.value)}
    # The sessions' keeper leaves warm containers alone.
    await app.context.reconciler.reconcile_once()
    assert len(app.driver.containers) == 2


async def test_concurrent_launches_never_share_a_warm_workspace(app: App):
    await set_warm(app, "debian-shell", 6)
    response = await app.client.patch(
        "/api/v1/templates/debian-shell", json={"max_sessions_per_user": 1}
    )
    assert response.status_code == 200
    await keeper(app).run()
    warm_ids = {r.id for r in await warm_rows(app, WarmState.WARM.value)}
    assert len(warm_ids) == 6
    clients: list[httpx.AsyncClient] = []
    for i in range(10):
        name = f"student{i}"
        created = await app.client.post(
            "/api/v1/users",
            json={"username": name, "password": f"{name}-password", "role": "member"},
        )
        assert created.status_code == 201, created.text
        clients.append(await app.login(name, f"{name}-password"))
    try:
        answers = await asyncio.gather(
            *(c.post("/api/v1/sessions", json={"template": "debian-shell"}) for c in clients)
        )
    finally:
        for c in clients:
            await c.aclose()
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
    ids = [a.json()["id"] for a in answers]
    assert len(set(ids)) == 10  # ten people, ten workspaces
    assert len(set(ids) & warm_ids) == 6  # every warm one claimed once, four cold starts
    assert {r.id for r in await warm_rows(app, WarmState.CLAIMED.value)} == warm_ids
    assert len(app.driver.containers) == 10


async def test_an_ssh_claim_replaces_the_password_nobody_was_told(app: App, member, monkeypatch):
    async def ready(self, started, timeout_seconds):
        return None

    monkeypatch.setattr(SshKind, "wait_ready", ready)
    app.driver.images.add("moorage/sshd:latest")
    await set_warm(app, "ssh-box", 1)
    await keeper(app).run()
    (container_id,) = app.driver.containers
    started_with = app.driver.secrets[container_id]
    launched = await member.post("/api/v1/sessions", json={"template": "ssh-box"})
    assert launched.status_code == 201, launched.text
    session = launched.json()
    password = session["connection"]["password"]
    assert password and password != started_with
    ((exec_container, command, user, data),) = app.driver.execs
    assert exec_container == container_id and user == "root" and "chpasswd" in command[-1]
    assert data == f"user:{password}\n".encode()
    assert password not in " ".join(command)  # on standard input only


async def test_a_member_cannot_reach_a_warm_workspace_by_its_id(app: App, member):
    await set_warm(app, "debian-shell", 1)
    await keeper(app).run()
    (row,) = await warm_rows(app, WarmState.WARM.value)
    for client in (member, app.client):  # not even an admin: it is nobody's session yet
        assert (await client.get(f"/api/v1/sessions/{row.id}")).status_code == 404
        assert (await client.delete(f"/api/v1/sessions/{row.id}")).status_code == 404
        assert (await client.get(f"/sessions/{row.id}")).status_code == 404
        assert (await client.get(f"/s/{row.id}/")).status_code == 404
    assert (await warm_rows(app, WarmState.WARM.value))[0].id == row.id


async def test_rebuilt_image_old_age_and_a_smaller_pool_recycle_warm_workspaces(app: App):
    await set_warm(app, "debian-shell", 3)
    await keeper(app).run()
    first = {r.id: r.container_id for r in await warm_rows(app)}
    app.driver.image_ids["moorage/terminal:latest"] = "sha256:rebuilt"
    await keeper(app).run()
    rows = await warm_rows(app, WarmState.WARM.value)
    assert len(rows) == 3 and not set(first) & {r.id for r in rows}
    assert all(r.image_id == "sha256:rebuilt" for r in rows)
    assert not set(first.values()) & set(app.driver.containers)

    later = utcnow() + timedelta(hours=2)
    await keeper(app, max_age_seconds=3600, clock=lambda: later).run()
    assert not {r.id for r in rows} & {r.id for r in await warm_rows(app)}

    await set_warm(app, "debian-shell", 1)
    await keeper(app).run()
    assert len(await warm_rows(app, WarmState.WARM.value)) == 1
    assert len(app.driver.containers) == 1
    response = await app.client.patch("/api/v1/templates/debian-shell", json={"enabled": False})
    assert response.status_code == 200
    await keeper(app).run()
    assert not await warm_rows(app) and not app.driver.containers


async def test_an_orphan_warm_container_is_swept(app: App):
    await set_warm(app, "debian-shell", 1)
    await keeper(app).run()
    (row,) = await warm_rows(app)
    async with app.context.sessionmaker() as db:  # as if a crash lost the row
        await db.delete(await db.get(WarmWorkspace, row.id))
        await db.commit()
    await set_warm(app, "debian-shell", 0)
    await keeper(app).run()
    assert not app.driver.containers


async def test_the_templates_page_shows_each_pool_and_its_form_sets_a_number(app: App):
    saved = await app.client.post(
        "/admin/templates/debian-shell",
        data={
            "display_name": "Debian shell",
            "image": "moorage/terminal:latest",
            "kind": "terminal",
            "warm": "2",
            "enabled": "on",
        },
    )
    assert saved.status_code in (200, 303), saved.text
    assert (await app.client.get("/api/v1/templates/debian-shell")).json()["warm"] == 2
    await keeper(app).run()
    page = (await app.client.get("/admin/templates")).text
    cell = page[page.index('data-warm="debian-shell"') :]
    assert "2 / 2" in cell[: cell.index("</td>")]
    assert "none" in page[page.index('data-warm="jupyter"') :][:200]


async def test_a_refill_waits_for_a_burst_of_claims_to_pause(app: App, member):
    import time

    pools = app.context.warm_pools
    assert pools is not None
    await set_warm(app, "debian-shell", 1)
    await keeper(app).run()
    pools.claims.quiet_seconds = 0.4  # the runtime's is CLAIMS_QUIET_SECONDS
    try:
        launched = await member.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert launched.status_code == 201, launched.text
        started = time.monotonic()
        await pools.claims.pause()  # the last claim was just now
        assert 0.3 <= time.monotonic() - started < 2
        started = time.monotonic()
        await pools.claims.pause()  # quiet since: at once
        assert time.monotonic() - started < 0.1
        pools.claims.claimed()
        started = time.monotonic()
        await pools.claims.pause(at_most_seconds=0.1)  # steady claims: bounded
        assert time.monotonic() - started < 0.3
    finally:
        pools.claims.quiet_seconds = 0.0
