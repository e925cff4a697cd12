"""The session service through the API, on the fake driver and a real database."""

from datetime import timedelta

from sqlalchemy import func, select

from moorage.db.base import utcnow
from moorage.models.session import WorkspaceSession


async def count_rows(app) -> int:
    async with app.context.sessionmaker() as db:
        return await db.scalar(select(func.count()).select_from(WorkspaceSession))


async def test_launch_answers_ready_with_deadline_and_urls(app):
    response = await app.client.post(
        "/api/v1/sessions", json={"template": "debian-shell", "duration_minutes": 30}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "ready"
    assert body["template"] == "debian-shell"
    assert body["environment"] == "local"
    assert body["urls"]["terminal"].startswith("ws://testserver/api/v1/sessions/")
    lasting = utcnow() - timedelta(minutes=30)
    assert abs(
        (_parse(body["expires_at"]) - _parse(body["starts_at"])) - timedelta(minutes=30)
    ) < timedelta(seconds=1)
    assert _parse(body["expires_at"]) > lasting
    (container,) = app.driver.containers.values()
    assert container.labels["moorage.session"] == body["id"]
    assert container.labels["moorage.user"] == "admin"
    assert container.labels["moorage.template"] == "debian-shell"
    assert "moorage.expires_at" in container.labels and "moorage.org" in container.labels


def _parse(value: str):
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_unknown_template_is_404_and_writes_nothing(app):
    response = await app.client.post("/api/v1/sessions", json={"template": "nope"})
    assert response.status_code == 404
    assert await count_rows(app) == 0 and not app.driver.containers


async def test_duration_over_the_maximum_is_422_naming_it(app):
    response = await app.client.post(
        "/api/v1/sessions", json={"template": "debian-shell", "duration_minutes": 241}
    )
    assert response.status_code == 422
    assert "240 minutes" in response.json()["error"]["message"]
    assert response.json()["error"]["field"] == "duration_minutes"
    assert await count_rows(app) == 0 and not app.driver.containers


async def test_per_user_limit_is_429_saying_the_limit(app):
    for _ in range(3):
        ok = await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})
        assert ok.status_code == 201
    response = await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert response.status_code == 429
    assert "limit is 3" in response.json()["error"]["message"]
    assert await count_rows(app) == 3 and len(app.driver.containers) == 3


async def test_docker_unreachable_is_503_and_writes_nothing(app):
    app.driver.reachable = False
    response = await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "runtime_unavailable"
    assert await count_rows(app) == 0


async def test_a_container_that_never_becomes_usable_is_removed(app):
    app.driver.fail_usable = True
    response = await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert response.status_code == 503
    assert not app.driver.containers and len(app.driver.removed) == 1
    async with app.context.sessionmaker() as db:
        (row,) = await db.scalars(select(WorkspaceSession))
    assert row.state == "failed" and row.released_at is not None


async def test_extend_and_its_maximum(app):
    launched = (
        await app.client.post(
            "/api/v1/sessions", json={"template": "debian-shell", "duration_minutes": 200}
        )
    ).json()
    extended = await app.client.post(
        f"/api/v1/sessions/{launched['id']}/extend", json={"minutes": 30}
    )
    assert extended.status_code == 200
    assert _parse(extended.json()["expires_at"]) - _parse(launched["expires_at"]) == timedelta(
        minutes=30
    )
    too_far = await app.client.post(
        f"/api/v1/sessions/{launched['id']}/extend", json={"minutes": 30}
    )
    assert too_far.status_code == 422
    assert "at most 10 more minutes" in too_far.json()["error"]["message"]
    assert app.context.reconciler.queue.deadline(("session", launched["id"])) == _parse(
        extended.json()["expires_at"]
    )


async def test_delete_removes_the_container_and_releases(app):
    launched = (await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})).json()
    response = await app.client.delete(f"/api/v1/sessions/{launched['id']}")
    assert response.status_code == 200
    assert response.json()["state"] == "released"
    assert not app.driver.containers
    again = await app.client.delete(f"/api/v1/sessions/{launched['id']}")
    assert again.status_code == 200 and again.json()["state"] == "released"
    assert ("session", launched["id"]) not in app.context.reconciler.queue


async def test_members_see_and_touch_only_their_own_sessions(app, member):
    mine = (await member.post("/api/v1/sessions", json={"template": "debian-shell"})).json()
    admins = (await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})).json()
    listed = (await member.get("/api/v1/sessions")).json()
    assert [s["id"] for s in listed] == [mine["id"]]
    assert (await member.get(f"/api/v1/sessions/{admins['id']}")).status_code == 404
    assert (await member.delete(f"/api/v1/sessions/{admins['id']}")).status_code == 404
    assert (await member.get("/api/v1/sessions?all=true")).status_code == 403
    everyone = (await app.client.get("/api/v1/sessions?all=true")).json()
    assert {s["id"] for s in everyone} == {mine["id"], admins["id"]}
    assert (await app.client.get(f"/api/v1/sessions/{mine['id']}")).status_code == 200


async def test_members_cannot_write_templates(app, member):
    response = await member.post(
        "/api/v1/templates",
        json={"name": "x", "display_name": "X", "image": "moorage/terminal:latest"},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


async def test_template_crud_and_validation(app):
    created = await app.client.post(
        "/api/v1/templates",
        json={
            "name": "py-lab",
            "display_name": "Python lab",
            "image": "moorage/terminal:latest",
            "max_duration_minutes": 30,
            "default_duration_minutes": 10,
            "max_sessions_per_user": 1,
        },
    )
    assert created.status_code == 201, created.text
    duplicate = await app.client.post(
        "/api/v1/templates", json={"name": "py-lab", "display_name": "Again", "image": "x"}
    )
    assert duplicate.status_code == 409
    bad = await app.client.post(
        "/api/v1/templates", json={"name": "Bad Name", "display_name": "X", "image": "x"}
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "name"
    patched = await app.client.patch("/api/v1/templates/py-lab", json={"enabled": False})
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    assert (await app.client.delete("/api/v1/templates/py-lab")).status_code == 204
    assert (await app.client.get("/api/v1/templates/py-lab")).status_code == 404


async def test_a_missing_image_is_503_and_writes_nothing(app):
    app.driver.images.clear()
    response = await app.client.post("/api/v1/sessions", json={"template": "debian-shell"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "image_missing"
    assert "moorage images build" in response.json()["error"]["message"]
    assert await count_rows(app) == 0 and not app.driver.containers
