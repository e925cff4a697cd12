"""The bookkeeping of image update policies, the engine and registry replaced by
stand-ins: a ``notify`` policy alerts once per new digest; an ``update`` policy waits
for its maintenance window, asks the veto hooks, updates or rolls back, never retries
a digest it rolled back, and records it all in the audit log; the reconciler's job
runs a policy when its schedule comes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from moorage.models.audit import AuditEvent
from moorage.models.environment import Environment
from moorage.models.image_update import ImageUpdatePolicy
from moorage.services.docker import image_update_check
from moorage.services.docker.image_update_apply import Finding
from moorage.services.docker.image_updates import SCHEDULER, ImageUpdateService
from moorage.services.docker.update_hooks import UpdateCandidate
from tests.unit.conftest import App

REF = "127.0.0.1:5000/team/app:1"
OLD = "sha256:" + "1" * 64


class Registry:
    """What the stand-ins answer and what they were asked."""

    def __init__(self) -> None:
        self.digest = OLD
        self.health: str | None = None
        self.applied: list[str] = []
        self.sent: list[str] = []
        self.veto: str | None = None


@pytest.fixture
def registry(monkeypatch) -> Registry:
    state = Registry()

    async def running_images(driver, environment, data_dir, kind, name):
        return [(REF, "sha256:image-1")]

    async def find(driver, registry, reference, image_id, login, semver_range):
        return Finding(reference, image_id, OLD, reference, state.digest)

    async def apply_container(driver, name, finding, auth, health):
        state.applied.append(finding.target_digest)
        return state.health

    async def broadcast(sessionmaker, keyring, org_id, title, body, kind):
        state.sent.append(title)
        return 1

    monkeypatch.setattr(image_update_check, "docker_of", lambda drivers, env: object())

    async def recover_interrupted(driver, name):
        return None

    monkeypatch.setattr(image_update_check, "recover_interrupted", recover_interrupted)
    monkeypatch.setattr(image_update_check, "running_images", running_images)
    monkeypatch.setattr(image_update_check, "find", find)
    monkeypatch.setattr(image_update_check, "apply_container", apply_container)
    monkeypatch.setattr(image_update_check, "broadcast", broadcast)
    return state


async def test_policies_notify_once_update_in_window_roll_back_and_never_retry(
    app: App, registry: Registry, tmp_path
):
    now = [datetime(2026, 1, 5, 10, 0, tzinfo=UTC)]

    async def scanner(candidate: UpdateCandidate) -> str | None:
        assert candidate.images[0][0] == REF
        return registry.veto

    context = app.context
    service = ImageUpdateService(
        context.sessionmaker,
        context.drivers,
        context.docker.registries,
        context.keyring,
        tmp_path,
        hooks=[scanner],
        clock=lambda: now[0],
    )
    async with context.sessionmaker() as db:
        environment = await db.scalar(select(Environment).where(Environment.name == "local"))
        assert environment is not None
        policy = ImageUpdatePolicy(
            org_id=environment.org_id,
            environment_id=environment.id,
            target_kind="container",
            target_name="web",
            policy="notify",
            schedule="*/10 * * * *",
            created_by="admin",
            next_check_at=now[0],
        )
        db.add(policy)
        await db.commit()
        policy_id = policy.id

    async def run(at_minutes: int) -> ImageUpdatePolicy:
        now[0] += timedelta(minutes=at_minutes)
        await service.run_due()
        async with context.sessionmaker() as db:
            row = await db.get(ImageUpdatePolicy, policy_id)
            assert row is not None
            return row

    assert (await run(0)).status == "up_to_date"
    assert (await run(1)).checked_at == datetime(2026, 1, 5, 10, 0, tzinfo=UTC)  # not due

    registry.digest = NEW = "sha256:" + "2" * 64
    row = await run(9)
    assert (row.status, row.available_digest, len(registry.sent)) == ("update_available", NEW, 1)
    assert (await run(10)).status == "update_available"
    assert len(registry.sent) == 1  # once per digest

    async with context.sessionmaker() as db:
        row = await db.get(ImageUpdatePolicy, policy_id)
        assert row is not None
        row.policy, row.window_schedule, row.window_minutes = "update", "0 3 * * *", 60
        await db.commit()
    row = await run(10)
    assert row.status == "waiting_for_window" and "03:00" in (row.message or "")
    assert registry.applied == []

    now[0] = datetime(2026, 1, 6, 2, 55, tzinfo=UTC)
    registry.veto = "2 critical vulnerabilities"
    row = await run(5)  # 03:00, inside the window
    assert (row.status, registry.applied) == ("vetoed", [])
    assert "2 critical vulnerabilities" in (row.message or "")

    registry.veto, registry.health = None, "web is unhealthy: boom"
    row = await run(10)
    assert (row.status, row.rejected_digest, registry.applied) == ("rolled_back", NEW, [NEW])
    row = await run(10)
    assert (row.status, registry.applied) == ("rejected", [NEW])  # not tried again

    registry.digest = NEWER = "sha256:" + "3" * 64
    registry.health = None
    row = await run(10)
    assert (row.status, row.current_digest, row.available_digest) == ("updated", NEWER, None)

    async with context.sessionmaker() as db:
        events = list(
            await db.scalars(
                select(AuditEvent).where(AuditEvent.username == SCHEDULER).order_by(AuditEvent.at)
            )
        )
    assert [e.action for e in events] == [
        "container.image_update_vetoed",
        "container.image_rollback",
        "container.image_update",
    ]
    assert any(NEWER[:19] in (e.detail or "") for e in events)
    assert [t.split(" of ")[0] for t in registry.sent[1:]] == [
        "Moorage: Image update",
        "Moorage: Image update",
        "Moorage: Image",
    ]


async def test_api_refuses_bad_policies_and_unknown_ones(app: App):
    base = "/api/v1/environments/local/image-updates"
    response = await app.client.put(f"{base}/container/web", json={"schedule": "hourly"})
    assert response.status_code == 422 and "schedule" in response.json()["error"]["message"]
    response = await app.client.put(f"{base}/pod/web", json={})
    assert response.status_code == 422
    response = await app.client.put(f"{base}/stack/web", json={"semver_range": "^2"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "semver_range"
    response = await app.client.get(f"{base}/container/web")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "policy_not_found"
    assert (await app.client.post(f"{base}/container/web/check")).status_code == 404
    assert (await app.client.delete(f"{base}/container/web")).status_code == 404
    assert (await app.client.get(base)).json() == []
    response = await app.client.get("/api/v1/environments/nowhere/image-updates")
    assert response.status_code == 404
