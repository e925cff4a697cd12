"""Reconciler passes on the fake driver: both directions of drift, cut-off launches, expiry."""

import asyncio
from datetime import timedelta

from sqlalchemy import select

from moorage.db.base import new_id, utcnow
from moorage.db.engine import write_session
from moorage.drivers.base import WorkspaceNetwork, WorkspaceSpec
from moorage.drivers.fake import WORKSPACES_NETWORK
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
    assert list(app.driver.networks) == [WORKSPACES_NETWORK]  # shared, never swept


async def test_workspaces_share_one_network_that_outlives_them(app):
    sessions = [
        (await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})).json()
        for _ in range(3)
    ]
    assert all(s["state"] == "ready" for s in sessions), sessions
    assert list(app.driver.networks) == [WORKSPACES_NETWORK]
    assert set(app.driver.joined.values()) == {WORKSPACES_NETWORK}
    assert len(app.driver.joined) == 3
    for session in sessions:
        await app.client.delete(f"/api/v1/sessions/{session['id']}")
    await app.context.reconciler.reconcile_once()
    assert app.driver.joined == {}
    assert list(app.driver.networks) == [WORKSPACES_NETWORK]


async def test_a_per_session_network_left_by_earlier_versions_is_swept_once_its_session_ends(
    app,
):
    org = await org_id(app)
    launched = (await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})).json()
    # The bridges earlier versions gave each session: one whose session is live
    # (it launched before the upgrade), one whose session is gone, one of another
    # installation sharing the engine.
    legacy, lost, foreign = (
        WorkspaceNetwork(new_id(), name, {"moorage.session": session, "moorage.org": owner})
        for name, session, owner in (
            (f"moorage-{launched['id']}", launched["id"], org),
            ("moorage-lost", new_id(), org),
            ("moorage-other", new_id(), new_id()),
        )
    )
    # A warm workspace's own network (a swarm's overlay): its keeper's, until claimed.
    warm_id = new_id()
    warm = WorkspaceNetwork(
        new_id(),
        f"moorage-{warm_id}",
        {"moorage.session": warm_id, "moorage.org": org, "moorage.warm": warm_id},
    )
    app.driver.networks.update({n.name: n for n in (legacy, lost, foreign, warm)})
    await app.context.reconciler.reconcile_once()
    assert "moorage-lost" not in app.driver.networks
    assert "moorage-other" in app.driver.networks
    assert warm.name in app.driver.networks
    assert legacy.name in app.driver.networks  # its session is live
    assert WORKSPACES_NETWORK in app.driver.networks
    await app.client.delete(f"/api/v1/sessions/{launched['id']}")
    await app.context.reconciler.reconcile_once()
    assert legacy.name not in app.driver.networks
    assert WORKSPACES_NETWORK in app.driver.networks


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


async def test_pass_now_expires_what_is_due_at_once_and_only_where_it_leads(app):
    launched = (await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})).json()
    async with write_session(app.context.sessionmaker) as db:
        row = await db.get(WorkspaceSession, launched["id"])
        row.expires_at = utcnow() - timedelta(seconds=1)
    reconciler = app.context.reconciler
    reconciler.is_leader = False  # another process leads: nothing is done here
    assert await reconciler.pass_now() is False
    assert (await state_of(app, launched["id"])).state == "ready"
    reconciler.is_leader = True
    assert await reconciler.pass_now() is True
    assert (await state_of(app, launched["id"])).state == "released"  # done when it returns
    assert not app.driver.containers
