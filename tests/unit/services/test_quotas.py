"""Quotas of orgs and groups, checked atomically at lease creation, on the fake
driver and a real database (SQLite, or PostgreSQL/MariaDB with MOORAGE_DATABASE_URL)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import func, select

from moorage.db.engine import write_session
from moorage.models.lease import LIVE_STATES
from moorage.models.session import WorkspaceSession
from moorage.models.user import Role
from moorage.services.users import create_token, create_user, find_user
from tests.unit.conftest import BASE_URL, App

POOL = "".join(f"m{i} 127.0.0.{i} 22 root password-{i}\n" for i in range(1, 5))


async def users_with_tokens(app: App, names: list[str]) -> dict[str, httpx.AsyncClient]:
    """Members made straight in the database (no Argon2 per login), each with a
    bearer-token client."""
    clients = {}
    async with write_session(app.context.sessionmaker) as db:
        admin = await find_user(db, "admin")
        for name in names:
            user = await create_user(
                db, org_id=admin.org_id, username=name, password=f"{name}-password",
                role=Role.MEMBER,
            )  # fmt: skip
            token = await create_token(db, user, name="test")
            clients[name] = token
    return {
        name: httpx.AsyncClient(
            transport=app.client._transport,
            base_url=BASE_URL,
            headers={"Authorization": f"Bearer {token}"},
        )
        for name, token in clients.items()
    }


async def live_sessions(app: App) -> int:
    async with app.context.sessionmaker() as db:
        query = select(func.count()).select_from(WorkspaceSession)
        return await db.scalar(query.where(WorkspaceSession.state.in_(LIVE_STATES))) or 0


async def open_template(app: App, **fields) -> None:
    body = {"max_sessions_per_user": 50, **fields}
    response = await app.client.patch("/api/v1/templates/debian-shell", json=body)
    assert response.status_code == 200, response.text


async def test_fifty_concurrent_launches_against_an_org_quota_of_ten(app: App):
    await open_template(app)
    quota = await app.client.patch("/api/v1/orgs/default/quota", json={"max_live_sessions": 10})
    assert quota.status_code == 200, quota.text
    clients = await users_with_tokens(app, [f"racer{i}" for i in range(10)])
    launches = [c for c in clients.values() for _ in range(5)]
    started = time.perf_counter()
    answers = await asyncio.gather(
        *(c.post("/api/v1/sessions", json={"template": "debian-shell"}) for c in launches)
    )
    elapsed = time.perf_counter() - started
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] * 10 + [429] * 40, [a.text for a in answers if a.status_code >= 500]
    for refused in (a.json()["error"] for a in answers if a.status_code == 429):
        assert refused["quota"] == "max_live_sessions" and refused["scope"] == "org"
        assert "max_live_sessions quota of org default is 10" in refused["message"]
    assert await live_sessions(app) == 10 and len(app.driver.containers) == 10
    print(f"50 launches against a quota of 10: 10 × 201, 40 × 429 in {elapsed:.2f} s")
    for client in clients.values():
        await client.aclose()


async def test_a_group_quota_caps_its_members_together(app: App):
    await open_template(app)
    clients = await users_with_tokens(app, ["g1", "g2", "outsider"])
    made = await app.client.post(
        "/api/v1/groups", json={"name": "class-3b", "max_live_sessions": 2}
    )
    assert made.status_code == 201, made.text
    users = {u["username"]: u["id"] for u in (await app.client.get("/api/v1/users")).json()}
    for name in ("g1", "g2"):
        patched = await app.client.patch(
            f"/api/v1/users/{users[name]}", json={"groups": ["class-3b"]}
        )
        assert patched.json()["groups"] == ["class-3b"]
    answers = await asyncio.gather(
        *(clients[n].post("/api/v1/sessions", json={"template": "debian-shell"})
          for n in ("g1", "g2", "g1", "g2"))
    )  # fmt: skip
    assert sorted(a.status_code for a in answers) == [201, 201, 429, 429]
    refused = next(a.json()["error"] for a in answers if a.status_code == 429)
    assert refused["group"] == "class-3b" and "group class-3b" in refused["message"]
    outside = await clients["outsider"].post("/api/v1/sessions", json={"template": "debian-shell"})
    assert outside.status_code == 201  # not in the group: not held by its quota


async def test_cpu_quota_counts_running_sessions_not_stopped_ones(app: App):
    await open_template(app, cpu_limit=1.0)
    await app.client.patch("/api/v1/orgs/default/quota", json={"max_cpu_cores": 1.5})
    first = await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert first.status_code == 201
    second = await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert second.status_code == 429
    assert second.json()["error"]["quota"] == "max_cpu_cores"
    assert "1.5 CPU cores" in second.json()["error"]["message"]
    stopped = await app.client.post(f"/api/v1/sessions/{first.json()['id']}/stop")
    assert stopped.status_code == 200, stopped.text
    third = await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert third.status_code == 201  # a stopped session holds no CPU
    # Starting the stopped one again would hold 2 cores: refused, and it stays stopped.
    again = await app.client.post(f"/api/v1/sessions/{first.json()['id']}/start")
    assert again.status_code == 429 and again.json()["error"]["quota"] == "max_cpu_cores"
    state = (await app.client.get(f"/api/v1/sessions/{first.json()['id']}")).json()["state"]
    assert state == "stopped"
    running = [c for c in app.driver.containers.values() if c.state == "running"]
    assert len(running) == 1


async def test_memory_quota_names_the_memory(app: App):
    await open_template(app, memory_limit_mb=512)
    await app.client.patch("/api/v1/orgs/default/quota", json={"max_memory_mb": 600})
    assert (await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})).is_success
    refused = await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert refused.status_code == 429 and refused.json()["error"]["quota"] == "max_memory_mb"


async def test_longest_lease_caps_launch_and_extension(app: App):
    await app.client.patch("/api/v1/orgs/default/quota", json={"max_lease_minutes": 30})
    long = await app.client.post(
        "/api/v1/sessions", json={"template": "debian-shell", "duration_minutes": 60}
    )
    assert long.status_code == 429 and long.json()["error"]["quota"] == "max_lease_minutes"
    assert await live_sessions(app) == 0 and not app.driver.containers
    ok = await app.client.post(
        "/api/v1/sessions", json={"template": "debian-shell", "duration_minutes": 25}
    )
    assert ok.status_code == 201
    extend = await app.client.post(
        f"/api/v1/sessions/{ok.json()['id']}/extend", json={"minutes": 10}
    )
    assert extend.status_code == 429 and extend.json()["error"]["quota"] == "max_lease_minutes"
    fits = await app.client.post(f"/api/v1/sessions/{ok.json()['id']}/extend", json={"minutes": 4})
    assert fits.status_code == 200, fits.text


@pytest.fixture
async def pool(app: App) -> App:
    response = await app.client.post("/api/v1/machines/import", content=POOL)
    assert response.status_code == 201
    await app.context.prober.run()
    return app


async def test_reserved_machines_quota(pool: App, member):
    await pool.client.patch("/api/v1/orgs/default/quota", json={"max_reserved_machines": 3})
    first = await member.post("/api/v1/reservations", json={"count": 2})
    assert first.status_code == 201, first.text
    refused = await pool.client.post("/api/v1/reservations", json={"count": 2})
    assert refused.status_code == 429
    assert refused.json()["error"]["quota"] == "max_reserved_machines"
    assert "2 are held" in refused.json()["error"]["message"]
    assert sum(len(a) for a in pool.connector.accounts.values()) == 2  # nothing half-made
