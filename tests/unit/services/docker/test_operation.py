"""The one path of a Docker operation: role check, environment lookup, driver, audit."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from moorage.drivers.docker import DockerDriver
from moorage.drivers.pool import DriverPool
from moorage.errors import Forbidden, NotFound
from moorage.models.audit import AuditEvent
from moorage.models.user import User
from moorage.services.docker import Caller
from moorage.services.docker.containers import ContainerService


class StubContainer:
    def __init__(self, removed: list[tuple[str, dict[str, Any]]], ref: str) -> None:
        self._removed, self._ref = removed, ref

    async def delete(self, **kwargs: Any) -> None:
        self._removed.append((self._ref, kwargs))


class StubClient:
    """Stands in for the aiodocker client: records container removals."""

    def __init__(self) -> None:
        self.removed: list[tuple[str, dict[str, Any]]] = []
        self.containers = SimpleNamespace(container=lambda ref: StubContainer(self.removed, ref))

    async def close(self) -> None:
        pass


@pytest.fixture
def client() -> StubClient:
    return StubClient()


@pytest.fixture
def service(app, client) -> ContainerService:
    pool = DriverPool(lambda environment: DockerDriver(client, "stub://"))  # type: ignore[arg-type]
    return ContainerService(app.context.sessionmaker, pool)


async def user_named(app, username: str) -> User:
    async with app.context.sessionmaker() as db:
        user = await db.scalar(select(User).where(User.username == username))
    assert user is not None
    return user


async def removals_audited(app) -> list[AuditEvent]:
    async with app.context.sessionmaker() as db:
        return list(
            await db.scalars(select(AuditEvent).where(AuditEvent.action == "container.remove"))
        )


async def test_an_admin_removes_a_container_and_it_is_audited(app, service, client):
    admin = await user_named(app, "admin")
    await service.remove(Caller(admin), "local", "web-1", volumes=True)
    assert client.removed == [("web-1", {"force": True, "v": True})]
    (event,) = await removals_audited(app)
    assert (event.username, event.object_id, event.environment) == ("admin", "web-1", "local")


async def test_a_member_calling_the_service_is_forbidden_before_the_driver(
    app, member, service, client
):
    alice = await user_named(app, "alice")
    with pytest.raises(Forbidden):
        await service.remove(Caller(alice), "local", "web-1")
    assert client.removed == []
    assert await removals_audited(app) == []


async def test_an_environment_of_another_name_is_not_found_and_nothing_is_audited(
    app, service, client
):
    admin = await user_named(app, "admin")
    with pytest.raises(NotFound):
        await service.remove(Caller(admin), "elsewhere", "web-1")
    assert client.removed == [] and await removals_audited(app) == []


async def test_a_member_posting_the_remove_form_is_forbidden(app, member):
    response = await member.post("/ui/environments/local/containers/web-1/remove")
    assert response.status_code == 403
    assert await removals_audited(app) == []
