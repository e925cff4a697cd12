"""Reconciler passes on the fake driver: both directions of drift, cut-off launches, expiry."""

import asyncio
from datetime import timedelta

from sqlalchemy import select

from moorage.db.base import new_id, utcnow
from moorage.db.engine import write_session
from moorage.drivers.base import WorkspaceNetwork, WorkspaceSpec
from moorage.models.environment import Environment
from moorage.models.session import WorkspaceSession
from moorage.models.template import Template
from moorage.models.user import User


async def state_of(app, session_id: str) -> WorkspaceSession:
    async with app.context.sessionmaker() as db:
        return await db.get(WorkspaceSession, session_id)


async def org_id(app) -> str:
    async with app.context.sessionmaker() as db:
        return (await db.scalar(select(User).where(User.username == "admin"))).org_id


async def test_an_orphan_container_is_removed_but_not_other_installations(app):
    orphan = await app.driver.create_workspace(
        WorkspaceSpec(
            name="moorage-orphan",
            image="moorage/terminal:latest",
            labels={"moorage.session": new_id(), "moorage.org": await org_id(app)},
            cpu_limit=1,
            memory_limit_mb=64,
        )
    )
    foreign = await app.driver.create_workspace(
        WorkspaceSpec(
            name="moorage-foreign",
            image="moorage/terminal:latest",
            labels={"moorage.session": new_id(), "moorage.org": new_id()},
            cpu_limit=1,
            memory_limit_mb=64,
        )
    )
    unrelated = await app.driver.create_workspace(
        WorkspaceSpec(
            name="not-ours",
            image="moorage/terminal:latest",
            labels={},
            cpu_limit=1,
            memory_limit_mb=64,
        )
    )
    await app.context.reconciler.reconcile_once()
    assert orphan.id not in app.driver.containers
    assert unrelated.id in app.driver.containers
    assert foreign.id in app.driver.containers
    assert "moorage-orphan" not in app.driver.networks  # removed with its container
    assert "moorage-foreign" in app.driver.networks


async def test_an_orphan_network_without_container_is_swept_but_a_live_one_is_kept(app):
    org = await org_id(app)
    launched = (await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})).json()
    assert f"moorage-{launched['id']}" in app.driver.networks
    lost = WorkspaceNetwork(
        new_id(), "moorage-lost", {"moorage.session": new_id(), "moorage.org": org}
    )
    foreign = WorkspaceNetwork(
        new_id(), "moorage-other", {"moorage.session": new_id(), "moorage.org": new_id()}
    )
    app.driver.networks.update({lost.name: lost, foreign.name: foreign})
    await app.context.reconciler.reconcile_once()
    assert "moorage-lost" not in app.driver.networks
    assert "moorage-other" in app.driver.networks
    assert f"moorage-{launched['id']}" in app.driver.networks  # its session is live
    await app.client.delete(f"/api/v1/sessions/{launched['id']}")
    assert f"moorage-{launched['id']}" not in app.driver.networks


async def test_a_session_whose_container_vanished_fails(app):
    launched = (await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})).json()
    app.driver.containers.clear()
    await app.context.reconciler.reconcile_once()
    row = await state_of(app, launched["id"])
    assert row.state == "failed" and row.error == "the container vanished"


async def test_a_launch_cut_off_by_a_crash_fails_and_its_container_goes(app):
    async with write_session(app.context.sessionmaker) as db:
        user = await db.scalar(select(User).where(User.username == "admin"))
        template = await db.scalar(select(Template))
        environment = await db.scalar(select(Environment))
        row = WorkspaceSession(
            id=new_id(),
            org_id=user.org_id,
            user_id=user.id,
            template_id=template.id,
            environment_id=environment.id,
            state="provisioning",
            expires_at=utcnow() + timedelta(hours=1),
            instance_id="a-server-that-died",
        )
        db.add(row)
    container = await app.driver.create_workspace(
        WorkspaceSpec(
            name="moorage-cut",
            image="moorage/terminal:latest",
            labels={"moorage.session": row.id, "moorage.org": row.org_id},
            cpu_limit=1,
            memory_limit_mb=64,
        )
    )
    await app.context.reconciler.reconcile_once()
    assert (await state_of(app, row.id)).state == "failed"
    await app.context.reconciler.reconcile_once()
    assert container.id not in app.driver.containers


async def test_a_short_session_is_released_at_its_deadline(app):
    launched = (
        await app.client.post(
            "/api/v1/sessions", json={"template": "debian-shell", "duration_seconds": 10}
        )
    ).json()
    # Move the deadline close, as the reconciler would see after 10 s.
    async with write_session(app.context.sessionmaker) as db:
        row = await db.get(WorkspaceSession, launched["id"])
        row.expires_at = utcnow() + timedelta(milliseconds=200)
        deadline = row.expires_at
    app.context.reconciler.queue.schedule(("session", launched["id"]), deadline)
    for _ in range(100):
        if (await state_of(app, launched["id"])).state == "released":
            break
        await asyncio.sleep(0.05)
    row = await state_of(app, launched["id"])
    assert row.state == "released"
    assert not app.driver.containers
    assert timedelta(0) <= row.released_at - deadline < timedelta(seconds=2)
    assert app.context.reconciler.status()["expiry_lateness_seconds"]["session"]["count"] == 1


async def test_a_release_refused_by_docker_is_retried_by_the_next_pass(app):
    launched = (await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})).json()
    app.driver.reachable = False
    response = await app.client.delete(f"/api/v1/sessions/{launched['id']}")
    assert response.json()["state"] == "releasing"
    app.driver.reachable = True
    await app.context.reconciler.reconcile_once()
    assert (await state_of(app, launched["id"])).state == "released"
    assert not app.driver.containers
